/* lib/daemon/status: the STATUS= line and the status file that `iothsmctl status` and
 * `pki-relay status` print. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/status.h"

static char g_dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/ops-status-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    return pki_status_init("testd", g_dir);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    pki_status_shutdown();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *read_file(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Runs pki_status_print into a buffer; returns its exit code. */
static int print_status(char *out, size_t len, int as_json)
{
    FILE *f = fmemopen(out, len, "w");
    assert_non_null(f);
    int rc = pki_status_print(f, "testd", g_dir, as_json);
    fclose(f);
    return rc;
}

static void test_line_in_first_set_order(void **state)
{
    (void)state;
    char line[256];
    pki_status_line(line, sizeof line);
    assert_string_equal(line, "running");
    pki_status_set("link", "linked to %s", "relay.example");
    pki_status_count("keys", 2, "YubiKey", "YubiKeys");
    pki_status_count("slots", 1, "slot provisioned", "slots provisioned");
    pki_status_add("errors", 0, "error", "errors");
    pki_status_line(line, sizeof line);
    assert_string_equal(line, "linked to relay.example, 2 YubiKeys, 1 slot provisioned, 0 errors");
    /* Updating keeps the position; adding counts. */
    pki_status_count("keys", 1, "YubiKey", "YubiKeys");
    pki_status_add("errors", 1, "error", "errors");
    pki_status_add("errors", 2, "error", "errors");
    pki_status_line(line, sizeof line);
    assert_string_equal(line, "linked to relay.example, 1 YubiKey, 1 slot provisioned, 3 errors");
    pki_status_clear("link");
    pki_status_line(line, sizeof line);
    assert_string_equal(line, "1 YubiKey, 1 slot provisioned, 3 errors");
}

static void test_long_line_is_cut_not_overflowed(void **state)
{
    (void)state;
    char big[300];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (int i = 0; i < 20; i++) { /* more items than the table holds: the rest are dropped */
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        pki_status_set(key, "%s", big);
    }
    char line[64];
    size_t n = pki_status_line(line, sizeof line);
    assert_int_equal(n, strlen(line));
    assert_true(n < sizeof line);
    for (int i = 0; i < 20; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        pki_status_clear(key);
    }
}

static void test_file_and_print(void **state)
{
    (void)state;
    char out[4096];
    assert_int_equal(print_status(out, sizeof out, 0), 4); /* nothing published yet */
    assert_non_null(strstr(out, "no status yet"));

    pki_status_count("keys", 2, "YubiKey", "YubiKeys");
    pki_status_publish();
    const char *file = read_file("status.json");
    assert_non_null(file);
    assert_non_null(strstr(file, "\"state\": \"running\""));
    assert_non_null(strstr(file, "\"status\": \"2 YubiKeys\""));
    assert_null(read_file("status.json.tmp")); /* renamed into place, nothing left over */

    assert_int_equal(print_status(out, sizeof out, 0), 0);
    assert_non_null(strstr(out, "testd: running"));
    assert_non_null(strstr(out, "2 YubiKeys"));
    assert_int_equal(print_status(out, sizeof out, 1), 0);
    assert_non_null(strstr(out, "\"verdict\": \"running\""));

    /* A change is published at once. */
    pki_status_count("keys", 1, "YubiKey", "YubiKeys");
    pki_status_publish();
    assert_non_null(strstr(read_file("status.json"), "\"status\": \"1 YubiKey\""));

    pki_status_shutdown();
    assert_int_equal(print_status(out, sizeof out, 0), 3);
    assert_non_null(strstr(out, "stopped cleanly"));
}

static void test_dead_stale_and_garbage(void **state)
{
    (void)state;
    char out[4096], text[512];
    long now = (long)time(NULL);
    /* "running" from a pid that no longer exists: it died without a clean stop. */
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0)
        _exit(0);
    waitpid(child, NULL, 0);
    snprintf(text, sizeof text,
             "{\"daemon\":\"testd\",\"state\":\"running\",\"pid\":%d,\"updated_unix\":%ld,"
             "\"status\":\"x\",\"items\":[]}",
             (int)child, now);
    write_file("status.json", text);
    assert_int_equal(print_status(out, sizeof out, 0), 3);
    assert_non_null(strstr(out, "without a clean stop"));

    /* Alive but the loop has not refreshed the file for too long: not answering. */
    snprintf(text, sizeof text,
             "{\"daemon\":\"testd\",\"state\":\"running\",\"pid\":%d,\"updated_unix\":%ld,"
             "\"status\":\"x\",\"items\":[]}",
             (int)getpid(), now - PKI_STATUS_STALE_S - 5);
    write_file("status.json", text);
    assert_int_equal(print_status(out, sizeof out, 0), 1);
    assert_non_null(strstr(out, "NOT ANSWERING"));

    write_file("status.json", "{\"daemon\": ");
    assert_int_equal(print_status(out, sizeof out, 0), 4);
    write_file("status.json", "{\"daemon\":\"testd\",\"state\":7}");
    assert_int_equal(print_status(out, sizeof out, 0), 4);
    assert_non_null(strstr(out, "not a status file"));
}

static void test_unusable_state_dir(void **state)
{
    (void)state;
    assert_int_equal(pki_status_init("testd", "/nonexistent/ops-status"), -1);
    pki_status_set("x", "still renders");
    pki_status_publish(); /* no file, no crash */
    char line[64];
    pki_status_line(line, sizeof line);
    assert_string_equal(line, "still renders");
    pki_status_clear("x");
    assert_int_equal(pki_status_init("testd", g_dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_line_in_first_set_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_line_is_cut_not_overflowed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_and_print, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_stale_and_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unusable_state_dir, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
