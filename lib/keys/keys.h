/* Private keys on wolfCrypt: generation, import, export, signing, and public-key verification.
 *
 * Supported keys: RSA 2048..4096 bits, ECDSA on P-256 / P-384 / P-521, Ed25519.
 * Import takes PEM or DER in every form openssl writes: PKCS#8 ("PRIVATE KEY"), encrypted PKCS#8
 * ("ENCRYPTED PRIVATE KEY", PBES2 with AES-CBC and PBKDF2), PKCS#1 ("RSA PRIVATE KEY") and SEC1
 * ("EC PRIVATE KEY", optionally after an "EC PARAMETERS" block). Export is PKCS#8, plain or
 * encrypted (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC), which `openssl pkey` reads.
 *
 * Key material is wiped (wc_ForceZero) when a key is freed and in every temporary buffer.
 * Buffers that hold private keys are returned with malloc; release them with pki_secret_free.
 * Errors are written as text to err (may be NULL) and never contain secret bytes. */
#ifndef PKI_KEYS_H
#define PKI_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "signer/signer.h"

typedef struct pki_key pki_key;

/* New key from the CSPRNG. rsa_bits is 2048, 3072 or 4096 for PKI_KEY_RSA (0 means 2048) and
 * ignored otherwise. Returns NULL on failure with the reason in err. */
pki_key *pki_key_generate(pki_key_type type, unsigned rsa_bits, char *err, size_t errlen);
/* PEM or DER, any of the forms above; password only for encrypted PKCS#8 (NULL otherwise).
 * Errors name the problem: "not a private key", "encrypted key: password required",
 * "encrypted key: wrong password", "unsupported curve secp256k1", "RSA key of 1024 bits is too
 * small (minimum 2048)", … */
pki_key *pki_key_import(const uint8_t *data, size_t len, const char *password, char *err,
                        size_t errlen);
void pki_key_free(pki_key *k);

pki_key_type pki_key_get_type(const pki_key *k);
unsigned pki_key_rsa_bits(const pki_key *k); /* 0 for non-RSA keys */
/* SubjectPublicKeyInfo DER, owned by the key (valid until pki_key_free). */
const uint8_t *pki_key_spki(const pki_key *k, size_t *len);

/* Signs tbs (the whole message; hashing is done here) with alg, in the encodings signer.h
 * defines. Thread-safe: concurrent calls on one key are serialised. Returns a pki_sign_status;
 * on success *sig is malloc'd. */
int pki_key_sign(pki_key *k, pki_sig_alg alg, const uint8_t *tbs, size_t tbs_len, uint8_t **sig,
                 size_t *sig_len);

/* PKCS#8 PrivateKeyInfo DER / "PRIVATE KEY" PEM (NUL-terminated). Returns 0 or -1.
 * Release with pki_secret_free. */
int pki_key_to_pkcs8_der(const pki_key *k, uint8_t **der, size_t *len);
int pki_key_to_pkcs8_pem(const pki_key *k, char **pem, size_t *len);
/* EncryptedPrivateKeyInfo (PBES2: PBKDF2-HMAC-SHA256 with PKI_PKCS8_ITERATIONS rounds and a
 * random 16-byte salt, AES-256-CBC) as DER or "ENCRYPTED PRIVATE KEY" PEM. */
#define PKI_PKCS8_ITERATIONS 100000
/* Import refuses encrypted keys that ask for more PBKDF2 iterations than this. */
#define PKI_PKCS8_MAX_ITERATIONS 10000000
int pki_key_to_encrypted_pkcs8_der(const pki_key *k, const char *password, uint8_t **der,
                                   size_t *len);
int pki_key_to_encrypted_pkcs8_pem(const pki_key *k, const char *password, char **pem, size_t *len);

/* Debian's wolfSSL is built with FP_ECC: every thread that signs or verifies with ECDSA gets a
 * per-thread cache of precomputed points (about 3 KiB per cached point). The ECDSA paths of
 * this library call pki_crypto_thread_note_ecc(), which frees that cache when the thread exits
 * (a thread-specific destructor), so worker pools need do nothing. Code that calls wolfCrypt's
 * ECC functions directly on a thread that later exits calls pki_crypto_thread_note_ecc() too,
 * or pki_crypto_thread_exit() before it exits. Harmless in threads that did no ECDSA. */
void pki_crypto_thread_note_ecc(void);
void pki_crypto_thread_exit(void);

/* Wipes len bytes at p and frees p (NULL is fine). */
void pki_secret_free(void *p, size_t len);

/* What a SubjectPublicKeyInfo holds: key type and RSA size. Returns 0, or -1 for anything
 * malformed or unsupported, with the reason in err. */
int pki_spki_info(const uint8_t *spki, size_t len, pki_key_type *type, unsigned *rsa_bits,
                  char *err, size_t errlen);
/* Verifies sig over msg with the public key in spki. Returns 0 when the signature is valid,
 * PKI_SIGN_ERR_BAD_ALG when alg does not fit the key, PKI_SIGN_ERR_BAD_SIGNATURE otherwise. */
int pki_spki_verify(const uint8_t *spki, size_t spki_len, pki_sig_alg alg, const uint8_t *msg,
                    size_t msg_len, const uint8_t *sig, size_t sig_len);

/* PEM armor for any label. pki_pem_encode writes "-----BEGIN label-----", base64 in lines of 64,
 * "-----END label-----\n" (NUL-terminated, malloc'd). */
int pki_pem_encode(const char *label, const uint8_t *der, size_t len, char **pem, size_t *pem_len);
/* Finds the first PEM block in text (skipping anything before it) whose label is label, or any
 * label when label is NULL. Sets *der (malloc'd), and, when given, the label found (label_out)
 * and the offset just after the block (*end) so a caller can read a chain block by block.
 * Returns 0, 1 when no (matching) block is found, -1 for a malformed block. Blocks with
 * RFC 1421 headers (legacy "Proc-Type: 4,ENCRYPTED") are refused as malformed. */
int pki_pem_decode(const char *text, size_t len, const char *label, uint8_t **der, size_t *der_len,
                   char *label_out, size_t label_cap, size_t *end);

#endif
