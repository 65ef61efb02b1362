/* Internal to relay/acme: the request context and helpers its files share. */
#ifndef RELAY_ACME_IMPL_H
#define RELAY_ACME_IMPL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "acme/acme.h"
#include "acme/acme_store.h"
#include "acme/jws.h"
#include "acme/nonce.h"
#include "httpd/httpd.h"
#include "store/store.h"

typedef struct {
    relay_app *app;
    char base[512]; /* public URL without trailing slash */
    char resolver[128];
    int http01_port;
    int64_t order_lifetime;
    int validation_timeout;
    int64_t nonce_lifetime;
    acme_nonces *nonces; /* made by the first acme_dispatch */
} acme_config;

extern acme_config g_acme;

typedef struct acme_req {
    relay_app *app;
    store *st;
    char method[8];
    char *path;
    uint8_t *body;
    size_t body_len;
    char content_type[128];
    int64_t now;
    httpd_response resp;
    /* after authentication */
    jws_msg jws;
    json_t *payload;   /* parsed payload object; NULL for POST-as-GET */
    acme_account acct; /* id 0 when the request was signed with a jwk */
    uint8_t *jwk_spki;
    size_t jwk_spki_len;
    pki_key_type jwk_type;
} acme_req;

/* Problem document (RFC 7807 + RFC 8555 6.7) with type urn:ietf:params:acme:error:<type>. */
void acme_problem(acme_req *r, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The problem document as JSON (for order/challenge errors). */
json_t *acme_problem_json(const char *type, int status, const char *detail);
/* Sends obj (stolen) with status; location may be NULL. */
void acme_json(acme_req *r, int status, json_t *obj, const char *location);
/* "<base>/acme/<fmt…>" */
void acme_url(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
json_t *acme_time(int64_t t);

/* Fresh nonce, Cache-Control and the directory Link on a response made by hand. */
void acme_add_common_headers(acme_req *r);
/* Loads an order and brings its status up to date from its authorizations. */
int acme_order_refresh(acme_req *r, int64_t id, acme_order *o);
/* Answers 200 with the order. */
void acme_send_order(acme_req *r, int64_t id);

/* Handlers (the JWS is verified; r->acct is set for kid requests). */
void acme_new_account(acme_req *r);
void acme_account_post(acme_req *r, int64_t id);
void acme_key_change(acme_req *r);
void acme_account_orders(acme_req *r, int64_t id);
void acme_new_order(acme_req *r);
void acme_order_post(acme_req *r, int64_t id);
void acme_finalize(acme_req *r, int64_t id);
void acme_authz_post(acme_req *r, int64_t id);
void acme_challenge_post(acme_req *r, int64_t authz_id, int idx);
void acme_cert_post(acme_req *r, int64_t id);
void acme_revoke(acme_req *r);

/* The authorization as JSON (RFC 8555 7.1.4). */
json_t *acme_authz_json(const acme_authz *a, const char *key_thumbprint);

/* Policy checks on a DNS name (lower-case, validated). */
bool acme_policy_allows(const acme_policy *p, const char *name);
bool acme_policy_preapproved(const acme_policy *p, const char *name);
/* Lower-cases and checks a DNS identifier ("*." allowed first when wildcard_ok). */
bool acme_dns_name_ok(char *name, bool wildcard_ok);

/* "a.b.c.d[:port]" (IPv4, port 53 by default) for acme.resolver. */
struct sockaddr_in;
bool acme_resolver_parse(const char *text, struct sockaddr_in *out);

/* Queues validation of challenge idx of an authorization on the worker pool. */
int acme_validate_submit(relay_app *app, int64_t authz_id, int idx);
/* Runs one validation (blocking; on a worker). Returns true when the key authorization was
 * found; else *problem gets a problem document (caller owns). */
bool acme_validate_http01(const char *host, const char *token, const char *keyauth,
                          json_t **problem);
bool acme_validate_dns01(const char *host, const char *keyauth, json_t **problem);

/* Issues the certificate for a finalized order with the policy's template. Returns 0 and fills
 * out (der, chain_pem, serial), or -1 with an ACME problem type and detail. */
int acme_issue(acme_req *r, const acme_policy *pol, const uint8_t *csr_der, size_t csr_len,
               const uint8_t *spki, size_t spki_len, const char *const *names, size_t n_names,
               acme_cert *out, const char **ptype, char *detail, size_t detail_len);

#endif
