/* The software signer and key generation: every key type signs with every algorithm that fits
 * it, the signature verifies against the signer's SubjectPublicKeyInfo and fails on a changed
 * message; keys survive a PKCS#8 (plain and encrypted) round trip; the blocking wrapper copes
 * with signers that complete later or never. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "keys/keys.h"
#include "signer/signer.h"
#include "signer/soft_signer.h"

static const pki_sig_alg ALL_ALGS[] = {
    PKI_SIG_RSA_PKCS1_SHA256, PKI_SIG_RSA_PKCS1_SHA384, PKI_SIG_RSA_PKCS1_SHA512,
    PKI_SIG_RSA_PSS_SHA256,   PKI_SIG_RSA_PSS_SHA384,   PKI_SIG_RSA_PSS_SHA512,
    PKI_SIG_ECDSA_SHA256,     PKI_SIG_ECDSA_SHA384,     PKI_SIG_ECDSA_SHA512,
    PKI_SIG_ED25519,
};
#define NALGS (sizeof ALL_ALGS / sizeof ALL_ALGS[0])

static void sign_and_verify_all(pki_signer *s)
{
    static const uint8_t tbs[] = "to be signed: a certificate, a CRL, an OCSP response";
    for (size_t i = 0; i < NALGS; i++) {
        uint8_t *sig = NULL;
        size_t sig_len = 0;
        int rc = pki_signer_sign_sync(s, ALL_ALGS[i], tbs, sizeof tbs, 1000, &sig, &sig_len);
        if (!pki_sig_alg_fits_key(ALL_ALGS[i], s->key_type)) {
            assert_int_equal(rc, PKI_SIGN_ERR_BAD_ALG);
            assert_null(sig);
            continue;
        }
        assert_int_equal(rc, PKI_SIGN_OK);
        assert_non_null(sig);
        if (s->key_type == PKI_KEY_ED25519)
            assert_int_equal(sig_len, 64);
        else if (s->key_type == PKI_KEY_RSA)
            assert_int_equal(sig_len, s->rsa_bits / 8);
        else
            assert_int_equal(sig[0], 0x30); /* DER Ecdsa-Sig-Value */
        assert_int_equal(
            pki_spki_verify(s->spki, s->spki_len, ALL_ALGS[i], tbs, sizeof tbs, sig, sig_len),
            PKI_SIGN_OK);
        uint8_t changed[sizeof tbs];
        memcpy(changed, tbs, sizeof tbs);
        changed[3] ^= 1;
        assert_int_equal(pki_spki_verify(s->spki, s->spki_len, ALL_ALGS[i], changed, sizeof changed,
                                         sig, sig_len),
                         PKI_SIGN_ERR_BAD_SIGNATURE);
        sig[sig_len / 2] ^= 0x10;
        assert_int_equal(
            pki_spki_verify(s->spki, s->spki_len, ALL_ALGS[i], tbs, sizeof tbs, sig, sig_len),
            PKI_SIGN_ERR_BAD_SIGNATURE);
        free(sig);
    }
}

static void test_every_key_type_signs_every_fitting_alg(void **state)
{
    (void)state;
    static const pki_key_type types[] = {PKI_KEY_RSA, PKI_KEY_EC_P256, PKI_KEY_EC_P384,
                                         PKI_KEY_EC_P521, PKI_KEY_ED25519};
    static const pki_sig_alg defaults[] = {PKI_SIG_RSA_PKCS1_SHA256, PKI_SIG_ECDSA_SHA256,
                                           PKI_SIG_ECDSA_SHA384, PKI_SIG_ECDSA_SHA512,
                                           PKI_SIG_ED25519};
    for (size_t t = 0; t < 5; t++) {
        pki_signer *s = pki_soft_signer_generate(types[t], 2048);
        assert_non_null(s);
        assert_int_equal(s->key_type, types[t]);
        assert_int_equal(s->default_alg, defaults[t]);
        assert_int_equal(s->rsa_bits, types[t] == PKI_KEY_RSA ? 2048 : 0);
        pki_key_type back;
        unsigned bits;
        assert_int_equal(pki_spki_info(s->spki, s->spki_len, &back, &bits, NULL, 0), 0);
        assert_int_equal(back, types[t]);
        sign_and_verify_all(s);
        pki_signer_free(s);
    }
}

/* An EC public key whose point is moved off its curve (one coordinate octet changed) is
 * refused, for every curve: the check the relay and agent rely on before they verify with a key
 * that came from outside (CSRs, slot offers, appliance answers). */
static void test_point_off_the_curve_is_refused(void **state)
{
    (void)state;
    static const pki_key_type types[] = {PKI_KEY_EC_P256, PKI_KEY_EC_P384, PKI_KEY_EC_P521};
    static const uint8_t tbs[] = "signed";
    for (size_t t = 0; t < 3; t++) {
        pki_signer *s = pki_soft_signer_generate(types[t], 0);
        assert_non_null(s);
        uint8_t *sig = NULL;
        size_t sig_len = 0;
        assert_int_equal(
            pki_signer_sign_sync(s, s->default_alg, tbs, sizeof tbs, 1000, &sig, &sig_len),
            PKI_SIGN_OK);
        uint8_t *bad = malloc(s->spki_len);
        assert_non_null(bad);
        memcpy(bad, s->spki, s->spki_len);
        bad[s->spki_len - 1] ^= 0x01; /* last octet of y */
        pki_key_type back;
        unsigned bits;
        char err[128] = "";
        assert_int_equal(pki_spki_info(bad, s->spki_len, &back, &bits, err, sizeof err), -1);
        assert_non_null(strstr(err, "EC public key"));
        assert_int_equal(
            pki_spki_verify(bad, s->spki_len, s->default_alg, tbs, sizeof tbs, sig, sig_len),
            PKI_SIGN_ERR_BAD_SIGNATURE);
        assert_int_equal(
            pki_spki_verify(s->spki, s->spki_len, s->default_alg, tbs, sizeof tbs, sig, sig_len),
            PKI_SIGN_OK);
        free(bad);
        free(sig);
        pki_signer_free(s);
    }
}

static void test_rsa_sizes(void **state)
{
    (void)state;
    for (unsigned bits = 3072; bits <= 4096; bits += 1024) {
        pki_signer *s = pki_soft_signer_generate(PKI_KEY_RSA, bits);
        assert_non_null(s);
        assert_int_equal(s->rsa_bits, bits);
        sign_and_verify_all(s);
        pki_signer_free(s);
    }
    char err[128];
    assert_null(pki_key_generate(PKI_KEY_RSA, 1024, err, sizeof err));
    assert_non_null(strstr(err, "1024"));
}

static void test_ecdsa_is_randomised_ed25519_deterministic(void **state)
{
    (void)state;
    const uint8_t m[] = "same message";
    uint8_t *a, *b;
    size_t al, bl;
    pki_signer *e = pki_soft_signer_generate(PKI_KEY_EC_P256, 0);
    assert_int_equal(pki_signer_sign_sync(e, e->default_alg, m, sizeof m, 0, &a, &al), 0);
    assert_int_equal(pki_signer_sign_sync(e, e->default_alg, m, sizeof m, 0, &b, &bl), 0);
    assert_false(al == bl && memcmp(a, b, al) == 0);
    free(a);
    free(b);
    pki_signer_free(e);
    pki_signer *d = pki_soft_signer_generate(PKI_KEY_ED25519, 0);
    assert_int_equal(pki_signer_sign_sync(d, d->default_alg, m, sizeof m, 0, &a, &al), 0);
    assert_int_equal(pki_signer_sign_sync(d, d->default_alg, m, sizeof m, 0, &b, &bl), 0);
    assert_memory_equal(a, b, 64);
    free(a);
    free(b);
    pki_signer_free(d);
}

static void round_trip(pki_signer *s, const char *password)
{
    char err[160] = "";
    pki_signer *back = NULL;
    if (password) {
        char *pem;
        size_t len;
        assert_int_equal(pki_soft_signer_export_encrypted_pem(s, password, &pem, &len), 0);
        assert_non_null(strstr(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));
        assert_null(pki_soft_signer_from_pem(pem, len, "wrong", err, sizeof err));
        assert_string_equal(err, "encrypted key: wrong password");
        assert_null(pki_soft_signer_from_pem(pem, len, NULL, err, sizeof err));
        assert_string_equal(err, "encrypted key: password required");
        back = pki_soft_signer_from_pem(pem, len, password, err, sizeof err);
        pki_secret_free(pem, len);
    } else {
        uint8_t *der;
        size_t len;
        assert_int_equal(pki_soft_signer_export_pkcs8_der(s, &der, &len), 0);
        back = pki_soft_signer_from_der(der, len, NULL, err, sizeof err);
        pki_secret_free(der, len);
        char *pem;
        assert_int_equal(pki_soft_signer_export_pkcs8_pem(s, &pem, &len), 0);
        assert_int_equal(strncmp(pem, "-----BEGIN PRIVATE KEY-----\n", 28), 0);
        pki_signer *again = pki_soft_signer_from_pem(pem, len, NULL, err, sizeof err);
        assert_non_null(again);
        assert_memory_equal(again->spki, s->spki, s->spki_len);
        pki_signer_free(again);
        pki_secret_free(pem, len);
    }
    if (!back)
        fail_msg("import failed: %s", err);
    assert_int_equal(back->key_type, s->key_type);
    assert_int_equal(back->spki_len, s->spki_len);
    assert_memory_equal(back->spki, s->spki, s->spki_len);
    /* The imported key signs, and the signature verifies with the original public key. */
    uint8_t *sig;
    size_t sig_len;
    const uint8_t m[] = "after import";
    assert_int_equal(pki_signer_sign_sync(back, back->default_alg, m, sizeof m, 0, &sig, &sig_len),
                     0);
    assert_int_equal(
        pki_spki_verify(s->spki, s->spki_len, back->default_alg, m, sizeof m, sig, sig_len), 0);
    free(sig);
    pki_signer_free(back);
}

static void test_pkcs8_round_trip_every_type(void **state)
{
    (void)state;
    for (int t = PKI_KEY_RSA; t <= PKI_KEY_ED25519; t++) {
        pki_signer *s = pki_soft_signer_generate((pki_key_type)t, 2048);
        assert_non_null(s);
        round_trip(s, NULL);
        round_trip(s, "correct horse battery staple");
        pki_signer_free(s);
    }
}

static void test_import_errors_say_what_is_wrong(void **state)
{
    (void)state;
    char err[160];
    const char junk[] = "hello";
    assert_null(pki_soft_signer_from_pem(junk, sizeof junk - 1, NULL, err, sizeof err));
    assert_non_null(strstr(err, "not a private key"));
    pki_signer *s = pki_soft_signer_generate(PKI_KEY_EC_P256, 0);
    /* A public key is not a private key. */
    assert_null(pki_soft_signer_from_der(s->spki, s->spki_len, NULL, err, sizeof err));
    assert_string_equal(err, "not a private key (this is a public key)");
    char *pem;
    size_t len;
    assert_int_equal(pki_pem_encode("PUBLIC KEY", s->spki, s->spki_len, &pem, &len), 0);
    assert_null(pki_soft_signer_from_pem(pem, len, NULL, err, sizeof err));
    assert_string_equal(err, "not a private key (PEM PUBLIC KEY)");
    free(pem);
    /* A truncated key changes nothing and says so. */
    uint8_t *der;
    assert_int_equal(pki_soft_signer_export_pkcs8_der(s, &der, &len), 0);
    assert_null(pki_soft_signer_from_der(der, len - 1, NULL, err, sizeof err));
    assert_non_null(strstr(err, "not a private key"));
    pki_secret_free(der, len);
    pki_signer_free(s);
}

/* A wrong password sometimes "decrypts" an encrypted PKCS#8 key: the CBC padding comes out
 * valid by chance, about once in 256 tries, into bytes that are no key. Whatever the key parser
 * makes of them, the user must read "wrong password". The key is openssl's (`pkcs8 -topk8 -v2
 * aes-256-cbc -iter 1`, password "right"), one PBKDF2 iteration so that thousands of wrong
 * passwords take a moment; a handful of them land on valid padding. */
static void test_every_wrong_password_says_so(void **state)
{
    (void)state;
    static const char pem[] = "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
                              "MIHrMFYGCSqGSIb3DQEFDTBJMCgGCSqGSIb3DQEFDDAbBAiJ8+7nHL0iGQIBATAM\n"
                              "BggqhkiG9w0CCQUAMB0GCWCGSAFlAwQBKgQQ+kOS++TT+3zECyAHMe+uygSBkBOb\n"
                              "5rZUwJxi9Z7qCD98uPdxZfTQc62eI8D7NFMnqI3HamAhJAWUcEwwlu0ByZJRipc9\n"
                              "i7dwRmBvPDV+YOSIUNceXTLsLf/ajxia8ZVcx0wr8g70d8SkIeSSbIltWiKmyn06\n"
                              "t09OTmB7NjXs8hf685okwgY/LOk5QrI4cJAu6ngfJD8srHlVaPvb3dDvD6d6cA==\n"
                              "-----END ENCRYPTED PRIVATE KEY-----\n";
    char err[160], password[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(password, sizeof password, "wrong-%d", i);
        err[0] = '\0';
        assert_null(pki_soft_signer_from_pem(pem, sizeof pem - 1, password, err, sizeof err));
        assert_string_equal(err, "encrypted key: wrong password");
    }
    pki_signer *s = pki_soft_signer_from_pem(pem, sizeof pem - 1, "right", err, sizeof err);
    assert_non_null(s);
    pki_signer_free(s);
}

static void test_alg_ids_and_names(void **state)
{
    (void)state;
    /* BR 7.1.3.2.1: the exact bytes for RSASSA-PSS with SHA-256. */
    static const uint8_t pss256[] = {
        0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30,
        0x34, 0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,
        0x02, 0x01, 0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
        0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
        0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0xa2, 0x03, 0x02, 0x01, 0x20};
    uint8_t buf[128];
    assert_int_equal(pki_sig_alg_der(PKI_SIG_RSA_PSS_SHA256, buf, sizeof buf), sizeof pss256);
    assert_memory_equal(buf, pss256, sizeof pss256);
    assert_int_equal(pki_sig_alg_der(PKI_SIG_RSA_PSS_SHA256, buf, 10), -1);
    for (size_t i = 0; i < NALGS; i++) {
        int n = pki_sig_alg_der(ALL_ALGS[i], buf, sizeof buf);
        assert_true(n > 0);
        pki_sig_alg back;
        assert_int_equal(pki_sig_alg_from_der(buf, (size_t)n, &back), 0);
        assert_int_equal(back, ALL_ALGS[i]);
        assert_int_equal(pki_sig_alg_from_name(pki_sig_alg_name(ALL_ALGS[i]), &back), 0);
        assert_int_equal(back, ALL_ALGS[i]);
    }
    pki_sig_alg a;
    assert_int_equal(pki_sig_alg_from_name("ECDSA-WITH-sha384", &a), 0);
    assert_int_equal(a, PKI_SIG_ECDSA_SHA384);
    assert_int_equal(pki_sig_alg_from_name("md5WithRSAEncryption", &a), -1);
    pki_key_type t;
    assert_int_equal(pki_key_type_from_name("ec-p521", &t), 0);
    assert_int_equal(t, PKI_KEY_EC_P521);
    assert_string_equal(pki_key_type_name(PKI_KEY_ED25519), "ed25519");
    assert_int_equal(pki_key_type_from_name("dsa", &t), -1);
}

/* An asynchronous signer that answers from another thread after delay_ms (or never). */
struct late {
    pki_signer base;
    unsigned delay_ms;
    pki_sign_done_fn done;
    void *ctx;
};

static void *late_thread(void *arg)
{
    struct late *l = arg;
    usleep(l->delay_ms * 1000);
    static const uint8_t sig[] = {1, 2, 3};
    l->done(l->ctx, PKI_SIGN_OK, sig, sizeof sig);
    return NULL;
}

static pthread_t late_tid;

static int late_sign(pki_signer *s, pki_sig_alg alg, const uint8_t *tbs, size_t tbs_len,
                     pki_sign_done_fn done, void *ctx)
{
    (void)alg;
    (void)tbs;
    (void)tbs_len;
    struct late *l = (struct late *)s;
    l->done = done;
    l->ctx = ctx;
    return pthread_create(&late_tid, NULL, late_thread, l) == 0 ? 0 : PKI_SIGN_ERR_INTERNAL;
}

static const struct pki_signer_ops LATE_OPS = {.sign = late_sign};

static void test_sync_wrapper_waits_and_times_out(void **state)
{
    (void)state;
    struct late l = {.base = {.ops = &LATE_OPS, .key_type = PKI_KEY_EC_P256}, .delay_ms = 50};
    uint8_t *sig;
    size_t len;
    assert_int_equal(pki_signer_sign_sync(&l.base, PKI_SIG_ECDSA_SHA256, (const uint8_t *)"x", 1,
                                          2000, &sig, &len),
                     PKI_SIGN_OK);
    pthread_join(late_tid, NULL);
    assert_int_equal(len, 3);
    assert_int_equal(sig[2], 3);
    free(sig);
    /* Too slow: the caller gets a timeout, the late completion is discarded safely. */
    l.delay_ms = 300;
    assert_int_equal(pki_signer_sign_sync(&l.base, PKI_SIG_ECDSA_SHA256, (const uint8_t *)"x", 1,
                                          50, &sig, &len),
                     PKI_SIGN_ERR_TIMEOUT);
    assert_null(sig);
    pthread_join(late_tid, NULL);
    /* Wrong algorithm for the key: refused before the signer is asked. */
    assert_int_equal(
        pki_signer_sign_sync(&l.base, PKI_SIG_ED25519, (const uint8_t *)"x", 1, 50, &sig, &len),
        PKI_SIGN_ERR_BAD_ALG);
}

struct hammer {
    pki_signer *s;
    int failures;
};

static void *hammer_thread(void *arg)
{
    struct hammer *h = arg;
    uint8_t msg[32];
    for (int i = 0; i < 40; i++) {
        memset(msg, i, sizeof msg);
        uint8_t *sig;
        size_t len;
        if (pki_signer_sign_sync(h->s, h->s->default_alg, msg, sizeof msg, 0, &sig, &len) != 0 ||
            pki_spki_verify(h->s->spki, h->s->spki_len, h->s->default_alg, msg, sizeof msg, sig,
                            len) != 0)
            h->failures++;
        free(sig);
    }
    /* no pki_crypto_thread_exit(): the ECDSA point cache is freed by the thread destructor */
    return NULL;
}

/* One signer shared by worker threads (the relay's pool does this): every signature valid. */
static void test_concurrent_signing(void **state)
{
    (void)state;
    static const pki_key_type types[] = {PKI_KEY_RSA, PKI_KEY_EC_P384, PKI_KEY_ED25519};
    for (size_t t = 0; t < 3; t++) {
        pki_signer *s = pki_soft_signer_generate(types[t], 2048);
        assert_non_null(s);
        pthread_t th[4];
        struct hammer h[4];
        for (int i = 0; i < 4; i++) {
            h[i] = (struct hammer){.s = s};
            assert_int_equal(pthread_create(&th[i], NULL, hammer_thread, &h[i]), 0);
        }
        for (int i = 0; i < 4; i++) {
            pthread_join(th[i], NULL);
            assert_int_equal(h[i].failures, 0);
        }
        pki_signer_free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_key_type_signs_every_fitting_alg),
        cmocka_unit_test(test_point_off_the_curve_is_refused),
        cmocka_unit_test(test_rsa_sizes),
        cmocka_unit_test(test_ecdsa_is_randomised_ed25519_deterministic),
        cmocka_unit_test(test_pkcs8_round_trip_every_type),
        cmocka_unit_test(test_import_errors_say_what_is_wrong),
        cmocka_unit_test(test_every_wrong_password_says_so),
        cmocka_unit_test(test_alg_ids_and_names),
        cmocka_unit_test(test_sync_wrapper_waits_and_times_out),
        cmocka_unit_test(test_concurrent_signing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
