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

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* ---- Enrolment from an HSM provisioning certificate (for agent/provision) -----------------
 * These block (network, key generation, the relay's answer): call them from a worker thread,
 * never from the event loop. */

/* The relay's link certificate (DER, malloc'd) from GET /api/v1/link/certificate of the relay
 * behind link_url (wss://host:port/...). 0, or -1 with err. */
int agent_link_relay_certificate(agent_link *l, const char *link_url, uint8_t **der, size_t *len,
                                 char *err, size_t errlen);
/* One relay per appliance: -1 with err when the appliance is enrolled with a relay other than
 * link_url / fp_hex (SHA-256 of its link certificate), else 0. */
int agent_link_check_relay(agent_link *l, const char *link_url, const char *fp_hex, char *err,
                           size_t errlen);
/* Sends ENROL with body (token, ca_id, slot, public_key, certificate | csr, attestation; the
 * caller has checked relay_cert) and waits for the relay's answer (at most 30 s). A device that
 * is not enrolled gets a new device key first; an enrolled one offers over its link. Returns 0
 * with *answer (the ENROLLED body; json_decref it), or the HTTP status for the caller's error
 * with code and msg ("enrolment_refused" with the relay's reason, "other_relay", "busy",
 * "relay_offline", "enrolment_timeout", "link_lost", "stopping"). */
int agent_link_enrol_offer(agent_link *l, const char *link_url, const uint8_t *relay_cert,
                           size_t relay_cert_len, json_t *body, json_t **answer, char *code,
                           size_t code_cap, char *msg, size_t msglen);

#endif
