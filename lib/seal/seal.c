/* AES-256-GCM sealing (wolfCrypt) and master key loading. */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/aes.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seal/seal.h"

#define VERSION 1
#define NONCE_LEN 12
#define TAG_LEN 16

struct seal_key {
    uint8_t key[SEAL_KEY_LEN];
};

static void wipe(void *p, size_t len)
{
    volatile uint8_t *v = p;
    while (len--)
        *v++ = 0;
}

void seal_wipe_free(void *p, size_t len)
{
    if (!p)
        return;
    wipe(p, len);
    free(p);
}

seal_key *seal_key_from_bytes(const uint8_t key[SEAL_KEY_LEN])
{
    seal_key *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    /* Best effort: an unprivileged process may have a small RLIMIT_MEMLOCK. */
    (void)mlock(k, sizeof *k);
    memcpy(k->key, key, SEAL_KEY_LEN);
    return k;
}

void seal_key_free(seal_key *k)
{
    if (!k)
        return;
    wipe(k->key, sizeof k->key);
    munlock(k, sizeof *k);
    free(k);
}

static int random_bytes(uint8_t *p, size_t len)
{
    while (len) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* 32 raw bytes, or 64 hex digits with an optional trailing newline. */
static int parse_key(const uint8_t *buf, size_t n, uint8_t key[SEAL_KEY_LEN])
{
    if (n == SEAL_KEY_LEN) {
        memcpy(key, buf, SEAL_KEY_LEN);
        return 0;
    }
    if (n == 65 && buf[64] == '\n')
        n = 64;
    if (n != 64)
        return -1;
    for (size_t i = 0; i < SEAL_KEY_LEN; i++) {
        int hi = hexval((char)buf[2 * i]), lo = hexval((char)buf[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        key[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static seal_key *read_key_fd(int fd, const char *path, char *err, size_t errlen)
{
    uint8_t buf[80];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof buf - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == sizeof buf)
            break;
    }
    uint8_t key[SEAL_KEY_LEN];
    seal_key *k = NULL;
    if (parse_key(buf, n, key) == 0)
        k = seal_key_from_bytes(key);
    else
        snprintf(err, errlen, "%s: a master key must be 32 bytes or 64 hex digits", path);
    wipe(key, sizeof key);
    wipe(buf, sizeof buf);
    return k;
}

static seal_key *load_credential(const char *dir, const char *name, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    seal_key *k = read_key_fd(fd, path, err, errlen);
    close(fd);
    if (!k && !err[0])
        snprintf(err, errlen, "%s: unreadable", path);
    return k;
}

static seal_key *create_file(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        return NULL;
    }
    uint8_t key[SEAL_KEY_LEN];
    seal_key *k = NULL;
    if (random_bytes(key, sizeof key) == 0 && write(fd, key, sizeof key) == (ssize_t)sizeof key &&
        fsync(fd) == 0)
        k = seal_key_from_bytes(key);
    else
        snprintf(err, errlen, "%s: cannot write a new master key: %s", path, strerror(errno));
    wipe(key, sizeof key);
    close(fd);
    if (!k)
        unlink(path);
    return k;
}

seal_key *seal_key_load(const char *credential, const char *file_path, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    const char *dir = getenv("CREDENTIALS_DIRECTORY");
    if (dir && *dir && credential && *credential) {
        seal_key *k = load_credential(dir, credential, err, errlen);
        if (k || err[0])
            return k;
    }
    if (!file_path || !*file_path) {
        snprintf(err, errlen, "no master key: credential '%s' absent and no key file configured",
                 credential ? credential : "");
        return NULL;
    }
    int fd = open(file_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return create_file(file_path, err, errlen);
        snprintf(err, errlen, "%s: %s", file_path, strerror(errno));
        return NULL;
    }
    struct stat st;
    seal_key *k = NULL;
    if (fstat(fd, &st) != 0)
        snprintf(err, errlen, "%s: %s", file_path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        snprintf(err, errlen, "%s: not a regular file", file_path);
    else if (st.st_mode & 077)
        snprintf(err, errlen,
                 "%s: master key file is accessible by group or others (mode %03o); "
                 "chmod 600 it",
                 file_path, (unsigned)(st.st_mode & 0777));
    else if (st.st_uid != geteuid())
        snprintf(err, errlen, "%s: master key file is owned by uid %u, not by us", file_path,
                 (unsigned)st.st_uid);
    else
        k = read_key_fd(fd, file_path, err, errlen);
    close(fd);
    return k;
}

int seal_encrypt(const seal_key *k, const uint8_t *pt, size_t pt_len, const uint8_t *aad,
                 size_t aad_len, uint8_t **out, size_t *out_len)
{
    if (!k || (!pt && pt_len) || pt_len > 0x7fffffff - SEAL_OVERHEAD || aad_len > 0x7fffffff)
        return -1;
    uint8_t *b = malloc(pt_len + SEAL_OVERHEAD);
    if (!b)
        return -1;
    b[0] = VERSION;
    uint8_t *nonce = b + 1, *ct = b + 1 + NONCE_LEN, *tag = ct + pt_len;
    Aes aes;
    int rc = -1;
    if (random_bytes(nonce, NONCE_LEN) == 0 && wc_AesInit(&aes, NULL, INVALID_DEVID) == 0) {
        if (wc_AesGcmSetKey(&aes, k->key, SEAL_KEY_LEN) == 0 &&
            wc_AesGcmEncrypt(&aes, ct, pt, (word32)pt_len, nonce, NONCE_LEN, tag, TAG_LEN, aad,
                             (word32)aad_len) == 0)
            rc = 0;
        wc_AesFree(&aes);
    }
    if (rc != 0) {
        free(b);
        return -1;
    }
    *out = b;
    *out_len = pt_len + SEAL_OVERHEAD;
    return 0;
}

int seal_decrypt(const seal_key *k, const uint8_t *blob, size_t blob_len, const uint8_t *aad,
                 size_t aad_len, uint8_t **out, size_t *out_len)
{
    if (!k || !blob || blob_len < SEAL_OVERHEAD || blob[0] != VERSION || blob_len > 0x7fffffff ||
        aad_len > 0x7fffffff)
        return -1;
    size_t ct_len = blob_len - SEAL_OVERHEAD;
    const uint8_t *nonce = blob + 1, *ct = blob + 1 + NONCE_LEN, *tag = ct + ct_len;
    uint8_t *pt = malloc(ct_len ? ct_len : 1);
    if (!pt)
        return -1;
    Aes aes;
    int rc = -1;
    if (wc_AesInit(&aes, NULL, INVALID_DEVID) == 0) {
        if (wc_AesGcmSetKey(&aes, k->key, SEAL_KEY_LEN) == 0 &&
            wc_AesGcmDecrypt(&aes, pt, ct, (word32)ct_len, nonce, NONCE_LEN, tag, TAG_LEN, aad,
                             (word32)aad_len) == 0)
            rc = 0;
        wc_AesFree(&aes);
    }
    if (rc != 0) {
        seal_wipe_free(pt, ct_len ? ct_len : 1);
        return -1;
    }
    *out = pt;
    *out_len = ct_len;
    return 0;
}
