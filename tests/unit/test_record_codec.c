/* test_record_codec: pending match records as bytes (src_game/record_codec.c): round trips,
 * and every malformed input refused. */
#include "check.h"
#include "record_codec.h"

#include "alloc.h"

static char *const FIELDS[RECORD_FIELDS] = {
    "42", "7", "9", "1700000000000", "1700000004000", "win", "arena", "",
    "{1,2}", "{\"a b\",\"c\\\"d\"}", "{0,1}", "{5,6}", "{7,8}", "{0,0}", "{10,20}",
    "{\"win\",\"win\"}", "{\"{\\\"k\\\": \\\"v\\n\\\"}\",\"{}\"}"};

static int decodes(const char *b, size_t n)
{
    record_blob_t r;
    int rc = record_decode(b, n, &r);
    if (rc == 0)
        record_blob_free(&r);
    return rc == 0;
}

int main(void)
{
    size_t len;
    char *b = record_encode(12, 1700000004000ull, FIELDS, &len);
    record_blob_t r;
    CHECK_EQ(record_decode(b, len, &r), 0);
    CHECK_EQ(r.owner, 12);
    CHECK(r.created_ms == 1700000004000ull);
    for (int i = 0; i < RECORD_FIELDS; i++)
        CHECK_STR(r.fields[i], FIELDS[i]);
    record_blob_free(&r);

    /* every prefix of a good record is refused, and so are bytes after it */
    for (size_t n = 0; n < len; n++)
        CHECK(!decodes(b, n));
    char *more = xmalloc(len + 1);
    memcpy(more, b, len);
    more[len] = 'x';
    CHECK(!decodes(more, len + 1));
    xfree(more);

    /* a NUL inside a field, a wrong tag, count, or number */
    char *nul = xmalloc(len);
    memcpy(nul, b, len);
    nul[len - 3] = '\0';
    CHECK(!decodes(nul, len));
    xfree(nul);
    static const char *const BAD[] = {
        "rec2 1 2 17\n",                       /* another version */
        "rec1 1 2 16\n",                       /* a field count we do not write */
        "rec1 x 2 17\n",                       /* not a number */
        "rec1 4294967296 2 17\n",              /* owner past u32 */
        "rec1 1 18446744073709551616 17\n",    /* created past u64 */
        "rec1 1 2 17\n99999999999999999999999\n", /* a field length past anything */
        "rec1 1 2 17\n5\nab",                  /* a field past the end */
        "rec1  1 2 17\n",                      /* two spaces */
        "",
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++)
        CHECK(!decodes(BAD[i], strlen(BAD[i])));

    /* an empty-fields record round-trips */
    char *const EMPTY[RECORD_FIELDS] = {"", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", ""};
    size_t elen;
    char *e = record_encode(0, 0, EMPTY, &elen);
    CHECK_EQ(record_decode(e, elen, &r), 0);
    CHECK_STR(r.fields[16], "");
    record_blob_free(&r);
    xfree(e);
    xfree(b);
    printf("record_codec: round trips; %zu prefixes, trailing bytes, NUL, %zu malformed headers refused\n",
           len, sizeof BAD / sizeof BAD[0]);
    return 0;
}
