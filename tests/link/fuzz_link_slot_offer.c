/* The slot offer an appliance sends in its ENROL body (JSON with PEM public key, certificate,
 * CSR and attestation pair), as the relay reads it: either refused with a reason, or every field
 * well formed and NUL-terminated inside its buffer, and the key in every certificate. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "link/link.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    link_slot_offer o;
    char why[200];
    if (link_slot_offer_parse(data, size, &o, why, sizeof why) != 0) {
        if (!why[0] || strnlen(why, sizeof why) == sizeof why || o.spki || o.cert || o.csr)
            abort();
        return 0;
    }
    size_t id = strnlen(o.ca_id, sizeof o.ca_id), sl = strnlen(o.slot, sizeof o.slot);
    const char *slash = memchr(o.slot, '/', sl);
    if (id == 0 || id == sizeof o.ca_id || strspn(o.ca_id, "0123456789") != id ||
        sl == sizeof o.slot || !slash || strlen(slash + 1) != 2 || !o.spki || !o.spki_len ||
        (o.cert != NULL) != (o.cert_len > 0) || (o.csr != NULL) != (o.csr_len > 0))
        abort();
    link_slot_offer_free(&o);
    return 0;
}
