/* ACME v2 (RFC 8555) with required external account binding (feature S-1).
 *
 * One global directory at <public_url>/acme/directory; the EAB credential a client registers
 * with decides its ACME policy (template, allowed and pre-approved domains) for the life of
 * the account. The loop only matches paths and hands every request to a worker; challenge
 * validation (HTTP-01 over libcurl, DNS-01 through a configurable resolver) runs on workers
 * too. Administrators manage policies and EAB credentials through the REST API. */
#ifndef RELAY_ACME_H
#define RELAY_ACME_H

#include "api/api.h"
#include "app.h"
#include "config/config.h"
#include "httpd/httpd.h"

/* Configuration keys under "acme" (main.c adds them to its schema). */
#define ACME_CONFIG_KEYS                                                                           \
    {"acme", PKI_CFG_GROUP, false, NULL, "ACME server (RFC 8555)"},                                \
        {"acme.resolver", PKI_CFG_STRING, false, "the system's",                                   \
         "DNS server address[:port] for DNS-01 and HTTP-01 look-ups"},                             \
        {"acme.http01_port", PKI_CFG_INT, false, "80",                                             \
         "port HTTP-01 validation connects to (80 by the RFC; tests use another)"},                \
        {"acme.nonce_lifetime", PKI_CFG_INT, false, "300", "seconds an unused nonce stays valid"}, \
        {"acme.order_lifetime", PKI_CFG_INT, false, "86400",                                       \
         "seconds an order and its authorizations stay valid"},                                    \
    {                                                                                              \
        "acme.validation_timeout", PKI_CFG_INT, false, "10",                                       \
            "seconds one HTTP-01 fetch or DNS-01 look-up may take"                                 \
    }

/* Reads the acme.* settings and the public URL; call once before serving. 0, or -1 (logged). */
int acme_configure(relay_app *app, const pki_config *cfg);
void acme_shutdown(void);

/* From the loop's request handler for paths under /acme/. */
void acme_dispatch(relay_app *app, const httpd_request *req, httpd_response *resp);

/* REST handlers (administrators). */
void acme_api_policy_list(api_call *c);   /* GET /api/v1/acme/policies */
void acme_api_policy_create(api_call *c); /* POST /api/v1/acme/policies */
void acme_api_policy_delete(api_call *c); /* DELETE /api/v1/acme/policies/{id} */
void acme_api_eab_list(api_call *c);      /* GET /api/v1/acme/eab */
void acme_api_eab_create(api_call *c);    /* POST /api/v1/acme/eab (HMAC key shown once) */
void acme_api_eab_delete(api_call *c);    /* DELETE /api/v1/acme/eab/{id} */

#endif
