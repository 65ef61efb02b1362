/* Benchmark for scripts/bench/pki.sh.
 *
 *   pki_bench sign p256|rsa2048 SECONDS
 *       certificate build+sign per second through lib/x509 with a software signer, against the
 *       raw wolfCrypt sign rate (SHA-256, then wc_ecc_sign_hash / wc_RsaSSL_Sign on the same
 *       key, same message size) measured in the same run, interleaved so machine noise hits
 *       both alike.
 *       Prints "cert_per_s=… raw_per_s=…".
 *   pki_bench crl ENTRIES
 *       builds and signs (P-256) a CRL with ENTRIES revoked certificates; prints
 *       "seconds=… peak_rss_kib=… der_bytes=…". The entry list is made before timing starts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "signer/soft_signer.h"
#include "util/timefmt.h"
#include "x509/x509.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *msg)
{
    fprintf(stderr, "pki_bench: %s\n", msg);
    exit(1);
}

/* The CA and its certificate, for issuing leaves. */
typedef struct {
    pki_signer *ca;
    pki_issuer issuer;
} ca_ctx;

static void make_ca(ca_ctx *c, pki_key_type type)
{
    char err[200];
    c->ca = pki_soft_signer_generate(type, 2048);
    if (!c->ca)
        die("key generation failed");
    pki_cert_template t;
    pki_cert_template_init(&t);
    if (pki_name_parse(&t.subject, "/C=DE/O=Bench/CN=Bench CA", err, sizeof err))
        die(err);
    int64_t now = pki_now();
    t.not_before = now - 60;
    t.not_after = now + 3650 * 86400LL;
    t.spki = c->ca->spki;
    t.spki_len = c->ca->spki_len;
    t.is_ca = 1;
    t.key_usage = PKI_KU_KEY_CERT_SIGN | PKI_KU_CRL_SIGN;
    uint8_t *der;
    size_t len;
    if (pki_cert_build_sync(&t, NULL, c->ca, &der, &len, err, sizeof err) ||
        pki_issuer_from_cert(&c->issuer, der, len, err, sizeof err))
        die(err);
    free(der);
}

/* A typical TLS server certificate. */
static size_t issue_one(ca_ctx *c, const pki_signer *subject)
{
    static const pki_general_name san[] = {{PKI_GN_DNS, "www.example.com"},
                                           {PKI_GN_DNS, "example.com"}};
    static const char *const eku[] = {"serverAuth", "clientAuth"};
    static const char *const ocsp[] = {"http://ocsp.example.com/"};
    static const char *const crl[] = {"http://crl.example.com/ca.crl"};
    pki_cert_template t;
    pki_cert_template_init(&t);
    char err[200];
    if (pki_name_add(&t.subject, "CN", "www.example.com", err, sizeof err))
        die(err);
    t.not_before = c->issuer.not_before + 1;
    t.not_after = t.not_before + 90 * 86400;
    t.spki = subject->spki;
    t.spki_len = subject->spki_len;
    t.key_usage = PKI_KU_DIGITAL_SIGNATURE;
    t.san = san;
    t.san_count = 2;
    t.eku = eku;
    t.eku_count = 2;
    t.ocsp_urls = ocsp;
    t.ocsp_url_count = 1;
    t.crl_urls = crl;
    t.crl_url_count = 1;
    uint8_t *der;
    size_t len;
    if (pki_cert_build_sync(&t, &c->issuer, c->ca, &der, &len, err, sizeof err))
        die(err);
    free(der);
    return len;
}

/* The same key as a bare wolfCrypt key, for the raw rate. */
typedef struct {
    int is_rsa;
    ecc_key ecc;
    RsaKey rsa;
    WC_RNG rng;
} raw_key;

static void raw_init(raw_key *r, pki_signer *s)
{
    uint8_t *p8;
    size_t p8_len;
    if (pki_soft_signer_export_pkcs8_der(s, &p8, &p8_len))
        die("export failed");
    word32 off = 0;
    if (wc_GetPkcs8TraditionalOffset(p8, &off, (word32)p8_len) < 0)
        die("PKCS#8 unwrap failed");
    memset(r, 0, sizeof *r);
    r->is_rsa = s->key_type == PKI_KEY_RSA;
    wc_InitRng(&r->rng);
    int rc;
    if (r->is_rsa) {
        wc_InitRsaKey(&r->rsa, NULL);
        rc = wc_RsaPrivateKeyDecode(p8, &off, &r->rsa, (word32)p8_len);
        wc_RsaSetRNG(&r->rsa, &r->rng);
    } else {
        wc_ecc_init(&r->ecc);
        rc = wc_EccPrivateKeyDecode(p8, &off, &r->ecc, (word32)p8_len);
    }
    pki_secret_free(p8, p8_len);
    if (rc)
        die("raw key decode failed");
}

/* What a minimal signer on wolfCrypt does: hash, then sign the digest (PKCS#1 v1.5 DigestInfo
 * for RSA). */
static void raw_sign(raw_key *r, const uint8_t *msg, size_t len)
{
    uint8_t digest[WC_SHA256_DIGEST_SIZE], sig[1024], info[128];
    word32 sig_len = sizeof sig;
    int rc = wc_Sha256Hash(msg, (word32)len, digest);
    if (rc == 0 && r->is_rsa) {
        word32 ilen = wc_EncodeSignature(info, digest, sizeof digest, SHA256h);
        rc = wc_RsaSSL_Sign(info, ilen, sig, sig_len, &r->rsa, &r->rng) > 0 ? 0 : -1;
    } else if (rc == 0) {
        rc = wc_ecc_sign_hash(digest, sizeof digest, sig, &sig_len, &r->rng, &r->ecc);
    }
    if (rc)
        die("raw sign failed");
}

static int bench_sign(const char *kind, double seconds)
{
    pki_key_type type = !strcmp(kind, "rsa2048") ? PKI_KEY_RSA : PKI_KEY_EC_P256;
    if (strcmp(kind, "rsa2048") && strcmp(kind, "p256"))
        die("sign: p256 or rsa2048");
    ca_ctx c;
    make_ca(&c, type);
    pki_signer *subject = pki_soft_signer_generate(PKI_KEY_EC_P256, 0);
    if (!subject)
        die("key generation failed");
    raw_key raw;
    raw_init(&raw, c.ca);
    /* The raw signer signs a message the size of a whole certificate (a little more than its
     * TBS; hashing a few hundred octets is noise next to the signature either way). */
    size_t tbs_len = issue_one(&c, subject);
    uint8_t *msg = calloc(1, tbs_len);
    if (!msg)
        die("out of memory");
    long n_cert = 0, n_raw = 0;
    double t_cert = 0, t_raw = 0;
    const int rounds = 6;
    for (int round = 0; round < rounds; round++) {
        double slice = seconds / 2 / rounds, t0 = now_s(), t;
        do {
            raw_sign(&raw, msg, tbs_len);
            n_raw++;
        } while ((t = now_s()) - t0 < slice);
        t_raw += t - t0;
        t0 = now_s();
        do {
            issue_one(&c, subject);
            n_cert++;
        } while ((t = now_s()) - t0 < slice);
        t_cert += t - t0;
    }
    printf("cert_per_s=%.1f raw_per_s=%.1f\n", (double)n_cert / t_cert, (double)n_raw / t_raw);
    free(msg);
    if (raw.is_rsa)
        wc_FreeRsaKey(&raw.rsa);
    else
        wc_ecc_free(&raw.ecc);
    wc_FreeRng(&raw.rng);
    pki_issuer_free(&c.issuer);
    pki_signer_free(c.ca);
    pki_signer_free(subject);
    return 0;
}

static int bench_crl(long entries)
{
    if (entries <= 0)
        die("crl: ENTRIES must be positive");
    ca_ctx c;
    make_ca(&c, PKI_KEY_EC_P256);
    size_t n = (size_t)entries;
    pki_crl_entry *e = calloc(n, sizeof *e);
    uint8_t *serials = malloc(n * PKI_SERIAL_RANDOM_LEN);
    if (!e || !serials)
        die("out of memory");
    int64_t now = pki_now();
    for (size_t i = 0; i < n; i++) {
        uint8_t *s = serials + i * PKI_SERIAL_RANDOM_LEN;
        if (pki_serial_random(s))
            die("rng");
        e[i] = (pki_crl_entry){s, PKI_SERIAL_RANDOM_LEN, now - (int64_t)(i % 100000),
                               i % 4 == 0 ? PKI_REASON_KEY_COMPROMISE : PKI_REASON_NONE, 0};
    }
    pki_crl_template t = {0};
    t.this_update = now;
    t.next_update = now + 7 * 86400;
    t.crl_number = 1;
    t.entries = e;
    t.count = n;
    char err[200];
    uint8_t *der;
    size_t len;
    double t0 = now_s();
    if (pki_crl_build_sync(&t, &c.issuer, c.ca, &der, &len, err, sizeof err))
        die(err);
    double dt = now_s() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("seconds=%.3f peak_rss_kib=%ld der_bytes=%zu\n", dt, ru.ru_maxrss, len);
    free(der);
    free(e);
    free(serials);
    pki_issuer_free(&c.issuer);
    pki_signer_free(c.ca);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "sign"))
        return bench_sign(argv[2], atof(argv[3]));
    if (argc == 3 && !strcmp(argv[1], "crl"))
        return bench_crl(atol(argv[2]));
    die("usage: pki_bench sign p256|rsa2048 SECONDS | pki_bench crl ENTRIES");
    return 1;
}
