/* Nonces in an open-addressing table keyed by the nonce text, plus a FIFO ring that bounds how
 * many are outstanding. Both are fixed-size: memory does not grow with traffic. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/random.h>

#include "acme/nonce.h"
#include "util/encoding.h"

typedef struct {
    char text[ACME_NONCE_LEN]; /* "" = free slot, "!" = deleted (tombstone; not base64url) */
    int64_t expires;
} slot;

struct acme_nonces {
    pthread_mutex_t lock;
    WC_RNG rng;
    int64_t lifetime;
    unsigned max; /* outstanding at most */
    unsigned cap; /* table slots: a power of two >= 2 * max */
    slot *table;
    unsigned *ring; /* table index of each outstanding nonce, oldest first */
    unsigned head, count;
    unsigned tombstones;
};

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

acme_nonces *acme_nonces_new(int64_t lifetime_s, unsigned max)
{
    acme_nonces *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->lifetime = lifetime_s;
    n->max = max ? max : 1;
    n->cap = 16;
    while (n->cap < 2 * n->max)
        n->cap <<= 1;
    n->table = calloc(n->cap, sizeof *n->table);
    n->ring = calloc(n->max, sizeof *n->ring);
    if (!n->table || !n->ring || wc_InitRng(&n->rng) != 0) {
        free(n->table);
        free(n->ring);
        free(n);
        return NULL;
    }
    pthread_mutex_init(&n->lock, NULL);
    return n;
}

void acme_nonces_free(acme_nonces *n)
{
    if (!n)
        return;
    wc_FreeRng(&n->rng);
    pthread_mutex_destroy(&n->lock);
    free(n->table);
    free(n->ring);
    free(n);
}

/* Index of text in the table, or -1. */
static long find(acme_nonces *n, const char *text)
{
    unsigned mask = n->cap - 1;
    for (unsigned i = hash(text) & mask, probes = 0; probes < n->cap;
         i = (i + 1) & mask, probes++) {
        if (!n->table[i].text[0])
            return -1;
        if (strcmp(n->table[i].text, text) == 0)
            return (long)i;
    }
    return -1;
}

/* Rebuilds the table and the ring from the live nonces only (tombstones make probes long). */
static void compact(acme_nonces *n)
{
    slot *fresh = calloc(n->cap, sizeof *fresh);
    unsigned *ring = calloc(n->max, sizeof *ring);
    if (!fresh || !ring) {
        free(fresh);
        free(ring);
        return;
    }
    unsigned mask = n->cap - 1, live = 0;
    for (unsigned k = 0; k < n->count; k++) {
        slot *s = &n->table[n->ring[(n->head + k) % n->max]];
        if (!s->text[0] || s->text[0] == '!')
            continue;
        unsigned i = hash(s->text) & mask;
        while (fresh[i].text[0])
            i = (i + 1) & mask;
        fresh[i] = *s;
        ring[live++] = i;
    }
    free(n->table);
    free(n->ring);
    n->table = fresh;
    n->ring = ring;
    n->head = 0;
    n->count = live;
    n->tombstones = 0;
}

static void drop_oldest(acme_nonces *n)
{
    slot *s = &n->table[n->ring[n->head]];
    if (s->text[0] != '!') {
        strcpy(s->text, "!");
        n->tombstones++;
    }
    n->head = (n->head + 1) % n->max;
    n->count--;
}

int acme_nonce_issue(acme_nonces *n, int64_t now, char out[ACME_NONCE_LEN])
{
    uint8_t raw[16];
    pthread_mutex_lock(&n->lock);
    int rc = wc_RNG_GenerateBlock(&n->rng, raw, sizeof raw);
    if (rc != 0) {
        pthread_mutex_unlock(&n->lock);
        return -1;
    }
    char *text = pki_base64url_encode(raw, sizeof raw);
    if (!text || strlen(text) != ACME_NONCE_LEN - 1) {
        free(text);
        pthread_mutex_unlock(&n->lock);
        return -1;
    }
    /* The ring holds used nonces too (as tombstones): dropping the oldest keeps both bounded. */
    while (n->count > 0 && (n->count >= n->max || n->table[n->ring[n->head]].expires <= now ||
                            n->table[n->ring[n->head]].text[0] == '!'))
        drop_oldest(n);
    if (n->tombstones > n->cap / 4)
        compact(n);
    unsigned mask = n->cap - 1;
    unsigned i = hash(text) & mask;
    while (n->table[i].text[0]) /* tombstones stay until compact(): the ring may name them */
        i = (i + 1) & mask;
    memcpy(n->table[i].text, text, ACME_NONCE_LEN);
    n->table[i].expires = now + n->lifetime;
    n->ring[(n->head + n->count) % n->max] = i;
    n->count++;
    memcpy(out, text, ACME_NONCE_LEN);
    free(text);
    pthread_mutex_unlock(&n->lock);
    return 0;
}

bool acme_nonce_consume(acme_nonces *n, const char *nonce, int64_t now)
{
    if (!nonce || strlen(nonce) != ACME_NONCE_LEN - 1 || nonce[0] == '!')
        return false;
    pthread_mutex_lock(&n->lock);
    long i = find(n, nonce);
    bool ok = false;
    if (i >= 0) {
        ok = n->table[i].expires > now;
        strcpy(n->table[i].text, "!");
        n->tombstones++;
    }
    pthread_mutex_unlock(&n->lock);
    return ok;
}
