/* Pre-issuance checks, in the spirit of the linters public CAs run before they sign. Each
 * failure names its rule so an operator can tell a template problem from a request problem. */
#include <string.h>

#include "x509/x509.h"
#include "x509/x509_impl.h"

#define LINT(rule, ...)                                                                            \
    return pki_x509_err(err, errlen, PKI_X509_ERR_LINT, "lint " rule ": " __VA_ARGS__)

static int has_eku(const pki_cert_template *t, const char *name, const char *oid)
{
    for (size_t i = 0; i < t->eku_count; i++)
        if (!strcmp(t->eku[i], name) || !strcmp(t->eku[i], oid))
            return 1;
    return 0;
}

/* Extensions the builder writes itself; "extra" must not repeat them. */
static const char *const GENERATED[] = {
    "2.5.29.19",
    "2.5.29.15",
    "2.5.29.37",
    "2.5.29.14",
    "2.5.29.35",
    "2.5.29.17",
    "2.5.29.31",
    "2.5.29.32",
    "1.3.6.1.5.5.7.1.1",
    "1.3.6.1.5.5.7.48.1.5",
    "1.3.6.1.4.1.11129.2.4.3",
};

int pki_cert_lint(const pki_cert_template *t, const pki_issuer *issuer, char *err, size_t errlen)
{
    if (t->serial) {
        size_t n = t->serial_len;
        const uint8_t *s = t->serial;
        while (n > 0 && s[0] == 0) {
            s++;
            n--;
        }
        if (n == 0)
            LINT("serial.range", "the serial number must be positive");
        if (n + ((s[0] & 0x80) != 0) > 20)
            LINT("serial.range", "the serial number is longer than 20 octets");
    }
    if (!pki_x509_time_ok(t->not_before) || !pki_x509_time_ok(t->not_after))
        LINT("time.range", "validity times must lie in years 0000..9999");
    if (t->not_after <= t->not_before)
        LINT("validity.order", "notAfter must be later than notBefore");
    if (issuer && (t->not_before < issuer->not_before || t->not_after > issuer->not_after))
        LINT("validity.within_issuer", "the validity must lie inside the issuer's");
    if (issuer && !issuer->is_ca)
        LINT("issuer.ca", "the issuer certificate is not a CA (basicConstraints cA)");
    if (issuer && issuer->has_key_usage && !(issuer->key_usage & PKI_KU_KEY_CERT_SIGN))
        LINT("issuer.key_usage", "the issuer's keyUsage lacks keyCertSign");
    if (!t->is_ca && t->path_len >= 0)
        LINT("path_len.non_ca", "pathLenConstraint is only allowed for CAs");
    if (issuer && t->is_ca && issuer->path_len >= 0) {
        if (issuer->path_len == 0)
            LINT("path_len.issuer", "the issuer's pathLenConstraint 0 allows no CA below it");
        if (t->path_len < 0 || t->path_len >= issuer->path_len)
            LINT("path_len.issuer", "pathLenConstraint must be below the issuer's (%d)",
                 issuer->path_len);
    }
    if (t->is_ca && !(t->key_usage & PKI_KU_KEY_CERT_SIGN))
        LINT("ca.key_usage", "a CA certificate needs keyUsage keyCertSign");
    if (!t->is_ca && (t->key_usage & (PKI_KU_KEY_CERT_SIGN | PKI_KU_CRL_SIGN)))
        LINT("leaf.key_usage", "keyCertSign/cRLSign need basicConstraints cA");
    if (pki_x509_subject_empty(t) && t->san_count == 0)
        LINT("subject.empty", "an empty subject needs a subjectAltName");
    char gerr[160];
    for (size_t i = 0; i < t->san_count; i++)
        if (pki_general_name_check(&t->san[i], gerr, sizeof gerr))
            LINT("san.well_formed", "%s", gerr);
    if (has_eku(t, "serverAuth", "1.3.6.1.5.5.7.3.1")) {
        size_t usable = 0;
        for (size_t i = 0; i < t->san_count; i++)
            usable += t->san[i].type == PKI_GN_DNS || t->san[i].type == PKI_GN_IP;
        if (usable == 0)
            LINT("san.tls_server", "a TLS server certificate needs DNS or IP subjectAltNames");
    }
    if (issuer && issuer->ski_len == 0)
        LINT("aki.issuer_ski", "the issuer has no subjectKeyIdentifier to refer to");
    if (t->aki) {
        uint8_t own[20];
        const uint8_t *want = issuer ? issuer->ski : own;
        size_t want_len = issuer ? issuer->ski_len : sizeof own;
        if (!issuer && pki_key_id_from_spki(t->spki, t->spki_len, own))
            LINT("aki.issuer_ski", "the subject public key is malformed");
        if (t->aki_len != want_len || memcmp(t->aki, want, want_len))
            LINT("aki.issuer_ski", "authorityKeyIdentifier differs from the issuer's SKI");
    }
    for (size_t i = 0; t->extra && i < t->extra->count; i++)
        for (size_t k = 0; k < sizeof GENERATED / sizeof GENERATED[0]; k++)
            if (!strcmp(t->extra->v[i].oid, GENERATED[k]))
                LINT("extension.duplicate", "extension %s is set by a template field",
                     GENERATED[k]);
    return 0;
}
