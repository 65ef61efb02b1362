/* Baseline for scripts/bench/link.sh: the same ECDSA P-256 signature made directly on a
 * (virtual) YubiKey with libykpiv, as the agent's worker makes it (SHA-256 here, sign on the
 * card), without the link. Usage: yk-direct-sign READER SLOT(hex) COUNT; prints one duration
 * in microseconds per line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <ykpiv/ykpiv.h>

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: yk-direct-sign READER SLOT COUNT\n");
        return 2;
    }
    ykpiv_state *yk;
    if (ykpiv_init(&yk, 0) != YKPIV_OK || ykpiv_connect(yk, argv[1]) != YKPIV_OK) {
        fprintf(stderr, "cannot connect to %s\n", argv[1]);
        return 1;
    }
    unsigned char key = (unsigned char)strtoul(argv[2], NULL, 16);
    int n = atoi(argv[3]);
    unsigned char tbs[600];
    memset(tbs, 0x5a, sizeof tbs); /* about the size of a small CRL's TBS */
    for (int i = 0; i < n; i++) {
        double t0 = now_us();
        unsigned char h[WC_SHA256_DIGEST_SIZE], sig[256];
        size_t sig_len = sizeof sig;
        tbs[0] = (unsigned char)i;
        if (wc_Sha256Hash(tbs, sizeof tbs, h) != 0 ||
            ykpiv_sign_data(yk, h, sizeof h, sig, &sig_len, YKPIV_ALGO_ECCP256, key) != YKPIV_OK) {
            fprintf(stderr, "signature %d failed\n", i);
            return 1;
        }
        printf("%.0f\n", now_us() - t0);
    }
    ykpiv_done(yk);
    return 0;
}
