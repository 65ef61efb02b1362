/* The HSM provisioning extension (hsm-contract §1): what the relay encodes the agent decodes
 * field for field; every malformed or incomplete value is refused; in a certificate the
 * extension is found only when it is there once and critical. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "der/der_writer.h"
#include "link/link.h"

static link_provisioning sample(void)
{
    link_provisioning p;
    memset(&p, 0, sizeof p);
    strcpy(p.link_url, "wss://relay.example:8443/link");
    strcpy(p.ca_id, "17");
    p.ca_kind = LINK_CA_INTERMEDIATE;
    strcpy(p.token, "tok-\xc3\xa9t\xc3\xa9-123");
    p.token_expires = 1893456000; /* 2030-01-01 */
    for (int i = 0; i < 32; i++)
        p.relay_fingerprint[i] = (uint8_t)(i * 7 + 1);
    return p;
}

static void test_round_trip(void **state)
{
    (void)state;
    link_provisioning p = sample(), q;
    uint8_t *der;
    size_t len;
    assert_int_equal(link_provisioning_encode(&p, &der, &len), 0);
    memset(&q, 0xaa, sizeof q);
    assert_int_equal(link_provisioning_decode(der, len, &q), 0);
    assert_string_equal(q.link_url, p.link_url);
    assert_string_equal(q.ca_id, p.ca_id);
    assert_int_equal(q.ca_kind, p.ca_kind);
    assert_string_equal(q.token, p.token);
    assert_true(q.token_expires == p.token_expires);
    assert_memory_equal(q.relay_fingerprint, p.relay_fingerprint, 32);
    /* trailing octet, and every truncation, refused */
    uint8_t *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, der, len);
    longer[len] = 0;
    assert_int_equal(link_provisioning_decode(longer, len + 1, &q), -1);
    for (size_t n = 0; n < len; n++)
        assert_int_equal(link_provisioning_decode(der, n, &q), -1);
    free(longer);
    free(der);
}

static void test_encode_refuses_bad_fields(void **state)
{
    (void)state;
    uint8_t *der = NULL;
    size_t len;
    link_provisioning p = sample();
    p.token[0] = 0;
    assert_int_equal(link_provisioning_encode(&p, &der, &len), -1);
    p = sample();
    p.ca_kind = 2;
    assert_int_equal(link_provisioning_encode(&p, &der, &len), -1);
    p = sample();
    strcpy(p.link_url, "wss://r\xc3\xa9lay/link"); /* not IA5 */
    assert_int_equal(link_provisioning_encode(&p, &der, &len), -1);
    p = sample();
    memset(p.ca_id, '1', sizeof p.ca_id); /* no NUL inside the field */
    assert_int_equal(link_provisioning_encode(&p, &der, &len), -1);
    assert_null(der);
}

/* Writes an IothsmProvisioning with one field varied, for the decoder's refusals. */
enum { V_OK, V_VERSION, V_KIND, V_FP31, V_EMPTY_TOKEN, V_URL_UTF8, V_UTCTIME, V_EXTRA };
static uint8_t *variant(int v, size_t *len)
{
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_int(&w, v == V_VERSION ? 2 : 1);
    pki_derw_string(&w, v == V_URL_UTF8 ? PKI_DERW_STR_UTF8 : PKI_DERW_STR_IA5, "wss://h:1/link",
                    14);
    pki_derw_string(&w, PKI_DERW_STR_UTF8, "3", 1);
    pki_derw_enum(&w, v == V_KIND ? 2 : 0);
    pki_derw_string(&w, PKI_DERW_STR_UTF8, "abc", v == V_EMPTY_TOKEN ? 0 : 3);
    if (v == V_UTCTIME)
        pki_derw_time(&w, 1700000000);
    else
        pki_derw_generalized_time(&w, 1700000000);
    uint8_t fp[32] = {1};
    pki_derw_octet_string(&w, fp, v == V_FP31 ? 31 : 32);
    if (v == V_EXTRA)
        pki_derw_null(&w);
    pki_derw_end(&w);
    return pki_derw_take(&w, len);
}

static void test_decode_refuses(void **state)
{
    (void)state;
    link_provisioning q;
    size_t len;
    uint8_t *der = variant(V_OK, &len);
    assert_int_equal(link_provisioning_decode(der, len, &q), 0);
    assert_string_equal(q.ca_id, "3");
    assert_int_equal(q.ca_kind, LINK_CA_ROOT);
    free(der);
    for (int v = V_VERSION; v <= V_EXTRA; v++) {
        der = variant(v, &len);
        assert_non_null(der);
        assert_int_equal(link_provisioning_decode(der, len, &q), -1);
        free(der);
    }
}

/* A certificate skeleton (signature not checked by from_cert) with the given extensions:
 * mode 0 none, 1 ours critical, 2 ours not critical, 3 ours twice, 4 ours after basicConstraints,
 * 5 ours critical with a malformed value. */
static uint8_t *cert_with(int mode, size_t *len)
{
    link_provisioning p = sample();
    uint8_t *ext = NULL;
    size_t ext_len = 0;
    assert_int_equal(link_provisioning_encode(&p, &ext, &ext_len), 0);
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_begin(&w, PKI_DER_SEQUENCE); /* tbsCertificate */
    pki_derw_begin(&w, PKI_DER_CTX_CONS(0));
    pki_derw_int(&w, 2);
    pki_derw_end(&w);
    pki_derw_int(&w, 42);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_oid(&w, "1.2.840.10045.4.3.2");
    pki_derw_end(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE); /* issuer: empty name */
    pki_derw_end(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_time(&w, 1700000000);
    pki_derw_time(&w, 1800000000);
    pki_derw_end(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_end(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE); /* a stand-in SPKI */
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_oid(&w, "1.2.840.10045.2.1");
    pki_derw_end(&w);
    uint8_t pt[65] = {4};
    pki_derw_bit_string(&w, pt, sizeof pt, 0);
    pki_derw_end(&w);
    if (mode) {
        pki_derw_begin(&w, PKI_DER_CTX_CONS(3));
        pki_derw_begin(&w, PKI_DER_SEQUENCE);
        if (mode == 4) {
            static const uint8_t bc[] = {0x30, 0x03, 0x01, 0x01, 0xff};
            pki_derw_begin(&w, PKI_DER_SEQUENCE);
            pki_derw_oid(&w, "2.5.29.19");
            pki_derw_bool(&w, 1);
            pki_derw_octet_string(&w, bc, sizeof bc);
            pki_derw_end(&w);
        }
        for (int i = 0; i < (mode == 3 ? 2 : 1); i++) {
            pki_derw_begin(&w, PKI_DER_SEQUENCE);
            pki_derw_oid(&w, LINK_PROVISIONING_OID);
            if (mode != 2)
                pki_derw_bool(&w, 1);
            pki_derw_octet_string(&w, ext, mode == 5 ? ext_len - 1 : ext_len);
            pki_derw_end(&w);
        }
        pki_derw_end(&w);
        pki_derw_end(&w);
    }
    pki_derw_end(&w); /* tbs */
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_oid(&w, "1.2.840.10045.4.3.2");
    pki_derw_end(&w);
    uint8_t sig[8] = {0};
    pki_derw_bit_string(&w, sig, sizeof sig, 0);
    pki_derw_end(&w);
    free(ext);
    uint8_t *der = pki_derw_take(&w, len);
    assert_non_null(der);
    return der;
}

static void test_from_cert(void **state)
{
    (void)state;
    static const int want[] = {1, 0, -1, -1, 0, -1};
    for (int mode = 0; mode <= 5; mode++) {
        size_t len;
        uint8_t *der = cert_with(mode, &len);
        link_provisioning q;
        memset(&q, 0, sizeof q);
        assert_int_equal(link_provisioning_from_cert(der, len, &q), want[mode]);
        if (want[mode] == 0) {
            assert_string_equal(q.link_url, "wss://relay.example:8443/link");
            assert_string_equal(q.ca_id, "17");
        }
        /* a truncated certificate is malformed, never "absent" */
        assert_int_equal(link_provisioning_from_cert(der, len - 1, &q), -1);
        free(der);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_encode_refuses_bad_fields),
        cmocka_unit_test(test_decode_refuses),
        cmocka_unit_test(test_from_cert),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
