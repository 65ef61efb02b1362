/* Persistent card state (see state.h). The plaintext is a sequence of TLV records; the file is
 * magic(8) | AES-256-GCM(nonce | tag | ciphertext) with the magic as associated data. */
#include "state.h"

#include "crypto.h"
#include "tlv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_MAGIC "PIVSIM01"
#define MAGIC_LEN 8

/* Record tags of the plaintext. Two-byte tags keep room for values up to 64 KiB. */
enum {
    REC_SERIAL = 0x5F01,
    REC_PIN = 0x5F02,
    REC_PUK = 0x5F03,
    REC_COUNTERS = 0x5F04,
    REC_MGM = 0x5F05,
    REC_KEY = 0x5F10,
    REC_OBJECT = 0x5F11,
};

const uint8_t MGM_KEY_DEFAULT[24] = {1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4,
                                     5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8};

void state_clear_key(struct sim_state *s, uint8_t slot)
{
    struct sim_key *k = &s->keys[slot];
    if (k->der) {
        crypto_wipe(k->der, k->der_len);
        free(k->der);
    }
    memset(k, 0, sizeof(*k));
}

void state_set_key(struct sim_state *s, uint8_t slot, uint8_t algo, uint8_t pin_policy,
                   uint8_t touch_policy, uint8_t origin, uint8_t *der, size_t der_len)
{
    state_clear_key(s, slot);
    struct sim_key *k = &s->keys[slot];
    k->algo = algo;
    k->pin_policy = pin_policy;
    k->touch_policy = touch_policy;
    k->origin = origin;
    k->der = der;
    k->der_len = der_len;
}

const struct sim_object *state_get_object(const struct sim_state *s, uint32_t id)
{
    for (size_t i = 0; i < s->n_objs; i++) {
        if (s->objs[i].id == id) {
            return &s->objs[i];
        }
    }
    return NULL;
}

int state_put_object(struct sim_state *s, uint32_t id, const uint8_t *data, size_t len)
{
    size_t i;
    for (i = 0; i < s->n_objs && s->objs[i].id != id; i++) {
    }
    if (len == 0) {
        if (i < s->n_objs) {
            free(s->objs[i].data);
            s->objs[i] = s->objs[s->n_objs - 1];
            s->n_objs--;
        }
        return 0;
    }
    uint8_t *copy = malloc(len);
    if (!copy) {
        return -1;
    }
    memcpy(copy, data, len);
    if (i == s->n_objs) {
        struct sim_object *n = realloc(s->objs, (s->n_objs + 1) * sizeof(*n));
        if (!n) {
            free(copy);
            return -1;
        }
        s->objs = n;
        s->n_objs++;
        s->objs[i].id = id;
    } else {
        free(s->objs[i].data);
    }
    s->objs[i].data = copy;
    s->objs[i].len = len;
    return 0;
}

static void set_credentials_default(struct sim_state *s)
{
    memset(s->pin, 0xFF, sizeof(s->pin));
    memset(s->puk, 0xFF, sizeof(s->puk));
    memcpy(s->pin, PIN_DEFAULT, strlen(PIN_DEFAULT));
    s->pin_len = (uint8_t)strlen(PIN_DEFAULT);
    memcpy(s->puk, PUK_DEFAULT, strlen(PUK_DEFAULT));
    s->puk_len = (uint8_t)strlen(PUK_DEFAULT);
    s->pin_tries = s->pin_left = PIN_TRIES_DEFAULT;
    s->puk_tries = s->puk_left = PIN_TRIES_DEFAULT;
    s->mgm_algo = ALGO_3DES;
    memset(s->mgm_key, 0, sizeof(s->mgm_key));
    memcpy(s->mgm_key, MGM_KEY_DEFAULT, sizeof(MGM_KEY_DEFAULT));
    s->mgm_touch = TOUCH_NEVER;
}

void state_factory_reset(struct sim_state *s)
{
    set_credentials_default(s);
    for (int slot = 0; slot < 256; slot++) {
        if (slot != 0xF9) {
            state_clear_key(s, (uint8_t)slot);
        }
    }
    /* Keep only the attestation certificate. */
    size_t kept = 0;
    for (size_t i = 0; i < s->n_objs; i++) {
        if (s->objs[i].id == 0x5FFF01) {
            s->objs[kept++] = s->objs[i];
        } else {
            free(s->objs[i].data);
        }
    }
    s->n_objs = kept;
}

void state_free(struct sim_state *s)
{
    for (int slot = 0; slot < 256; slot++) {
        state_clear_key(s, (uint8_t)slot);
    }
    for (size_t i = 0; i < s->n_objs; i++) {
        free(s->objs[i].data);
    }
    free(s->objs);
    free(s->path);
    crypto_wipe(s, sizeof(*s));
}

static void serialize(const struct sim_state *s, struct buf *b)
{
    uint8_t v[4] = {(uint8_t)(s->serial >> 24), (uint8_t)(s->serial >> 16),
                    (uint8_t)(s->serial >> 8), (uint8_t)s->serial};
    buf_put_tlv(b, REC_SERIAL, v, 4);
    buf_put_tlv(b, REC_PIN, s->pin, s->pin_len);
    buf_put_tlv(b, REC_PUK, s->puk, s->puk_len);
    uint8_t c[4] = {s->pin_tries, s->pin_left, s->puk_tries, s->puk_left};
    buf_put_tlv(b, REC_COUNTERS, c, 4);
    size_t kl = sym_key_len(s->mgm_algo);
    buf_put_tag(b, REC_MGM);
    buf_put_len(b, 2 + kl);
    buf_put_u8(b, s->mgm_algo);
    buf_put_u8(b, s->mgm_touch);
    buf_put(b, s->mgm_key, kl);
    for (int slot = 0; slot < 256; slot++) {
        const struct sim_key *k = &s->keys[slot];
        if (!k->algo) {
            continue;
        }
        buf_put_tag(b, REC_KEY);
        buf_put_len(b, 5 + k->der_len);
        uint8_t h[5] = {(uint8_t)slot, k->algo, k->pin_policy, k->touch_policy, k->origin};
        buf_put(b, h, 5);
        buf_put(b, k->der, k->der_len);
    }
    for (size_t i = 0; i < s->n_objs; i++) {
        const struct sim_object *o = &s->objs[i];
        buf_put_tag(b, REC_OBJECT);
        buf_put_len(b, 3 + o->len);
        uint8_t id[3] = {(uint8_t)(o->id >> 16), (uint8_t)(o->id >> 8), (uint8_t)o->id};
        buf_put(b, id, 3);
        buf_put(b, o->data, o->len);
    }
}

static int deserialize(struct sim_state *s, const uint8_t *data, size_t len)
{
    const uint8_t *p = data, *end = data + len, *v;
    unsigned tag;
    size_t l;
    while (p < end) {
        if (!tlv_next(&p, end, &tag, &v, &l)) {
            return -1;
        }
        switch (tag) {
        case REC_SERIAL:
            if (l != 4) {
                return -1;
            }
            s->serial =
                ((uint32_t)v[0] << 24) | ((uint32_t)v[1] << 16) | ((uint32_t)v[2] << 8) | v[3];
            break;
        case REC_PIN:
        case REC_PUK:
            if (l < 1 || l > PIN_MAX_LEN) {
                return -1;
            }
            memset(tag == REC_PIN ? s->pin : s->puk, 0xFF, PIN_MAX_LEN);
            memcpy(tag == REC_PIN ? s->pin : s->puk, v, l);
            *(tag == REC_PIN ? &s->pin_len : &s->puk_len) = (uint8_t)l;
            break;
        case REC_COUNTERS:
            if (l != 4) {
                return -1;
            }
            s->pin_tries = v[0];
            s->pin_left = v[1];
            s->puk_tries = v[2];
            s->puk_left = v[3];
            break;
        case REC_MGM:
            if (l < 2 || sym_key_len(v[0]) != l - 2) {
                return -1;
            }
            s->mgm_algo = v[0];
            s->mgm_touch = v[1];
            memset(s->mgm_key, 0, sizeof(s->mgm_key));
            memcpy(s->mgm_key, v + 2, l - 2);
            break;
        case REC_KEY: {
            if (l < 6) {
                return -1;
            }
            uint8_t *der = malloc(l - 5);
            if (!der) {
                return -1;
            }
            memcpy(der, v + 5, l - 5);
            state_set_key(s, v[0], v[1], v[2], v[3], v[4], der, l - 5);
            break;
        }
        case REC_OBJECT:
            if (l < 4) {
                return -1;
            }
            if (state_put_object(s, ((uint32_t)v[0] << 16) | ((uint32_t)v[1] << 8) | v[2], v + 3,
                                 l - 3) != 0) {
                return -1;
            }
            break;
        default: /* records from a newer version are skipped */
            break;
        }
    }
    return 0;
}

int state_key_file(const char *path, uint8_t key[32], char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, key, 32);
        close(fd);
        if (n != 32) {
            snprintf(err, errlen, "%s: not a 32-byte key file", path);
            return -1;
        }
        return 0;
    }
    if (errno != ENOENT) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (crypto_random(key, 32) != 0) {
        snprintf(err, errlen, "no randomness");
        return -1;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, key, 32) != 32 || fsync(fd) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    close(fd);
    return 0;
}

static char *key_path(const char *path)
{
    size_t n = strlen(path) + 5;
    char *k = malloc(n);
    if (k) {
        snprintf(k, n, "%s.key", path);
    }
    return k;
}

int sealed_write(const char *path, const char *magic, const uint8_t *data, size_t len)
{
    char err[256];
    uint8_t key[32];
    char *kp = key_path(path);
    int rc = -1;
    struct buf out;
    buf_init(&out, 0);
    if (!kp || state_key_file(kp, key, err, sizeof(err)) != 0) {
        free(kp);
        return -1;
    }
    free(kp);
    buf_put(&out, magic, MAGIC_LEN);
    if (seal(key, (const uint8_t *)magic, MAGIC_LEN, data, len, &out) == 0) {
        size_t tl = strlen(path) + 8;
        char *tmp = malloc(tl);
        if (tmp) {
            snprintf(tmp, tl, "%s.tmp", path);
            int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd >= 0) {
                bool ok = write(fd, out.data, out.len) == (ssize_t)out.len && fsync(fd) == 0;
                ok = close(fd) == 0 && ok;
                if (ok && rename(tmp, path) == 0) {
                    rc = 0;
                } else {
                    unlink(tmp);
                }
            }
            free(tmp);
        }
    }
    crypto_wipe(key, sizeof(key));
    buf_free(&out);
    return rc;
}

int sealed_read(const char *path, const char *magic, uint8_t **data, size_t *len, char *err,
                size_t errlen)
{
    uint8_t key[32];
    struct buf in, out;
    buf_init(&in, 1 << 22);
    buf_init(&out, 0);
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rbe");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return errno == ENOENT ? 1 : -1;
    }
    uint8_t chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        buf_put(&in, chunk, n);
    }
    fclose(f);
    char *kp = key_path(path);
    int rc = -1;
    if (in.failed || in.len < MAGIC_LEN || memcmp(in.data, magic, MAGIC_LEN) != 0) {
        snprintf(err, errlen, "%s: not a piv-sim file of this kind", path);
    } else if (!kp || state_key_file(kp, key, err, errlen) != 0) {
        /* err is set */
    } else if (unseal(key, (const uint8_t *)magic, MAGIC_LEN, in.data + MAGIC_LEN,
                      in.len - MAGIC_LEN, &out) != 0) {
        snprintf(err, errlen, "%s: cannot be decrypted with %s (corrupt or wrong key)", path, kp);
    } else {
        *data = out.data;
        *len = out.len;
        out.data = NULL;
        rc = 0;
    }
    crypto_wipe(key, sizeof(key));
    free(kp);
    buf_free(&in);
    buf_free_secret(&out);
    return rc;
}

int state_open(struct sim_state *s, const char *path, uint32_t serial, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    set_credentials_default(s);
    if (path) {
        s->path = strdup(path);
        if (!s->path) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = path ? sealed_read(path, STATE_MAGIC, &data, &len, err, errlen) : 1;
    if (rc < 0) {
        return -1;
    }
    if (rc == 0) {
        rc = deserialize(s, data, len);
        crypto_wipe(data, len);
        free(data);
        if (rc != 0) {
            snprintf(err, errlen, "%s: malformed state", path);
        }
        return rc;
    }
    /* A new key. Serials of real keys are 7-8 digits; stay in that range. */
    if (serial == 0) {
        uint8_t r[4];
        if (crypto_random(r, 4) != 0) {
            snprintf(err, errlen, "no randomness");
            return -1;
        }
        serial = 10000000u +
                 ((((uint32_t)r[0] << 24) | ((uint32_t)r[1] << 16) | ((uint32_t)r[2] << 8) | r[3]) %
                  89999999u);
    }
    s->serial = serial;
    if (state_save(s) != 0) {
        snprintf(err, errlen, "%s: cannot write state: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int state_save(const struct sim_state *s)
{
    if (!s->path) {
        return 0;
    }
    struct buf b;
    buf_init(&b, 0);
    serialize(s, &b);
    int rc = b.failed ? -1 : sealed_write(s->path, STATE_MAGIC, b.data, b.len);
    buf_free_secret(&b);
    return rc;
}
