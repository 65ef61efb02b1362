/* Internals shared by agent/link's files. */
#ifndef AGENT_LINK_CLIENT_IMPL_H
#define AGENT_LINK_CLIENT_IMPL_H

#include <libwebsockets.h>
#include <pthread.h>
#include <stdint.h>

#include "link/link.h"
#include "link/link_client.h"
#include "seal/seal.h"

typedef struct link_out {
    struct link_out *next;
    size_t len;
    uint8_t data[]; /* LWS_PRE headroom, then the envelope */
} link_out;

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
    link_out *out_head, *out_tail;
    uint8_t *rx;
    size_t rx_len;
    link_enrol_job *job;          /* posted by the API, taken by the link thread */
    httpd_deferred *enrol_answer; /* waiting for ENROLLED */
};

/* Seals m to the relay and queues it; safe from any thread (wakes the loop). */
void link_queue_msg(agent_link *l, const link_msg *m);
void link_on_sign_request(agent_link *l, const link_msg *m);

int link_loop_attach(agent_link *l, struct lws_context *ctx);
void link_loop_detach(agent_link *l);
void link_prepare_enrolment(agent_link *l, link_enrol_job *job);
void link_start_enrolment(agent_link *l, link_enrol_job *job);
int link_finish_enrolment(agent_link *l);
int link_fetch_relay_cert(agent_link *l, const char *url, uint8_t **der, size_t *len, char *err,
                          size_t errlen);

#endif
