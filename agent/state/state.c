#include "state/state.h"

#include <fcntl.h>
#include <stdarg.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/log.h"
#include "util/timefmt.h"

/* Durability (group commit). The database runs with synchronous=NORMAL: a commit reaches the
 * operating system at once (a crash of the agent loses nothing) and the WAL is made durable by
 * the flusher thread, one fdatasync for every commit made meanwhile. A caller that must not go
 * on before its change survives a power cut waits for it (agent_state_wait_durable); every
 * call of this interface except agent_state_audit_begin/_finish does so before it returns.
 * The point is the link's signatures: the worker begins the audit entry, asks the card and
 * seals the answer while the flusher syncs, and sends only once the entry is durable: the same
 * guarantee as an fdatasync per commit (synchronous=FULL), with the work and the sync
 * overlapped. */
struct agent_state {
    sqlite3 *db;
    pthread_mutex_t lock;
    char *wal_path;
    pthread_mutex_t flush_lock; /* the fields below */
    pthread_cond_t dirty, synced;
    uint64_t committed, durable; /* commit counts: made, and known durable */
    int flush_failed;            /* an fdatasync failed: no wait succeeds any more */
    int stop, have_flusher;
    pthread_t flusher;
};

static const char SCHEMA[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS settings(name TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS slots(serial INTEGER NOT NULL, slot TEXT NOT NULL,"
    " record TEXT NOT NULL, updated TEXT NOT NULL, PRIMARY KEY(serial, slot));"
    "CREATE TABLE IF NOT EXISTS audit(id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,"
    " actor TEXT NOT NULL, event TEXT NOT NULL, serial INTEGER, slot TEXT, detail TEXT);";

/* fdatasync of the WAL: makes every commit so far durable. 0, or -1 (logged). */
static int sync_wal(agent_state *st)
{
    int fd = open(st->wal_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0; /* no WAL (yet): nothing waits in one */
    int rc = fdatasync(fd);
    if (rc != 0)
        pki_err("state: fdatasync of %s failed: %m", st->wal_path);
    close(fd);
    return rc == 0 ? 0 : -1;
}

static void *flusher_main(void *arg)
{
    agent_state *st = arg;
    pthread_mutex_lock(&st->flush_lock);
    for (;;) {
        while (!st->stop && st->durable == st->committed)
            pthread_cond_wait(&st->dirty, &st->flush_lock);
        if (st->durable == st->committed)
            break; /* stopping, and nothing left to sync */
        uint64_t target = st->committed;
        pthread_mutex_unlock(&st->flush_lock);
        int rc = sync_wal(st);
        pthread_mutex_lock(&st->flush_lock);
        if (rc == 0)
            st->durable = target;
        else
            st->flush_failed = 1;
        pthread_cond_broadcast(&st->synced);
        if (rc != 0)
            break;
    }
    pthread_mutex_unlock(&st->flush_lock);
    return NULL;
}

/* Counts a commit just made; returns its ticket for agent_state_wait_durable. */
static uint64_t committed(agent_state *st)
{
    pthread_mutex_lock(&st->flush_lock);
    uint64_t ticket = ++st->committed;
    pthread_cond_signal(&st->dirty);
    pthread_mutex_unlock(&st->flush_lock);
    return ticket;
}

bool agent_state_durable_ok(agent_state *st)
{
    pthread_mutex_lock(&st->flush_lock);
    bool ok = !st->flush_failed;
    pthread_mutex_unlock(&st->flush_lock);
    return ok;
}

int agent_state_wait_durable(agent_state *st, uint64_t ticket)
{
    if (ticket == 0)
        return -1;
    pthread_mutex_lock(&st->flush_lock);
    if (!st->have_flusher && st->durable < ticket) {
        /* No flusher thread (it could not be started): sync here. */
        pthread_mutex_unlock(&st->flush_lock);
        int rc = sync_wal(st);
        pthread_mutex_lock(&st->flush_lock);
        if (rc == 0 && st->durable < ticket)
            st->durable = ticket;
    }
    while (st->durable < ticket && !st->flush_failed)
        pthread_cond_wait(&st->synced, &st->flush_lock);
    int ok = st->durable >= ticket;
    pthread_mutex_unlock(&st->flush_lock);
    return ok ? 0 : -1;
}

agent_state *agent_state_open(const char *dir)
{
    char path[1024];
    if (snprintf(path, sizeof path, "%s/agent.db", dir) >= (int)sizeof path) {
        pki_err("state: path too long");
        return NULL;
    }
    /* Create the file 0600 ourselves so SQLite never makes it world-readable. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        pki_err("state: cannot open %s: %m", path);
        return NULL;
    }
    close(fd);
    agent_state *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    pthread_mutex_init(&st->lock, NULL);
    pthread_mutex_init(&st->flush_lock, NULL);
    pthread_cond_init(&st->dirty, NULL);
    pthread_cond_init(&st->synced, NULL);
    char *err = NULL;
    if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_busy_timeout(st->db, 5000) != SQLITE_OK ||
        sqlite3_exec(st->db, SCHEMA, NULL, NULL, &err) != SQLITE_OK) {
        pki_err("state: %s: %s", path, err ? err : sqlite3_errmsg(st->db));
        sqlite3_free(err);
        agent_state_close(st);
        return NULL;
    }
    const char *wal = sqlite3_filename_wal(sqlite3_db_filename(st->db, "main"));
    if (!wal || !(st->wal_path = strdup(wal))) {
        pki_err("state: %s: no WAL file name", path);
        agent_state_close(st);
        return NULL;
    }
    st->have_flusher = pthread_create(&st->flusher, NULL, flusher_main, st) == 0;
    return st;
}

void agent_state_close(agent_state *st)
{
    if (!st)
        return;
    if (st->have_flusher) {
        pthread_mutex_lock(&st->flush_lock);
        st->stop = 1;
        pthread_cond_signal(&st->dirty);
        pthread_mutex_unlock(&st->flush_lock);
        pthread_join(st->flusher, NULL); /* it syncs what is left first */
    }
    sqlite3_close(st->db);
    pthread_mutex_destroy(&st->lock);
    pthread_mutex_destroy(&st->flush_lock);
    pthread_cond_destroy(&st->dirty);
    pthread_cond_destroy(&st->synced);
    free(st->wal_path);
    free(st);
}

/* Runs one statement with text/int64 bindings given as a format: 't' text, 'i' int64.
 * When out is non-NULL, copies the first column of the first row. */
static int exec_v(agent_state *st, const char *sql, const char *fmt, char **out, int64_t *rowid,
                  va_list ap)
{
    pthread_mutex_lock(&st->lock);
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    for (int i = 0; rc == SQLITE_OK && fmt[i]; i++) {
        if (fmt[i] == 't') {
            const char *v = va_arg(ap, const char *);
            rc = v ? sqlite3_bind_text(s, i + 1, v, -1, SQLITE_TRANSIENT)
                   : sqlite3_bind_null(s, i + 1);
        } else {
            rc = sqlite3_bind_int64(s, i + 1, va_arg(ap, int64_t));
        }
    }
    int ret = -1;
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW && out) {
            const unsigned char *t = sqlite3_column_text(s, 0);
            *out = t ? strdup((const char *)t) : NULL;
            ret = *out ? 0 : -1;
        } else if (rc == SQLITE_DONE) {
            ret = out ? 1 : 0;
        } else if (rc == SQLITE_ROW) {
            ret = 0;
        }
    }
    if (ret < 0)
        pki_err("state: %s", sqlite3_errmsg(st->db));
    else if (rowid) /* under the same hold of the lock: no other insert in between */
        *rowid = sqlite3_last_insert_rowid(st->db);
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->lock);
    return ret;
}

static int exec1(agent_state *st, const char *sql, const char *fmt, char **out, ...)
{
    va_list ap;
    va_start(ap, out);
    int ret = exec_v(st, sql, fmt, out, NULL, ap);
    va_end(ap);
    return ret;
}

/* exec1 for an INSERT: the new row's id in *rowid. */
static int insert1(agent_state *st, const char *sql, const char *fmt, int64_t *rowid, ...)
{
    va_list ap;
    va_start(ap, rowid);
    int ret = exec_v(st, sql, fmt, NULL, rowid, ap);
    va_end(ap);
    return ret;
}

char *agent_state_get(agent_state *st, const char *name)
{
    char *v = NULL;
    if (exec1(st, "SELECT value FROM settings WHERE name=?", "t", &v, name) != 0)
        return NULL;
    return v;
}

/* A write's result, once it is durable: 0, or -1. */
static int durable(agent_state *st, int rc)
{
    if (rc != 0)
        return rc;
    return agent_state_wait_durable(st, committed(st));
}

int agent_state_set(agent_state *st, const char *name, const char *value)
{
    return durable(st, exec1(st,
                             "INSERT INTO settings(name,value) VALUES(?,?) ON CONFLICT(name) DO "
                             "UPDATE SET value=excluded.value",
                             "tt", NULL, name, value));
}

static void now_text(char out[32])
{
    if (pki_time_to_rfc3339(pki_now(), out, 32) < 0)
        snprintf(out, 32, "%lld", (long long)pki_now());
}

json_t *agent_state_slot_get(agent_state *st, uint32_t serial, const char *slot)
{
    char *v = NULL;
    if (exec1(st, "SELECT record FROM slots WHERE serial=? AND slot=?", "it", &v, (int64_t)serial,
              slot) != 0)
        return NULL;
    json_t *j = json_loads(v, 0, NULL);
    free(v);
    return j;
}

int agent_state_slot_put(agent_state *st, uint32_t serial, const char *slot, json_t *record)
{
    char *text = json_dumps(record, JSON_COMPACT);
    if (!text)
        return -1;
    char now[32];
    now_text(now);
    int rc = exec1(st,
                   "INSERT INTO slots(serial,slot,record,updated) VALUES(?,?,?,?) "
                   "ON CONFLICT(serial,slot) DO UPDATE SET record=excluded.record, "
                   "updated=excluded.updated",
                   "ittt", NULL, (int64_t)serial, slot, text, now);
    free(text);
    return durable(st, rc);
}

int agent_state_slot_delete(agent_state *st, uint32_t serial, const char *slot)
{
    return durable(st, exec1(st, "DELETE FROM slots WHERE serial=? AND slot=?", "it", NULL,
                             (int64_t)serial, slot));
}

int64_t agent_state_audit_begin(agent_state *st, const char *actor, const char *event,
                                uint32_t serial, const char *slot, const char *detail,
                                uint64_t *ticket)
{
    char now[32];
    now_text(now);
    *ticket = 0;
    int64_t id = 0;
    if (insert1(st, "INSERT INTO audit(at,actor,event,serial,slot,detail) VALUES(?,?,?,?,?,?)",
                "tttitt", &id, now, actor, event, (int64_t)serial, slot, detail) != 0)
        return 0;
    *ticket = committed(st);
    return id;
}

int agent_state_audit_finish(agent_state *st, int64_t id, const char *detail)
{
    if (exec1(st, "UPDATE audit SET detail=? WHERE id=?", "ti", NULL, detail, id) != 0)
        return -1;
    committed(st);
    return 0;
}

int agent_state_audit(agent_state *st, const char *actor, const char *event, uint32_t serial,
                      const char *slot, const char *detail)
{
    uint64_t ticket;
    if (agent_state_audit_begin(st, actor, event, serial, slot, detail, &ticket) == 0)
        return -1;
    return agent_state_wait_durable(st, ticket);
}

json_t *agent_state_audit_list(agent_state *st, int limit)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&st->lock);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT at,actor,event,serial,slot,detail FROM audit "
                           "ORDER BY id DESC LIMIT ?",
                           -1, &s, NULL) == SQLITE_OK &&
        sqlite3_bind_int(s, 1, limit) == SQLITE_OK) {
        while (sqlite3_step(s) == SQLITE_ROW) {
            json_t *e = json_object();
            const char *names[] = {"at", "actor", "event", "serial", "slot", "detail"};
            for (int c = 0; c < 6; c++) {
                if (sqlite3_column_type(s, c) == SQLITE_NULL)
                    continue;
                if (c == 3)
                    json_object_set_new(e, names[c], json_integer(sqlite3_column_int64(s, c)));
                else
                    json_object_set_new(e, names[c],
                                        json_string((const char *)sqlite3_column_text(s, c)));
            }
            json_array_append_new(arr, e);
        }
    }
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->lock);
    return arr;
}
