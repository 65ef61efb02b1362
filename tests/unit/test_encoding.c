/* Base64 and hex: RFC 4648 section 10 test vectors, and the inputs a strict decoder refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/encoding.h"

static const char *const RFC4648_PLAIN[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const RFC4648_B64[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                          "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};

static void test_base64_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < 7; i++) {
        char *enc = pki_base64_encode((const uint8_t *)RFC4648_PLAIN[i], strlen(RFC4648_PLAIN[i]));
        assert_non_null(enc);
        assert_string_equal(enc, RFC4648_B64[i]);
        free(enc);
        uint8_t *dec;
        size_t len;
        assert_int_equal(pki_base64_decode(RFC4648_B64[i], strlen(RFC4648_B64[i]), &dec, &len), 0);
        assert_int_equal(len, strlen(RFC4648_PLAIN[i]));
        assert_memory_equal(dec, RFC4648_PLAIN[i], len);
        free(dec);
    }
}

static void test_base64url_has_no_padding_and_url_alphabet(void **state)
{
    (void)state;
    const uint8_t data[] = {0xfb, 0xff, 0xbf, 0x01};
    char *enc = pki_base64url_encode(data, sizeof data);
    assert_string_equal(enc, "-_-_AQ");
    uint8_t *dec;
    size_t len;
    assert_int_equal(pki_base64url_decode(enc, strlen(enc), &dec, &len), 0);
    assert_int_equal(len, sizeof data);
    assert_memory_equal(dec, data, len);
    free(dec);
    free(enc);
    /* The standard alphabet's '+' and '/' and any padding are refused. */
    assert_int_equal(pki_base64url_decode("+/+/AQ", 6, &dec, &len), -1);
    assert_int_equal(pki_base64url_decode("AQ==", 4, &dec, &len), -1);
}

static void test_base64_pem_whitespace_is_skipped(void **state)
{
    (void)state;
    const char *pem_body = "Zm9v\r\nYmFy\n";
    uint8_t *dec;
    size_t len;
    assert_int_equal(pki_base64_decode(pem_body, strlen(pem_body), &dec, &len), 0);
    assert_int_equal(len, 6);
    assert_memory_equal(dec, "foobar", 6);
    free(dec);
}

static void test_base64_rejects_malformed(void **state)
{
    (void)state;
    const char *bad[] = {
        "Zg=",      /* padding that does not complete the quantum */
        "Zg===",    /* too much padding */
        "Zg==Zg==", /* data after padding */
        "Z",        /* a lone symbol carries fewer than 8 bits */
        "Zh==",     /* non-zero unused bits: not canonical */
        "Zm9v!",    /* not in the alphabet */
        "Zm-_",     /* URL alphabet in a standard decoder */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t *dec = NULL;
        size_t len = 0;
        assert_int_equal(pki_base64_decode(bad[i], strlen(bad[i]), &dec, &len), -1);
        assert_null(dec);
    }
}

static void test_hex_round_trip_and_rejects(void **state)
{
    (void)state;
    const uint8_t data[] = {0x00, 0x01, 0xab, 0xff};
    char *hex = pki_hex_encode(data, sizeof data);
    assert_string_equal(hex, "0001abff");
    uint8_t *dec;
    size_t len;
    assert_int_equal(pki_hex_decode("0001ABff", 8, &dec, &len), 0);
    assert_int_equal(len, 4);
    assert_memory_equal(dec, data, 4);
    free(dec);
    free(hex);
    assert_int_equal(pki_hex_decode("abc", 3, &dec, &len), -1);
    assert_int_equal(pki_hex_decode("zz", 2, &dec, &len), -1);
    assert_int_equal(pki_hex_decode("a:bc", 4, &dec, &len), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_rfc4648_vectors),
        cmocka_unit_test(test_base64url_has_no_padding_and_url_alphabet),
        cmocka_unit_test(test_base64_pem_whitespace_is_skipped),
        cmocka_unit_test(test_base64_rejects_malformed),
        cmocka_unit_test(test_hex_round_trip_and_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
