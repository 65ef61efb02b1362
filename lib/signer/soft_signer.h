/* The software signer: a private key held in this process (wolfCrypt), behind the signer
 * interface of signer/signer.h. sign() completes synchronously: the completion runs before
 * sign() returns. Concurrent sign() calls on one signer are safe (serialised per key).
 *
 * default_alg: ECDSA with the curve's matching hash, RSA PKCS#1 v1.5 with SHA-256, Ed25519.
 * spki is the key's SubjectPublicKeyInfo. pki_signer_free wipes the key. */
#ifndef PKI_SOFT_SIGNER_H
#define PKI_SOFT_SIGNER_H

#include <stddef.h>
#include <stdint.h>

#include "keys/keys.h"
#include "signer/signer.h"

/* Wraps a key; the signer owns it from now on (also when NULL is returned). */
pki_signer *pki_soft_signer_new(pki_key *key);
/* A fresh key (rsa_bits: 2048, 3072, 4096; 0 means 2048; ignored for other types). */
pki_signer *pki_soft_signer_generate(pki_key_type type, unsigned rsa_bits);
/* From a PEM or DER private key in any form pki_key_import reads; password only for encrypted
 * PKCS#8. NULL on failure with the reason in err ("encrypted key: wrong password", …). */
pki_signer *pki_soft_signer_from_pem(const char *pem, size_t len, const char *password, char *err,
                                     size_t errlen);
pki_signer *pki_soft_signer_from_der(const uint8_t *der, size_t len, const char *password,
                                     char *err, size_t errlen);

/* Whether s is a software signer (and so has a key to export). */
int pki_soft_signer_is(const pki_signer *s);
/* The key inside (owned by the signer), or NULL for another kind of signer. */
pki_key *pki_soft_signer_key(pki_signer *s);

/* Export for sealing at rest (relay) or handing to a user. Buffers are malloc'd and hold the
 * private key: release them with pki_secret_free(buf, len). Return 0 or -1. */
int pki_soft_signer_export_pkcs8_der(pki_signer *s, uint8_t **der, size_t *len);
int pki_soft_signer_export_pkcs8_pem(pki_signer *s, char **pem, size_t *len);
int pki_soft_signer_export_encrypted_pem(pki_signer *s, const char *password, char **pem,
                                         size_t *len);

#endif
