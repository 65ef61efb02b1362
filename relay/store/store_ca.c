/* SQLite store: certificate authorities and their CRL cache. */
#include <stdlib.h>
#include <string.h>

#include "store/store_sqlite.h"

#define CA_COLS                                                                                    \
    "id, owner_id, name, status, key_type, sig_alg, subject, cert_der, csr_der, chain_der, spki, " \
    "sealed_key, cps, crl_validity, crl_refresh, ocsp_cert_id, ocsp_sealed_key, "                  \
    "service_key_type, created"

/* Visible to user_id: owner, delegate, or the relay itself (0). */
#define CA_VISIBLE                                                                                 \
    "(?2=0 OR owner_id=?2 OR EXISTS(SELECT 1 FROM ca_delegates d WHERE d.ca_id=cas.id AND "        \
    "d.user_id=?2))"

void store_ca_clear(store_ca *ca)
{
    free(ca->cert_der);
    free(ca->csr_der);
    free(ca->chain_der);
    free(ca->spki);
    free(ca->sealed_key);
    free(ca->ocsp_sealed_key);
    free(ca->cps);
    memset(ca, 0, sizeof *ca);
}

static void blob(sqlite3_stmt *st, int col, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (sqlite3_column_type(st, col) != SQLITE_NULL && db_col_blob(st, col, out, len) != 0) {
        *out = NULL;
        *len = 0;
    }
}

static void ca_row(sqlite3_stmt *st, store_ca *ca)
{
    memset(ca, 0, sizeof *ca);
    ca->id = sqlite3_column_int64(st, 0);
    ca->owner_id = sqlite3_column_int64(st, 1);
    store_sqlite_text(st, 2, ca->name, sizeof ca->name);
    store_sqlite_text(st, 3, ca->status, sizeof ca->status);
    store_sqlite_text(st, 4, ca->key_type, sizeof ca->key_type);
    store_sqlite_text(st, 5, ca->sig_alg, sizeof ca->sig_alg);
    store_sqlite_text(st, 6, ca->subject, sizeof ca->subject);
    blob(st, 7, &ca->cert_der, &ca->cert_len);
    blob(st, 8, &ca->csr_der, &ca->csr_len);
    blob(st, 9, &ca->chain_der, &ca->chain_len);
    blob(st, 10, &ca->spki, &ca->spki_len);
    blob(st, 11, &ca->sealed_key, &ca->sealed_len);
    ca->cps = db_col_strdup(st, 12);
    ca->crl_validity_s = sqlite3_column_int64(st, 13);
    ca->crl_refresh_s = sqlite3_column_int64(st, 14);
    ca->ocsp_cert_id = sqlite3_column_int64(st, 15);
    blob(st, 16, &ca->ocsp_sealed_key, &ca->ocsp_sealed_len);
    store_sqlite_text(st, 17, ca->service_key_type, sizeof ca->service_key_type);
    ca->created = sqlite3_column_int64(st, 18);
}

int store_ca_create(store *s, store_ca *ca)
{
    if (db_run(s->d,
               "INSERT INTO cas(owner_id, name, status, key_type, sig_alg, subject, cert_der, "
               "csr_der, chain_der, spki, sealed_key, cps, crl_validity, crl_refresh, "
               "service_key_type, created) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
               "itttttbbbbbtiiti", ca->owner_id, ca->name, ca->status, ca->key_type, ca->sig_alg,
               ca->subject, (const void *)ca->cert_der, ca->cert_len, (const void *)ca->csr_der,
               ca->csr_len, (const void *)ca->chain_der, ca->chain_len, (const void *)ca->spki,
               ca->spki_len, (const void *)(ca->sealed_key ? ca->sealed_key : (uint8_t *)""),
               ca->sealed_len, ca->cps ? ca->cps : "", ca->crl_validity_s, ca->crl_refresh_s,
               ca->service_key_type[0] ? ca->service_key_type : "ec-p256", ca->created) != 1)
        return store_sqlite_fail(s);
    ca->id = db_last_insert_id(s->d);
    return STORE_OK;
}

int store_ca_set_key(store *s, int64_t ca_id, const uint8_t *sealed, size_t len)
{
    int n = db_run(s->d, "UPDATE cas SET sealed_key=? WHERE id=?", "bi", (const void *)sealed, len,
                   ca_id);
    return n < 0 ? store_sqlite_fail(s) : n == 0 ? STORE_NOT_FOUND : STORE_OK;
}

int store_ca_set_spki(store *s, int64_t ca_id, const uint8_t *spki, size_t len, const char *sig_alg)
{
    int n = db_run(s->d, "UPDATE cas SET spki=?, sig_alg=? WHERE id=?", "bti", (const void *)spki,
                   len, sig_alg, ca_id);
    return n < 0 ? store_sqlite_fail(s) : n == 0 ? STORE_NOT_FOUND : STORE_OK;
}

int store_ca_get(store *s, int64_t user_id, int64_t ca_id, store_ca *out)
{
    sqlite3_stmt *st = db_query(s->d, "SELECT " CA_COLS " FROM cas WHERE id=?1 AND " CA_VISIBLE,
                                "ii", ca_id, user_id);
    int rc = store_sqlite_row(st);
    if (rc == STORE_OK) {
        ca_row(st, out);
        db_done(st);
    }
    return rc;
}

int store_ca_list(store *s, int64_t user_id, store_ca_fn fn, void *ctx)
{
    sqlite3_stmt *st =
        db_query(s->d, "SELECT " CA_COLS " FROM cas WHERE ?1=?1 AND " CA_VISIBLE " ORDER BY id",
                 "ii", (int64_t)0, user_id);
    if (!st)
        return STORE_ERROR;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_ca ca;
        ca_row(st, &ca);
        int stop = fn(ctx, &ca);
        store_ca_clear(&ca);
        if (stop)
            break;
    }
    db_done(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : STORE_ERROR;
}

int store_ca_update(store *s, const store_ca *ca)
{
    int n = db_run(s->d,
                   "UPDATE cas SET status=?, subject=?, cert_der=?, chain_der=?, cps=?, "
                   "crl_validity=?, crl_refresh=?, ocsp_cert_id=?, ocsp_sealed_key=?, "
                   "service_key_type=?, name=? WHERE id=?",
                   "ttbbtiiibtti", ca->status, ca->subject, (const void *)ca->cert_der,
                   ca->cert_len, (const void *)ca->chain_der, ca->chain_len, ca->cps ? ca->cps : "",
                   ca->crl_validity_s, ca->crl_refresh_s, ca->ocsp_cert_id,
                   (const void *)ca->ocsp_sealed_key, ca->ocsp_sealed_len, ca->service_key_type,
                   ca->name, ca->id);
    return n < 0 ? store_sqlite_fail(s) : n == 0 ? STORE_NOT_FOUND : STORE_OK;
}

int store_ca_delete(store *s, int64_t ca_id)
{
    int n = db_run(s->d, "DELETE FROM cas WHERE id=?", "i", ca_id);
    return n < 0 ? store_sqlite_fail(s) : n == 0 ? STORE_NOT_FOUND : STORE_OK;
}

int store_ca_ids(store *s, int64_t **ids, size_t *count)
{
    sqlite3_stmt *st = db_query(s->d, "SELECT id FROM cas ORDER BY id", "");
    if (!st)
        return STORE_ERROR;
    size_t n = 0, cap = 16;
    int64_t *v = malloc(cap * sizeof *v);
    int rc = SQLITE_DONE;
    bool ok = v != NULL;
    while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            int64_t *nv = realloc(v, (cap *= 2) * sizeof *v);
            if (!nv) {
                ok = false;
                break;
            }
            v = nv;
        }
        v[n++] = sqlite3_column_int64(st, 0);
    }
    db_done(st);
    if (!ok || rc != SQLITE_DONE) {
        free(v);
        return STORE_ERROR;
    }
    *ids = v;
    *count = n;
    return STORE_OK;
}

int store_crl_get(store *s, int64_t ca_id, uint8_t **der, size_t *len, int64_t *next_update,
                  int64_t *changes)
{
    sqlite3_stmt *st = db_query(
        s->d, "SELECT crl_der, crl_next_update, crl_dirty FROM cas WHERE id=?", "i", ca_id);
    int rc = store_sqlite_row(st);
    if (rc != STORE_OK)
        return rc;
    blob(st, 0, der, len);
    *next_update = sqlite3_column_int64(st, 1);
    *changes = sqlite3_column_int64(st, 2);
    db_done(st);
    return STORE_OK;
}

int store_crl_next_number(store *s, int64_t ca_id, int64_t *number)
{
    if (db_run(s->d, "UPDATE cas SET crl_number=crl_number+1 WHERE id=?", "i", ca_id) != 1)
        return store_sqlite_fail(s);
    sqlite3_stmt *st = db_query(s->d, "SELECT crl_number FROM cas WHERE id=?", "i", ca_id);
    int rc = store_sqlite_row(st);
    if (rc == STORE_OK) {
        *number = sqlite3_column_int64(st, 0);
        db_done(st);
    }
    return rc;
}

int store_crl_save(store *s, int64_t ca_id, const uint8_t *der, size_t len, int64_t next_update,
                   int64_t changes_seen)
{
    int n = db_run(s->d,
                   "UPDATE cas SET crl_der=?, crl_next_update=?, "
                   "crl_dirty=CASE WHEN crl_dirty=? THEN 0 ELSE crl_dirty END WHERE id=?",
                   "biii", (const void *)der, len, next_update, changes_seen, ca_id);
    return n < 0 ? store_sqlite_fail(s) : n == 0 ? STORE_NOT_FOUND : STORE_OK;
}

int store_crl_mark_dirty(store *s, int64_t ca_id)
{
    return db_run(s->d, "UPDATE cas SET crl_dirty=crl_dirty+1 WHERE id=?", "i", ca_id) < 0
               ? store_sqlite_fail(s)
               : STORE_OK;
}
