/* SQLite helpers: open in WAL mode with a busy timeout, versioned migrations, transactions and
 * prepared-statement conveniences.
 *
 * This is plumbing for store implementations (relay/store/, the agent's state): business logic
 * never sees SQL. A db handle belongs to one thread at a time; open one per thread that needs
 * it (WAL lets readers and one writer work side by side). */
#ifndef PKI_DB_H
#define PKI_DB_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct db db;

/* One schema step. Versions start at 1 and increase by one; sql may hold several statements. */
typedef struct {
    int version;
    const char *sql;
} db_migration;

/* Opens (creating, mode 0600) the database at path: WAL journal, synchronous=NORMAL (durable
 * across a process crash; a power loss may lose the last commits, never corrupt), foreign keys
 * on, busy timeout busy_ms. ":memory:" works for tests. NULL with a message in err on failure. */
db *db_open(const char *path, int busy_ms, char *err, size_t errlen);
void db_close(db *d);
sqlite3 *db_handle(db *d);

/* Applies every migration newer than the schema's user_version, each in its own transaction
 * (a failing step leaves the previous version intact). Refuses a database whose version is
 * newer than the last migration (a downgrade). 0, or -1 with a message. */
int db_migrate(db *d, const db_migration *steps, size_t n, char *err, size_t errlen);
/* The schema version (PRAGMA user_version), -1 on error. */
int db_schema_version(db *d);

/* Transactions. begin takes the write lock at once (BEGIN IMMEDIATE) so a transaction never
 * fails half-way on a lock upgrade. Nested begin is an error. 0, or -1. */
int db_begin(db *d);
int db_commit(db *d);
void db_rollback(db *d);
/* Runs fn inside a transaction: commits when fn returns 0, rolls back otherwise. Returns fn's
 * result (or -1 when begin/commit failed). */
int db_tx(db *d, int (*fn)(db *d, void *arg), void *arg);

/* Executes SQL without results (DDL, PRAGMA). 0, or -1. */
int db_exec(db *d, const char *sql);

/* A cached prepared statement for sql (keyed by the SQL text), reset and with bindings
 * cleared. Do not finalize it; the db owns it. NULL on a prepare error (logged). */
sqlite3_stmt *db_stmt(db *d, const char *sql);

/* Binds parameters by a type string, one character per parameter:
 *   'i' int64_t   'I' int (promoted)   't' const char * (NULL binds NULL)
 *   'b' const void *, size_t (a blob; NULL binds NULL)   'n' no argument, binds NULL
 * e.g. db_bind(st, "itb", (int64_t)id, name, blob, len). 0, or -1. */
int db_bind(sqlite3_stmt *st, const char *types, ...);

/* Prepares (cached), binds and steps to completion: INSERT/UPDATE/DELETE. Returns the number of
 * changed rows, or -1 on error (constraint violations included; see db_last_error). */
int db_run(db *d, const char *sql, const char *types, ...);
/* Prepares (cached) and binds a query; step it with sqlite3_step. NULL on error. A query left
 * before SQLITE_DONE keeps its read snapshot open: call db_done when stopping early. */
sqlite3_stmt *db_query(db *d, const char *sql, const char *types, ...);
void db_done(sqlite3_stmt *st);

int64_t db_last_insert_id(db *d);
/* The SQLite extended result code and message of the last failure on this handle. */
int db_last_errcode(db *d);
const char *db_last_error(db *d);
/* Whether the last failure was a UNIQUE / PRIMARY KEY conflict. */
bool db_last_was_conflict(db *d);

/* Column helpers that treat NULL as "" / 0 and copy out of SQLite's buffers.
 * db_col_strdup returns malloc'd text (NULL only on OOM or a NULL column). */
char *db_col_strdup(sqlite3_stmt *st, int col);
/* Blob column into a malloc'd buffer; *len set. 0, or -1 (NULL column or OOM). */
int db_col_blob(sqlite3_stmt *st, int col, uint8_t **out, size_t *len);

#endif
