/* piv-sim units: APDU parsing of every ISO 7816-4 case, BER-TLV bounds, and the sealed state
 * (round trip, tamper detection, the factory reset keeping the attestation key). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "apdu.h"
#include "crypto.h"
#include "state.h"
#include "tlv.h"

static uint16_t parse_hex(const char *hex, struct apdu *a, uint8_t *buf)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        buf[i] = (uint8_t)v;
    }
    return apdu_parse(buf, n, a);
}

static void test_apdu_cases(void **state)
{
    (void)state;
    struct apdu a;
    uint8_t b[300];
    assert_int_equal(parse_hex("00a40400", &a, b), 0); /* case 1 */
    assert_false(a.has_le);
    assert_int_equal(a.lc, 0);
    assert_int_equal(parse_hex("00fd000000", &a, b), 0); /* case 2, Le 00 = 256 */
    assert_true(a.has_le);
    assert_int_equal(a.le, 256);
    assert_int_equal(parse_hex("00a4040005a000000308", &a, b), 0); /* case 3 */
    assert_int_equal(a.lc, 5);
    assert_int_equal(a.data[0], 0xa0);
    assert_int_equal(parse_hex("00a4040005a00000030810", &a, b), 0); /* case 4 */
    assert_int_equal(a.le, 0x10);
    assert_int_equal(parse_hex("00cb3fff000005"
                               "5c035fc102"
                               "0000",
                               &a, b),
                     0); /* ext. case 4 */
    assert_true(a.extended);
    assert_int_equal(a.lc, 5);
    assert_int_equal(a.le, 65536);
    assert_int_equal(parse_hex("00fd0000000100", &a, b), 0); /* extended case 2 */
    assert_int_equal(a.le, 256);
    /* wrong lengths */
    assert_int_equal(parse_hex("00a404", &a, b), SW_WRONG_LENGTH);
    assert_int_equal(parse_hex("00a4040005a0000003", &a, b), SW_WRONG_LENGTH);
    assert_int_equal(parse_hex("00a4040002a0000000", &a, b), SW_WRONG_LENGTH);
    assert_int_equal(parse_hex("00a40400000000", &a, b), 0); /* extended Le 0000 = 65536 */
    assert_int_equal(a.le, 65536);
    assert_int_equal(parse_hex("00a4040000000001", &a, b), SW_WRONG_LENGTH);
    assert_int_equal(parse_hex("00a404000000", &a, b), SW_WRONG_LENGTH);
    /* commands without data still have a non-null data pointer */
    assert_int_equal(parse_hex("00fd000000", &a, b), 0);
    assert_non_null(a.data);
}

static void test_tlv_bounds(void **state)
{
    (void)state;
    const uint8_t ok[] = {0x7f, 0x49, 0x82, 0x00, 0x02, 0x86, 0x00, 0x01, 0x00};
    const uint8_t *p = ok, *v;
    unsigned tag;
    size_t len;
    assert_true(tlv_next(&p, ok + sizeof(ok), &tag, &v, &len));
    assert_int_equal(tag, 0x7f49);
    assert_int_equal(len, 2);
    assert_true(tlv_find(ok + 7, 2, 0x01, &v, &len));
    assert_int_equal(len, 0);
    const uint8_t truncated[] = {0x53, 0x82, 0x01, 0x00, 0xaa};
    p = truncated;
    assert_false(tlv_next(&p, truncated + sizeof(truncated), &tag, &v, &len));
    const uint8_t longform[] = {0x53, 0x83, 0x00, 0x00, 0x01, 0xaa};
    p = longform;
    assert_false(tlv_next(&p, longform + sizeof(longform), &tag, &v, &len));
    assert_false(tlv_find(NULL, 0, 0x53, &v, &len));
    struct buf b;
    buf_init(&b, 4);
    buf_put_tlv(&b, 0x53, "abc", 3); /* 5 bytes > max 4 */
    assert_true(b.failed);
    buf_free(&b);
}

static void test_state_round_trip_and_tamper(void **state)
{
    (void)state;
    char dir[] = "/tmp/pivsim-unit-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], keyp[300];
    snprintf(path, sizeof(path), "%s/key.state", dir);
    snprintf(keyp, sizeof(keyp), "%s.key", path);
    char err[256];
    struct sim_state s;
    assert_int_equal(state_open(&s, path, 4242, err, sizeof(err)), 0);
    assert_int_equal(s.serial, 4242);
    assert_int_equal(s.pin_left, 3);
    uint8_t *der = malloc(3);
    memcpy(der, "\x01\x02\x03", 3);
    state_set_key(&s, 0x9a, ALGO_ECCP256, PIN_ALWAYS, TOUCH_CACHED, ORIGIN_IMPORTED, der, 3);
    uint8_t *f9 = malloc(2);
    memcpy(f9, "\xf9\xf9", 2);
    state_set_key(&s, 0xf9, ALGO_ECCP256, 0, 0, ORIGIN_GENERATED, f9, 2);
    assert_int_equal(state_put_object(&s, 0x5fc102, (const uint8_t *)"chuid", 5), 0);
    assert_int_equal(state_put_object(&s, 0x5fff01, (const uint8_t *)"att", 3), 0);
    s.pin_left = 1;
    assert_int_equal(state_save(&s), 0);
    state_free(&s);

    struct sim_state t;
    assert_int_equal(state_open(&t, path, 999, err, sizeof(err)), 0);
    assert_int_equal(t.serial, 4242); /* the file wins over the argument */
    assert_int_equal(t.pin_left, 1);
    assert_int_equal(t.keys[0x9a].algo, ALGO_ECCP256);
    assert_int_equal(t.keys[0x9a].pin_policy, PIN_ALWAYS);
    assert_int_equal(t.keys[0x9a].touch_policy, TOUCH_CACHED);
    assert_memory_equal(t.keys[0x9a].der, "\x01\x02\x03", 3);
    assert_non_null(state_get_object(&t, 0x5fc102));
    state_factory_reset(&t);
    assert_int_equal(t.pin_left, 3);
    assert_int_equal(t.keys[0x9a].algo, 0);
    assert_int_equal(t.keys[0xf9].algo, ALGO_ECCP256); /* attestation key kept */
    assert_null(state_get_object(&t, 0x5fc102));
    assert_non_null(state_get_object(&t, 0x5fff01)); /* and its certificate */
    state_free(&t);

    /* one flipped bit anywhere after the magic: refused, never silently replaced */
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 20, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 20, SEEK_SET);
    fputc(c ^ 0x01, f);
    fclose(f);
    struct sim_state u;
    assert_int_equal(state_open(&u, path, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot be decrypted"));
    state_free(&u);

    unlink(path);
    unlink(keyp);
    rmdir(dir);
}

int main(void)
{
    if (crypto_init() != 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apdu_cases),
        cmocka_unit_test(test_tlv_bounds),
        cmocka_unit_test(test_state_round_trip_and_tamper),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    crypto_cleanup();
    return rc;
}
