/* The appliance-backed signer (ARCHITECTURE decision 2, relay side): sign() seals a sign request
 * to the appliance holding the CA's slot and returns; the answer completes it on the event loop
 * after its signature verified against the CA's public key. An appliance that is not online
 * refuses at once (PKI_SIGN_ERR_OFFLINE); one that goes away fails its requests at once; one
 * that does not answer in time gets PKI_SIGN_ERR_TIMEOUT. */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keys/keys.h"
#include "link/link_impl.h"
#include "link/link_server.h"
#include "log/log.h"

#define MSG_LIFETIME 60

#define MAX_CANDIDATES 8

/* The signer: which appliances hold the CA's key (the same slot on each). */
typedef struct {
    char appliances[MAX_CANDIDATES][LINK_NAME_MAX];
    char slots[MAX_CANDIDATES][32]; /* "<serial>/<slot>" on that appliance */
    size_t n;
    char ca_id[LINK_NAME_MAX];
    unsigned timeout_ms;
} link_signer_impl;

/* One request waiting for its answer. It carries everything needed to send it again, so when
 * its appliance goes away it moves to another one that holds the key. */
typedef struct pending {
    struct pending *next;
    uint8_t id[LINK_ID_LEN];
    char appliance[LINK_NAME_MAX]; /* where it is now */
    link_signer_impl cand;         /* a copy: the signer may be freed by a caller that gave up */
    uint8_t *spki;
    size_t spki_len;
    pki_sig_alg alg;
    uint8_t *tbs;
    size_t tbs_len;
    pki_sign_done_fn done;
    void *ctx;
    int64_t deadline_ms;
} pending;

static pending *g_pending; /* under G_LINK.lock */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pending_free(pending *p)
{
    free(p->spki);
    free(p->tbs);
    free(p);
}

/* The online session of an appliance (lock held). */
static link_session *find_session(const char *appliance)
{
    for (link_session *s = G_LINK.sessions; s; s = s->next)
        if (strcmp(s->peer, appliance) == 0 && s->peer_cert)
            return s;
    return NULL;
}

/* The online candidate with the fewest requests waiting (lock held), or NULL; *which is its
 * index. Balances the load and fails over in one rule. */
static link_session *choose(const link_signer_impl *c, size_t *which)
{
    link_session *best = NULL;
    size_t best_load = (size_t)-1;
    for (size_t i = 0; i < c->n; i++) {
        link_session *s = find_session(c->appliances[i]);
        if (!s)
            continue;
        size_t load = 0;
        for (pending *p = g_pending; p; p = p->next)
            load += strcmp(p->appliance, c->appliances[i]) == 0;
        if (load < best_load) {
            best = s;
            best_load = load;
            *which = i;
        }
    }
    return best;
}

/* Seals p as a new sign request to the best online candidate and queues it; p joins the
 * waiting list. 0, PKI_SIGN_ERR_OFFLINE when the chosen appliance went away while p was being
 * sealed (or none is online), or _INTERNAL (p is then not listed). */
static int send_pending_once(pending *p)
{
    char name[LINK_NAME_MAX];
    uint8_t *cert = NULL;
    size_t cert_len = 0, which = 0;
    pthread_mutex_lock(&G_LINK.lock);
    link_session *sess = G_LINK.started ? choose(&p->cand, &which) : NULL;
    if (sess && (cert = malloc(sess->peer_cert_len))) {
        memcpy(cert, sess->peer_cert, sess->peer_cert_len);
        cert_len = sess->peer_cert_len;
        snprintf(name, sizeof name, "%s", sess->peer);
    }
    pthread_mutex_unlock(&G_LINK.lock);
    if (!sess || !cert) {
        free(cert);
        return !sess ? PKI_SIGN_ERR_OFFLINE : PKI_SIGN_ERR_INTERNAL;
    }
    link_sign_req req = {.alg = p->alg, .tbs = p->tbs, .tbs_len = p->tbs_len};
    uint8_t *body = NULL;
    size_t body_len;
    link_msg m;
    link_frame *o = NULL;
    int rc = link_sign_req_encode(&req, &body, &body_len);
    if (rc == LINK_OK &&
        link_msg_init(&m, LINK_MSG_SIGN_REQ, RELAY_LINK_NAME, name, MSG_LIFETIME) != 0)
        rc = LINK_ERR_INTERNAL;
    if (rc == LINK_OK) {
        snprintf(m.ca_id, sizeof m.ca_id, "%s", p->cand.ca_id);
        snprintf(m.slot, sizeof m.slot, "%s", p->cand.slots[which]);
        m.body = body;
        m.body_len = body_len;
        o = link_frame_seal(G_LINK.id, cert, cert_len, &m, &rc);
    }
    free(body);
    free(cert);
    if (!o)
        return PKI_SIGN_ERR_INTERNAL;
    memcpy(p->id, m.request_id, LINK_ID_LEN);
    snprintf(p->appliance, sizeof p->appliance, "%s", name);
    pthread_mutex_lock(&G_LINK.lock);
    sess = find_session(name); /* it may have gone while we sealed */
    if (sess) {
        link_frame_push(&sess->out, o);
        p->next = g_pending;
        g_pending = p;
    }
    struct lws_context *lctx = G_LINK.ctx;
    pthread_mutex_unlock(&G_LINK.lock);
    if (!sess) {
        free(o);
        return PKI_SIGN_ERR_OFFLINE;
    }
    lws_cancel_service(lctx); /* the loop asks for a writable callback */
    return 0;
}

/* send_pending_once, chosen again when the appliance it picked went away in between (the loop
 * drops a closed session on its own thread, so an API thread can pick one that is leaving):
 * the request goes to another holder of the key rather than failing while one is online. */
static int send_pending(pending *p)
{
    int rc = PKI_SIGN_ERR_OFFLINE;
    for (size_t attempt = 0; attempt <= MAX_CANDIDATES && rc == PKI_SIGN_ERR_OFFLINE; attempt++)
        rc = send_pending_once(p);
    return rc;
}

static int link_sign(pki_signer *s, pki_sig_alg alg, const uint8_t *tbs, size_t tbs_len,
                     pki_sign_done_fn done, void *ctx)
{
    link_signer_impl *im = s->impl;
    if (!done || !tbs || !tbs_len)
        return PKI_SIGN_ERR_INTERNAL;
    if (!pki_sig_alg_fits_key(alg, s->key_type))
        return PKI_SIGN_ERR_BAD_ALG;
    pending *p = calloc(1, sizeof *p);
    if (!p || !(p->tbs = malloc(tbs_len)) || !(p->spki = malloc(s->spki_len))) {
        if (p)
            pending_free(p);
        return PKI_SIGN_ERR_INTERNAL;
    }
    p->cand = *im;
    memcpy(p->spki, s->spki, s->spki_len);
    p->spki_len = s->spki_len;
    p->alg = alg;
    memcpy(p->tbs, tbs, tbs_len);
    p->tbs_len = tbs_len;
    p->done = done;
    p->ctx = ctx;
    p->deadline_ms = mono_ms() + im->timeout_ms;
    int rc = send_pending(p);
    if (rc != 0)
        pending_free(p);
    return rc;
}

static void link_destroy(pki_signer *s)
{
    free(s->impl);
    free(s->spki);
    free(s);
}

static const struct pki_signer_ops LINK_SIGNER_OPS = {.sign = link_sign, .destroy = link_destroy};

pki_signer *relay_link_signer_new(const char *targets, const char *ca_id, const uint8_t *spki,
                                  size_t spki_len, unsigned timeout_ms, char *err, size_t errlen)
{
    pki_key_type type;
    unsigned bits;
    if (pki_spki_info(spki, spki_len, &type, &bits, err, errlen) != 0)
        return NULL;
    if (strlen(ca_id ? ca_id : "") >= LINK_NAME_MAX) {
        snprintf(err, errlen, "CA id too long");
        return NULL;
    }
    pki_signer *s = calloc(1, sizeof *s);
    link_signer_impl *im = calloc(1, sizeof *im);
    if (!s || !im || !(s->spki = malloc(spki_len))) {
        free(s);
        free(im);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    memcpy(s->spki, spki, spki_len);
    s->spki_len = spki_len;
    s->ops = &LINK_SIGNER_OPS;
    s->key_type = type;
    s->rsa_bits = bits;
    s->default_alg = pki_sig_alg_default(type);
    /* "<appliance>/<serial>/<slot>[,…]": every appliance that holds the key, and where. */
    for (const char *p = targets; *p;) {
        size_t len = strcspn(p, ",");
        const char *slash = memchr(p, '/', len);
        size_t name_len = slash ? (size_t)(slash - p) : 0;
        if (!slash || name_len == 0 || name_len >= LINK_NAME_MAX || len - name_len - 1 == 0 ||
            len - name_len - 1 >= sizeof im->slots[0] || im->n == MAX_CANDIDATES) {
            snprintf(err, errlen,
                     "targets: 1 to %d entries <appliance>/<serial>/<slot> separated by commas",
                     MAX_CANDIDATES);
            free(s->spki);
            free(s);
            free(im);
            return NULL;
        }
        memcpy(im->appliances[im->n], p, name_len);
        im->appliances[im->n][name_len] = 0;
        memcpy(im->slots[im->n], slash + 1, len - name_len - 1);
        im->slots[im->n][len - name_len - 1] = 0;
        im->n++;
        p += len + (p[len] == ',');
    }
    if (im->n == 0) {
        snprintf(err, errlen, "no appliance named");
        free(s->spki);
        free(s);
        free(im);
        return NULL;
    }
    snprintf(im->ca_id, sizeof im->ca_id, "%s", ca_id ? ca_id : "");
    im->timeout_ms = timeout_ms ? timeout_ms : RELAY_LINK_SIGN_TIMEOUT_MS;
    s->impl = im;
    return s;
}

/* ---- Completion on the loop --------------------------------------------------------------- */

/* Takes the pending request (lock held by nobody). */
static pending *take(const char *appliance, const uint8_t id[LINK_ID_LEN])
{
    pthread_mutex_lock(&G_LINK.lock);
    pending *found = NULL;
    for (pending **pp = &g_pending; *pp; pp = &(*pp)->next)
        if (memcmp((*pp)->id, id, LINK_ID_LEN) == 0 && strcmp((*pp)->appliance, appliance) == 0) {
            found = *pp;
            *pp = found->next;
            break;
        }
    pthread_mutex_unlock(&G_LINK.lock);
    return found;
}

void link_signer_on_response(const link_msg *m)
{
    pending *p = take(m->sender, m->request_id);
    if (!p) {
        pki_warn("link: a sign response from %s for no waiting request (late or unknown)",
                 m->sender);
        return;
    }
    link_sign_resp r;
    if (link_sign_resp_decode(m->body, m->body_len, &r) != LINK_OK) {
        pki_warn("link: malformed sign response from %s", m->sender);
        p->done(p->ctx, PKI_SIGN_ERR_INTERNAL, NULL, 0);
    } else if (r.status != PKI_SIGN_OK) {
        pki_warn("link: appliance %s refused to sign: %s (%s)", m->sender,
                 pki_sign_status_text(r.status), r.reason);
        p->done(p->ctx, r.status, NULL, 0);
    } else if (pki_spki_verify(p->spki, p->spki_len, p->alg, p->tbs, p->tbs_len, r.sig,
                               r.sig_len) != 0) {
        /* Never hand on a signature the CA's key did not make. */
        pki_err("link: appliance %s returned a signature that does not verify with the CA key",
                m->sender);
        p->done(p->ctx, PKI_SIGN_ERR_BAD_SIGNATURE, NULL, 0);
    } else {
        p->done(p->ctx, PKI_SIGN_OK, r.sig, r.sig_len);
    }
    pending_free(p);
}

/* Fails requests that timed out, or all of an appliance's when it went away (appliance may be
 * NULL: only timeouts). Completions run without the lock. */
void link_signer_sweep(const char *gone_appliance)
{
    int64_t now = mono_ms();
    pending *expired = NULL;
    pthread_mutex_lock(&G_LINK.lock);
    for (pending **pp = &g_pending; *pp;) {
        pending *p = *pp;
        int gone = gone_appliance && strcmp(p->appliance, gone_appliance) == 0;
        if (gone || now >= p->deadline_ms) {
            *pp = p->next;
            p->next = expired;
            p->deadline_ms = gone ? -1 : p->deadline_ms;
            expired = p;
        } else {
            pp = &p->next;
        }
    }
    pthread_mutex_unlock(&G_LINK.lock);
    while (expired) {
        pending *p = expired;
        expired = p->next;
        if (p->deadline_ms < 0) {
            /* Its appliance went away: another one holding the key takes it over. */
            p->deadline_ms = mono_ms() + p->cand.timeout_ms;
            if (send_pending(p) == 0) {
                pki_info("link: sign request moved from %s to %s", gone_appliance, p->appliance);
                continue;
            }
            p->deadline_ms = -1;
        }
        int status = p->deadline_ms < 0 ? PKI_SIGN_ERR_OFFLINE : PKI_SIGN_ERR_TIMEOUT;
        pki_warn("link: sign request to %s failed: %s", p->appliance, pki_sign_status_text(status));
        p->done(p->ctx, status, NULL, 0);
        pending_free(p);
    }
}
