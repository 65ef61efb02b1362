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
/* Newest first, at most limit entries with id < before (0 = from the newest). user_id 0 means
 * every entry (administrators); otherwise the user's own actions. */
typedef int (*store_audit_fn)(void *ctx, const store_audit *e);
int store_audit_list(store *s, int64_t user_id, int64_t before, int limit, store_audit_fn fn,
                     void *ctx);
/* Deletes entries older than cutoff; *deleted set. */
int store_audit_purge(store *s, int64_t cutoff, int64_t *deleted);

#endif
