/* JOSE for ACME (RFC 8555 6.2, RFC 7515/7517/7518/7638/8037): parsing of a flattened JWS,
 * JWK -> SubjectPublicKeyInfo, JWK thumbprints, signature checks for RS256, ES256, ES384 and
 * EdDSA, and the HS256 MAC of external account binding.
 *
 * Pure functions over bytes (no store, no clock), so the fuzzer and unit tests drive them
 * directly. Every error names its problem in err and maps to an ACME error type. */
#ifndef RELAY_ACME_JWS_H
#define RELAY_ACME_JWS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "signer/signer.h"

/* Which ACME problem a failure is (urn:ietf:params:acme:error:<name>). */
typedef enum {
    JWS_OK = 0,
    JWS_MALFORMED,      /* "malformed" */
    JWS_BAD_ALG,        /* "badSignatureAlgorithm" */
    JWS_BAD_PUBLIC_KEY, /* "badPublicKey" */
    JWS_BAD_SIGNATURE,  /* "malformed" with a signature detail */
} jws_status;

typedef struct {
    json_t *protected_hdr; /* parsed protected header (object) */
    char alg[16];
    const char *nonce; /* inside protected_hdr; NULL when absent */
    const char *url;
    const char *kid;
    json_t *jwk;      /* borrowed from protected_hdr, NULL when absent */
    uint8_t *payload; /* decoded payload (NUL-terminated); len 0 = POST-as-GET */
    size_t payload_len;
    uint8_t *sig;
    size_t sig_len;
    char *signing_input; /* "<protected b64>.<payload b64>" */
    size_t signing_input_len;
} jws_msg;

/* Parses a flattened JWS JSON object from text. Exactly the members protected, payload and
 * signature (no unprotected "header", no general serialization). Does not verify. */
jws_status jws_parse(const uint8_t *body, size_t len, jws_msg *out, char *err, size_t errlen);
/* Same, from an already parsed object (the EAB inside newAccount's payload). */
jws_status jws_parse_json(json_t *obj, jws_msg *out, char *err, size_t errlen);
void jws_msg_free(jws_msg *m);

/* The signature algorithm a JOSE alg maps to for a key type; JWS_BAD_ALG when the name is not
 * one we accept or does not fit the key (ES256 needs P-256, ES384 P-384). */
jws_status jws_alg_for_key(const char *alg, pki_key_type key, pki_sig_alg *out);

/* A public JWK (RSA, EC P-256/P-384, OKP Ed25519) as SubjectPublicKeyInfo DER (malloc'd).
 * Private members ("d", …) are refused. */
jws_status jwk_to_spki(json_t *jwk, uint8_t **spki, size_t *spki_len, pki_key_type *type, char *err,
                       size_t errlen);
/* RFC 7638 thumbprint, base64url of SHA-256 over the canonical members (44 bytes incl. NUL). */
#define JWK_THUMBPRINT_LEN 44
jws_status jwk_thumbprint(json_t *jwk, char out[JWK_THUMBPRINT_LEN], char *err, size_t errlen);

/* Verifies m's signature with the public key spki. */
jws_status jws_verify(const jws_msg *m, const uint8_t *spki, size_t spki_len, pki_key_type type,
                      char *err, size_t errlen);
/* Verifies an HS256/HS384/HS512 MAC over m's signing input with key (constant time). */
jws_status jws_verify_hmac(const jws_msg *m, const uint8_t *key, size_t key_len, char *err,
                           size_t errlen);

/* SHA-256 of data as base64url (the DNS-01 TXT value of a key authorization). */
int jws_sha256_b64url(const char *data, size_t len, char out[JWK_THUMBPRINT_LEN]);

#endif
