/* In-memory cache of pre-signed OCSP answers, keyed by CA and the request's CertID. A chained
 * hash table under a read-write lock: the event loop reads, workers write. Bounded in size. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ocsp/ocsp.h"
#include "ocsp/ocsp_impl.h"

#define BUCKETS 65536
#define MAX_ENTRIES 500000
#define MAX_CAS 4096

typedef struct entry {
    struct entry *next;
    int64_t ca_id;
    uint8_t certid[256];
    size_t certid_len;
    uint8_t serial[32];
    size_t serial_len;
    uint8_t *der;
    size_t len;
    int64_t refresh_at, expires;
    int refreshing;
} entry;

static pthread_rwlock_t g_lock = PTHREAD_RWLOCK_INITIALIZER;
static entry *g_buckets[BUCKETS];
static size_t g_count;
static int64_t g_validity = 86400;
/* Per-CA generation: bumped by every invalidation (indexed by ca_id modulo MAX_CAS; a shared
 * slot only causes extra refusals to cache, never a stale answer). */
static uint64_t g_gen[MAX_CAS];

void ocsp_set_validity(int64_t seconds)
{
    g_validity = seconds > 60 ? seconds : 60;
}

int64_t ocsp_validity(void)
{
    return g_validity;
}

static uint32_t hash(int64_t ca_id, const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u ^ (uint32_t)ca_id;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h % BUCKETS;
}

uint64_t ocsp_cache_generation(int64_t ca_id)
{
    pthread_rwlock_rdlock(&g_lock);
    uint64_t g = g_gen[(uint64_t)ca_id % MAX_CAS];
    pthread_rwlock_unlock(&g_lock);
    return g;
}

int ocsp_cache_lookup(int64_t ca_id, const uint8_t *certid, size_t certid_len, int64_t now,
                      uint8_t **der, size_t *len, int64_t *expires, int *needs_refresh)
{
    *needs_refresh = 0;
    int rc = -1;
    uint32_t b = hash(ca_id, certid, certid_len);
    pthread_rwlock_rdlock(&g_lock);
    for (entry *e = g_buckets[b]; e; e = e->next) {
        if (e->ca_id != ca_id || e->certid_len != certid_len ||
            memcmp(e->certid, certid, certid_len) != 0)
            continue;
        if (now >= e->expires)
            break;
        *der = malloc(e->len);
        if (!*der)
            break;
        memcpy(*der, e->der, e->len);
        *len = e->len;
        *expires = e->expires;
        /* Only the first reader past refresh_at asks for a refresh. */
        if (now >= e->refresh_at && __atomic_exchange_n(&e->refreshing, 1, __ATOMIC_ACQ_REL) == 0)
            *needs_refresh = 1;
        rc = 0;
        break;
    }
    pthread_rwlock_unlock(&g_lock);
    return rc;
}

void ocsp_cache_store(int64_t ca_id, uint64_t gen, const uint8_t *certid, size_t certid_len,
                      const uint8_t *serial, size_t serial_len, const uint8_t *der, size_t len,
                      int64_t refresh_at, int64_t expires)
{
    if (certid_len > sizeof((entry *)0)->certid || serial_len > sizeof((entry *)0)->serial)
        return;
    entry *n = calloc(1, sizeof *n);
    uint8_t *copy = malloc(len);
    if (!n || !copy) {
        free(n);
        free(copy);
        return;
    }
    memcpy(copy, der, len);
    n->ca_id = ca_id;
    memcpy(n->certid, certid, certid_len);
    n->certid_len = certid_len;
    memcpy(n->serial, serial, serial_len);
    n->serial_len = serial_len;
    n->der = copy;
    n->len = len;
    n->refresh_at = refresh_at;
    n->expires = expires;
    uint32_t b = hash(ca_id, certid, certid_len);
    pthread_rwlock_wrlock(&g_lock);
    if (g_gen[(uint64_t)ca_id % MAX_CAS] != gen) {
        pthread_rwlock_unlock(&g_lock);
        free(copy);
        free(n);
        return;
    }
    entry **pp = &g_buckets[b];
    for (; *pp; pp = &(*pp)->next) {
        entry *e = *pp;
        if (e->ca_id == ca_id && e->certid_len == certid_len &&
            memcmp(e->certid, certid, certid_len) == 0) {
            n->next = e->next;
            *pp = n;
            free(e->der);
            free(e);
            pthread_rwlock_unlock(&g_lock);
            return;
        }
    }
    if (g_count >= MAX_ENTRIES) {
        pthread_rwlock_unlock(&g_lock);
        free(copy);
        free(n);
        return;
    }
    n->next = g_buckets[b];
    g_buckets[b] = n;
    g_count++;
    pthread_rwlock_unlock(&g_lock);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void drop_where(int64_t ca_id, const uint8_t *serial, size_t serial_len)
{
    pthread_rwlock_wrlock(&g_lock);
    g_gen[(uint64_t)ca_id % MAX_CAS]++;
    for (size_t b = 0; b < BUCKETS; b++) {
        entry **pp = &g_buckets[b];
        while (*pp) {
            entry *e = *pp;
            bool match =
                e->ca_id == ca_id && (!serial || (e->serial_len == serial_len &&
                                                  memcmp(e->serial, serial, serial_len) == 0));
            if (match) {
                *pp = e->next;
                free(e->der);
                free(e);
                g_count--;
            } else {
                pp = &e->next;
            }
        }
    }
    pthread_rwlock_unlock(&g_lock);
}

void ocsp_invalidate(relay_app *app, int64_t ca_id, const char *serial)
{
    (void)app;
    uint8_t bytes[32];
    size_t n = strlen(serial) / 2;
    if (strlen(serial) % 2 || n > sizeof bytes) {
        drop_where(ca_id, NULL, 0);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(serial[2 * i]), lo = hexval(serial[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            drop_where(ca_id, NULL, 0);
            return;
        }
        bytes[i] = (uint8_t)(hi << 4 | lo);
    }
    /* Requests carry the INTEGER magnitude without leading zero octets. */
    size_t skip = 0;
    while (skip + 1 < n && bytes[skip] == 0)
        skip++;
    drop_where(ca_id, bytes + skip, n - skip);
}

void ocsp_invalidate_ca(int64_t ca_id)
{
    drop_where(ca_id, NULL, 0);
}

void ocsp_cache_free(void)
{
    pthread_rwlock_wrlock(&g_lock);
    for (size_t b = 0; b < BUCKETS; b++) {
        while (g_buckets[b]) {
            entry *e = g_buckets[b];
            g_buckets[b] = e->next;
            free(e->der);
            free(e);
        }
    }
    g_count = 0;
    pthread_rwlock_unlock(&g_lock);
}
