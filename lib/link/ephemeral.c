/* The sender's ephemeral ECDH keys, one per recipient, kept for a short while
 * (link_ephemeral.h says why). */
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

void link_ephemeral_forget_all(void)
{
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < SLOTS; i++)
        wipe(&g_keys[i]);
    pthread_mutex_unlock(&g_lock);
}
