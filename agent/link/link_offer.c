/* Enrolment from an HSM provisioning certificate: ENROL carrying a CA slot's offer (its public
 * key, self-signed certificate or CSR, attestation), sent for a provisioning thread that waits
 * for the relay's answer before it writes anything to the card (docs/link.md, hsm-contract §3-4).
 *
 * The provisioning thread makes the device identity when the appliance is not enrolled yet
 * (key generation blocks), then posts the offer and sleeps on offer_done. Everything else
 * happens on the loop: adopt the identity and connect, or wait until the enrolled link is
 * online; send ENROL; complete the offer with ENROLLED or ERROR (matched by request id), on a
 * lost connection, at the deadline or when the agent stops. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "link/link_client_impl.h"
#include "log/log.h"

#define OFFER_TIMEOUT_MS 30000

/* Completes the waiting offer once (under lock) and wakes its thread. */
static void complete(agent_link *l, int http, const char *code, json_t *answer, const char *fmt,
                     ...) __attribute__((format(printf, 5, 6)));
static void complete(agent_link *l, int http, const char *code, json_t *answer, const char *fmt,
                     ...)
{
    pthread_mutex_lock(&l->lock);
    link_offer *o = l->offer;
    if (o && !o->done) {
        o->http = http;
        snprintf(o->code, sizeof o->code, "%s", code ? code : "");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(o->message, sizeof o->message, fmt, ap);
        va_end(ap);
        o->answer = answer ? json_incref(answer) : NULL;
        o->done = 1;
        l->offer = NULL;
        pthread_cond_broadcast(&l->offer_done);
    }
    pthread_mutex_unlock(&l->lock);
}

static link_offer *current(agent_link *l)
{
    pthread_mutex_lock(&l->lock);
    link_offer *o = l->offer;
    pthread_mutex_unlock(&l->lock);
    return o;
}

void link_offer_send(agent_link *l)
{
    link_offer *o = current(l);
    if (!o || !o->taken || o->sent || !l->wsi || !l->id)
        return;
    if (link_send_text(l, LINK_MSG_ENROL, o->body, o->request_id) == 0) {
        o->sent = 1;
        pki_info("link: offered a CA slot key to the relay as %s", link_identity_name(l->id));
    }
}

void link_offer_take(agent_link *l)
{
    link_offer *o = current(l);
    if (!o || o->taken)
        return;
    o->taken = 1;
    if (l->job || l->enrol_answer) {
        complete(l, 409, "busy", NULL, "an enrolment is already under way");
        return;
    }
    if (o->new_id) {
        /* Connects with the new identity; CLIENT_ESTABLISHED sends the offer. */
        link_adopt_identity(l, o->new_id, o->relay_cert, o->relay_cert_len, o->fp, o->url);
        o->new_id = NULL;
        o->relay_cert = NULL;
        agent_state_audit(l->st, "operator", "link.enrol", 0, "", o->url);
        return;
    }
    if (!l->enrolled) {
        complete(l, 409, "not_enrolled", NULL,
                 "the appliance's enrolment changed meanwhile: try again");
        return;
    }
    if (l->online)
        link_offer_send(l);
}

int link_offer_answer(agent_link *l, const link_msg *m, int http, const char *code,
                      const char *message, json_t *body)
{
    link_offer *o = current(l);
    if (!o || !o->sent || memcmp(o->request_id, m->request_id, LINK_ID_LEN) != 0)
        return 0;
    if (http == 0) {
        pki_notice("link: the relay accepted the CA slot offer");
        complete(l, 0, NULL, body, "enrolled");
    } else {
        pki_warn("link: the relay refused the CA slot offer: %s", message);
        complete(l, http, code, NULL, "the relay refused the enrolment: %s", message);
    }
    return 1;
}

void link_offer_check(agent_link *l, int64_t now_ms, const char *why_down)
{
    link_offer *o = current(l);
    if (!o)
        return;
    if (now_ms == INT64_MAX) {
        complete(l, 503, "stopping", NULL, "the agent is stopping");
    } else if (why_down && o->sent) {
        /* The relay may or may not have recorded it: the operator looks before retrying. */
        complete(l, 502, "link_lost", NULL,
                 "the connection to the relay dropped during the enrolment (%s); nothing was "
                 "written to the YubiKey. Check the CA on the relay before trying again",
                 why_down);
    } else if (now_ms > o->deadline_ms) {
        if (o->sent)
            complete(l, 504, "enrolment_timeout", NULL,
                     "the relay did not answer the enrolment in time; nothing was written to the "
                     "YubiKey");
        else
            complete(l, 503, "relay_offline", NULL, "the relay at %s cannot be reached (%s)",
                     l->url, l->last_error[0] ? l->last_error : "not connected");
        if (!l->enrolled && l->wsi) {
            l->close_now = 1; /* a new device does not go on trying with this offer */
            lws_callback_on_writable(l->wsi);
        }
    }
}

static int refuse(char *code, size_t code_cap, char *msg, size_t msglen, int http, const char *c,
                  const char *text)
{
    snprintf(code, code_cap, "%s", c);
    snprintf(msg, msglen, "%s", text);
    return http;
}

int agent_link_relay_certificate(agent_link *l, const char *link_url, uint8_t **der, size_t *len,
                                 char *err, size_t errlen)
{
    return link_fetch_relay_cert(l, link_url, der, len, err, errlen);
}

int agent_link_check_relay(agent_link *l, const char *link_url, const char *fp_hex, char *err,
                           size_t errlen)
{
    pthread_mutex_lock(&l->lock);
    int rc = 0;
    if (l->id && l->enrolled &&
        (strcmp(l->url, link_url) != 0 || strcasecmp(l->relay_fp, fp_hex) != 0)) {
        snprintf(err, errlen,
                 "this appliance is enrolled with the relay at %.100s (link certificate "
                 "%.16s...); an appliance serves one relay, and this names %.100s (%.16s...)",
                 l->url, l->relay_fp, link_url, fp_hex);
        rc = -1;
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}

static void offer_free(link_offer *o)
{
    link_identity_free(o->new_id);
    free(o->relay_cert);
    if (o->body) {
        explicit_bzero(o->body, strlen(o->body)); /* the token */
        free(o->body);
    }
    json_decref(o->answer);
    free(o);
}

int agent_link_enrol_offer(agent_link *l, const char *link_url, const uint8_t *relay_cert,
                           size_t relay_cert_len, json_t *body, json_t **answer, char *code,
                           size_t code_cap, char *msg, size_t msglen)
{
    *answer = NULL;
    char fp[65], err[512];
    link_cert_fingerprint(relay_cert, relay_cert_len, fp);
    if (agent_link_check_relay(l, link_url, fp, err, sizeof err) != 0)
        return refuse(code, code_cap, msg, msglen, 409, "other_relay", err);
    pthread_mutex_lock(&l->lock);
    int enrolled = l->id && l->enrolled, busy = l->offer != NULL, stop = l->stop;
    pthread_mutex_unlock(&l->lock);
    if (stop)
        return refuse(code, code_cap, msg, msglen, 503, "stopping", "the agent is stopping");
    if (busy)
        return refuse(code, code_cap, msg, msglen, 409, "busy",
                      "another enrolment is under way: try again when it is done");
    /* Owned by this thread; the loop uses it only until it is done (l->offer is then NULL). */
    link_offer *o = calloc(1, sizeof *o);
    if (!o)
        return refuse(code, code_cap, msg, msglen, 500, "internal", "out of memory");
    snprintf(o->url, sizeof o->url, "%s", link_url);
    snprintf(o->fp, sizeof o->fp, "%s", fp);
    int rc = 0;
    if (!enrolled) {
        o->new_id = link_new_device(l, link_url, relay_cert, relay_cert_len, err, sizeof err);
        if (!o->new_id) {
            rc = refuse(code, code_cap, msg, msglen, 500, "internal", err);
            goto out;
        }
        o->relay_cert = malloc(relay_cert_len);
        if (!o->relay_cert) {
            rc = refuse(code, code_cap, msg, msglen, 500, "internal", "out of memory");
            goto out;
        }
        memcpy(o->relay_cert, relay_cert, relay_cert_len);
        o->relay_cert_len = relay_cert_len;
    }
    o->body = json_dumps(body, JSON_COMPACT);
    if (!o->body) {
        rc = refuse(code, code_cap, msg, msglen, 500, "internal", "out of memory");
        goto out;
    }
    o->deadline_ms = link_mono_ms() + OFFER_TIMEOUT_MS;
    pthread_mutex_lock(&l->lock);
    if (l->offer || l->stop) {
        pthread_mutex_unlock(&l->lock);
        rc = refuse(code, code_cap, msg, msglen, 409, "busy", "another enrolment is under way");
        goto out;
    }
    l->offer = o;
    pthread_mutex_unlock(&l->lock);
    lws_cancel_service(l->ctx); /* the loop takes it over (link_offer_take) */
    /* The loop completes every offer: answer, lost connection, deadline (its one-second tick)
     * or shutdown; so this wait ends. */
    pthread_mutex_lock(&l->lock);
    while (!o->done)
        pthread_cond_wait(&l->offer_done, &l->lock);
    pthread_mutex_unlock(&l->lock);
    if (o->http == 0) {
        *answer = o->answer ? o->answer : json_object();
        o->answer = NULL;
    } else {
        rc = refuse(code, code_cap, msg, msglen, o->http, o->code, o->message);
    }
out:
    offer_free(o);
    return rc;
}
