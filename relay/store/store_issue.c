/* SQLite store: templates, issued certificates, requests. Tenancy goes through the CA. */
#include <stdlib.h>
#include <string.h>

#include "store/store_sqlite.h"

#define VISIBLE_CA(col)                                                                            \
    "(?2=0 OR EXISTS(SELECT 1 FROM cas c WHERE c.id=" col " AND (c.owner_id=?2 OR EXISTS("         \
    "SELECT 1 FROM ca_delegates d WHERE d.ca_id=c.id AND d.user_id=?2))))"

static int changed(store *s, int n)
{
    return n < 0 ? store_sqlite_fail(s) : n == 0 ? STORE_NOT_FOUND : STORE_OK;
}

/* ---- templates ---- */

void store_template_clear(store_template *t)
{
    free(t->settings);
    memset(t, 0, sizeof *t);
}

static void template_row(sqlite3_stmt *st, store_template *t)
{
    memset(t, 0, sizeof *t);
    t->id = sqlite3_column_int64(st, 0);
    t->ca_id = sqlite3_column_int64(st, 1);
    store_sqlite_text(st, 2, t->name, sizeof t->name);
    t->settings = db_col_strdup(st, 3);
    t->created = sqlite3_column_int64(st, 4);
}

int store_template_create(store *s, int64_t ca_id, const char *name, const char *settings,
                          int64_t now, int64_t *id)
{
    if (db_run(s->d, "INSERT INTO templates(ca_id, name, settings, created) VALUES(?,?,?,?)",
               "itti", ca_id, name, settings, now) != 1)
        return store_sqlite_fail(s);
    if (id)
        *id = db_last_insert_id(s->d);
    return STORE_OK;
}

int store_template_get(store *s, int64_t user_id, int64_t id, store_template *out)
{
    sqlite3_stmt *st = db_query(s->d,
                                "SELECT id, ca_id, name, settings, created FROM templates "
                                "WHERE id=?1 AND " VISIBLE_CA("templates.ca_id"),
                                "ii", id, user_id);
    int rc = store_sqlite_row(st);
    if (rc == STORE_OK) {
        template_row(st, out);
        db_done(st);
    }
    return rc;
}

int store_template_list(store *s, int64_t ca_id, store_template_fn fn, void *ctx)
{
    sqlite3_stmt *st = db_query(
        s->d, "SELECT id, ca_id, name, settings, created FROM templates WHERE ca_id=? ORDER BY id",
        "i", ca_id);
    if (!st)
        return STORE_ERROR;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_template t;
        template_row(st, &t);
        int stop = fn(ctx, &t);
        store_template_clear(&t);
        if (stop)
            break;
    }
    db_done(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : STORE_ERROR;
}

int store_template_update(store *s, int64_t id, const char *name, const char *settings)
{
    return changed(s, db_run(s->d, "UPDATE templates SET name=?, settings=? WHERE id=?", "tti",
                             name, settings, id));
}

int store_template_delete(store *s, int64_t id)
{
    return changed(s, db_run(s->d, "DELETE FROM templates WHERE id=?", "i", id));
}

int store_template_active_certs(store *s, int64_t id, int64_t now, int64_t *count)
{
    /* certificateHold (6) counts as active: it can come back (TPL-9). */
    sqlite3_stmt *st = db_query(s->d,
                                "SELECT count(*) FROM certificates WHERE template_id=? AND "
                                "not_after>? AND (revoked_at=0 OR reason=6)",
                                "ii", id, now);
    int rc = store_sqlite_row(st);
    if (rc == STORE_OK) {
        *count = sqlite3_column_int64(st, 0);
        db_done(st);
    }
    return rc;
}

/* ---- certificates ---- */

#define CERT_COLS                                                                                  \
    "id, ca_id, template_id, request_id, kind, serial, subject, not_before, not_after, "           \
    "revoked_at, reason, created"

void store_cert_clear(store_cert *c)
{
    free(c->der);
    memset(c, 0, sizeof *c);
}

static void cert_row(sqlite3_stmt *st, store_cert *c, int der_col)
{
    memset(c, 0, sizeof *c);
    c->id = sqlite3_column_int64(st, 0);
    c->ca_id = sqlite3_column_int64(st, 1);
    c->template_id = sqlite3_column_int64(st, 2);
    c->request_id = sqlite3_column_int64(st, 3);
    store_sqlite_text(st, 4, c->kind, sizeof c->kind);
    store_sqlite_text(st, 5, c->serial, sizeof c->serial);
    store_sqlite_text(st, 6, c->subject, sizeof c->subject);
    c->not_before = sqlite3_column_int64(st, 7);
    c->not_after = sqlite3_column_int64(st, 8);
    c->revoked_at = sqlite3_column_int64(st, 9);
    c->reason = sqlite3_column_int(st, 10);
    c->created = sqlite3_column_int64(st, 11);
    if (der_col >= 0 && db_col_blob(st, der_col, &c->der, &c->der_len) != 0) {
        c->der = NULL;
        c->der_len = 0;
    }
}

int store_cert_create(store *s, store_cert *c)
{
    if (db_run(s->d,
               "INSERT INTO certificates(ca_id, template_id, request_id, kind, serial, subject, "
               "not_before, not_after, der, created) VALUES(?,?,?,?,?,?,?,?,?,?)",
               "iiitttiibi", c->ca_id, c->template_id, c->request_id, c->kind, c->serial,
               c->subject, c->not_before, c->not_after, (const void *)c->der, c->der_len,
               c->created) != 1)
        return store_sqlite_fail(s);
    c->id = db_last_insert_id(s->d);
    return STORE_OK;
}

int store_cert_get(store *s, int64_t user_id, int64_t id, store_cert *out)
{
    sqlite3_stmt *st =
        db_query(s->d,
                 "SELECT " CERT_COLS
                 ", der FROM certificates WHERE id=?1 AND " VISIBLE_CA("certificates.ca_id"),
                 "ii", id, user_id);
    int rc = store_sqlite_row(st);
    if (rc == STORE_OK) {
        cert_row(st, out, 12);
        db_done(st);
    }
    return rc;
}

int store_cert_get_by_serial(store *s, int64_t ca_id, const char *serial, store_cert *out)
{
    sqlite3_stmt *st =
        db_query(s->d, "SELECT " CERT_COLS ", der FROM certificates WHERE ca_id=? AND serial=?",
                 "it", ca_id, serial);
    int rc = store_sqlite_row(st);
    if (rc == STORE_OK) {
        cert_row(st, out, 12);
        db_done(st);
    }
    return rc;
}

int store_cert_list(store *s, const store_cert_filter *f, store_cert_fn fn, void *ctx)
{
    const char *status = f->status ? f->status : "";
    sqlite3_stmt *st =
        db_query(s->d,
                 "SELECT " CERT_COLS ", CASE WHEN ?7 THEN der ELSE NULL END FROM certificates "
                 "WHERE ca_id=?1 AND (?2=0 OR id<?2) AND (?3=0 OR template_id=?3) "
                 "AND (?4 IS NULL OR instr(lower(subject), lower(?4))>0) "
                 "AND (?5='' OR (?5='active' AND revoked_at=0 AND not_after>?6) "
                 "  OR (?5='revoked' AND revoked_at>0) OR (?5='expired' AND not_after<=?6)) "
                 "ORDER BY id DESC LIMIT ?8",
                 "iiittiII", f->ca_id, f->before, f->template_id, f->subject_like, status, f->now,
                 f->with_der ? 1 : 0, f->limit > 0 ? f->limit : 100);
    if (!st)
        return STORE_ERROR;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_cert c;
        cert_row(st, &c, f->with_der ? 12 : -1);
        int stop = fn(ctx, &c);
        store_cert_clear(&c);
        if (stop)
            break;
    }
    db_done(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : STORE_ERROR;
}

int store_cert_set_revocation(store *s, int64_t id, int64_t revoked_at, int reason)
{
    return changed(s, db_run(s->d, "UPDATE certificates SET revoked_at=?, reason=? WHERE id=?",
                             "iIi", revoked_at, reason, id));
}

int store_cert_revoked(store *s, int64_t ca_id, store_revoked_fn fn, void *ctx)
{
    sqlite3_stmt *st = db_query(s->d,
                                "SELECT serial, revoked_at, reason FROM certificates "
                                "WHERE ca_id=? AND revoked_at>0 ORDER BY id",
                                "i", ca_id);
    return store_sqlite_each_revoked(st, fn, ctx);
}

int store_sqlite_each_revoked(sqlite3_stmt *st, store_revoked_fn fn, void *ctx)
{
    if (!st)
        return STORE_ERROR;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (fn(ctx, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1),
               sqlite3_column_int(st, 2)) != 0)
            break;
    }
    db_done(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : STORE_ERROR;
}

int store_cert_purge_expired(store *s, int64_t cutoff, int64_t *deleted)
{
    int n = db_run(s->d, "DELETE FROM certificates WHERE not_after<? AND kind='leaf'", "i", cutoff);
    if (n < 0)
        return store_sqlite_fail(s);
    if (deleted)
        *deleted = n;
    return STORE_OK;
}

/* ---- requests ---- */

#define REQ_COLS                                                                                   \
    "id, ca_id, template_id, status, source, csr_der, params, claim_digest, certificate_id, "      \
    "created, decided"

void store_request_clear(store_request *r)
{
    free(r->csr_der);
    free(r->params);
    memset(r, 0, sizeof *r);
}

static void request_row(sqlite3_stmt *st, store_request *r)
{
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    r->ca_id = sqlite3_column_int64(st, 1);
    r->template_id = sqlite3_column_int64(st, 2);
    store_sqlite_text(st, 3, r->status, sizeof r->status);
    store_sqlite_text(st, 4, r->source, sizeof r->source);
    if (sqlite3_column_type(st, 5) != SQLITE_NULL &&
        db_col_blob(st, 5, &r->csr_der, &r->csr_len) != 0) {
        r->csr_der = NULL;
        r->csr_len = 0;
    }
    r->params = db_col_strdup(st, 6);
    store_sqlite_text(st, 7, r->claim_digest, sizeof r->claim_digest);
    r->certificate_id = sqlite3_column_int64(st, 8);
    r->created = sqlite3_column_int64(st, 9);
    r->decided = sqlite3_column_int64(st, 10);
}

int store_request_create(store *s, store_request *r)
{
    if (db_run(s->d,
               "INSERT INTO requests(ca_id, template_id, status, source, csr_der, params, "
               "claim_digest, created) VALUES(?,?,?,?,?,?,?,?)",
               "iittbtti", r->ca_id, r->template_id, r->status, r->source, (const void *)r->csr_der,
               r->csr_len, r->params ? r->params : "{}",
               r->claim_digest[0] ? r->claim_digest : NULL, r->created) != 1)
        return store_sqlite_fail(s);
    r->id = db_last_insert_id(s->d);
    return STORE_OK;
}

int store_request_get(store *s, int64_t user_id, int64_t id, store_request *out)
{
    sqlite3_stmt *st = db_query(
        s->d, "SELECT " REQ_COLS " FROM requests WHERE id=?1 AND " VISIBLE_CA("requests.ca_id"),
        "ii", id, user_id);
    int rc = store_sqlite_row(st);
    if (rc == STORE_OK) {
        request_row(st, out);
        db_done(st);
    }
    return rc;
}

int store_request_find_claim(store *s, const char *claim_digest, store_request *out)
{
    sqlite3_stmt *st = db_query(s->d,
                                "SELECT " REQ_COLS " FROM requests WHERE claim_digest=? AND "
                                "status='preapproved'",
                                "t", claim_digest);
    int rc = store_sqlite_row(st);
    if (rc == STORE_OK) {
        request_row(st, out);
        db_done(st);
    }
    return rc;
}

int store_request_list(store *s, int64_t ca_id, const char *status, store_request_fn fn, void *ctx)
{
    sqlite3_stmt *st = db_query(s->d,
                                "SELECT " REQ_COLS " FROM requests WHERE ca_id=? AND "
                                "(? IS NULL OR status=?3) ORDER BY id DESC LIMIT 1000",
                                "itt", ca_id, status, status);
    if (!st)
        return STORE_ERROR;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_request r;
        request_row(st, &r);
        int stop = fn(ctx, &r);
        store_request_clear(&r);
        if (stop)
            break;
    }
    db_done(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : STORE_ERROR;
}

int store_request_decide(store *s, int64_t id, const char *from, const char *to,
                         int64_t certificate_id, int64_t now)
{
    return changed(s, db_run(s->d,
                             "UPDATE requests SET status=?, certificate_id=?, decided=?, "
                             "claim_digest=NULL WHERE id=? AND status=?",
                             "tiiit", to, certificate_id, now, id, from));
}
