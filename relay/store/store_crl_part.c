/* SQLite store: partitioned CRLs (see store_crl_part.h). */
#include <stdlib.h>

#include "store/store_crl_part.h"
#include "store/store_sqlite.h"

static int one_int(store *s, sqlite3_stmt *st, int64_t *out)
{
    (void)s;
    int rc = store_sqlite_row(st);
    if (rc != STORE_OK)
        return rc;
    *out = sqlite3_column_int64(st, 0);
    db_done(st);
    return STORE_OK;
}

static int changed(store *s, int n)
{
    return n < 0 ? store_sqlite_fail(s) : n == 0 ? STORE_NOT_FOUND : STORE_OK;
}

int store_crl_part_size(store *s, int64_t ca_id, int64_t *size)
{
    return one_int(s, db_query(s->d, "SELECT crl_partition_size FROM cas WHERE id=?", "i", ca_id),
                   size);
}

int store_crl_part_set_size(store *s, int64_t ca_id, int64_t size)
{
    return changed(
        s, db_run(s->d, "UPDATE cas SET crl_partition_size=? WHERE id=?", "ii", size, ca_id));
}

int store_crl_part_assign(store *s, int64_t ca_id, int64_t *part)
{
    int64_t size = 0;
    int rc = store_crl_part_size(s, ca_id, &size);
    if (rc != STORE_OK)
        return rc;
    if (size <= 0) {
        *part = -1;
        return STORE_OK;
    }
    if (db_run(s->d, "UPDATE cas SET crl_partition_seq=crl_partition_seq+1 WHERE id=?", "i",
               ca_id) != 1)
        return store_sqlite_fail(s);
    int64_t seq;
    rc = one_int(s, db_query(s->d, "SELECT crl_partition_seq FROM cas WHERE id=?", "i", ca_id),
                 &seq);
    if (rc == STORE_OK)
        *part = (seq - 1) / size; /* seq counts from 1 after the increment */
    return rc;
}

int store_crl_part_cert_create(store *s, store_cert *c, int64_t part)
{
    if (db_run(s->d,
               "INSERT INTO certificates(ca_id, template_id, request_id, kind, serial, subject, "
               "not_before, not_after, der, created, crl_part) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
               "iiitttiibii", c->ca_id, c->template_id, c->request_id, c->kind, c->serial,
               c->subject, c->not_before, c->not_after, (const void *)c->der, c->der_len,
               c->created, part) != 1)
        return store_sqlite_fail(s);
    c->id = db_last_insert_id(s->d);
    return STORE_OK;
}

int store_crl_part_exists(store *s, int64_t ca_id, int64_t part)
{
    int64_t one;
    return one_int(s,
                   db_query(s->d, "SELECT 1 FROM certificates WHERE ca_id=? AND crl_part=? LIMIT 1",
                            "ii", ca_id, part),
                   &one);
}

int store_crl_part_max(store *s, int64_t ca_id, int64_t *max)
{
    return one_int(s,
                   db_query(s->d,
                            "SELECT coalesce(max(crl_part), -1) FROM certificates WHERE ca_id=?",
                            "i", ca_id),
                   max);
}

int store_crl_part_revoked(store *s, int64_t ca_id, int64_t part, store_revoked_fn fn, void *ctx)
{
    sqlite3_stmt *st = db_query(s->d,
                                "SELECT serial, revoked_at, reason FROM certificates "
                                "WHERE ca_id=? AND crl_part=? AND revoked_at>0 ORDER BY id",
                                "ii", ca_id, part);
    return store_sqlite_each_revoked(st, fn, ctx);
}

int store_crl_part_get(store *s, int64_t ca_id, int64_t part, uint8_t **der, size_t *len,
                       int64_t *next_update, int64_t *changes)
{
    *der = NULL;
    *len = 0;
    *next_update = 0;
    *changes = 1;
    sqlite3_stmt *st =
        db_query(s->d, "SELECT crl_der, next_update, dirty FROM crl_parts WHERE ca_id=? AND part=?",
                 "ii", ca_id, part);
    int rc = store_sqlite_row(st);
    if (rc == STORE_NOT_FOUND)
        return STORE_OK; /* never made: dirty */
    if (rc != STORE_OK)
        return rc;
    if (sqlite3_column_type(st, 0) != SQLITE_NULL && db_col_blob(st, 0, der, len) != 0) {
        db_done(st);
        return STORE_ERROR;
    }
    *next_update = sqlite3_column_int64(st, 1);
    *changes = sqlite3_column_int64(st, 2);
    db_done(st);
    return STORE_OK;
}

int store_crl_part_track(store *s, int64_t ca_id, int64_t part)
{
    return db_run(s->d,
                  "INSERT OR IGNORE INTO crl_parts(ca_id, part, crl_der, next_update, dirty) "
                  "VALUES(?,?,NULL,0,1)",
                  "ii", ca_id, part) < 0
               ? store_sqlite_fail(s)
               : STORE_OK;
}

int store_crl_part_save(store *s, int64_t ca_id, int64_t part, const uint8_t *der, size_t len,
                        int64_t next_update, int64_t changes_seen)
{
    int n = db_run(s->d,
                   "UPDATE crl_parts SET crl_der=?, next_update=?, "
                   "dirty=CASE WHEN dirty=? THEN 0 ELSE dirty END WHERE ca_id=? AND part=?",
                   "biiii", (const void *)der, len, next_update, changes_seen, ca_id, part);
    return n < 0 ? store_sqlite_fail(s) : n == 0 ? STORE_NOT_FOUND : STORE_OK;
}

int store_crl_part_mark_cert_dirty(store *s, int64_t cert_id)
{
    int n = db_run(s->d,
                   "UPDATE crl_parts SET dirty=dirty+1 WHERE (ca_id, part) = "
                   "(SELECT ca_id, crl_part FROM certificates WHERE id=?)",
                   "i", cert_id);
    return n < 0 ? store_sqlite_fail(s) : STORE_OK;
}

int store_crl_part_mark_all_dirty(store *s, int64_t ca_id)
{
    return db_run(s->d, "UPDATE crl_parts SET dirty=dirty+1 WHERE ca_id=?", "i", ca_id) < 0
               ? store_sqlite_fail(s)
               : STORE_OK;
}
