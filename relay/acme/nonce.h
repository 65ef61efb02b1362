/* Replay nonces (RFC 8555 6.5): 128 random bits, base64url, each accepted once and only within
 * its lifetime. Kept in memory: a restart makes every outstanding nonce stale, which clients
 * handle by retrying with the fresh nonce the badNonce answer carries. Thread-safe. */
#ifndef RELAY_ACME_NONCE_H
#define RELAY_ACME_NONCE_H

#include <stdbool.h>
#include <stdint.h>

#define ACME_NONCE_LEN 23 /* 22 base64url characters + NUL */

typedef struct acme_nonces acme_nonces;

/* lifetime_s: how long an unused nonce stays valid; max: how many may be outstanding (the
 * oldest are dropped beyond that). */
acme_nonces *acme_nonces_new(int64_t lifetime_s, unsigned max);
void acme_nonces_free(acme_nonces *n);
/* A fresh nonce into out; 0, or -1 when the random generator failed. */
int acme_nonce_issue(acme_nonces *n, int64_t now, char out[ACME_NONCE_LEN]);
/* true when nonce was issued, is unexpired and unused; it is used up either way. */
bool acme_nonce_consume(acme_nonces *n, const char *nonce, int64_t now);

#endif
