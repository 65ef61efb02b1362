/* Internal to relay/ocsp: the parsed request in plain terms (request.c reads it with lib/pkix,
 * respond.c answers with lib/x509; the two headers share names), and the response cache. */
#ifndef RELAY_OCSP_IMPL_H
#define RELAY_OCSP_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "store/store.h"

#define OCSP_MAX_IDS 8

typedef struct {
    char hash_oid[48];
    int hash; /* 1 SHA-1, 2 SHA-256, 3 SHA-384, 4 SHA-512 */
    uint8_t name_hash[64], key_hash[64];
    size_t hash_len;
    uint8_t serial[32];
    size_t serial_len;
    uint8_t certid_der[256]; /* the whole CertID (cache key) */
    size_t certid_len;
} ocsp_id;

typedef struct {
    ocsp_id ids[OCSP_MAX_IDS];
    size_t count;
    uint8_t nonce[160]; /* the nonce octets (RFC 8954), echoed in the answer */
    size_t nonce_len;
} ocsp_req;

/* 0, or -1 (malformed: answer malformedRequest). */
int ocsp_req_parse(const uint8_t *der, size_t len, ocsp_req *out);

/* Builds the answer for req on CA ca_id (worker). Always produces a DER OCSPResponse (an
 * unsigned error one when needed). *cacheable: single request without nonce. */
int ocsp_respond(relay_app *app, store *st, int64_t ca_id, const ocsp_req *req, uint8_t **der,
                 size_t *len, int64_t *valid_until);

/* Cache (any thread). lookup copies the answer; *stale is set when it should be re-signed. */
uint64_t ocsp_cache_generation(int64_t ca_id);
int ocsp_cache_lookup(int64_t ca_id, const uint8_t *certid, size_t certid_len, int64_t now,
                      uint8_t **der, size_t *len, int64_t *expires, int *needs_refresh);
/* Stores unless the CA's generation moved since gen was read (a revocation raced us). */
void ocsp_cache_store(int64_t ca_id, uint64_t gen, const uint8_t *certid, size_t certid_len,
                      const uint8_t *serial, size_t serial_len, const uint8_t *der, size_t len,
                      int64_t refresh_at, int64_t expires);
int64_t ocsp_validity(void);

#endif
