/* CA keys: sealing under the master key and an in-memory cache of unsealed signers (unsealing
 * and parsing a key for every signature would dominate issuance and OCSP). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"
#include "keys/keys.h"
#include "seal/seal.h"
#include "signer/soft_signer.h"

#define CACHE_SLOTS 256

typedef struct {
    int64_t ca_id;
    int ocsp;
    pki_signer *signer;
    uint64_t used;
} slot;

/* Signers handed out may be in use on other workers at any time, so a signer leaving the cache
 * (eviction, CA deleted, responder re-made) is retired, not freed: retired ones are freed at
 * shutdown. Their number is bounded by how often CAs change, not by traffic. */
typedef struct retired {
    pki_signer *signer;
    struct retired *next;
} retired;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static retired *g_retired;

static void retire(pki_signer *s)
{
    retired *r = malloc(sizeof *r);
    if (!r)
        return; /* leak rather than risk a use after free */
    r->signer = s;
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

static pki_signer *cached(relay_app *app, const store_ca *ca, int ocsp, const uint8_t *blob,
                          size_t len, char *err, size_t errlen)
{
    pthread_mutex_lock(&g_mu);
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        if (g_cache[i].signer && g_cache[i].ca_id == ca->id && g_cache[i].ocsp == ocsp) {
            g_cache[i].used = ++g_tick;
            pki_signer *s = g_cache[i].signer;
            pthread_mutex_unlock(&g_mu);
            return s;
        }
    }
    pthread_mutex_unlock(&g_mu);
    pki_signer *s = unseal(app, ca->id, ocsp ? "ocsp" : "", blob, len, err, errlen);
    if (!s)
        return NULL;
    pthread_mutex_lock(&g_mu);
    /* Another thread may have filled it meanwhile: keep the first, drop ours. */
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        if (g_cache[i].signer && g_cache[i].ca_id == ca->id && g_cache[i].ocsp == ocsp) {
            pki_signer *first = g_cache[i].signer;
            pthread_mutex_unlock(&g_mu);
            pki_signer_free(s);
            return first;
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
    g_cache[victim] = (slot){ca->id, ocsp, s, ++g_tick};
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
