/* SQLite implementation of the store: accounts, sessions, tokens, settings, audit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "store/store_sqlite.h"

store *store_open(const char *path, char *err, size_t errlen)
{
    db *d = db_open(path, 10000, err, errlen);
    if (!d)
        return NULL;
    if (db_migrate(d, STORE_MIGRATIONS, STORE_MIGRATIONS_LEN, err, errlen) != 0) {
        db_close(d);
        return NULL;
    }
    store *s = calloc(1, sizeof *s);
    if (!s) {
        db_close(d);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->d = d;
    return s;
}

void store_close(store *s)
{
    if (!s)
        return;
    db_close(s->d);
    free(s);
}

int store_begin(store *s)
{
    return db_begin(s->d) == 0 ? STORE_OK : STORE_ERROR;
}

int store_commit(store *s)
{
    return db_commit(s->d) == 0 ? STORE_OK : STORE_ERROR;
}

void store_rollback(store *s)
{
    db_rollback(s->d);
}

int store_sqlite_fail(store *s)
{
    if (db_last_was_conflict(s->d))
        return STORE_CONFLICT;
    pki_err("store: %s", db_last_error(s->d));
    return STORE_ERROR;
}

int store_sqlite_row(sqlite3_stmt *st)
{
    if (!st)
        return STORE_ERROR;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return STORE_OK;
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? STORE_NOT_FOUND : STORE_ERROR;
}

void store_sqlite_text(sqlite3_stmt *st, int col, char *out, size_t outlen)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    snprintf(out, outlen, "%s", t ? t : "");
}

/* ---- users ---- */

#define USER_COLS "id, name, pw_hash, admin, created"

static void user_row(sqlite3_stmt *st, store_user *u)
{
    u->id = sqlite3_column_int64(st, 0);
    store_sqlite_text(st, 1, u->name, sizeof u->name);
    store_sqlite_text(st, 2, u->pw_hash, sizeof u->pw_hash);
    u->admin = sqlite3_column_int(st, 3) != 0;
    u->created = sqlite3_column_int64(st, 4);
}

int store_user_create(store *s, const char *name, const char *pw_hash, bool admin, int64_t now,
                      int64_t *id)
{
    if (db_run(s->d, "INSERT INTO users(name, pw_hash, admin, created) VALUES(?,?,?,?)", "ttIi",
               name, pw_hash, admin ? 1 : 0, now) != 1)
        return store_sqlite_fail(s);
    if (id)
        *id = db_last_insert_id(s->d);
    return STORE_OK;
}

static int user_one(sqlite3_stmt *st, store_user *out)
{
    int rc = store_sqlite_row(st);
    if (rc == STORE_OK) {
        user_row(st, out);
        db_done(st);
    }
    return rc;
}

int store_user_get(store *s, int64_t id, store_user *out)
{
    return user_one(db_query(s->d, "SELECT " USER_COLS " FROM users WHERE id=?", "i", id), out);
}

int store_user_get_by_name(store *s, const char *name, store_user *out)
{
    return user_one(db_query(s->d, "SELECT " USER_COLS " FROM users WHERE name=?", "t", name), out);
}

int store_user_set_password(store *s, int64_t id, const char *pw_hash)
{
    int n = db_run(s->d, "UPDATE users SET pw_hash=? WHERE id=?", "ti", pw_hash, id);
    if (n < 0)
        return store_sqlite_fail(s);
    return n == 0 ? STORE_NOT_FOUND : STORE_OK;
}

int store_user_count(store *s, int64_t *count)
{
    sqlite3_stmt *st = db_query(s->d, "SELECT count(*) FROM users", "");
    int rc = store_sqlite_row(st);
    if (rc == STORE_OK) {
        *count = sqlite3_column_int64(st, 0);
        db_done(st);
    }
    return rc;
}

int store_user_list(store *s, store_user_fn fn, void *ctx)
{
    sqlite3_stmt *st = db_query(s->d, "SELECT " USER_COLS " FROM users ORDER BY id", "");
    if (!st)
        return STORE_ERROR;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_user u;
        user_row(st, &u);
        if (fn(ctx, &u) != 0)
            break;
    }
    db_done(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : STORE_ERROR;
}

/* ---- sessions ---- */

int store_session_create(store *s, const char *digest, int64_t user_id, int64_t now,
                         int64_t expires)
{
    if (db_run(s->d,
               "INSERT INTO sessions(digest, user_id, created, expires, last_seen) "
               "VALUES(?,?,?,?,?)",
               "tiiii", digest, user_id, now, expires, now) != 1)
        return store_sqlite_fail(s);
    return STORE_OK;
}

int store_session_get(store *s, const char *digest, store_session *out)
{
    sqlite3_stmt *st =
        db_query(s->d, "SELECT user_id, created, expires, last_seen FROM sessions WHERE digest=?",
                 "t", digest);
    int rc = store_sqlite_row(st);
    if (rc == STORE_OK) {
        out->user_id = sqlite3_column_int64(st, 0);
        out->created = sqlite3_column_int64(st, 1);
        out->expires = sqlite3_column_int64(st, 2);
        out->last_seen = sqlite3_column_int64(st, 3);
        db_done(st);
    }
    return rc;
}

int store_session_touch(store *s, const char *digest, int64_t now)
{
    int n = db_run(s->d, "UPDATE sessions SET last_seen=? WHERE digest=?", "it", now, digest);
    return n < 0 ? store_sqlite_fail(s) : n == 0 ? STORE_NOT_FOUND : STORE_OK;
}

int store_session_delete(store *s, const char *digest)
{
    int n = db_run(s->d, "DELETE FROM sessions WHERE digest=?", "t", digest);
    return n < 0 ? store_sqlite_fail(s) : n == 0 ? STORE_NOT_FOUND : STORE_OK;
}

int store_session_delete_user(store *s, int64_t user_id)
{
    return db_run(s->d, "DELETE FROM sessions WHERE user_id=?", "i", user_id) < 0
               ? store_sqlite_fail(s)
               : STORE_OK;
}

int store_session_purge(store *s, int64_t now, int64_t idle_s)
{
    return db_run(s->d, "DELETE FROM sessions WHERE expires<=? OR last_seen<=?", "ii", now,
                  now - idle_s) < 0
               ? store_sqlite_fail(s)
               : STORE_OK;
}

/* ---- API tokens ---- */

#define TOKEN_COLS "id, user_id, name, created, expires, last_used"

static void token_row(sqlite3_stmt *st, store_token *t)
{
    t->id = sqlite3_column_int64(st, 0);
    t->user_id = sqlite3_column_int64(st, 1);
    store_sqlite_text(st, 2, t->name, sizeof t->name);
    t->created = sqlite3_column_int64(st, 3);
    t->expires = sqlite3_column_int64(st, 4);
    t->last_used = sqlite3_column_int64(st, 5);
}

int store_token_create(store *s, int64_t user_id, const char *name, const char *digest, int64_t now,
                       int64_t expires, int64_t *id)
{
    if (db_run(s->d,
               "INSERT INTO api_tokens(user_id, name, digest, created, expires) "
               "VALUES(?,?,?,?,?)",
               "ittii", user_id, name, digest, now, expires) != 1)
        return store_sqlite_fail(s);
    if (id)
        *id = db_last_insert_id(s->d);
    return STORE_OK;
}

int store_token_find(store *s, const char *digest, store_token *out)
{
    sqlite3_stmt *st =
        db_query(s->d, "SELECT " TOKEN_COLS " FROM api_tokens WHERE digest=?", "t", digest);
    int rc = store_sqlite_row(st);
    if (rc == STORE_OK) {
        token_row(st, out);
        db_done(st);
    }
    return rc;
}

int store_token_touch(store *s, int64_t id, int64_t now)
{
    return db_run(s->d, "UPDATE api_tokens SET last_used=? WHERE id=?", "ii", now, id) < 0
               ? store_sqlite_fail(s)
               : STORE_OK;
}

int store_token_list(store *s, int64_t user_id, store_token_fn fn, void *ctx)
{
    sqlite3_stmt *st = db_query(
        s->d, "SELECT " TOKEN_COLS " FROM api_tokens WHERE user_id=? ORDER BY id", "i", user_id);
    if (!st)
        return STORE_ERROR;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_token t;
        token_row(st, &t);
        if (fn(ctx, &t) != 0)
            break;
    }
    db_done(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : STORE_ERROR;
}

int store_token_delete(store *s, int64_t user_id, int64_t id)
{
    int n = db_run(s->d, "DELETE FROM api_tokens WHERE id=? AND user_id=?", "ii", id, user_id);
    return n < 0 ? store_sqlite_fail(s) : n == 0 ? STORE_NOT_FOUND : STORE_OK;
}

/* ---- meta ---- */

int store_meta_get(store *s, const char *key, char *out, size_t outlen)
{
    sqlite3_stmt *st = db_query(s->d, "SELECT value FROM meta WHERE key=?", "t", key);
    int rc = store_sqlite_row(st);
    if (rc == STORE_OK) {
        store_sqlite_text(st, 0, out, outlen);
        db_done(st);
    }
    return rc;
}

int store_meta_set(store *s, const char *key, const char *value)
{
    return db_run(s->d,
                  "INSERT INTO meta(key, value) VALUES(?,?) "
                  "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                  "tt", key, value) < 0
               ? store_sqlite_fail(s)
               : STORE_OK;
}

int store_meta_delete(store *s, const char *key)
{
    int n = db_run(s->d, "DELETE FROM meta WHERE key=?", "t", key);
    return n < 0 ? store_sqlite_fail(s) : n == 0 ? STORE_NOT_FOUND : STORE_OK;
}

/* ---- audit ---- */

int store_audit_append(store *s, const store_audit *e)
{
    if (db_run(s->d,
               "INSERT INTO audit(time, user_id, actor, action, target, remote, detail, ca_id) "
               "VALUES(?,?,?,?,?,?,?,?)",
               "iittttti", e->time, e->user_id, e->actor, e->action, e->target, e->remote,
               e->detail[0] ? e->detail : "{}", e->ca_id) != 1)
        return store_sqlite_fail(s);
    return STORE_OK;
}

int store_audit_list(store *s, const store_audit_filter *f, store_audit_fn fn, void *ctx)
{
    sqlite3_stmt *st = db_query(
        s->d,
        "SELECT id, time, user_id, actor, action, target, remote, detail, ca_id FROM audit "
        "WHERE (?1=0 OR user_id=?1) AND (?2=0 OR id<?2) AND (?4 IS NULL OR substr(action, 1, "
        "length(?4))=?4) AND (?5=0 OR ca_id=?5) ORDER BY id DESC LIMIT ?3",
        "iiIti", f->user_id, f->before, f->limit, f->action, f->ca_id);
    if (!st)
        return STORE_ERROR;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_audit e;
        e.id = sqlite3_column_int64(st, 0);
        e.time = sqlite3_column_int64(st, 1);
        e.user_id = sqlite3_column_int64(st, 2);
        store_sqlite_text(st, 3, e.actor, sizeof e.actor);
        store_sqlite_text(st, 4, e.action, sizeof e.action);
        store_sqlite_text(st, 5, e.target, sizeof e.target);
        store_sqlite_text(st, 6, e.remote, sizeof e.remote);
        store_sqlite_text(st, 7, e.detail, sizeof e.detail);
        e.ca_id = sqlite3_column_int64(st, 8);
        if (fn(ctx, &e) != 0)
            break;
    }
    db_done(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : STORE_ERROR;
}

int store_audit_purge(store *s, int64_t cutoff, int64_t *deleted)
{
    int n = db_run(s->d, "DELETE FROM audit WHERE time<?", "i", cutoff);
    if (n < 0)
        return store_sqlite_fail(s);
    if (deleted)
        *deleted = n;
    return STORE_OK;
}
