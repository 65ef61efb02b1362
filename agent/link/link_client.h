/* The appliance's end of the link (docs/link.md): dials the relay over WSS from a client vhost
 * on the daemon's one event loop (lib/httpd's libwebsockets context), reconnects with exponential
 * back-off and jitter, pings every 10 s and drops a silent relay after 25 s, enrols with a one-time
 * token, and answers the relay's requests.
 *
 * State (relay URL and certificate, device key sealed, device certificate) lives in the agent's
 * state database; the sealing key is the systemd credential "link.key" or
 * <state_dir>/link.key (0600). */
#ifndef AGENT_LINK_CLIENT_H
#define AGENT_LINK_CLIENT_H

#include <stdbool.h>

#include "httpd/httpd.h"
#include "state/state.h"

struct yk_manager;

typedef struct {
    const char *state_dir;
    const char *tls_ca;      /* PEM file the relay's HTTPS certificate must chain to (pins) */
    bool tls_verify;         /* false: any HTTPS certificate (the envelope still authenticates) */
    unsigned max_backoff_ms; /* reconnect delay cap (default 4000) */
    unsigned ping_ms;        /* heartbeat period (default 10000) */
    unsigned dead_ms;        /* silence that drops the connection (default 25000) */
    unsigned allow;          /* kinds the relay may have signed: bits 1 << pki_tbs_kind */
} agent_link_config;

typedef struct agent_link agent_link;

/* "certificate", "crl", "ocsp", "csr", "cms" -> a bit for agent_link_config.allow; 0 unknown. */
unsigned agent_link_allow_bit(const char *name);
/* After httpd_new, before httpd_run. */
agent_link *agent_link_start(const agent_link_config *cfg, agent_state *st, struct yk_manager *keys,
                             httpd *h);
/* Before httpd_free: answers waiting API calls, stops reconnecting, waits for a running
 * enrolment helper. */
void agent_link_shutdown(agent_link *l);
/* After httpd_free (whose teardown closes the connection). */
void agent_link_free(agent_link *l);

/* Answers /api/link/... (after the UI's authentication): returns 1 when it handled req.
 *   GET  /api/link         {"state": "unconfigured|connecting|online|offline", "relay",
 *                           "device", "relay_fingerprint", "last_error"}
 *   POST /api/link/enrol   {"link_url","token","relay_fingerprint"}: fetches and checks the
 *                          relay's link certificate, makes the device key, enrols; answers when
 *                          enrolment succeeded or failed (deferred). */
int agent_link_handle(agent_link *l, const httpd_request *req, httpd_response *resp);

#endif
