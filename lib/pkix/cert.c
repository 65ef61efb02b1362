/* X.509 certificate parser (RFC 5280 section 4.1). */
#include <stdlib.h>
#include <string.h>

#include "keys/keys.h"
#include "pkix/pkix_impl.h"

static const char *const CERT_LABELS[] = {"CERTIFICATE", "TRUSTED CERTIFICATE", NULL};

void pki_cert_free(pki_cert *c)
{
    if (!c)
        return;
    free(c->issuer);
    free(c->subject);
    pkix_extensions_clear(&c->ext);
    free(c->priv);
    free(c);
}

int pkix_cert_read_tbs(pki_cert *c, const pki_der_item *tbs_item, pki_span *inner_alg, char *err,
                       size_t errlen)
{
    pki_der tbs, v, validity;
    pki_der_item it, serial, alg, issuer, nb, na, subject, spki, exts;
    pki_der_enter(tbs_item, &tbs);
    c->version = 1;
    if (pki_der_optional(&tbs, PKI_DER_CTX_CONS(0), &it) == 0) {
        long ver;
        pki_der_enter(&it, &v);
        if (pki_der_expect(&v, PKI_DER_INTEGER, &it) != 0 || !pki_der_at_end(&v) ||
            pki_der_int_long(&it, &ver) != 0 || ver < 0 || ver > 2) {
            pkix_errf(err, errlen, "certificate: bad version");
            return -1;
        }
        c->version = (int)ver + 1;
    }
    if (pki_der_expect(&tbs, PKI_DER_INTEGER, &serial) != 0 ||
        pki_der_int_unsigned_bytes(&serial, &c->serial.p, &c->serial.len) != 0 ||
        c->serial.len > 20) {
        pkix_errf(err, errlen,
                  "certificate: bad serial number (must be positive, at most 20 "
                  "octets)");
        return -1;
    }
    if (pki_der_expect(&tbs, PKI_DER_SEQUENCE, &alg) != 0 ||
        pki_der_expect(&tbs, PKI_DER_SEQUENCE, &issuer) != 0 ||
        pki_der_enter_expect(&tbs, PKI_DER_SEQUENCE, &validity, NULL) != 0 ||
        pki_der_next(&validity, &nb) != 0 || pki_der_time(&nb, &c->not_before) != 0 ||
        pki_der_next(&validity, &na) != 0 || pki_der_time(&na, &c->not_after) != 0 ||
        !pki_der_at_end(&validity) || pki_der_expect(&tbs, PKI_DER_SEQUENCE, &subject) != 0 ||
        pki_der_expect(&tbs, PKI_DER_SEQUENCE, &spki) != 0) {
        pkix_errf(err, errlen, "certificate: malformed TBSCertificate");
        return -1;
    }
    *inner_alg = pkix_span(alg.raw, alg.raw_len);
    c->issuer_der = pkix_span(issuer.raw, issuer.raw_len);
    c->subject_der = pkix_span(subject.raw, subject.raw_len);
    c->spki = pkix_span(spki.raw, spki.raw_len);
    c->issuer = pki_name_to_text(issuer.raw, issuer.raw_len);
    c->subject = pki_name_to_text(subject.raw, subject.raw_len);
    if (!c->issuer || !c->subject) {
        pkix_errf(err, errlen, "certificate: malformed %s name", c->issuer ? "subject" : "issuer");
        return -1;
    }
    if (pki_spki_info(spki.raw, spki.raw_len, &c->key_type, &c->rsa_bits, NULL, 0) != 0)
        c->key_type = 0; /* a key we cannot use is still a certificate we can read */
    if (pki_der_optional(&tbs, PKI_DER_CTX(1), &it) < 0 ||
        pki_der_optional(&tbs, PKI_DER_CTX(2), &it) < 0) {
        pkix_errf(err, errlen, "certificate: malformed unique identifier");
        return -1;
    }
    if (pki_der_optional(&tbs, PKI_DER_CTX_CONS(3), &it) == 0) {
        pki_der_enter(&it, &v);
        if (c->version != 3 || pki_der_next(&v, &exts) != 0 || !pki_der_at_end(&v)) {
            pkix_errf(err, errlen, "certificate: extensions in a version %d certificate",
                      c->version);
            return -1;
        }
        char why[128];
        if (pkix_extensions_parse(&exts, &c->ext, why, sizeof why) != 0) {
            pkix_errf(err, errlen, "certificate: %s", why);
            return -1;
        }
    }
    if (!pki_der_at_end(&tbs)) {
        pkix_errf(err, errlen, "certificate: trailing data in TBSCertificate");
        return -1;
    }
    return 0;
}

pki_cert *pki_cert_parse(const uint8_t *data, size_t len, char *err, size_t errlen)
{
    pki_cert *c = calloc(1, sizeof *c);
    if (!c) {
        pkix_errf(err, errlen, "out of memory");
        return NULL;
    }
    c->ext.path_len = -1;
    pki_der_item tbs, alg;
    pki_span inner_alg;
    if (pkix_begin(data, len, CERT_LABELS, "certificate", "Certificate", &c->priv, &c->der, &tbs,
                   &alg, &c->signature, err, errlen) != 0)
        goto fail;
    c->tbs = pkix_span(tbs.raw, tbs.raw_len);
    c->sig_alg_der = pkix_span(alg.raw, alg.raw_len);
    if (pkix_cert_read_tbs(c, &tbs, &inner_alg, err, errlen) != 0 ||
        pkix_same_alg(&inner_alg, &alg, "certificate", err, errlen) != 0)
        goto fail;
    if (pki_sig_alg_from_der(alg.raw, alg.raw_len, &c->sig_alg) != 0)
        c->sig_alg = 0;
    return c;
fail:
    pki_cert_free(c);
    return NULL;
}

int pki_cert_verify(const pki_cert *c, const uint8_t *issuer_spki, size_t issuer_spki_len)
{
    return c ? pkix_verify_signed(c->sig_alg, &c->tbs, &c->signature, issuer_spki, issuer_spki_len)
             : -1;
}
