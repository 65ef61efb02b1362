/* pki_ocsp_request_parse on arbitrary bytes (DER, or PEM where it reads PEM): it either refuses
 * with an error message or returns a result whose spans lie inside its own copy of the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pkix/pkix.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256] = "";
    pki_ocsp_request *r = pki_ocsp_request_parse(data, size, err, sizeof err);
    if (!r) {
        if (!err[0])
            abort(); /* every refusal says why */
        return 0;
    }
    if (r->der.len == 0 || r->der.len > size)
        abort();
    pki_ocsp_request_free(r);
    return 0;
}
