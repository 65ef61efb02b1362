/* Internals shared by agent/link's files. */
#ifndef AGENT_LINK_CLIENT_IMPL_H
#define AGENT_LINK_CLIENT_IMPL_H

#include <jansson.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdint.h>

#include "link/link.h"
#include "link/link_client.h"
#include "seal/seal.h"

typedef struct {
    char url[600];
    char token[128];
    char fp[80];
    httpd_deferred *answer;
    /* filled by the helper thread */
    char err[512];
    link_identity *id;
    uint8_t *relay_cert;
    size_t relay_cert_len;
} link_enrol_job;

/* An enrolment that offers a CA slot's key (an HSM provisioning certificate, docs/link.md),
 * waited for by a provisioning thread. That thread posts it under lock; the loop takes it over,
 * sends ENROL and completes it exactly once (ENROLLED, ERROR, timeout, lost connection,
 * shutdown), after which the loop never touches it again. */
typedef struct {
    /* from the provisioning thread */
    char *body;            /* the ENROL JSON text (holds the token) */
    link_identity *new_id; /* a new device identity when not enrolled yet (taken by the loop) */
    uint8_t *relay_cert;   /* with new_id: the relay's link certificate (taken by the loop) */
    size_t relay_cert_len;
    char url[600], fp[65];
    int64_t deadline_ms;
    /* the loop's */
    int taken, sent;
    uint8_t request_id[LINK_ID_LEN];
    /* the outcome */
    int done;
    int http; /* 0 when ENROLLED */
    char code[48];
    char message[512];
    json_t *answer; /* the ENROLLED body */
} link_offer;

struct agent_link {
    agent_link_config cfg;
    agent_state *st;
    struct yk_manager *keys;
    seal_key *seal;
    pthread_mutex_t lock; /* the fields the API reads, the queue, the job */

    link_identity *id; /* NULL: not configured */
    uint8_t *relay_cert;
    size_t relay_cert_len;
    char relay_fp[65];
    char url[600];
    int enrolled;
    char token[128]; /* the one-time token until enrolment succeeds */

    pthread_t helper; /* the enrolment helper, while job is set */
    int helper_done;  /* set by the helper under lock */
    int stop;
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    struct lws *wsi;
    lws_sorted_usec_list_t sul_connect, sul_tick;
    link_replay *replay;
    unsigned attempts;
    int connected, online, close_now;
    int64_t last_rx_ms, last_ping_ms, enrol_deadline_ms;
    char last_error[256];
    link_frame_queue out;
    uint8_t *rx;
    size_t rx_len;
    link_enrol_job *job;          /* posted by the API, taken by the link thread */
    httpd_deferred *enrol_answer; /* waiting for ENROLLED */
    link_offer *offer;            /* an offer enrolment waited for (under lock) */
    pthread_cond_t offer_done;    /* signalled when offer completes */
};

/* Seals m to the relay and queues it; safe from any thread (wakes the loop). */
void link_queue_msg(agent_link *l, const link_msg *m);
/* The two halves of link_queue_msg: seal (NULL on failure), then queue (takes o; NULL is a
 * no-op). A caller can do something in between, such as wait for its audit entry. */
link_frame *link_seal_msg(agent_link *l, const link_msg *m);
void link_queue_out(agent_link *l, link_frame *o);
void link_on_sign_request(agent_link *l, const link_msg *m);

int link_loop_attach(agent_link *l, struct lws_context *ctx);
void link_loop_detach(agent_link *l);
void link_prepare_enrolment(agent_link *l, link_enrol_job *job);
void link_start_enrolment(agent_link *l, link_enrol_job *job);
int link_finish_enrolment(agent_link *l);
/* ENROLLED may carry the relay's certificate for our device key ("device_certificate", PEM):
 * adopted (and stored) when the pinned relay link certificate issued and signed it and it holds
 * our key; the self-signed one stays otherwise. 0 adopted, 1 none given, -1 refused. On the
 * loop. */
int link_adopt_device_cert(agent_link *l, json_t *enrolled);
/* A new device key named after itself, stored (sealed) with the relay's URL and certificate as
 * not yet enrolled. NULL with err. Blocking (key generation, database): not on the loop. */
link_identity *link_new_device(agent_link *l, const char *url, const uint8_t *relay_cert,
                               size_t relay_cert_len, char *err, size_t errlen);
/* On the loop: the offer's side of the link's events. */
void link_offer_take(agent_link *l);
void link_offer_send(agent_link *l);
int link_offer_answer(agent_link *l, const link_msg *m, int http, const char *code,
                      const char *message, json_t *body);
void link_offer_check(agent_link *l, int64_t now_ms, const char *why_down);
/* Seals and queues a JSON message (the body reference is stolen); id (may be NULL) receives
 * its request id. */
int link_send_json(agent_link *l, int type, json_t *body, uint8_t id[LINK_ID_LEN]);
int link_send_text(agent_link *l, int type, const char *text, uint8_t id[LINK_ID_LEN]);
void link_adopt_identity(agent_link *l, link_identity *id, uint8_t *relay_cert,
                         size_t relay_cert_len, const char *fp, const char *url);
int64_t link_mono_ms(void);
int link_fetch_relay_cert(agent_link *l, const char *url, uint8_t **der, size_t *len, char *err,
                          size_t errlen);

#endif
