/* The relay's end of the appliance link (docs/link.md): the relay's link identity, the
 * registry of enrolled appliances with one-time enrolment tokens, and the WebSocket endpoint
 * (subprotocol "iothsm-link") on the main HTTPS listener that appliances dial.
 *
 * The WebSocket side runs on the event loop; the registry and the API handlers may be called
 * from workers (one lock inside). One instance per process. */
#ifndef RELAY_LINK_SERVER_H
#define RELAY_LINK_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "signer/signer.h"

struct lws_protocols;
typedef struct api_call api_call;

#define RELAY_LINK_PROTOCOL "iothsm-link"
#define RELAY_LINK_NAME "relay"

/* The protocol entry for httpd_options.extra_protocols (NULL-terminated, static). */
const struct lws_protocols *relay_link_protocols(void);
/* Loads or makes the link identity (<state_dir>/link/, the key sealed with the master key),
 * opens the registry (<state_dir>/link.db) and the replay cache. After app->master is loaded,
 * before listeners accept connections. 0, or -1 (logged). */
int relay_link_start(relay_app *app);
void relay_link_stop(void);

/* The appliance-backed signer for a CA whose public key is spki. targets names where the key
 * lives: "<appliance>/<serial>/<slot>" (e.g. "device:0123456789abcdef/12345678/9c"), or several
 * separated by commas when appliances hold the same key: each request goes to the online one
 * with the fewest requests waiting, and moves to another when its appliance goes away.
 * Asynchronous; refuses at once with PKI_SIGN_ERR_OFFLINE when none is connected, completes
 * with PKI_SIGN_ERR_TIMEOUT after timeout_ms (0: RELAY_LINK_SIGN_TIMEOUT_MS),
 * PKI_SIGN_ERR_OFFLINE when its appliance goes away and no other is there, the appliance's own
 * error (PIN blocked, card absent, policy refused, …), or PKI_SIGN_ERR_BAD_SIGNATURE when what
 * came back does not verify with spki. Completions run on the event loop. */
#define RELAY_LINK_SIGN_TIMEOUT_MS 10000
pki_signer *relay_link_signer_new(const char *targets, const char *ca_id, const uint8_t *spki,
                                  size_t spki_len, unsigned timeout_ms, char *err, size_t errlen);

/* REST handlers (relay/api/routes.c). */
void relay_link_api_list(api_call *c);        /* GET /api/v1/appliances */
void relay_link_api_token(api_call *c);       /* POST /api/v1/appliances/enrolment-tokens */
void relay_link_api_certificate(api_call *c); /* GET /api/v1/link/certificate (public) */
void relay_link_api_sign(api_call *c);        /* POST /api/v1/appliances/signature */

/* ---- HSM CAs (hsm-contract; docs/link.md "HSM CAs") --------------------------------------- */

/* What an HSM CA's provisioning certificate carries besides the link's extension: the CA
 * certificate's subject (Name DER), validity and path length; kind is LINK_CA_ROOT or
 * LINK_CA_INTERMEDIATE. */
typedef struct {
    int kind;
    const uint8_t *subject_der;
    size_t subject_len;
    int64_t not_before, not_after;
    int path_len; /* -1: none */
} relay_hsm_template;

/* Keeps the template of a new HSM CA (link registry), so every download makes the same
 * certificate but for the token. 0, or -1 with err. */
int relay_link_hsm_register(int64_t ca_id, const relay_hsm_template *t, char *err, size_t errlen);
/* A provisioning certificate (DER, malloc'd) for the CA with a new one-time enrolment token
 * bound to it, valid ttl seconds; the CA's earlier unspent tokens stop working. Signed by the
 * relay's link key; its one extension of ours is critical. 0, or -1 with err. */
#define RELAY_HSM_TOKEN_TTL (7 * 86400)
int relay_link_hsm_provisioning(int64_t ca_id, int64_t created_by, int64_t ttl, uint8_t **der,
                                size_t *len, char *err, size_t errlen);
/* The "hsm" member of the CA's JSON: {"offers": […], "targets": […]}; targets are the offers
 * holding spki (NULL while the CA has no certificate). */
struct json_t;
struct json_t *relay_link_hsm_json(int64_t ca_id, const uint8_t *spki, size_t spki_len);
/* The targets ("<appliance>/<serial>/<slot>,…", for relay_link_signer_new) whose offered key
 * is spki. Returns how many (0: none), or -1 on error or when they do not fit cap. */
int relay_link_hsm_targets(int64_t ca_id, const uint8_t *spki, size_t spki_len, char *out,
                           size_t cap);
/* The offered certificate (csr 0) or CSR (csr 1), DER malloc'd, when the offers for the CA carry
 * exactly one distinct one: the relay takes the certificate for "Import Signed Certificate" and
 * serves the CSR as the CA's CSR. 0, 1 none or several, -1 error. */
int relay_link_hsm_offered(int64_t ca_id, int csr, uint8_t **der, size_t *len);
/* Grows whenever an offer is recorded or dropped: cached signers compare it to know when to
 * read their targets again. */
uint64_t relay_link_hsm_generation(void);
/* Drops a deleted CA's template, offers and unspent tokens. */
void relay_link_hsm_forget(int64_t ca_id);

/* The API's HTTP status and error code for a signer status (503 appliance_offline, 423
 * pin_blocked, 504 timeout, …; 500 internal for anything else). */
int relay_link_sign_http(int sign_status, const char **code);
/* The signer status a builder's error message names ("signing failed: appliance not
 * connected" → PKI_SIGN_ERR_OFFLINE), or 0 when it names none with an API code of its own. */
int relay_link_sign_status_of(const char *message);

#endif
