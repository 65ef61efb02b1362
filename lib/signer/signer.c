/* The parts of the signer interface that do not depend on where the key lives: the blocking
 * wrapper around an asynchronous sign(), algorithm identifiers and names. */
#include "signer/signer.h"

#include "der/der_reader.h"

#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

const char *pki_sign_status_text(int status)
{
    switch (status) {
    case PKI_SIGN_OK:
        return "ok";
    case PKI_SIGN_ERR_INTERNAL:
        return "internal signer error";
    case PKI_SIGN_ERR_BAD_ALG:
        return "signature algorithm does not fit the key";
    case PKI_SIGN_ERR_OFFLINE:
        return "appliance not connected";
    case PKI_SIGN_ERR_CARD_ABSENT:
        return "YubiKey absent";
    case PKI_SIGN_ERR_PIN_BLOCKED:
        return "PIN blocked";
    case PKI_SIGN_ERR_PIN_REQUIRED:
        return "PIN required or wrong";
    case PKI_SIGN_ERR_POLICY:
        return "refused by the appliance's local policy";
    case PKI_SIGN_ERR_BUSY:
        return "signer busy";
    case PKI_SIGN_ERR_TIMEOUT:
        return "signer timed out";
    case PKI_SIGN_ERR_BAD_SIGNATURE:
        return "signature did not verify";
    default:
        return "unknown signer error";
    }
}

/* The waiter is shared by the caller and the completion; whichever lets go last frees it, so a
 * completion that arrives after the caller gave up (timeout) never writes to freed memory. */
struct sync_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    int done;
    int status;
    uint8_t *sig;
    size_t sig_len;
};

static void sync_wait_release(struct sync_wait *w)
{
    pthread_mutex_lock(&w->mu);
    int left = --w->refs;
    pthread_mutex_unlock(&w->mu);
    if (left > 0)
        return;
    free(w->sig);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

static void sync_done(void *ctx, int status, const uint8_t *sig, size_t sig_len)
{
    struct sync_wait *w = ctx;
    pthread_mutex_lock(&w->mu);
    if (!w->done) {
        w->done = 1;
        w->status = status;
        if (status == PKI_SIGN_OK) {
            w->sig = malloc(sig_len ? sig_len : 1);
            if (!w->sig || !sig)
                w->status = PKI_SIGN_ERR_INTERNAL;
            else {
                memcpy(w->sig, sig, sig_len);
                w->sig_len = sig_len;
            }
        }
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    sync_wait_release(w);
}

int pki_signer_sign_sync(pki_signer *s, pki_sig_alg alg, const uint8_t *tbs, size_t tbs_len,
                         unsigned timeout_ms, uint8_t **sig, size_t *sig_len)
{
    if (!s || !s->ops || !s->ops->sign || !sig || !sig_len || (!tbs && tbs_len))
        return PKI_SIGN_ERR_INTERNAL;
    *sig = NULL;
    *sig_len = 0;
    if (!pki_sig_alg_fits_key(alg, s->key_type))
        return PKI_SIGN_ERR_BAD_ALG;
    struct sync_wait *w = calloc(1, sizeof *w);
    if (!w)
        return PKI_SIGN_ERR_INTERNAL;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    w->refs = 2;

    int rc = s->ops->sign(s, alg, tbs, tbs_len, sync_done, w);
    if (rc != 0) {
        w->refs = 1; /* the completion will never run */
        sync_wait_release(w);
        return rc < 0 ? rc : PKI_SIGN_ERR_INTERNAL;
    }

    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->mu);
    while (!w->done) {
        if (pthread_cond_timedwait(&w->cv, &w->mu, &deadline) == ETIMEDOUT && !w->done) {
            /* A late completion is discarded: mark done so it keeps nothing. */
            w->done = 1;
            w->status = PKI_SIGN_ERR_TIMEOUT;
        }
    }
    rc = w->status;
    if (rc == PKI_SIGN_OK) {
        *sig = w->sig;
        *sig_len = w->sig_len;
        w->sig = NULL;
    }
    pthread_mutex_unlock(&w->mu);
    sync_wait_release(w);
    return rc;
}

void pki_signer_free(pki_signer *s)
{
    if (!s)
        return;
    if (s->ops && s->ops->destroy)
        s->ops->destroy(s); /* frees impl and spki, wiping what is secret */
    else {
        free(s->spki);
        free(s);
    }
}

int pki_sig_alg_fits_key(pki_sig_alg alg, pki_key_type key)
{
    switch (alg) {
    case PKI_SIG_RSA_PKCS1_SHA256:
    case PKI_SIG_RSA_PKCS1_SHA384:
    case PKI_SIG_RSA_PKCS1_SHA512:
    case PKI_SIG_RSA_PSS_SHA256:
    case PKI_SIG_RSA_PSS_SHA384:
    case PKI_SIG_RSA_PSS_SHA512:
        return key == PKI_KEY_RSA;
    case PKI_SIG_ECDSA_SHA256:
    case PKI_SIG_ECDSA_SHA384:
    case PKI_SIG_ECDSA_SHA512:
        return key == PKI_KEY_EC_P256 || key == PKI_KEY_EC_P384 || key == PKI_KEY_EC_P521;
    case PKI_SIG_ED25519:
        return key == PKI_KEY_ED25519;
    }
    return 0;
}

/* AlgorithmIdentifiers, byte for byte as the CA/Browser Forum Baseline Requirements (7.1.3.2)
 * spell them: NULL parameters for PKCS#1, explicit RSASSA-PSS-params (hash with NULL, MGF1 with
 * the same hash, salt length = hash length, default trailer), no parameters for ECDSA/Ed25519. */
static const uint8_t AID_RSA_SHA256[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                         0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00};
static const uint8_t AID_RSA_SHA384[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                         0xf7, 0x0d, 0x01, 0x01, 0x0c, 0x05, 0x00};
static const uint8_t AID_RSA_SHA512[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                         0xf7, 0x0d, 0x01, 0x01, 0x0d, 0x05, 0x00};
#define PSS_AID(h, salt)                                                                           \
    {                                                                                              \
        0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30, 0x34,  \
            0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, h, \
            0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,    \
            0x01, 0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,    \
            0x02, h, 0x05, 0x00, 0xa2, 0x03, 0x02, 0x01, salt                                      \
    }
static const uint8_t AID_PSS_SHA256[] = PSS_AID(0x01, 0x20);
static const uint8_t AID_PSS_SHA384[] = PSS_AID(0x02, 0x30);
static const uint8_t AID_PSS_SHA512[] = PSS_AID(0x03, 0x40);
static const uint8_t AID_ECDSA_SHA256[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                           0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
static const uint8_t AID_ECDSA_SHA384[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                           0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};
static const uint8_t AID_ECDSA_SHA512[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                           0x48, 0xce, 0x3d, 0x04, 0x03, 0x04};
static const uint8_t AID_ED25519[] = {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70};

static const struct alg_info {
    pki_sig_alg alg;
    const char *name;
    const uint8_t *der;
    size_t der_len;
} ALGS[] = {
#define A(alg, name, der)                                                                          \
    {                                                                                              \
        alg, name, der, sizeof der                                                                 \
    }
    A(PKI_SIG_RSA_PKCS1_SHA256, "sha256WithRSAEncryption", AID_RSA_SHA256),
    A(PKI_SIG_RSA_PKCS1_SHA384, "sha384WithRSAEncryption", AID_RSA_SHA384),
    A(PKI_SIG_RSA_PKCS1_SHA512, "sha512WithRSAEncryption", AID_RSA_SHA512),
    A(PKI_SIG_RSA_PSS_SHA256, "rsassa-pss-sha256", AID_PSS_SHA256),
    A(PKI_SIG_RSA_PSS_SHA384, "rsassa-pss-sha384", AID_PSS_SHA384),
    A(PKI_SIG_RSA_PSS_SHA512, "rsassa-pss-sha512", AID_PSS_SHA512),
    A(PKI_SIG_ECDSA_SHA256, "ecdsa-with-SHA256", AID_ECDSA_SHA256),
    A(PKI_SIG_ECDSA_SHA384, "ecdsa-with-SHA384", AID_ECDSA_SHA384),
    A(PKI_SIG_ECDSA_SHA512, "ecdsa-with-SHA512", AID_ECDSA_SHA512),
    A(PKI_SIG_ED25519, "Ed25519", AID_ED25519),
#undef A
};

static const struct alg_info *alg_info(pki_sig_alg alg)
{
    for (size_t i = 0; i < sizeof ALGS / sizeof ALGS[0]; i++)
        if (ALGS[i].alg == alg)
            return &ALGS[i];
    return NULL;
}

int pki_sig_alg_der(pki_sig_alg alg, uint8_t *out, size_t outlen)
{
    const struct alg_info *a = alg_info(alg);
    if (!a || !out || outlen < a->der_len)
        return -1;
    memcpy(out, a->der, a->der_len);
    return (int)a->der_len;
}

const char *pki_sig_alg_name(pki_sig_alg alg)
{
    const struct alg_info *a = alg_info(alg);
    return a ? a->name : "unknown";
}

int pki_sig_alg_from_name(const char *name, pki_sig_alg *out)
{
    if (!name || !out)
        return -1;
    for (size_t i = 0; i < sizeof ALGS / sizeof ALGS[0]; i++)
        if (strcasecmp(ALGS[i].name, name) == 0) {
            *out = ALGS[i].alg;
            return 0;
        }
    return -1;
}

/* hashAlgorithm of RSASSA-PSS-params: SHA-256/384/512 with NULL or absent parameters.
 * Returns 1, 2, 3 for SHA-256, -384, -512, or -1. */
static int pss_hash(const pki_der_item *explicit_tag)
{
    pki_der outer, in;
    pki_der_item oid, par;
    if (pki_der_enter(explicit_tag, &outer) != 0 ||
        pki_der_enter_expect(&outer, PKI_DER_SEQUENCE, &in, NULL) != 0 || !pki_der_at_end(&outer) ||
        pki_der_expect(&in, PKI_DER_OID, &oid) != 0)
        return -1;
    if (pki_der_next(&in, &par) == 0 && (pki_der_null(&par) != 0 || !pki_der_at_end(&in)))
        return -1;
    for (int h = 1; h <= 3; h++) {
        char want[32];
        snprintf(want, sizeof want, "2.16.840.1.101.3.4.2.%d", h);
        if (pki_der_oid_is(&oid, want))
            return h;
    }
    return -1;
}

static int explicit_int(const pki_der_item *tag, long *v)
{
    pki_der in;
    pki_der_item it;
    return pki_der_enter(tag, &in) == 0 && pki_der_expect(&in, PKI_DER_INTEGER, &it) == 0 &&
                   pki_der_at_end(&in) && pki_der_int_long(&it, v) == 0
               ? 0
               : -1;
}

/* RSASSA-PSS-params as other producers spell them (RFC 4055): the hash must be SHA-2 (the
 * SHA-1 default is refused), MGF1 with the same hash, salt as long as the hash, trailer 1. */
static int pss_params(pki_der *params_seq_contents, pki_sig_alg *out)
{
    pki_der *in = params_seq_contents;
    pki_der_item t0, t1, t2, t3, mgf_oid;
    pki_der mo, m;
    if (pki_der_expect(in, PKI_DER_CTX_CONS(0), &t0) != 0 ||
        pki_der_expect(in, PKI_DER_CTX_CONS(1), &t1) != 0)
        return -1;
    int h = pss_hash(&t0);
    if (h < 0 || pki_der_enter(&t1, &mo) != 0 ||
        pki_der_enter_expect(&mo, PKI_DER_SEQUENCE, &m, NULL) != 0 || !pki_der_at_end(&mo) ||
        pki_der_expect(&m, PKI_DER_OID, &mgf_oid) != 0 ||
        !pki_der_oid_is(&mgf_oid, "1.2.840.113549.1.1.8"))
        return -1;
    /* The MGF's hash AlgorithmIdentifier sits directly in m; wrap it to reuse pss_hash. */
    pki_der_item mh = {.tag = PKI_DER_CTX_CONS(0), .val = m.p + m.pos, .len = m.len - m.pos};
    if (pss_hash(&mh) != h)
        return -1;
    long salt = 20, trailer = 1;
    if (pki_der_optional(in, PKI_DER_CTX_CONS(2), &t2) == 0 && explicit_int(&t2, &salt) != 0)
        return -1;
    if (pki_der_optional(in, PKI_DER_CTX_CONS(3), &t3) == 0 && explicit_int(&t3, &trailer) != 0)
        return -1;
    static const long SALT[] = {0, 32, 48, 64};
    if (!pki_der_at_end(in) || salt != SALT[h] || trailer != 1)
        return -1;
    static const pki_sig_alg ALG[] = {0, PKI_SIG_RSA_PSS_SHA256, PKI_SIG_RSA_PSS_SHA384,
                                      PKI_SIG_RSA_PSS_SHA512};
    *out = ALG[h];
    return 0;
}

int pki_sig_alg_from_der(const uint8_t *der, size_t len, pki_sig_alg *out)
{
    if (!der || !out)
        return -1;
    for (size_t i = 0; i < sizeof ALGS / sizeof ALGS[0]; i++)
        if (ALGS[i].der_len == len && memcmp(ALGS[i].der, der, len) == 0) {
            *out = ALGS[i].alg;
            return 0;
        }
    pki_der_item top, oid;
    pki_der in, params;
    if (pki_der_single(der, len, &top) != 0 || top.tag != PKI_DER_SEQUENCE ||
        pki_der_enter(&top, &in) != 0 || pki_der_expect(&in, PKI_DER_OID, &oid) != 0 ||
        !pki_der_oid_is(&oid, "1.2.840.113549.1.1.10") ||
        pki_der_enter_expect(&in, PKI_DER_SEQUENCE, &params, NULL) != 0 || !pki_der_at_end(&in))
        return -1;
    return pss_params(&params, out);
}

static const char *const KEY_NAMES[] = {
    [PKI_KEY_RSA] = "rsa",         [PKI_KEY_EC_P256] = "ec-p256", [PKI_KEY_EC_P384] = "ec-p384",
    [PKI_KEY_EC_P521] = "ec-p521", [PKI_KEY_ED25519] = "ed25519",
};

const char *pki_key_type_name(pki_key_type t)
{
    if ((int)t < PKI_KEY_RSA || t > PKI_KEY_ED25519)
        return "unknown";
    return KEY_NAMES[t];
}

int pki_key_type_from_name(const char *name, pki_key_type *out)
{
    if (!name || !out)
        return -1;
    for (int t = PKI_KEY_RSA; t <= PKI_KEY_ED25519; t++)
        if (strcasecmp(KEY_NAMES[t], name) == 0) {
            *out = (pki_key_type)t;
            return 0;
        }
    return -1;
}

pki_sig_alg pki_sig_alg_default(pki_key_type key)
{
    switch (key) {
    case PKI_KEY_EC_P384:
        return PKI_SIG_ECDSA_SHA384;
    case PKI_KEY_EC_P521:
        return PKI_SIG_ECDSA_SHA512;
    case PKI_KEY_EC_P256:
        return PKI_SIG_ECDSA_SHA256;
    case PKI_KEY_ED25519:
        return PKI_SIG_ED25519;
    case PKI_KEY_RSA:
    default:
        return PKI_SIG_RSA_PKCS1_SHA256;
    }
}
