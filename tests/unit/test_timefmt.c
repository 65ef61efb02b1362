/* Time formats: RFC 3339 and the RFC 5280 UTCTime/GeneralizedTime switch at 2050. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/timefmt.h"

static void test_rfc3339_known_instants(void **state)
{
    (void)state;
    char buf[32];
    assert_int_equal(pki_time_to_rfc3339(0, buf, sizeof buf), 0);
    assert_string_equal(buf, "1970-01-01T00:00:00Z");
    /* 2000-02-29 12:34:56 UTC, a leap day in a century leap year (date -ud @951827696). */
    assert_int_equal(pki_time_to_rfc3339(951827696, buf, sizeof buf), 0);
    assert_string_equal(buf, "2000-02-29T12:34:56Z");
    int64_t t;
    assert_int_equal(pki_time_from_rfc3339("2000-02-29T12:34:56Z", &t), 0);
    assert_int_equal(t, 951827696);
}

static void test_rfc3339_offsets_and_fractions(void **state)
{
    (void)state;
    int64_t t;
    assert_int_equal(pki_time_from_rfc3339("2000-02-29T14:34:56.123+02:00", &t), 0);
    assert_int_equal(t, 951827696);
    assert_int_equal(pki_time_from_rfc3339("2000-02-29T10:04:56-02:30", &t), 0);
    assert_int_equal(t, 951827696);
}

static void test_rfc3339_rejects(void **state)
{
    (void)state;
    const char *bad[] = {"2001-02-29T00:00:00Z",     "2000-13-01T00:00:00Z",
                         "2000-01-01T24:00:00Z",     "2000-01-01 00:00:00Z",
                         "2000-01-01T00:00:00",      "2000-01-01T00:00:00.Z",
                         "2000-01-01T00:00:00Zjunk", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t t = 42;
        assert_int_equal(pki_time_from_rfc3339(bad[i], &t), -1);
        assert_int_equal(t, 42);
    }
}

static void test_asn1_switches_to_generalized_in_2050(void **state)
{
    (void)state;
    char buf[16];
    int gen;
    int64_t last_utc = pki_time_from_parts(2049, 12, 31, 23, 59, 59);
    assert_int_equal(pki_time_to_asn1(last_utc, buf, sizeof buf, &gen), 0);
    assert_int_equal(gen, 0);
    assert_string_equal(buf, "491231235959Z");
    assert_int_equal(pki_time_to_asn1(last_utc + 1, buf, sizeof buf, &gen), 0);
    assert_int_equal(gen, 1);
    assert_string_equal(buf, "20500101000000Z");
    int64_t t;
    assert_int_equal(pki_time_from_asn1("491231235959Z", 13, 0, &t), 0);
    assert_int_equal(t, last_utc);
    /* Two-digit years 50..99 are 1950..1999. */
    assert_int_equal(pki_time_from_asn1("500101000000Z", 13, 0, &t), 0);
    assert_int_equal(t, pki_time_from_parts(1950, 1, 1, 0, 0, 0));
    assert_int_equal(pki_time_from_asn1("20500101000000Z", 15, 1, &t), 0);
    assert_int_equal(t, last_utc + 1);
    assert_int_equal(pki_time_from_asn1("4912312359Z", 11, 0, &t), -1);
    assert_int_equal(pki_time_from_asn1("491231235959+0000", 17, 0, &t), -1);
}

static int64_t fixed_clock(void)
{
    return 1234567890;
}

static void test_injectable_clock(void **state)
{
    (void)state;
    pki_set_clock(fixed_clock);
    assert_int_equal(pki_now(), 1234567890);
    pki_set_clock(NULL);
    assert_true(pki_now() > 1700000000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3339_known_instants),
        cmocka_unit_test(test_rfc3339_offsets_and_fractions),
        cmocka_unit_test(test_rfc3339_rejects),
        cmocka_unit_test(test_asn1_switches_to_generalized_in_2050),
        cmocka_unit_test(test_injectable_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
