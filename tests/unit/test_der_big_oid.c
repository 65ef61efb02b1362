/* OID arcs beyond 64 bits (X.667 2.25.<UUID> arcs are 128-bit): the writer encodes them from
 * dotted text and the reader gives the same text back. Expected octets come from
 * `openssl asn1parse -genstr OID:<dotted>` (OpenSSL's own big-number OID codec). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "der/der_writer.h"

static size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

static const struct {
    const char *dotted, *hex;
} cases[] = {
    /* id-iothsm-provisioning (hsm-contract §1) */
    {"2.25.121939985752823855590338856841221336458",
     "06146981b7bce4de96aa82b7d983ac95f9f1d4b5db0a"},
    /* the largest UUID arc, 2^128 - 1 */
    {"2.25.340282366920938463463374607431768211455",
     "06146983ffffffffffffffffffffffffffffffffff7f"},
    /* an arc between 64 and 128 bits */
    {"1.2.99999999999999999999999", "060c2ad4da82e3f8a9afb3ffff7f"},
    /* the first sub-identifier itself at the top of the range: 80 + arc = 2^128 - 1 */
    {"2.340282366920938463463374607431768211375", "061383ffffffffffffffffffffffffffffffffff7f"},
    /* 2^64 exactly, just past the old limit */
    {"1.3.18446744073709551616", "060b2b82808080808080808000"},
};

static void test_writer_matches_openssl(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pki_der_writer w;
        pki_derw_init(&w);
        pki_derw_oid(&w, cases[i].dotted);
        size_t len;
        uint8_t *der = pki_derw_take(&w, &len);
        assert_non_null(der);
        uint8_t want[64];
        size_t n = unhex(cases[i].hex, want);
        assert_int_equal(len, n);
        assert_memory_equal(der, want, n);
        free(der);
    }
}

static void test_reader_gives_text_back(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t der[64];
        size_t n = unhex(cases[i].hex, der);
        pki_der_item it;
        assert_int_equal(pki_der_single(der, n, &it), 0);
        char text[128];
        assert_int_equal(pki_der_oid_text(&it, text, sizeof text), 0);
        assert_string_equal(text, cases[i].dotted);
        assert_true(pki_der_oid_is(&it, cases[i].dotted));
        /* a buffer one short of the text is refused, not truncated */
        assert_int_equal(pki_der_oid_text(&it, text, strlen(cases[i].dotted)), -1);
    }
}

static void test_beyond_128_bits_refused(void **state)
{
    (void)state;
    static const char *bad[] = {
        "2.25.340282366920938463463374607431768211456",  /* 2^128 */
        "1.2.3402823669209384634633746074317682114550",  /* ten times that */
        "2.340282366920938463463374607431768211376",     /* 80 + arc overflows */
        "2.25.0121939985752823855590338856841221336458", /* leading zero */
        NULL};
    for (size_t i = 0; bad[i]; i++) {
        uint8_t out[64];
        assert_int_equal(pki_derw_oid_encode(bad[i], out, sizeof out), -1);
    }
    /* reader: a sub-identifier of 2^128 (19 octets, top octet 0x84) */
    uint8_t big[22] = {0x06, 20, 0x69, 0x84};
    memset(big + 4, 0x80, 17);
    big[21] = 0x00;
    pki_der_item it;
    assert_int_equal(pki_der_single(big, sizeof big, &it), 0);
    char text[128];
    assert_int_equal(pki_der_oid_text(&it, text, sizeof text), -1);
    /* non-minimal padding inside a big arc stays refused */
    static const uint8_t pad[] = {0x06, 0x04, 0x69, 0x80, 0x81, 0x01};
    assert_int_equal(pki_der_single(pad, sizeof pad, &it), 0);
    assert_int_equal(pki_der_oid_text(&it, text, sizeof text), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_matches_openssl),
        cmocka_unit_test(test_reader_gives_text_back),
        cmocka_unit_test(test_beyond_128_bits_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
