/* Internal to the SQLite store: the handle and the schema steps. */
#ifndef RELAY_STORE_SQLITE_H
#define RELAY_STORE_SQLITE_H

#include "db/db.h"
#include "store/store.h"

struct store {
    db *d;
};

extern const db_migration STORE_MIGRATIONS[];
extern const size_t STORE_MIGRATIONS_LEN;

/* Maps the last db failure to STORE_CONFLICT or STORE_ERROR. */
int store_sqlite_fail(store *s);
/* Steps a single-row query; STORE_OK with the row current, STORE_NOT_FOUND, or STORE_ERROR. */
int store_sqlite_row(sqlite3_stmt *st);
/* Hands each row (serial, revoked_at, reason) of a prepared revocation query to fn, until fn
 * returns non-zero; finishes the statement. STORE_OK or STORE_ERROR (also when st is NULL). */
int store_sqlite_each_revoked(sqlite3_stmt *st, store_revoked_fn fn, void *ctx);
/* Copies a text column into a fixed buffer (truncating safely). */
void store_sqlite_text(sqlite3_stmt *st, int col, char *out, size_t outlen);

#endif
