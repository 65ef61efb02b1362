/* The pkix parsers on inputs built here byte by byte (with the DER writer and the software
 * signer): the corner cases openssl will not produce, each with the error a caller sees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "der/der_writer.h"
#include "keys/keys.h"
#include "pkix/pkix.h"
#include "signer/soft_signer.h"

static void alg(pki_der_writer *w, pki_sig_alg a)
{
    uint8_t buf[128];
    int n = pki_sig_alg_der(a, buf, sizeof buf);
    assert_true(n > 0);
    pki_derw_raw(w, buf, (size_t)n);
}

static void name_cn(pki_der_writer *w, const char *cn)
{
    pki_derw_begin(w, PKI_DER_SEQUENCE);
    pki_derw_begin(w, PKI_DER_SET);
    pki_derw_begin(w, PKI_DER_SEQUENCE);
    pki_derw_oid(w, "2.5.4.3");
    pki_derw_string(w, PKI_DERW_STR_UTF8, cn, strlen(cn));
    pki_derw_end(w);
    pki_derw_end(w);
    pki_derw_end(w);
}

/* One extension: SEQUENCE { OID, [critical], OCTET STRING { der } }. */
static void ext(pki_der_writer *w, const char *oid, int critical, const uint8_t *der, size_t len)
{
    pki_derw_begin(w, PKI_DER_SEQUENCE);
    pki_derw_oid(w, oid);
    if (critical)
        pki_derw_bool(w, 1);
    pki_derw_octet_string(w, der, len);
    pki_derw_end(w);
}

static const uint8_t BC_CA[] = {0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00};

/* A CSR signed by s with alg; extensions written by exts (may be NULL). */
static uint8_t *make_csr(pki_signer *s, pki_sig_alg a, void (*exts)(pki_der_writer *), size_t *len)
{
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_int(&w, 0);
    name_cn(&w, "csr test");
    pki_derw_raw(&w, s->spki, s->spki_len);
    pki_derw_begin(&w, PKI_DER_CTX_CONS(0));
    if (exts) {
        pki_derw_begin(&w, PKI_DER_SEQUENCE);
        pki_derw_oid(&w, "1.2.840.113549.1.9.14");
        pki_derw_begin(&w, PKI_DER_SET);
        pki_derw_begin(&w, PKI_DER_SEQUENCE);
        exts(&w);
        pki_derw_end(&w);
        pki_derw_end(&w);
        pki_derw_end(&w);
    }
    pki_derw_end(&w);
    pki_derw_end(&w);
    size_t info_len;
    uint8_t *info = pki_derw_take(&w, &info_len);
    assert_non_null(info);
    uint8_t *sig;
    size_t sig_len;
    assert_int_equal(pki_signer_sign_sync(s, a, info, info_len, 0, &sig, &sig_len), 0);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_raw(&w, info, info_len);
    alg(&w, a);
    pki_derw_bit_string(&w, sig, sig_len, 0);
    pki_derw_end(&w);
    free(info);
    free(sig);
    uint8_t *der = pki_derw_take(&w, len);
    assert_non_null(der);
    return der;
}

static void exts_dup(pki_der_writer *w)
{
    ext(w, "2.5.29.19", 1, BC_CA, sizeof BC_CA);
    ext(w, "2.5.29.19", 1, BC_CA, sizeof BC_CA);
}

static void exts_ca(pki_der_writer *w)
{
    ext(w, "2.5.29.19", 1, BC_CA, sizeof BC_CA);
    static const uint8_t unknown[] = {0x05, 0x00};
    ext(w, "1.3.6.1.4.1.99999.7", 0, unknown, sizeof unknown);
}

static void test_csr_every_key_and_refusals(void **state)
{
    (void)state;
    char err[160];
    for (int t = PKI_KEY_RSA; t <= PKI_KEY_ED25519; t++) {
        pki_signer *s = pki_soft_signer_generate((pki_key_type)t, 2048);
        size_t len;
        uint8_t *der = make_csr(s, s->default_alg, exts_ca, &len);
        pki_csr *c = pki_csr_parse(der, len, err, sizeof err);
        if (!c)
            fail_msg("%s: %s", pki_key_type_name((pki_key_type)t), err);
        assert_string_equal(c->subject, "CN=csr test");
        assert_int_equal(c->key_type, t);
        assert_int_equal(c->sig_alg, s->default_alg);
        assert_true(c->ext.has_basic_constraints && c->ext.is_ca);
        assert_int_equal(c->ext.path_len, 0);
        assert_non_null(pki_extensions_find(&c->ext, "1.3.6.1.4.1.99999.7"));
        assert_memory_equal(c->spki.p, s->spki, s->spki_len);
        pki_csr_free(c);
        /* Every single-bit change anywhere in the CertificationRequestInfo is refused. */
        for (size_t i = 4; i < 40; i++) {
            der[i] ^= 0x01;
            c = pki_csr_parse(der, len, err, sizeof err);
            assert_null(c);
            der[i] ^= 0x01;
        }
        free(der);
        pki_signer_free(s);
    }
    pki_signer *s = pki_soft_signer_generate(PKI_KEY_EC_P256, 0);
    size_t len;
    uint8_t *der = make_csr(s, PKI_SIG_ECDSA_SHA256, exts_dup, &len);
    assert_null(pki_csr_parse(der, len, err, sizeof err));
    assert_string_equal(err, "CSR: requested extension 2.5.29.19 appears twice");
    free(der);
    pki_signer_free(s);
}

static void test_pss_identifier_spellings(void **state)
{
    (void)state;
    pki_sig_alg a;
    /* hash parameters absent instead of NULL, trailer written out: still SHA-256 PSS. */
    static const uint8_t absent[] = {
        0x30, 0x42, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30,
        0x35, 0xa0, 0x0d, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,
        0x02, 0x01, 0xa1, 0x1a, 0x30, 0x18, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
        0x01, 0x01, 0x08, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,
        0x02, 0x01, 0xa2, 0x03, 0x02, 0x01, 0x20, 0xa3, 0x03, 0x02, 0x01, 0x01};
    assert_int_equal(pki_sig_alg_from_der(absent, sizeof absent, &a), 0);
    assert_int_equal(a, PKI_SIG_RSA_PSS_SHA256);
    uint8_t bad[sizeof absent];
    memcpy(bad, absent, sizeof bad);
    bad[62] = 0x21; /* salt 33 */
    assert_int_equal(pki_sig_alg_from_der(bad, sizeof bad, &a), -1);
    memcpy(bad, absent, sizeof bad);
    bad[57] = 0x02; /* MGF1 with SHA-384 under a SHA-256 hash */
    assert_int_equal(pki_sig_alg_from_der(bad, sizeof bad, &a), -1);
    memcpy(bad, absent, sizeof bad);
    bad[67] = 0x02; /* trailer 2 */
    assert_int_equal(pki_sig_alg_from_der(bad, sizeof bad, &a), -1);
    /* RSASSA-PSS with empty parameters means SHA-1 defaults: refused. */
    static const uint8_t sha1_defaults[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                            0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30, 0x00};
    assert_int_equal(pki_sig_alg_from_der(sha1_defaults, sizeof sha1_defaults, &a), -1);
    /* sha256WithRSAEncryption without its NULL: refused (RFC 4055 requires the NULL). */
    static const uint8_t no_null[] = {0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48,
                                      0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b};
    assert_int_equal(pki_sig_alg_from_der(no_null, sizeof no_null, &a), -1);
}

static void test_name_text(void **state)
{
    (void)state;
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    /* C=US, then a multi-valued RDN O=#x + OU= y , then CN with a comma and a quote */
    pki_derw_begin(&w, PKI_DER_SET);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_oid(&w, "2.5.4.6");
    pki_derw_string(&w, PKI_DERW_STR_PRINTABLE, "US", 2);
    pki_derw_end(&w);
    pki_derw_end(&w);
    pki_derw_begin(&w, PKI_DER_SET);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_oid(&w, "2.5.4.10");
    pki_derw_string(&w, PKI_DERW_STR_UTF8, "#x", 2);
    pki_derw_end(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_oid(&w, "2.5.4.11");
    pki_derw_string(&w, PKI_DERW_STR_UTF8, " y ", 3);
    pki_derw_end(&w);
    pki_derw_end(&w);
    pki_derw_begin(&w, PKI_DER_SET);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_oid(&w, "2.5.4.3");
    pki_derw_string(&w, PKI_DERW_STR_UTF8, "a,b\"c", 5);
    pki_derw_end(&w);
    pki_derw_end(&w);
    pki_derw_begin(&w, PKI_DER_SET);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_oid(&w, "1.2.3.4");
    pki_derw_int(&w, 5);
    pki_derw_end(&w);
    pki_derw_end(&w);
    pki_derw_end(&w);
    size_t len;
    uint8_t *der = pki_derw_take(&w, &len);
    assert_non_null(der);
    char *text = pki_name_to_text(der, len);
    assert_non_null(text);
    /* The DER writer sorts the SET OF, so OU sorts before O here (shorter encoding first). */
    assert_true(strcmp(text, "1.2.3.4=#020105,CN=a\\,b\\\"c,O=\\#x+OU=\\ y\\ ,C=US") == 0 ||
                strcmp(text, "1.2.3.4=#020105,CN=a\\,b\\\"c,OU=\\ y\\ +O=\\#x,C=US") == 0);
    free(text);
    free(der);
}

/* An OCSP request with the given CertID hash OID, hash length and nonce encoding. */
static uint8_t *make_ocsp(const char *hash_oid, size_t hash_len, int nonce_mode, int n_ids,
                          size_t *len)
{
    uint8_t h[64] = {0};
    static const uint8_t serial[] = {0x01, 0x02};
    static const uint8_t nonce[] = {0x04, 0x04, 0xde, 0xad, 0xbe, 0xef};
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    for (int i = 0; i < n_ids; i++) {
        pki_derw_begin(&w, PKI_DER_SEQUENCE);
        pki_derw_begin(&w, PKI_DER_SEQUENCE);
        pki_derw_begin(&w, PKI_DER_SEQUENCE);
        pki_derw_oid(&w, hash_oid);
        pki_derw_null(&w);
        pki_derw_end(&w);
        pki_derw_octet_string(&w, h, hash_len);
        pki_derw_octet_string(&w, h, hash_len);
        pki_derw_uint_be(&w, PKI_DER_INTEGER, serial, sizeof serial);
        pki_derw_end(&w);
        pki_derw_end(&w);
    }
    pki_derw_end(&w);
    if (nonce_mode) {
        pki_derw_begin(&w, PKI_DER_CTX_CONS(2));
        pki_derw_begin(&w, PKI_DER_SEQUENCE);
        /* mode 1: RFC 8954 OCTET STRING inside extnValue; mode 2: bare bytes (old clients) */
        ext(&w, "1.3.6.1.5.5.7.48.1.2", 0, nonce_mode == 1 ? nonce : nonce + 2,
            nonce_mode == 1 ? sizeof nonce : sizeof nonce - 2);
        pki_derw_end(&w);
        pki_derw_end(&w);
    }
    pki_derw_end(&w);
    pki_derw_end(&w);
    uint8_t *der = pki_derw_take(&w, len);
    assert_non_null(der);
    return der;
}

static void test_ocsp_request_shapes(void **state)
{
    (void)state;
    char err[160];
    size_t len;
    for (int mode = 1; mode <= 2; mode++) {
        uint8_t *der = make_ocsp("1.3.14.3.2.26", 20, mode, 1, &len);
        pki_ocsp_request *r = pki_ocsp_request_parse(der, len, err, sizeof err);
        assert_non_null(r);
        assert_true(r->has_nonce);
        assert_int_equal(r->nonce.len, 4);
        assert_memory_equal(r->nonce.p, "\xde\xad\xbe\xef", 4);
        assert_int_equal(r->ids[0].serial.len, 2);
        assert_int_equal(r->ids[0].hash, PKI_OCSP_HASH_SHA1);
        assert_memory_equal(r->ids[0].cert_id_der.p, der + 8, r->ids[0].cert_id_der.len);
        pki_ocsp_request_free(r);
        free(der);
    }
    uint8_t *der = make_ocsp("1.3.14.3.2.26", 32, 0, 1, &len);
    assert_null(pki_ocsp_request_parse(der, len, err, sizeof err));
    assert_string_equal(err, "OCSP request: CertID hashes have the wrong length");
    free(der);
    der = make_ocsp("1.2.840.113549.2.5", 16, 0, 1, &len); /* MD5 */
    assert_null(pki_ocsp_request_parse(der, len, err, sizeof err));
    assert_string_equal(err, "OCSP request: unsupported CertID hash algorithm");
    free(der);
    der = make_ocsp("2.16.840.1.101.3.4.2.3", 64, 0, 0, &len);
    assert_null(pki_ocsp_request_parse(der, len, err, sizeof err));
    assert_string_equal(err, "OCSP request: no certificate asked about");
    free(der);
    der = make_ocsp("2.16.840.1.101.3.4.2.1", 32, 0, PKI_PKIX_MAX_OCSP_REQUESTS + 1, &len);
    assert_null(pki_ocsp_request_parse(der, len, err, sizeof err));
    assert_string_equal(err, "OCSP request: more than 64 certificates asked about");
    free(der);
}

/* A CRL signed by s with the given entries writer. */
static uint8_t *make_crl(pki_signer *s, int version2, void (*entries)(pki_der_writer *),
                         size_t *len)
{
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    if (version2)
        pki_derw_int(&w, 1);
    alg(&w, s->default_alg);
    name_cn(&w, "crl issuer");
    pki_derw_time(&w, 1767225600);
    pki_derw_time(&w, 1767830400);
    if (entries)
        entries(&w);
    pki_derw_end(&w);
    size_t tbs_len;
    uint8_t *tbs = pki_derw_take(&w, &tbs_len), *sig;
    size_t sig_len;
    assert_int_equal(pki_signer_sign_sync(s, s->default_alg, tbs, tbs_len, 0, &sig, &sig_len), 0);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_raw(&w, tbs, tbs_len);
    alg(&w, s->default_alg);
    pki_derw_bit_string(&w, sig, sig_len, 0);
    pki_derw_end(&w);
    free(tbs);
    free(sig);
    return pki_derw_take(&w, len);
}

static void entry(pki_der_writer *w, uint8_t serial, const char *ext_oid, int critical,
                  const uint8_t *val, size_t len)
{
    pki_derw_begin(w, PKI_DER_SEQUENCE);
    pki_derw_uint_be(w, PKI_DER_INTEGER, &serial, 1);
    pki_derw_time(w, 1767225600);
    if (ext_oid) {
        pki_derw_begin(w, PKI_DER_SEQUENCE);
        ext(w, ext_oid, critical, val, len);
        pki_derw_end(w);
    }
    pki_derw_end(w);
}

static const uint8_t REASON_CA_COMPROMISE[] = {0x0a, 0x01, 0x02};
static const uint8_t REASON_7[] = {0x0a, 0x01, 0x07}; /* unused value */

static void entries_ok(pki_der_writer *w)
{
    pki_derw_begin(w, PKI_DER_SEQUENCE);
    entry(w, 0x81, "2.5.29.21", 0, REASON_CA_COMPROMISE, sizeof REASON_CA_COMPROMISE);
    entry(w, 0x05, NULL, 0, NULL, 0);
    pki_derw_end(w);
}

static void entries_empty(pki_der_writer *w)
{
    pki_derw_begin(w, PKI_DER_SEQUENCE);
    pki_derw_end(w);
}

static void entries_bad_reason(pki_der_writer *w)
{
    pki_derw_begin(w, PKI_DER_SEQUENCE);
    entry(w, 1, "2.5.29.21", 0, REASON_7, sizeof REASON_7);
    pki_derw_end(w);
}

static void entries_unknown_critical(pki_der_writer *w)
{
    static const uint8_t null[] = {0x05, 0x00};
    pki_derw_begin(w, PKI_DER_SEQUENCE);
    entry(w, 1, "2.5.29.29", 1, null, sizeof null); /* certificateIssuer: indirect CRL */
    pki_derw_end(w);
}

static void test_crl_shapes(void **state)
{
    (void)state;
    char err[160];
    size_t len;
    pki_signer *s = pki_soft_signer_generate(PKI_KEY_ED25519, 0);
    pki_signer *other = pki_soft_signer_generate(PKI_KEY_ED25519, 0);
    uint8_t *der = make_crl(s, 1, entries_ok, &len);
    pki_crl *c = pki_crl_parse(der, len, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(c->count, 2);
    assert_int_equal(c->entries[0].reason, 2);
    assert_int_equal(c->entries[0].serial.len, 1);
    assert_int_equal(c->entries[0].serial.p[0], 0x81);
    assert_int_equal(c->entries[1].reason, -1);
    assert_int_equal(c->next_update, 1767830400);
    assert_string_equal(c->issuer, "CN=crl issuer");
    assert_int_equal(pki_crl_verify(c, s->spki, s->spki_len), 0);
    assert_int_equal(pki_crl_verify(c, other->spki, other->spki_len), -1);
    pki_crl_free(c);
    free(der);

    der = make_crl(s, 1, entries_empty, &len);
    assert_null(pki_crl_parse(der, len, err, sizeof err));
    assert_string_equal(err, "CRL: malformed revokedCertificates");
    free(der);
    der = make_crl(s, 1, entries_bad_reason, &len);
    assert_null(pki_crl_parse(der, len, err, sizeof err));
    assert_string_equal(err, "CRL: malformed extensions in entry 1");
    free(der);
    der = make_crl(s, 1, entries_unknown_critical, &len);
    assert_null(pki_crl_parse(der, len, err, sizeof err));
    free(der);
    der = make_crl(s, 0, entries_ok, &len); /* v1 CRL with entry extensions */
    assert_null(pki_crl_parse(der, len, err, sizeof err));
    free(der);
    der = make_crl(s, 0, NULL, &len); /* v1, no entries: fine */
    c = pki_crl_parse(der, len, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(c->version, 1);
    assert_int_equal(c->count, 0);
    pki_crl_free(c);
    free(der);
    pki_signer_free(s);
    pki_signer_free(other);
}

static void test_tbs_inspect(void **state)
{
    (void)state;
    char err[200];
    pki_tbs_info t;
    /* CMS signedAttrs { contentType: data } */
    static const uint8_t attrs[] = {0x31, 0x1a, 0x30, 0x18, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                    0xf7, 0x0d, 0x01, 0x09, 0x03, 0x31, 0x0b, 0x06, 0x09, 0x2a,
                                    0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01};
    assert_int_equal(pki_tbs_inspect(attrs, sizeof attrs, &t, err, sizeof err), 0);
    assert_int_equal(t.kind, PKI_TBS_CMS_ATTRS);
    assert_string_equal(pki_tbs_kind_name(t.kind), "cms-signed-attributes");
    /* The CertificationRequestInfo inside a CSR made here. */
    pki_signer *s = pki_soft_signer_generate(PKI_KEY_EC_P256, 0);
    size_t len;
    uint8_t *der = make_csr(s, PKI_SIG_ECDSA_SHA256, exts_ca, &len);
    pki_csr *c = pki_csr_parse(der, len, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(pki_tbs_inspect(c->info.p, c->info.len, &t, err, sizeof err), 0);
    assert_int_equal(t.kind, PKI_TBS_CSR);
    assert_memory_equal(t.spki.p, s->spki, s->spki_len);
    /* The whole signed CSR is not a to-be-signed structure; a truncated one is not DER. */
    assert_int_equal(pki_tbs_inspect(der, len, &t, err, sizeof err), -1);
    assert_int_equal(t.kind, PKI_TBS_UNKNOWN);
    assert_non_null(strstr(err, "not a to-be-signed structure we know"));
    assert_int_equal(pki_tbs_inspect(c->info.p, c->info.len - 1, &t, err, sizeof err), -1);
    assert_string_equal(err, "to-be-signed data is not one DER element");
    pki_csr_free(c);
    free(der);
    /* A TBSCertList made here: kind, issuer, algorithm. */
    der = make_crl(s, 1, entries_ok, &len);
    pki_crl *crl = pki_crl_parse(der, len, err, sizeof err);
    assert_non_null(crl);
    assert_int_equal(pki_tbs_inspect(crl->tbs.p, crl->tbs.len, &t, err, sizeof err), 0);
    assert_int_equal(t.kind, PKI_TBS_CRL);
    assert_int_equal(t.sig_alg, PKI_SIG_ECDSA_SHA256);
    assert_int_equal(t.issuer_der.len, crl->issuer_der.len);
    assert_int_equal(t.not_after, 1767830400);
    pki_crl_free(crl);
    free(der);
    pki_signer_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csr_every_key_and_refusals),
        cmocka_unit_test(test_pss_identifier_spellings),
        cmocka_unit_test(test_name_text),
        cmocka_unit_test(test_ocsp_request_shapes),
        cmocka_unit_test(test_crl_shapes),
        cmocka_unit_test(test_tbs_inspect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
