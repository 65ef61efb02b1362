/* lib/db: WAL set-up, migrations (forward, failing step, downgrade refused), transactions,
 * cached statements and binding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "db/db.h"

static char g_dir[256];
static char g_path[300];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/test_db.XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    snprintf(g_path, sizeof g_path, "%s/t.db", g_dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const db_migration STEPS[] = {
    {1, "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, data BLOB);"},
    {2, "ALTER TABLE t ADD COLUMN n INTEGER DEFAULT 7;"},
};

static void test_open_is_wal_0600_and_migrates(void **state)
{
    (void)state;
    char err[256];
    db *d = db_open(g_path, 1000, err, sizeof err);
    assert_non_null(d);
    struct stat st;
    assert_int_equal(stat(g_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    sqlite3_stmt *q = db_query(d, "PRAGMA journal_mode", "");
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_reset(q);
    assert_int_equal(db_schema_version(d), 0);
    assert_int_equal(db_migrate(d, STEPS, 1, err, sizeof err), 0);
    assert_int_equal(db_schema_version(d), 1);
    assert_int_equal(db_migrate(d, STEPS, 2, err, sizeof err), 0);
    assert_int_equal(db_schema_version(d), 2);
    /* Idempotent. */
    assert_int_equal(db_migrate(d, STEPS, 2, err, sizeof err), 0);
    /* A program knowing only version 1 refuses the newer database. */
    assert_int_equal(db_migrate(d, STEPS, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "newer"));
    db_close(d);
}

static void test_failing_migration_keeps_previous_version(void **state)
{
    (void)state;
    char err[256];
    db *d = db_open(":memory:", 1000, err, sizeof err);
    const db_migration bad[] = {
        STEPS[0],
        {2, "CREATE TABLE u(x); INSERT INTO nosuchtable VALUES(1);"},
    };
    assert_int_equal(db_migrate(d, bad, 2, err, sizeof err), -1);
    assert_non_null(strstr(err, "version 2"));
    assert_int_equal(db_schema_version(d), 1);
    /* Table u from the failed step was rolled back. */
    assert_null(db_query(d, "SELECT * FROM u", ""));
    const db_migration gap[] = {{1, "SELECT 1"}, {3, "SELECT 1"}};
    db *e = db_open(":memory:", 1000, err, sizeof err);
    assert_int_equal(db_migrate(e, gap, 2, err, sizeof err), -1);
    db_close(e);
    db_close(d);
}

static int insert_two(db *d, void *arg)
{
    const char *second = arg;
    if (db_run(d, "INSERT INTO t(name) VALUES(?)", "t", "first") != 1)
        return -1;
    if (db_run(d, "INSERT INTO t(name) VALUES(?)", "t", second) != 1)
        return -1;
    return 0;
}

static void test_transactions_all_or_nothing(void **state)
{
    (void)state;
    char err[256];
    db *d = db_open(":memory:", 1000, err, sizeof err);
    assert_int_equal(db_migrate(d, STEPS, 2, err, sizeof err), 0);
    /* The second insert conflicts with the first: nothing stays. */
    assert_int_equal(db_tx(d, insert_two, "first"), -1);
    sqlite3_stmt *q = db_query(d, "SELECT count(*) FROM t", "");
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 0);
    assert_int_equal(db_tx(d, insert_two, "second"), 0);
    q = db_query(d, "SELECT count(*) FROM t", "");
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 2);
    /* Conflicts are recognisable. */
    assert_int_equal(db_run(d, "INSERT INTO t(name) VALUES(?)", "t", "first"), -1);
    assert_true(db_last_was_conflict(d));
    /* Nested begin is refused, the outer transaction still works. */
    assert_int_equal(db_begin(d), 0);
    assert_int_equal(db_begin(d), -1);
    db_rollback(d);
    db_close(d);
}

static void test_bind_types_and_columns(void **state)
{
    (void)state;
    char err[256];
    db *d = db_open(":memory:", 1000, err, sizeof err);
    assert_int_equal(db_migrate(d, STEPS, 2, err, sizeof err), 0);
    const uint8_t blob[] = {0, 1, 2, 0xff};
    assert_int_equal(db_run(d, "INSERT INTO t(id, name, data, n) VALUES(?,?,?,?)", "itbI",
                            (int64_t)1 << 40, "big", blob, sizeof blob, 5),
                     1);
    assert_int_equal(db_last_insert_id(d), (int64_t)1 << 40);
    assert_int_equal(db_run(d, "INSERT INTO t(name, data, n) VALUES(?,?,?)", "tbn", "nulls",
                            (const void *)NULL, (size_t)0),
                     1);
    sqlite3_stmt *q = db_query(d, "SELECT name, data, n FROM t WHERE id=?", "i", (int64_t)1 << 40);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    char *name = db_col_strdup(q, 0);
    assert_string_equal(name, "big");
    free(name);
    uint8_t *b;
    size_t len;
    assert_int_equal(db_col_blob(q, 1, &b, &len), 0);
    assert_int_equal(len, 4);
    assert_memory_equal(b, blob, 4);
    free(b);
    assert_int_equal(sqlite3_column_int(q, 2), 5);
    q = db_query(d, "SELECT data, n FROM t WHERE name=?", "t", "nulls");
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(db_col_blob(q, 0, &b, &len), -1);
    assert_int_equal(sqlite3_column_type(q, 1), SQLITE_NULL);
    /* The same SQL text reuses one cached statement. */
    sqlite3_stmt *a = db_stmt(d, "SELECT 1");
    sqlite3_stmt *c = db_stmt(d, "SELECT 1");
    assert_ptr_equal(a, c);
    assert_null(db_stmt(d, "SELEC nonsense"));
    assert_int_equal(db_run(d, "UPDATE t SET n=? WHERE name=?", "x", 1), -1); /* bad type */
    assert_int_equal(db_run(d, "UPDATE t SET n=? WHERE name=?", "It", 9, "nobody"), 0);
    db_close(d);
}

static void test_second_connection_sees_commits(void **state)
{
    (void)state;
    char err[256];
    unlink(g_path);
    db *a = db_open(g_path, 2000, err, sizeof err);
    db *b = db_open(g_path, 2000, err, sizeof err);
    assert_int_equal(db_migrate(a, STEPS, 2, err, sizeof err), 0);
    assert_int_equal(db_migrate(b, STEPS, 2, err, sizeof err), 0);
    assert_int_equal(db_run(a, "INSERT INTO t(name) VALUES(?)", "t", "x"), 1);
    sqlite3_stmt *q = db_query(b, "SELECT count(*) FROM t", "");
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 1);
    sqlite3_reset(q);
    db_close(a);
    db_close(b);
    assert_null(db_open("/nonexistent-dir/x.db", 100, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent-dir/x.db"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_is_wal_0600_and_migrates),
        cmocka_unit_test(test_failing_migration_keeps_previous_version),
        cmocka_unit_test(test_transactions_all_or_nothing),
        cmocka_unit_test(test_bind_types_and_columns),
        cmocka_unit_test(test_second_connection_sees_commits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
