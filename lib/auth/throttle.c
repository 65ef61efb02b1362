/* Login throttling: failures per key in a window, then an exponentially growing lock-out.
 * A fixed-size table keeps memory bounded whatever an attacker sends; the least recently
 * touched entry makes room for a new key. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"

#define SLOTS 4096
#define KEY_MAX 160
#define LOCKOUT_CAP 3600

typedef struct {
    char key[KEY_MAX];
    unsigned failures;
    unsigned lockouts;
    int64_t window_start;
    int64_t locked_until;
    int64_t last_seen;
} entry;

struct auth_throttle {
    pthread_mutex_t mu;
    unsigned max_failures, window_s, lockout_s;
    entry *slots;
};

auth_throttle *auth_throttle_new(unsigned max_failures, unsigned window_s, unsigned lockout_s)
{
    auth_throttle *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->slots = calloc(SLOTS, sizeof *t->slots);
    if (!t->slots) {
        free(t);
        return NULL;
    }
    pthread_mutex_init(&t->mu, NULL);
    t->max_failures = max_failures ? max_failures : 1;
    t->window_s = window_s;
    t->lockout_s = lockout_s;
    return t;
}

void auth_throttle_free(auth_throttle *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->mu);
    free(t->slots);
    free(t);
}

static entry *find(auth_throttle *t, const char *key)
{
    for (size_t i = 0; i < SLOTS; i++)
        if (t->slots[i].key[0] && strcmp(t->slots[i].key, key) == 0)
            return &t->slots[i];
    return NULL;
}

static entry *find_or_add(auth_throttle *t, const char *key, int64_t now)
{
    entry *e = find(t, key);
    if (e)
        return e;
    entry *victim = &t->slots[0];
    for (size_t i = 0; i < SLOTS; i++) {
        if (!t->slots[i].key[0]) {
            victim = &t->slots[i];
            break;
        }
        if (t->slots[i].last_seen < victim->last_seen)
            victim = &t->slots[i];
    }
    memset(victim, 0, sizeof *victim);
    /* Keys longer than the slot are cut; a cut key still throttles (it only groups more). */
    strncpy(victim->key, key, KEY_MAX - 1);
    victim->window_start = now;
    return victim;
}

unsigned auth_throttle_wait(auth_throttle *t, const char *key, int64_t now)
{
    unsigned wait = 0;
    pthread_mutex_lock(&t->mu);
    entry *e = find(t, key);
    if (e && e->locked_until > now)
        wait = (unsigned)(e->locked_until - now);
    pthread_mutex_unlock(&t->mu);
    return wait;
}

void auth_throttle_failure(auth_throttle *t, const char *key, int64_t now)
{
    pthread_mutex_lock(&t->mu);
    entry *e = find_or_add(t, key, now);
    e->last_seen = now;
    if (now - e->window_start > (int64_t)t->window_s) {
        e->window_start = now;
        e->failures = 0;
    }
    if (++e->failures >= t->max_failures) {
        unsigned shift = e->lockouts < 12 ? e->lockouts : 12;
        uint64_t lock = (uint64_t)t->lockout_s << shift;
        if (lock > LOCKOUT_CAP)
            lock = LOCKOUT_CAP;
        e->locked_until = now + (int64_t)lock;
        e->lockouts++;
        e->failures = 0;
        e->window_start = now;
    }
    pthread_mutex_unlock(&t->mu);
}

void auth_throttle_success(auth_throttle *t, const char *key)
{
    pthread_mutex_lock(&t->mu);
    entry *e = find(t, key);
    if (e)
        memset(e, 0, sizeof *e);
    pthread_mutex_unlock(&t->mu);
}
