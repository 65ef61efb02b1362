/* The signer interface (ARCHITECTURE decision 2): the relay builds every to-be-signed structure,
 * a signer only signs. One implementation per key home:
 *   - software key on wolfCrypt            (lib/signer/soft_signer.c)
 *   - YubiKey slot through libykpiv         (agent side)
 *   - appliance-backed, over the link       (relay side)
 * The sign operation may complete later (a remote HSM): the caller passes a completion callback,
 * which a synchronous implementation calls before sign() returns.
 *
 * Signature values are returned in the encoding X.509 puts in a BIT STRING: PKCS#1 v1.5 / PSS
 * bytes for RSA, DER Ecdsa-Sig-Value for ECDSA, the 64 raw bytes for Ed25519. */
#ifndef PKI_SIGNER_H
#define PKI_SIGNER_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    PKI_KEY_RSA = 1,
    PKI_KEY_EC_P256,
    PKI_KEY_EC_P384,
    PKI_KEY_EC_P521,
    PKI_KEY_ED25519,
} pki_key_type;

typedef enum {
    PKI_SIG_RSA_PKCS1_SHA256 = 1,
    PKI_SIG_RSA_PKCS1_SHA384,
    PKI_SIG_RSA_PKCS1_SHA512,
    PKI_SIG_RSA_PSS_SHA256,
    PKI_SIG_RSA_PSS_SHA384,
    PKI_SIG_RSA_PSS_SHA512,
    PKI_SIG_ECDSA_SHA256,
    PKI_SIG_ECDSA_SHA384,
    PKI_SIG_ECDSA_SHA512,
    PKI_SIG_ED25519,
} pki_sig_alg;

/* Error codes a signer reports; the link carries them too. Negative, 0 is success. */
typedef enum {
    PKI_SIGN_OK = 0,
    PKI_SIGN_ERR_INTERNAL = -1,
    PKI_SIGN_ERR_BAD_ALG = -2,     /* the algorithm does not fit the key */
    PKI_SIGN_ERR_OFFLINE = -3,     /* appliance not connected */
    PKI_SIGN_ERR_CARD_ABSENT = -4, /* YubiKey removed */
    PKI_SIGN_ERR_PIN_BLOCKED = -5,
    PKI_SIGN_ERR_PIN_REQUIRED = -6, /* PIN not available / wrong */
    PKI_SIGN_ERR_POLICY = -7,       /* the appliance's local policy refused */
    PKI_SIGN_ERR_BUSY = -8,
    PKI_SIGN_ERR_TIMEOUT = -9,
    PKI_SIGN_ERR_BAD_SIGNATURE = -10, /* a remote signature did not verify */
} pki_sign_status;

const char *pki_sign_status_text(int status);

typedef struct pki_signer pki_signer;

/* Called exactly once per sign() with the result; sig is valid only during the call. */
typedef void (*pki_sign_done_fn)(void *ctx, int status, const uint8_t *sig, size_t sig_len);

struct pki_signer_ops {
    /* Sign tbs (the whole to-be-signed DER, not a hash) with alg. Returns 0 when the request
     * was accepted (done will be called, perhaps before return), or a negative
     * pki_sign_status when it was refused at once (done is not called). */
    int (*sign)(pki_signer *s, pki_sig_alg alg, const uint8_t *tbs, size_t tbs_len,
                pki_sign_done_fn done, void *ctx);
    void (*destroy)(pki_signer *s);
};

struct pki_signer {
    const struct pki_signer_ops *ops;
    pki_key_type key_type;
    unsigned rsa_bits; /* for PKI_KEY_RSA */
    uint8_t *spki;     /* SubjectPublicKeyInfo DER, owned by the signer */
    size_t spki_len;
    pki_sig_alg default_alg;
    void *impl;
};

/* Blocking convenience for synchronous callers and tests: waits for completion (up to
 * timeout_ms for asynchronous signers). On success *sig is malloc'd and owned by the caller. */
int pki_signer_sign_sync(pki_signer *s, pki_sig_alg alg, const uint8_t *tbs, size_t tbs_len,
                         unsigned timeout_ms, uint8_t **sig, size_t *sig_len);
void pki_signer_free(pki_signer *s);

/* Whether alg can be made with a key of this type. */
int pki_sig_alg_fits_key(pki_sig_alg alg, pki_key_type key);
/* AlgorithmIdentifier DER for alg (with NULL parameters for PKCS#1, RSASSA-PSS-params for
 * PSS, absent parameters for ECDSA and Ed25519), into out; returns its length or -1. */
int pki_sig_alg_der(pki_sig_alg alg, uint8_t *out, size_t outlen);
/* The inverse of pki_sig_alg_der: recognises an AlgorithmIdentifier (for PSS also the
 * parameter spellings other producers use: absent hash parameters, explicit trailer, salt
 * length equal to the hash length). Returns 0 and sets *out, or -1 for anything else. */
int pki_sig_alg_from_der(const uint8_t *der, size_t len, pki_sig_alg *out);
/* The algorithm a key signs with unless told otherwise: ECDSA with the curve's matching hash
 * (P-256/SHA-256, P-384/SHA-384, P-521/SHA-512), RSA PKCS#1 v1.5 SHA-256, Ed25519. */
pki_sig_alg pki_sig_alg_default(pki_key_type key);
/* "ecdsa-with-SHA256", …; and back ("RS256"-style JOSE names are the ACME code's business).
 * Names: sha{256,384,512}WithRSAEncryption, rsassa-pss-sha{256,384,512},
 * ecdsa-with-SHA{256,384,512}, Ed25519 (matched without regard to case). */
const char *pki_sig_alg_name(pki_sig_alg alg);
int pki_sig_alg_from_name(const char *name, pki_sig_alg *out);
const char *pki_key_type_name(pki_key_type t); /* "rsa", "ec-p256", … "ed25519" */
int pki_key_type_from_name(const char *name, pki_key_type *out);

#endif
