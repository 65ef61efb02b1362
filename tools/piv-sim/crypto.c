/* wolfCrypt wrappers for the simulator (see crypto.h). Keys are decoded from DER for each
 * operation: the applet holds no long-lived key objects, so state is one plain structure that
 * serialises trivially. */
#include "crypto.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/des3.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/signature.h>
#include <wolfssl/wolfcrypt/wolfmath.h>

#include <string.h>

static WC_RNG rng;
static bool rng_ready;

int crypto_init(void)
{
    if (rng_ready) {
        return 0;
    }
    if (wc_InitRng(&rng) != 0) {
        return -1;
    }
    rng_ready = true;
    return 0;
}

void crypto_cleanup(void)
{
    if (rng_ready) {
        wc_FreeRng(&rng);
        rng_ready = false;
    }
}

int crypto_random(uint8_t *out, size_t len)
{
    if (!rng_ready || len > UINT32_MAX) {
        return -1;
    }
    return wc_RNG_GenerateBlock(&rng, out, (word32)len) == 0 ? 0 : -1;
}

void crypto_wipe(void *p, size_t len)
{
    volatile uint8_t *v = p;
    while (len--) {
        *v++ = 0;
    }
}

size_t sym_key_len(uint8_t algo)
{
    switch (algo) {
    case ALGO_3DES:
        return 24;
    case ALGO_AES128:
        return 16;
    case ALGO_AES192:
        return 24;
    case ALGO_AES256:
        return 32;
    default:
        return 0;
    }
}

size_t sym_block_len(uint8_t algo)
{
    return algo == ALGO_3DES ? 8 : sym_key_len(algo) ? 16 : 0;
}

int sym_crypt_block(uint8_t algo, const uint8_t *key, const uint8_t *in, uint8_t *out, bool decrypt)
{
    int rc = -1;
    if (algo == ALGO_3DES) {
        Des3 des;
        static const uint8_t iv[8] = {0};
        if (wc_Des3Init(&des, NULL, INVALID_DEVID) != 0) {
            return -1;
        }
        /* CBC with a zero IV over one block is ECB. */
        if (wc_Des3_SetKey(&des, key, iv, decrypt ? DES_DECRYPTION : DES_ENCRYPTION) == 0) {
            rc = decrypt ? wc_Des3_CbcDecrypt(&des, out, in, 8)
                         : wc_Des3_CbcEncrypt(&des, out, in, 8);
        }
        wc_Des3Free(&des);
        return rc == 0 ? 0 : -1;
    }
    size_t klen = sym_key_len(algo);
    if (!klen) {
        return -1;
    }
    Aes aes;
    if (wc_AesInit(&aes, NULL, INVALID_DEVID) != 0) {
        return -1;
    }
    if (wc_AesSetKey(&aes, key, (word32)klen, NULL, decrypt ? AES_DECRYPTION : AES_ENCRYPTION) ==
        0) {
        rc = decrypt ? wc_AesDecryptDirect(&aes, out, in) : wc_AesEncryptDirect(&aes, out, in);
    }
    wc_AesFree(&aes);
    return rc == 0 ? 0 : -1;
}

bool algo_is_rsa(uint8_t algo)
{
    return algo == ALGO_RSA1024 || algo == ALGO_RSA2048;
}

bool algo_is_ec(uint8_t algo)
{
    return algo == ALGO_ECCP256 || algo == ALGO_ECCP384;
}

size_t algo_size(uint8_t algo)
{
    switch (algo) {
    case ALGO_RSA1024:
        return 128;
    case ALGO_RSA2048:
        return 256;
    case ALGO_ECCP256:
        return 32;
    case ALGO_ECCP384:
        return 48;
    default:
        return 0;
    }
}

static int curve_id(uint8_t algo)
{
    return algo == ALGO_ECCP256 ? ECC_SECP256R1 : ECC_SECP384R1;
}

/* Loads a DER private key of the given algorithm. */
static int rsa_load(RsaKey *k, const uint8_t *der, size_t len)
{
    word32 idx = 0;
    if (wc_InitRsaKey(k, NULL) != 0) {
        return -1;
    }
    if (wc_RsaPrivateKeyDecode(der, &idx, k, (word32)len) != 0 || wc_RsaSetRNG(k, &rng) != 0) {
        wc_FreeRsaKey(k);
        return -1;
    }
    return 0;
}

static int ec_load(ecc_key *k, const uint8_t *der, size_t len)
{
    word32 idx = 0;
    if (wc_ecc_init(k) != 0) {
        return -1;
    }
    if (wc_EccPrivateKeyDecode(der, &idx, k, (word32)len) != 0 || wc_ecc_set_rng(k, &rng) != 0) {
        wc_ecc_free(k);
        return -1;
    }
    return 0;
}

/* Appends DER produced by a wolfCrypt "to DER" function through a bounded scratch buffer. */
static int put_der(struct buf *out, const uint8_t *tmp, int n)
{
    if (n <= 0) {
        return -1;
    }
    buf_put(out, tmp, (size_t)n);
    return out->failed ? -1 : 0;
}

int key_generate(uint8_t algo, struct buf *der)
{
    uint8_t tmp[4096];
    int n = -1;
    if (algo_is_rsa(algo)) {
        RsaKey k;
        if (wc_InitRsaKey(&k, NULL) != 0) {
            return -1;
        }
        if (wc_MakeRsaKey(&k, (int)algo_size(algo) * 8, WC_RSA_EXPONENT, &rng) == 0) {
            n = wc_RsaKeyToDer(&k, tmp, sizeof(tmp));
        }
        wc_FreeRsaKey(&k);
    } else if (algo_is_ec(algo)) {
        ecc_key k;
        if (wc_ecc_init(&k) != 0) {
            return -1;
        }
        if (wc_ecc_make_key_ex(&rng, (int)algo_size(algo), &k, curve_id(algo)) == 0) {
            n = wc_EccKeyToDer(&k, tmp, sizeof(tmp));
        }
        wc_ecc_free(&k);
    }
    int rc = put_der(der, tmp, n);
    crypto_wipe(tmp, sizeof(tmp));
    return rc;
}

int key_public_piv(uint8_t algo, const uint8_t *der, size_t der_len, struct buf *out)
{
    if (algo_is_rsa(algo)) {
        RsaKey k;
        uint8_t n[512], e[8];
        word32 nl = sizeof(n), el = sizeof(e);
        if (rsa_load(&k, der, der_len) != 0) {
            return -1;
        }
        int rc = wc_RsaFlattenPublicKey(&k, e, &el, n, &nl);
        wc_FreeRsaKey(&k);
        if (rc != 0) {
            return -1;
        }
        buf_put_tlv(out, 0x81, n, nl);
        buf_put_tlv(out, 0x82, e, el);
        return out->failed ? -1 : 0;
    }
    if (algo_is_ec(algo)) {
        ecc_key k;
        uint8_t pt[133];
        word32 pl = sizeof(pt);
        if (ec_load(&k, der, der_len) != 0) {
            return -1;
        }
        int rc = wc_ecc_export_x963(&k, pt, &pl);
        wc_ecc_free(&k);
        if (rc != 0) {
            return -1;
        }
        buf_put_tlv(out, 0x86, pt, pl);
        return out->failed ? -1 : 0;
    }
    return -1;
}

int key_public_spki(uint8_t algo, const uint8_t *der, size_t der_len, struct buf *out)
{
    uint8_t tmp[1024];
    int n = -1;
    if (algo_is_rsa(algo)) {
        RsaKey k;
        if (rsa_load(&k, der, der_len) != 0) {
            return -1;
        }
        n = wc_RsaKeyToPublicDer(&k, tmp, sizeof(tmp));
        wc_FreeRsaKey(&k);
    } else if (algo_is_ec(algo)) {
        ecc_key k;
        if (ec_load(&k, der, der_len) != 0) {
            return -1;
        }
        n = wc_EccPublicKeyToDer(&k, tmp, sizeof(tmp), 1);
        wc_ecc_free(&k);
    }
    return put_der(out, tmp, n);
}

int key_rsa_private(uint8_t algo, const uint8_t *der, size_t der_len, const uint8_t *in,
                    size_t in_len, struct buf *out)
{
    if (!algo_is_rsa(algo) || in_len != algo_size(algo)) {
        return -1;
    }
    RsaKey k;
    uint8_t tmp[512], inc[512];
    word32 ol = sizeof(tmp);
    if (rsa_load(&k, der, der_len) != 0) {
        return -1;
    }
    memcpy(inc, in, in_len); /* wc_RsaDirect takes a non-const input */
    int rc = wc_RsaDirect(inc, (word32)in_len, tmp, &ol, &k, RSA_PRIVATE_DECRYPT, &rng);
    wc_FreeRsaKey(&k);
    if (rc <= 0 || (size_t)rc > in_len) {
        return -1;
    }
    ol = (word32)rc; /* wc_RsaDirect returns the length; outSz is only the capacity */
    /* Left-pad to the modulus length, as the card returns fixed-size blocks. */
    size_t pad = in_len - ol;
    static const uint8_t zero[512] = {0};
    buf_put(out, zero, pad);
    buf_put(out, tmp, ol);
    crypto_wipe(tmp, sizeof(tmp));
    return out->failed ? -1 : 0;
}

int key_ec_sign(uint8_t algo, const uint8_t *der, size_t der_len, const uint8_t *hash,
                size_t hash_len, struct buf *out)
{
    if (!algo_is_ec(algo) || hash_len == 0 || hash_len > algo_size(algo)) {
        return -1;
    }
    ecc_key k;
    uint8_t sig[160];
    word32 sl = sizeof(sig);
    if (ec_load(&k, der, der_len) != 0) {
        return -1;
    }
    int rc = wc_ecc_sign_hash(hash, (word32)hash_len, sig, &sl, &rng, &k);
    wc_ecc_free(&k);
    if (rc != 0) {
        return -1;
    }
    buf_put(out, sig, sl);
    return out->failed ? -1 : 0;
}

int key_ecdh(uint8_t algo, const uint8_t *der, size_t der_len, const uint8_t *point,
             size_t point_len, struct buf *out)
{
    if (!algo_is_ec(algo) || point_len != 2 * algo_size(algo) + 1 || point[0] != 0x04) {
        return -1;
    }
    ecc_key k, peer;
    uint8_t secret[66];
    word32 sl = sizeof(secret);
    int rc = -1;
    if (ec_load(&k, der, der_len) != 0) {
        return -1;
    }
    if (wc_ecc_init(&peer) == 0) {
        /* The peer point must be on our curve: wc_ecc_check_key rejects anything else. */
        if (wc_ecc_import_x963_ex(point, (word32)point_len, &peer, curve_id(algo)) == 0 &&
            wc_ecc_check_key(&peer) == 0) {
            rc = wc_ecc_shared_secret(&k, &peer, secret, &sl);
        }
        wc_ecc_free(&peer);
    }
    wc_ecc_free(&k);
    if (rc != 0) {
        return -1;
    }
    buf_put(out, secret, sl);
    crypto_wipe(secret, sizeof(secret));
    return out->failed ? -1 : 0;
}

/* Rebuilds n, e and d from the CRT parts, then proves the key works with a raw round trip. */
int key_import_rsa(uint8_t algo, const uint8_t *const parts[5], const size_t lens[5],
                   struct buf *der)
{
    if (!algo_is_rsa(algo)) {
        return -1;
    }
    RsaKey k;
    mp_int p1, q1, phi;
    uint8_t tmp[4096];
    int n = -1;
    if (wc_InitRsaKey(&k, NULL) != 0) {
        return -1;
    }
    if (mp_init_multi(&p1, &q1, &phi, NULL, NULL, NULL) != MP_OKAY) {
        wc_FreeRsaKey(&k);
        return -1;
    }
    mp_int *dst[5] = {&k.p, &k.q, &k.dP, &k.dQ, &k.u};
    bool ok = true;
    for (int i = 0; i < 5 && ok; i++) {
        ok = mp_read_unsigned_bin(dst[i], parts[i], (word32)lens[i]) == MP_OKAY;
    }
    ok = ok && mp_mul(&k.p, &k.q, &k.n) == MP_OKAY;
    ok = ok && mp_count_bits(&k.n) == (int)algo_size(algo) * 8;
    ok = ok && mp_sub_d(&k.p, 1, &p1) == MP_OKAY && mp_sub_d(&k.q, 1, &q1) == MP_OKAY;
    /* e = dP^-1 mod (p-1): exact because e < p-1. */
    ok = ok && mp_invmod(&k.dP, &p1, &k.e) == MP_OKAY;
    ok = ok && mp_mul(&p1, &q1, &phi) == MP_OKAY && mp_invmod(&k.e, &phi, &k.d) == MP_OKAY;
    if (ok) {
        k.type = RSA_PRIVATE;
        ok = wc_RsaSetRNG(&k, &rng) == 0;
    }
    if (ok) {
        uint8_t probe[512] = {0}, s[512] = {0}, back[512] = {0};
        word32 sl = sizeof(s), bl = sizeof(back);
        size_t ml = algo_size(algo);
        int sn = -1, bn = -1;
        if (crypto_random(probe + 1, ml - 1) == 0) {
            sn = wc_RsaDirect(probe, (word32)ml, s, &sl, &k, RSA_PRIVATE_DECRYPT, &rng);
        }
        if (sn > 0) {
            bn = wc_RsaDirect(s, (word32)sn, back, &bl, &k, RSA_PUBLIC_ENCRYPT, &rng);
        }
        /* the round trip may drop leading zero bytes of the probe */
        ok = bn > 0 && (size_t)bn <= ml &&
             memcmp(back, probe + (ml - (size_t)bn), (size_t)bn) == 0 &&
             (ml == (size_t)bn || probe[0] == 0);
    }
    if (ok) {
        n = wc_RsaKeyToDer(&k, tmp, sizeof(tmp));
    }
    mp_forcezero(&p1);
    mp_forcezero(&q1);
    mp_forcezero(&phi);
    wc_FreeRsaKey(&k);
    int rc = ok ? put_der(der, tmp, n) : -1;
    crypto_wipe(tmp, sizeof(tmp));
    return rc;
}

int key_import_ec(uint8_t algo, const uint8_t *priv, size_t priv_len, struct buf *der)
{
    if (!algo_is_ec(algo) || priv_len != algo_size(algo)) {
        return -1;
    }
    ecc_key k;
    uint8_t tmp[512];
    int n = -1;
    if (wc_ecc_init(&k) != 0) {
        return -1;
    }
    if (wc_ecc_import_private_key_ex(priv, (word32)priv_len, NULL, 0, &k, curve_id(algo)) == 0 &&
        wc_ecc_make_pub(&k, NULL) == 0 && wc_ecc_check_key(&k) == 0) {
        n = wc_EccKeyToDer(&k, tmp, sizeof(tmp));
    }
    wc_ecc_free(&k);
    int rc = put_der(der, tmp, n);
    crypto_wipe(tmp, sizeof(tmp));
    return rc;
}

int key_sign_sha256(uint8_t algo, const uint8_t *der, size_t der_len, const uint8_t *msg,
                    size_t msg_len, struct buf *sig, struct buf *sig_alg_der)
{
    static const uint8_t rsa_alg[] = {0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86,
                                      0xF7, 0x0D, 0x01, 0x01, 0x0B, 0x05, 0x00};
    static const uint8_t ec_alg[] = {0x30, 0x0A, 0x06, 0x08, 0x2A, 0x86,
                                     0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02};
    uint8_t out[512];
    word32 ol = sizeof(out);
    int rc = -1;
    if (algo_is_rsa(algo)) {
        RsaKey k;
        if (rsa_load(&k, der, der_len) != 0) {
            return -1;
        }
        rc = wc_SignatureGenerate(WC_HASH_TYPE_SHA256, WC_SIGNATURE_TYPE_RSA_W_ENC, msg,
                                  (word32)msg_len, out, &ol, &k, sizeof(k), &rng);
        wc_FreeRsaKey(&k);
        buf_put(sig_alg_der, rsa_alg, sizeof(rsa_alg));
    } else if (algo_is_ec(algo)) {
        ecc_key k;
        if (ec_load(&k, der, der_len) != 0) {
            return -1;
        }
        rc = wc_SignatureGenerate(WC_HASH_TYPE_SHA256, WC_SIGNATURE_TYPE_ECC, msg, (word32)msg_len,
                                  out, &ol, &k, sizeof(k), &rng);
        wc_ecc_free(&k);
        buf_put(sig_alg_der, ec_alg, sizeof(ec_alg));
    }
    if (rc != 0) {
        return -1;
    }
    buf_put(sig, out, ol);
    return sig->failed || sig_alg_der->failed ? -1 : 0;
}

int seal(const uint8_t key[32], const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len,
         struct buf *out)
{
    uint8_t nonce[12], tag[16];
    Aes aes;
    struct buf ct;
    int rc = -1;
    if (crypto_random(nonce, sizeof(nonce)) != 0 || wc_AesInit(&aes, NULL, INVALID_DEVID) != 0) {
        return -1;
    }
    buf_init(&ct, 0);
    buf_put(&ct, in, len ? len : 0);
    if (!ct.failed && wc_AesGcmSetKey(&aes, key, 32) == 0 &&
        wc_AesGcmEncrypt(&aes, ct.data, in, (word32)len, nonce, sizeof(nonce), tag, sizeof(tag),
                         aad, (word32)aad_len) == 0) {
        buf_put(out, nonce, sizeof(nonce));
        buf_put(out, tag, sizeof(tag));
        buf_put(out, ct.data, ct.len);
        rc = out->failed ? -1 : 0;
    }
    wc_AesFree(&aes);
    buf_free(&ct);
    return rc;
}

int unseal(const uint8_t key[32], const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len,
           struct buf *out)
{
    Aes aes;
    int rc = -1;
    if (len < 28 || len - 28 == 0 || wc_AesInit(&aes, NULL, INVALID_DEVID) != 0) {
        return -1;
    }
    size_t ctl = len - 28;
    buf_put(out, in + 28, ctl); /* reserve space, then decrypt in place */
    if (!out->failed && wc_AesGcmSetKey(&aes, key, 32) == 0 &&
        wc_AesGcmDecrypt(&aes, out->data + out->len - ctl, in + 28, (word32)ctl, in, 12, in + 12,
                         16, aad, (word32)aad_len) == 0) {
        rc = 0;
    }
    wc_AesFree(&aes);
    return rc;
}
