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

#endif
