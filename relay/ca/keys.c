/* CA keys: sealing under the master key and an in-memory cache of unsealed signers (unsealing
 * and parsing a key for every signature would dominate issuance and OCSP). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/ca.h"
#include "keys/keys.h"
#include "link/link_server.h"
#include "seal/seal.h"
#include "signer/soft_signer.h"

#define CACHE_SLOTS 256

typedef struct {
    int64_t ca_id;
    int ocsp;
    pki_signer *signer;
    uint64_t used;
    uint64_t generation; /* HSM CAs: the link's offer generation the targets were read at */
} slot;

/* Signers handed out may be in use on other workers at any time, so a signer leaving the cache
 * (eviction, CA deleted, responder re-made, an HSM CA's offers changed) is retired, not freed at
 * once. A caller uses a signer for the request it got it for, and a signature waits at most
 * lib/x509's 60 s: a signer retired RETIRE_GRACE_S ago is no longer in use and is freed then
 * (at the next retirement), the rest at shutdown. So memory follows recent churn, not all
 * churn since start. */
#define RETIRE_GRACE_S 600

typedef struct retired {
    pki_signer *signer;
    int64_t at; /* monotonic seconds */
    struct retired *next;
} retired;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static retired *g_retired;

static int64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

/* g_mu held. The list is newest first, so everything after the first old entry is old too. */
static void free_old_retired(int64_t now)
{
    for (retired **pp = &g_retired; *pp; pp = &(*pp)->next) {
        if (now - (*pp)->at >= RETIRE_GRACE_S) {
            retired *r = *pp;
            *pp = NULL;
            while (r) {
                retired *next = r->next;
                pki_signer_free(r->signer);
                free(r);
                r = next;
            }
            return;
        }
    }
}

static void retire(pki_signer *s)
{
    int64_t now = mono_s();
    free_old_retired(now);
    retired *r = malloc(sizeof *r);
    if (!r)
        return; /* leak rather than risk a use after free */
    r->signer = s;
    r->at = now;
    r->next = g_retired;
    g_retired = r;
}
static slot g_cache[CACHE_SLOTS];
static uint64_t g_tick;

static void aad_for(int64_t ca_id, const char *purpose, char *out, size_t cap)
{
    if (purpose && *purpose)
        snprintf(out, cap, "ca:%lld:%s", (long long)ca_id, purpose);
    else
        snprintf(out, cap, "ca:%lld", (long long)ca_id);
}

int ca_seal_key(relay_app *app, int64_t ca_id, const char *purpose, pki_signer *s, uint8_t **blob,
                size_t *len)
{
    uint8_t *der = NULL;
    size_t dlen = 0;
    if (pki_soft_signer_export_pkcs8_der(s, &der, &dlen) != 0)
        return -1;
    char aad[64];
    aad_for(ca_id, purpose, aad, sizeof aad);
    int rc = seal_encrypt(app->master, der, dlen, (const uint8_t *)aad, strlen(aad), blob, len);
    pki_secret_free(der, dlen);
    return rc;
}

static pki_signer *unseal(relay_app *app, int64_t ca_id, const char *purpose, const uint8_t *blob,
                          size_t len, char *err, size_t errlen)
{
    char aad[64];
    aad_for(ca_id, purpose, aad, sizeof aad);
    uint8_t *der = NULL;
    size_t dlen = 0;
    if (!blob ||
        seal_decrypt(app->master, blob, len, (const uint8_t *)aad, strlen(aad), &der, &dlen) != 0) {
        snprintf(err, errlen, "the CA key cannot be unsealed (wrong master key or damaged)");
        return NULL;
    }
    pki_signer *s = pki_soft_signer_from_der(der, dlen, NULL, err, errlen);
    seal_wipe_free(der, dlen);
    return s;
}

/* An HSM CA's signer: the appliance-backed one over every offered slot holding its key. */
static pki_signer *hsm_signer(const store_ca *ca, char *err, size_t errlen)
{
    char targets[2048], id[32];
    int n = relay_link_hsm_targets(ca->id, ca->spki, ca->spki_len, targets, sizeof targets);
    if (n <= 0) {
        snprintf(err, errlen, "%s",
                 n < 0 ? "cannot read the appliances' offers"
                       : "no appliance offers a slot with this CA's key");
        return NULL;
    }
    snprintf(id, sizeof id, "%lld", (long long)ca->id);
    return relay_link_signer_new(targets, id, ca->spki, ca->spki_len, 0, err, errlen);
}

static pki_signer *cached(relay_app *app, const store_ca *ca, int ocsp, const uint8_t *blob,
                          size_t len, char *err, size_t errlen)
{
    /* An HSM CA's targets change when appliances offer its key: its cached signer is good only
     * for the offer generation it was made at. */
    int hsm = !ocsp && strcmp(ca->key_type, "hsm") == 0;
    uint64_t gen = hsm ? relay_link_hsm_generation() : 0;
    pthread_mutex_lock(&g_mu);
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        if (g_cache[i].signer && g_cache[i].ca_id == ca->id && g_cache[i].ocsp == ocsp) {
            if (g_cache[i].generation != gen) {
                retire(g_cache[i].signer);
                g_cache[i].signer = NULL;
                break;
            }
            g_cache[i].used = ++g_tick;
            pki_signer *s = g_cache[i].signer;
            pthread_mutex_unlock(&g_mu);
            return s;
        }
    }
    pthread_mutex_unlock(&g_mu);
    pki_signer *s = hsm ? hsm_signer(ca, err, errlen)
                        : unseal(app, ca->id, ocsp ? "ocsp" : "", blob, len, err, errlen);
    if (!s)
        return NULL;
    pthread_mutex_lock(&g_mu);
    /* Another thread may have filled it meanwhile: keep the first, drop ours. */
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        if (g_cache[i].signer && g_cache[i].ca_id == ca->id && g_cache[i].ocsp == ocsp &&
            g_cache[i].generation == gen) {
            pki_signer *first = g_cache[i].signer;
            pthread_mutex_unlock(&g_mu);
            pki_signer_free(s);
            return first;
        }
    }
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        if (g_cache[i].signer && g_cache[i].ca_id == ca->id && g_cache[i].ocsp == ocsp) {
            retire(g_cache[i].signer); /* made at an older offer generation */
            g_cache[i].signer = NULL;
        }
    }
    size_t victim = 0;
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        if (!g_cache[i].signer) {
            victim = i;
            break;
        }
        if (g_cache[i].used < g_cache[victim].used)
            victim = i;
    }
    if (g_cache[victim].signer)
        retire(g_cache[victim].signer);
    g_cache[victim] = (slot){ca->id, ocsp, s, ++g_tick, gen};
    pthread_mutex_unlock(&g_mu);
    return s;
}

pki_signer *ca_signer(relay_app *app, const store_ca *ca, char *err, size_t errlen)
{
    return cached(app, ca, 0, ca->sealed_key, ca->sealed_len, err, errlen);
}

pki_signer *ca_ocsp_signer(relay_app *app, const store_ca *ca, char *err, size_t errlen)
{
    if (!ca->ocsp_sealed_key) {
        snprintf(err, errlen, "the CA has no OCSP responder key");
        return NULL;
    }
    return cached(app, ca, 1, ca->ocsp_sealed_key, ca->ocsp_sealed_len, err, errlen);
}

void ca_forget(int64_t ca_id)
{
    pthread_mutex_lock(&g_mu);
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        if (g_cache[i].signer && g_cache[i].ca_id == ca_id) {
            retire(g_cache[i].signer);
            g_cache[i].signer = NULL;
        }
    }
    pthread_mutex_unlock(&g_mu);
}

void ca_cache_free(void)
{
    pthread_mutex_lock(&g_mu);
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        pki_signer_free(g_cache[i].signer);
        g_cache[i].signer = NULL;
    }
    while (g_retired) {
        retired *r = g_retired;
        g_retired = r->next;
        pki_signer_free(r->signer);
        free(r);
    }
    pthread_mutex_unlock(&g_mu);
}
