/* WebSocket sessions with appliances: receive, open and check envelopes, answer on the loop. */
#include <jansson.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/status.h"
#include "keys/keys.h"
#include "link/link_impl.h"
#include "link/link_server.h"
#include "log/log.h"
#include "util/timefmt.h"

/* Appliances ping every 10 s; two missed pings mean the peer is gone (checked every second, so
 * a dead peer is noticed well within 30 s). */
#define DEAD_AFTER 20
#define TIMER_USEC LWS_USEC_PER_SEC
#define MSG_LIFETIME 60

typedef struct {
    link_session *s;
} pss;

void link_session_free(link_session *s)
{
    if (!s)
        return;
    link_frame_queue_clear(&s->out);
    free(s->peer_cert);
    free(s->rx);
    free(s);
}

/* Caller holds the lock. */
void link_status_update(void)
{
    long online = 0;
    for (link_session *s = G_LINK.sessions; s; s = s->next)
        online += s->peer[0] != 0;
    pki_status_count("link", online, "appliance online", "appliances online");
}

static int find_online(const char *name)
{
    for (link_session *it = G_LINK.sessions; it; it = it->next)
        if (strcmp(it->peer, name) == 0)
            return 1;
    return 0;
}

/* Seals m to the session's peer (or to cert when the peer is not bound yet) and queues it. */
static int session_send(link_session *s, const uint8_t *cert, size_t cert_len, const link_msg *m)
{
    int rc;
    link_frame *f = link_frame_seal(G_LINK.id, cert, cert_len, m, &rc);
    if (!f) {
        pki_err("link: cannot seal %s for %s: %s", link_msg_type_name(m->type), m->recipient,
                link_status_text(rc));
        return -1;
    }
    pthread_mutex_lock(&G_LINK.lock);
    link_frame_push(&s->out, f);
    pthread_mutex_unlock(&G_LINK.lock);
    lws_callback_on_writable(s->wsi);
    return 0;
}

static void reply_json(link_session *s, const uint8_t *cert, size_t cert_len, const link_msg *req,
                       int type, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text)
        return;
    link_msg m;
    link_msg_reply(&m, req, type, MSG_LIFETIME);
    m.body = (const uint8_t *)text;
    m.body_len = strlen(text);
    session_send(s, cert, cert_len, &m);
    free(text);
}

/* JSON object body, or NULL. */
static json_t *body_json(const link_msg *m)
{
    if (m->body_len == 0)
        return json_object();
    json_t *j = json_loadb((const char *)m->body, m->body_len, JSON_REJECT_DUPLICATES, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* ENROLLED: the device's name ("name" as before, and "device"); for an offer hsm-contract §3's
 * {"device", "ca_id", "offer": "accepted"}, and when the offer enrolled the device also the
 * relay's certificate for its key ("device_certificate", PEM). The plain answer stays as small
 * as it was (tests/link/wsmitm.py tells sign requests from the first message by size). */
static json_t *enrolled_body(const char *device, const link_slot_offer *o, int new_device)
{
    json_t *b;
    if (!o) {
        b = json_pack("{s:s,s:s}", "name", device, "device", device);
    } else {
        pki_notice("link: appliance %s offers slot %s for CA %s%s", device, o->slot, o->ca_id,
                   o->attested ? " (attested)" : "");
        b = json_pack("{s:s,s:s,s:s}", "device", device, "ca_id", o->ca_id, "offer", "accepted");
    }
    uint8_t *der = NULL;
    size_t len = 0;
    char *pem = NULL;
    size_t pem_len;
    if (new_device) {
        pthread_mutex_lock(&G_LINK.lock);
        int found = registry_issued_cert(device, &der, &len);
        pthread_mutex_unlock(&G_LINK.lock);
        if (found == 0 && pki_pem_encode("CERTIFICATE", der, len, &pem, &pem_len) == 0 && b)
            json_object_set_new(b, "device_certificate", json_string(pem));
    }
    free(der);
    free(pem);
    return b;
}

/* An enrolled appliance offering one more slot (hsm-contract §3): token and offer checked as
 * for a new one, nothing else about the appliance changes. */
static void handle_known_enrol(link_session *s, const link_msg *m)
{
    json_t *body = body_json(m);
    const char *token = body ? json_string_value(json_object_get(body, "token")) : NULL;
    char why[200] = "";
    link_slot_offer offer;
    int parsed = 0;
    if (!token)
        snprintf(why, sizeof why, "the enrolment message carries no token");
    else if (!hsm_offer_present(body))
        snprintf(why, sizeof why,
                 "this appliance is already enrolled (offer a slot, or enrol "
                 "again with a new device key)");
    else if (link_slot_offer_parse(m->body, m->body_len, &offer, why, sizeof why) == 0) {
        parsed = 1;
        pthread_mutex_lock(&G_LINK.lock);
        if (registry_offer(token, m->sender, NULL, 0, &offer, pki_now(), why, sizeof why) == 0)
            why[0] = 0;
        pthread_mutex_unlock(&G_LINK.lock);
    }
    json_decref(body);
    if (why[0]) {
        pki_warn("link: offer from %s refused: %s", m->sender, why);
        reply_json(s, s->peer_cert, s->peer_cert_len, m, LINK_MSG_ERROR,
                   json_pack("{s:s,s:s}", "code", "enrolment_refused", "message", why));
    } else {
        reply_json(s, s->peer_cert, s->peer_cert_len, m, LINK_MSG_ENROLLED,
                   enrolled_body(m->sender, &offer, 0));
    }
    if (parsed)
        link_slot_offer_free(&offer);
}

/* An appliance we do not know yet may only enrol, with a one-time token. */
static void handle_enrol(link_session *s, const uint8_t *signed_der, size_t signed_len)
{
    uint8_t *cert = NULL, *content = NULL;
    size_t cert_len, content_len;
    link_msg m;
    int rc = link_peek_signer(signed_der, signed_len, &cert, &cert_len);
    if (rc == LINK_OK)
        rc = link_verify(signed_der, signed_len, cert, cert_len, &m, &content, &content_len);
    if (rc == LINK_OK && m.type != LINK_MSG_ENROL)
        rc = LINK_ERR_WRONG_SIGNER; /* not enrolled: nothing but enrolment is heard */
    if (rc == LINK_OK)
        rc = link_check(&m, RELAY_LINK_NAME, NULL, G_LINK.replay, pki_now());
    if (rc != LINK_OK) {
        pki_warn("link: refused a message from an unknown appliance: %s (%s)", link_status_code(rc),
                 link_status_text(rc));
        free(cert);
        free(content);
        return;
    }
    json_t *body = body_json(&m);
    const char *token = body ? json_string_value(json_object_get(body, "token")) : NULL;
    char why[200] = "", expected[LINK_NAME_MAX];
    link_slot_offer offer;
    int with_offer = body && hsm_offer_present(body), parsed = 0;
    if (link_device_name_of_cert(cert, cert_len, expected) != 0 || strcmp(m.sender, expected) != 0)
        snprintf(why, sizeof why,
                 "an appliance's link name is device: and the start of its key's "
                 "SHA-256");
    else if (!token)
        snprintf(why, sizeof why, "the enrolment message carries no token");
    else if (with_offer) {
        /* A new appliance that offers a slot for an HSM CA: enrolled and offer recorded in one
         * transaction, or neither. */
        if (link_slot_offer_parse(m.body, m.body_len, &offer, why, sizeof why) == 0) {
            parsed = 1;
            pthread_mutex_lock(&G_LINK.lock);
            int e =
                registry_offer(token, m.sender, cert, cert_len, &offer, pki_now(), why, sizeof why);
            pthread_mutex_unlock(&G_LINK.lock);
            if (e == 0)
                why[0] = 0;
        }
    } else {
        pthread_mutex_lock(&G_LINK.lock);
        int e = registry_enrol(token, m.sender, cert, cert_len, pki_now(), why, sizeof why);
        pthread_mutex_unlock(&G_LINK.lock);
        if (e == 0)
            why[0] = 0;
    }
    json_decref(body);
    if (why[0]) {
        pki_warn("link: enrolment of %s refused: %s", m.sender, why);
        reply_json(s, cert, cert_len, &m, LINK_MSG_ERROR,
                   json_pack("{s:s,s:s}", "code", "enrolment_refused", "message", why));
    } else {
        pki_notice("link: appliance %s enrolled", m.sender);
        pthread_mutex_lock(&G_LINK.lock);
        snprintf(s->peer, sizeof s->peer, "%s", m.sender);
        free(s->peer_cert);
        s->peer_cert = cert;
        s->peer_cert_len = cert_len;
        cert = NULL;
        link_status_update();
        pthread_mutex_unlock(&G_LINK.lock);
        reply_json(s, s->peer_cert, s->peer_cert_len, &m, LINK_MSG_ENROLLED,
                   enrolled_body(m.sender, with_offer ? &offer : NULL, with_offer));
    }
    if (parsed)
        link_slot_offer_free(&offer);
    free(cert);
    free(content);
}

static void dispatch(link_session *s, const link_msg *m)
{
    int64_t now = pki_now();
    switch (m->type) {
    case LINK_MSG_HELLO:
    case LINK_MSG_INVENTORY: {
        json_t *inv = body_json(m);
        char *text = inv ? json_dumps(inv, JSON_COMPACT) : NULL;
        json_decref(inv);
        pthread_mutex_lock(&G_LINK.lock);
        registry_touch(m->sender, now, text);
        pthread_mutex_unlock(&G_LINK.lock);
        free(text);
        if (m->type == LINK_MSG_HELLO) {
            pki_info("link: appliance %s online", m->sender);
            reply_json(s, s->peer_cert, s->peer_cert_len, m, LINK_MSG_WELCOME,
                       json_pack("{s:s}", "relay", RELAY_LINK_NAME));
        }
        break;
    }
    case LINK_MSG_PING: {
        pthread_mutex_lock(&G_LINK.lock);
        registry_touch(m->sender, now, NULL);
        pthread_mutex_unlock(&G_LINK.lock);
        link_msg pong;
        link_msg_reply(&pong, m, LINK_MSG_PONG, MSG_LIFETIME);
        session_send(s, s->peer_cert, s->peer_cert_len, &pong);
        break;
    }
    case LINK_MSG_PONG:
        break;
    case LINK_MSG_SIGN_RESP:
        link_signer_on_response(m);
        break;
    case LINK_MSG_ENROL:
        handle_known_enrol(s, m);
        break;
    default:
        pki_warn("link: unexpected %s from %s", link_msg_type_name(m->type), m->sender);
        break;
    }
}

static void handle_message(link_session *s, const uint8_t *env, size_t len)
{
    uint8_t *signed_der = NULL, *cert = NULL, *pinned = NULL, *content = NULL;
    size_t signed_len, cert_len, pinned_len, content_len;
    char fp[65], name[LINK_NAME_MAX] = "";
    link_msg m;
    int rc = link_unwrap(G_LINK.id, env, len, &signed_der, &signed_len);
    if (rc == LINK_OK)
        rc = link_peek_signer(signed_der, signed_len, &cert, &cert_len);
    if (rc != LINK_OK) {
        pki_warn("link: refused a message: %s (%s)", link_status_code(rc), link_status_text(rc));
        goto done;
    }
    link_cert_fingerprint(cert, cert_len, fp);
    pthread_mutex_lock(&G_LINK.lock);
    int found = registry_find_by_fingerprint(fp, name, &pinned, &pinned_len);
    pthread_mutex_unlock(&G_LINK.lock);
    if (found == 1) {
        handle_enrol(s, signed_der, signed_len);
        goto done;
    }
    if (found < 0) {
        pki_err("link: registry lookup failed");
        goto done;
    }
    rc = link_verify(signed_der, signed_len, pinned, pinned_len, &m, &content, &content_len);
    if (rc == LINK_OK)
        rc = link_check(&m, RELAY_LINK_NAME, name, G_LINK.replay, pki_now());
    if (rc != LINK_OK) {
        pki_warn("link: refused a message from %s: %s (%s)", name, link_status_code(rc),
                 link_status_text(rc));
        goto done;
    }
    pthread_mutex_lock(&G_LINK.lock);
    int other = s->peer[0] && strcmp(s->peer, name) != 0;
    if (!s->peer[0]) {
        snprintf(s->peer, sizeof s->peer, "%s", name);
        s->peer_cert = pinned;
        s->peer_cert_len = pinned_len;
        pinned = NULL;
        link_status_update();
    }
    s->last_rx = pki_now();
    pthread_mutex_unlock(&G_LINK.lock);
    if (other) {
        pki_warn("link: %s spoke on %s's connection; closing it", name, s->peer);
        s->close_now = 1;
        lws_callback_on_writable(s->wsi);
        goto done;
    }
    dispatch(s, &m);
done:
    free(signed_der);
    free(cert);
    free(pinned);
    free(content);
}

static int on_receive(link_session *s, struct lws *wsi, const void *in, size_t len)
{
    if (!lws_frame_is_binary(wsi) || s->rx_len + len > LINK_MAX_MESSAGE + 65536) {
        pki_warn("link: oversized or text frame from %s; closing", s->peer[0] ? s->peer : "?");
        return -1;
    }
    uint8_t *grown = realloc(s->rx, s->rx_len + len);
    if (!grown)
        return -1;
    s->rx = grown;
    memcpy(s->rx + s->rx_len, in, len);
    s->rx_len += len;
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
        return 0;
    uint8_t *msg = s->rx;
    size_t msg_len = s->rx_len;
    s->rx = NULL;
    s->rx_len = 0;
    handle_message(s, msg, msg_len);
    free(msg);
    return 0;
}

static int on_writeable(link_session *s, struct lws *wsi)
{
    if (s->close_now)
        return -1;
    pthread_mutex_lock(&G_LINK.lock);
    link_frame *o = link_frame_pop(&s->out);
    int more = s->out.head != NULL;
    pthread_mutex_unlock(&G_LINK.lock);
    if (!o)
        return 0;
    int n = lws_write(wsi, link_frame_payload(o), o->len, LWS_WRITE_BINARY);
    free(o);
    if (n < 0)
        return -1;
    if (more)
        lws_callback_on_writable(wsi);
    return 0;
}

static int link_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    pss *p = user;
    link_session *s = p ? p->s : NULL;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        /* Only the main (HTTPS) listener speaks the link, and only once we are started. */
        const char *vh = lws_get_vhost_name(lws_get_vhost(wsi));
        return !G_LINK.started || !vh || strcmp(vh, "main") != 0;
    }
    case LWS_CALLBACK_ESTABLISHED:
        if (!(s = calloc(1, sizeof *s)))
            return -1;
        s->wsi = wsi;
        s->connected = s->last_rx = pki_now();
        p->s = s;
        pthread_mutex_lock(&G_LINK.lock);
        G_LINK.ctx = lws_get_context(wsi);
        s->next = G_LINK.sessions;
        G_LINK.sessions = s;
        pthread_mutex_unlock(&G_LINK.lock);
        lws_set_timer_usecs(wsi, TIMER_USEC);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (!s)
            return -1;
        s->last_rx = pki_now();
        return on_receive(s, wsi, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return s ? on_writeable(s, wsi) : 0;
    case LWS_CALLBACK_TIMER:
        if (!s)
            return 0;
        link_signer_sweep(NULL);
        if (pki_now() - s->last_rx > DEAD_AFTER) {
            pki_warn("link: appliance %s silent for %d s; dropping the connection",
                     s->peer[0] ? s->peer : "(not identified)", DEAD_AFTER);
            /* Offline now, not when the close handshake with a dead peer times out. */
            char gone[LINK_NAME_MAX];
            pthread_mutex_lock(&G_LINK.lock);
            snprintf(gone, sizeof gone, "%s", s->peer);
            s->peer[0] = 0;
            link_status_update();
            pthread_mutex_unlock(&G_LINK.lock);
            if (gone[0])
                link_signer_sweep(gone);
            return -1;
        }
        lws_set_timer_usecs(wsi, TIMER_USEC);
        return 0;
    case LWS_CALLBACK_CLOSED:
        if (!s)
            return 0;
        pthread_mutex_lock(&G_LINK.lock);
        for (link_session **pp = &G_LINK.sessions; *pp; pp = &(*pp)->next)
            if (*pp == s) {
                *pp = s->next;
                break;
            }
        if (s->peer[0])
            pki_info("link: appliance %s offline", s->peer);
        link_status_update();
        char gone[LINK_NAME_MAX];
        snprintf(gone, sizeof gone, "%s", s->peer);
        pthread_mutex_unlock(&G_LINK.lock);
        /* Requests waiting on it fail now, not after their timeout (unless another session of
         * the same appliance is up). */
        pthread_mutex_lock(&G_LINK.lock);
        int still = gone[0] && find_online(gone);
        pthread_mutex_unlock(&G_LINK.lock);
        if (gone[0] && !still)
            link_signer_sweep(gone);
        link_session_free(s);
        p->s = NULL;
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        /* Another thread queued messages or asked for a close. */
        pthread_mutex_lock(&G_LINK.lock);
        for (link_session *it = G_LINK.sessions; it; it = it->next)
            if (it->out.head || it->close_now)
                lws_callback_on_writable(it->wsi);
        pthread_mutex_unlock(&G_LINK.lock);
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols LINK_PROTOCOLS[] = {
    {RELAY_LINK_PROTOCOL, link_callback, sizeof(pss), 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

const struct lws_protocols *relay_link_protocols(void)
{
    return LINK_PROTOCOLS;
}
