/* Round trip: what lib/x509 builds, wolfSSL parses back (wc_ParseCert / DecodedCert) to the
 * same fields, its certificate manager verifies the chain, and a CRL we build makes it reject
 * the revoked certificate. For P-256, P-384, RSA-2048 and Ed25519 keys made in-process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>

#include "signer/soft_signer.h"
#include "util/timefmt.h"
#include "x509/x509.h"

/* wolfSSL checks validity against the real clock, so the chain is built around it. */
static int64_t NOW;

typedef struct {
    pki_signer *ca_key, *leaf_key;
    uint8_t *root, *leaf, *csr, *crl;
    size_t root_len, leaf_len, csr_len, crl_len;
} chain;

static const pki_general_name SAN[] = {{PKI_GN_DNS, "rt.example.com"},
                                       {PKI_GN_DNS, "alt.example.com"},
                                       {PKI_GN_IP, "198.51.100.4"},
                                       {PKI_GN_EMAIL, "ops@example.com"},
                                       {PKI_GN_URI, "https://rt.example.com/"}};
static const char *const EKU[] = {"serverAuth", "clientAuth"};
static const char *const OCSP_URL[] = {"http://ocsp.example.com/rt"};
static const char *const CRL_URL[] = {"http://crl.example.com/rt.crl"};
static const pki_policy POLICY[] = {{"2.23.140.1.2.2", "https://cps.example.com/"}};
static const uint8_t LEAF_SERIAL[] = {0x4a, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};

static void build_chain(chain *c, pki_key_type type)
{
    char err[200];
    memset(c, 0, sizeof *c);
    c->ca_key = pki_soft_signer_generate(type, 2048);
    c->leaf_key = pki_soft_signer_generate(type, 2048);
    assert_non_null(c->ca_key);
    assert_non_null(c->leaf_key);

    pki_cert_template t;
    pki_cert_template_init(&t);
    assert_int_equal(
        pki_name_parse(&t.subject, "/C=DE/O=Roundtrip/CN=Roundtrip Root", err, sizeof err), 0);
    t.not_before = NOW - 86400;
    t.not_after = NOW + 3650 * 86400LL;
    t.spki = c->ca_key->spki;
    t.spki_len = c->ca_key->spki_len;
    t.is_ca = 1;
    t.path_len = 2;
    t.key_usage = PKI_KU_KEY_CERT_SIGN | PKI_KU_CRL_SIGN;
    assert_int_equal(
        pki_cert_build_sync(&t, NULL, c->ca_key, &c->root, &c->root_len, err, sizeof err), 0);

    pki_issuer is;
    assert_int_equal(pki_issuer_from_cert(&is, c->root, c->root_len, err, sizeof err), 0);
    pki_cert_template_init(&t);
    assert_int_equal(
        pki_name_parse(&t.subject, "CN=rt.example.com,O=Roundtrip,C=DE", err, sizeof err), 0);
    t.serial = LEAF_SERIAL;
    t.serial_len = sizeof LEAF_SERIAL;
    t.not_before = NOW - 3600;
    t.not_after = NOW + 90 * 86400;
    t.spki = c->leaf_key->spki;
    t.spki_len = c->leaf_key->spki_len;
    t.key_usage = PKI_KU_DIGITAL_SIGNATURE;
    t.eku = EKU;
    t.eku_count = 2;
    t.san = SAN;
    t.san_count = sizeof SAN / sizeof SAN[0];
    t.ocsp_urls = OCSP_URL;
    t.ocsp_url_count = 1;
    t.crl_urls = CRL_URL;
    t.crl_url_count = 1;
    t.policies = POLICY;
    t.policy_count = 1;
    assert_int_equal(
        pki_cert_build_sync(&t, &is, c->ca_key, &c->leaf, &c->leaf_len, err, sizeof err), 0);

    pki_exts e;
    pki_exts_init(&e);
    pki_exts_add_san(&e, SAN, 1, 0);
    assert_int_equal(
        pki_csr_build_sync(&t.subject, &e, c->leaf_key, 0, &c->csr, &c->csr_len, err, sizeof err),
        0);
    pki_exts_free(&e);

    const pki_crl_entry revoked = {LEAF_SERIAL, sizeof LEAF_SERIAL, NOW - 60,
                                   PKI_REASON_KEY_COMPROMISE, 0};
    pki_crl_template ct = {0};
    ct.this_update = NOW - 120;
    ct.next_update = NOW + 86400;
    ct.crl_number = 3;
    ct.entries = &revoked;
    ct.count = 1;
    assert_int_equal(pki_crl_build_sync(&ct, &is, c->ca_key, &c->crl, &c->crl_len, err, sizeof err),
                     0);
    pki_issuer_free(&is);
}

static void free_chain(chain *c)
{
    free(c->root);
    free(c->leaf);
    free(c->csr);
    free(c->crl);
    pki_signer_free(c->ca_key);
    pki_signer_free(c->leaf_key);
}

static int has_alt(const DecodedCert *dc, int type, const char *name)
{
    for (const DNS_entry *e = dc->altNames; e; e = e->next) {
        const char *v = type == ASN_IP_TYPE ? e->ipString : e->name;
        if (e->type == type && v && !strcmp(v, name))
            return 1;
    }
    return 0;
}

static void check_fields(const chain *c)
{
    DecodedCert dc;
    wc_InitDecodedCert(&dc, c->leaf, (word32)c->leaf_len, NULL);
    assert_int_equal(wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL), 0);
    assert_int_equal(dc.serialSz, sizeof LEAF_SERIAL);
    assert_memory_equal(dc.serial, LEAF_SERIAL, sizeof LEAF_SERIAL);
    assert_int_equal(dc.subjectCNLen, 14);
    assert_memory_equal(dc.subjectCN, "rt.example.com", 14);
    assert_int_equal(dc.isCA, 0);
    assert_int_equal(dc.extKeyUsage, KEYUSE_DIGITAL_SIG);
    assert_int_equal(dc.extExtKeyUsage, EXTKEYUSE_SERVER_AUTH | EXTKEYUSE_CLIENT_AUTH);
    assert_true(has_alt(&dc, ASN_DNS_TYPE, "rt.example.com"));
    assert_true(has_alt(&dc, ASN_DNS_TYPE, "alt.example.com"));
    assert_true(has_alt(&dc, ASN_IP_TYPE, "198.51.100.4"));
    /* (wolfSSL 5.5 keeps no rfc822Name entries in altNames; openssl and cryptography check
     * those in test_pki_artifacts.py.) */
    assert_true(has_alt(&dc, ASN_URI_TYPE, "https://rt.example.com/"));
    assert_int_equal(dc.extAuthInfoSz, (int)strlen(OCSP_URL[0]));
    assert_memory_equal(dc.extAuthInfo, OCSP_URL[0], strlen(OCSP_URL[0]));
    assert_int_equal(dc.extCrlInfoSz, (int)strlen(CRL_URL[0]));
    assert_memory_equal(dc.extCrlInfo, CRL_URL[0], strlen(CRL_URL[0]));
    /* (Debian's wolfSSL, built with WOLFSSL_SEP, records only that policies are present.) */
    assert_int_equal(dc.extCertPolicySet, 1);
    assert_int_equal(dc.extCertPolicyCrit, 0);
    /* Validity: notBefore is NOW - 3600 as UTCTime. */
    char when[24];
    int gen;
    assert_int_equal(pki_time_to_asn1(NOW - 3600, when, sizeof when, &gen), 0);
    assert_int_equal(gen, 0);
    assert_non_null(memmem(dc.beforeDate, (size_t)dc.beforeDateLen, when, 13));
    uint8_t ski[20];
    assert_int_equal(pki_key_id_from_spki(c->leaf_key->spki, c->leaf_key->spki_len, ski), 0);
    assert_memory_equal(dc.extSubjKeyId, ski, 20);
    assert_int_equal(pki_key_id_from_spki(c->ca_key->spki, c->ca_key->spki_len, ski), 0);
    assert_memory_equal(dc.extAuthKeyId, ski, 20);
    wc_FreeDecodedCert(&dc);

    wc_InitDecodedCert(&dc, c->root, (word32)c->root_len, NULL);
    assert_int_equal(wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL), 0);
    assert_int_equal(dc.isCA, 1);
    assert_int_equal(dc.pathLength, 2);
    assert_int_equal(dc.extKeyUsage, KEYUSE_KEY_CERT_SIGN | KEYUSE_CRL_SIGN);
    assert_memory_equal(dc.subjectCN, "Roundtrip Root", 14);
    wc_FreeDecodedCert(&dc);

    /* The CSR: wolfSSL checks its self-signature while parsing. */
    wc_InitDecodedCert(&dc, c->csr, (word32)c->csr_len, NULL);
    assert_int_equal(wc_ParseCert(&dc, CERTREQ_TYPE, VERIFY, NULL), 0);
    assert_memory_equal(dc.subjectCN, "rt.example.com", 14);
    assert_true(has_alt(&dc, ASN_DNS_TYPE, "rt.example.com"));
    wc_FreeDecodedCert(&dc);
}

static void check_manager(const chain *c)
{
    WOLFSSL_CERT_MANAGER *cm = wolfSSL_CertManagerNew();
    assert_non_null(cm);
    assert_int_equal(
        wolfSSL_CertManagerLoadCABuffer(cm, c->root, (long)c->root_len, WOLFSSL_FILETYPE_ASN1),
        WOLFSSL_SUCCESS);
    assert_int_equal(
        wolfSSL_CertManagerVerifyBuffer(cm, c->leaf, (long)c->leaf_len, WOLFSSL_FILETYPE_ASN1),
        WOLFSSL_SUCCESS);
    /* A flipped signature bit must fail, so the check above means something. */
    uint8_t *bad = malloc(c->leaf_len);
    memcpy(bad, c->leaf, c->leaf_len);
    bad[c->leaf_len - 3] ^= 0x01;
    assert_int_not_equal(
        wolfSSL_CertManagerVerifyBuffer(cm, bad, (long)c->leaf_len, WOLFSSL_FILETYPE_ASN1),
        WOLFSSL_SUCCESS);
    free(bad);
    assert_int_equal(wolfSSL_CertManagerEnableCRL(cm, WOLFSSL_CRL_CHECKALL), WOLFSSL_SUCCESS);
    assert_int_equal(
        wolfSSL_CertManagerLoadCRLBuffer(cm, c->crl, (long)c->crl_len, WOLFSSL_FILETYPE_ASN1),
        WOLFSSL_SUCCESS);
    assert_int_equal(
        wolfSSL_CertManagerVerifyBuffer(cm, c->leaf, (long)c->leaf_len, WOLFSSL_FILETYPE_ASN1),
        CRL_CERT_REVOKED);
    wolfSSL_CertManagerFree(cm);
}

static void roundtrip(pki_key_type type)
{
    chain c;
    build_chain(&c, type);
    check_fields(&c);
    check_manager(&c);
    free_chain(&c);
}

static void test_p256(void **state)
{
    (void)state;
    roundtrip(PKI_KEY_EC_P256);
}

static void test_p384(void **state)
{
    (void)state;
    roundtrip(PKI_KEY_EC_P384);
}

static void test_rsa2048(void **state)
{
    (void)state;
    roundtrip(PKI_KEY_RSA);
}

static void test_ed25519(void **state)
{
    (void)state;
    roundtrip(PKI_KEY_ED25519);
}

int main(void)
{
    wolfSSL_Init();
    NOW = pki_now();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_p256),
        cmocka_unit_test(test_p384),
        cmocka_unit_test(test_rsa2048),
        cmocka_unit_test(test_ed25519),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    wolfSSL_Cleanup();
    return rc;
}
