/* Round trip: what lib/x509 builds, wolfSSL parses back to the same fields.
 *
 * For P-256, P-384, P-521, RSA-2048 (PKCS#1 v1.5 and PSS) and Ed25519 CAs made in-process:
 *  - certificates (wc_ParseCert / DecodedCert and the X509 compatibility layer): serial, issuer
 *    equal to the CA's subject, subject CN/O/C, validity (UTCTime until 2049, GeneralizedTime from
 *    2050), extensions, signature algorithm; the certificate manager verifies the chain and
 *    rejects a flipped signature bit; the CSR's self-signature verifies;
 *  - the CRL (wolfSSL_d2i_X509_CRL and its accessors): issuer, version, thisUpdate/nextUpdate,
 *    signature algorithm, CRL number, AKI, every revoked serial with its revocation date; the
 *    certificate manager loads it (signature checked, a tampered copy is refused) and then
 *    rejects the revoked certificate and accepts the other;
 *  - OCSP responses: parsed offline (wolfSSL_d2i_OCSP_RESPONSE, find_status with the CertID
 *    wolfSSL computes itself, basic_verify of the included responder certificate against the
 *    CA), and answered online to the certificate manager's own request (lib/pkix parses it,
 *    lib/x509 answers, echoing CertID and nonce), where wolfSSL verifies the signature: good,
 *    revoked, unknown, tampered, wrongly signed and wrong-nonce answers.
 *
 * What Debian's wolfSSL 5.5.4 does not expose, and so is checked by openssl, certtool and
 * python3-cryptography in test_pki_artifacts.py instead: CRL entry reason codes and invalidity
 * dates (neither parsed nor printed), the OCSP revocation time and reason (CertStatus has no
 * field for them; single_get0_status returns no revtime), rfc822Name SANs and policy OIDs.
 * Where 5.5.4 cannot go at all: wolfSSL_X509_d2i() refuses Ed25519 certificates (so no
 * X509-layer or offline OCSP checks for Ed25519; DecodedCert and the certificate manager do
 * read them), and its CRL parser refuses RSA-PSS-signed CRLs (ASN_PARSE_E; PSS certificates,
 * CSRs and OCSP responses are fine). wolfSSL_X509_CRL_verify() returned failure for our valid
 * CRLs and X509_CRL_get_REVOKED() is a stub, so a CRL's signature is checked through the
 * certificate manager and its entries through wolfSSL_X509_CRL_print(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/ocsp.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>

#include "pkix/pkix.h"
#include "signer/soft_signer.h"
#include "util/timefmt.h"
#include "x509/x509.h"

/* wolfSSL checks validity against the real clock, so the chain is built around it. */
static int64_t NOW;

/* One key type and signature algorithm, the signature OID sum wolfSSL reports for it, and what
 * Debian's wolfSSL 5.5.4 can read of it (see the top of the file). */
typedef struct {
    pki_key_type type;
    pki_sig_alg alg; /* 0: the key's default */
    word32 sig_oid;
    int x509_layer; /* wolfSSL_X509_d2i() reads the certificates (not Ed25519 ones) */
    int crl;        /* wolfSSL reads the CRL (not an RSA-PSS-signed one: ASN_PARSE_E) */
} variant;

typedef struct {
    const variant *v;
    pki_signer *ca_key, *leaf_key;
    pki_issuer is;
    uint8_t *root, *leaf, *other, *csr, *crl;
    size_t root_len, leaf_len, other_len, csr_len, crl_len;
} chain;

static const pki_general_name SAN[] = {{PKI_GN_DNS, "rt.example.com"},
                                       {PKI_GN_DNS, "alt.example.com"},
                                       {PKI_GN_IP, "198.51.100.4"},
                                       {PKI_GN_EMAIL, "ops@example.com"},
                                       {PKI_GN_URI, "https://rt.example.com/"}};
static const char *const EKU[] = {"serverAuth", "clientAuth"};
static const char *const OCSP_URL[] = {"http://ocsp.example.com/rt"};
static const char *const CA_ISSUERS_URL[] = {"http://ca.example.com/roundtrip-root.cer"};
static const char *const CRL_URL[] = {"http://crl.example.com/rt.crl"};
static const pki_policy POLICY[] = {{"2.23.140.1.2.2", "https://cps.example.com/"}};
static const char ROOT_DN[] = "/C=DE/O=Roundtrip/CN=Roundtrip Root";
static const uint8_t LEAF_SERIAL[] = {0x4a, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
/* Not revoked; its DER INTEGER needs a leading 00. */
static const uint8_t OTHER_SERIAL[] = {0x80, 0x01, 0x02, 0x03};
/* On the CRL besides the leaf; no certificate has it. */
static const uint8_t GONE_SERIAL[] = {0x00, 0x99, 0x88, 0x77};

/* Fixed dates, so the expected text is known: a GeneralizedTime root (RFC 5280: from 2050) and
 * a leaf that ends in the last second of 2050; revocation dates with one- and two-digit days. */
#define ROOT_NOT_AFTER 2556144000LL  /* 2051-01-01 00:00:00Z */
#define OTHER_NOT_AFTER 2556143999LL /* 2050-12-31 23:59:59Z */
#define LEAF_REVOKED_AT 1767596889LL /* 2026-01-05 07:08:09Z */
#define GONE_REVOKED_AT 1763644455LL /* 2025-11-20 13:14:15Z */
#define CRL_NUMBER 4242

static void build_root(chain *c)
{
    char err[200];
    pki_cert_template t;
    pki_cert_template_init(&t);
    assert_int_equal(pki_name_parse(&t.subject, ROOT_DN, err, sizeof err), 0);
    t.not_before = NOW - 86400;
    t.not_after = ROOT_NOT_AFTER;
    t.spki = c->ca_key->spki;
    t.spki_len = c->ca_key->spki_len;
    t.sig_alg = c->v->alg;
    t.is_ca = 1;
    t.path_len = 2;
    t.key_usage = PKI_KU_KEY_CERT_SIGN | PKI_KU_CRL_SIGN;
    assert_int_equal(
        pki_cert_build_sync(&t, NULL, c->ca_key, &c->root, &c->root_len, err, sizeof err), 0);
    assert_int_equal(pki_issuer_from_cert(&c->is, c->root, c->root_len, err, sizeof err), 0);
}

static void leaf_template(const chain *c, pki_cert_template *t)
{
    char err[200];
    pki_cert_template_init(t);
    assert_int_equal(
        pki_name_parse(&t->subject, "CN=rt.example.com,O=Roundtrip,C=DE", err, sizeof err), 0);
    t->serial = LEAF_SERIAL;
    t->serial_len = sizeof LEAF_SERIAL;
    t->not_before = NOW - 3600;
    t->not_after = NOW + 90 * 86400;
    t->spki = c->leaf_key->spki;
    t->spki_len = c->leaf_key->spki_len;
    t->sig_alg = c->v->alg;
    t->key_usage = PKI_KU_DIGITAL_SIGNATURE;
    t->eku = EKU;
    t->eku_count = 2;
    t->san = SAN;
    t->san_count = sizeof SAN / sizeof SAN[0];
    t->ocsp_urls = OCSP_URL;
    t->ocsp_url_count = 1;
    t->ca_issuer_urls = CA_ISSUERS_URL;
    t->ca_issuer_url_count = 1;
    t->crl_urls = CRL_URL;
    t->crl_url_count = 1;
    t->policies = POLICY;
    t->policy_count = 1;
}

static void build_crl(chain *c)
{
    char err[200];
    const pki_crl_entry revoked[] = {
        {LEAF_SERIAL, sizeof LEAF_SERIAL, LEAF_REVOKED_AT, PKI_REASON_KEY_COMPROMISE, 0},
        {GONE_SERIAL + 1, sizeof GONE_SERIAL - 1, GONE_REVOKED_AT, PKI_REASON_NONE,
         GONE_REVOKED_AT - 86400},
    };
    pki_crl_template ct = {0};
    ct.this_update = NOW - 120;
    ct.next_update = NOW + 86400;
    ct.crl_number = CRL_NUMBER;
    ct.entries = revoked;
    ct.count = 2;
    ct.sig_alg = c->v->alg;
    assert_int_equal(
        pki_crl_build_sync(&ct, &c->is, c->ca_key, &c->crl, &c->crl_len, err, sizeof err), 0);
}

static void build_chain(chain *c, const variant *v)
{
    char err[200];
    memset(c, 0, sizeof *c);
    c->v = v;
    c->ca_key = pki_soft_signer_generate(v->type, 2048);
    c->leaf_key = pki_soft_signer_generate(v->type, 2048);
    assert_non_null(c->ca_key);
    assert_non_null(c->leaf_key);
    build_root(c);

    pki_cert_template t;
    leaf_template(c, &t);
    assert_int_equal(
        pki_cert_build_sync(&t, &c->is, c->ca_key, &c->leaf, &c->leaf_len, err, sizeof err), 0);
    /* The other leaf: not revoked, and valid into 2050 (GeneralizedTime). */
    t.serial = OTHER_SERIAL;
    t.serial_len = sizeof OTHER_SERIAL;
    t.not_after = OTHER_NOT_AFTER;
    assert_int_equal(
        pki_cert_build_sync(&t, &c->is, c->ca_key, &c->other, &c->other_len, err, sizeof err), 0);

    pki_exts e;
    pki_exts_init(&e);
    pki_exts_add_san(&e, SAN, 1, 0);
    assert_int_equal(pki_csr_build_sync(&t.subject, &e, c->leaf_key, v->alg, &c->csr, &c->csr_len,
                                        err, sizeof err),
                     0);
    pki_exts_free(&e);
    build_crl(c);
}

static void free_chain(chain *c)
{
    free(c->root);
    free(c->leaf);
    free(c->other);
    free(c->csr);
    free(c->crl);
    pki_issuer_free(&c->is);
    pki_signer_free(c->ca_key);
    pki_signer_free(c->leaf_key);
}

/* ---- certificates -------------------------------------------------------------------------- */

static int has_alt(const DecodedCert *dc, int type, const char *name)
{
    for (const DNS_entry *e = dc->altNames; e; e = e->next) {
        const char *v = type == ASN_IP_TYPE ? e->ipString : e->name;
        if (e->type == type && v && !strcmp(v, name))
            return 1;
    }
    return 0;
}

/* A DecodedCert date is the whole element: tag (UTCTime 0x17, GeneralizedTime 0x18), length,
 * text. */
static void assert_date(const uint8_t *date, int len, int64_t when)
{
    char text[24];
    int gen;
    assert_int_equal(pki_time_to_asn1(when, text, sizeof text, &gen), 0);
    assert_int_equal(len, 2 + (int)strlen(text));
    assert_int_equal(date[0], gen ? 0x18 : 0x17);
    assert_int_equal(date[1], strlen(text));
    assert_memory_equal(date + 2, text, strlen(text));
}

/* The epoch seconds of a wolfSSL ASN1_TIME, through wolfSSL's own conversion. */
static int64_t asn1_epoch(const WOLFSSL_ASN1_TIME *t)
{
    assert_non_null(t); /* (to_tm(NULL) would give the current time) */
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    assert_int_equal(wolfSSL_ASN1_TIME_to_tm(t, &tm), WOLFSSL_SUCCESS);
    return (int64_t)timegm(&tm);
}

static void check_leaf_fields(const chain *c)
{
    DecodedCert dc, ca;
    wc_InitDecodedCert(&ca, c->root, (word32)c->root_len, NULL);
    assert_int_equal(wc_ParseCert(&ca, CERT_TYPE, NO_VERIFY, NULL), 0);
    wc_InitDecodedCert(&dc, c->leaf, (word32)c->leaf_len, NULL);
    assert_int_equal(wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL), 0);
    assert_int_equal(dc.signatureOID, c->v->sig_oid);
    assert_int_equal(dc.serialSz, sizeof LEAF_SERIAL);
    assert_memory_equal(dc.serial, LEAF_SERIAL, sizeof LEAF_SERIAL);
    /* Issuer: the CA's subject, byte for byte and as wolfSSL reads it. */
    assert_int_equal(dc.issuerRawLen, ca.subjectRawLen);
    assert_memory_equal(dc.issuerRaw, ca.subjectRaw, (size_t)ca.subjectRawLen);
    assert_string_equal(dc.issuer, ROOT_DN);
    assert_string_equal(ca.subject, ROOT_DN);
    assert_string_equal(dc.subject, "/C=DE/O=Roundtrip/CN=rt.example.com");
    assert_int_equal(dc.subjectCNLen, 14);
    assert_memory_equal(dc.subjectCN, "rt.example.com", 14);
    assert_int_equal(dc.subjectOLen, 9);
    assert_memory_equal(dc.subjectO, "Roundtrip", 9);
    assert_int_equal(dc.subjectCLen, 2);
    assert_memory_equal(dc.subjectC, "DE", 2);
    assert_date(dc.beforeDate, dc.beforeDateLen, NOW - 3600);
    assert_date(dc.afterDate, dc.afterDateLen, NOW + 90 * 86400);
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
    assert_int_equal(dc.extAuthInfoCaIssuerSz, (int)strlen(CA_ISSUERS_URL[0]));
    assert_memory_equal(dc.extAuthInfoCaIssuer, CA_ISSUERS_URL[0], strlen(CA_ISSUERS_URL[0]));
    assert_int_equal(dc.extCrlInfoSz, (int)strlen(CRL_URL[0]));
    assert_memory_equal(dc.extCrlInfo, CRL_URL[0], strlen(CRL_URL[0]));
    /* (Debian's wolfSSL, built with WOLFSSL_SEP, records only that policies are present.) */
    assert_int_equal(dc.extCertPolicySet, 1);
    assert_int_equal(dc.extCertPolicyCrit, 0);
    uint8_t ski[20];
    assert_int_equal(pki_key_id_from_spki(c->leaf_key->spki, c->leaf_key->spki_len, ski), 0);
    assert_memory_equal(dc.extSubjKeyId, ski, 20);
    assert_int_equal(pki_key_id_from_spki(c->ca_key->spki, c->ca_key->spki_len, ski), 0);
    assert_memory_equal(dc.extAuthKeyId, ski, 20);
    wc_FreeDecodedCert(&dc);

    assert_int_equal(ca.signatureOID, c->v->sig_oid);
    assert_int_equal(ca.isCA, 1);
    assert_int_equal(ca.pathLength, 2);
    assert_int_equal(ca.extKeyUsage, KEYUSE_KEY_CERT_SIGN | KEYUSE_CRL_SIGN);
    assert_int_equal(ca.issuerRawLen, ca.subjectRawLen);
    assert_memory_equal(ca.issuerRaw, ca.subjectRaw, (size_t)ca.subjectRawLen);
    assert_date(ca.afterDate, ca.afterDateLen, ROOT_NOT_AFTER);
    assert_memory_equal(ca.afterDate,
                        "\x18\x0f"
                        "20510101000000Z",
                        17);
    wc_FreeDecodedCert(&ca);
}

/* The other leaf through DecodedCert: its notAfter in 2050 is GeneralizedTime (RFC 5280
 * 4.1.2.5), its issuer the CA's subject. */
static void check_other(const chain *c)
{
    DecodedCert dc, ca;
    wc_InitDecodedCert(&ca, c->root, (word32)c->root_len, NULL);
    assert_int_equal(wc_ParseCert(&ca, CERT_TYPE, NO_VERIFY, NULL), 0);
    wc_InitDecodedCert(&dc, c->other, (word32)c->other_len, NULL);
    assert_int_equal(wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL), 0);
    assert_int_equal(dc.serialSz, sizeof OTHER_SERIAL);
    assert_memory_equal(dc.serial, OTHER_SERIAL, sizeof OTHER_SERIAL);
    assert_int_equal(dc.issuerRawLen, ca.subjectRawLen);
    assert_memory_equal(dc.issuerRaw, ca.subjectRaw, (size_t)ca.subjectRawLen);
    assert_date(dc.beforeDate, dc.beforeDateLen, NOW - 3600);
    assert_date(dc.afterDate, dc.afterDateLen, OTHER_NOT_AFTER);
    assert_memory_equal(dc.afterDate,
                        "\x18\x0f"
                        "20501231235959Z",
                        17);
    wc_FreeDecodedCert(&dc);
    wc_FreeDecodedCert(&ca);
}

/* The other leaf, through the X509 compatibility layer: names compare equal and the 2050
 * notAfter comes back as GeneralizedTime with the right instant. */
static void check_other_x509(const chain *c)
{
    WOLFSSL_X509 *root = wolfSSL_X509_d2i(NULL, c->root, (int)c->root_len);
    WOLFSSL_X509 *other = wolfSSL_X509_d2i(NULL, c->other, (int)c->other_len);
    assert_non_null(root);
    assert_non_null(other);
    assert_int_equal(wolfSSL_X509_NAME_cmp(wolfSSL_X509_get_issuer_name(other),
                                           wolfSSL_X509_get_subject_name(root)),
                     0);
    assert_int_not_equal(wolfSSL_X509_NAME_cmp(wolfSSL_X509_get_subject_name(other),
                                               wolfSSL_X509_get_subject_name(root)),
                         0);
    char buf[32];
    assert_int_equal(wolfSSL_X509_NAME_get_text_by_NID(wolfSSL_X509_get_subject_name(other),
                                                       NID_organizationName, buf, sizeof buf),
                     9);
    assert_string_equal(buf, "Roundtrip");
    assert_int_equal(wolfSSL_X509_NAME_get_text_by_NID(wolfSSL_X509_get_subject_name(other),
                                                       NID_countryName, buf, sizeof buf),
                     2);
    assert_string_equal(buf, "DE");
    const WOLFSSL_ASN1_TIME *na = wolfSSL_X509_get_notAfter(other);
    assert_non_null(na);
    assert_int_equal(na->type, V_ASN1_GENERALIZEDTIME);
    assert_int_equal(asn1_epoch(na), OTHER_NOT_AFTER);
    const WOLFSSL_ASN1_TIME *nb = wolfSSL_X509_get_notBefore(other);
    assert_int_equal(nb->type, V_ASN1_UTCTIME);
    assert_int_equal(asn1_epoch(nb), NOW - 3600);
    int sz = 32;
    uint8_t serial[32];
    assert_int_equal(wolfSSL_X509_get_serial_number(other, serial, &sz), WOLFSSL_SUCCESS);
    assert_int_equal(sz, sizeof OTHER_SERIAL);
    assert_memory_equal(serial, OTHER_SERIAL, sizeof OTHER_SERIAL);
    wolfSSL_X509_free(other);
    wolfSSL_X509_free(root);
}

static void check_csr(const chain *c)
{
    /* wolfSSL checks the CSR's self-signature while parsing. */
    DecodedCert dc;
    wc_InitDecodedCert(&dc, c->csr, (word32)c->csr_len, NULL);
    assert_int_equal(wc_ParseCert(&dc, CERTREQ_TYPE, VERIFY, NULL), 0);
    assert_int_equal(dc.signatureOID, c->v->sig_oid);
    assert_memory_equal(dc.subjectCN, "rt.example.com", 14);
    assert_true(has_alt(&dc, ASN_DNS_TYPE, "rt.example.com"));
    wc_FreeDecodedCert(&dc);
}

static WOLFSSL_CERT_MANAGER *manager_with_root(const chain *c)
{
    WOLFSSL_CERT_MANAGER *cm = wolfSSL_CertManagerNew();
    assert_non_null(cm);
    assert_int_equal(
        wolfSSL_CertManagerLoadCABuffer(cm, c->root, (long)c->root_len, WOLFSSL_FILETYPE_ASN1),
        WOLFSSL_SUCCESS);
    return cm;
}

static int cm_verify(WOLFSSL_CERT_MANAGER *cm, const uint8_t *der, size_t len)
{
    return wolfSSL_CertManagerVerifyBuffer(cm, der, (long)len, WOLFSSL_FILETYPE_ASN1);
}

static void check_manager(const chain *c)
{
    WOLFSSL_CERT_MANAGER *cm = manager_with_root(c);
    assert_int_equal(cm_verify(cm, c->leaf, c->leaf_len), WOLFSSL_SUCCESS);
    assert_int_equal(cm_verify(cm, c->other, c->other_len), WOLFSSL_SUCCESS);
    /* A flipped signature bit must fail, so the check above means something. */
    uint8_t *bad = malloc(c->leaf_len);
    assert_non_null(bad);
    memcpy(bad, c->leaf, c->leaf_len);
    bad[c->leaf_len - 3] ^= 0x01;
    assert_int_not_equal(cm_verify(cm, bad, c->leaf_len), WOLFSSL_SUCCESS);
    free(bad);
    if (!c->v->crl) {
        wolfSSL_CertManagerFree(cm);
        return;
    }

    /* The CRL: its signature is checked on loading (a flipped bit is refused), then the revoked
     * leaf is rejected and the other one still accepted. */
    assert_int_equal(wolfSSL_CertManagerEnableCRL(cm, WOLFSSL_CRL_CHECKALL), WOLFSSL_SUCCESS);
    bad = malloc(c->crl_len);
    assert_non_null(bad);
    memcpy(bad, c->crl, c->crl_len);
    bad[c->crl_len - 3] ^= 0x01;
    assert_int_not_equal(
        wolfSSL_CertManagerLoadCRLBuffer(cm, bad, (long)c->crl_len, WOLFSSL_FILETYPE_ASN1),
        WOLFSSL_SUCCESS);
    free(bad);
    assert_int_equal(
        wolfSSL_CertManagerLoadCRLBuffer(cm, c->crl, (long)c->crl_len, WOLFSSL_FILETYPE_ASN1),
        WOLFSSL_SUCCESS);
    assert_int_equal(cm_verify(cm, c->leaf, c->leaf_len), CRL_CERT_REVOKED);
    assert_int_equal(cm_verify(cm, c->other, c->other_len), WOLFSSL_SUCCESS);
    wolfSSL_CertManagerFree(cm);
}

/* ---- the CRL ------------------------------------------------------------------------------- */

/* How wolfSSL_X509_CRL_print() writes a date: "Jan  5 07:08:09 2026 GMT". */
static void print_date(int64_t when, char *buf, size_t cap)
{
    time_t t = (time_t)when;
    struct tm tm;
    assert_non_null(gmtime_r(&t, &tm));
    assert_true(strftime(buf, cap, "%b %e %H:%M:%S %Y GMT", &tm) > 0);
}

static char *crl_text(WOLFSSL_X509_CRL *crl)
{
    WOLFSSL_BIO *bio = wolfSSL_BIO_new(wolfSSL_BIO_s_mem());
    assert_non_null(bio);
    assert_int_equal(wolfSSL_X509_CRL_print(bio, crl), WOLFSSL_SUCCESS);
    char *data = NULL;
    int n = wolfSSL_BIO_get_mem_data(bio, &data);
    assert_true(n > 0);
    char *text = malloc((size_t)n + 1);
    assert_non_null(text);
    memcpy(text, data, (size_t)n);
    text[n] = 0;
    wolfSSL_BIO_free(bio);
    return text;
}

/* wolfSSL prints each entry as the serial in hex on one line and its date on the next. */
static void assert_crl_entry(const char *text, const uint8_t *serial, size_t len, int64_t when)
{
    char hex[64] = "", date[40], needle[160];
    for (size_t i = 0; i < len; i++)
        snprintf(hex + 2 * i, sizeof hex - 2 * i, "%02x", serial[i]);
    print_date(when, date, sizeof date);
    snprintf(needle, sizeof needle, "Serial Number:\n        %s\n        Revocation Date: %s\n",
             hex, date);
    if (!strstr(text, needle))
        fail_msg("CRL entry %s revoked %s not in:\n%s", hex, date, text);
}

static void check_crl(const chain *c)
{
    WOLFSSL_X509_CRL *crl = wolfSSL_d2i_X509_CRL(NULL, c->crl, (int)c->crl_len);
    assert_non_null(crl);
    assert_int_equal(wolfSSL_X509_CRL_version(crl), 2);
    assert_int_equal(wolfSSL_X509_CRL_get_signature_type(crl), (int)c->v->sig_oid);

    WOLFSSL_X509_NAME *issuer = wolfSSL_X509_CRL_get_issuer_name(crl);
    assert_non_null(issuer);
    char dn[128];
    assert_string_equal(wolfSSL_X509_NAME_oneline(issuer, dn, sizeof dn), ROOT_DN);
    if (c->v->x509_layer) {
        WOLFSSL_X509 *root = wolfSSL_X509_d2i(NULL, c->root, (int)c->root_len);
        assert_non_null(root);
        assert_int_equal(wolfSSL_X509_NAME_cmp(issuer, wolfSSL_X509_get_subject_name(root)), 0);
        wolfSSL_X509_free(root);
    }

    const WOLFSSL_ASN1_TIME *last = wolfSSL_X509_CRL_get_lastUpdate(crl);
    const WOLFSSL_ASN1_TIME *next = wolfSSL_X509_CRL_get_nextUpdate(crl);
    assert_int_equal(last->type, V_ASN1_UTCTIME);
    assert_int_equal(asn1_epoch(last), NOW - 120);
    assert_int_equal(asn1_epoch(next), NOW + 86400);

    char *text = crl_text(crl);
    char *num = strstr(text, "X509v3 CRL Number:");
    if (!num)
        fail_msg("no CRL number in:\n%s", text);
    assert_int_equal(strtol(num + strlen("X509v3 CRL Number:"), NULL, 10), CRL_NUMBER);
    uint8_t ski[20];
    assert_int_equal(pki_key_id_from_spki(c->ca_key->spki, c->ca_key->spki_len, ski), 0);
    /* "keyid:AA:BB:…" — wolfSSL 5.5.4 prints the key id as a C string: it stops before the
     * first 00 octet (about one CA in thirteen has one), and leaves the extension out when the
     * first octet is 00. */
    char aki[80] = "keyid:";
    for (size_t i = 0; i < sizeof ski && ski[i]; i++)
        snprintf(aki + strlen(aki), sizeof aki - strlen(aki), i ? ":%02X" : "%02X", ski[i]);
    snprintf(aki + strlen(aki), sizeof aki - strlen(aki), "\n");
    if (ski[0] ? !strstr(text, aki) : strstr(text, "Authority Key Identifier") != NULL)
        fail_msg("%s not in:\n%s", ski[0] ? aki : "(no AKI)", text);
    assert_crl_entry(text, LEAF_SERIAL, sizeof LEAF_SERIAL, LEAF_REVOKED_AT);
    assert_crl_entry(text, GONE_SERIAL + 1, sizeof GONE_SERIAL - 1, GONE_REVOKED_AT);
    /* Exactly two entries, and the not-revoked serial is not among them. */
    size_t entries = 0;
    for (const char *p = text; (p = strstr(p, "Revocation Date:")); p++)
        entries++;
    assert_int_equal(entries, 2);
    assert_null(strstr(text, "80010203"));
    free(text);
    wolfSSL_X509_CRL_free(crl);
}

/* ---- OCSP ---------------------------------------------------------------------------------- */

static void single_for(const chain *c, pki_ocsp_single *s, const uint8_t *serial, size_t len)
{
    memset(s, 0, sizeof *s);
    assert_int_equal(pki_ocsp_certid_sha1(&s->id, c->is.name_der, c->is.name_len, c->ca_key->spki,
                                          c->ca_key->spki_len, serial, len),
                     0);
    s->reason = PKI_REASON_NONE;
    s->this_update = NOW - 60;
}

/* A CA-signed response about one certificate, with the CA certificate included (wolfSSL's
 * basic_verify wants the signer's certificate in the response). One SingleResponse each:
 * wolfSSL 5.5.4 frees only the first of a parsed response's list (LeakSanitizer shows it). */
static void build_offline_ocsp(const chain *c, const uint8_t *serial, size_t serial_len,
                               pki_ocsp_status status, int64_t next_update, uint8_t **der,
                               size_t *len)
{
    pki_ocsp_single s;
    single_for(c, &s, serial, serial_len);
    s.status = status;
    if (status == PKI_OCSP_REVOKED) {
        s.revoked_at = LEAF_REVOKED_AT;
        s.reason = PKI_REASON_KEY_COMPROMISE;
    }
    s.next_update = next_update;
    pki_ocsp_template t = {0};
    t.produced_at = NOW - 30;
    t.responses = &s;
    t.count = 1;
    t.responder_cert = c->root;
    t.responder_cert_len = c->root_len;
    t.sig_alg = c->v->alg;
    char err[200];
    assert_int_equal(pki_ocsp_build_sync(&t, c->ca_key, der, len, err, sizeof err), 0);
}

/* What wolfSSL finds for a certificate, by the CertID it computes itself from the certificate
 * and its issuer. Returns find_status's result. */
static int find_status(WOLFSSL_OCSP_BASICRESP *bs, WOLFSSL_X509 *cert, WOLFSSL_X509 *issuer,
                       int *status, int64_t *this_update, int64_t *next_update)
{
    WOLFSSL_OCSP_CERTID *id = wolfSSL_OCSP_cert_to_id(NULL, cert, issuer);
    assert_non_null(id);
    int reason = -1;
    WOLFSSL_ASN1_TIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
    int rc = wolfSSL_OCSP_resp_find_status(bs, id, status, &reason, &rev, &thisupd, &nextupd);
    if (rc == WOLFSSL_SUCCESS) {
        *this_update = asn1_epoch(thisupd);
        *next_update = asn1_epoch(nextupd);
    }
    wolfSSL_OCSP_CERTID_free(id);
    return rc;
}

static int basic_verify(const uint8_t *der, size_t len, WOLFSSL_X509 *trusted)
{
    const unsigned char *p = der;
    OcspResponse *resp = wolfSSL_d2i_OCSP_RESPONSE(NULL, &p, (int)len);
    assert_non_null(resp);
    WOLFSSL_OCSP_BASICRESP *bs = wolfSSL_OCSP_response_get1_basic(resp);
    assert_non_null(bs);
    WOLFSSL_X509_STORE *store = wolfSSL_X509_STORE_new();
    assert_non_null(store);
    if (trusted)
        assert_int_equal(wolfSSL_X509_STORE_add_cert(store, trusted), WOLFSSL_SUCCESS);
    int rc = wolfSSL_OCSP_basic_verify(bs, NULL, store, 0);
    wolfSSL_X509_STORE_free(store);
    wolfSSL_OCSP_BASICRESP_free(bs);
    wolfSSL_OCSP_RESPONSE_free(resp);
    return rc;
}

/* Parses a response and checks what wolfSSL finds in it for `cert` (by the CertID wolfSSL
 * computes itself from the certificate and the root) and that `absent` is not in it. */
static void check_offline_answer(const chain *c, const uint8_t *der, size_t len,
                                 const uint8_t *cert, size_t cert_len, const uint8_t *absent,
                                 size_t absent_len, int want_status, int64_t want_next)
{
    const unsigned char *p = der;
    OcspResponse *resp = wolfSSL_d2i_OCSP_RESPONSE(NULL, &p, (int)len);
    assert_non_null(resp);
    assert_int_equal(wolfSSL_OCSP_response_status(resp), OCSP_SUCCESSFUL);
    /* producedAt, GeneralizedTime (RFC 6960). */
    char when[24];
    int gen;
    assert_int_equal(pki_time_format_asn1(NOW - 30, 1, when, &gen), 15);
    assert_int_equal(resp->producedDateFormat, ASN_GENERALIZED_TIME);
    assert_memory_equal(resp->producedDate, when, 15);
    WOLFSSL_OCSP_BASICRESP *bs = wolfSSL_OCSP_response_get1_basic(resp);
    assert_non_null(bs);
    assert_int_equal(wolfSSL_OCSP_resp_count(bs), 1);

    WOLFSSL_X509 *root = wolfSSL_X509_d2i(NULL, c->root, (int)c->root_len);
    WOLFSSL_X509 *x = wolfSSL_X509_d2i(NULL, cert, (int)cert_len);
    WOLFSSL_X509 *y = wolfSSL_X509_d2i(NULL, absent, (int)absent_len);
    assert_non_null(root);
    assert_non_null(x);
    assert_non_null(y);
    int status = -1;
    int64_t this_update = 0, next_update = 0;
    /* (wolfSSL 5.5.4 keeps no revocation time or reason for a single response: its CertStatus
     * has no field for them. openssl ocsp and python check those in test_pki_artifacts.py.) */
    assert_int_equal(find_status(bs, x, root, &status, &this_update, &next_update),
                     WOLFSSL_SUCCESS);
    assert_int_equal(status, want_status);
    assert_int_equal(this_update, NOW - 60);
    assert_int_equal(next_update, want_next);
    /* Same issuer, another serial: no match, so the match above means the CertID (name hash,
     * key hash, serial) is what wolfSSL computes. */
    assert_int_not_equal(find_status(bs, y, root, &status, &this_update, &next_update),
                         WOLFSSL_SUCCESS);
    wolfSSL_X509_free(y);
    wolfSSL_X509_free(x);
    wolfSSL_X509_free(root);
    wolfSSL_OCSP_BASICRESP_free(bs);
    wolfSSL_OCSP_RESPONSE_free(resp);
}

static void check_offline_ocsp(const chain *c)
{
    uint8_t *revoked, *good;
    size_t revoked_len, good_len;
    build_offline_ocsp(c, LEAF_SERIAL, sizeof LEAF_SERIAL, PKI_OCSP_REVOKED, NOW + 3600, &revoked,
                       &revoked_len);
    build_offline_ocsp(c, OTHER_SERIAL, sizeof OTHER_SERIAL, PKI_OCSP_GOOD, NOW + 7200, &good,
                       &good_len);
    check_offline_answer(c, revoked, revoked_len, c->leaf, c->leaf_len, c->other, c->other_len,
                         CERT_REVOKED, NOW + 3600);
    check_offline_answer(c, good, good_len, c->other, c->other_len, c->leaf, c->leaf_len, CERT_GOOD,
                         NOW + 7200);

    WOLFSSL_X509 *root = wolfSSL_X509_d2i(NULL, c->root, (int)c->root_len);
    assert_non_null(root);
    /* basic_verify in wolfSSL 5.5.4 checks the responder: the certificate in the response must
     * verify against the trusted store and be the issuer (or delegated by it). It does not check
     * the response's own signature (a flipped bit there still passes); the online checks below
     * do, through the certificate manager. */
    assert_int_equal(basic_verify(revoked, revoked_len, root), WOLFSSL_SUCCESS);
    assert_int_equal(basic_verify(good, good_len, root), WOLFSSL_SUCCESS);
    assert_int_not_equal(basic_verify(good, good_len, NULL), WOLFSSL_SUCCESS);
    good[good_len - 3] ^= 0x01; /* the included certificate ends the response */
    assert_int_not_equal(basic_verify(good, good_len, root), WOLFSSL_SUCCESS);
    wolfSSL_X509_free(root);
    free(revoked);
    free(good);
}

/* The online responder the certificate manager talks to: lib/pkix parses wolfSSL's request and
 * lib/x509 answers it, echoing the CertID and the nonce. */
typedef enum {
    ANSWER_GOOD,
    ANSWER_REVOKED,
    ANSWER_UNKNOWN,
    ANSWER_TAMPERED,  /* good, with a flipped signature bit */
    ANSWER_WRONG_KEY, /* good, signed by the leaf's key (not the CA, no delegation) */
    ANSWER_BAD_NONCE, /* good, with the request's nonce changed */
} answer;

typedef struct {
    const chain *c;
    answer mode;
    int calls;
    char url[128];
    size_t cert_ids;
    int had_nonce;
    char err[200];
} responder;

static int respond(void *ctx, const char *url, int url_len, unsigned char *req, int req_len,
                   unsigned char **resp)
{
    responder *r = ctx;
    r->calls++;
    snprintf(r->url, sizeof r->url, "%.*s", url_len, url);
    pki_ocsp_request *q = pki_ocsp_request_parse(req, (size_t)req_len, r->err, sizeof r->err);
    if (!q)
        return -1;
    r->cert_ids = q->count;
    r->had_nonce = q->has_nonce;
    pki_ocsp_single s;
    memset(&s, 0, sizeof s);
    s.id.der = q->ids[0].cert_id_der.p;
    s.id.der_len = q->ids[0].cert_id_der.len;
    s.status = r->mode == ANSWER_REVOKED   ? PKI_OCSP_REVOKED
               : r->mode == ANSWER_UNKNOWN ? PKI_OCSP_UNKNOWN
                                           : PKI_OCSP_GOOD;
    s.revoked_at = LEAF_REVOKED_AT;
    s.reason = PKI_REASON_KEY_COMPROMISE;
    s.this_update = NOW - 60;
    s.next_update = NOW + 3600;
    pki_ocsp_template t = {0};
    t.produced_at = NOW - 30;
    t.responses = &s;
    t.count = 1;
    uint8_t nonce[64];
    if (q->has_nonce && q->nonce.len <= sizeof nonce) {
        memcpy(nonce, q->nonce.p, q->nonce.len);
        if (r->mode == ANSWER_BAD_NONCE)
            nonce[0] ^= 0x01;
        t.nonce = nonce;
        t.nonce_len = q->nonce.len;
    }
    t.sig_alg = r->c->v->alg;
    pki_signer *signer = r->mode == ANSWER_WRONG_KEY ? r->c->leaf_key : r->c->ca_key;
    uint8_t *der;
    size_t len;
    int rc = pki_ocsp_build_sync(&t, signer, &der, &len, r->err, sizeof r->err);
    pki_ocsp_request_free(q);
    if (rc)
        return -1;
    if (r->mode == ANSWER_TAMPERED)
        der[len - 3] ^= 0x01;
    *resp = der;
    return (int)len;
}

static void free_response(void *ctx, unsigned char *resp)
{
    (void)ctx;
    free(resp);
}

/* Asks a fresh certificate manager (no cached status) about the leaf; returns its verdict. */
static int ask_online(const chain *c, answer mode)
{
    WOLFSSL_CERT_MANAGER *cm = manager_with_root(c);
    responder r = {.c = c, .mode = mode};
    assert_int_equal(wolfSSL_CertManagerEnableOCSP(cm, 0), WOLFSSL_SUCCESS);
    assert_int_equal(wolfSSL_CertManagerSetOCSP_Cb(cm, respond, free_response, &r),
                     WOLFSSL_SUCCESS);
    int rc = wolfSSL_CertManagerCheckOCSP(cm, c->leaf, (int)c->leaf_len);
    wolfSSL_CertManagerFree(cm);
    if (r.err[0])
        fail_msg("responder: %s", r.err);
    /* wolfSSL asked the URL from the leaf's authorityInfoAccess, one CertID, with a nonce. */
    assert_int_equal(r.calls, 1);
    assert_string_equal(r.url, OCSP_URL[0]);
    assert_int_equal(r.cert_ids, 1);
    assert_int_equal(r.had_nonce, 1);
    return rc;
}

static void check_online_ocsp(const chain *c)
{
    assert_int_equal(ask_online(c, ANSWER_GOOD), WOLFSSL_SUCCESS);
    assert_int_equal(ask_online(c, ANSWER_REVOKED), OCSP_CERT_REVOKED);
    int rc = ask_online(c, ANSWER_UNKNOWN);
    assert_int_not_equal(rc, WOLFSSL_SUCCESS);
    assert_int_not_equal(rc, OCSP_CERT_REVOKED);
    assert_int_not_equal(ask_online(c, ANSWER_TAMPERED), WOLFSSL_SUCCESS);
    assert_int_not_equal(ask_online(c, ANSWER_WRONG_KEY), WOLFSSL_SUCCESS);
    /* (A response without a nonce is accepted by wolfSSL; a changed one is not.) */
    assert_int_not_equal(ask_online(c, ANSWER_BAD_NONCE), WOLFSSL_SUCCESS);
}

/* ---- the variants -------------------------------------------------------------------------- */

static void roundtrip(const variant *v)
{
    chain c;
    build_chain(&c, v);
    check_leaf_fields(&c);
    check_other(&c);
    if (v->x509_layer)
        check_other_x509(&c);
    check_csr(&c);
    check_manager(&c);
    if (v->crl)
        check_crl(&c);
    if (v->x509_layer)
        check_offline_ocsp(&c);
    check_online_ocsp(&c);
    free_chain(&c);
}

#define VARIANT_TEST(fn, type, alg, oid, x509_layer, crl)                                          \
    static void fn(void **state)                                                                   \
    {                                                                                              \
        (void)state;                                                                               \
        static const variant v = {type, alg, oid, x509_layer, crl};                                \
        roundtrip(&v);                                                                             \
    }

VARIANT_TEST(test_p256, PKI_KEY_EC_P256, 0, CTC_SHA256wECDSA, 1, 1)
VARIANT_TEST(test_p384, PKI_KEY_EC_P384, 0, CTC_SHA384wECDSA, 1, 1)
VARIANT_TEST(test_p521, PKI_KEY_EC_P521, 0, CTC_SHA512wECDSA, 1, 1)
VARIANT_TEST(test_rsa2048, PKI_KEY_RSA, 0, CTC_SHA256wRSA, 1, 1)
VARIANT_TEST(test_rsa2048_pss, PKI_KEY_RSA, PKI_SIG_RSA_PSS_SHA256, CTC_RSASSAPSS, 1, 0)
VARIANT_TEST(test_ed25519, PKI_KEY_ED25519, 0, CTC_ED25519, 0, 1)

int main(void)
{
    wolfSSL_Init();
    NOW = pki_now();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_p256),        cmocka_unit_test(test_p384),
        cmocka_unit_test(test_p521),        cmocka_unit_test(test_rsa2048),
        cmocka_unit_test(test_rsa2048_pss), cmocka_unit_test(test_ed25519),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    wolfSSL_Cleanup();
    return rc;
}
