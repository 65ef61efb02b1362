/* DER writer: exact bytes. Expected encodings were produced independently with
 * `openssl asn1parse -genstr '<TYPE>:<value>' -out o.der` (and -genconf for the SET), or are the
 * worked examples of X.690 (8.19.5 OID {2 999 3}, 8.6.4.2 BIT STRING). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "der/der_writer.h"
#include "util/encoding.h"
#include "util/timefmt.h"

/* Compares the writer's whole output with hex. */
static void expect_hex(pki_der_writer *w, const char *hex)
{
    size_t len;
    uint8_t *der = pki_derw_take(w, &len);
    assert_non_null(der);
    char *got = malloc(len * 2 + 1);
    assert_non_null(got);
    for (size_t i = 0; i < len; i++)
        snprintf(got + 2 * i, 3, "%02x", der[i]);
    got[len * 2] = 0;
    assert_string_equal(got, hex);
    free(got);
    free(der);
}

static void test_integers(void **state)
{
    (void)state;
    static const struct {
        int64_t v;
        const char *hex;
    } cases[] = {
        {0, "020100"},
        {127, "02017f"},
        {128, "02020080"},
        {256, "02020100"},
        {-128, "020180"},
        {-129, "0202ff7f"},
        {-1, "0201ff"},
        {INT64_MAX, "02087fffffffffffffff"},
        {INT64_MIN, "02088000000000000000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pki_der_writer w;
        pki_derw_init(&w);
        pki_derw_int(&w, cases[i].v);
        expect_hex(&w, cases[i].hex);
    }
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_enum(&w, 1);
    expect_hex(&w, "0a0101");
}

static void test_unsigned_serials(void **state)
{
    (void)state;
    pki_der_writer w;
    /* 0x00FF -> 020200ff: leading zero kept only because the top bit is set. */
    const uint8_t a[] = {0x00, 0x00, 0xff};
    pki_derw_init(&w);
    pki_derw_uint_be(&w, PKI_DER_INTEGER, a, sizeof a);
    expect_hex(&w, "020200ff");
    const uint8_t b[] = {0x00, 0x7f};
    pki_derw_init(&w);
    pki_derw_uint_be(&w, PKI_DER_INTEGER, b, sizeof b);
    expect_hex(&w, "02017f");
    const uint8_t z[] = {0x00, 0x00};
    pki_derw_init(&w);
    pki_derw_uint_be(&w, PKI_DER_INTEGER, z, sizeof z);
    expect_hex(&w, "020100");
    /* A 20-octet serial with the top bit set becomes 21 content octets. */
    uint8_t s[20];
    memset(s, 0x80, sizeof s);
    pki_derw_init(&w);
    pki_derw_uint_be(&w, PKI_DER_INTEGER, s, sizeof s);
    /* openssl asn1parse -genstr INTEGER:0x8080…80 (20 octets) */
    expect_hex(&w, "0215008080808080808080808080808080808080808080");
}

static void test_oids(void **state)
{
    (void)state;
    static const struct {
        const char *dotted, *hex;
    } cases[] = {
        {"1.2.840.113549.1.1.11", "06092a864886f70d01010b"},
        {"2.999.3", "0603883703"}, /* X.690 8.19.5 */
        {"2.5.29.17", "0603551d11"},
        {"1.3.6.1.4.1.311.20.2.3", "060a2b060104018237140203"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pki_der_writer w;
        pki_derw_init(&w);
        pki_derw_oid(&w, cases[i].dotted);
        expect_hex(&w, cases[i].hex);
    }
    static const char *bad[] = {
        "",     "1",    "3.1",  "1.40", "1.2.",
        ".1.2", "1..2", "1.02", "1.2a", "1.2.340282366920938463463374607431768211456",
        NULL};
    for (size_t i = 0; bad[i]; i++) {
        pki_der_writer w;
        pki_derw_init(&w);
        pki_derw_oid(&w, bad[i]);
        assert_int_equal(pki_derw_error(&w), PKI_DERW_ERR_ARG);
        size_t len;
        assert_null(pki_derw_take(&w, &len));
    }
    assert_int_equal(pki_derw_oid_encode(NULL, NULL, 0), -1);
}

static void test_simple_types(void **state)
{
    (void)state;
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_bool(&w, 1);
    pki_derw_bool(&w, 0);
    pki_derw_null(&w);
    expect_hex(&w, "0101ff0101000500");
    /* X.690 8.6.4.2 example content 0A3B5F291CD0 with 4 unused bits: DER zeroes them. */
    const uint8_t bits[] = {0x0a, 0x3b, 0x5f, 0x29, 0x1c, 0xdf};
    pki_derw_init(&w);
    pki_derw_bit_string(&w, bits, sizeof bits, 4);
    expect_hex(&w, "0307040a3b5f291cd0");
    pki_derw_init(&w);
    pki_derw_bit_string(&w, NULL, 0, 1);
    assert_int_equal(pki_derw_error(&w), PKI_DERW_ERR_ARG);
    pki_derw_free(&w);
}

static void test_named_bits(void **state)
{
    (void)state;
    /* openssl asn1parse -genstr 'FORMAT:BITLIST,BITSTRING:0,5,6' and friends. */
    static const struct {
        uint32_t bits;
        const char *hex;
    } cases[] = {
        {(1u << 0) | (1u << 5) | (1u << 6), "03020186"},
        {1u << 0, "03020780"},
        {1u << 1, "03020640"},
        {1u << 8, "0303070080"},
        {0, "030100"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pki_der_writer w;
        pki_derw_init(&w);
        pki_derw_named_bits(&w, PKI_DER_BIT_STRING, cases[i].bits);
        expect_hex(&w, cases[i].hex);
    }
}

static void test_times(void **state)
{
    (void)state;
    pki_der_writer w;
    /* 2049-12-31T23:59:59Z = 2524607999 is the last UTCTime; 2050-01-01 switches. */
    pki_derw_init(&w);
    pki_derw_time(&w, 2524607999);
    expect_hex(&w, "170d3439313233313233353935395a");
    pki_derw_init(&w);
    pki_derw_time(&w, 2524608000);
    expect_hex(&w, "180f32303530303130313030303030305a");
    /* 1950-01-01 is UTCTime "500101000000Z"; 1949-12-31T23:59:59 must be GeneralizedTime. */
    pki_derw_init(&w);
    pki_derw_time(&w, -631152000);
    expect_hex(&w, "170d3530303130313030303030305a");
    pki_derw_init(&w);
    pki_derw_time(&w, -631152001);
    expect_hex(&w, "180f31393439313233313233353935395a");
    /* Forced GeneralizedTime for a 20xx instant (OCSP): 2049-12-31T23:59:59Z. */
    pki_derw_init(&w);
    pki_derw_generalized_time(&w, 2524607999);
    expect_hex(&w, "180f32303439313233313233353935395a");
    pki_derw_init(&w);
    pki_derw_generalized_time(&w, 0);
    expect_hex(&w, "180f31393730303130313030303030305a");
}

/* Times against an independent calendar (glibc's gmtime_r) everywhere in years 0000..9999,
 * leap days and century years included, with the UTCTime/GeneralizedTime switch of RFC 5280. */
static void test_times_agree_with_gmtime(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ULL; /* xorshift: reproducible spread of instants */
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* years 0000..9999, plus the edges */
        int64_t t = i == 0   ? -62167219200LL
                    : i == 1 ? 253402300799LL
                             : -62167219200LL + (int64_t)(x % 315537897600ULL);
        char want[80];
        struct tm tm;
        time_t tt = (time_t)t;
        assert_non_null(gmtime_r(&tt, &tm));
        int year = tm.tm_year + 1900;
        int gen = year < 1950 || year > 2049;
        if (gen)
            snprintf(want, sizeof want, "%04d%02d%02d%02d%02d%02dZ", year, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        else
            snprintf(want, sizeof want, "%02d%02d%02d%02d%02d%02dZ", year % 100, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        pki_der_writer w;
        pki_derw_init(&w);
        pki_derw_time(&w, t);
        size_t len;
        uint8_t *der = pki_derw_take(&w, &len);
        assert_non_null(der);
        assert_int_equal(der[0], gen ? PKI_DER_GENERALIZED_TIME : PKI_DER_UTC_TIME);
        assert_int_equal(der[1], strlen(want));
        assert_memory_equal(der + 2, want, strlen(want));
        free(der);
    }
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_time(&w, 253402300800LL); /* year 10000 */
    assert_int_equal(pki_derw_error(&w), PKI_DERW_ERR_ARG);
    pki_derw_free(&w);
    pki_derw_init(&w);
    pki_derw_time(&w, -62167219201LL); /* year -1 */
    assert_int_equal(pki_derw_error(&w), PKI_DERW_ERR_ARG);
    pki_derw_free(&w);
}

static void test_strings(void **state)
{
    (void)state;
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_string(&w, PKI_DERW_STR_AUTO, "Test User 1", 11);
    expect_hex(&w, "130b5465737420557365722031");
    /* "Grüße": not printable, so UTF8String. */
    pki_derw_init(&w);
    pki_derw_string(&w, PKI_DERW_STR_AUTO,
                    "Gr\xc3\xbc\xc3\x9f"
                    "e",
                    7);
    expect_hex(&w, "0c074772c3bcc39f65");
    /* '@' and '*' are not in PrintableString. */
    pki_derw_init(&w);
    pki_derw_string(&w, PKI_DERW_STR_AUTO, "a@b.c", 5);
    expect_hex(&w, "0c056140622e63");
    pki_derw_init(&w);
    pki_derw_string(&w, PKI_DERW_STR_IA5, "a@b.c", 5);
    expect_hex(&w, "16056140622e63");
    const char *refuse[][2] = {
        {"\x01", "P"},     {"a@b", "P"},          {"\xc3\xbc", "I"},        {"\xc3", "U"},
        {"\xc0\x80", "U"}, {"\xed\xa0\x80", "U"}, {"\xf4\x90\x80\x80", "U"}};
    for (size_t i = 0; i < sizeof refuse / sizeof refuse[0]; i++) {
        pki_derw_init(&w);
        pki_derw_str_kind k = refuse[i][1][0] == 'P'   ? PKI_DERW_STR_PRINTABLE
                              : refuse[i][1][0] == 'I' ? PKI_DERW_STR_IA5
                                                       : PKI_DERW_STR_UTF8;
        pki_derw_string(&w, k, refuse[i][0], strlen(refuse[i][0]));
        assert_int_equal(pki_derw_error(&w), PKI_DERW_ERR_ARG);
        pki_derw_free(&w);
    }
    /* Embedded NUL is refused in every type. */
    pki_derw_init(&w);
    pki_derw_string(&w, PKI_DERW_STR_UTF8, "a\0b", 3);
    assert_int_equal(pki_derw_error(&w), PKI_DERW_ERR_ARG);
    pki_derw_free(&w);
}

static void test_tags_and_nesting(void **state)
{
    (void)state;
    pki_der_writer w;
    /* OCTET STRING wrapping DER, as in extnValue: BOOLEAN TRUE inside. */
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_OCTET_STRING);
    pki_derw_bool(&w, 1);
    pki_derw_end(&w);
    expect_hex(&w, "04030101ff");
    pki_derw_init(&w);
    /* IMPLICIT [2] IA5String (a dNSName) and EXPLICIT [0] INTEGER 2 (a version). */
    pki_derw_tlv(&w, PKI_DER_CTX(2), (const uint8_t *)"example.com", 11);
    pki_derw_begin(&w, PKI_DER_CTX_CONS(0));
    pki_derw_int(&w, 2);
    pki_derw_end(&w);
    expect_hex(&w, "820b6578616d706c652e636f6d"
                   "a003020102");

    /* Long forms: 300 content octets -> 82 01 2c; 70000 -> 83 01 11 70 (X.690 8.1.3.5). */
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    uint8_t *big = calloc(1, 70000);
    assert_non_null(big);
    pki_derw_octet_string(&w, big, 296);
    pki_derw_end(&w);
    size_t len;
    uint8_t *der = pki_derw_take(&w, &len);
    assert_non_null(der);
    assert_int_equal(len, 304);
    const uint8_t head[] = {0x30, 0x82, 0x01, 0x2c, 0x04, 0x82, 0x01, 0x28};
    assert_memory_equal(der, head, sizeof head);
    free(der);

    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_raw(&w, big, 70000 - 5);
    pki_derw_end(&w);
    pki_derw_end(&w);
    der = pki_derw_take(&w, &len);
    assert_non_null(der);
    assert_int_equal(len, 70000 + 5);
    const uint8_t head2[] = {0x30, 0x83, 0x01, 0x11, 0x70, 0x30, 0x83, 0x01, 0x11, 0x6b};
    assert_memory_equal(der, head2, sizeof head2);
    free(der);
    free(big);
}

static void test_set_of_canonical(void **state)
{
    (void)state;
    pki_der_writer w;
    pki_derw_init(&w);
    /* openssl asn1parse -genconf: SEQUENCE { SET { INTEGER 3, OCTET STRING "AB", INTEGER 1 } } */
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_begin_set_of(&w);
    pki_derw_int(&w, 3);
    pki_derw_octet_string(&w, (const uint8_t *)"AB", 2);
    pki_derw_int(&w, 1);
    pki_derw_end(&w);
    pki_derw_end(&w);
    expect_hex(&w, "300c310a02010102010304024142");

    /* Sorted by encoding, whatever the insertion order. */
    pki_derw_init(&w);
    pki_derw_begin_set_of(&w);
    pki_derw_int(&w, 0x0100);
    pki_derw_int(&w, 1);
    pki_derw_end(&w);
    expect_hex(&w, "3107020101020201"
                   "00");

    /* Garbage inside a SET OF is refused, not read past. */
    pki_derw_init(&w);
    pki_derw_begin_set_of(&w);
    const uint8_t junk[] = {0x02, 0x05, 0x01};
    pki_derw_raw(&w, junk, sizeof junk);
    pki_derw_int(&w, 1);
    pki_derw_end(&w);
    assert_int_equal(pki_derw_error(&w), PKI_DERW_ERR_ARG);
    pki_derw_free(&w);
}

static void test_balance_errors(void **state)
{
    (void)state;
    pki_der_writer w;
    size_t len;
    pki_derw_init(&w);
    pki_derw_end(&w);
    assert_int_equal(pki_derw_error(&w), PKI_DERW_ERR_DEPTH);
    pki_derw_free(&w);

    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    assert_null(pki_derw_take(&w, &len));

    pki_derw_init(&w);
    for (int i = 0; i <= PKI_DERW_MAX_DEPTH; i++)
        pki_derw_begin(&w, PKI_DER_SEQUENCE);
    assert_int_equal(pki_derw_error(&w), PKI_DERW_ERR_DEPTH);
    pki_derw_free(&w);

    /* A high-tag-number identifier is refused. */
    pki_derw_init(&w);
    pki_derw_begin(&w, 0x1f);
    assert_int_equal(pki_derw_error(&w), PKI_DERW_ERR_ARG);
    /* sticky: nothing more is written */
    pki_derw_int(&w, 5);
    assert_int_equal(pki_derw_len(&w), 0);
    pki_derw_free(&w);
}

/* A million small elements in three levels: checks the lengths, and that it is not quadratic
 * (it would take minutes if every end() copied its parent). */
static void test_million_entries(void **state)
{
    (void)state;
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    for (int i = 0; i < 1000000; i++) {
        pki_derw_begin(&w, PKI_DER_SEQUENCE);
        pki_derw_int(&w, 1000000 + i); /* 3 content octets */
        pki_derw_end(&w);
    }
    pki_derw_end(&w);
    pki_derw_end(&w);
    size_t len;
    uint8_t *der = pki_derw_take(&w, &len);
    assert_non_null(der);
    /* inner: 7 octets each; middle content 7,000,000 -> 30 83 6a cf c0; outer adds 5. */
    assert_int_equal(len, 7000000 + 5 + 5);
    const uint8_t head[] = {0x30, 0x83, 0x6a, 0xcf, 0xc5, 0x30, 0x83, 0x6a, 0xcf,
                            0xc0, 0x30, 0x05, 0x02, 0x03, 0x0f, 0x42, 0x40};
    assert_memory_equal(der, head, sizeof head);
    free(der);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_unsigned_serials),
        cmocka_unit_test(test_oids),
        cmocka_unit_test(test_simple_types),
        cmocka_unit_test(test_named_bits),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_tags_and_nesting),
        cmocka_unit_test(test_set_of_canonical),
        cmocka_unit_test(test_balance_errors),
        cmocka_unit_test(test_million_entries),
        cmocka_unit_test(test_times_agree_with_gmtime),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
