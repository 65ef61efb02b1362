/* The replay cache: request ids remembered until their message expires, in a SQLite file of
 * its own (lib/db), so a restart does not reopen the window for a captured message. */
#include "link/link.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "db/db.h"

struct link_replay {
    db *d;
    pthread_mutex_t lock; /* a db handle belongs to one thread at a time */
    int64_t last_purge;
};

static const db_migration STEPS[] = {
    {1, "CREATE TABLE link_replay ("
        " sender TEXT NOT NULL, type INTEGER NOT NULL, request_id BLOB NOT NULL,"
        " expires INTEGER NOT NULL, PRIMARY KEY (sender, type, request_id)) WITHOUT ROWID;"
        "CREATE INDEX link_replay_expires ON link_replay (expires);"},
};

link_replay *link_replay_open(const char *path, char *err, size_t errlen)
{
    link_replay *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->d = db_open(path, 5000, err, errlen);
    if (!r->d || db_migrate(r->d, STEPS, sizeof STEPS / sizeof STEPS[0], err, errlen)) {
        db_close(r->d);
        free(r);
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

void link_replay_close(link_replay *r)
{
    if (!r)
        return;
    db_close(r->d);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

int link_replay_check(link_replay *r, const char *sender, int type, const uint8_t id[LINK_ID_LEN],
                      int64_t expires, int64_t now)
{
    int rc;
    pthread_mutex_lock(&r->lock);
    if (now - r->last_purge >= 60) {
        /* Once a minute: entries whose message could no longer pass the expiry check. */
        if (db_run(r->d, "DELETE FROM link_replay WHERE expires < ?", "i", now) >= 0)
            r->last_purge = now;
    }
    int n =
        db_run(r->d, "INSERT INTO link_replay (sender, type, request_id, expires) VALUES (?,?,?,?)",
               "tIbi", sender, type, (const void *)id, (size_t)LINK_ID_LEN, expires);
    if (n == 1)
        rc = LINK_OK;
    else if (n < 0 && db_last_was_conflict(r->d))
        rc = LINK_ERR_REPLAY;
    else
        rc = LINK_ERR_INTERNAL;
    pthread_mutex_unlock(&r->lock);
    return rc;
}

long link_replay_count(link_replay *r)
{
    long n = -1;
    pthread_mutex_lock(&r->lock);
    sqlite3_stmt *st = db_query(r->d, "SELECT count(*) FROM link_replay", "");
    if (st && sqlite3_step(st) == SQLITE_ROW)
        n = (long)sqlite3_column_int64(st, 0);
    if (st)
        db_done(st);
    pthread_mutex_unlock(&r->lock);
    return n;
}
