/* The agent's certificate reader (agent/certinfo): the HSM provisioning certificate must carry
 * over into the CA certificate exactly (subject, validity and every extension but SKI/AKI, byte
 * for byte), leaf certificates and garbage are refused with a message, and self-signed chains
 * verify while a tampered one does not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "certinfo/certinfo.h"
#include "signer/soft_signer.h"

/* openssl req -x509 … with SAN (DNS, IPv4, IPv6, email, URI), EKU (named and by OID), CRL DP,
 * AIA (OCSP, caIssuers), two policies and a private extension (1.3.6.1.4.1.99999.77). */
static const char TEMPLATE[] = "-----BEGIN CERTIFICATE-----\n"
                               "MIIDfzCCAyagAwIBAgIUDWeVwtuVE3Zu5S1Ttue0cGBhwl4wCgYIKoZIzj0EAwIw\n"
                               "WzELMAkGA1UEBhMCREUxDzANBgNVBAgMBkJlcmxpbjEUMBIGA1UECgwLRXhhbXBs\n"
                               "ZSBPcmcxDDAKBgNVBAsMA1BLSTEXMBUGA1UEAwwORXhhbXBsZSBIU00gQ0EwHhcN\n"
                               "MjYxMTI3MTU1MDQ0WhcNMzYxMTI0MTU1MDQ0WjBbMQswCQYDVQQGEwJERTEPMA0G\n"
                               "A1UECAwGQmVybGluMRQwEgYDVQQKDAtFeGFtcGxlIE9yZzEMMAoGA1UECwwDUEtJ\n"
                               "MRcwFQYDVQQDDA5FeGFtcGxlIEhTTSBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEH\n"
                               "A0IABMgKhr57KQaMsPvvrDCC3dMX8SOfDDfnfjsnzVm6PJzn/Xg+kYVHSQb2mOso\n"
                               "FWkM+L8Jm59OCyPajX5wjxUAzRijggHGMIIBwjAdBgNVHQ4EFgQUZmf9KcxlrBEU\n"
                               "eCmwimdBQ/1aDCswHwYDVR0jBBgwFoAUZmf9KcxlrBEUeCmwimdBQ/1aDCswEgYD\n"
                               "VR0TAQH/BAgwBgEB/wIBAjAOBgNVHQ8BAf8EBAMCAYYwWwYDVR0RBFQwUoIOY2Eu\n"
                               "ZXhhbXBsZS5vcmeHBMAAAgeHECABDbgAAAAAAAAAAAAAAAeBD3BraUBleGFtcGxl\n"
                               "Lm9yZ4YXaHR0cHM6Ly9jYS5leGFtcGxlLm9yZy8wKAYDVR0lBCEwHwYIKwYBBQUH\n"
                               "AwEGCCsGAQUFBwMCBgkrBgEEAYaNHwUwLgYDVR0fBCcwJTAjoCGgH4YdaHR0cDov\n"
                               "L2NybC5leGFtcGxlLm9yZy9jYS5jcmwwXQYIKwYBBQUHAQEEUTBPMCMGCCsGAQUF\n"
                               "BzABhhdodHRwOi8vb2NzcC5leGFtcGxlLm9yZzAoBggrBgEFBQcwAoYcaHR0cDov\n"
                               "L2NhLmV4YW1wbGUub3JnL2NhLmNydDAgBgNVHSAEGTAXMAsGCSsGAQQBho0fATAI\n"
                               "BgZngQwBAgEwJAYJKwYBBAGGjR9NBBcMFWNhcnJpZWQgb3ZlciB2ZXJiYXRpbTAK\n"
                               "BggqhkjOPQQDAgNHADBEAiAteJC9N2ltC5Udj8uMqZWIHRp/CSM+z+SvarQ2kjL8\n"
                               "yAIgMvJAHJtBn2tlgWy2mrCkx/ximbjY0NwAa8oHQ2vhhbY=\n"
                               "-----END CERTIFICATE-----\n";

static void parse_template(certinfo *ci)
{
    char err[256] = "";
    assert_int_equal(
        certinfo_parse(ci, (const uint8_t *)TEMPLATE, strlen(TEMPLATE), err, sizeof err), 0);
}

static const certinfo_ext *find(const certinfo *ci, const char *oid)
{
    for (size_t i = 0; i < ci->n_exts; i++)
        if (strcmp(ci->exts[i].oid, oid) == 0)
            return &ci->exts[i];
    return NULL;
}

static void test_template_carries_over(void **state)
{
    (void)state;
    certinfo tpl, made;
    parse_template(&tpl);
    assert_int_equal(tpl.is_ca, 1);
    assert_int_equal(tpl.path_len, 2);
    pki_signer *signer = pki_soft_signer_generate(PKI_KEY_EC_P384, 0);
    assert_non_null(signer);
    pki_cert_template t;
    certinfo_tpl *map = calloc(1, sizeof *map);
    char err[256] = "";
    assert_int_equal(
        certinfo_to_template(&tpl, signer->spki, signer->spki_len, &t, map, err, sizeof err), 0);
    uint8_t *der = NULL;
    size_t len = 0;
    assert_int_equal(pki_cert_build_sync(&t, NULL, signer, &der, &len, err, sizeof err), 0);
    assert_int_equal(certinfo_parse(&made, der, len, err, sizeof err), 0);
    /* subject and validity as in the template (lib/x509 picks the string types: the same
     * attributes and values, PrintableString where it fits); the key is the signer's */
    assert_int_equal(made.subject.count, tpl.subject.count);
    for (size_t i = 0; i < tpl.subject.count; i++) {
        assert_string_equal(made.subject.attr[i].oid, tpl.subject.attr[i].oid);
        assert_string_equal(made.subject.attr[i].value, tpl.subject.attr[i].value);
        assert_int_equal(made.subject.attr[i].joined, tpl.subject.attr[i].joined);
    }
    assert_int_equal(made.issuer_der_len, made.subject_der_len);
    assert_memory_equal(made.issuer_der, made.subject_der, made.subject_der_len);
    assert_true(made.not_before == tpl.not_before && made.not_after == tpl.not_after);
    assert_int_equal(made.spki_len, signer->spki_len);
    assert_memory_equal(made.spki, signer->spki, signer->spki_len);
    assert_int_equal(made.path_len, 2);
    /* every extension but SKI/AKI byte for byte, with its criticality */
    for (size_t i = 0; i < tpl.n_exts; i++) {
        const certinfo_ext *want = &tpl.exts[i];
        if (!strcmp(want->oid, "2.5.29.14") || !strcmp(want->oid, "2.5.29.35"))
            continue;
        const certinfo_ext *got = find(&made, want->oid);
        if (!got)
            fail_msg("extension %s was not carried over", want->oid);
        assert_int_equal(got->critical, want->critical);
        assert_int_equal(got->len, want->len);
        assert_memory_equal(got->value, want->value, want->len);
    }
    assert_non_null(find(&made, "2.5.29.14"));
    assert_non_null(find(&made, "2.5.29.35"));
    if (certinfo_verify_chain(&made, NULL, 0, err, sizeof err) != 0)
        fail_msg("the self-signed CA certificate does not verify: %s", err);
    /* a flipped bit in the signature breaks the chain check */
    der[len - 3] ^= 0x01;
    certinfo bad;
    assert_int_equal(certinfo_parse(&bad, der, len, err, sizeof err), 0);
    assert_int_not_equal(certinfo_verify_chain(&bad, NULL, 0, err, sizeof err), 0);
    assert_true(strlen(err) > 0);
    certinfo_free(&bad);
    certinfo_free(&made);
    free(der);
    certinfo_tpl_free(map);
    free(map);
    pki_signer_free(signer);
    certinfo_free(&tpl);
}

static void test_decoded_details(void **state)
{
    (void)state;
    certinfo ci;
    parse_template(&ci);
    json_t *j = certinfo_json(&ci);
    assert_string_equal(json_string_value(json_object_get(j, "subject")),
                        "CN=Example HSM CA,OU=PKI,O=Example Org,ST=Berlin,C=DE");
    assert_string_equal(json_string_value(json_object_get(j, "key_type")), "ec-p256");
    assert_true(json_is_true(json_object_get(j, "is_ca")));
    assert_int_equal(json_array_size(json_object_get(j, "extensions")), ci.n_exts);
    json_decref(j);
    char *pem = certinfo_pem(&ci);
    assert_non_null(pem);
    assert_string_equal(pem, TEMPLATE);
    free(pem);
    certinfo_free(&ci);
}

static void test_garbage_refused(void **state)
{
    (void)state;
    static const char *const BAD[] = {
        "",
        "   \n",
        "hello",
        "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
        "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n",
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        certinfo ci;
        char err[256] = "";
        assert_int_equal(
            certinfo_parse(&ci, (const uint8_t *)BAD[i], strlen(BAD[i]), err, sizeof err), -1);
        assert_true(strlen(err) > 0);
    }
    /* two certificates where one is expected */
    size_t n = strlen(TEMPLATE);
    char *two = malloc(2 * n + 1);
    memcpy(two, TEMPLATE, n);
    memcpy(two + n, TEMPLATE, n + 1);
    certinfo ci;
    char err[256] = "";
    assert_int_equal(certinfo_parse(&ci, (const uint8_t *)two, 2 * n, err, sizeof err), -1);
    assert_non_null(strstr(err, "exactly one"));
    /* but a chain of two is fine */
    certinfo *chain = NULL;
    size_t count = 0;
    assert_int_equal(certinfo_parse_chain(two, 2 * n, &chain, &count, err, sizeof err), 0);
    assert_int_equal(count, 2);
    for (size_t i = 0; i < count; i++)
        certinfo_free(&chain[i]);
    free(chain);
    free(two);
}

static void test_leaf_is_no_template(void **state)
{
    (void)state;
    certinfo ci;
    parse_template(&ci);
    ci.is_ca = 0; /* as a certificate without basicConstraints cA reads */
    pki_cert_template t;
    certinfo_tpl *map = calloc(1, sizeof *map);
    char err[256] = "";
    assert_int_equal(certinfo_to_template(&ci, ci.spki, ci.spki_len, &t, map, err, sizeof err), -1);
    assert_non_null(strstr(err, "basicConstraints"));
    free(map);
    certinfo_free(&ci);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_template_carries_over),
        cmocka_unit_test(test_decoded_details),
        cmocka_unit_test(test_garbage_refused),
        cmocka_unit_test(test_leaf_is_no_template),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
