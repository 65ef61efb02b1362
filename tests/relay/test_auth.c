/* lib/auth: argon2id hashing, tokens, constant-time compare, CSRF, throttling, cookies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/auth.h"

static void test_password_hash_and_verify(void **state)
{
    (void)state;
    char h[AUTH_HASH_MAX], h2[AUTH_HASH_MAX];
    const char *pw = "correct horse battery staple";
    assert_int_equal(auth_password_hash(pw, strlen(pw), h, sizeof h), 0);
    assert_true(strncmp(h, "$argon2id$v=19$", 15) == 0);
    assert_null(strstr(h, pw));
    assert_int_equal(auth_password_verify(h, pw, strlen(pw)), 1);
    assert_int_equal(auth_password_verify(h, "correct horse battery stapl", 27), 0);
    assert_int_equal(auth_password_verify(h, "", 0), 0);
    /* Same password, fresh salt: a different hash that still verifies. */
    assert_int_equal(auth_password_hash(pw, strlen(pw), h2, sizeof h2), 0);
    assert_string_not_equal(h, h2);
    assert_int_equal(auth_password_verify(h2, pw, strlen(pw)), 1);
    /* Malformed or foreign hashes are errors, not matches. */
    assert_int_equal(auth_password_verify("$2b$10$abcdefghijklmnopqrstuv", pw, strlen(pw)), -1);
    assert_int_equal(auth_password_verify("$argon2id$v=19$m=garbage", pw, strlen(pw)), -1);
    assert_int_equal(auth_password_verify("", pw, strlen(pw)), -1);
}

static void test_password_cost_is_recorded_in_hash(void **state)
{
    (void)state;
    char h[AUTH_HASH_MAX];
    auth_password_set_cost(1, 1024);
    assert_int_equal(auth_password_hash("abcdefgh", 8, h, sizeof h), 0);
    assert_non_null(strstr(h, "m=1024,t=1,p=1"));
    auth_password_set_cost(2, 19456);
    /* An old cheaper hash still verifies after the default changed. */
    assert_int_equal(auth_password_verify(h, "abcdefgh", 8), 1);
    assert_int_equal(auth_password_hash("abcdefgh", 8, h, 20), -1); /* buffer too small */
    auth_password_burn("whatever", 8);
}

static void test_password_acceptable(void **state)
{
    (void)state;
    assert_false(auth_password_acceptable("short", 5));
    assert_true(auth_password_acceptable("eight ch", 8));
    assert_false(auth_password_acceptable("with\0nul", 8));
    char *big = malloc(AUTH_PASSWORD_MAX + 2);
    memset(big, 'a', AUTH_PASSWORD_MAX + 1);
    big[AUTH_PASSWORD_MAX + 1] = 0;
    assert_false(auth_password_acceptable(big, AUTH_PASSWORD_MAX + 1));
    assert_true(auth_password_acceptable(big, AUTH_PASSWORD_MAX));
    free(big);
}

static void test_tokens_are_random_and_urlsafe(void **state)
{
    (void)state;
    char a[64], b[64], p[80];
    assert_int_equal(auth_token_new(32, a, sizeof a), 0);
    assert_int_equal(auth_token_new(32, b, sizeof b), 0);
    assert_int_equal(strlen(a), 43);
    assert_string_not_equal(a, b);
    assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                     43);
    assert_int_equal(auth_token_new(32, a, 43), -1); /* no room for NUL */
    assert_int_equal(auth_token_new_prefixed("pkr", 32, p, sizeof p), 0);
    assert_true(strncmp(p, "pkr_", 4) == 0);
    assert_int_equal(strlen(p), 47);
}

static void test_token_digest_is_sha256(void **state)
{
    (void)state;
    char d[AUTH_DIGEST_HEX];
    assert_int_equal(auth_token_digest("abc", d), 0);
    assert_string_equal(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_constant_time_compare(void **state)
{
    (void)state;
    assert_true(auth_ct_equal("abcd", "abcd", 4));
    assert_false(auth_ct_equal("abcd", "abce", 4));
    assert_true(auth_ct_streq("secret", "secret"));
    assert_false(auth_ct_streq("secre", "secret"));
    assert_false(auth_ct_streq("secrets", "secret"));
    assert_false(auth_ct_streq("", "secret"));
    assert_false(auth_ct_streq(NULL, "secret"));
    assert_true(auth_ct_streq("", ""));
}

static void test_csrf_derived_from_session(void **state)
{
    (void)state;
    char s1[64], s2[64], c1[AUTH_CSRF_LEN], c2[AUTH_CSRF_LEN];
    assert_int_equal(auth_token_new(32, s1, sizeof s1), 0);
    assert_int_equal(auth_token_new(32, s2, sizeof s2), 0);
    assert_int_equal(auth_csrf_token(s1, c1), 0);
    assert_int_equal(auth_csrf_token(s2, c2), 0);
    assert_int_equal(strlen(c1), 43);
    assert_string_not_equal(c1, c2);
    assert_true(auth_csrf_check(s1, c1));
    assert_false(auth_csrf_check(s1, c2)); /* another session's token */
    assert_false(auth_csrf_check(s1, NULL));
    assert_false(auth_csrf_check(s1, ""));
    assert_false(auth_csrf_check("", c1));
    assert_true(auth_method_is_unsafe("POST"));
    assert_true(auth_method_is_unsafe("DELETE"));
    assert_true(auth_method_is_unsafe("PATCH"));
    assert_false(auth_method_is_unsafe("GET"));
    assert_false(auth_method_is_unsafe("HEAD"));
}

static void test_throttle_locks_and_doubles(void **state)
{
    (void)state;
    auth_throttle *t = auth_throttle_new(3, 60, 10);
    assert_non_null(t);
    int64_t now = 1000;
    assert_int_equal(auth_throttle_wait(t, "user:alice", now), 0);
    auth_throttle_failure(t, "user:alice", now);
    auth_throttle_failure(t, "user:alice", now);
    assert_int_equal(auth_throttle_wait(t, "user:alice", now), 0);
    auth_throttle_failure(t, "user:alice", now);
    assert_int_equal(auth_throttle_wait(t, "user:alice", now), 10);
    assert_int_equal(auth_throttle_wait(t, "user:bob", now), 0); /* other keys unaffected */
    assert_int_equal(auth_throttle_wait(t, "user:alice", now + 10), 0);
    /* A second lock-out lasts twice as long. */
    for (int i = 0; i < 3; i++)
        auth_throttle_failure(t, "user:alice", now + 10);
    assert_int_equal(auth_throttle_wait(t, "user:alice", now + 10), 20);
    auth_throttle_success(t, "user:alice");
    assert_int_equal(auth_throttle_wait(t, "user:alice", now + 10), 0);
    /* Failures spread beyond the window do not add up. */
    auth_throttle_failure(t, "ip:1", 0);
    auth_throttle_failure(t, "ip:1", 0);
    auth_throttle_failure(t, "ip:1", 100);
    assert_int_equal(auth_throttle_wait(t, "ip:1", 100), 0);
    auth_throttle_free(t);
}

static void test_throttle_is_bounded(void **state)
{
    (void)state;
    auth_throttle *t = auth_throttle_new(1, 60, 30);
    char key[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "ip:%d", i);
        auth_throttle_failure(t, key, i);
    }
    /* The newest keys are remembered; memory did not grow with the attack. */
    assert_true(auth_throttle_wait(t, "ip:9999", 9999) > 0);
    assert_int_equal(auth_throttle_wait(t, "ip:0", 9999), 0);
    auth_throttle_free(t);
}

static void test_cookie_parse(void **state)
{
    (void)state;
    char v[64];
    const char *h = "theme=dark; pkr_session=abc123;pkr_csrf=\"q-1\" ;x=";
    assert_string_equal(auth_cookie_get(h, "pkr_session", v, sizeof v), "abc123");
    assert_string_equal(auth_cookie_get(h, "pkr_csrf", v, sizeof v), "q-1");
    assert_string_equal(auth_cookie_get(h, "theme", v, sizeof v), "dark");
    assert_string_equal(auth_cookie_get(h, "x", v, sizeof v), "");
    assert_null(auth_cookie_get(h, "session", v, sizeof v)); /* no suffix match */
    assert_null(auth_cookie_get(h, "pkr_session", v, 4));    /* too long for buffer */
    assert_null(auth_cookie_get(NULL, "a", v, sizeof v));
    assert_null(auth_cookie_get("garbage without equals", "garbage", v, sizeof v));
}

static void test_cookie_format(void **state)
{
    (void)state;
    char out[256];
    auth_cookie_opts o = {.http_only = true, .secure = true, .max_age = 3600};
    assert_int_equal(auth_cookie_format(out, sizeof out, "pkr_session", "abc", &o), 0);
    assert_string_equal(out, "pkr_session=abc; Path=/; Max-Age=3600; HttpOnly; Secure; "
                             "SameSite=Strict");
    auth_cookie_opts del = {.max_age = -1, .secure = true};
    assert_int_equal(auth_cookie_format(out, sizeof out, "pkr_csrf", "", &del), 0);
    assert_string_equal(out, "pkr_csrf=; Path=/; Max-Age=0; Secure; SameSite=Strict");
    assert_int_equal(auth_cookie_format(out, sizeof out, "a", "x;y", NULL), -1);
    assert_int_equal(auth_cookie_format(out, sizeof out, "a", "x\r\nSet-Cookie: b=1", NULL), -1);
    assert_int_equal(auth_cookie_format(out, sizeof out, "a=b", "x", NULL), -1);
    assert_int_equal(auth_cookie_format(out, 10, "name", "a-long-value", NULL), -1);
}

int main(void)
{
    auth_password_set_cost(1, 1024); /* fast tests; the default cost is exercised once */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_hash_and_verify),
        cmocka_unit_test(test_password_cost_is_recorded_in_hash),
        cmocka_unit_test(test_password_acceptable),
        cmocka_unit_test(test_tokens_are_random_and_urlsafe),
        cmocka_unit_test(test_token_digest_is_sha256),
        cmocka_unit_test(test_constant_time_compare),
        cmocka_unit_test(test_csrf_derived_from_session),
        cmocka_unit_test(test_throttle_locks_and_doubles),
        cmocka_unit_test(test_throttle_is_bounded),
        cmocka_unit_test(test_cookie_parse),
        cmocka_unit_test(test_cookie_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
