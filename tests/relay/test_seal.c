/* lib/seal: AES-256-GCM round trip, tamper/aad/key checks, master key loading rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "seal/seal.h"

static char g_dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/test_seal.XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    chmod(path, mode);
}

static void test_round_trip_and_tamper(void **state)
{
    (void)state;
    uint8_t kb[SEAL_KEY_LEN];
    memset(kb, 7, sizeof kb);
    seal_key *k = seal_key_from_bytes(kb);
    const char *secret = "-----BEGIN PRIVATE KEY-----...";
    uint8_t *blob, *pt;
    size_t blen, plen;
    assert_int_equal(seal_encrypt(k, (const uint8_t *)secret, strlen(secret),
                                  (const uint8_t *)"ca:1", 4, &blob, &blen),
                     0);
    assert_int_equal(blen, strlen(secret) + SEAL_OVERHEAD);
    assert_null(memmem(blob, blen, "PRIVATE", 7)); /* not in clear */
    assert_int_equal(seal_decrypt(k, blob, blen, (const uint8_t *)"ca:1", 4, &pt, &plen), 0);
    assert_int_equal(plen, strlen(secret));
    assert_memory_equal(pt, secret, plen);
    seal_wipe_free(pt, plen);
    /* Another record's associated data does not open it. */
    assert_int_equal(seal_decrypt(k, blob, blen, (const uint8_t *)"ca:2", 4, &pt, &plen), -1);
    /* Any flipped bit fails authentication. */
    for (size_t i = 0; i < blen; i++) {
        blob[i] ^= 0x01;
        assert_int_equal(seal_decrypt(k, blob, blen, (const uint8_t *)"ca:1", 4, &pt, &plen), -1);
        blob[i] ^= 0x01;
    }
    assert_int_equal(seal_decrypt(k, blob, blen - 1, (const uint8_t *)"ca:1", 4, &pt, &plen), -1);
    assert_int_equal(seal_decrypt(k, blob, 5, NULL, 0, &pt, &plen), -1);
    /* Another key does not open it. */
    kb[0] ^= 1;
    seal_key *k2 = seal_key_from_bytes(kb);
    assert_int_equal(seal_decrypt(k2, blob, blen, (const uint8_t *)"ca:1", 4, &pt, &plen), -1);
    /* Two seals of the same data differ (fresh nonce). */
    uint8_t *blob2;
    size_t blen2;
    assert_int_equal(seal_encrypt(k, (const uint8_t *)secret, strlen(secret),
                                  (const uint8_t *)"ca:1", 4, &blob2, &blen2),
                     0);
    assert_memory_not_equal(blob, blob2, blen);
    free(blob);
    free(blob2);
    /* Empty plaintext works. */
    assert_int_equal(seal_encrypt(k, NULL, 0, NULL, 0, &blob, &blen), 0);
    assert_int_equal(seal_decrypt(k, blob, blen, NULL, 0, &pt, &plen), 0);
    assert_int_equal(plen, 0);
    free(pt);
    free(blob);
    seal_key_free(k);
    seal_key_free(k2);
}

static void test_key_file_created_0600_and_reloaded(void **state)
{
    (void)state;
    char path[300], err[256];
    snprintf(path, sizeof path, "%s/master.key", g_dir);
    unsetenv("CREDENTIALS_DIRECTORY");
    seal_key *k = seal_key_load("pki-relay-master", path, err, sizeof err);
    assert_non_null(k);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, SEAL_KEY_LEN);
    uint8_t *blob, *pt;
    size_t blen, plen;
    assert_int_equal(seal_encrypt(k, (const uint8_t *)"x", 1, NULL, 0, &blob, &blen), 0);
    seal_key_free(k);
    /* The same file gives the same key on the next start. */
    k = seal_key_load("pki-relay-master", path, err, sizeof err);
    assert_non_null(k);
    assert_int_equal(seal_decrypt(k, blob, blen, NULL, 0, &pt, &plen), 0);
    free(pt);
    free(blob);
    seal_key_free(k);
    /* Group- or world-readable: refused with a message naming the file. */
    chmod(path, 0640);
    assert_null(seal_key_load("pki-relay-master", path, err, sizeof err));
    assert_non_null(strstr(err, "group or others"));
    chmod(path, 0604);
    assert_null(seal_key_load("pki-relay-master", path, err, sizeof err));
    chmod(path, 0600);
    /* A file of the wrong size is refused. */
    write_file(path, "short", 5, 0600);
    assert_null(seal_key_load("pki-relay-master", path, err, sizeof err));
    assert_non_null(strstr(err, "32 bytes"));
}

static void test_credential_takes_precedence(void **state)
{
    (void)state;
    char cred[300], file[300], err[256];
    snprintf(cred, sizeof cred, "%s/creds", g_dir);
    mkdir(cred, 0700);
    char credfile[400];
    snprintf(credfile, sizeof credfile, "%s/pki-relay-master", cred);
    const char *hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
    write_file(credfile, hex, strlen(hex), 0400);
    snprintf(file, sizeof file, "%s/unused.key", g_dir);
    setenv("CREDENTIALS_DIRECTORY", cred, 1);
    seal_key *k = seal_key_load("pki-relay-master", file, err, sizeof err);
    assert_non_null(k);
    assert_int_equal(access(file, F_OK), -1); /* the fallback file was not created */
    uint8_t raw[SEAL_KEY_LEN];
    for (int i = 0; i < SEAL_KEY_LEN; i++)
        raw[i] = (uint8_t)i;
    seal_key *same = seal_key_from_bytes(raw);
    uint8_t *blob, *pt;
    size_t blen, plen;
    assert_int_equal(seal_encrypt(k, (const uint8_t *)"abc", 3, NULL, 0, &blob, &blen), 0);
    assert_int_equal(seal_decrypt(same, blob, blen, NULL, 0, &pt, &plen), 0);
    free(pt);
    free(blob);
    seal_key_free(k);
    seal_key_free(same);
    /* A malformed credential is an error, not a silent fallback to the file. */
    write_file(credfile, "zz", 2, 0600);
    assert_null(seal_key_load("pki-relay-master", file, err, sizeof err));
    assert_int_equal(access(file, F_OK), -1);
    /* A credential that is absent falls back to the file. */
    k = seal_key_load("other-name", file, err, sizeof err);
    assert_non_null(k);
    assert_int_equal(access(file, F_OK), 0);
    seal_key_free(k);
    unsetenv("CREDENTIALS_DIRECTORY");
    assert_null(seal_key_load("x", NULL, err, sizeof err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_tamper),
        cmocka_unit_test(test_key_file_created_0600_and_reloaded),
        cmocka_unit_test(test_credential_takes_precedence),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
