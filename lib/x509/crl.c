/* CRLs, version 2 (RFC 5280 5). Entries are written straight into the writer with
 * pre-encoded OIDs: a 1,000,000-entry CRL is one pass and three length patches. */
#include <stdlib.h>
#include <string.h>

#include "x509/x509.h"
#include "x509/x509_impl.h"

static const uint8_t OID_REASON[] = {0x55, 0x1d, 0x15};     /* 2.5.29.21 */
static const uint8_t OID_INVALIDITY[] = {0x55, 0x1d, 0x18}; /* 2.5.29.24 */

static int reason_ok(int r)
{
    return r == PKI_REASON_NONE || (r >= 0 && r <= 10 && r != 7);
}

static int check(const pki_crl_template *t, const pki_issuer *issuer, char *err, size_t errlen)
{
    if (!issuer || !issuer->name_der)
        return pki_x509_err(err, errlen, PKI_X509_ERR_INPUT, "CRL: no issuer");
    if (!issuer->is_ca)
        return pki_x509_err(err, errlen, PKI_X509_ERR_LINT,
                            "lint issuer.ca: the CRL issuer is not a CA");
    if (issuer->has_key_usage && !(issuer->key_usage & PKI_KU_CRL_SIGN))
        return pki_x509_err(err, errlen, PKI_X509_ERR_LINT,
                            "lint issuer.key_usage: the issuer's keyUsage lacks cRLSign");
    if (issuer->ski_len == 0)
        return pki_x509_err(err, errlen, PKI_X509_ERR_LINT,
                            "lint aki.issuer_ski: the issuer has no subjectKeyIdentifier");
    if (!pki_x509_time_ok(t->this_update) || !pki_x509_time_ok(t->next_update))
        return pki_x509_err(err, errlen, PKI_X509_ERR_LINT,
                            "lint time.range: update times must lie in years 0000..9999");
    if (t->next_update <= t->this_update)
        return pki_x509_err(err, errlen, PKI_X509_ERR_LINT,
                            "lint validity.order: nextUpdate must be later than thisUpdate");
    if (t->idp_only_user_certs && t->idp_only_ca_certs)
        return pki_x509_err(
            err, errlen, PKI_X509_ERR_INPUT,
            "CRL: onlyContainsUserCerts and onlyContainsCACerts exclude each other");
    if (t->idp_url) {
        char gerr[128];
        pki_general_name gn = {PKI_GN_URI, t->idp_url};
        if (pki_general_name_check(&gn, gerr, sizeof gerr))
            return pki_x509_err(err, errlen, PKI_X509_ERR_INPUT, "CRL: %s", gerr);
    }
    if (t->count && !t->entries)
        return pki_x509_err(err, errlen, PKI_X509_ERR_INPUT, "CRL: entries missing");
    for (size_t i = 0; i < t->count; i++) {
        const pki_crl_entry *e = &t->entries[i];
        size_t n = e->serial_len;
        const uint8_t *s = e->serial;
        while (s && n > 0 && s[0] == 0) {
            s++;
            n--;
        }
        if (!s || n == 0 || n + ((s[0] & 0x80) != 0) > 20)
            return pki_x509_err(err, errlen, PKI_X509_ERR_INPUT,
                                "CRL entry %zu: serial must be positive, at most 20 octets", i);
        if (!reason_ok(e->reason))
            return pki_x509_err(err, errlen, PKI_X509_ERR_INPUT, "CRL entry %zu: bad reason %d", i,
                                e->reason);
        if (!pki_x509_time_ok(e->revoked_at) ||
            (e->invalidity_date && !pki_x509_time_ok(e->invalidity_date)))
            return pki_x509_err(err, errlen, PKI_X509_ERR_INPUT, "CRL entry %zu: bad time", i);
    }
    return 0;
}

static void write_entry(pki_der_writer *w, const pki_crl_entry *e)
{
    pki_derw_begin(w, PKI_DER_SEQUENCE);
    pki_derw_uint_be(w, PKI_DER_INTEGER, e->serial, e->serial_len);
    pki_derw_time(w, e->revoked_at);
    /* RFC 5280 5.3.1: unspecified (0) SHOULD be expressed by leaving the reason out. */
    int reason = e->reason > 0 ? e->reason : -1;
    if (reason > 0 || e->invalidity_date) {
        pki_derw_begin(w, PKI_DER_SEQUENCE);
        if (reason > 0) {
            pki_derw_begin(w, PKI_DER_SEQUENCE);
            pki_derw_tlv(w, PKI_DER_OID, OID_REASON, sizeof OID_REASON);
            pki_derw_begin(w, PKI_DER_OCTET_STRING);
            pki_derw_enum(w, reason);
            pki_derw_end(w);
            pki_derw_end(w);
        }
        if (e->invalidity_date) {
            pki_derw_begin(w, PKI_DER_SEQUENCE);
            pki_derw_tlv(w, PKI_DER_OID, OID_INVALIDITY, sizeof OID_INVALIDITY);
            pki_derw_begin(w, PKI_DER_OCTET_STRING);
            pki_derw_generalized_time(w, e->invalidity_date);
            pki_derw_end(w);
            pki_derw_end(w);
        }
        pki_derw_end(w);
    }
    pki_derw_end(w);
}

static int crl_exts(const pki_crl_template *t, const pki_issuer *issuer, pki_exts *e)
{
    pki_exts_init(e);
    pki_exts_add_aki(e, issuer->ski, issuer->ski_len);
    pki_der_writer w;
    pki_derw_init(&w);
    uint8_t num[8];
    for (int i = 0; i < 8; i++)
        num[i] = (uint8_t)(t->crl_number >> (56 - 8 * i));
    pki_derw_uint_be(&w, PKI_DER_INTEGER, num, sizeof num);
    size_t len;
    uint8_t *v = pki_derw_take(&w, &len);
    if (v)
        pki_exts_add(e, "2.5.29.20", 0, v, len);
    free(v);
    if (t->idp_url || t->idp_only_user_certs || t->idp_only_ca_certs) {
        pki_derw_init(&w);
        pki_derw_begin(&w, PKI_DER_SEQUENCE);
        if (t->idp_url)
            pki_x509_write_dp_name(&w, &t->idp_url, 1);
        if (t->idp_only_user_certs) {
            static const uint8_t yes = 0xff;
            pki_derw_tlv(&w, PKI_DER_CTX(1), &yes, 1);
        }
        if (t->idp_only_ca_certs) {
            static const uint8_t yes = 0xff;
            pki_derw_tlv(&w, PKI_DER_CTX(2), &yes, 1);
        }
        pki_derw_end(&w);
        v = pki_derw_take(&w, &len);
        if (v)
            pki_exts_add(e, "2.5.29.28", 1, v, len);
        free(v);
    }
    if (pki_exts_error(e) || e->count < 2) {
        pki_exts_free(e);
        return -1;
    }
    return 0;
}

static int crl_tbs(const pki_crl_template *t, const pki_issuer *issuer, pki_sig_alg alg,
                   uint8_t **tbs, size_t *tbs_len, char *err, size_t errlen)
{
    int rc = check(t, issuer, err, errlen);
    if (rc)
        return rc;
    pki_exts exts;
    if (crl_exts(t, issuer, &exts))
        return pki_x509_err(err, errlen, PKI_X509_ERR_NOMEM, "CRL extensions failed");
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_int(&w, 1); /* v2 */
    pki_x509_write_alg(&w, alg);
    pki_derw_raw(&w, issuer->name_der, issuer->name_len);
    pki_derw_time(&w, t->this_update);
    pki_derw_time(&w, t->next_update);
    if (t->count) { /* an empty list is left out, never written as an empty SEQUENCE */
        pki_derw_begin(&w, PKI_DER_SEQUENCE);
        for (size_t i = 0; i < t->count && !pki_derw_error(&w); i++)
            write_entry(&w, &t->entries[i]);
        pki_derw_end(&w);
    }
    pki_derw_begin(&w, PKI_DER_CTX_CONS(0));
    pki_exts_write(&w, &exts);
    pki_derw_end(&w);
    pki_derw_end(&w);
    pki_exts_free(&exts);
    *tbs = pki_derw_take(&w, tbs_len);
    if (!*tbs)
        return pki_x509_err(err, errlen, PKI_X509_ERR_NOMEM, "CRL encoding failed");
    return 0;
}

static int crl_tbs_fn(const void *what, const void *issuer, pki_signer *signer, pki_sig_alg alg,
                      uint8_t **tbs, size_t *tbs_len, char *err, size_t errlen)
{
    (void)signer;
    return crl_tbs(what, issuer, alg, tbs, tbs_len, err, errlen);
}

int pki_crl_build(const pki_crl_template *t, const pki_issuer *issuer, pki_signer *signer,
                  pki_build_done_fn done, void *ctx, char *err, size_t errlen)
{
    if (!done)
        return pki_x509_err(err, errlen, PKI_X509_ERR_INPUT, "no completion callback");
    return pki_x509_build(crl_tbs_fn, t, issuer, signer, t->sig_alg, done, ctx, NULL, NULL, err,
                          errlen);
}

int pki_crl_build_sync(const pki_crl_template *t, const pki_issuer *issuer, pki_signer *signer,
                       uint8_t **der, size_t *len, char *err, size_t errlen)
{
    return pki_x509_build(crl_tbs_fn, t, issuer, signer, t->sig_alg, NULL, NULL, der, len, err,
                          errlen);
}
