/* fuzz_record_codec: the pending-record decoder (src_game/record_codec.c) reads bytes from the
 * Redis hash records:pending, which anyone who reaches Redis can write. Any input: no crash, no
 * leak; a record that decodes encodes back to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "record_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    record_blob_t r;
    if (record_decode((const char *)data, size, &r) != 0)
        return 0;
    size_t len;
    char *b = record_encode(r.owner, r.created_ms, r.fields, &len);
    /* numbers may have had leading zeros: compare the decoded values of the re-encoding */
    record_blob_t again;
    if (record_decode(b, len, &again) != 0)
        abort();
    if (again.owner != r.owner || again.created_ms != r.created_ms)
        abort();
    for (int i = 0; i < RECORD_FIELDS; i++)
        if (strcmp(again.fields[i], r.fields[i]) != 0)
            abort();
    record_blob_free(&again);
    record_blob_free(&r);
    xfree(b);
    return 0;
}
