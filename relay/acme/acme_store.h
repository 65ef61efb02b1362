/* ACME's tables, on the relay's database (the store handle each worker owns). Business logic in
 * relay/acme/ calls these and never sees SQL. The tables are created on first use
 * (CREATE TABLE IF NOT EXISTS, idempotent), so ACME needs no step in the relay's migration
 * sequence that other capabilities append to at the same time. */
#ifndef RELAY_ACME_STORE_H
#define RELAY_ACME_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Creates the tables when missing. STORE_OK or STORE_ERROR. */
int acme_store_ensure(store *s);

typedef struct {
    int64_t id;
    char name[STORE_NAME_MAX];
    int64_t template_id;
    char *allowed; /* JSON array of domain patterns ("example.com", "*.example.com"); [] = any */
    char *preapproved; /* JSON array: names that skip challenges */
    int64_t created;
} acme_policy;
void acme_policy_clear(acme_policy *p);
int acme_policy_create(store *s, acme_policy *p);
int acme_policy_get(store *s, int64_t id, acme_policy *out);
typedef int (*acme_policy_fn)(void *ctx, const acme_policy *p);
int acme_policy_list(store *s, acme_policy_fn fn, void *ctx);
/* STORE_CONFLICT while accounts or credentials still use it. */
int acme_policy_delete(store *s, int64_t id);

typedef struct {
    int64_t id;
    char name[STORE_NAME_MAX];
    char kid[64];
    uint8_t *sealed_key; /* HMAC key sealed with "acme-eab:<kid>" */
    size_t sealed_len;
    int64_t policy_id;
    int64_t max_uses; /* 0 = unlimited */
    int64_t uses;
    int64_t expires; /* 0 = never */
    int64_t created;
} acme_eab;
void acme_eab_clear(acme_eab *e);
int acme_eab_create(store *s, acme_eab *e);
int acme_eab_get_by_kid(store *s, const char *kid, acme_eab *out);
typedef int (*acme_eab_fn)(void *ctx, const acme_eab *e);
int acme_eab_list(store *s, acme_eab_fn fn, void *ctx);
int acme_eab_delete(store *s, int64_t id);
/* Counts one use if any remain (atomic); STORE_NOT_FOUND when used up. */
int acme_eab_use(store *s, int64_t id);

typedef struct {
    int64_t id;
    int64_t policy_id;
    int64_t eab_id;
    char thumbprint[48];
    char *jwk;       /* JSON text */
    char status[16]; /* valid, deactivated, revoked */
    char *contact;   /* JSON array text */
    int64_t created;
} acme_account;
void acme_account_clear(acme_account *a);
int acme_account_create(store *s, acme_account *a); /* CONFLICT when the key is taken */
int acme_account_get(store *s, int64_t id, acme_account *out);
int acme_account_get_by_thumbprint(store *s, const char *tp, acme_account *out);
int acme_account_update(store *s, const acme_account *a); /* status, contact, jwk, thumbprint */

typedef struct {
    int64_t id;
    int64_t account_id;
    char status[16];   /* pending, ready, processing, valid, invalid */
    char *identifiers; /* JSON array of {"type":"dns","value":…} */
    int64_t expires;
    char *error; /* problem document JSON, or NULL */
    int64_t cert_id;
    int64_t created;
} acme_order;
void acme_order_clear(acme_order *o);
int acme_order_create(store *s, acme_order *o);
int acme_order_get(store *s, int64_t id, acme_order *out);
int acme_order_set(store *s, int64_t id, const char *status, const char *error, int64_t cert_id);
/* Moves status from -> to; STORE_NOT_FOUND when it was not in `from`. */
int acme_order_transition(store *s, int64_t id, const char *from, const char *to);
typedef int (*acme_id_fn)(void *ctx, int64_t id);
/* The account's orders except invalid ones (RFC 8555 7.1.2.1), newest first, at most 1000. */
int acme_order_list(store *s, int64_t account_id, acme_id_fn fn, void *ctx);

typedef struct {
    int64_t id;
    int64_t order_id;
    int64_t account_id;
    char value[256]; /* DNS name without "*." */
    bool wildcard;
    char status[16]; /* pending, valid, invalid, deactivated, expired, revoked */
    int64_t expires;
    char token[48];
    char chall_status[2][16]; /* [0] http-01, [1] dns-01 */
    int64_t validated;
    char *error;      /* problem JSON of the failed challenge */
    int chall_failed; /* which challenge failed: 0 http-01, 1 dns-01, -1 none */
} acme_authz;
void acme_authz_clear(acme_authz *a);
int acme_authz_create(store *s, acme_authz *a);
int acme_authz_get(store *s, int64_t id, acme_authz *out);
typedef int (*acme_authz_fn)(void *ctx, const acme_authz *a);
int acme_authz_list(store *s, int64_t order_id, acme_authz_fn fn, void *ctx);
/* Starts challenge idx: pending -> processing for it, only while the authorization is pending.
 * STORE_NOT_FOUND otherwise. */
int acme_authz_start(store *s, int64_t id, int idx);
/* Records the outcome of challenge idx: valid (authz valid) or invalid (authz invalid). */
int acme_authz_finish(store *s, int64_t id, int idx, bool ok, const char *error, int64_t now);
int acme_authz_set_status(store *s, int64_t id, const char *status);

typedef struct {
    int64_t id;
    int64_t order_id;
    int64_t account_id;
    char serial[48];
    char digest[65]; /* SHA-256 hex of the DER (revokeCert finds it by that) */
    uint8_t *der;
    size_t der_len;
    char *chain_pem;       /* the leaf and its issuers, PEM */
    int64_t relay_cert_id; /* the row in the relay's certificate table (CRL, OCSP) */
    int64_t revoked_at;
    int reason;
} acme_cert;
void acme_cert_clear(acme_cert *c);
int acme_cert_create(store *s, acme_cert *c);
int acme_cert_get(store *s, int64_t id, acme_cert *out);
int acme_cert_get_by_digest(store *s, const char *digest, acme_cert *out);
/* STORE_NOT_FOUND when already revoked. */
int acme_cert_revoke(store *s, int64_t id, int64_t when, int reason);

#endif
