/* Certificates (RFC 5280 4.1) from a template, and PKCS#10 requests (RFC 2986). */
#include <stdlib.h>
#include <string.h>

#include "der/der_reader.h"
#include "x509/x509.h"
#include "x509/x509_impl.h"

void pki_cert_template_init(pki_cert_template *t)
{
    memset(t, 0, sizeof *t);
    t->path_len = -1;
}

static void write_subject(pki_der_writer *w, const pki_cert_template *t)
{
    if (t->subject_der)
        pki_derw_raw(w, t->subject_der, t->subject_der_len);
    else
        pki_name_write(w, &t->subject);
}

int pki_x509_subject_empty(const pki_cert_template *t)
{
    if (t->subject_der) /* an empty Name is 30 00 */
        return t->subject_der_len <= 2;
    return t->subject.count == 0;
}

/* The extensions a template asks for, in a fixed order, then the extra ones. */
static int template_exts(const pki_cert_template *t, const pki_issuer *issuer,
                         const uint8_t ski[20], pki_exts *e, char *err, size_t errlen)
{
    pki_exts_init(e);
    pki_exts_add_basic_constraints(e, t->is_ca, t->is_ca ? t->path_len : -1);
    if (t->key_usage)
        pki_exts_add_key_usage(e, t->key_usage);
    if (t->eku_count)
        pki_exts_add_eku(e, t->eku, t->eku_count);
    pki_exts_add_ski(e, ski, 20);
    if (t->aki)
        pki_exts_add_aki(e, t->aki, t->aki_len);
    else if (issuer)
        pki_exts_add_aki(e, issuer->ski, issuer->ski_len);
    else
        pki_exts_add_aki(e, ski, 20);
    /* RFC 5280 4.2.1.6: critical when the subject is empty. */
    if (t->san_count)
        pki_exts_add_san(e, t->san, t->san_count, pki_x509_subject_empty(t));
    if (t->ocsp_url_count + t->ca_issuer_url_count)
        pki_exts_add_aia(e, t->ocsp_urls, t->ocsp_url_count, t->ca_issuer_urls,
                         t->ca_issuer_url_count);
    if (t->crl_url_count)
        pki_exts_add_crl_dp(e, t->crl_urls, t->crl_url_count);
    if (t->policy_count)
        pki_exts_add_policies(e, t->policies, t->policy_count);
    if (t->ocsp_nocheck)
        pki_exts_add_ocsp_nocheck(e);
    if (t->ct_poison)
        pki_exts_add_ct_poison(e);
    for (size_t i = 0; t->extra && i < t->extra->count; i++) {
        const pki_ext *x = &t->extra->v[i];
        pki_exts_add(e, x->oid, x->critical, x->value, x->len);
    }
    if (pki_exts_error(e)) {
        pki_x509_err(err, errlen, PKI_X509_ERR_INPUT, "%s", pki_exts_error(e));
        pki_exts_free(e);
        return PKI_X509_ERR_INPUT;
    }
    return 0;
}

int pki_cert_tbs(const pki_cert_template *t, const pki_issuer *issuer, pki_sig_alg alg,
                 uint8_t **tbs, size_t *tbs_len, char *err, size_t errlen)
{
    *tbs = NULL;
    uint8_t ski[20];
    if (!t->spki || pki_key_id_from_spki(t->spki, t->spki_len, ski))
        return pki_x509_err(err, errlen, PKI_X509_ERR_INPUT,
                            "subject public key: not a SubjectPublicKeyInfo");
    pki_der_item it;
    if (t->subject_der &&
        (pki_der_single(t->subject_der, t->subject_der_len, &it) || it.tag != PKI_DER_SEQUENCE))
        return pki_x509_err(err, errlen, PKI_X509_ERR_INPUT, "subject: not a DER Name");
    int rc = pki_cert_lint(t, issuer, err, errlen);
    if (rc)
        return rc;
    uint8_t serial[PKI_SERIAL_RANDOM_LEN];
    const uint8_t *sp = t->serial;
    size_t sl = t->serial_len;
    if (!sp) {
        if (pki_serial_random(serial))
            return pki_x509_err(err, errlen, PKI_X509_ERR_NOMEM, "random generator failed");
        sp = serial;
        sl = sizeof serial;
    }
    pki_exts exts;
    if ((rc = template_exts(t, issuer, ski, &exts, err, errlen)))
        return rc;

    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_begin(&w, PKI_DER_CTX_CONS(0));
    pki_derw_int(&w, 2); /* v3 */
    pki_derw_end(&w);
    pki_derw_uint_be(&w, PKI_DER_INTEGER, sp, sl);
    pki_x509_write_alg(&w, alg);
    if (issuer)
        pki_derw_raw(&w, issuer->name_der, issuer->name_len);
    else
        write_subject(&w, t);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_time(&w, t->not_before);
    pki_derw_time(&w, t->not_after);
    pki_derw_end(&w);
    write_subject(&w, t);
    pki_derw_raw(&w, t->spki, t->spki_len);
    pki_derw_begin(&w, PKI_DER_CTX_CONS(3));
    pki_exts_write(&w, &exts);
    pki_derw_end(&w);
    pki_derw_end(&w);
    pki_exts_free(&exts);
    *tbs = pki_derw_take(&w, tbs_len);
    if (!*tbs)
        return pki_x509_err(err, errlen, PKI_X509_ERR_INPUT, "certificate encoding failed");
    return 0;
}

static int cert_tbs_fn(const void *what, const void *issuer, pki_signer *signer, pki_sig_alg alg,
                       uint8_t **tbs, size_t *tbs_len, char *err, size_t errlen)
{
    (void)signer;
    return pki_cert_tbs(what, issuer, alg, tbs, tbs_len, err, errlen);
}

int pki_cert_build(const pki_cert_template *t, const pki_issuer *issuer, pki_signer *signer,
                   pki_build_done_fn done, void *ctx, char *err, size_t errlen)
{
    if (!done)
        return pki_x509_err(err, errlen, PKI_X509_ERR_INPUT, "no completion callback");
    return pki_x509_build(cert_tbs_fn, t, issuer, signer, t->sig_alg, done, ctx, NULL, NULL, err,
                          errlen);
}

int pki_cert_build_sync(const pki_cert_template *t, const pki_issuer *issuer, pki_signer *signer,
                        uint8_t **der, size_t *len, char *err, size_t errlen)
{
    return pki_x509_build(cert_tbs_fn, t, issuer, signer, t->sig_alg, NULL, NULL, der, len, err,
                          errlen);
}

/* ---- PKCS#10 ------------------------------------------------------------------------------- */

/* what: the subject (pki_name), issuer slot: the requested extensions (pki_exts, may be NULL). */
static int csr_tbs(const void *what, const void *extra, pki_signer *signer, pki_sig_alg alg,
                   uint8_t **tbs, size_t *tbs_len, char *err, size_t errlen)
{
    const pki_name *subject = what;
    const pki_exts *exts = extra;
    (void)alg; /* the request's signature algorithm is outside its body */
    if (!subject)
        return pki_x509_err(err, errlen, PKI_X509_ERR_INPUT, "no subject");
    if (exts && pki_exts_error(exts))
        return pki_x509_err(err, errlen, PKI_X509_ERR_INPUT, "%s", pki_exts_error(exts));
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_int(&w, 0); /* v1 */
    pki_name_write(&w, subject);
    pki_derw_raw(&w, signer->spki, signer->spki_len);
    pki_derw_begin(&w, PKI_DER_CTX_CONS(0)); /* attributes [0] IMPLICIT SET OF */
    if (exts && exts->count) {
        pki_derw_begin(&w, PKI_DER_SEQUENCE);
        pki_derw_oid(&w, "1.2.840.113549.1.9.14"); /* extensionRequest */
        pki_derw_begin_set_of(&w);
        pki_exts_write(&w, exts);
        pki_derw_end(&w);
        pki_derw_end(&w);
    }
    pki_derw_end(&w);
    pki_derw_end(&w);
    *tbs = pki_derw_take(&w, tbs_len);
    if (!*tbs)
        return pki_x509_err(err, errlen, PKI_X509_ERR_INPUT, "request encoding failed");
    return 0;
}

int pki_csr_build(const pki_name *subject, const pki_exts *exts, pki_signer *signer,
                  pki_sig_alg alg, pki_build_done_fn done, void *ctx, char *err, size_t errlen)
{
    if (!done)
        return pki_x509_err(err, errlen, PKI_X509_ERR_INPUT, "no completion callback");
    return pki_x509_build(csr_tbs, subject, exts, signer, alg, done, ctx, NULL, NULL, err, errlen);
}

int pki_csr_build_sync(const pki_name *subject, const pki_exts *exts, pki_signer *signer,
                       pki_sig_alg alg, uint8_t **der, size_t *len, char *err, size_t errlen)
{
    return pki_x509_build(csr_tbs, subject, exts, signer, alg, NULL, NULL, der, len, err, errlen);
}
