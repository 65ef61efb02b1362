/* Config loading: the schema decides what is accepted, and every refusal names the line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"

static const pki_cfg_key SCHEMA[] = {
    {"name", PKI_CFG_STRING, true, NULL, "a name"},
    {"count", PKI_CFG_INT, false, "3", "a number"},
    {"enabled", PKI_CFG_BOOL, false, "false", "a switch"},
    {"http", PKI_CFG_GROUP, false, NULL, "a group"},
    {"http.port", PKI_CFG_INT, false, "8443", "a port"},
    {"allow", PKI_CFG_STRING_LIST, false, NULL, "a list"},
};
#define N (sizeof SCHEMA / sizeof SCHEMA[0])

static void test_valid_config_and_defaults(void **state)
{
    (void)state;
    pki_config cfg;
    char err[256] = "";
    const char *text = "name = \"relay\";\n"
                       "http = { port = 9000; };\n"
                       "allow = [\"certificate\", \"crl\"];\n";
    assert_int_equal(pki_config_load_string(&cfg, text, SCHEMA, N, err, sizeof err), 0);
    assert_string_equal(pki_config_string(&cfg, "name", NULL), "relay");
    assert_int_equal(pki_config_int(&cfg, "http.port", 1), 9000);
    assert_int_equal(pki_config_int(&cfg, "count", 3), 3);
    assert_false(pki_config_bool(&cfg, "enabled", false));
    assert_int_equal(pki_config_list_len(&cfg, "allow"), 2);
    assert_string_equal(pki_config_list_item(&cfg, "allow", 1), "crl");
    pki_config_free(&cfg);
}

static void expect_error(const char *text, const char *expected)
{
    pki_config cfg;
    char err[256] = "";
    assert_int_equal(pki_config_load_string(&cfg, text, SCHEMA, N, err, sizeof err), -1);
    if (!strstr(err, expected))
        fail_msg("error '%s' does not contain '%s'", err, expected);
    pki_config_free(&cfg);
}

static void test_unknown_key_names_line(void **state)
{
    (void)state;
    expect_error("name = \"x\";\n\nhttp = {\n  prot = 1;\n};\n",
                 "<string>:4: unknown key 'http.prot'");
    expect_error("name = \"x\";\nnmae = \"y\";\n", ":2: unknown key 'nmae'");
}

static void test_wrong_type_names_line(void **state)
{
    (void)state;
    expect_error("name = \"x\";\ncount = \"three\";\n", ":2: 'count' must be a integer");
    expect_error("name = \"x\";\nallow = [1, 2];\n", ":2: 'allow' must be a list of strings");
    expect_error("name = \"x\";\nhttp = 5;\n", ":2: 'http' must be a group");
}

static void test_missing_required_and_syntax_error(void **state)
{
    (void)state;
    expect_error("count = 1;\n", "missing required key 'name'");
    expect_error("name = \"x\"\ncount = ;\n", ":2: syntax error");
}

static void test_file_errors_name_the_file(void **state)
{
    (void)state;
    char path[] = "/tmp/pki-test-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("name = \"x\";\nbogus = 1;\n", f);
    fclose(f);
    pki_config cfg;
    char err[512] = "";
    assert_int_equal(pki_config_load(&cfg, path, SCHEMA, N, err, sizeof err), -1);
    char want[600];
    snprintf(want, sizeof want, "%s:2: unknown key 'bogus'", path);
    assert_string_equal(err, want);
    remove(path);
    assert_int_equal(pki_config_load(&cfg, "/nonexistent/pki.conf", SCHEMA, N, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "/nonexistent/pki.conf: cannot open"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_config_and_defaults),
        cmocka_unit_test(test_unknown_key_names_line),
        cmocka_unit_test(test_wrong_type_names_line),
        cmocka_unit_test(test_missing_required_and_syntax_error),
        cmocka_unit_test(test_file_errors_name_the_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
