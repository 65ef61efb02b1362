/* The relay's storage interface (ARCHITECTURE decision 6). Business logic calls these functions
 * and never sees SQL, so another backend (PostgreSQL) can implement the same header.
 *
 * A store handle belongs to one thread at a time; every worker opens its own. Functions return
 * STORE_OK (0), STORE_NOT_FOUND, STORE_CONFLICT (a unique name taken) or STORE_ERROR. Text
 * fields are copied into the caller's structs. Tenancy is part of the interface: lookups of
 * tenant resources take the asking user and answer STORE_NOT_FOUND for someone else's. */
#ifndef RELAY_STORE_H
#define RELAY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"

enum { STORE_OK = 0, STORE_ERROR = -1, STORE_NOT_FOUND = -2, STORE_CONFLICT = -3 };

typedef struct store store;

/* Opens (creating and migrating) the store at path. NULL with a message in err. */
store *store_open(const char *path, char *err, size_t errlen);
void store_close(store *s);

/* Transactions spanning several calls: all or nothing. */
int store_begin(store *s);
int store_commit(store *s);
void store_rollback(store *s);

/* ---- users ---- */
#define STORE_NAME_MAX 65
typedef struct {
    int64_t id;
    char name[STORE_NAME_MAX];
    char pw_hash[AUTH_HASH_MAX];
    bool admin;
    int64_t created;
} store_user;

int store_user_create(store *s, const char *name, const char *pw_hash, bool admin, int64_t now,
                      int64_t *id);
int store_user_get(store *s, int64_t id, store_user *out);
int store_user_get_by_name(store *s, const char *name, store_user *out);
int store_user_set_password(store *s, int64_t id, const char *pw_hash);
int store_user_count(store *s, int64_t *count);
typedef int (*store_user_fn)(void *ctx, const store_user *u); /* non-zero stops */
int store_user_list(store *s, store_user_fn fn, void *ctx);

/* ---- sessions (keyed by the SHA-256 digest of the cookie's token) ---- */
typedef struct {
    int64_t user_id;
    int64_t created;
    int64_t expires;   /* absolute end */
    int64_t last_seen; /* for the idle timeout */
} store_session;

int store_session_create(store *s, const char *digest, int64_t user_id, int64_t now,
                         int64_t expires);
int store_session_get(store *s, const char *digest, store_session *out);
int store_session_touch(store *s, const char *digest, int64_t now);
int store_session_delete(store *s, const char *digest);
int store_session_delete_user(store *s, int64_t user_id);
int store_session_purge(store *s, int64_t now, int64_t idle_s);

/* ---- API tokens (keyed by digest; the token itself is shown once) ---- */
typedef struct {
    int64_t id;
    int64_t user_id;
    char name[STORE_NAME_MAX];
    int64_t created;
    int64_t expires; /* 0 = never */
    int64_t last_used;
} store_token;

int store_token_create(store *s, int64_t user_id, const char *name, const char *digest, int64_t now,
                       int64_t expires, int64_t *id);
int store_token_find(store *s, const char *digest, store_token *out);
int store_token_touch(store *s, int64_t id, int64_t now);
typedef int (*store_token_fn)(void *ctx, const store_token *t);
int store_token_list(store *s, int64_t user_id, store_token_fn fn, void *ctx);
/* Deletes the caller's own token; STORE_NOT_FOUND for a foreign or unknown id. */
int store_token_delete(store *s, int64_t user_id, int64_t id);

/* ---- small settings (the one-time set-up token digest, …) ---- */
int store_meta_get(store *s, const char *key, char *out, size_t outlen);
int store_meta_set(store *s, const char *key, const char *value);
int store_meta_delete(store *s, const char *key);

/* ---- audit log of administrative actions ---- */
typedef struct {
    int64_t id;
    int64_t time;
    int64_t user_id; /* 0 = anonymous / system */
    char actor[STORE_NAME_MAX];
    char action[64];  /* "user.create", "session.login", "ca.create", … */
    char target[128]; /* "user:3", "ca:7", … */
    char remote[64];
    char detail[512]; /* JSON object text */
    int64_t ca_id;    /* 0 when not about a CA */
} store_audit;

int store_audit_append(store *s, const store_audit *e);
/* Newest first, at most f->limit entries with id < f->before (0 = from the newest). user_id 0
 * means every entry (administrators); otherwise the user's own actions. action: a prefix
 * ("ca." or "certificate.revoke"), NULL any; ca_id 0 any. */
typedef struct {
    int64_t user_id;
    int64_t before;
    int limit;
    const char *action;
    int64_t ca_id;
} store_audit_filter;
typedef int (*store_audit_fn)(void *ctx, const store_audit *e);
int store_audit_list(store *s, const store_audit_filter *f, store_audit_fn fn, void *ctx);
/* Deletes entries older than cutoff; *deleted set. */
int store_audit_purge(store *s, int64_t cutoff, int64_t *deleted);

/* ---- certificate authorities ----
 * Tenancy: store_ca_get/list take the asking user and see only CAs the user owns or was
 * delegated (user_id 0 = the relay itself, for public services). */
#define STORE_SUBJECT_MAX 1024
typedef struct {
    int64_t id;
    int64_t owner_id;
    char name[STORE_NAME_MAX];
    char status[24]; /* "active", "pending" (intermediate waiting for its certificate),
                      * "awaiting_appliance" (HSM CA waiting for its slot key) */
    char key_type[16];
    char sig_alg[32];
    char subject[STORE_SUBJECT_MAX];
    uint8_t *cert_der; /* NULL while pending */
    size_t cert_len;
    uint8_t *csr_der; /* intermediates */
    size_t csr_len;
    uint8_t *chain_der; /* the certificates above this CA, concatenated DER, issuer first */
    size_t chain_len;
    uint8_t *spki;
    size_t spki_len;
    uint8_t *sealed_key;
    size_t sealed_len;
    char *cps; /* certification practice statement text */
    int64_t crl_validity_s, crl_refresh_s;
    int64_t ocsp_cert_id;
    uint8_t *ocsp_sealed_key;
    size_t ocsp_sealed_len;
    char service_key_type[16];
    int64_t created;
} store_ca;

/* Frees the blobs and text inside (not the struct). */
void store_ca_clear(store_ca *ca);
/* Inserts; ca->id is set. sealed_key may be a placeholder (sealing needs the id): replace it
 * with store_ca_set_key in the same transaction. */
int store_ca_create(store *s, store_ca *ca);
int store_ca_set_key(store *s, int64_t ca_id, const uint8_t *sealed, size_t len);
/* The CA's public key and signature algorithm, for an HSM CA whose key becomes known when its
 * certificate is imported (relay/ca). */
int store_ca_set_spki(store *s, int64_t ca_id, const uint8_t *spki, size_t len,
                      const char *sig_alg);
int store_ca_get(store *s, int64_t user_id, int64_t ca_id, store_ca *out);
typedef int (*store_ca_fn)(void *ctx, const store_ca *ca);
int store_ca_list(store *s, int64_t user_id, store_ca_fn fn, void *ctx);
/* Updates the mutable fields: status, cert, chain, cps, CRL settings, service key type, OCSP
 * responder. */
int store_ca_update(store *s, const store_ca *ca);
int store_ca_delete(store *s, int64_t ca_id);
/* Every CA id (public services walk them). */
int store_ca_ids(store *s, int64_t **ids, size_t *count);

/* CRL cache kept with the CA: the last CRL, when it must be remade, and *changes: how many
 * revocation changes it misses (0: none). A CRL is signed outside any transaction (an HSM CA's
 * signature is a round trip to an appliance), so the count read with the entries is handed
 * back to store_crl_save, which clears it only when nothing changed meanwhile. */
int store_crl_get(store *s, int64_t ca_id, uint8_t **der, size_t *len, int64_t *next_update,
                  int64_t *changes);
/* Takes the next CRL number (incremented and persisted). */
int store_crl_next_number(store *s, int64_t ca_id, int64_t *number);
int store_crl_save(store *s, int64_t ca_id, const uint8_t *der, size_t len, int64_t next_update,
                   int64_t changes_seen);
/* Counts a change the CRL does not show yet. */
int store_crl_mark_dirty(store *s, int64_t ca_id);

/* ---- templates (settings are a JSON object the templates module owns) ---- */
typedef struct {
    int64_t id;
    int64_t ca_id;
    char name[STORE_NAME_MAX];
    char *settings; /* malloc'd JSON text */
    int64_t created;
} store_template;

void store_template_clear(store_template *t);
int store_template_create(store *s, int64_t ca_id, const char *name, const char *settings,
                          int64_t now, int64_t *id);
/* Through the CA's tenancy: NOT_FOUND unless user_id may see the template's CA. */
int store_template_get(store *s, int64_t user_id, int64_t id, store_template *out);
typedef int (*store_template_fn)(void *ctx, const store_template *t);
int store_template_list(store *s, int64_t ca_id, store_template_fn fn, void *ctx);
int store_template_update(store *s, int64_t id, const char *name, const char *settings);
int store_template_delete(store *s, int64_t id);
/* Certificates from this template that are still active (not expired at now, not revoked
 * other than on hold). */
int store_template_active_certs(store *s, int64_t id, int64_t now, int64_t *count);

/* ---- issued certificates ---- */
typedef struct {
    int64_t id;
    int64_t ca_id;
    int64_t template_id;
    int64_t request_id;
    char kind[16];   /* "leaf", "ca", "ocsp" */
    char serial[48]; /* lower-case hex, no leading zeros beyond the DER magnitude */
    char subject[STORE_SUBJECT_MAX];
    int64_t not_before, not_after;
    uint8_t *der;
    size_t der_len;
    int64_t revoked_at; /* 0: not revoked */
    int reason;         /* CRLReason, -1 none */
    int64_t created;
} store_cert;

void store_cert_clear(store_cert *c);
/* STORE_CONFLICT when the serial exists for this CA. */
int store_cert_create(store *s, store_cert *c);
int store_cert_get(store *s, int64_t user_id, int64_t id, store_cert *out);
int store_cert_get_by_serial(store *s, int64_t ca_id, const char *serial, store_cert *out);
typedef struct {
    int64_t ca_id;
    const char *status;       /* NULL, "active", "revoked", "expired" */
    const char *subject_like; /* substring, NULL: any */
    int64_t template_id;      /* 0: any */
    int64_t now;
    int64_t before; /* id < before, 0: newest */
    int limit;
    bool with_der;
} store_cert_filter;
typedef int (*store_cert_fn)(void *ctx, const store_cert *c);
int store_cert_list(store *s, const store_cert_filter *f, store_cert_fn fn, void *ctx);
int store_cert_set_revocation(store *s, int64_t id, int64_t revoked_at, int reason);
/* Revoked certificates of a CA (for the CRL), expired ones included until purged. */
typedef int (*store_revoked_fn)(void *ctx, const char *serial, int64_t revoked_at, int reason);
int store_cert_revoked(store *s, int64_t ca_id, store_revoked_fn fn, void *ctx);
/* Deletes certificates that expired before cutoff. */
int store_cert_purge_expired(store *s, int64_t cutoff, int64_t *deleted);

/* ---- requests (workflows) ---- */
typedef struct {
    int64_t id;
    int64_t ca_id;
    int64_t template_id;
    char status[16]; /* "pending", "preapproved", "issued", "declined" */
    char source[16]; /* "csr", "public", "preapproved" */
    uint8_t *csr_der;
    size_t csr_len;
    char *params; /* JSON: subject, sans, validity overrides */
    char claim_digest[AUTH_DIGEST_HEX];
    int64_t certificate_id;
    int64_t created, decided;
} store_request;

void store_request_clear(store_request *r);
int store_request_create(store *s, store_request *r);
int store_request_get(store *s, int64_t user_id, int64_t id, store_request *out);
int store_request_find_claim(store *s, const char *claim_digest, store_request *out);
typedef int (*store_request_fn)(void *ctx, const store_request *r);
int store_request_list(store *s, int64_t ca_id, const char *status, store_request_fn fn, void *ctx);
/* Moves a request from status `from` to `to` (with the certificate issued); NOT_FOUND when it
 * was no longer in `from` (someone else decided it first). */
int store_request_decide(store *s, int64_t id, const char *from, const char *to,
                         int64_t certificate_id, int64_t now);

#endif
