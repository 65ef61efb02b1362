/* SQLite helpers: connection set-up, migrations, transactions, cached statements. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/db.h"
#include "log/log.h"

typedef struct {
    const char *sql; /* owned copy */
    sqlite3_stmt *st;
} cached;

struct db {
    sqlite3 *h;
    cached *cache;
    size_t ncache, capcache;
    bool in_tx;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

db *db_open(const char *path, int busy_ms, char *err, size_t errlen)
{
    if (strcmp(path, ":memory:") != 0) {
        /* Create the file 0600 ourselves: SQLite would use the umask. Only when it is missing:
         * close() on any descriptor of a file drops every POSIX lock this process holds on it,
         * so reopening an existing database here would silently release the locks of the
         * process's other connections (and another process could then delete their WAL). */
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
        else if (errno != EEXIST) {
            set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
            return NULL;
        }
    }
    db *d = calloc(1, sizeof *d);
    if (!d) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    int rc = sqlite3_open_v2(
        path, &d->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        set_err(err, errlen, "%s: %s", path, d->h ? sqlite3_errmsg(d->h) : sqlite3_errstr(rc));
        sqlite3_close(d->h);
        free(d);
        return NULL;
    }
    sqlite3_extended_result_codes(d->h, 1);
    sqlite3_busy_timeout(d->h, busy_ms > 0 ? busy_ms : 5000);
    const char *setup = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                        "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;";
    char *msg = NULL;
    if (sqlite3_exec(d->h, setup, NULL, NULL, &msg) != SQLITE_OK) {
        set_err(err, errlen, "%s: %s", path, msg ? msg : "setup failed");
        sqlite3_free(msg);
        db_close(d);
        return NULL;
    }
    return d;
}

void db_close(db *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->ncache; i++) {
        sqlite3_finalize(d->cache[i].st);
        free((void *)d->cache[i].sql);
    }
    free(d->cache);
    sqlite3_close(d->h);
    free(d);
}

sqlite3 *db_handle(db *d)
{
    return d->h;
}

int db_exec(db *d, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(d->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        pki_err("database: %s", msg ? msg : sqlite3_errmsg(d->h));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int db_schema_version(db *d)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(d->h, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

int db_migrate(db *d, const db_migration *steps, size_t n, char *err, size_t errlen)
{
    int cur = db_schema_version(d);
    if (cur < 0) {
        set_err(err, errlen, "cannot read the schema version: %s", sqlite3_errmsg(d->h));
        return -1;
    }
    int last = n ? steps[n - 1].version : 0;
    if (cur > last) {
        if (err)
            snprintf(err, errlen,
                     "database schema version %d is newer than this program knows (%d)", cur, last);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (steps[i].version != (int)i + 1) {
            if (err)
                snprintf(err, errlen, "migration %zu has version %d, expected %zu", i,
                         steps[i].version, i + 1);
            return -1;
        }
        if (steps[i].version <= cur)
            continue;
        char *msg = NULL;
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d;", steps[i].version);
        if (sqlite3_exec(d->h, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(d->h, steps[i].sql, NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(d->h, pragma, NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(d->h, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
            if (err)
                snprintf(err, errlen, "migration to version %d failed: %s", steps[i].version,
                         msg ? msg : sqlite3_errmsg(d->h));
            sqlite3_free(msg);
            sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
        pki_info("database schema migrated to version %d", steps[i].version);
    }
    return 0;
}

int db_begin(db *d)
{
    if (d->in_tx) {
        pki_err("database: nested transaction");
        return -1;
    }
    if (db_exec(d, "BEGIN IMMEDIATE") != 0)
        return -1;
    d->in_tx = true;
    return 0;
}

int db_commit(db *d)
{
    if (!d->in_tx)
        return -1;
    if (db_exec(d, "COMMIT") != 0) {
        db_rollback(d);
        return -1;
    }
    d->in_tx = false;
    return 0;
}

void db_rollback(db *d)
{
    if (!d->in_tx)
        return;
    sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
    d->in_tx = false;
}

int db_tx(db *d, int (*fn)(db *d, void *arg), void *arg)
{
    if (db_begin(d) != 0)
        return -1;
    int rc = fn(d, arg);
    if (rc != 0) {
        db_rollback(d);
        return rc;
    }
    return db_commit(d);
}

sqlite3_stmt *db_stmt(db *d, const char *sql)
{
    for (size_t i = 0; i < d->ncache; i++) {
        if (d->cache[i].sql == sql || strcmp(d->cache[i].sql, sql) == 0) {
            sqlite3_reset(d->cache[i].st);
            sqlite3_clear_bindings(d->cache[i].st);
            return d->cache[i].st;
        }
    }
    if (d->ncache == d->capcache) {
        size_t cap = d->capcache ? d->capcache * 2 : 32;
        cached *c = realloc(d->cache, cap * sizeof *c);
        if (!c)
            return NULL;
        d->cache = c;
        d->capcache = cap;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(d->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        pki_err("database: cannot prepare statement: %s", sqlite3_errmsg(d->h));
        return NULL;
    }
    char *copy = strdup(sql);
    if (!copy) {
        sqlite3_finalize(st);
        return NULL;
    }
    d->cache[d->ncache].sql = copy;
    d->cache[d->ncache].st = st;
    d->ncache++;
    return st;
}

static int bind_va(sqlite3_stmt *st, const char *types, va_list ap)
{
    int idx = 1;
    for (const char *t = types ? types : ""; *t; t++, idx++) {
        int rc;
        switch (*t) {
        case 'i':
            rc = sqlite3_bind_int64(st, idx, va_arg(ap, int64_t));
            break;
        case 'I':
            rc = sqlite3_bind_int(st, idx, va_arg(ap, int));
            break;
        case 't': {
            const char *s = va_arg(ap, const char *);
            rc = s ? sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT)
                   : sqlite3_bind_null(st, idx);
            break;
        }
        case 'b': {
            const void *p = va_arg(ap, const void *);
            size_t len = va_arg(ap, size_t);
            if (len > 0x7fffffff)
                return -1;
            rc = p ? sqlite3_bind_blob(st, idx, p, (int)len, SQLITE_TRANSIENT)
                   : sqlite3_bind_null(st, idx);
            break;
        }
        case 'n':
            rc = sqlite3_bind_null(st, idx);
            break;
        default:
            return -1;
        }
        if (rc != SQLITE_OK)
            return -1;
    }
    return 0;
}

int db_bind(sqlite3_stmt *st, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    int rc = bind_va(st, types, ap);
    va_end(ap);
    return rc;
}

int db_run(db *d, const char *sql, const char *types, ...)
{
    sqlite3_stmt *st = db_stmt(d, sql);
    if (!st)
        return -1;
    va_list ap;
    va_start(ap, types);
    int rc = bind_va(st, types, ap);
    va_end(ap);
    if (rc != 0)
        return -1;
    int s = sqlite3_step(st);
    while (s == SQLITE_ROW)
        s = sqlite3_step(st);
    int changes = sqlite3_changes(d->h);
    sqlite3_reset(st);
    if (s != SQLITE_DONE)
        return -1;
    return changes;
}

sqlite3_stmt *db_query(db *d, const char *sql, const char *types, ...)
{
    sqlite3_stmt *st = db_stmt(d, sql);
    if (!st)
        return NULL;
    va_list ap;
    va_start(ap, types);
    int rc = bind_va(st, types, ap);
    va_end(ap);
    return rc == 0 ? st : NULL;
}

void db_done(sqlite3_stmt *st)
{
    if (st)
        sqlite3_reset(st);
}

int64_t db_last_insert_id(db *d)
{
    return sqlite3_last_insert_rowid(d->h);
}

int db_last_errcode(db *d)
{
    return sqlite3_extended_errcode(d->h);
}

const char *db_last_error(db *d)
{
    return sqlite3_errmsg(d->h);
}

bool db_last_was_conflict(db *d)
{
    int c = sqlite3_extended_errcode(d->h);
    return c == SQLITE_CONSTRAINT_UNIQUE || c == SQLITE_CONSTRAINT_PRIMARYKEY;
}

char *db_col_strdup(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    if (!t)
        return NULL;
    return strdup((const char *)t);
}

int db_col_blob(sqlite3_stmt *st, int col, uint8_t **out, size_t *len)
{
    const void *p = sqlite3_column_blob(st, col);
    int n = sqlite3_column_bytes(st, col);
    if (!p && n == 0) {
        if (sqlite3_column_type(st, col) == SQLITE_NULL)
            return -1;
    }
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    if (!b)
        return -1;
    if (n > 0)
        memcpy(b, p, (size_t)n);
    *out = b;
    *len = (size_t)n;
    return 0;
}
