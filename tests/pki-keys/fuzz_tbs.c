/* pki_tbs_inspect on arbitrary bytes: the appliance runs it on what the relay asks it to sign.
 * It either refuses with a message or names one kind, with every span inside the input. */
#include <stdint.h>
#include <stdlib.h>

#include "pkix/pkix.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(pki_span s, const uint8_t *data, size_t size)
{
    if (s.len && (s.p < data || s.p + s.len > data + size))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256] = "";
    pki_tbs_info t;
    if (pki_tbs_inspect(data, size, &t, err, sizeof err) != 0) {
        if (!err[0] || t.kind != PKI_TBS_UNKNOWN)
            abort();
        return 0;
    }
    if (t.kind == PKI_TBS_UNKNOWN)
        abort();
    inside(t.issuer_der, data, size);
    inside(t.subject_der, data, size);
    inside(t.serial, data, size);
    inside(t.spki, data, size);
    inside(t.responder_name_der, data, size);
    inside(t.responder_key_hash, data, size);
    return 0;
}
