/* Base64, base64url, hex and time decoders take text from HTTP requests and JSON. Beyond not
 * crashing, a decoded value must re-encode to its canonical spelling. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/encoding.h"
#include "util/timefmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    uint8_t *out = NULL;
    size_t len = 0;
    if (pki_base64url_decode(text, size, &out, &len) == 0) {
        char *again = pki_base64url_encode(out, len);
        if (!again || strlen(again) != size || memcmp(again, text, size) != 0)
            abort();
        free(again);
        free(out);
    }
    if (pki_base64_decode(text, size, &out, &len) == 0)
        free(out);
    if (pki_hex_decode(text, size, &out, &len) == 0)
        free(out);

    char *z = malloc(size + 1);
    if (!z)
        return 0;
    memcpy(z, data, size);
    z[size] = '\0';
    int64_t t;
    if (pki_time_from_rfc3339(z, &t) == 0) {
        char buf[32];
        int64_t back;
        if (pki_time_to_rfc3339(t, buf, sizeof buf) == 0 &&
            (pki_time_from_rfc3339(buf, &back) != 0 || back != t))
            abort();
    }
    if (pki_time_from_asn1(z, size, size == 15, &t) == 0) {
        char buf[16];
        int gen;
        if (pki_time_to_asn1(t, buf, sizeof buf, &gen) != 0)
            abort();
    }
    free(z);
    return 0;
}
