/* What every builder shares: algorithm choice, the sign-then-assemble job (async-capable),
 * random serials, and reading an issuer's fields from its certificate. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/random.h>

#include "der/der_reader.h"
#include "x509/x509.h"
#include "x509/x509_impl.h"

#define SYNC_TIMEOUT_MS 60000

int pki_x509_err(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

int pki_x509_pick_alg(pki_signer *signer, pki_sig_alg alg, char *err, size_t errlen)
{
    if (!signer || !signer->ops || !signer->ops->sign)
        return pki_x509_err(err, errlen, PKI_X509_ERR_INPUT, "no signer");
    if (alg == 0)
        alg = signer->default_alg;
    if (!pki_sig_alg_fits_key(alg, signer->key_type))
        return pki_x509_err(err, errlen, PKI_SIGN_ERR_BAD_ALG,
                            "signature algorithm %s does not fit the %s key",
                            pki_sig_alg_name(alg) ? pki_sig_alg_name(alg) : "?",
                            pki_key_type_name(signer->key_type));
    return (int)alg;
}

void pki_x509_write_alg(pki_der_writer *w, pki_sig_alg alg)
{
    uint8_t aid[128];
    int n = pki_sig_alg_der(alg, aid, sizeof aid);
    if (n < 0) /* poisons the writer: an unknown algorithm is an internal error */
        pki_derw_begin(w, PKI_DER_INTEGER);
    else
        pki_derw_raw(w, aid, (size_t)n);
}

void pki_x509_assemble_signed(pki_der_writer *w, const uint8_t *tbs, size_t tbs_len,
                              const uint8_t *alg, size_t alg_len, const uint8_t *sig,
                              size_t sig_len, void *extra)
{
    (void)extra;
    pki_derw_begin(w, PKI_DER_SEQUENCE);
    pki_derw_raw(w, tbs, tbs_len);
    pki_derw_raw(w, alg, alg_len);
    pki_derw_bit_string(w, sig, sig_len, 0);
    pki_derw_end(w);
}

struct sign_job {
    uint8_t *tbs;
    size_t tbs_len;
    pki_sig_alg alg;
    pki_x509_assemble_fn assemble;
    void *extra;
    void (*extra_free)(void *);
    pki_build_done_fn done;
    void *ctx;
};

static void job_free(struct sign_job *j)
{
    if (j->extra_free)
        j->extra_free(j->extra);
    free(j->tbs);
    free(j);
}

/* Assembles into a fresh buffer; returns 0 or PKI_X509_ERR_NOMEM. */
static int assemble(const struct sign_job *j, const uint8_t *sig, size_t sig_len, uint8_t **der,
                    size_t *len)
{
    uint8_t aid[128];
    int n = pki_sig_alg_der(j->alg, aid, sizeof aid);
    if (n < 0)
        return PKI_SIGN_ERR_BAD_ALG;
    pki_der_writer w;
    pki_derw_init(&w);
    j->assemble(&w, j->tbs, j->tbs_len, aid, (size_t)n, sig, sig_len, j->extra);
    *der = pki_derw_take(&w, len);
    return *der ? 0 : PKI_X509_ERR_NOMEM;
}

static void job_done(void *ctx, int status, const uint8_t *sig, size_t sig_len)
{
    struct sign_job *j = ctx;
    uint8_t *der = NULL;
    size_t len = 0;
    if (status == PKI_SIGN_OK)
        status = assemble(j, sig, sig_len, &der, &len);
    j->done(j->ctx, status, der, len);
    free(der);
    job_free(j);
}

int pki_x509_sign(uint8_t *tbs, size_t tbs_len, pki_sig_alg alg, pki_signer *signer,
                  pki_x509_assemble_fn asm_fn, void *extra, void (*extra_free)(void *),
                  pki_build_done_fn done, void *ctx, char *err, size_t errlen)
{
    struct sign_job *j = calloc(1, sizeof *j);
    if (!j || !done) {
        free(j);
        free(tbs);
        if (extra_free)
            extra_free(extra);
        return pki_x509_err(err, errlen, done ? PKI_X509_ERR_NOMEM : PKI_X509_ERR_INPUT,
                            done ? "out of memory" : "no completion callback");
    }
    *j = (struct sign_job){tbs, tbs_len, alg, asm_fn, extra, extra_free, done, ctx};
    int rc = signer->ops->sign(signer, alg, tbs, tbs_len, job_done, j);
    if (rc != 0) {
        job_free(j);
        return pki_x509_err(err, errlen, rc < 0 ? rc : PKI_SIGN_ERR_INTERNAL, "signer refused: %s",
                            pki_sign_status_text(rc));
    }
    return 0;
}

int pki_x509_sign_sync(uint8_t *tbs, size_t tbs_len, pki_sig_alg alg, pki_signer *signer,
                       pki_x509_assemble_fn asm_fn, void *extra, void (*extra_free)(void *),
                       uint8_t **der, size_t *len, char *err, size_t errlen)
{
    struct sign_job j = {tbs, tbs_len, alg, asm_fn, extra, extra_free, NULL, NULL};
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    int rc = pki_signer_sign_sync(signer, alg, tbs, tbs_len, SYNC_TIMEOUT_MS, &sig, &sig_len);
    if (rc == PKI_SIGN_OK) {
        rc = assemble(&j, sig, sig_len, der, len);
        if (rc)
            pki_x509_err(err, errlen, rc, "out of memory");
    } else {
        pki_x509_err(err, errlen, rc, "signing failed: %s", pki_sign_status_text(rc));
    }
    free(sig);
    free(tbs);
    if (extra_free)
        extra_free(extra);
    return rc;
}

int pki_x509_build(pki_x509_tbs_fn make, const void *what, const void *issuer, pki_signer *signer,
                   pki_sig_alg requested, pki_build_done_fn done, void *ctx, uint8_t **der,
                   size_t *len, char *err, size_t errlen)
{
    if (der)
        *der = NULL;
    int alg = pki_x509_pick_alg(signer, requested, err, errlen);
    if (alg < 0)
        return alg;
    uint8_t *tbs;
    size_t tbs_len;
    int rc = make(what, issuer, signer, (pki_sig_alg)alg, &tbs, &tbs_len, err, errlen);
    if (rc)
        return rc;
    if (done)
        return pki_x509_sign(tbs, tbs_len, (pki_sig_alg)alg, signer, pki_x509_assemble_signed, NULL,
                             NULL, done, ctx, err, errlen);
    return pki_x509_sign_sync(tbs, tbs_len, (pki_sig_alg)alg, signer, pki_x509_assemble_signed,
                              NULL, NULL, der, len, err, errlen);
}

/* One DRBG for the process, seeded once; wolfCrypt's RNG is not thread-safe, so a mutex. */
static pthread_mutex_t rng_mu = PTHREAD_MUTEX_INITIALIZER;
static WC_RNG rng;
static int rng_ready;

int pki_serial_random(uint8_t out[PKI_SERIAL_RANDOM_LEN])
{
    int rc = -1;
    pthread_mutex_lock(&rng_mu);
    if (!rng_ready && wc_InitRng(&rng) == 0)
        rng_ready = 1;
    if (rng_ready && wc_RNG_GenerateBlock(&rng, out, PKI_SERIAL_RANDOM_LEN) == 0)
        rc = 0;
    pthread_mutex_unlock(&rng_mu);
    if (rc)
        return -1;
    /* Positive and exactly 16 octets: top bit clear, top octet non-zero (127 random bits
     * minus a negligible bias). */
    out[0] &= 0x7f;
    if (out[0] == 0)
        out[0] = 0x01;
    return 0;
}

/* ---- issuer from certificate --------------------------------------------------------------- */

static int read_ext(pki_issuer *is, const char *oid, const pki_der_item *val)
{
    pki_der_item it;
    if (!strcmp(oid, "2.5.29.14")) {
        const uint8_t *p;
        if (pki_der_single(val->val, val->len, &it) || it.tag != PKI_DER_OCTET_STRING ||
            it.len == 0 || it.len > sizeof is->ski)
            return -1;
        p = it.val;
        memcpy(is->ski, p, it.len);
        is->ski_len = it.len;
    } else if (!strcmp(oid, "2.5.29.19")) {
        pki_der d, seq;
        pki_der_init(&d, val->val, val->len);
        if (pki_der_enter_expect(&d, PKI_DER_SEQUENCE, &seq, NULL))
            return -1;
        int rc = pki_der_optional(&seq, PKI_DER_BOOLEAN, &it);
        if (rc < 0 || (rc == 0 && pki_der_boolean(&it, &is->is_ca)))
            return -1;
        rc = pki_der_optional(&seq, PKI_DER_INTEGER, &it);
        long pl;
        if (rc < 0 || (rc == 0 && (pki_der_int_long(&it, &pl) || pl < 0 || pl > 1000)))
            return -1;
        if (rc == 0)
            is->path_len = (int)pl;
    } else if (!strcmp(oid, "2.5.29.15")) {
        if (pki_der_single(val->val, val->len, &it) || it.tag != PKI_DER_BIT_STRING ||
            pki_der_bit_string_flags(&it, &is->key_usage))
            return -1;
        is->has_key_usage = 1;
    }
    return 0;
}

static int read_exts(pki_issuer *is, const pki_der_item *exts_item)
{
    pki_der outer, list, ext;
    pki_der_item it, oid, val;
    char text[64];
    if (pki_der_enter(exts_item, &outer) ||
        pki_der_enter_expect(&outer, PKI_DER_SEQUENCE, &list, NULL))
        return -1;
    while (!pki_der_at_end(&list)) {
        if (pki_der_enter_expect(&list, PKI_DER_SEQUENCE, &ext, NULL) ||
            pki_der_expect(&ext, PKI_DER_OID, &oid) ||
            pki_der_optional(&ext, PKI_DER_BOOLEAN, &it) < 0 ||
            pki_der_expect(&ext, PKI_DER_OCTET_STRING, &val) ||
            pki_der_oid_text(&oid, text, sizeof text) || read_ext(is, text, &val))
            return -1;
    }
    return 0;
}

int pki_issuer_from_cert(pki_issuer *is, const uint8_t *der, size_t len, char *err, size_t errlen)
{
    memset(is, 0, sizeof *is);
    is->path_len = -1;
    pki_der d, cert, tbs, validity;
    pki_der_item it, subject, t1, t2;
    pki_der_init(&d, der, len);
    if (pki_der_enter_expect(&d, PKI_DER_SEQUENCE, &cert, NULL) ||
        pki_der_enter_expect(&cert, PKI_DER_SEQUENCE, &tbs, NULL) ||
        pki_der_optional(&tbs, PKI_DER_CTX_CONS(0), &it) < 0 ||
        pki_der_expect(&tbs, PKI_DER_INTEGER, &it) || pki_der_expect(&tbs, PKI_DER_SEQUENCE, &it) ||
        pki_der_expect(&tbs, PKI_DER_SEQUENCE, &it) ||
        pki_der_enter_expect(&tbs, PKI_DER_SEQUENCE, &validity, NULL) ||
        pki_der_next(&validity, &t1) || pki_der_time(&t1, &is->not_before) ||
        pki_der_next(&validity, &t2) || pki_der_time(&t2, &is->not_after) ||
        pki_der_expect(&tbs, PKI_DER_SEQUENCE, &subject) ||
        pki_der_expect(&tbs, PKI_DER_SEQUENCE, &it))
        return pki_x509_err(err, errlen, PKI_X509_ERR_INPUT, "issuer: not a certificate");
    while (!pki_der_at_end(&tbs)) {
        if (pki_der_next(&tbs, &it))
            return pki_x509_err(err, errlen, PKI_X509_ERR_INPUT, "issuer: malformed certificate");
        if (it.tag == PKI_DER_CTX_CONS(3) && read_exts(is, &it))
            return pki_x509_err(err, errlen, PKI_X509_ERR_INPUT, "issuer: malformed extensions");
    }
    is->name_der = malloc(subject.raw_len);
    if (!is->name_der)
        return pki_x509_err(err, errlen, PKI_X509_ERR_NOMEM, "out of memory");
    memcpy(is->name_der, subject.raw, subject.raw_len);
    is->name_len = subject.raw_len;
    return 0;
}

void pki_issuer_free(pki_issuer *is)
{
    if (is) {
        free(is->name_der);
        is->name_der = NULL;
        is->name_len = 0;
    }
}
