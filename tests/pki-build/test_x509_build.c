/* lib/x509 builders, byte for byte: with a fixed Ed25519 key (deterministic signatures) our
 * certificate, CSR, CRL and OCSP response must equal what python3-cryptography builds from the
 * same inputs (expected_ed25519.h, made by gen_expected.py). Also: the asynchronous path,
 * names, and every pre-issuance lint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "der/der_reader.h"
#include "signer/soft_signer.h"
#include "util/timefmt.h"
#include "x509/x509.h"

#include "expected_ed25519.h"

#define T(y, mo, d, h, mi, s) pki_time_from_parts(y, mo, d, h, mi, s)

static pki_signer *ed25519_signer(void)
{
    uint8_t pkcs8[48] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                         0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
    memcpy(pkcs8 + 16, EXP_SEED, 32);
    char err[128];
    pki_signer *s = pki_soft_signer_from_der(pkcs8, sizeof pkcs8, NULL, err, sizeof err);
    assert_non_null(s);
    return s;
}

static void assert_der_equal(const uint8_t *got, size_t got_len, const uint8_t *want,
                             size_t want_len)
{
    if (got_len != want_len || memcmp(got, want, want_len)) {
        size_t i = 0;
        while (i < got_len && i < want_len && got[i] == want[i])
            i++;
        fail_msg("DER differs at offset %zu (got %zu octets, want %zu)", i, got_len, want_len);
    }
}

static const pki_general_name SAN[] = {
    {PKI_GN_DNS, "www.example.com"},      {PKI_GN_IP, "192.0.2.1"},
    {PKI_GN_IP, "2001:db8::1"},           {PKI_GN_EMAIL, "admin@example.com"},
    {PKI_GN_URI, "https://example.com/"}, {PKI_GN_UPN, "user@example.com"},
};
static const char *const EKU[] = {"serverAuth", "1.3.6.1.4.1.99999.1"};
static const char *const OCSP_URL[] = {"http://ocsp.example.com/"};
static const char *const CA_URL[] = {"http://ca.example.com/ca.cer"};
static const char *const CRL_URL[] = {"http://crl.example.com/ca.crl"};
static const pki_policy POLICIES[] = {{"2.23.140.1.2.1", "https://cps.example.com/"},
                                      {"1.2.3.4", NULL}};
static const uint8_t SERIAL[] = {0x00, 0xc0, 0xff, 0xee, 0x01, 0x02,
                                 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};

static void root_template(pki_cert_template *t, const pki_signer *s)
{
    pki_cert_template_init(t);
    char err[128];
    assert_int_equal(pki_name_parse(&t->subject,
                                    "/C=DE/O=Example CA/CN=Test Root Gr\xc3\xbc\xc3\x9f"
                                    "e",
                                    err, sizeof err),
                     0);
    t->serial = SERIAL;
    t->serial_len = sizeof SERIAL;
    t->not_before = T(2026, 1, 1, 0, 0, 0);
    t->not_after = T(2050, 1, 1, 0, 0, 0);
    t->spki = s->spki;
    t->spki_len = s->spki_len;
    t->is_ca = 1;
    t->path_len = 1;
    t->key_usage = PKI_KU_DIGITAL_SIGNATURE | PKI_KU_KEY_CERT_SIGN | PKI_KU_CRL_SIGN;
    t->eku = EKU;
    t->eku_count = 2;
    t->san = SAN;
    t->san_count = sizeof SAN / sizeof SAN[0];
    t->ocsp_urls = OCSP_URL;
    t->ocsp_url_count = 1;
    t->ca_issuer_urls = CA_URL;
    t->ca_issuer_url_count = 1;
    t->crl_urls = CRL_URL;
    t->crl_url_count = 1;
    t->policies = POLICIES;
    t->policy_count = 2;
    t->ocsp_nocheck = 1;
    t->ct_poison = 1;
}

static void test_certificate_bytes(void **state)
{
    (void)state;
    pki_signer *s = ed25519_signer();
    pki_cert_template t;
    root_template(&t, s);
    uint8_t *der;
    size_t len;
    char err[160];
    int rc = pki_cert_build_sync(&t, NULL, s, &der, &len, err, sizeof err);
    assert_int_equal(rc, 0);
    assert_der_equal(der, len, EXP_CERT, sizeof EXP_CERT);
    free(der);
    /* The subject given as DER instead gives the same certificate. */
    uint8_t *name;
    size_t name_len;
    assert_int_equal(pki_name_der(&t.subject, &name, &name_len), 0);
    memset(&t.subject, 0, sizeof t.subject);
    t.subject_der = name;
    t.subject_der_len = name_len;
    assert_int_equal(pki_cert_build_sync(&t, NULL, s, &der, &len, err, sizeof err), 0);
    assert_der_equal(der, len, EXP_CERT, sizeof EXP_CERT);
    free(der);
    t.subject_der_len = name_len - 1;
    assert_int_equal(pki_cert_build_sync(&t, NULL, s, &der, &len, err, sizeof err),
                     PKI_X509_ERR_INPUT);
    free(name);
    pki_signer_free(s);
}

static void test_csr_bytes(void **state)
{
    (void)state;
    pki_signer *s = ed25519_signer();
    pki_name n;
    char err[160];
    assert_int_equal(pki_name_parse(&n, "CN=req.example.com", err, sizeof err), 0);
    pki_exts e;
    pki_exts_init(&e);
    const pki_general_name san = {PKI_GN_DNS, "req.example.com"};
    assert_int_equal(pki_exts_add_san(&e, &san, 1, 0), 0);
    uint8_t *der;
    size_t len;
    assert_int_equal(pki_csr_build_sync(&n, &e, s, 0, &der, &len, err, sizeof err), 0);
    assert_der_equal(der, len, EXP_CSR, sizeof EXP_CSR);
    free(der);
    pki_exts_free(&e);
    pki_signer_free(s);
}

static void test_crl_bytes(void **state)
{
    (void)state;
    pki_signer *s = ed25519_signer();
    pki_issuer is;
    char err[160];
    assert_int_equal(pki_issuer_from_cert(&is, EXP_CERT, sizeof EXP_CERT, err, sizeof err), 0);
    assert_true(is.is_ca);
    assert_int_equal(is.path_len, 1);
    assert_int_equal(is.ski_len, 20);
    static const uint8_t s1[] = {0x7f, 0x01}, s2[] = {0x80};
    const pki_crl_entry entries[] = {
        {s1, sizeof s1, T(2026, 1, 1, 12, 0, 0), PKI_REASON_KEY_COMPROMISE,
         T(2025, 12, 31, 0, 0, 0)},
        {s2, sizeof s2, T(2026, 1, 1, 13, 0, 0), PKI_REASON_NONE, 0},
    };
    pki_crl_template t = {0};
    t.this_update = T(2026, 1, 2, 0, 0, 0);
    t.next_update = T(2026, 1, 9, 0, 0, 0);
    t.crl_number = 7;
    t.entries = entries;
    t.count = 2;
    t.idp_url = CRL_URL[0];
    t.idp_only_user_certs = 1;
    uint8_t *der;
    size_t len;
    assert_int_equal(pki_crl_build_sync(&t, &is, s, &der, &len, err, sizeof err), 0);
    assert_der_equal(der, len, EXP_CRL, sizeof EXP_CRL);
    free(der);
    pki_issuer_free(&is);
    pki_signer_free(s);
}

static void test_ocsp_bytes(void **state)
{
    (void)state;
    pki_signer *s = ed25519_signer();
    pki_issuer is;
    char err[160];
    assert_int_equal(pki_issuer_from_cert(&is, EXP_CERT, sizeof EXP_CERT, err, sizeof err), 0);
    pki_ocsp_single r;
    memset(&r, 0, sizeof r);
    assert_int_equal(pki_ocsp_certid_sha1(&r.id, is.name_der, is.name_len, s->spki, s->spki_len,
                                          SERIAL, sizeof SERIAL),
                     0);
    r.status = PKI_OCSP_REVOKED;
    r.revoked_at = T(2026, 1, 1, 12, 0, 0);
    r.reason = PKI_REASON_KEY_COMPROMISE;
    r.this_update = T(2026, 1, 2, 0, 0, 0);
    r.next_update = T(2026, 1, 3, 0, 0, 0);
    static const uint8_t nonce[] = "0123456789abcdef";
    pki_ocsp_template t = {0};
    t.produced_at = EXP_OCSP_PRODUCED_AT;
    t.responses = &r;
    t.count = 1;
    t.nonce = nonce;
    t.nonce_len = 16;
    t.responder_cert = EXP_CERT;
    t.responder_cert_len = sizeof EXP_CERT;
    uint8_t *der;
    size_t len;
    assert_int_equal(pki_ocsp_build_sync(&t, s, &der, &len, err, sizeof err), 0);
    assert_der_equal(der, len, EXP_OCSP, sizeof EXP_OCSP);
    free(der);
    /* The same with the CertID echoed verbatim from DER (as a parsed request hands it over):
     * SEQUENCE { SEQUENCE { sha1, NULL }, OCTET STRING nameHash, OCTET STRING keyHash, serial }. */
    uint8_t certid[128];
    static const uint8_t head[] = {0x30, 0x00, 0x30, 0x09, 0x06, 0x05, 0x2b,
                                   0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00};
    size_t o = sizeof head;
    memcpy(certid, head, sizeof head);
    certid[o++] = 0x04;
    certid[o++] = 20;
    memcpy(certid + o, r.id.name_hash, 20);
    o += 20;
    certid[o++] = 0x04;
    certid[o++] = 20;
    memcpy(certid + o, r.id.key_hash, 20);
    o += 20;
    certid[o++] = 0x02;
    certid[o++] = 12;
    memcpy(certid + o, SERIAL, 12);
    o += 12;
    certid[1] = (uint8_t)(o - 2);
    memset(&r.id, 0, sizeof r.id);
    r.id.der = certid;
    r.id.der_len = o;
    assert_int_equal(pki_ocsp_build_sync(&t, s, &der, &len, err, sizeof err), 0);
    assert_der_equal(der, len, EXP_OCSP, sizeof EXP_OCSP);
    free(der);
    r.id.der_len = o - 1; /* not one element: refused */
    assert_int_equal(pki_ocsp_build_sync(&t, s, &der, &len, err, sizeof err), PKI_X509_ERR_INPUT);
    /* RFC 6960 4.2.1 error statuses: SEQUENCE { ENUMERATED n }, nothing else. */
    assert_int_equal(pki_ocsp_error_response(PKI_OCSP_TRY_LATER, &der, &len), 0);
    static const uint8_t try_later[] = {0x30, 0x03, 0x0a, 0x01, 0x03};
    assert_der_equal(der, len, try_later, sizeof try_later);
    free(der);
    assert_int_equal(pki_ocsp_error_response(4, &der, &len), PKI_X509_ERR_INPUT);
    pki_issuer_free(&is);
    pki_signer_free(s);
}

/* ---- asynchronous signer: completes only when the test says so ---------------------------- */

typedef struct {
    pki_signer base;
    pki_signer *inner;
    uint8_t *tbs;
    size_t tbs_len;
    pki_sig_alg alg;
    pki_sign_done_fn done;
    void *ctx;
} later_signer;

static int later_sign(pki_signer *s, pki_sig_alg alg, const uint8_t *tbs, size_t tbs_len,
                      pki_sign_done_fn done, void *ctx)
{
    later_signer *l = (later_signer *)s;
    l->tbs = malloc(tbs_len);
    memcpy(l->tbs, tbs, tbs_len);
    l->tbs_len = tbs_len;
    l->alg = alg;
    l->done = done;
    l->ctx = ctx;
    return 0;
}

static void later_complete(later_signer *l)
{
    uint8_t *sig;
    size_t sig_len;
    int rc = pki_signer_sign_sync(l->inner, l->alg, l->tbs, l->tbs_len, 1000, &sig, &sig_len);
    l->done(l->ctx, rc, rc ? NULL : sig, rc ? 0 : sig_len);
    if (!rc)
        free(sig);
    free(l->tbs);
    l->done = NULL;
}

static const struct pki_signer_ops LATER_OPS = {later_sign, NULL};

struct result {
    int calls, status;
    uint8_t *der;
    size_t len;
};

static void on_done(void *ctx, int status, const uint8_t *der, size_t len)
{
    struct result *r = ctx;
    r->calls++;
    r->status = status;
    if (der) {
        r->der = malloc(len);
        memcpy(r->der, der, len);
        r->len = len;
    }
}

static void test_async_signer(void **state)
{
    (void)state;
    later_signer l;
    memset(&l, 0, sizeof l);
    l.inner = ed25519_signer();
    l.base = *l.inner;
    l.base.ops = &LATER_OPS;
    pki_cert_template t;
    root_template(&t, l.inner);
    struct result r = {0};
    char err[160];
    assert_int_equal(pki_cert_build(&t, NULL, &l.base, on_done, &r, err, sizeof err), 0);
    assert_int_equal(r.calls, 0); /* nothing yet: the "HSM" has not answered */
    later_complete(&l);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 0);
    assert_der_equal(r.der, r.len, EXP_CERT, sizeof EXP_CERT);
    free(r.der);

    /* A failing remote signer reaches the caller as its status, with no DER. */
    memset(&r, 0, sizeof r);
    assert_int_equal(pki_cert_build(&t, NULL, &l.base, on_done, &r, err, sizeof err), 0);
    free(l.tbs);
    l.done(l.ctx, PKI_SIGN_ERR_CARD_ABSENT, NULL, 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, PKI_SIGN_ERR_CARD_ABSENT);
    assert_null(r.der);
    pki_signer_free(l.inner);
}

/* ---- names ---------------------------------------------------------------------------------- */

static void test_names(void **state)
{
    (void)state;
    pki_name n;
    char err[160], buf[256];
    assert_int_equal(pki_name_parse(&n, "CN=a\\,b+UID=x,O=Org,DC=example,DC=com", err, sizeof err),
                     0);
    assert_int_equal(n.count, 5);
    assert_int_equal(pki_name_format(&n, PKI_NAME_OPENSSL, buf, sizeof buf), 0);
    assert_string_equal(buf, "/DC=com/DC=example/O=Org/CN=a,b+UID=x");
    assert_int_equal(pki_name_format(&n, PKI_NAME_RFC4514, buf, sizeof buf), 0);
    assert_string_equal(buf, "CN=a\\,b+UID=x,O=Org,DC=example,DC=com");
    /* The DER is one well-formed element (the exact bytes are covered by the certificate). */
    uint8_t *der;
    size_t len;
    assert_int_equal(pki_name_der(&n, &der, &len), 0);
    pki_der_item it;
    assert_int_equal(pki_der_single(der, len, &it), 0);
    free(der);

    assert_int_equal(pki_name_parse(&n, "/C=DE/O=x\\/y/CN=host", err, sizeof err), 0);
    assert_string_equal(n.attr[1].value, "x/y");
    assert_int_equal(pki_name_format(&n, PKI_NAME_OPENSSL, buf, sizeof buf), 0);
    assert_string_equal(buf, "/C=DE/O=x\\/y/CN=host");
    assert_int_equal(pki_name_parse(&n, "/", err, sizeof err), 0);
    assert_int_equal(n.count, 0);
    /* Rejections name the problem. */
    assert_int_equal(pki_name_parse(&n, "/C=DEU", err, sizeof err), PKI_X509_ERR_INPUT);
    assert_non_null(strstr(err, "country"));
    assert_int_equal(pki_name_parse(&n, "/XX=1", err, sizeof err), PKI_X509_ERR_INPUT);
    assert_non_null(strstr(err, "unknown name attribute"));
    assert_int_equal(pki_name_parse(&n, "/emailAddress=\xc3\xa4@x", err, sizeof err),
                     PKI_X509_ERR_INPUT);
    assert_int_equal(pki_name_parse(&n, "/CN=\xff", err, sizeof err), PKI_X509_ERR_INPUT);
    assert_int_equal(pki_name_parse(&n, "/CN=", err, sizeof err), PKI_X509_ERR_INPUT);
    assert_int_equal(pki_name_parse(&n, "CN", err, sizeof err), PKI_X509_ERR_INPUT);
    assert_int_equal(pki_name_parse(&n, "CN=a\\00b", err, sizeof err), PKI_X509_ERR_INPUT);
    /* Found by fuzz_x509_input: a dotted type longer than the OID slot was truncated. */
    assert_int_equal(
        pki_name_parse(&n, "1.3.6.1.4.1.311.60.2.1.31.3.6.1.4.1.311.60.2.1.3=k", err, sizeof err),
        PKI_X509_ERR_INPUT);
    /* Dotted OIDs work as types; RFC 4514 hex escapes decode. */
    assert_int_equal(pki_name_parse(&n, "2.5.4.3=x\\41y", err, sizeof err), 0);
    assert_string_equal(n.attr[0].value, "xAy");
    assert_int_equal(pki_name_format(&n, PKI_NAME_RFC4514, buf, 4), -1);

    /* From DER (the subject cryptography encoded) back to text, and to the same DER. */
    pki_issuer is;
    assert_int_equal(pki_issuer_from_cert(&is, EXP_CERT, sizeof EXP_CERT, err, sizeof err), 0);
    assert_int_equal(pki_name_from_der(&n, is.name_der, is.name_len, err, sizeof err), 0);
    assert_int_equal(pki_name_format(&n, PKI_NAME_OPENSSL, buf, sizeof buf), 0);
    assert_string_equal(buf, "/C=DE/O=Example CA/CN=Test Root Gr\xc3\xbc\xc3\x9f"
                             "e");
    assert_int_equal(pki_name_der(&n, &der, &len), 0);
    assert_int_equal(len, is.name_len);
    assert_memory_equal(der, is.name_der, len);
    free(der);
    assert_int_equal(pki_name_from_der(&n, is.name_der, is.name_len - 1, err, sizeof err),
                     PKI_X509_ERR_INPUT);
    static const uint8_t empty_rdn[] = {0x30, 0x02, 0x31, 0x00};
    assert_int_equal(pki_name_from_der(&n, empty_rdn, sizeof empty_rdn, err, sizeof err),
                     PKI_X509_ERR_INPUT);
    pki_issuer_free(&is);

    /* A multi-valued RDN is a SET OF: DER sorts it (CN's AttributeTypeAndValue 30 08 … before
     * UID's 30 0f …), whatever order it was given in. Expected bytes: python3-cryptography,
     * Name([RelativeDistinguishedName([UID=x, CN=a])]) with PrintableString values. */
    assert_int_equal(pki_name_parse(&n, "UID=x+CN=a", err, sizeof err), 0);
    assert_int_equal(pki_name_der(&n, &der, &len), 0);
    static const uint8_t sorted[] = {0x30, 0x1d, 0x31, 0x1b, 0x30, 0x08, 0x06, 0x03,
                                     0x55, 0x04, 0x03, 0x13, 0x01, 0x61, 0x30, 0x0f,
                                     0x06, 0x0a, 0x09, 0x92, 0x26, 0x89, 0x93, 0xf2,
                                     0x2c, 0x64, 0x01, 0x01, 0x13, 0x01, 0x78};
    assert_int_equal(len, sizeof sorted);
    assert_memory_equal(der, sorted, sizeof sorted);
    assert_int_equal(pki_name_from_der(&n, der, len, err, sizeof err), 0);
    assert_int_equal(pki_name_format(&n, PKI_NAME_RFC4514, buf, sizeof buf), 0);
    assert_string_equal(buf, "CN=a+UID=x");
    free(der);
}

/* ---- lints ---------------------------------------------------------------------------------- */

static pki_signer *lint_signer;

static void expect_lint(const pki_cert_template *t, const pki_issuer *is, const char *rule)
{
    char err[200] = "";
    struct result r = {0};
    int rc = pki_cert_build(t, is, lint_signer, on_done, &r, err, sizeof err);
    assert_int_equal(rc, PKI_X509_ERR_LINT);
    assert_int_equal(r.calls, 0); /* refused before signing */
    char want[64];
    snprintf(want, sizeof want, "lint %s:", rule);
    if (!strstr(err, want))
        fail_msg("expected rule %s, got '%s'", rule, err);
}

static void leaf_template(pki_cert_template *t, const pki_issuer *is)
{
    static const pki_general_name san[] = {{PKI_GN_DNS, "leaf.example.com"}};
    static const char *const eku[] = {"serverAuth"};
    pki_cert_template_init(t);
    char err[64];
    assert_int_equal(pki_name_parse(&t->subject, "/CN=leaf.example.com", err, sizeof err), 0);
    t->not_before = is->not_before + 3600; /* each level an hour shorter on both ends */
    t->not_after = is->not_after - 3600;
    t->spki = lint_signer->spki;
    t->spki_len = lint_signer->spki_len;
    t->key_usage = PKI_KU_DIGITAL_SIGNATURE;
    t->san = san;
    t->san_count = 1;
    t->eku = eku;
    t->eku_count = 1;
}

static void test_lints(void **state)
{
    (void)state;
    lint_signer = ed25519_signer();
    pki_issuer is;
    char err[160];
    assert_int_equal(pki_issuer_from_cert(&is, EXP_CERT, sizeof EXP_CERT, err, sizeof err), 0);
    pki_cert_template t;
    uint8_t *der;
    size_t len;
    leaf_template(&t, &is);
    assert_int_equal(pki_cert_build_sync(&t, &is, lint_signer, &der, &len, err, sizeof err), 0);
    free(der);

    static const uint8_t zero[] = {0, 0}, big[21] = {0x01};
    leaf_template(&t, &is);
    t.serial = zero;
    t.serial_len = sizeof zero;
    expect_lint(&t, &is, "serial.range");
    t.serial = big;
    t.serial_len = sizeof big;
    expect_lint(&t, &is, "serial.range");

    leaf_template(&t, &is);
    t.not_after = T(10000, 1, 1, 0, 0, 0);
    expect_lint(&t, &is, "time.range");
    leaf_template(&t, &is);
    t.not_after = t.not_before;
    expect_lint(&t, &is, "validity.order");
    leaf_template(&t, &is);
    t.not_before = is.not_before - 1;
    expect_lint(&t, &is, "validity.within_issuer");
    leaf_template(&t, &is);
    t.not_after = is.not_after + 1;
    expect_lint(&t, &is, "validity.within_issuer");

    leaf_template(&t, &is);
    t.path_len = 0;
    expect_lint(&t, &is, "path_len.non_ca");
    leaf_template(&t, &is); /* issuer pathLen 1: a CA below must have 0 */
    t.is_ca = 1;
    t.key_usage = PKI_KU_KEY_CERT_SIGN;
    t.eku_count = 0;
    t.path_len = -1;
    expect_lint(&t, &is, "path_len.issuer");
    t.path_len = 1;
    expect_lint(&t, &is, "path_len.issuer");
    t.path_len = 0;
    assert_int_equal(pki_cert_build_sync(&t, &is, lint_signer, &der, &len, err, sizeof err), 0);
    /* ... and that CA (pathLen 0) may not issue another CA. */
    pki_issuer sub;
    assert_int_equal(pki_issuer_from_cert(&sub, der, len, err, sizeof err), 0);
    free(der);
    leaf_template(&t, &sub);
    t.is_ca = 1;
    t.key_usage = PKI_KU_KEY_CERT_SIGN;
    t.eku_count = 0;
    expect_lint(&t, &sub, "path_len.issuer");
    pki_issuer_free(&sub);

    leaf_template(&t, &is);
    t.is_ca = 1;
    t.path_len = 0;
    t.key_usage = PKI_KU_DIGITAL_SIGNATURE;
    expect_lint(&t, &is, "ca.key_usage");
    leaf_template(&t, &is);
    t.key_usage = PKI_KU_DIGITAL_SIGNATURE | PKI_KU_CRL_SIGN;
    expect_lint(&t, &is, "leaf.key_usage");

    leaf_template(&t, &is);
    t.san_count = 0;
    expect_lint(&t, &is, "san.tls_server");
    memset(&t.subject, 0, sizeof t.subject);
    t.eku_count = 0;
    expect_lint(&t, &is, "subject.empty");
    static const pki_general_name bad[][1] = {
        {{PKI_GN_DNS, "a..b"}},   {{PKI_GN_DNS, "-a.com"}},   {{PKI_GN_DNS, "a.*.com"}},
        {{PKI_GN_IP, "1.2.3"}},   {{PKI_GN_EMAIL, "nobody"}}, {{PKI_GN_URI, "no scheme"}},
        {{PKI_GN_DNS, "x.com."}}, {{PKI_GN_UPN, "@x"}}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        leaf_template(&t, &is);
        t.san = bad[i];
        expect_lint(&t, &is, "san.well_formed");
    }

    leaf_template(&t, &is);
    static const uint8_t wrong_aki[20] = {1};
    t.aki = wrong_aki;
    t.aki_len = sizeof wrong_aki;
    expect_lint(&t, &is, "aki.issuer_ski");
    pki_issuer no_ski = is;
    no_ski.ski_len = 0;
    leaf_template(&t, &is);
    expect_lint(&t, &no_ski, "aki.issuer_ski");
    pki_issuer not_ca = is;
    not_ca.is_ca = 0;
    expect_lint(&t, &not_ca, "issuer.ca");
    pki_issuer no_certsign = is;
    no_certsign.key_usage = PKI_KU_DIGITAL_SIGNATURE;
    expect_lint(&t, &no_certsign, "issuer.key_usage");

    pki_exts extra;
    pki_exts_init(&extra);
    static const uint8_t null_der[] = {0x05, 0x00};
    assert_int_equal(pki_exts_add(&extra, "2.5.29.17", 0, null_der, 2), 0);
    leaf_template(&t, &is);
    t.extra = &extra;
    expect_lint(&t, &is, "extension.duplicate");
    pki_exts_free(&extra);

    /* A custom extension by OID is carried through; a malformed value is refused. */
    pki_exts_init(&extra);
    assert_int_equal(pki_exts_add(&extra, "1.3.6.1.4.1.99999.7", 1, null_der, 2), 0);
    assert_int_equal(pki_exts_add(&extra, "1.3.6.1.4.1.99999.7", 0, null_der, 2), -1);
    assert_non_null(strstr(pki_exts_error(&extra), "twice"));
    pki_exts_free(&extra);
    pki_exts_init(&extra);
    static const uint8_t junk[] = {0x05, 0x00, 0x00};
    assert_int_equal(pki_exts_add(&extra, "1.2.3", 0, junk, sizeof junk), -1);
    pki_exts_free(&extra);

    /* The CRL builder refuses an issuer without cRLSign. */
    pki_crl_template ct = {0};
    ct.this_update = T(2026, 1, 2, 0, 0, 0);
    ct.next_update = T(2026, 1, 3, 0, 0, 0);
    assert_int_equal(
        pki_crl_build_sync(&ct, &no_certsign, lint_signer, &der, &len, err, sizeof err),
        PKI_X509_ERR_LINT);
    assert_non_null(strstr(err, "lint issuer.key_usage"));
    ct.next_update = ct.this_update;
    assert_int_equal(pki_crl_build_sync(&ct, &is, lint_signer, &der, &len, err, sizeof err),
                     PKI_X509_ERR_LINT);
    assert_non_null(strstr(err, "lint validity.order"));

    /* Wrong algorithm for the key: refused at once. */
    leaf_template(&t, &is);
    t.sig_alg = PKI_SIG_ECDSA_SHA256;
    assert_int_equal(pki_cert_build_sync(&t, &is, lint_signer, &der, &len, err, sizeof err),
                     PKI_SIGN_ERR_BAD_ALG);
    pki_issuer_free(&is);
    pki_signer_free(lint_signer);
}

static void test_serials(void **state)
{
    (void)state;
    uint8_t a[PKI_SERIAL_RANDOM_LEN], b[PKI_SERIAL_RANDOM_LEN];
    assert_int_equal(pki_serial_random(a), 0);
    assert_int_equal(pki_serial_random(b), 0);
    assert_true(a[0] >= 1 && a[0] <= 0x7f); /* positive, 16 significant octets */
    assert_memory_not_equal(a, b, sizeof a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_certificate_bytes),
        cmocka_unit_test(test_csr_bytes),
        cmocka_unit_test(test_crl_bytes),
        cmocka_unit_test(test_ocsp_bytes),
        cmocka_unit_test(test_async_signer),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_lints),
        cmocka_unit_test(test_serials),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
