/* Key objects: allocation, generation, signing and the public key. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/key_impl.h"

#include <wolfssl/wolfcrypt/asn.h>

void pki_key_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void pki_secure_zero(void *p, size_t len)
{
    if (p && len)
        explicit_bzero(p, len);
}

void pki_secret_free(void *p, size_t len)
{
    if (!p)
        return;
    pki_secure_zero(p, len);
    free(p);
}

void pki_crypto_thread_exit(void)
{
#ifdef FP_ECC
    wc_ecc_fp_free();
#endif
}

/* The FP_ECC cache is per thread; a thread-specific key whose destructor frees it means no
 * worker pool has to remember to call pki_crypto_thread_exit() itself. */
static pthread_key_t g_ecc_thread_key;
static pthread_once_t g_ecc_thread_once = PTHREAD_ONCE_INIT;
static int g_ecc_thread_key_ok;

static void ecc_thread_destructor(void *unused)
{
    (void)unused;
    pki_crypto_thread_exit();
}

static void ecc_thread_key_create(void)
{
    g_ecc_thread_key_ok = pthread_key_create(&g_ecc_thread_key, ecc_thread_destructor) == 0;
}

void pki_crypto_thread_note_ecc(void)
{
    pthread_once(&g_ecc_thread_once, ecc_thread_key_create);
    if (g_ecc_thread_key_ok && pthread_getspecific(g_ecc_thread_key) == NULL)
        pthread_setspecific(g_ecc_thread_key, (void *)1);
}

int pki_key_curve_id(pki_key_type type)
{
    switch (type) {
    case PKI_KEY_EC_P256:
        return ECC_SECP256R1;
    case PKI_KEY_EC_P384:
        return ECC_SECP384R1;
    case PKI_KEY_EC_P521:
        return ECC_SECP521R1;
    default:
        return -1;
    }
}

pki_key *pki_key_alloc(pki_key_type type, char *err, size_t errlen)
{
    pki_key *k = calloc(1, sizeof *k);
    if (!k) {
        pki_key_errf(err, errlen, "out of memory");
        return NULL;
    }
    k->type = type;
    pthread_mutex_init(&k->lock, NULL);
    if (wc_InitRng(&k->rng) != 0) {
        pki_key_errf(err, errlen, "random number generator failed");
        pki_key_free(k);
        return NULL;
    }
    k->rng_ok = 1;
    return k;
}

static int make_spki(pki_key *k)
{
    uint8_t buf[1200]; /* RSA-4096 SPKI is 550 bytes */
    int n = -1;
    switch (k->type) {
    case PKI_KEY_RSA:
        n = wc_RsaKeyToPublicDer(&k->u.rsa, buf, sizeof buf);
        break;
    case PKI_KEY_EC_P256:
    case PKI_KEY_EC_P384:
    case PKI_KEY_EC_P521:
        n = wc_EccPublicKeyToDer(&k->u.ecc, buf, sizeof buf, 1);
        break;
    case PKI_KEY_ED25519:
        n = wc_Ed25519PublicKeyToDer(&k->u.ed, buf, sizeof buf, 1);
        break;
    }
    if (n <= 0)
        return -1;
    k->spki = malloc((size_t)n);
    if (!k->spki)
        return -1;
    memcpy(k->spki, buf, (size_t)n);
    k->spki_len = (size_t)n;
    return 0;
}

int pki_key_finish(pki_key *k, char *err, size_t errlen)
{
    if (k->type == PKI_KEY_RSA) {
        if (wc_RsaSetRNG(&k->u.rsa, &k->rng) != 0) { /* blinding needs it */
            pki_key_errf(err, errlen, "RSA key setup failed");
            return -1;
        }
        k->rsa_bits = (unsigned)wc_RsaEncryptSize(&k->u.rsa) * 8;
    }
    if (make_spki(k) != 0) {
        pki_key_errf(err, errlen, "cannot encode the public key");
        return -1;
    }
    return 0;
}

pki_key *pki_key_generate(pki_key_type type, unsigned rsa_bits, char *err, size_t errlen)
{
    if (type == PKI_KEY_RSA && rsa_bits == 0)
        rsa_bits = 2048;
    if (type == PKI_KEY_RSA && rsa_bits != 2048 && rsa_bits != 3072 && rsa_bits != 4096) {
        pki_key_errf(err, errlen, "RSA key size %u not supported (2048, 3072 or 4096)", rsa_bits);
        return NULL;
    }
    if (type < PKI_KEY_RSA || type > PKI_KEY_ED25519) {
        pki_key_errf(err, errlen, "unknown key type %d", (int)type);
        return NULL;
    }
    pki_key *k = pki_key_alloc(type, err, errlen);
    if (!k)
        return NULL;
    int rc = -1;
    switch (type) {
    case PKI_KEY_RSA:
        if (wc_InitRsaKey(&k->u.rsa, NULL) == 0) {
            k->key_ok = 1;
            rc = wc_MakeRsaKey(&k->u.rsa, (int)rsa_bits, WC_RSA_EXPONENT, &k->rng);
        }
        break;
    case PKI_KEY_EC_P256:
    case PKI_KEY_EC_P384:
    case PKI_KEY_EC_P521:
        if (wc_ecc_init(&k->u.ecc) == 0) {
            k->key_ok = 1;
            int id = pki_key_curve_id(type);
            pki_crypto_thread_note_ecc();
            rc = wc_ecc_make_key_ex(&k->rng, wc_ecc_get_curve_size_from_id(id), &k->u.ecc, id);
        }
        break;
    case PKI_KEY_ED25519:
        if (wc_ed25519_init(&k->u.ed) == 0) {
            k->key_ok = 1;
            rc = wc_ed25519_make_key(&k->rng, ED25519_KEY_SIZE, &k->u.ed);
        }
        break;
    }
    if (rc != 0) {
        pki_key_errf(err, errlen, "%s key generation failed (wolfCrypt error %d)",
                     pki_key_type_name(type), rc);
        pki_key_free(k);
        return NULL;
    }
    if (pki_key_finish(k, err, errlen) != 0) {
        pki_key_free(k);
        return NULL;
    }
    return k;
}

void pki_key_free(pki_key *k)
{
    if (!k)
        return;
    if (k->key_ok) {
        switch (k->type) {
        case PKI_KEY_RSA:
            wc_FreeRsaKey(&k->u.rsa);
            break;
        case PKI_KEY_EC_P256:
        case PKI_KEY_EC_P384:
        case PKI_KEY_EC_P521:
            wc_ecc_free(&k->u.ecc);
            break;
        case PKI_KEY_ED25519:
            wc_ed25519_free(&k->u.ed);
            break;
        }
    }
    if (k->rng_ok)
        wc_FreeRng(&k->rng);
    pthread_mutex_destroy(&k->lock);
    free(k->spki);
    pki_secret_free(k, sizeof *k); /* the union held the private key */
}

pki_key_type pki_key_get_type(const pki_key *k)
{
    return k->type;
}

unsigned pki_key_rsa_bits(const pki_key *k)
{
    return k->type == PKI_KEY_RSA ? k->rsa_bits : 0;
}

const uint8_t *pki_key_spki(const pki_key *k, size_t *len)
{
    if (len)
        *len = k->spki_len;
    return k->spki;
}

/* The hash each algorithm uses; WC_HASH_TYPE_NONE for Ed25519 (it hashes internally). */
enum wc_HashType pki_sig_alg_hash(pki_sig_alg alg)
{
    switch (alg) {
    case PKI_SIG_RSA_PKCS1_SHA256:
    case PKI_SIG_RSA_PSS_SHA256:
    case PKI_SIG_ECDSA_SHA256:
        return WC_HASH_TYPE_SHA256;
    case PKI_SIG_RSA_PKCS1_SHA384:
    case PKI_SIG_RSA_PSS_SHA384:
    case PKI_SIG_ECDSA_SHA384:
        return WC_HASH_TYPE_SHA384;
    case PKI_SIG_RSA_PKCS1_SHA512:
    case PKI_SIG_RSA_PSS_SHA512:
    case PKI_SIG_ECDSA_SHA512:
        return WC_HASH_TYPE_SHA512;
    default:
        return WC_HASH_TYPE_NONE;
    }
}

int pki_sig_alg_is_pss(pki_sig_alg alg)
{
    return alg == PKI_SIG_RSA_PSS_SHA256 || alg == PKI_SIG_RSA_PSS_SHA384 ||
           alg == PKI_SIG_RSA_PSS_SHA512;
}

int pki_hash_mgf(enum wc_HashType h)
{
    return h == WC_HASH_TYPE_SHA256   ? WC_MGF1SHA256
           : h == WC_HASH_TYPE_SHA384 ? WC_MGF1SHA384
                                      : WC_MGF1SHA512;
}

/* Runs with k->lock held. */
static int sign_locked(pki_key *k, pki_sig_alg alg, const uint8_t *tbs, size_t tbs_len,
                       uint8_t *out, word32 *out_len)
{
    if (k->type == PKI_KEY_ED25519)
        return wc_ed25519_sign_msg(tbs, (word32)tbs_len, out, out_len, &k->u.ed);

    enum wc_HashType h = pki_sig_alg_hash(alg);
    uint8_t digest[WC_MAX_DIGEST_SIZE];
    int dlen = wc_HashGetDigestSize(h);
    if (dlen <= 0 || wc_Hash(h, tbs, (word32)tbs_len, digest, sizeof digest) != 0)
        return -1;
    int rc;
    if (k->type != PKI_KEY_RSA) {
        pki_crypto_thread_note_ecc();
        rc = wc_ecc_sign_hash(digest, (word32)dlen, out, out_len, &k->rng, &k->u.ecc);
    } else if (pki_sig_alg_is_pss(alg)) {
        /* RFC 4055 / BR 7.1.3.2: MGF1 with the same hash, salt as long as the hash. */
        rc = wc_RsaPSS_Sign_ex(digest, (word32)dlen, out, *out_len, h, pki_hash_mgf(h), dlen,
                               &k->u.rsa, &k->rng);
        if (rc > 0) {
            *out_len = (word32)rc;
            rc = 0;
        }
    } else {
        uint8_t info[MAX_ENCODED_SIG_SZ];
        word32 ilen = wc_EncodeSignature(info, digest, (word32)dlen, wc_HashGetOID(h));
        rc = ilen == 0 ? -1 : wc_RsaSSL_Sign(info, ilen, out, *out_len, &k->u.rsa, &k->rng);
        if (rc > 0) {
            *out_len = (word32)rc;
            rc = 0;
        }
    }
    return rc;
}

int pki_key_sign(pki_key *k, pki_sig_alg alg, const uint8_t *tbs, size_t tbs_len, uint8_t **sig,
                 size_t *sig_len)
{
    if (!k || !sig || !sig_len || (!tbs && tbs_len) || tbs_len > UINT32_MAX)
        return PKI_SIGN_ERR_INTERNAL;
    *sig = NULL;
    *sig_len = 0;
    if (!pki_sig_alg_fits_key(alg, k->type))
        return PKI_SIGN_ERR_BAD_ALG;
    uint8_t out[1024]; /* RSA-4096: 512; ECDSA P-521 DER: at most 139 */
    word32 out_len = sizeof out;
    pthread_mutex_lock(&k->lock);
    int rc = sign_locked(k, alg, tbs ? tbs : (const uint8_t *)"", tbs_len, out, &out_len);
    pthread_mutex_unlock(&k->lock);
    if (rc != 0)
        return PKI_SIGN_ERR_INTERNAL;
    *sig = malloc(out_len);
    if (!*sig)
        return PKI_SIGN_ERR_INTERNAL;
    memcpy(*sig, out, out_len);
    *sig_len = out_len;
    return PKI_SIGN_OK;
}
