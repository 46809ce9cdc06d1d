/* record_codec: pending match records as bytes (record_codec.h). */
#include "record_codec.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"

char *record_encode(uint32_t owner, uint64_t created_ms, char *const *fields, size_t *len)
{
    size_t cap = 64;
    for (int i = 0; i < RECORD_FIELDS; i++)
        cap += strlen(fields[i]) + 24;
    char *b = xmalloc(cap);
    size_t n = (size_t)snprintf(b, cap, "rec1 %u %llu %d\n", owner, (unsigned long long)created_ms,
                                RECORD_FIELDS);
    for (int i = 0; i < RECORD_FIELDS; i++) {
        size_t fl = strlen(fields[i]);
        n += (size_t)snprintf(b + n, cap - n, "%zu\n", fl);
        memcpy(b + n, fields[i], fl);
        n += fl;
    }
    *len = n;
    return b;
}

/* A decimal number ending at `end` (exclusive) with the terminator `term`; advances *p. */
static int num(const char **p, const char *end, char term, uint64_t max, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    int digits = 0;
    while (s < end && *s >= '0' && *s <= '9') {
        if (++digits > 20 || v > (max - (uint64_t)(*s - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
        s++;
    }
    if (!digits || s >= end || *s != term)
        return -1;
    *p = s + 1;
    *out = v;
    return 0;
}

void record_blob_free(record_blob_t *b)
{
    for (int i = 0; i < RECORD_FIELDS; i++) {
        xfree(b->fields[i]);
        b->fields[i] = NULL;
    }
}

int record_decode(const char *buf, size_t len, record_blob_t *out)
{
    memset(out, 0, sizeof *out);
    const char *p = buf, *end = buf + len;
    uint64_t owner, created, count;
    if (len < 5 || memcmp(p, "rec1 ", 5) != 0)
        return -1;
    p += 5;
    if (num(&p, end, ' ', UINT32_MAX, &owner) < 0 || num(&p, end, ' ', UINT64_MAX, &created) < 0 ||
        num(&p, end, '\n', RECORD_FIELDS, &count) < 0 || count != RECORD_FIELDS)
        return -1;
    out->owner = (uint32_t)owner;
    out->created_ms = created;
    for (int i = 0; i < RECORD_FIELDS; i++) {
        uint64_t fl;
        if (num(&p, end, '\n', RECORD_FIELD_MAX, &fl) < 0 || fl > (uint64_t)(end - p) ||
            memchr(p, '\0', fl)) {
            record_blob_free(out);
            return -1;
        }
        out->fields[i] = xmalloc(fl + 1);
        memcpy(out->fields[i], p, fl);
        out->fields[i][fl] = '\0';
        p += fl;
    }
    if (p != end) {
        record_blob_free(out);
        return -1;
    }
    return 0;
}
