/* The agent's HTTP front: who may see what (login page and /healthz only without a session),
 * the static UI from webui/agent/, and the JSON API under /api. */
#ifndef AGENT_APP_H
#define AGENT_APP_H

#include "httpd/httpd.h"
#include "state/state.h"
#include "webauth/webauth.h"

struct yk_manager;
struct agent_link;

typedef struct {
    agent_state *state;
    webauth *auth;
    struct yk_manager *keys; /* may be NULL when PC/SC is unavailable */
    const char *webui_root;
    struct agent_link *link; /* the relay link (agent/link); may be NULL */
} agent_app;

/* Refreshes the status line items (YubiKeys present, slots provisioned) for STATUS= and
 * iothsmctl status. Cheap: reads the key cache and the state database. */
void agent_app_status(agent_app *a);

/* The httpd handler; app is an agent_app. */
void agent_app_handle(void *app, const httpd_request *req, httpd_response *resp);

#endif
