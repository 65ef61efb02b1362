/* SQLite side of acme_store.h, on the same database handle as the relay's store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/acme_store.h"
#include "log/log.h"
#include "store/store_sqlite.h"

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS acme_policy ("
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, template_id INTEGER NOT NULL,"
    " allowed TEXT NOT NULL, preapproved TEXT NOT NULL, created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS acme_eab ("
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL, kid TEXT NOT NULL UNIQUE,"
    " sealed_key BLOB NOT NULL, policy_id INTEGER NOT NULL REFERENCES acme_policy(id),"
    " max_uses INTEGER NOT NULL, uses INTEGER NOT NULL DEFAULT 0, expires INTEGER NOT NULL,"
    " created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS acme_account ("
    " id INTEGER PRIMARY KEY, policy_id INTEGER NOT NULL REFERENCES acme_policy(id),"
    " eab_id INTEGER NOT NULL, thumbprint TEXT NOT NULL UNIQUE, jwk TEXT NOT NULL,"
    " status TEXT NOT NULL, contact TEXT NOT NULL, created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS acme_order ("
    " id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL REFERENCES acme_account(id),"
    " status TEXT NOT NULL, identifiers TEXT NOT NULL, expires INTEGER NOT NULL, error TEXT,"
    " cert_id INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS acme_order_account ON acme_order(account_id);"
    "CREATE TABLE IF NOT EXISTS acme_authz ("
    " id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES acme_order(id),"
    " account_id INTEGER NOT NULL, value TEXT NOT NULL, wildcard INTEGER NOT NULL,"
    " status TEXT NOT NULL, expires INTEGER NOT NULL, token TEXT NOT NULL,"
    " http_status TEXT NOT NULL, dns_status TEXT NOT NULL, validated INTEGER NOT NULL DEFAULT 0,"
    " error TEXT, chall_failed INTEGER NOT NULL DEFAULT -1);"
    "CREATE INDEX IF NOT EXISTS acme_authz_order ON acme_authz(order_id);"
    "CREATE TABLE IF NOT EXISTS acme_cert ("
    " id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL, account_id INTEGER NOT NULL,"
    " serial TEXT NOT NULL, digest TEXT NOT NULL UNIQUE, der BLOB NOT NULL,"
    " chain_pem TEXT NOT NULL, relay_cert_id INTEGER NOT NULL DEFAULT 0, revoked_at INTEGER NOT "
    "NULL DEFAULT 0,"
    " reason INTEGER NOT NULL DEFAULT -1);";

int acme_store_ensure(store *s)
{
    /* Once per handle: each worker keeps its own handle for its whole life. */
    static __thread store *done;
    if (done == s)
        return STORE_OK;
    if (db_exec(s->d, SCHEMA) != 0) {
        pki_err("acme: cannot create tables: %s", db_last_error(s->d));
        return STORE_ERROR;
    }
    done = s;
    return STORE_OK;
}

static int one(sqlite3_stmt *st)
{
    return store_sqlite_row(st);
}

static int changed(store *s, int n)
{
    if (n < 0)
        return store_sqlite_fail(s);
    return n > 0 ? STORE_OK : STORE_NOT_FOUND;
}

/* ---- policies ---- */

void acme_policy_clear(acme_policy *p)
{
    free(p->allowed);
    free(p->preapproved);
    p->allowed = p->preapproved = NULL;
}

static void policy_row(sqlite3_stmt *st, acme_policy *p)
{
    memset(p, 0, sizeof *p);
    p->id = sqlite3_column_int64(st, 0);
    store_sqlite_text(st, 1, p->name, sizeof p->name);
    p->template_id = sqlite3_column_int64(st, 2);
    p->allowed = db_col_strdup(st, 3);
    p->preapproved = db_col_strdup(st, 4);
    p->created = sqlite3_column_int64(st, 5);
}

#define POLICY_COLS "id, name, template_id, allowed, preapproved, created"

int acme_policy_create(store *s, acme_policy *p)
{
    if (db_run(s->d,
               "INSERT INTO acme_policy(name, template_id, allowed, preapproved, created)"
               " VALUES(?,?,?,?,?)",
               "titti", p->name, p->template_id, p->allowed, p->preapproved, p->created) != 1)
        return store_sqlite_fail(s);
    p->id = db_last_insert_id(s->d);
    return STORE_OK;
}

int acme_policy_get(store *s, int64_t id, acme_policy *out)
{
    sqlite3_stmt *st =
        db_query(s->d, "SELECT " POLICY_COLS " FROM acme_policy WHERE id=?", "i", id);
    int rc = one(st);
    if (rc == STORE_OK) {
        policy_row(st, out);
        db_done(st);
    }
    return rc;
}

int acme_policy_list(store *s, acme_policy_fn fn, void *ctx)
{
    sqlite3_stmt *st = db_query(s->d, "SELECT " POLICY_COLS " FROM acme_policy ORDER BY id", "");
    if (!st)
        return STORE_ERROR;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        acme_policy p;
        policy_row(st, &p);
        int stop = fn(ctx, &p);
        acme_policy_clear(&p);
        if (stop)
            break;
    }
    db_done(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : STORE_ERROR;
}

int acme_policy_delete(store *s, int64_t id)
{
    sqlite3_stmt *st = db_query(s->d,
                                "SELECT (SELECT count(*) FROM acme_account WHERE policy_id=?1) +"
                                " (SELECT count(*) FROM acme_eab WHERE policy_id=?1)",
                                "i", id);
    if (one(st) != STORE_OK)
        return STORE_ERROR;
    int64_t users = sqlite3_column_int64(st, 0);
    db_done(st);
    if (users > 0)
        return STORE_CONFLICT;
    return changed(s, db_run(s->d, "DELETE FROM acme_policy WHERE id=?", "i", id));
}

/* ---- EAB credentials ---- */

void acme_eab_clear(acme_eab *e)
{
    free(e->sealed_key);
    e->sealed_key = NULL;
}

#define EAB_COLS "id, name, kid, sealed_key, policy_id, max_uses, uses, expires, created"

static void eab_row(sqlite3_stmt *st, acme_eab *e, bool with_key)
{
    memset(e, 0, sizeof *e);
    e->id = sqlite3_column_int64(st, 0);
    store_sqlite_text(st, 1, e->name, sizeof e->name);
    store_sqlite_text(st, 2, e->kid, sizeof e->kid);
    if (with_key)
        db_col_blob(st, 3, &e->sealed_key, &e->sealed_len);
    e->policy_id = sqlite3_column_int64(st, 4);
    e->max_uses = sqlite3_column_int64(st, 5);
    e->uses = sqlite3_column_int64(st, 6);
    e->expires = sqlite3_column_int64(st, 7);
    e->created = sqlite3_column_int64(st, 8);
}

int acme_eab_create(store *s, acme_eab *e)
{
    if (db_run(s->d,
               "INSERT INTO acme_eab(name, kid, sealed_key, policy_id, max_uses, expires, created)"
               " VALUES(?,?,?,?,?,?,?)",
               "ttbiiii", e->name, e->kid, e->sealed_key, e->sealed_len, e->policy_id, e->max_uses,
               e->expires, e->created) != 1)
        return store_sqlite_fail(s);
    e->id = db_last_insert_id(s->d);
    return STORE_OK;
}

int acme_eab_get_by_kid(store *s, const char *kid, acme_eab *out)
{
    sqlite3_stmt *st = db_query(s->d, "SELECT " EAB_COLS " FROM acme_eab WHERE kid=?", "t", kid);
    int rc = one(st);
    if (rc == STORE_OK) {
        eab_row(st, out, true);
        db_done(st);
    }
    return rc;
}

int acme_eab_list(store *s, acme_eab_fn fn, void *ctx)
{
    sqlite3_stmt *st = db_query(s->d, "SELECT " EAB_COLS " FROM acme_eab ORDER BY id", "");
    if (!st)
        return STORE_ERROR;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        acme_eab e;
        eab_row(st, &e, false);
        if (fn(ctx, &e))
            break;
    }
    db_done(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : STORE_ERROR;
}

int acme_eab_delete(store *s, int64_t id)
{
    return changed(s, db_run(s->d, "DELETE FROM acme_eab WHERE id=?", "i", id));
}

int acme_eab_use(store *s, int64_t id)
{
    return changed(s, db_run(s->d,
                             "UPDATE acme_eab SET uses=uses+1 WHERE id=? AND"
                             " (max_uses=0 OR uses<max_uses)",
                             "i", id));
}

/* ---- accounts ---- */

void acme_account_clear(acme_account *a)
{
    free(a->jwk);
    free(a->contact);
    a->jwk = a->contact = NULL;
}

#define ACCOUNT_COLS "id, policy_id, eab_id, thumbprint, jwk, status, contact, created"

static void account_row(sqlite3_stmt *st, acme_account *a)
{
    memset(a, 0, sizeof *a);
    a->id = sqlite3_column_int64(st, 0);
    a->policy_id = sqlite3_column_int64(st, 1);
    a->eab_id = sqlite3_column_int64(st, 2);
    store_sqlite_text(st, 3, a->thumbprint, sizeof a->thumbprint);
    a->jwk = db_col_strdup(st, 4);
    store_sqlite_text(st, 5, a->status, sizeof a->status);
    a->contact = db_col_strdup(st, 6);
    a->created = sqlite3_column_int64(st, 7);
}

int acme_account_create(store *s, acme_account *a)
{
    if (db_run(s->d,
               "INSERT INTO acme_account(policy_id, eab_id, thumbprint, jwk, status, contact,"
               " created) VALUES(?,?,?,?,?,?,?)",
               "iitttti", a->policy_id, a->eab_id, a->thumbprint, a->jwk, a->status,
               a->contact ? a->contact : "[]", a->created) != 1)
        return store_sqlite_fail(s);
    a->id = db_last_insert_id(s->d);
    return STORE_OK;
}

static int account_by(store *s, const char *sql, const char *types, const void *key,
                      acme_account *out)
{
    sqlite3_stmt *st = types[0] == 'i' ? db_query(s->d, sql, "i", *(const int64_t *)key)
                                       : db_query(s->d, sql, "t", (const char *)key);
    int rc = one(st);
    if (rc == STORE_OK) {
        account_row(st, out);
        db_done(st);
    }
    return rc;
}

int acme_account_get(store *s, int64_t id, acme_account *out)
{
    return account_by(s, "SELECT " ACCOUNT_COLS " FROM acme_account WHERE id=?", "i", &id, out);
}

int acme_account_get_by_thumbprint(store *s, const char *tp, acme_account *out)
{
    return account_by(s, "SELECT " ACCOUNT_COLS " FROM acme_account WHERE thumbprint=?", "t", tp,
                      out);
}

int acme_account_update(store *s, const acme_account *a)
{
    return changed(s, db_run(s->d,
                             "UPDATE acme_account SET status=?, contact=?, jwk=?, thumbprint=?"
                             " WHERE id=?",
                             "tttti", a->status, a->contact ? a->contact : "[]", a->jwk,
                             a->thumbprint, a->id));
}

/* ---- orders ---- */

void acme_order_clear(acme_order *o)
{
    free(o->identifiers);
    free(o->error);
    o->identifiers = o->error = NULL;
}

#define ORDER_COLS "id, account_id, status, identifiers, expires, error, cert_id, created"

int acme_order_create(store *s, acme_order *o)
{
    if (db_run(s->d,
               "INSERT INTO acme_order(account_id, status, identifiers, expires, created)"
               " VALUES(?,?,?,?,?)",
               "ittii", o->account_id, o->status, o->identifiers, o->expires, o->created) != 1)
        return store_sqlite_fail(s);
    o->id = db_last_insert_id(s->d);
    return STORE_OK;
}

int acme_order_get(store *s, int64_t id, acme_order *o)
{
    sqlite3_stmt *st = db_query(s->d, "SELECT " ORDER_COLS " FROM acme_order WHERE id=?", "i", id);
    int rc = one(st);
    if (rc != STORE_OK)
        return rc;
    memset(o, 0, sizeof *o);
    o->id = sqlite3_column_int64(st, 0);
    o->account_id = sqlite3_column_int64(st, 1);
    store_sqlite_text(st, 2, o->status, sizeof o->status);
    o->identifiers = db_col_strdup(st, 3);
    o->expires = sqlite3_column_int64(st, 4);
    o->error = sqlite3_column_type(st, 5) == SQLITE_NULL ? NULL : db_col_strdup(st, 5);
    o->cert_id = sqlite3_column_int64(st, 6);
    o->created = sqlite3_column_int64(st, 7);
    db_done(st);
    return STORE_OK;
}

int acme_order_set(store *s, int64_t id, const char *status, const char *error, int64_t cert_id)
{
    return changed(s, db_run(s->d, "UPDATE acme_order SET status=?, error=?, cert_id=? WHERE id=?",
                             "ttii", status, error, cert_id, id));
}

int acme_order_transition(store *s, int64_t id, const char *from, const char *to)
{
    return changed(s, db_run(s->d, "UPDATE acme_order SET status=? WHERE id=? AND status=?", "tit",
                             to, id, from));
}

int acme_order_list(store *s, int64_t account_id, acme_id_fn fn, void *ctx)
{
    sqlite3_stmt *st = db_query(s->d,
                                "SELECT id FROM acme_order WHERE account_id=? AND status<>'invalid'"
                                " ORDER BY id DESC LIMIT 1000",
                                "i", account_id);
    if (!st)
        return STORE_ERROR;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(ctx, sqlite3_column_int64(st, 0)))
            break;
    db_done(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : STORE_ERROR;
}

/* ---- authorizations ---- */

void acme_authz_clear(acme_authz *a)
{
    free(a->error);
    a->error = NULL;
}

#define AUTHZ_COLS                                                                                 \
    "id, order_id, account_id, value, wildcard, status, expires, token, http_status, dns_status,"  \
    " validated, error, chall_failed"

static void authz_row(sqlite3_stmt *st, acme_authz *a)
{
    memset(a, 0, sizeof *a);
    a->id = sqlite3_column_int64(st, 0);
    a->order_id = sqlite3_column_int64(st, 1);
    a->account_id = sqlite3_column_int64(st, 2);
    store_sqlite_text(st, 3, a->value, sizeof a->value);
    a->wildcard = sqlite3_column_int(st, 4) != 0;
    store_sqlite_text(st, 5, a->status, sizeof a->status);
    a->expires = sqlite3_column_int64(st, 6);
    store_sqlite_text(st, 7, a->token, sizeof a->token);
    store_sqlite_text(st, 8, a->chall_status[0], sizeof a->chall_status[0]);
    store_sqlite_text(st, 9, a->chall_status[1], sizeof a->chall_status[1]);
    a->validated = sqlite3_column_int64(st, 10);
    a->error = sqlite3_column_type(st, 11) == SQLITE_NULL ? NULL : db_col_strdup(st, 11);
    a->chall_failed = sqlite3_column_int(st, 12);
}

int acme_authz_create(store *s, acme_authz *a)
{
    if (db_run(s->d,
               "INSERT INTO acme_authz(order_id, account_id, value, wildcard, status, expires,"
               " token, http_status, dns_status, validated) VALUES(?,?,?,?,?,?,?,?,?,?)",
               "iitItittti", a->order_id, a->account_id, a->value, a->wildcard ? 1 : 0, a->status,
               a->expires, a->token, a->chall_status[0], a->chall_status[1], a->validated) != 1)
        return store_sqlite_fail(s);
    a->id = db_last_insert_id(s->d);
    return STORE_OK;
}

int acme_authz_get(store *s, int64_t id, acme_authz *out)
{
    sqlite3_stmt *st = db_query(s->d, "SELECT " AUTHZ_COLS " FROM acme_authz WHERE id=?", "i", id);
    int rc = one(st);
    if (rc == STORE_OK) {
        authz_row(st, out);
        db_done(st);
    }
    return rc;
}

int acme_authz_list(store *s, int64_t order_id, acme_authz_fn fn, void *ctx)
{
    sqlite3_stmt *st = db_query(
        s->d, "SELECT " AUTHZ_COLS " FROM acme_authz WHERE order_id=? ORDER BY id", "i", order_id);
    if (!st)
        return STORE_ERROR;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        acme_authz a;
        authz_row(st, &a);
        int stop = fn(ctx, &a);
        acme_authz_clear(&a);
        if (stop)
            break;
    }
    db_done(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : STORE_ERROR;
}

int acme_authz_start(store *s, int64_t id, int idx)
{
    const char *sql = idx == 0 ? "UPDATE acme_authz SET http_status='processing' WHERE id=? AND"
                                 " status='pending' AND http_status='pending'"
                               : "UPDATE acme_authz SET dns_status='processing' WHERE id=? AND"
                                 " status='pending' AND dns_status='pending'";
    return changed(s, db_run(s->d, sql, "i", id));
}

int acme_authz_finish(store *s, int64_t id, int idx, bool ok, const char *error, int64_t now)
{
    const char *sql = idx == 0 ? "UPDATE acme_authz SET http_status=?1, status=?1, validated=?2,"
                                 " error=?3, chall_failed=?4 WHERE id=?5 AND status='pending'"
                               : "UPDATE acme_authz SET dns_status=?1, status=?1, validated=?2,"
                                 " error=?3, chall_failed=?4 WHERE id=?5 AND status='pending'";
    return changed(s, db_run(s->d, sql, "titIi", ok ? "valid" : "invalid", ok ? now : (int64_t)0,
                             error, ok ? -1 : idx, id));
}

int acme_authz_set_status(store *s, int64_t id, const char *status)
{
    return changed(s, db_run(s->d, "UPDATE acme_authz SET status=? WHERE id=?", "ti", status, id));
}

/* ---- certificates ---- */

void acme_cert_clear(acme_cert *c)
{
    free(c->der);
    free(c->chain_pem);
    c->der = NULL;
    c->chain_pem = NULL;
}

#define CERT_COLS                                                                                  \
    "id, order_id, account_id, serial, digest, der, chain_pem, revoked_at, reason, relay_cert_id"

int acme_cert_create(store *s, acme_cert *c)
{
    if (db_run(s->d,
               "INSERT INTO acme_cert(order_id, account_id, serial, digest, der, chain_pem,"
               " relay_cert_id) VALUES(?,?,?,?,?,?,?)",
               "iittbti", c->order_id, c->account_id, c->serial, c->digest, c->der, c->der_len,
               c->chain_pem, c->relay_cert_id) != 1)
        return store_sqlite_fail(s);
    c->id = db_last_insert_id(s->d);
    return STORE_OK;
}

static int cert_by(store *s, sqlite3_stmt *st, acme_cert *c)
{
    (void)s;
    int rc = one(st);
    if (rc != STORE_OK)
        return rc;
    memset(c, 0, sizeof *c);
    c->id = sqlite3_column_int64(st, 0);
    c->order_id = sqlite3_column_int64(st, 1);
    c->account_id = sqlite3_column_int64(st, 2);
    store_sqlite_text(st, 3, c->serial, sizeof c->serial);
    store_sqlite_text(st, 4, c->digest, sizeof c->digest);
    db_col_blob(st, 5, &c->der, &c->der_len);
    c->chain_pem = db_col_strdup(st, 6);
    c->revoked_at = sqlite3_column_int64(st, 7);
    c->reason = sqlite3_column_int(st, 8);
    c->relay_cert_id = sqlite3_column_int64(st, 9);
    db_done(st);
    return STORE_OK;
}

int acme_cert_get(store *s, int64_t id, acme_cert *out)
{
    return cert_by(s, db_query(s->d, "SELECT " CERT_COLS " FROM acme_cert WHERE id=?", "i", id),
                   out);
}

int acme_cert_get_by_digest(store *s, const char *digest, acme_cert *out)
{
    return cert_by(
        s, db_query(s->d, "SELECT " CERT_COLS " FROM acme_cert WHERE digest=?", "t", digest), out);
}

int acme_cert_revoke(store *s, int64_t id, int64_t when, int reason)
{
    return changed(s, db_run(s->d,
                             "UPDATE acme_cert SET revoked_at=?, reason=? WHERE id=? AND"
                             " revoked_at=0",
                             "iIi", when, reason, id));
}
