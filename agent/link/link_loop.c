/* The link on the daemon's event loop: connection, back-off, heartbeat, messages from the relay,
 * and the helper thread that prepares an enrolment. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/random.h>

#include "daemon/status.h"
#include "jsonapi/jsonapi.h"
#include "link/link_client_impl.h"
#include "log/log.h"
#include "util/timefmt.h"
#include "yubikey/yk.h"

#define RELAY_NAME "relay"
#define PROTOCOL "iothsm-link"
#define MSG_LIFETIME 60
#define ENROL_TIMEOUT_MS 20000

int64_t link_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define mono_ms link_mono_ms

static void set_error(agent_link *l, const char *prefix, const char *detail)
{
    pthread_mutex_lock(&l->lock);
    snprintf(l->last_error, sizeof l->last_error, "%s%.200s", prefix, detail);
    pthread_mutex_unlock(&l->lock);
}

static void answer(httpd_deferred **d, int status, json_t *body)
{
    if (!*d) {
        json_decref(body);
        return;
    }
    httpd_response r = {0};
    jsonapi_respond(&r, status, body);
    httpd_complete(*d, &r);
    *d = NULL;
}

static void answer_error(httpd_deferred **d, int status, const char *code, const char *msg)
{
    answer(d, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

/* ---- Sending ------------------------------------------------------------------------------ */

static int send_msg(agent_link *l, const link_msg *m)
{
    if (!l->wsi || !l->id)
        return -1;
    int rc;
    link_frame *f = link_frame_seal(l->id, l->relay_cert, l->relay_cert_len, m, &rc);
    if (!f) {
        pki_err("link: cannot seal %s: %s", link_msg_type_name(m->type), link_status_text(rc));
        return -1;
    }
    pthread_mutex_lock(&l->lock);
    link_frame_push(&l->out, f);
    pthread_mutex_unlock(&l->lock);
    lws_callback_on_writable(l->wsi);
    return 0;
}

link_frame *link_seal_msg(agent_link *l, const link_msg *m)
{
    int rc = LINK_ERR_INTERNAL;
    /* Under the lock: an enrolment on the loop may swap the identity meanwhile. */
    pthread_mutex_lock(&l->lock);
    link_frame *f =
        l->id && !l->stop ? link_frame_seal(l->id, l->relay_cert, l->relay_cert_len, m, &rc) : NULL;
    pthread_mutex_unlock(&l->lock);
    return f;
}

void link_queue_msg(agent_link *l, const link_msg *m)
{
    link_queue_out(l, link_seal_msg(l, m));
}

void link_queue_out(agent_link *l, link_frame *o)
{
    if (!o)
        return;
    pthread_mutex_lock(&l->lock);
    int stopping = l->stop;
    if (!stopping)
        link_frame_push(&l->out, o);
    pthread_mutex_unlock(&l->lock);
    if (stopping)
        free(o);
    else
        lws_cancel_service(l->ctx); /* the loop asks for a writable callback */
}

int link_send_text(agent_link *l, int type, const char *text, uint8_t id[LINK_ID_LEN])
{
    link_msg m;
    if (!l->id || link_msg_init(&m, type, link_identity_name(l->id), RELAY_NAME, MSG_LIFETIME))
        return -1;
    m.body = (const uint8_t *)text;
    m.body_len = text ? strlen(text) : 0;
    if (id)
        memcpy(id, m.request_id, LINK_ID_LEN);
    return send_msg(l, &m);
}

int link_send_json(agent_link *l, int type, json_t *body, uint8_t id[LINK_ID_LEN])
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    int rc = text ? link_send_text(l, type, text, id) : -1;
    if (text) {
        explicit_bzero(text, strlen(text)); /* an ENROL body holds the token */
        free(text);
    }
    return rc;
}

static void send_json(agent_link *l, int type, json_t *body)
{
    (void)link_send_json(l, type, body, NULL);
}

static void drop_queue(agent_link *l)
{
    pthread_mutex_lock(&l->lock);
    link_frame_queue_clear(&l->out);
    pthread_mutex_unlock(&l->lock);
}

/* The keys and slots this appliance holds, for the relay's appliance list. */
static json_t *inventory(agent_link *l)
{
    json_t *keys = l->keys ? yk_manager_list(l->keys) : NULL;
    return json_pack("{s:o}", "keys", keys ? keys : json_array());
}

/* ---- Connecting --------------------------------------------------------------------------- */

static void schedule_connect(agent_link *l, unsigned delay_ms);

static void do_connect(lws_sorted_usec_list_t *sul)
{
    agent_link *l = lws_container_of(sul, agent_link, sul_connect);
    if (l->stop || l->wsi || !l->id)
        return;
    if (!l->enrolled && !l->token[0] && !l->offer)
        return; /* an enrolment that failed or did not finish: wait for a new one */
    char buf[600];
    snprintf(buf, sizeof buf, "%s", l->url);
    const char *prot, *addr, *path;
    int port;
    if (lws_parse_uri(buf, &prot, &addr, &port, &path) != 0 ||
        (strcmp(prot, "wss") != 0 && strcmp(prot, "ws") != 0)) {
        set_error(l, "bad link URL ", l->url);
        return;
    }
    char fullpath[600];
    snprintf(fullpath, sizeof fullpath, "/%s", path);
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = l->ctx;
    ci.vhost = l->vhost;
    ci.address = addr;
    ci.port = port;
    ci.path = fullpath;
    ci.host = addr;
    ci.origin = addr;
    ci.protocol = PROTOCOL;
    ci.local_protocol_name = PROTOCOL;
    ci.pwsi = &l->wsi;
    ci.userdata = l;
    if (strcmp(prot, "wss") == 0) {
        ci.ssl_connection = LCCSCF_USE_SSL;
        if (l->cfg.tls_ca)
            ci.ssl_connection |= LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK;
        else if (!l->cfg.tls_verify)
            ci.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
                                 LCCSCF_ALLOW_EXPIRED | LCCSCF_ALLOW_INSECURE;
    }
    pki_debug("link: connecting to %s (attempt %u)", l->url, l->attempts + 1);
    if (!lws_client_connect_via_info(&ci)) {
        l->wsi = NULL;
        schedule_connect(l, 0);
    }
}

/* Exponential back-off with jitter: 250 ms doubling up to the cap, each delay drawn from its
 * upper half, so a fleet of appliances does not reconnect in step after a relay restart. */
static void schedule_connect(agent_link *l, unsigned delay_ms)
{
    if (l->stop)
        return;
    if (delay_ms == 0) {
        unsigned shift = l->attempts < 10 ? l->attempts : 10;
        unsigned d = 250u << shift;
        if (d > l->cfg.max_backoff_ms)
            d = l->cfg.max_backoff_ms;
        uint32_t r = 0;
        WC_RNG rng;
        if (wc_InitRng(&rng) == 0) {
            wc_RNG_GenerateBlock(&rng, (byte *)&r, sizeof r);
            wc_FreeRng(&rng);
        }
        delay_ms = d / 2 + (d > 1 ? r % (d / 2 + 1) : 0);
        l->attempts++;
    }
    lws_sul_schedule(l->ctx, 0, &l->sul_connect, do_connect, (lws_usec_t)delay_ms * 1000);
}

/* ---- Messages from the relay -------------------------------------------------------------- */

static void handle_message(agent_link *l, const uint8_t *env, size_t len)
{
    link_msg m;
    uint8_t *content = NULL;
    size_t content_len;
    int rc = link_open(l->id, l->relay_cert, l->relay_cert_len, RELAY_NAME, l->replay, env, len, &m,
                       &content, &content_len);
    if (rc != LINK_OK) {
        pki_warn("link: refused a message from the relay: %s (%s)", link_status_code(rc),
                 link_status_text(rc));
        agent_state_audit(l->st, "relay", "link.refused", 0, "", link_status_code(rc));
        return;
    }
    switch (m.type) {
    case LINK_MSG_ENROLLED: {
        json_t *b = json_loadb((const char *)m.body, m.body_len, 0, NULL);
        int was_enrolled = l->enrolled;
        if (!was_enrolled) {
            link_finish_enrolment(l);
            pki_notice("link: enrolled with the relay as %s", link_identity_name(l->id));
            link_adopt_device_cert(l, b);
        }
        link_offer_answer(l, &m, 0, NULL, NULL, b);
        answer(&l->enrol_answer, 200,
               json_pack("{s:s,s:s,s:s}", "state", "enrolled", "device", link_identity_name(l->id),
                         "relay_fingerprint", l->relay_fp));
        if (!was_enrolled)
            send_json(l, LINK_MSG_HELLO, inventory(l));
        json_decref(b);
        break;
    }
    case LINK_MSG_WELCOME:
        l->online = 1;
        l->attempts = 0;
        pthread_mutex_lock(&l->lock);
        l->last_error[0] = 0;
        pthread_mutex_unlock(&l->lock);
        pki_info("link: online with the relay at %s", l->url);
        pki_status_set("link", "linked to %s", l->url);
        link_offer_send(l); /* an offer that waited for the connection */
        break;
    case LINK_MSG_ERROR: {
        json_t *b = json_loadb((const char *)m.body, m.body_len, 0, NULL);
        const char *msg = b ? json_string_value(json_object_get(b, "message")) : NULL;
        pki_warn("link: the relay refused: %s", msg ? msg : "(no reason)");
        set_error(l, "the relay refused: ", msg ? msg : "(no reason)");
        answer_error(&l->enrol_answer, 400, "enrolment_refused", msg ? msg : "refused");
        link_offer_answer(l, &m, 400, "enrolment_refused", msg ? msg : "refused", NULL);
        if (!l->enrolled) {
            /* A refused token is not tried again; the operator enrols anew. */
            explicit_bzero(l->token, sizeof l->token);
            l->close_now = 1;
            lws_callback_on_writable(l->wsi);
        }
        json_decref(b);
        break;
    }
    case LINK_MSG_PING: {
        link_msg pong;
        link_msg_reply(&pong, &m, LINK_MSG_PONG, MSG_LIFETIME);
        send_msg(l, &pong);
        break;
    }
    case LINK_MSG_PONG:
        break;
    case LINK_MSG_SIGN_REQ:
        link_on_sign_request(l, &m);
        break;
    default:
        pki_warn("link: unexpected %s from the relay", link_msg_type_name(m.type));
        break;
    }
    free(content);
}

/* ---- Enrolment ---------------------------------------------------------------------------- */

static agent_link *G_AGENT_LINK; /* one link per process: the protocol callback finds it here */

static void *helper_main(void *arg)
{
    agent_link *l = arg;
    link_prepare_enrolment(l, l->job);
    pthread_mutex_lock(&l->lock);
    l->helper_done = 1;
    pthread_mutex_unlock(&l->lock);
    lws_cancel_service(l->ctx);
    return NULL;
}

/* From the API handler on the loop: the network part runs on a helper thread. */
void link_start_enrolment(agent_link *l, link_enrol_job *job)
{
    l->job = job;
    l->helper_done = 0;
    if (pthread_create(&l->helper, NULL, helper_main, l) != 0) {
        l->job = NULL;
        answer_error(&job->answer, 500, "internal", "cannot start the enrolment");
        free(job);
    }
}

static void free_job(link_enrol_job *job)
{
    link_identity_free(job->id);
    free(job->relay_cert);
    explicit_bzero(job->token, sizeof job->token);
    free(job);
}

/* On the loop, once the helper is done: take its result over and connect. */
static void take_job(agent_link *l)
{
    pthread_mutex_lock(&l->lock);
    int done = l->job && l->helper_done;
    pthread_mutex_unlock(&l->lock);
    if (!done)
        return;
    pthread_join(l->helper, NULL);
    link_enrol_job *job = l->job;
    l->job = NULL;
    if (!job->id) {
        pki_warn("link: enrolment refused before connecting: %s", job->err);
        answer_error(&job->answer, 400, "enrolment_failed", job->err);
        free_job(job);
        return;
    }
    answer_error(&l->enrol_answer, 409, "superseded", "a newer enrolment replaced this one");
    link_adopt_identity(l, job->id, job->relay_cert, job->relay_cert_len, job->fp, job->url);
    job->id = NULL;
    job->relay_cert = NULL;
    pthread_mutex_lock(&l->lock);
    snprintf(l->token, sizeof l->token, "%s", job->token);
    pthread_mutex_unlock(&l->lock);
    l->enrol_answer = job->answer;
    l->enrol_deadline_ms = mono_ms() + ENROL_TIMEOUT_MS;
    free_job(job);
}

void link_adopt_identity(agent_link *l, link_identity *id, uint8_t *relay_cert,
                         size_t relay_cert_len, const char *fp, const char *url)
{
    pthread_mutex_lock(&l->lock);
    link_identity_free(l->id);
    l->id = id;
    free(l->relay_cert);
    l->relay_cert = relay_cert;
    l->relay_cert_len = relay_cert_len;
    snprintf(l->relay_fp, sizeof l->relay_fp, "%.64s", fp);
    snprintf(l->url, sizeof l->url, "%s", url);
    explicit_bzero(l->token, sizeof l->token);
    l->enrolled = 0;
    pthread_mutex_unlock(&l->lock);
    l->attempts = 0;
    if (l->wsi) {
        l->close_now = 1; /* reconnect with the new identity */
        lws_callback_on_writable(l->wsi);
    } else {
        schedule_connect(l, 1);
    }
}

/* Once a second: heartbeat, dead relay, enrolment timeout. */
static void tick(lws_sorted_usec_list_t *sul)
{
    agent_link *l = lws_container_of(sul, agent_link, sul_tick);
    int64_t now = mono_ms();
    if (l->enrol_answer && now > l->enrol_deadline_ms) {
        answer_error(&l->enrol_answer, 504, "enrolment_timeout",
                     "the relay did not answer the enrolment in time");
    }
    link_offer_check(l, now, NULL);
    if (l->wsi && l->connected) {
        if (now - l->last_rx_ms > (int64_t)l->cfg.dead_ms) {
            pki_warn("link: relay silent for %u ms; reconnecting", l->cfg.dead_ms);
            l->close_now = 1;
            lws_callback_on_writable(l->wsi);
        } else if (l->enrolled && now - l->last_ping_ms >= (int64_t)l->cfg.ping_ms) {
            l->last_ping_ms = now;
            link_msg ping;
            link_msg_init(&ping, LINK_MSG_PING, link_identity_name(l->id), RELAY_NAME,
                          MSG_LIFETIME);
            send_msg(l, &ping);
        }
    }
    lws_sul_schedule(l->ctx, 0, &l->sul_tick, tick, 1000 * 1000);
}

/* ---- The protocol callback ---------------------------------------------------------------- */

static void on_down(agent_link *l, const char *why)
{
    int was_online = l->online;
    l->wsi = NULL;
    l->connected = l->online = l->close_now = 0;
    free(l->rx);
    l->rx = NULL;
    l->rx_len = 0;
    drop_queue(l);
    if (was_online) {
        pki_warn("link: connection to the relay lost (%s)", why);
        pki_status_set("link", "relay offline, reconnecting");
    }
    set_error(l, "", why);
    link_offer_check(l, mono_ms(), why);
    schedule_connect(l, 0);
}

static int client_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    (void)user;
    agent_link *l = G_AGENT_LINK;
    if (!l || l->stop)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        l->connected = 1;
        l->last_rx_ms = l->last_ping_ms = mono_ms();
        pki_debug("link: connected to %s", l->url);
        if (!l->enrolled && !l->token[0]) {
            link_offer_send(l); /* a new device enrolling with a slot's offer */
        } else if (!l->enrolled) {
            json_t *b = json_pack("{s:s}", "token", l->token);
            send_json(l, LINK_MSG_ENROL, b);
        } else {
            send_json(l, LINK_MSG_HELLO, inventory(l));
        }
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        l->last_rx_ms = mono_ms();
        if (!lws_frame_is_binary(wsi) || l->rx_len + len > LINK_MAX_MESSAGE + 65536)
            return -1;
        uint8_t *g = realloc(l->rx, l->rx_len + len);
        if (!g)
            return -1;
        l->rx = g;
        memcpy(l->rx + l->rx_len, in, len);
        l->rx_len += len;
        if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
            uint8_t *msg = l->rx;
            size_t n = l->rx_len;
            l->rx = NULL;
            l->rx_len = 0;
            handle_message(l, msg, n);
            free(msg);
        }
        return 0;
    }
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
        if (l->close_now)
            return -1;
        pthread_mutex_lock(&l->lock);
        link_frame *o = link_frame_pop(&l->out);
        int more = l->out.head != NULL;
        pthread_mutex_unlock(&l->lock);
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
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (wsi == l->wsi || !l->connected)
            on_down(l, in && len ? "connection failed" : "connection failed");
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        on_down(l, "connection closed");
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        take_job(l);
        link_offer_take(l);
        pthread_mutex_lock(&l->lock);
        int pending = l->out.head != NULL;
        pthread_mutex_unlock(&l->lock);
        if (pending && l->wsi)
            lws_callback_on_writable(l->wsi);
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols CLIENT_PROTOCOLS[] = {
    {PROTOCOL, client_cb, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

int link_loop_attach(agent_link *l, struct lws_context *ctx)
{
    char path[1200], err[256];
    snprintf(path, sizeof path, "%s/link-replay.db", l->cfg.state_dir);
    l->replay = link_replay_open(path, err, sizeof err);
    if (!l->replay) {
        pki_err("link: replay cache %s: %s", path, err);
        return -1;
    }
    /* A client-only vhost on the daemon's context: one event loop, one TLS library state. */
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.vhost_name = "link-client";
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = CLIENT_PROTOCOLS;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.client_ssl_ca_filepath = l->cfg.tls_ca;
    info.timeout_secs = 10;
    l->ctx = ctx;
    l->vhost = ctx ? lws_create_vhost(ctx, &info) : NULL;
    if (!l->vhost) {
        pki_err("link: cannot create the client vhost");
        return -1;
    }
    G_AGENT_LINK = l;
    lws_sul_schedule(l->ctx, 0, &l->sul_tick, tick, 1000 * 1000);
    if (l->id)
        schedule_connect(l, 1);
    return 0;
}

void agent_link_shutdown(agent_link *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->lock);
    l->stop = 1;
    pthread_mutex_unlock(&l->lock);
    lws_sul_cancel(&l->sul_tick);
    lws_sul_cancel(&l->sul_connect);
    if (l->job) {
        pthread_join(l->helper, NULL);
        answer_error(&l->job->answer, 503, "stopping", "the agent is stopping");
        free_job(l->job);
        l->job = NULL;
    }
    answer_error(&l->enrol_answer, 503, "stopping", "the agent is stopping");
    link_offer_check(l, INT64_MAX, "the agent is stopping");
}

void link_loop_detach(agent_link *l)
{
    if (G_AGENT_LINK == l)
        G_AGENT_LINK = NULL;
    drop_queue(l);
    free(l->rx);
    l->rx = NULL;
    link_replay_close(l->replay);
    l->replay = NULL;
}
