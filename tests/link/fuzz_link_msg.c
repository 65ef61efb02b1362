/* Everything the link parses from the other side: the LinkMessage, the sign request and
 * response bodies, the SignedData's certificate list, and the envelope itself (decrypted with a
 * fixed identity), the authority key identifier inside a TBSCertificate or TBSCertList, and a
 * SignedData verified against its own certificate. The first input octet picks the parser
 * (modulo 8). Each either refuses or yields fields that stay inside the input and re-encode to
 * the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "link/link.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static link_identity *self;

static void inside(const uint8_t *p, size_t len, const uint8_t *data, size_t size)
{
    if (len && (p < data || p + len > data + size))
        abort();
}

static void fuzz_msg(const uint8_t *data, size_t size)
{
    link_msg m;
    if (link_msg_decode(data, size, &m) != LINK_OK)
        return;
    inside(m.body, m.body_len, data, size);
    uint8_t *der;
    size_t len;
    /* DER has one spelling: what decodes must encode to the same octets. */
    if (link_msg_encode(&m, &der, &len) != LINK_OK || len != size || memcmp(der, data, size))
        abort();
    free(der);
}

static void fuzz_req(const uint8_t *data, size_t size)
{
    link_sign_req r;
    if (link_sign_req_decode(data, size, &r) == LINK_OK) {
        inside(r.tbs, r.tbs_len, data, size);
        if (!r.tbs_len)
            abort();
    }
}

static void fuzz_resp(const uint8_t *data, size_t size)
{
    link_sign_resp r;
    if (link_sign_resp_decode(data, size, &r) == LINK_OK) {
        inside(r.sig, r.sig_len, data, size);
        if ((r.status == 0) != (r.sig_len > 0) || strlen(r.reason) >= sizeof r.reason)
            abort();
    }
}

static void fuzz_envelope(const uint8_t *data, size_t size)
{
    if (!self) {
        self = link_identity_generate("device:fuzz", NULL, 0);
        if (!self)
            abort();
    }
    uint8_t *sd = NULL, *cert = NULL;
    size_t sd_len, cert_len;
    if (link_unwrap(self, data, size, &sd, &sd_len) == LINK_OK)
        free(sd);
    if (link_peek_signer(data, size, &cert, &cert_len) == LINK_OK)
        free(cert);
}

/* The authorityKeyIdentifier of a TBSCertificate or TBSCertList to be signed (the appliance's
 * veto): when found, it lies inside the input. */
static void fuzz_aki(const uint8_t *data, size_t size, int is_certificate)
{
    const uint8_t *id = NULL;
    size_t id_len = 0;
    int r = link_tbs_authority_key_id(data, size, is_certificate, &id, &id_len);
    if (r < -1 || r > 1 || (r == 1 && !id))
        abort(); /* an empty keyIdentifier is found as such: it never matches a slot's SKI */
    if (r == 1)
        inside(id, id_len, data, size);
}

/* A SignedData checked against its own first certificate as the pinned one: the fast path of
 * link_verify (the SignedData rebuilt without its certificates, a per-peer template) and
 * wolfSSL's verification, on arbitrary input. */
static void fuzz_verify(const uint8_t *data, size_t size)
{
    uint8_t *cert = NULL, *content = NULL;
    size_t cert_len, content_len;
    link_msg m;
    if (link_peek_signer(data, size, &cert, &cert_len) != LINK_OK)
        return;
    if (link_verify(data, size, cert, cert_len, &m, &content, &content_len) == LINK_OK) {
        inside(m.body, m.body_len, content, content_len);
        free(content);
    }
    free(cert);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 8) {
    case 0:
        fuzz_msg(p, n);
        break;
    case 1:
        fuzz_req(p, n);
        break;
    case 2:
        fuzz_resp(p, n);
        break;
    case 4:
        fuzz_aki(p, n, 0);
        break;
    case 5:
        fuzz_aki(p, n, 1);
        break;
    case 6:
        fuzz_verify(p, n);
        break;
    default:
        fuzz_envelope(p, n);
        break;
    }
    return 0;
}
