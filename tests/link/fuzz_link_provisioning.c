/* The HSM provisioning certificate an operator pastes into the agent: the extension's value
 * (decode) and a whole certificate (from_cert). The first input octet picks the parser. What
 * decodes must re-encode to the same octets (DER has one spelling), and every text field must
 * be NUL-terminated inside its buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "link/link.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_fields(const link_provisioning *p)
{
    if (strnlen(p->link_url, sizeof p->link_url) >= sizeof p->link_url ||
        strnlen(p->ca_id, sizeof p->ca_id) >= sizeof p->ca_id ||
        strnlen(p->token, sizeof p->token) >= sizeof p->token ||
        (p->ca_kind != LINK_CA_ROOT && p->ca_kind != LINK_CA_INTERMEDIATE))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    link_provisioning p;
    if (data[0] & 1) {
        if (link_provisioning_from_cert(data + 1, size - 1, &p) == 0)
            check_fields(&p);
        return 0;
    }
    if (link_provisioning_decode(data + 1, size - 1, &p) != 0)
        return 0;
    check_fields(&p);
    uint8_t *der;
    size_t len;
    if (link_provisioning_encode(&p, &der, &len) != 0 || len != size - 1 ||
        memcmp(der, data + 1, len))
        abort();
    free(der);
    return 0;
}
