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

struct agent_state {
    sqlite3 *db;
    pthread_mutex_t lock;
};

static const char SCHEMA[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS settings(name TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS slots(serial INTEGER NOT NULL, slot TEXT NOT NULL,"
    " record TEXT NOT NULL, updated TEXT NOT NULL, PRIMARY KEY(serial, slot));"
    "CREATE TABLE IF NOT EXISTS audit(id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,"
    " actor TEXT NOT NULL, event TEXT NOT NULL, serial INTEGER, slot TEXT, detail TEXT);";

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
    return st;
}

void agent_state_close(agent_state *st)
{
    if (!st)
        return;
    sqlite3_close(st->db);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

/* Runs one statement with text/int64 bindings given as a format: 't' text, 'i' int64.
 * When out is non-NULL, copies the first column of the first row. */
static int exec1(agent_state *st, const char *sql, const char *fmt, char **out, ...)
{
    va_list ap;
    va_start(ap, out);
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
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->lock);
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

int agent_state_set(agent_state *st, const char *name, const char *value)
{
    return exec1(st,
                 "INSERT INTO settings(name,value) VALUES(?,?) ON CONFLICT(name) DO UPDATE "
                 "SET value=excluded.value",
                 "tt", NULL, name, value);
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
    return rc;
}

int agent_state_slot_delete(agent_state *st, uint32_t serial, const char *slot)
{
    return exec1(st, "DELETE FROM slots WHERE serial=? AND slot=?", "it", NULL, (int64_t)serial,
                 slot);
}

int agent_state_audit(agent_state *st, const char *actor, const char *event, uint32_t serial,
                      const char *slot, const char *detail)
{
    char now[32];
    now_text(now);
    return exec1(st, "INSERT INTO audit(at,actor,event,serial,slot,detail) VALUES(?,?,?,?,?,?)",
                 "tttitt", NULL, now, actor, event, (int64_t)serial, slot, detail);
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
