/* The sender's ephemeral ECDH keys, one per recipient, kept for a short while, and the secrets
 * agreed with them on either side (link_ephemeral.h says why). */
#include "link/link_ephemeral.h"

#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/sha256.h>

#define P256_PRIV 32
#define P256_PUB 65 /* X9.63 uncompressed */
/* Recipients remembered at once: a relay talks to a handful of appliances, an agent to one
 * relay. Beyond that the least recently made key is replaced. */
#define SLOTS 32

typedef struct {
    int used;
    uint8_t peer[WC_SHA256_DIGEST_SIZE]; /* SHA-256 of the recipient's certificate */
    uint8_t priv[P256_PRIV];
    uint8_t pub[P256_PUB];
    int64_t made; /* CLOCK_MONOTONIC, seconds */
    unsigned uses;
    pid_t pid; /* a forked child makes its own */
} kept_key;

static kept_key g_keys[SLOTS];
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int t_have_peer;
static __thread uint8_t t_peer[WC_SHA256_DIGEST_SIZE];

static int64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

static void wipe(kept_key *k)
{
    explicit_bzero(k, sizeof *k);
}

int link_ephemeral_begin(const uint8_t *peer_cert, size_t peer_cert_len)
{
    t_have_peer = wc_Sha256Hash(peer_cert, (word32)peer_cert_len, t_peer) == 0;
    return t_have_peer ? 0 : -1;
}

void link_ephemeral_end(void)
{
    t_have_peer = 0;
}

/* A fresh P-256 key into k (lock held). */
static int make_key(kept_key *k, WC_RNG *rng)
{
    ecc_key e;
    word32 priv_len = P256_PRIV, pub_len = P256_PUB;
    int rc = wc_ecc_init(&e); /* no device: wolfCrypt's own key generation */
    if (rc != 0)
        return rc;
    rc = wc_ecc_make_key_ex(rng, P256_PRIV, &e, ECC_SECP256R1);
    if (rc == 0)
        rc = wc_ecc_export_private_only(&e, k->priv, &priv_len);
    if (rc == 0)
        rc = wc_ecc_export_x963(&e, k->pub, &pub_len);
    wc_ecc_free(&e);
    if (rc == 0 && (priv_len != P256_PRIV || pub_len != P256_PUB))
        rc = BAD_STATE_E;
    return rc;
}

/* The kept key for the current recipient, fit for one more message (lock held), or NULL. */
static kept_key *current(int64_t now, pid_t pid)
{
    for (size_t i = 0; i < SLOTS; i++) {
        kept_key *k = &g_keys[i];
        if (!k->used || memcmp(k->peer, t_peer, sizeof t_peer) != 0)
            continue;
        if (k->pid == pid && now - k->made < LINK_EPHEMERAL_MAX_AGE &&
            k->uses < LINK_EPHEMERAL_MAX_USES)
            return k;
        wipe(k); /* too old, used up, or the parent's */
    }
    return NULL;
}

/* A slot for a new key (lock held): a free one, else the oldest. */
static kept_key *free_slot(void)
{
    kept_key *oldest = &g_keys[0];
    for (size_t i = 0; i < SLOTS; i++) {
        if (!g_keys[i].used)
            return &g_keys[i];
        if (g_keys[i].made < oldest->made)
            oldest = &g_keys[i];
    }
    wipe(oldest);
    return oldest;
}

int link_ephemeral_keygen(wc_CryptoInfo *info)
{
    if (!t_have_peer || info->pk.eckg.size != P256_PRIV ||
        (info->pk.eckg.curveId != ECC_SECP256R1 && info->pk.eckg.curveId != ECC_CURVE_DEF))
        return CRYPTOCB_UNAVAILABLE;
    uint8_t priv[P256_PRIV], pub[P256_PUB];
    int64_t now = mono_s();
    pid_t pid = getpid();
    int rc = 0;
    pthread_mutex_lock(&g_lock);
    kept_key *k = current(now, pid);
    if (!k) {
        k = free_slot();
        rc = make_key(k, info->pk.eckg.rng);
        if (rc == 0) {
            k->used = 1;
            memcpy(k->peer, t_peer, sizeof t_peer);
            k->made = now;
            k->uses = 0;
            k->pid = pid;
        } else {
            wipe(k);
        }
    }
    if (rc == 0) {
        k->uses++;
        memcpy(priv, k->priv, sizeof priv);
        memcpy(pub, k->pub, sizeof pub);
    }
    pthread_mutex_unlock(&g_lock);
    if (rc == 0)
        rc = wc_ecc_import_private_key_ex(priv, sizeof priv, pub, sizeof pub, info->pk.eckg.key,
                                          ECC_SECP256R1);
    explicit_bzero(priv, sizeof priv);
    return rc;
}

/* ---- Agreed secrets ---------------------------------------------------------------------- */

/* A secret agreed between two points, remembered by the SHA-256 of both (ours first). A kept
 * ephemeral key meets the same static key for up to LINK_EPHEMERAL_MAX_AGE seconds; a
 * recipient sees a sender's kept key up to that long after it was made, so twice that bounds
 * how long a secret can still be wanted. */
#define SECRETS 64
#define SECRET_MAX_AGE (2 * LINK_EPHEMERAL_MAX_AGE)
#define P256_SECRET 32

typedef struct {
    int used;
    uint8_t points[WC_SHA256_DIGEST_SIZE];
    uint8_t z[P256_SECRET];
    int64_t made;
    pid_t pid;
} agreed_secret;

static agreed_secret g_secrets[SECRETS];

/* The SHA-256 of both keys' public points (X9.63), or -1 when either is not a P-256 key with
 * its public point (then the secret is not remembered). */
static int points_id(ecc_key *ours, ecc_key *theirs, uint8_t id[WC_SHA256_DIGEST_SIZE])
{
    uint8_t pts[2 * P256_PUB];
    word32 a = P256_PUB, b = P256_PUB;
    if (!ours->dp || !theirs->dp || ours->dp->id != ECC_SECP256R1 ||
        theirs->dp->id != ECC_SECP256R1 || ours->type != ECC_PRIVATEKEY ||
        wc_ecc_export_x963(ours, pts, &a) != 0 ||
        wc_ecc_export_x963(theirs, pts + P256_PUB, &b) != 0 || a != P256_PUB || b != P256_PUB)
        return -1;
    return wc_Sha256Hash(pts, sizeof pts, id) == 0 ? 0 : -1;
}

/* The remembered secret for id into z (lock held): 1 found, 0 not. Stale entries are wiped. */
static int secret_find(const uint8_t *id, int64_t now, pid_t pid, uint8_t z[P256_SECRET])
{
    for (size_t i = 0; i < SECRETS; i++) {
        agreed_secret *s = &g_secrets[i];
        if (!s->used)
            continue;
        if (s->pid != pid || now - s->made >= SECRET_MAX_AGE) {
            explicit_bzero(s, sizeof *s);
            continue;
        }
        if (memcmp(s->points, id, sizeof s->points) == 0) {
            memcpy(z, s->z, P256_SECRET);
            return 1;
        }
    }
    return 0;
}

/* Remembers a secret (lock held) in a free entry, else in place of the oldest. */
static void secret_keep(const uint8_t *id, const uint8_t z[P256_SECRET], int64_t now, pid_t pid)
{
    agreed_secret *slot = &g_secrets[0];
    for (size_t i = 0; i < SECRETS; i++) {
        if (!g_secrets[i].used) {
            slot = &g_secrets[i];
            break;
        }
        if (g_secrets[i].made < slot->made)
            slot = &g_secrets[i];
    }
    explicit_bzero(slot, sizeof *slot);
    slot->used = 1;
    memcpy(slot->points, id, sizeof slot->points);
    memcpy(slot->z, z, P256_SECRET);
    slot->made = now;
    slot->pid = pid;
}

int link_ephemeral_ecdh(wc_CryptoInfo *info)
{
    ecc_key *ours = info->pk.ecdh.private_key, *theirs = info->pk.ecdh.public_key;
    uint8_t id[WC_SHA256_DIGEST_SIZE], z[P256_SECRET];
    if (!ours || !theirs || !info->pk.ecdh.out || !info->pk.ecdh.outlen ||
        *info->pk.ecdh.outlen < P256_SECRET || points_id(ours, theirs, id) != 0)
        return CRYPTOCB_UNAVAILABLE;
    int64_t now = mono_s();
    pid_t pid = getpid();
    pthread_mutex_lock(&g_lock);
    int found = secret_find(id, now, pid, z);
    pthread_mutex_unlock(&g_lock);
    if (!found) {
        /* wolfCrypt's own agreement, with its checks of the peer's point; the device is taken
         * off the key for the call so that it does not come back here. */
        word32 len = P256_SECRET;
        int dev = ours->devId;
        ours->devId = INVALID_DEVID;
        int rc = wc_ecc_shared_secret(ours, theirs, z, &len);
        ours->devId = dev;
        if (rc != 0 || len != P256_SECRET) {
            explicit_bzero(z, sizeof z);
            return rc != 0 ? rc : BAD_STATE_E;
        }
        pthread_mutex_lock(&g_lock);
        secret_keep(id, z, now, pid);
        pthread_mutex_unlock(&g_lock);
    }
    memcpy(info->pk.ecdh.out, z, P256_SECRET);
    *info->pk.ecdh.outlen = P256_SECRET;
    explicit_bzero(z, sizeof z);
    return 0;
}

void link_ephemeral_forget_all(void)
{
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < SLOTS; i++)
        wipe(&g_keys[i]);
    explicit_bzero(g_secrets, sizeof g_secrets);
    pthread_mutex_unlock(&g_lock);
}
