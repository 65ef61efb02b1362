/* Private key export as PKCS#8, plain or encrypted (PBES2 / AES-256-CBC). */
#include <stdlib.h>
#include <string.h>

#include "keys/key_impl.h"

#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/pwdbased.h>
#include <wolfssl/wolfcrypt/sha256.h>

/* Every temporary that holds key bytes is on this buffer size and wiped before return. */
#define KEYBUF 4096

int pki_key_to_pkcs8_der(const pki_key *k, uint8_t **der, size_t *len)
{
    if (!k || !der || !len)
        return -1;
    *der = NULL;
    uint8_t inner[KEYBUF], out[KEYBUF];
    word32 out_len = sizeof out;
    int rc = -1;
    pki_key *mk = (pki_key *)k; /* wolfCrypt's export functions take non-const keys */
    pthread_mutex_lock(&mk->lock);
    switch (k->type) {
    case PKI_KEY_RSA: {
        int n = wc_RsaKeyToDer(&mk->u.rsa, inner, sizeof inner);
        if (n > 0 && wc_CreatePKCS8Key(out, &out_len, inner, (word32)n, RSAk, NULL, 0) > 0)
            rc = 0;
        break;
    }
    case PKI_KEY_EC_P256:
    case PKI_KEY_EC_P384:
    case PKI_KEY_EC_P521:
        /* With the public key, as openssl writes it. */
        if (wc_EccKeyToPKCS8(&mk->u.ecc, out, &out_len) > 0)
            rc = 0;
        break;
    case PKI_KEY_ED25519: {
        int n = wc_Ed25519PrivateKeyToDer(&mk->u.ed, out, sizeof out);
        if (n > 0) {
            out_len = (word32)n;
            rc = 0;
        }
        break;
    }
    }
    pthread_mutex_unlock(&mk->lock);
    if (rc == 0) {
        *der = malloc(out_len);
        if (*der) {
            memcpy(*der, out, out_len);
            *len = out_len;
        } else
            rc = -1;
    }
    pki_secure_zero(inner, sizeof inner);
    pki_secure_zero(out, sizeof out);
    return rc;
}

static int der_to_pem(const char *label, uint8_t *der, size_t der_len, char **pem, size_t *len)
{
    int rc = pki_pem_encode(label, der, der_len, pem, len);
    pki_secret_free(der, der_len);
    return rc;
}

int pki_key_to_pkcs8_pem(const pki_key *k, char **pem, size_t *len)
{
    uint8_t *der;
    size_t der_len;
    if (!pem || pki_key_to_pkcs8_der(k, &der, &der_len) != 0)
        return -1;
    return der_to_pem("PRIVATE KEY", der, der_len, pem, len);
}

/* EncryptedPrivateKeyInfo is built here rather than with wc_EncryptPKCS8Key: wolfSSL 5.5.4
 * mis-encodes iteration counts above 65535 and only offers HMAC-SHA1 as the PBKDF2 PRF. The
 * structure is fixed, so a few length-prefixed pieces are enough (all lengths < 128 except the
 * ciphertext and the outer SEQUENCE). */
static size_t put_hdr(uint8_t *o, uint8_t tag, size_t len)
{
    o[0] = tag;
    if (len < 0x80) {
        o[1] = (uint8_t)len;
        return 2;
    }
    if (len < 0x100) {
        o[1] = 0x81;
        o[2] = (uint8_t)len;
        return 3;
    }
    o[1] = 0x82;
    o[2] = (uint8_t)(len >> 8);
    o[3] = (uint8_t)len;
    return 4;
}

static size_t hdr_len(size_t len)
{
    return len < 0x80 ? 2 : len < 0x100 ? 3 : 4;
}

static int pbes2_encode(const uint8_t salt[16], const uint8_t iv[16], const uint8_t *ct,
                        size_t ct_len, uint8_t **der, size_t *len)
{
    static const uint8_t OID_PBES2[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                        0xf7, 0x0d, 0x01, 0x05, 0x0d};
    static const uint8_t OID_PBKDF2[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                         0xf7, 0x0d, 0x01, 0x05, 0x0c};
    static const uint8_t PRF_SHA256[] = {0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                         0x86, 0xf7, 0x0d, 0x02, 0x09, 0x05, 0x00};
    static const uint8_t OID_AES256CBC[] = {0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                            0x65, 0x03, 0x04, 0x01, 0x2a};
    uint8_t iter[5] = {0x02, 0x03, (uint8_t)(PKI_PKCS8_ITERATIONS >> 16),
                       (uint8_t)(PKI_PKCS8_ITERATIONS >> 8), (uint8_t)PKI_PKCS8_ITERATIONS};
    _Static_assert(PKI_PKCS8_ITERATIONS >= 0x8000 && PKI_PKCS8_ITERATIONS < 0x800000,
                   "iteration count is encoded as a 3-octet INTEGER");
    size_t kdf_params = 18 + sizeof iter + sizeof PRF_SHA256;
    size_t kdf = sizeof OID_PBKDF2 + hdr_len(kdf_params) + kdf_params;
    size_t enc = sizeof OID_AES256CBC + 18;
    size_t params = hdr_len(kdf) + kdf + hdr_len(enc) + enc;
    size_t alg = sizeof OID_PBES2 + hdr_len(params) + params;
    size_t body = hdr_len(alg) + alg + hdr_len(ct_len) + ct_len;
    if (ct_len > 0xffff || body > 0xffff)
        return -1;
    size_t total = hdr_len(body) + body;
    uint8_t *o = malloc(total), *p = o;
    if (!o)
        return -1;
    p += put_hdr(p, 0x30, body);
    p += put_hdr(p, 0x30, alg);
    memcpy(p, OID_PBES2, sizeof OID_PBES2);
    p += sizeof OID_PBES2;
    p += put_hdr(p, 0x30, params);
    p += put_hdr(p, 0x30, kdf);
    memcpy(p, OID_PBKDF2, sizeof OID_PBKDF2);
    p += sizeof OID_PBKDF2;
    p += put_hdr(p, 0x30, kdf_params);
    p += put_hdr(p, 0x04, 16);
    memcpy(p, salt, 16);
    p += 16;
    memcpy(p, iter, sizeof iter);
    p += sizeof iter;
    memcpy(p, PRF_SHA256, sizeof PRF_SHA256);
    p += sizeof PRF_SHA256;
    p += put_hdr(p, 0x30, enc);
    memcpy(p, OID_AES256CBC, sizeof OID_AES256CBC);
    p += sizeof OID_AES256CBC;
    p += put_hdr(p, 0x04, 16);
    memcpy(p, iv, 16);
    p += 16;
    p += put_hdr(p, 0x04, ct_len);
    memcpy(p, ct, ct_len);
    p += ct_len;
    *der = o;
    *len = (size_t)(p - o);
    return *len == total ? 0 : -1;
}

int pki_key_to_encrypted_pkcs8_der(const pki_key *k, const char *password, uint8_t **der,
                                   size_t *len)
{
    if (!k || !password || !*password || !der || !len)
        return -1;
    *der = NULL;
    uint8_t *plain;
    size_t plain_len;
    if (pki_key_to_pkcs8_der(k, &plain, &plain_len) != 0)
        return -1;
    size_t ct_len = (plain_len / 16 + 1) * 16; /* PKCS#7 padding, always at least one byte */
    uint8_t *ct = malloc(ct_len);
    uint8_t salt[16], iv[16], aes_key[32];
    pki_key *mk = (pki_key *)k;
    Aes aes;
    int rc = -1;
    if (!ct)
        goto out;
    memcpy(ct, plain, plain_len);
    memset(ct + plain_len, (int)(ct_len - plain_len), ct_len - plain_len);
    pthread_mutex_lock(&mk->lock);
    rc = wc_RNG_GenerateBlock(&mk->rng, salt, sizeof salt);
    if (rc == 0)
        rc = wc_RNG_GenerateBlock(&mk->rng, iv, sizeof iv);
    pthread_mutex_unlock(&mk->lock);
    if (rc == 0)
        rc = wc_PBKDF2(aes_key, (const byte *)password, (int)strlen(password), salt, sizeof salt,
                       PKI_PKCS8_ITERATIONS, sizeof aes_key, WC_SHA256);
    if (rc == 0 && (rc = wc_AesInit(&aes, NULL, INVALID_DEVID)) == 0) {
        rc = wc_AesSetKey(&aes, aes_key, sizeof aes_key, iv, AES_ENCRYPTION);
        if (rc == 0)
            rc = wc_AesCbcEncrypt(&aes, ct, ct, (word32)ct_len);
        wc_AesFree(&aes);
        pki_secure_zero(&aes, sizeof aes);
    }
    if (rc == 0)
        rc = pbes2_encode(salt, iv, ct, ct_len, der, len);
out:
    pki_secure_zero(aes_key, sizeof aes_key);
    pki_secret_free(plain, plain_len);
    pki_secret_free(ct, ct ? ct_len : 0); /* holds the plaintext if encryption failed */
    return rc == 0 ? 0 : -1;
}

int pki_key_to_encrypted_pkcs8_pem(const pki_key *k, const char *password, char **pem, size_t *len)
{
    uint8_t *der;
    size_t der_len;
    if (!pem || pki_key_to_encrypted_pkcs8_der(k, password, &der, &der_len) != 0)
        return -1;
    return der_to_pem("ENCRYPTED PRIVATE KEY", der, der_len, pem, len);
}
