/* PKCS#10 certification request parser (RFC 2986) with signature verification. */
#include <stdlib.h>
#include <string.h>

#include "keys/keys.h"
#include "pkix/pkix_impl.h"

#define OID_EXTENSION_REQUEST "1.2.840.113549.1.9.14"
#define OID_CHALLENGE_PASSWORD "1.2.840.113549.1.9.7"

static const char *const CSR_LABELS[] = {"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST", NULL};

void pki_csr_free(pki_csr *c)
{
    if (!c)
        return;
    free(c->subject);
    if (c->challenge) {
        explicit_bzero(c->challenge, strlen(c->challenge));
        free(c->challenge);
    }
    pkix_extensions_clear(&c->ext);
    free(c->priv);
    free(c);
}

/* One Attribute: SEQUENCE { type OID, values SET OF ANY } with exactly one value for the
 * attributes we read. */
static int read_attribute(pki_csr *c, const pki_der_item *attr, int *seen_ext, char *err,
                          size_t errlen)
{
    pki_der in, set;
    pki_der_item oid, values, v;
    if (attr->tag != PKI_DER_SEQUENCE || pki_der_enter(attr, &in) != 0 ||
        pki_der_expect(&in, PKI_DER_OID, &oid) != 0 ||
        pki_der_expect(&in, PKI_DER_SET, &values) != 0 || !pki_der_at_end(&in)) {
        pkix_errf(err, errlen, "CSR: malformed attribute");
        return -1;
    }
    pki_der_enter(&values, &set);
    if (pki_der_oid_is(&oid, OID_EXTENSION_REQUEST)) {
        char why[128];
        if (*seen_ext || pki_der_next(&set, &v) != 0 || !pki_der_at_end(&set)) {
            pkix_errf(err, errlen, "CSR: malformed extensionRequest");
            return -1;
        }
        *seen_ext = 1;
        if (pkix_extensions_parse(&v, &c->ext, why, sizeof why) != 0) {
            pkix_errf(err, errlen, "CSR: requested %s", why);
            return -1;
        }
    } else if (pki_der_oid_is(&oid, OID_CHALLENGE_PASSWORD)) {
        char buf[256];
        if (c->challenge || pki_der_next(&set, &v) != 0 || !pki_der_at_end(&set) ||
            pki_der_string(&v, buf, sizeof buf) != 0) {
            pkix_errf(err, errlen, "CSR: malformed challengePassword");
            return -1;
        }
        c->challenge = strdup(buf);
        explicit_bzero(buf, sizeof buf);
        if (!c->challenge) {
            pkix_errf(err, errlen, "out of memory");
            return -1;
        }
    }
    /* Other attributes (unstructuredName, Microsoft's enrollment data, …) are ignored. */
    return 0;
}

int pkix_csr_read_info(pki_csr *c, const pki_der_item *info, char *err, size_t errlen)
{
    pki_der in, attrs;
    pki_der_item ver, subject, spki, attrs_it, attr;
    long version;
    pki_der_enter(info, &in);
    if (pki_der_expect(&in, PKI_DER_INTEGER, &ver) != 0 || pki_der_int_long(&ver, &version) != 0 ||
        version != 0) {
        pkix_errf(err, errlen, "CSR: unsupported version (must be 0)");
        return -1;
    }
    if (pki_der_expect(&in, PKI_DER_SEQUENCE, &subject) != 0 ||
        pki_der_expect(&in, PKI_DER_SEQUENCE, &spki) != 0) {
        pkix_errf(err, errlen, "CSR: malformed CertificationRequestInfo");
        return -1;
    }
    c->subject_der = pkix_span(subject.raw, subject.raw_len);
    c->subject = pki_name_to_text(subject.raw, subject.raw_len);
    if (!c->subject) {
        pkix_errf(err, errlen, "CSR: malformed subject name");
        return -1;
    }
    c->spki = pkix_span(spki.raw, spki.raw_len);
    char why[128];
    if (pki_spki_info(spki.raw, spki.raw_len, &c->key_type, &c->rsa_bits, why, sizeof why) != 0) {
        pkix_errf(err, errlen, "CSR: %s", why);
        return -1;
    }
    /* attributes [0] IMPLICIT SET OF Attribute: required by RFC 2986, but some producers omit
     * it when empty; accept that. */
    int rc = pki_der_optional(&in, PKI_DER_CTX_CONS(0), &attrs_it);
    if (rc < 0 || !pki_der_at_end(&in)) {
        pkix_errf(err, errlen, "CSR: malformed attributes");
        return -1;
    }
    if (rc == 0) {
        int seen_ext = 0;
        pki_der_enter(&attrs_it, &attrs);
        while ((rc = pki_der_next(&attrs, &attr)) == 0)
            if (read_attribute(c, &attr, &seen_ext, err, errlen) != 0)
                return -1;
        if (rc < 0) {
            pkix_errf(err, errlen, "CSR: malformed attributes");
            return -1;
        }
    }
    return 0;
}

pki_csr *pki_csr_parse(const uint8_t *data, size_t len, char *err, size_t errlen)
{
    pki_csr *c = calloc(1, sizeof *c);
    if (!c) {
        pkix_errf(err, errlen, "out of memory");
        return NULL;
    }
    c->ext.path_len = -1;
    pki_der_item info, alg;
    if (pkix_begin(data, len, CSR_LABELS, "CSR", "CertificationRequest", &c->priv, &c->der, &info,
                   &alg, &c->signature, err, errlen) != 0)
        goto fail;
    c->info = pkix_span(info.raw, info.raw_len);
    if (pkix_csr_read_info(c, &info, err, errlen) != 0)
        goto fail;
    if (pki_sig_alg_from_der(alg.raw, alg.raw_len, &c->sig_alg) != 0) {
        static const uint8_t PSS_OID[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                          0xf7, 0x0d, 0x01, 0x01, 0x0a};
        if (alg.len >= sizeof PSS_OID && memcmp(alg.val, PSS_OID, sizeof PSS_OID) == 0)
            pkix_errf(err, errlen,
                      "CSR: unsupported RSASSA-PSS parameters (SHA-256/384/512, "
                      "MGF1 with the same hash, salt length = hash length)");
        else
            pkix_errf(err, errlen, "CSR: unsupported signature algorithm");
        goto fail;
    }
    int rc = pki_spki_verify(c->spki.p, c->spki.len, c->sig_alg, c->info.p, c->info.len,
                             c->signature.p, c->signature.len);
    if (rc == PKI_SIGN_ERR_BAD_ALG) {
        pkix_errf(err, errlen, "CSR: signature algorithm %s does not fit its %s key",
                  pki_sig_alg_name(c->sig_alg), pki_key_type_name(c->key_type));
        goto fail;
    }
    if (rc != PKI_SIGN_OK) {
        pkix_errf(err, errlen, "CSR signature does not verify");
        goto fail;
    }
    return c;
fail:
    pki_csr_free(c);
    return NULL;
}
