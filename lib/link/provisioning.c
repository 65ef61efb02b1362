/* The HSM provisioning certificate's extension (id-iothsm-provisioning, hsm-contract §1):
 *
 *   IothsmProvisioning ::= SEQUENCE {
 *     version           INTEGER (1),
 *     linkUrl           IA5String,
 *     caId              UTF8String,
 *     caKind            ENUMERATED { root(0), intermediate(1) },
 *     token             UTF8String,
 *     tokenExpires      GeneralizedTime,
 *     relayFingerprint  OCTET STRING (SIZE(32)) }
 *
 * The agent reads it from a template pasted by an operator, so the decoder is strict: every
 * field present, non-empty and in range, nothing after the last one. */
#include "link/link.h"

#include <stdlib.h>
#include <string.h>

#include "der/der_writer.h"

static int field_ok(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    return n > 0 && n < cap;
}

int link_provisioning_encode(const link_provisioning *p, uint8_t **der, size_t *len)
{
    if (!p || !der || !len || !field_ok(p->link_url, sizeof p->link_url) ||
        !field_ok(p->ca_id, sizeof p->ca_id) || !field_ok(p->token, sizeof p->token) ||
        (p->ca_kind != LINK_CA_ROOT && p->ca_kind != LINK_CA_INTERMEDIATE))
        return -1;
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_int(&w, 1);
    pki_derw_string(&w, PKI_DERW_STR_IA5, p->link_url, strlen(p->link_url));
    pki_derw_string(&w, PKI_DERW_STR_UTF8, p->ca_id, strlen(p->ca_id));
    pki_derw_enum(&w, p->ca_kind);
    pki_derw_string(&w, PKI_DERW_STR_UTF8, p->token, strlen(p->token));
    pki_derw_generalized_time(&w, p->token_expires);
    pki_derw_octet_string(&w, p->relay_fingerprint, sizeof p->relay_fingerprint);
    pki_derw_end(&w);
    if (pki_derw_error(&w)) {
        pki_derw_free(&w);
        return -1;
    }
    *der = pki_derw_take(&w, len);
    return *der ? 0 : -1;
}

/* A string of exactly tag, non-empty, that fits cap with its NUL. */
static int read_text(pki_der *d, unsigned tag, char *out, size_t cap)
{
    pki_der_item it;
    if (pki_der_expect(d, tag, &it) || it.len == 0 || it.len >= cap)
        return -1;
    return pki_der_string(&it, out, cap);
}

int link_provisioning_decode(const uint8_t *der, size_t len, link_provisioning *out)
{
    link_provisioning p;
    memset(&p, 0, sizeof p);
    pki_der_item top, it;
    pki_der seq;
    long v;
    if (!der || !out || pki_der_single(der, len, &top) || top.tag != PKI_DER_SEQUENCE ||
        pki_der_enter(&top, &seq))
        return -1;
    if (pki_der_expect(&seq, PKI_DER_INTEGER, &it) || pki_der_int_long(&it, &v) || v != 1)
        return -1;
    if (read_text(&seq, PKI_DER_IA5_STRING, p.link_url, sizeof p.link_url) ||
        read_text(&seq, PKI_DER_UTF8_STRING, p.ca_id, sizeof p.ca_id))
        return -1;
    if (pki_der_expect(&seq, PKI_DER_ENUMERATED, &it) || pki_der_int_long(&it, &v) ||
        (v != LINK_CA_ROOT && v != LINK_CA_INTERMEDIATE))
        return -1;
    p.ca_kind = (int)v;
    if (read_text(&seq, PKI_DER_UTF8_STRING, p.token, sizeof p.token))
        return -1;
    if (pki_der_expect(&seq, PKI_DER_GENERALIZED_TIME, &it) || pki_der_time(&it, &p.token_expires))
        return -1;
    if (pki_der_expect(&seq, PKI_DER_OCTET_STRING, &it) || it.len != sizeof p.relay_fingerprint)
        return -1;
    memcpy(p.relay_fingerprint, it.val, sizeof p.relay_fingerprint);
    if (!pki_der_at_end(&seq))
        return -1;
    *out = p;
    return 0;
}

/* The extensions SEQUENCE of a Certificate: 0 found (*exts opened), 1 the certificate has
 * none, -1 malformed. */
static int cert_extensions(const uint8_t *cert, size_t len, pki_der *exts)
{
    pki_der_item top, tbs, it;
    pki_der c, t;
    if (pki_der_single(cert, len, &top) || top.tag != PKI_DER_SEQUENCE || pki_der_enter(&top, &c) ||
        pki_der_expect(&c, PKI_DER_SEQUENCE, &tbs) || pki_der_enter(&tbs, &t))
        return -1;
    int r;
    while ((r = pki_der_next(&t, &it)) == 0)
        if (it.tag == PKI_DER_CTX_CONS(3))
            break;
    if (r != 0)
        return r < 0 ? -1 : 1;
    pki_der wrap;
    if (pki_der_enter(&it, &wrap) || pki_der_enter_expect(&wrap, PKI_DER_SEQUENCE, exts, NULL) ||
        !pki_der_at_end(&wrap))
        return -1;
    return 0;
}

int link_provisioning_from_cert(const uint8_t *cert, size_t len, link_provisioning *out)
{
    if (!cert || !out)
        return -1;
    pki_der exts;
    int r = cert_extensions(cert, len, &exts);
    if (r != 0)
        return r;
    int found = 0;
    link_provisioning p;
    pki_der_item ext;
    while ((r = pki_der_next(&exts, &ext)) == 0) {
        pki_der e;
        pki_der_item oid, crit, val;
        if (ext.tag != PKI_DER_SEQUENCE || pki_der_enter(&ext, &e) ||
            pki_der_expect(&e, PKI_DER_OID, &oid))
            return -1;
        if (!pki_der_oid_is(&oid, LINK_PROVISIONING_OID))
            continue;
        int critical = 0;
        /* Ours must be critical (so no verifier accepts the certificate) and appear once. */
        if (found || pki_der_expect(&e, PKI_DER_BOOLEAN, &crit) ||
            pki_der_boolean(&crit, &critical) || !critical ||
            pki_der_expect(&e, PKI_DER_OCTET_STRING, &val) || !pki_der_at_end(&e) ||
            link_provisioning_decode(val.val, val.len, &p))
            return -1;
        found = 1;
    }
    if (r < 0)
        return -1;
    if (!found)
        return 1;
    *out = p;
    return 0;
}
