/* The strict DER reader: what DER allows is read exactly, what BER-but-not-DER or malformed
 * input looks like is refused (X.690 section 10, RFC 5280 encodings). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "der/der_reader.h"

#define ITEM(name, ...)                                                                            \
    static const uint8_t name##_buf[] = {__VA_ARGS__};                                             \
    pki_der_item name;                                                                             \
    assert_int_equal(pki_der_single(name##_buf, sizeof name##_buf, &name), 0)

static int single_fails(const uint8_t *b, size_t n)
{
    pki_der_item it;
    return pki_der_single(b, n, &it) != 0;
}

static void test_lengths(void **state)
{
    (void)state;
    static const uint8_t indefinite[] = {0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00};
    static const uint8_t long_form_small[] = {0x04, 0x81, 0x05, 1, 2, 3, 4, 5};
    static const uint8_t leading_zero[] = {0x04, 0x82, 0x00, 0x81};
    static const uint8_t too_long[] = {0x04, 0x05, 1, 2};
    static const uint8_t high_tag[] = {0x1f, 0x22, 0x00};
    static const uint8_t trailing[] = {0x05, 0x00, 0x00};
    static const uint8_t cons_octets[] = {0x24, 0x03, 0x04, 0x01, 0x00};
    static const uint8_t prim_seq[] = {0x10, 0x00};
    assert_true(single_fails(indefinite, sizeof indefinite));
    assert_true(single_fails(long_form_small, sizeof long_form_small));
    assert_true(single_fails(leading_zero, sizeof leading_zero));
    assert_true(single_fails(too_long, sizeof too_long));
    assert_true(single_fails(high_tag, sizeof high_tag));
    assert_true(single_fails(trailing, sizeof trailing));
    assert_true(single_fails(cons_octets, sizeof cons_octets));
    assert_true(single_fails(prim_seq, sizeof prim_seq));
    assert_true(single_fails(NULL, 0));

    /* 200 content octets need the long form 0x81 0xC8. */
    uint8_t big[203] = {0x04, 0x81, 0xc8};
    pki_der_item it;
    assert_int_equal(pki_der_single(big, sizeof big, &it), 0);
    assert_int_equal(it.len, 200);
    assert_ptr_equal(it.val, big + 3);
    assert_int_equal(it.raw_len, 203);
}

static void test_walk_and_optional(void **state)
{
    (void)state;
    /* SEQUENCE { INTEGER 5, [0] { BOOLEAN TRUE }, OCTET STRING "ab" } */
    static const uint8_t b[] = {0x30, 0x0c, 0x02, 0x01, 0x05, 0xa0, 0x03,
                                0x01, 0x01, 0xff, 0x04, 0x02, 'a',  'b'};
    pki_der d, seq, ctx;
    pki_der_item it;
    pki_der_init(&d, b, sizeof b);
    assert_int_equal(pki_der_enter_expect(&d, PKI_DER_SEQUENCE, &seq, NULL), 0);
    assert_true(pki_der_at_end(&d));
    assert_int_equal(pki_der_peek_tag(&seq), PKI_DER_INTEGER);
    assert_int_equal(pki_der_optional(&seq, PKI_DER_BOOLEAN, &it), 1); /* absent: unchanged */
    assert_int_equal(pki_der_expect(&seq, PKI_DER_OCTET_STRING, &it), -1);
    assert_int_equal(pki_der_expect(&seq, PKI_DER_INTEGER, &it), 0);
    long v;
    assert_int_equal(pki_der_int_long(&it, &v), 0);
    assert_int_equal(v, 5);
    assert_int_equal(pki_der_optional(&seq, PKI_DER_CTX_CONS(0), &it), 0);
    assert_int_equal(pki_der_enter(&it, &ctx), 0);
    assert_int_equal(pki_der_next(&ctx, &it), 0);
    int bv;
    assert_int_equal(pki_der_boolean(&it, &bv), 0);
    assert_true(bv);
    assert_int_equal(pki_der_next(&ctx, &it), 1);
    assert_int_equal(pki_der_expect(&seq, PKI_DER_OCTET_STRING, &it), 0);
    assert_memory_equal(it.val, "ab", 2);
    assert_int_equal(pki_der_next(&seq, &it), 1);
    assert_int_equal(pki_der_peek_tag(&seq), -1);
    /* A primitive element cannot be entered. */
    assert_int_equal(pki_der_enter(&it, &ctx), -1);
}

static void test_integers(void **state)
{
    (void)state;
    uint64_t u;
    long l;
    const uint8_t *mag;
    size_t n;
    {
        ITEM(x, 0x02, 0x02, 0x00, 0x80); /* 128 */
        assert_int_equal(pki_der_int_u64(&x, &u), 0);
        assert_int_equal(u, 128);
        assert_int_equal(pki_der_int_unsigned_bytes(&x, &mag, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(mag[0], 0x80);
    }
    {
        ITEM(x, 0x02, 0x01, 0xff); /* -1 */
        assert_int_equal(pki_der_int_long(&x, &l), 0);
        assert_int_equal(l, -1);
        assert_int_equal(pki_der_int_u64(&x, &u), -1);
        assert_int_equal(pki_der_int_unsigned_bytes(&x, &mag, &n), -1);
    }
    {
        ITEM(x, 0x02, 0x02, 0x00, 0x7f); /* non-minimal 127 */
        assert_int_equal(pki_der_int_check(&x), -1);
    }
    {
        ITEM(x, 0x02, 0x02, 0xff, 0x80); /* non-minimal -128 */
        assert_int_equal(pki_der_int_check(&x), -1);
    }
    {
        ITEM(x, 0x02, 0x00); /* empty */
        assert_int_equal(pki_der_int_check(&x), -1);
    }
    {
        ITEM(x, 0x02, 0x09, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
        assert_int_equal(pki_der_int_u64(&x, &u), 0);
        assert_true(u == UINT64_MAX);
        assert_int_equal(pki_der_int_long(&x, &l), -1); /* does not fit */
    }
}

static void test_oids(void **state)
{
    (void)state;
    char buf[64];
    {
        ITEM(x, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07);
        assert_int_equal(pki_der_oid_text(&x, buf, sizeof buf), 0);
        assert_string_equal(buf, "1.2.840.10045.3.1.7");
        assert_true(pki_der_oid_is(&x, "1.2.840.10045.3.1.7"));
        assert_false(pki_der_oid_is(&x, "1.2.840.10045.3.1"));
    }
    {
        ITEM(x, 0x06, 0x03, 0x88, 0x37, 0x03); /* 2.999.3: first arc > 79 */
        assert_int_equal(pki_der_oid_text(&x, buf, sizeof buf), 0);
        assert_string_equal(buf, "2.999.3");
    }
    {
        ITEM(x, 0x06, 0x03, 0x2a, 0x80, 0x01); /* 0x80 padding: not minimal */
        assert_int_equal(pki_der_oid_text(&x, buf, sizeof buf), -1);
    }
    {
        ITEM(x, 0x06, 0x02, 0x2a, 0x86); /* truncated sub-identifier */
        assert_int_equal(pki_der_oid_text(&x, buf, sizeof buf), -1);
    }
    {
        ITEM(x, 0x06, 0x00);
        assert_int_equal(pki_der_oid_text(&x, buf, sizeof buf), -1);
    }
}

static void test_bit_strings(void **state)
{
    (void)state;
    const uint8_t *bits;
    size_t n;
    unsigned unused;
    uint32_t flags;
    {
        /* keyUsage digitalSignature + keyCertSign + cRLSign: 03 02 01 86 */
        ITEM(x, 0x03, 0x02, 0x01, 0x86);
        assert_int_equal(pki_der_bit_string(&x, &bits, &n, &unused), 0);
        assert_int_equal(unused, 1);
        assert_int_equal(pki_der_bit_string_flags(&x, &flags), 0);
        assert_int_equal(flags, (1u << 0) | (1u << 5) | (1u << 6));
        assert_int_equal(pki_der_bit_string_octets(&x, &bits, &n), -1);
    }
    {
        ITEM(x, 0x03, 0x02, 0x01, 0x87); /* an unused bit is set */
        assert_int_equal(pki_der_bit_string(&x, &bits, &n, &unused), -1);
    }
    {
        ITEM(x, 0x03, 0x01, 0x03); /* unused bits with no octets */
        assert_int_equal(pki_der_bit_string(&x, &bits, &n, &unused), -1);
    }
    {
        ITEM(x, 0x03, 0x02, 0x08, 0x00); /* more than 7 unused */
        assert_int_equal(pki_der_bit_string(&x, &bits, &n, &unused), -1);
    }
}

static void test_times(void **state)
{
    (void)state;
    int64_t t;
    {
        ITEM(x, 0x17, 0x0d, '4', '9', '1', '2', '3', '1', '2', '3', '5', '9', '5', '9', 'Z');
        assert_int_equal(pki_der_time(&x, &t), 0);
        assert_int_equal(t, 2524607999); /* 2049-12-31T23:59:59Z */
    }
    {
        ITEM(x, 0x17, 0x0d, '5', '0', '0', '1', '0', '1', '0', '0', '0', '0', '0', '0', 'Z');
        assert_int_equal(pki_der_time(&x, &t), 0);
        assert_int_equal(t, -631152000); /* 1950-01-01 */
    }
    {
        ITEM(x, 0x18, 0x0f, '2', '0', '5', '0', '0', '1', '0', '1', '0', '0', '0', '0', '0', '0',
             'Z');
        assert_int_equal(pki_der_time(&x, &t), 0);
        assert_int_equal(t, 2524608000);
    }
    {
        ITEM(x, 0x17, 0x0b, '4', '9', '1', '2', '3', '1', '2', '3', '5', '9', 'Z'); /* no secs */
        assert_int_equal(pki_der_time(&x, &t), -1);
    }
    {
        ITEM(x, 0x17, 0x0d, '4', '9', '1', '3', '3', '1', '2', '3', '5', '9', '5', '9', 'Z');
        assert_int_equal(pki_der_time(&x, &t), -1); /* month 13 */
    }
}

static void test_strings(void **state)
{
    (void)state;
    char buf[32];
    {
        ITEM(x, 0x13, 0x05, 'A', 'b', ' ', '1', '?');
        assert_int_equal(pki_der_string(&x, buf, sizeof buf), 0);
        assert_string_equal(buf, "Ab 1?");
    }
    {
        ITEM(x, 0x13, 0x01, '@'); /* not in PrintableString */
        assert_int_equal(pki_der_string(&x, buf, sizeof buf), -1);
    }
    {
        ITEM(x, 0x0c, 0x03, 'a', 0xc3, 0xa9); /* "aé" */
        assert_int_equal(pki_der_string(&x, buf, sizeof buf), 0);
        assert_string_equal(buf, "a\xc3\xa9");
    }
    {
        ITEM(x, 0x0c, 0x02, 0xc0, 0x80); /* overlong NUL */
        assert_int_equal(pki_der_string(&x, buf, sizeof buf), -1);
    }
    {
        ITEM(x, 0x16, 0x03, 'a', 0x00, 'b'); /* embedded NUL */
        assert_int_equal(pki_der_string(&x, buf, sizeof buf), -1);
    }
    {
        ITEM(x, 0x1e, 0x04, 0x00, 'h', 0x00, 0xe9); /* BMPString "hé" */
        assert_int_equal(pki_der_string(&x, buf, sizeof buf), 0);
        assert_string_equal(buf, "h\xc3\xa9");
    }
    {
        ITEM(x, 0x16, 0x04, 'a', 'b', 'c', 'd');
        assert_int_equal(pki_der_string(&x, buf, 4), -1); /* does not fit with its NUL */
        assert_int_equal(pki_der_string(&x, buf, 5), 0);
    }
}

static void test_boolean_and_null(void **state)
{
    (void)state;
    int v;
    {
        ITEM(x, 0x01, 0x01, 0x01); /* BER true, not DER */
        assert_int_equal(pki_der_boolean(&x, &v), -1);
    }
    {
        ITEM(x, 0x01, 0x01, 0x00);
        assert_int_equal(pki_der_boolean(&x, &v), 0);
        assert_false(v);
    }
    {
        ITEM(x, 0x05, 0x00);
        assert_int_equal(pki_der_null(&x), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lengths),     cmocka_unit_test(test_walk_and_optional),
        cmocka_unit_test(test_integers),    cmocka_unit_test(test_oids),
        cmocka_unit_test(test_bit_strings), cmocka_unit_test(test_times),
        cmocka_unit_test(test_strings),     cmocka_unit_test(test_boolean_and_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
