/* Unit tests of relay/acme's pure parts: JWS parsing and verification with keys made by
 * lib/keys, JWK -> SPKI, RFC 7638 thumbprints, the EAB HMAC, nonces and policy matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acme/acme_impl.h"
#include "acme/jws.h"
#include "acme/nonce.h"
#include "keys/keys.h"
#include "util/encoding.h"

/* policy.c only needs g_acme through acme_impl.h's declaration. */
acme_config g_acme;

static char *b64(const void *p, size_t n)
{
    return pki_base64url_encode(p, n);
}

/* A public JWK for an EC or Ed25519 key, read off the end of its SPKI. */
static json_t *jwk_of(pki_key *k)
{
    size_t len;
    const uint8_t *spki = pki_key_spki(k, &len);
    switch (pki_key_get_type(k)) {
    case PKI_KEY_EC_P256: {
        char *x = b64(spki + len - 64, 32), *y = b64(spki + len - 32, 32);
        json_t *j = json_pack("{s:s,s:s,s:s,s:s}", "kty", "EC", "crv", "P-256", "x", x, "y", y);
        free(x);
        free(y);
        return j;
    }
    case PKI_KEY_EC_P384: {
        char *x = b64(spki + len - 96, 48), *y = b64(spki + len - 48, 48);
        json_t *j = json_pack("{s:s,s:s,s:s,s:s}", "kty", "EC", "crv", "P-384", "x", x, "y", y);
        free(x);
        free(y);
        return j;
    }
    case PKI_KEY_ED25519: {
        char *x = b64(spki + len - 32, 32);
        json_t *j = json_pack("{s:s,s:s,s:s}", "kty", "OKP", "crv", "Ed25519", "x", x);
        free(x);
        return j;
    }
    default:
        return NULL;
    }
}

/* DER Ecdsa-Sig-Value -> r||s of n octets each. */
static void der_to_raw(const uint8_t *der, size_t len, uint8_t *out, size_t n)
{
    (void)len;
    size_t o = 2;
    memset(out, 0, 2 * n);
    for (int i = 0; i < 2; i++) {
        size_t l = der[o + 1];
        const uint8_t *v = der + o + 2;
        while (l > n) {
            v++;
            l--;
        }
        memcpy(out + i * n + (n - l), v, l);
        o += 2 + der[o + 1];
    }
}

/* A flattened JWS signed with k; header members from hdr (stolen). */
static char *sign_jws(pki_key *k, const char *alg, json_t *hdr, const char *payload)
{
    json_object_set_new(hdr, "alg", json_string(alg));
    char *htext = json_dumps(hdr, JSON_COMPACT);
    json_decref(hdr);
    char *h64 = b64(htext, strlen(htext));
    char *p64 = b64(payload, strlen(payload));
    size_t n = strlen(h64) + strlen(p64) + 2;
    char *input = malloc(n);
    snprintf(input, n, "%s.%s", h64, p64);
    pki_sig_alg salg = pki_sig_alg_default(pki_key_get_type(k));
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    assert_int_equal(pki_key_sign(k, salg, (const uint8_t *)input, strlen(input), &sig, &sig_len),
                     0);
    uint8_t raw[96];
    char *s64;
    if (pki_key_get_type(k) == PKI_KEY_EC_P256 || pki_key_get_type(k) == PKI_KEY_EC_P384) {
        size_t half = pki_key_get_type(k) == PKI_KEY_EC_P256 ? 32 : 48;
        der_to_raw(sig, sig_len, raw, half);
        s64 = b64(raw, 2 * half);
    } else {
        s64 = b64(sig, sig_len);
    }
    json_t *jws = json_pack("{s:s,s:s,s:s}", "protected", h64, "payload", p64, "signature", s64);
    char *out = json_dumps(jws, JSON_COMPACT);
    json_decref(jws);
    free(htext);
    free(h64);
    free(p64);
    free(input);
    free(sig);
    free(s64);
    return out;
}

static void roundtrip(pki_key_type type, const char *alg, const char *wrong_alg)
{
    pki_key *k = pki_key_generate(type, 0, NULL, 0);
    assert_non_null(k);
    json_t *jwk = jwk_of(k);
    char *body = sign_jws(
        k, alg,
        json_pack("{s:O,s:s,s:s}", "jwk", jwk, "nonce", "abc", "url", "https://x/acme/new-account"),
        "{\"termsOfServiceAgreed\":true}");
    jws_msg m;
    char err[256];
    assert_int_equal(jws_parse((const uint8_t *)body, strlen(body), &m, err, sizeof err), JWS_OK);
    assert_string_equal(m.url, "https://x/acme/new-account");
    assert_string_equal(m.nonce, "abc");
    uint8_t *spki;
    size_t spki_len;
    pki_key_type t;
    assert_int_equal(jwk_to_spki(m.jwk, &spki, &spki_len, &t, err, sizeof err), JWS_OK);
    assert_int_equal(t, type);
    size_t klen;
    const uint8_t *kspki = pki_key_spki(k, &klen);
    assert_int_equal(spki_len, klen);
    assert_memory_equal(spki, kspki, klen);
    assert_int_equal(jws_verify(&m, spki, spki_len, t, err, sizeof err), JWS_OK);
    /* The same signature claimed under another algorithm is refused as such. */
    snprintf(m.alg, sizeof m.alg, "%s", wrong_alg);
    assert_int_equal(jws_verify(&m, spki, spki_len, t, err, sizeof err), JWS_BAD_ALG);
    snprintf(m.alg, sizeof m.alg, "%s", alg);
    /* A changed payload no longer verifies. */
    m.signing_input[m.signing_input_len - 1] ^= 1;
    assert_int_equal(jws_verify(&m, spki, spki_len, t, err, sizeof err), JWS_BAD_SIGNATURE);
    jws_msg_free(&m);
    free(spki);
    free(body);
    json_decref(jwk);
    pki_key_free(k);
}

static void test_es256(void **state)
{
    (void)state;
    roundtrip(PKI_KEY_EC_P256, "ES256", "ES384");
}

static void test_es384(void **state)
{
    (void)state;
    roundtrip(PKI_KEY_EC_P384, "ES384", "ES256");
}

static void test_eddsa(void **state)
{
    (void)state;
    roundtrip(PKI_KEY_ED25519, "EdDSA", "none");
}

static void expect_malformed(const char *body)
{
    jws_msg m;
    char err[256];
    assert_int_not_equal(jws_parse((const uint8_t *)body, strlen(body), &m, err, sizeof err),
                         JWS_OK);
    assert_true(err[0] != 0);
}

static void test_malformed(void **state)
{
    (void)state;
    expect_malformed("");
    expect_malformed("[]");
    expect_malformed("{\"protected\":\"e30\",\"payload\":\"\"}");
    /* unprotected header */
    expect_malformed("{\"protected\":\"eyJhbGciOiJFUzI1NiJ9\",\"payload\":\"\",\"signature\":"
                     "\"AA\",\"header\":{}}");
    /* padding is not base64url */
    expect_malformed("{\"protected\":\"eyJhbGciOiJFUzI1NiJ9=\",\"payload\":\"\",\"signature\":"
                     "\"AA\"}");
    /* no alg */
    expect_malformed("{\"protected\":\"e30\",\"payload\":\"\",\"signature\":\"AA\"}");
    /* duplicate members */
    expect_malformed("{\"protected\":\"e30\",\"protected\":\"e30\",\"payload\":\"\","
                     "\"signature\":\"AA\"}");
}

static void test_thumbprint_rfc7638(void **state)
{
    (void)state;
    /* RFC 7638 section 3.1. */
    json_t *jwk = json_pack(
        "{s:s,s:s,s:s,s:s,s:s}", "kty", "RSA", "n",
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
        "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
        "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"
        "bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-"
        "kEgU8awapJzKnqDKgw",
        "e", "AQAB", "alg", "RS256", "kid", "2011-04-29");
    char tp[JWK_THUMBPRINT_LEN], err[128];
    assert_int_equal(jwk_thumbprint(jwk, tp, err, sizeof err), JWS_OK);
    assert_string_equal(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    /* The same key converts to an RSA SPKI the key layer accepts. */
    uint8_t *spki;
    size_t len;
    pki_key_type t;
    assert_int_equal(jwk_to_spki(jwk, &spki, &len, &t, err, sizeof err), JWS_OK);
    assert_int_equal(t, PKI_KEY_RSA);
    free(spki);
    /* Private members are refused. */
    json_object_set_new(jwk, "d", json_string("AQAB"));
    assert_int_equal(jwk_to_spki(jwk, &spki, &len, &t, err, sizeof err), JWS_BAD_PUBLIC_KEY);
    json_decref(jwk);
}

static void test_hmac(void **state)
{
    (void)state;
    /* RFC 7515 appendix A.1 (HS256). */
    const char *body =
        "{\"protected\":\"eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9\","
        "\"payload\":\"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9"
        "pc19yb290Ijp0cnVlfQ\",\"signature\":\"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk\"}";
    const char *k64 =
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
    uint8_t *key;
    size_t key_len;
    assert_int_equal(pki_base64url_decode(k64, strlen(k64), &key, &key_len), 0);
    jws_msg m;
    char err[128];
    assert_int_equal(jws_parse((const uint8_t *)body, strlen(body), &m, err, sizeof err), JWS_OK);
    assert_int_equal(jws_verify_hmac(&m, key, key_len, err, sizeof err), JWS_OK);
    key[0] ^= 1;
    assert_int_equal(jws_verify_hmac(&m, key, key_len, err, sizeof err), JWS_BAD_SIGNATURE);
    jws_msg_free(&m);
    free(key);
}

static void test_nonces(void **state)
{
    (void)state;
    acme_nonces *n = acme_nonces_new(60, 4);
    char a[ACME_NONCE_LEN], b[ACME_NONCE_LEN];
    assert_int_equal(acme_nonce_issue(n, 1000, a), 0);
    assert_int_equal(acme_nonce_issue(n, 1000, b), 0);
    assert_string_not_equal(a, b);
    assert_true(acme_nonce_consume(n, a, 1001));
    assert_false(acme_nonce_consume(n, a, 1001));                        /* single use */
    assert_false(acme_nonce_consume(n, b, 1061));                        /* expired */
    assert_false(acme_nonce_consume(n, "AAAAAAAAAAAAAAAAAAAAAA", 1001)); /* never issued */
    /* Beyond the bound the oldest are dropped; the table keeps working after many rounds. */
    char keep[ACME_NONCE_LEN];
    for (int i = 0; i < 10000; i++) {
        assert_int_equal(acme_nonce_issue(n, 2000 + i, keep), 0);
        if (i % 3 == 0)
            assert_true(acme_nonce_consume(n, keep, 2000 + i));
    }
    char first[ACME_NONCE_LEN];
    assert_int_equal(acme_nonce_issue(n, 20000, first), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(acme_nonce_issue(n, 20000, keep), 0);
    assert_false(acme_nonce_consume(n, first, 20000)); /* pushed out by four newer ones */
    assert_true(acme_nonce_consume(n, keep, 20000));
    acme_nonces_free(n);
}

static void test_policy(void **state)
{
    (void)state;
    acme_policy p = {0};
    p.allowed = "[\"*.example.com\",\"exact.test\"]";
    p.preapproved = "[\"*.pre.example.com\"]";
    assert_true(acme_policy_allows(&p, "example.com"));
    assert_true(acme_policy_allows(&p, "a.b.example.com"));
    assert_true(acme_policy_allows(&p, "*.example.com"));
    assert_true(acme_policy_allows(&p, "exact.test"));
    assert_false(acme_policy_allows(&p, "sub.exact.test"));
    assert_false(acme_policy_allows(&p, "*.exact.test"));
    assert_false(acme_policy_allows(&p, "badexample.com"));
    assert_false(acme_policy_allows(&p, "example.org"));
    assert_true(acme_policy_preapproved(&p, "pre.example.com"));
    assert_true(acme_policy_preapproved(&p, "x.pre.example.com"));
    assert_false(acme_policy_preapproved(&p, "example.com"));
    p.allowed = "[]"; /* no list: any name, proven by challenges */
    assert_true(acme_policy_allows(&p, "anything.org"));
    char n1[] = "WWW.Example.COM", n2[] = "*.x.org", n3[] = "a..b", n4[] = "1.2.3.4", n5[] = "-a.b",
         n6[] = "a.*.b", n7[] = "localhost";
    assert_true(acme_dns_name_ok(n1, false));
    assert_string_equal(n1, "www.example.com");
    assert_true(acme_dns_name_ok(n2, true));
    assert_false(acme_dns_name_ok(n3, true));
    assert_false(acme_dns_name_ok(n4, true));
    assert_false(acme_dns_name_ok(n5, true));
    assert_false(acme_dns_name_ok(n6, true));
    assert_false(acme_dns_name_ok(n7, true));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_es256),
        cmocka_unit_test(test_es384),
        cmocka_unit_test(test_eddsa),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_thumbprint_rfc7638),
        cmocka_unit_test(test_hmac),
        cmocka_unit_test(test_nonces),
        cmocka_unit_test(test_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
