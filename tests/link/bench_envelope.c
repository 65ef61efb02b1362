/* Measuring tool for the link envelope (not a test): times link_seal and link_open, their
 * stages (encode, sign, encrypt, decrypt, verify, check) and the wolfCrypt P-256 primitives
 * under them, so the cost of one relay -> agent -> relay round trip can be taken apart.
 *     bench-envelope [N]        (default 2000) prints one line per stage: median and mean in us
 * A replay cache in memory is used, as the daemons use one on disk (measured separately). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "link/link.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *t, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += t[i];
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    printf("%-28s median %8.1f us  mean %8.1f us\n", what, t[n / 2], sum / n);
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench-envelope: %s failed (%d)\n", what, rc);
    exit(1);
}

/* The primitives the envelope is made of, straight from wolfCrypt. */
static void primitives(int n, double *t)
{
    WC_RNG rng;
    ecc_key a, b, eph;
    if (wc_InitRng(&rng) || wc_ecc_init(&a) || wc_ecc_init(&b) || wc_ecc_make_key(&rng, 32, &a) ||
        wc_ecc_make_key(&rng, 32, &b))
        die("key generation", -1);
    wc_ecc_set_rng(&a, &rng);
    uint8_t h[32] = {1}, sig[80], sec[32];
    word32 sig_len, sec_len;
    int ok;
    for (int i = 0; i < n; i++) {
        double t0 = now_us();
        if (wc_ecc_init(&eph) || wc_ecc_make_key(&rng, 32, &eph))
            die("make_key", -1);
        t[i] = now_us() - t0;
        wc_ecc_free(&eph);
    }
    report("wc_ecc_make_key", t, n);
    for (int i = 0; i < n; i++) {
        sig_len = sizeof sig;
        double t0 = now_us();
        if (wc_ecc_sign_hash(h, sizeof h, sig, &sig_len, &rng, &a))
            die("sign", -1);
        t[i] = now_us() - t0;
    }
    report("wc_ecc_sign_hash", t, n);
    for (int i = 0; i < n; i++) {
        double t0 = now_us();
        if (wc_ecc_verify_hash(sig, sig_len, h, sizeof h, &ok, &a) || !ok)
            die("verify", -1);
        t[i] = now_us() - t0;
    }
    report("wc_ecc_verify_hash", t, n);
    for (int i = 0; i < n; i++) {
        sec_len = sizeof sec;
        double t0 = now_us();
        if (wc_ecc_shared_secret(&a, &b, sec, &sec_len))
            die("shared_secret", -1);
        t[i] = now_us() - t0;
    }
    report("wc_ecc_shared_secret", t, n);
    for (int i = 0; i < n; i++) {
        double t0 = now_us();
        if (wc_ecc_check_key(&b))
            die("check_key", -1);
        t[i] = now_us() - t0;
    }
    report("wc_ecc_check_key", t, n);
    wc_ecc_free(&a);
    wc_ecc_free(&b);
    wc_FreeRng(&rng);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    if (n < 1)
        n = 1;
    char err[256];
    link_identity *relay = link_identity_generate("relay:bench", err, sizeof err);
    link_identity *device = link_identity_generate("device:bench", err, sizeof err);
    link_replay *replay = link_replay_open(":memory:", err, sizeof err);
    if (!relay || !device || !replay) {
        fprintf(stderr, "bench-envelope: %s\n", err);
        return 1;
    }
    size_t rc_len, dc_len;
    const uint8_t *rcert = link_identity_cert(relay, &rc_len);
    const uint8_t *dcert = link_identity_cert(device, &dc_len);
    uint8_t tbs[400];
    memset(tbs, 0x5a, sizeof tbs);
    link_sign_req req = {.alg = PKI_SIG_ECDSA_SHA256, .tbs = tbs, .tbs_len = sizeof tbs};
    uint8_t *body;
    size_t body_len;
    if (link_sign_req_encode(&req, &body, &body_len))
        die("encode", -1);

    double *t = calloc((size_t)n, sizeof *t), *tu = calloc((size_t)n, sizeof *tu),
           *tv = calloc((size_t)n, sizeof *tv), *tc = calloc((size_t)n, sizeof *tc);
    if (!t || !tu || !tv || !tc)
        die("out of memory", -1);
    primitives(n < 500 ? n : 500, t);

    uint8_t **envs = calloc((size_t)n, sizeof *envs);
    size_t *env_lens = calloc((size_t)n, sizeof *env_lens);
    if (!envs || !env_lens)
        die("out of memory", -1);
    for (int i = 0; i < n; i++) {
        link_msg m;
        link_msg_init(&m, LINK_MSG_SIGN_REQ, "relay:bench", "device:bench", 60);
        m.body = body;
        m.body_len = body_len;
        double t0 = now_us();
        int rc = link_seal(relay, dcert, dc_len, &m, &envs[i], &env_lens[i]);
        t[i] = now_us() - t0;
        if (rc)
            die("link_seal", rc);
    }
    report("link_seal", t, n);

    /* link_open, and its stages on the same envelopes. */
    for (int i = 0; i < n; i++) {
        link_msg m;
        uint8_t *content, *sd;
        size_t content_len, sd_len;
        double t0 = now_us();
        int rc = link_unwrap(device, envs[i], env_lens[i], &sd, &sd_len);
        double t1 = now_us();
        if (rc)
            die("link_unwrap", rc);
        rc = link_verify(sd, sd_len, rcert, rc_len, &m, &content, &content_len);
        double t2 = now_us();
        if (rc)
            die("link_verify", rc);
        rc = link_check(&m, "device:bench", "relay:bench", replay, m.issued);
        double t3 = now_us();
        if (rc)
            die("link_check", rc);
        tu[i] = t1 - t0;
        tv[i] = t2 - t1;
        tc[i] = t3 - t2;
        t[i] = t3 - t0;
        free(sd);
        free(content);
    }
    report("link_open (staged)", t, n);
    report("  link_unwrap", tu, n);
    report("  link_verify", tv, n);
    report("  link_check (replay)", tc, n);

    /* link_open in one call, replay cache off (the ids above are remembered). */
    for (int i = 0; i < n; i++) {
        link_msg m;
        uint8_t *content;
        size_t content_len;
        double t0 = now_us();
        int rc = link_open(device, rcert, rc_len, "relay:bench", NULL, envs[i], env_lens[i], &m,
                           &content, &content_len);
        t[i] = now_us() - t0;
        if (rc)
            die("link_open", rc);
        free(content);
        free(envs[i]);
    }
    report("link_open (no replay)", t, n);
    printf("envelope size %zu octets\n", env_lens[0]);

    free(envs);
    free(env_lens);
    free(t);
    free(tu);
    free(tv);
    free(tc);
    free(body);
    link_replay_close(replay);
    link_identity_free(relay);
    link_identity_free(device);
    return 0;
}
