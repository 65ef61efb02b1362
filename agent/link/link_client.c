/* The link client: a thread with its own libwebsockets client context. */
#include "link/link_client.h"

#include <curl/curl.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "certinfo/certinfo.h"
#include "daemon/status.h"
#include "jsonapi/jsonapi.h"
#include "keys/keys.h"
#include "link/link.h"
#include "link/link_client_impl.h"
#include "log/log.h"
#include "seal/seal.h"
#include "util/encoding.h"
#include "util/timefmt.h"

#define RELAY_NAME "relay"
#define MSG_LIFETIME 60
#define ENROL_TIMEOUT_S 20

/* ---- Persisted state ---------------------------------------------------------------------- */

static int put_b64(agent_state *st, const char *name, const uint8_t *d, size_t len)
{
    char *b = pki_base64_encode(d, len);
    int rc = b ? agent_state_set(st, name, b) : -1;
    free(b);
    return rc;
}

static int get_b64(agent_state *st, const char *name, uint8_t **d, size_t *len)
{
    char *b = agent_state_get(st, name);
    int rc = b && b[0] ? pki_base64_decode(b, strlen(b), d, len) : -1;
    free(b);
    return rc;
}

static const uint8_t KEY_AAD[] = "link:device";

/* Loads the device identity and the relay's certificate when enrolment has begun. */
static int load_state(agent_link *l)
{
    uint8_t *sealed = NULL, *key = NULL, *cert = NULL;
    size_t sealed_len, key_len = 0, cert_len;
    char *name = agent_state_get(l->st, "link.device_name");
    char *url = agent_state_get(l->st, "link.url");
    int rc = -1;
    if (!name || !url || get_b64(l->st, "link.device_key", &sealed, &sealed_len) ||
        get_b64(l->st, "link.device_cert", &cert, &cert_len) ||
        get_b64(l->st, "link.relay_cert", &l->relay_cert, &l->relay_cert_len))
        goto done;
    if (seal_decrypt(l->seal, sealed, sealed_len, KEY_AAD, sizeof KEY_AAD - 1, &key, &key_len)) {
        pki_err("link: the device key does not open with link.key");
        goto done;
    }
    char err[256];
    l->id = link_identity_load(name, key, key_len, cert, cert_len, err, sizeof err);
    if (!l->id) {
        pki_err("link: device identity: %s", err);
        goto done;
    }
    snprintf(l->url, sizeof l->url, "%s", url);
    char *enrolled = agent_state_get(l->st, "link.enrolled");
    l->enrolled = enrolled && strcmp(enrolled, "1") == 0;
    free(enrolled);
    link_cert_fingerprint(l->relay_cert, l->relay_cert_len, l->relay_fp);
    rc = 0;
done:
    seal_wipe_free(key, key_len);
    free(sealed);
    free(cert);
    free(name);
    free(url);
    return rc;
}

/* ---- Fetching the relay's link certificate ------------------------------------------------ */

struct buf {
    char *p;
    size_t len;
};

static size_t on_data(char *d, size_t sz, size_t n, void *arg)
{
    struct buf *b = arg;
    if (b->len + sz * n > 65536)
        return 0;
    char *g = realloc(b->p, b->len + sz * n + 1);
    if (!g)
        return 0;
    memcpy(g + b->len, d, sz * n);
    b->p = g;
    b->len += sz * n;
    b->p[b->len] = 0;
    return sz * n;
}

/* https://host:port from wss://host:port/... */
static int https_base(const char *url, char *out, size_t cap)
{
    const char *rest;
    const char *scheme;
    if (strncmp(url, "wss://", 6) == 0) {
        rest = url + 6;
        scheme = "https";
    } else if (strncmp(url, "ws://", 5) == 0) {
        rest = url + 5;
        scheme = "http";
    } else {
        return -1;
    }
    size_t hl = strcspn(rest, "/?#");
    if (hl == 0 || (size_t)snprintf(out, cap, "%s://%.*s", scheme, (int)hl, rest) >= cap)
        return -1;
    return 0;
}

int link_fetch_relay_cert(agent_link *l, const char *url, uint8_t **der, size_t *len, char *err,
                          size_t errlen)
{
    char base[600], full[700];
    if (https_base(url, base, sizeof base)) {
        snprintf(err, errlen, "the link URL must be wss://host[:port]/path");
        return -1;
    }
    snprintf(full, sizeof full, "%s/api/v1/link/certificate", base);
    CURL *c = curl_easy_init();
    struct buf b = {0};
    if (!c)
        return -1;
    curl_easy_setopt(c, CURLOPT_URL, full);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
    if (l->cfg.tls_ca) {
        curl_easy_setopt(c, CURLOPT_CAINFO, l->cfg.tls_ca);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (!l->cfg.tls_verify) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    CURLcode cr = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    int rc = -1;
    if (cr != CURLE_OK)
        snprintf(err, errlen, "cannot reach the relay at %s: %s", base, curl_easy_strerror(cr));
    else if (status != 200)
        snprintf(err, errlen, "the relay answered %ld for its link certificate", status);
    else if (pki_pem_decode(b.p, b.len, "CERTIFICATE", der, len, NULL, 0, NULL) != 0)
        snprintf(err, errlen, "the relay sent no certificate");
    else
        rc = 0;
    free(b.p);
    return rc;
}

/* ---- Enrolment ---------------------------------------------------------------------------- */

link_identity *link_new_device(agent_link *l, const char *url, const uint8_t *relay_cert,
                               size_t relay_cert_len, char *err, size_t errlen)
{
    /* A new device key for every enrolment: a token never pairs with an old key. */
    link_identity *tmp = link_identity_generate("device:new", err, errlen);
    if (!tmp)
        return NULL;
    size_t spki_len;
    const uint8_t *spki = pki_key_spki(link_identity_key(tmp), &spki_len);
    char name[LINK_NAME_MAX];
    if (link_device_name(spki, spki_len, name) != 0) {
        snprintf(err, errlen, "cannot name the device key");
        link_identity_free(tmp);
        return NULL;
    }
    uint8_t *key = NULL, *sealed = NULL;
    size_t key_len = 0, sealed_len;
    link_identity_export_key(tmp, &key, &key_len);
    link_identity_free(tmp);
    link_identity *id = key ? link_identity_self_signed(name, key, key_len, err, errlen) : NULL;
    if (!id)
        goto done;
    size_t dc_len;
    const uint8_t *dc = link_identity_cert(id, &dc_len);
    if (seal_encrypt(l->seal, key, key_len, KEY_AAD, sizeof KEY_AAD - 1, &sealed, &sealed_len) ||
        agent_state_set(l->st, "link.enrolled", "0") ||
        put_b64(l->st, "link.device_key", sealed, sealed_len) ||
        put_b64(l->st, "link.device_cert", dc, dc_len) ||
        agent_state_set(l->st, "link.device_name", name) ||
        put_b64(l->st, "link.relay_cert", relay_cert, relay_cert_len) ||
        agent_state_set(l->st, "link.url", url)) {
        snprintf(err, errlen, "cannot store the link state");
        link_identity_free(id);
        id = NULL;
    }
done:
    pki_secret_free(key, key_len);
    free(sealed);
    return id;
}

/* Runs on a helper thread (it waits on the network): checks the relay's certificate against the
 * fingerprint the operator confirmed, makes and stores a new device key. The loop takes the
 * result over in take_job and connects; the answer comes with ENROLLED. */
void link_prepare_enrolment(agent_link *l, link_enrol_job *job)
{
    uint8_t *cert = NULL;
    size_t cert_len;
    char got[65];
    char *err = job->err;
    size_t errlen = sizeof job->err;
    if (link_fetch_relay_cert(l, job->url, &cert, &cert_len, err, errlen))
        return;
    link_cert_fingerprint(cert, cert_len, got);
    if (strcasecmp(got, job->fp) != 0) {
        snprintf(err, errlen,
                 "the relay's link certificate has fingerprint %s, not the expected %s", got,
                 job->fp);
        free(cert);
        return;
    }
    job->id = link_new_device(l, job->url, cert, cert_len, err, errlen);
    if (!job->id) {
        free(cert);
        return;
    }
    job->relay_cert = cert;
    job->relay_cert_len = cert_len;
    snprintf(job->fp, sizeof job->fp, "%s", got);
    agent_state_audit(l->st, "operator", "link.enrol", 0, "", job->url);
}

int link_adopt_device_cert(agent_link *l, json_t *enrolled)
{
    const char *pem = json_string_value(json_object_get(enrolled, "device_certificate"));
    if (!pem)
        return 1;
    certinfo dev, relay;
    char err[256];
    int rc = -1;
    if (certinfo_parse(&dev, (const uint8_t *)pem, strlen(pem), err, sizeof err) != 0) {
        pki_warn("link: the relay's device certificate is unreadable: %s", err);
        return -1;
    }
    if (certinfo_parse(&relay, l->relay_cert, l->relay_cert_len, err, sizeof err) != 0) {
        certinfo_free(&dev);
        return -1;
    }
    /* Issued and signed by the relay's link certificate (the one we pinned), for our key
     * (link_identity_set_cert checks that). Otherwise the self-signed certificate stays. */
    if (dev.issuer_der_len != relay.subject_der_len ||
        memcmp(dev.issuer_der, relay.subject_der, relay.subject_der_len) != 0 ||
        certinfo_verify_signature(&dev, relay.spki, relay.spki_len, err, sizeof err) != 0) {
        pki_warn("link: refused the device certificate: not issued by the relay's link key");
    } else {
        pthread_mutex_lock(&l->lock); /* worker threads seal with the identity */
        rc = link_identity_set_cert(l->id, dev.der, dev.der_len, err, sizeof err);
        pthread_mutex_unlock(&l->lock);
        if (rc != 0)
            pki_warn("link: refused the device certificate: %s", err);
        else if (put_b64(l->st, "link.device_cert", dev.der, dev.der_len) != 0)
            pki_warn("link: cannot store the device certificate (kept for this run)");
        else
            pki_info("link: the device certificate is now the relay's");
    }
    certinfo_free(&dev);
    certinfo_free(&relay);
    return rc;
}

int link_finish_enrolment(agent_link *l)
{
    explicit_bzero(l->token, sizeof l->token);
    l->enrolled = 1;
    agent_state_audit(l->st, "relay", "link.enrolled", 0, "", l->url);
    return agent_state_set(l->st, "link.enrolled", "1");
}

/* ---- Start and stop ----------------------------------------------------------------------- */

agent_link *agent_link_start(const agent_link_config *cfg, agent_state *st, struct yk_manager *keys,
                             httpd *h)
{
    agent_link *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->cfg = *cfg;
    if (!l->cfg.max_backoff_ms)
        l->cfg.max_backoff_ms = 4000;
    if (!l->cfg.ping_ms)
        l->cfg.ping_ms = 10000;
    if (!l->cfg.dead_ms)
        l->cfg.dead_ms = 25000;
    l->st = st;
    l->keys = keys;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->offer_done, NULL);
    char path[1200], err[256];
    snprintf(path, sizeof path, "%s/link.key", cfg->state_dir);
    l->seal = seal_key_load("link.key", path, err, sizeof err);
    if (!l->seal) {
        pki_err("link: %s", err);
        free(l);
        return NULL;
    }
    if (load_state(l) == 0)
        pki_info("link: %s, relay %s", l->enrolled ? "enrolled" : "enrolment pending", l->url);
    else
        pki_info("link: not configured (enrol from the provisioning UI)");
    if (link_loop_attach(l, httpd_lws_context(h)) != 0) {
        agent_link_free(l);
        return NULL;
    }
    return l;
}

void agent_link_free(agent_link *l)
{
    if (!l)
        return;
    link_loop_detach(l);
    link_identity_free(l->id);
    free(l->relay_cert);
    seal_key_free(l->seal);
    pthread_cond_destroy(&l->offer_done);
    pthread_mutex_destroy(&l->lock);
    explicit_bzero(l->token, sizeof l->token);
    free(l);
}
