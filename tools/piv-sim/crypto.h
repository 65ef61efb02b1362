/* The simulator's cryptography, on wolfCrypt: random numbers, the management key's block cipher
 * (3DES, AES-128/192/256 in single-block ECB, as PIV mutual authentication uses it) and the slot
 * keys (RSA 1024/2048, ECC P-256/P-384) kept as DER private keys (PKCS#1 RSAPrivateKey, SEC1
 * ECPrivateKey). All functions return 0 on success, -1 on failure. */
#ifndef PIVSIM_CRYPTO_H
#define PIVSIM_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tlv.h"

/* PIV algorithm identifiers (SP 800-78 and YubiKey's). */
#define ALGO_3DES 0x03
#define ALGO_AES128 0x08
#define ALGO_AES192 0x0A
#define ALGO_AES256 0x0C
#define ALGO_RSA1024 0x06
#define ALGO_RSA2048 0x07
#define ALGO_ECCP256 0x11
#define ALGO_ECCP384 0x14

int crypto_init(void);
void crypto_cleanup(void);
int crypto_random(uint8_t *out, size_t len);
void crypto_wipe(void *p, size_t len);

/* Symmetric management-key algorithms: key length (0 if not one) and block length. */
size_t sym_key_len(uint8_t algo);
size_t sym_block_len(uint8_t algo);
/* One block, ECB. */
int sym_crypt_block(uint8_t algo, const uint8_t *key, const uint8_t *in, uint8_t *out,
                    bool decrypt);

bool algo_is_rsa(uint8_t algo);
bool algo_is_ec(uint8_t algo);
/* RSA modulus bytes or EC field bytes; 0 for unknown algorithms. */
size_t algo_size(uint8_t algo);

/* Generates a key; its DER private key is appended to der. */
int key_generate(uint8_t algo, struct buf *der);
/* Public key as the PIV response template: RSA "81 n 82 e", EC "86 point". */
int key_public_piv(uint8_t algo, const uint8_t *der, size_t der_len, struct buf *out);
/* SubjectPublicKeyInfo DER, for certificates. */
int key_public_spki(uint8_t algo, const uint8_t *der, size_t der_len, struct buf *out);
/* RSA raw private operation (PIV signs and decrypts pre-padded blocks). in_len must equal the
 * modulus length; out receives as many bytes. */
int key_rsa_private(uint8_t algo, const uint8_t *der, size_t der_len, const uint8_t *in,
                    size_t in_len, struct buf *out);
/* ECDSA over a caller-supplied hash; DER signature appended. */
int key_ec_sign(uint8_t algo, const uint8_t *der, size_t der_len, const uint8_t *hash,
                size_t hash_len, struct buf *out);
/* ECDH with an uncompressed peer point; the shared X coordinate appended. */
int key_ecdh(uint8_t algo, const uint8_t *der, size_t der_len, const uint8_t *point,
             size_t point_len, struct buf *out);
/* Imports an RSA key from its CRT parts (PIV IMPORT KEY gives p, q, dp, dq, qinv). */
int key_import_rsa(uint8_t algo, const uint8_t *const parts[5], const size_t lens[5],
                   struct buf *der);
/* Imports an EC key from its private scalar. */
int key_import_ec(uint8_t algo, const uint8_t *priv, size_t priv_len, struct buf *der);

/* Signature for certificates: SHA-256 with RSA PKCS#1 v1.5 or ECDSA; `sig_alg_der` receives the
 * AlgorithmIdentifier DER. */
int key_sign_sha256(uint8_t algo, const uint8_t *der, size_t der_len, const uint8_t *msg,
                    size_t msg_len, struct buf *sig, struct buf *sig_alg_der);

/* AES-256-GCM sealing for files at rest. key is 32 bytes; out = nonce(12) | tag(16) | ct. */
int seal(const uint8_t key[32], const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len,
         struct buf *out);
int unseal(const uint8_t key[32], const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len,
           struct buf *out);

#endif
