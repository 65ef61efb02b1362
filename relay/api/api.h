/* The REST API: a route table (method + path pattern -> handler), JSON in and out with
 * jansson, errors as {"error":{"code","message"}} with the right status (ARCHITECTURE
 * decision 9), and authentication before any handler runs.
 *
 * The event loop only matches the route (404/405 at once); everything else (authentication,
 * JSON parsing, the handler) runs on a worker with that worker's store handle, and the answer
 * returns through httpd_complete. */
#ifndef RELAY_API_H
#define RELAY_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/parse.h"
#include "app.h"
#include "httpd/httpd.h"
#include "store/store.h"

enum {
    API_PUBLIC = 1 << 0,  /* no authentication */
    API_ADMIN = 1 << 1,   /* administrators only */
    API_BODY = 1 << 2,    /* needs a JSON object body */
    API_NO_CSRF = 1 << 3, /* unsafe, but without a session yet (login, set-up) */
};

#define API_MAX_PARAMS API_PATH_PARAMS

typedef struct api_call api_call;
typedef void (*api_handler)(api_call *c);

typedef struct {
    const char *method;
    const char *pattern; /* "/api/v1/tokens/{id}" */
    unsigned flags;
    api_handler fn;
    const char *summary;
} api_route;

struct api_call {
    relay_app *app;
    store *st;
    const api_route *route;
    /* the request, copied off the loop */
    char method[8];
    char *path;
    char *query;
    uint8_t *body;
    size_t body_len;
    char remote[64];
    bool tls;
    char params[API_MAX_PARAMS][API_PARAM_LEN];
    /* who is asking */
    bool authed;
    bool via_session;
    store_user user;
    char session_digest[AUTH_DIGEST_HEX];
    json_t *json; /* parsed body (API_BODY routes) */
    int64_t now;
    httpd_response resp;
    /* headers the dispatcher needs */
    char cookie[4096];
    char authorization[512];
    char csrf[128];
    char content_type[128];
};

/* The table (relay/api/routes.c). */
extern const api_route API_ROUTES[];
extern const size_t API_ROUTES_LEN;

/* From the loop's request handler for paths under /api/. */
void api_dispatch(relay_app *app, const httpd_request *req, httpd_response *resp);
/* Per-worker context for the pool (opens a store handle on that thread). */
void *api_worker_init(void *app);
void api_worker_fini(void *ctx);
/* Prints the route table as JSON lines ({"method","pattern","auth"}) for tests and docs. */
void api_print_routes(void);

/* ---- helpers for handlers ---- */
void api_error(api_call *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sends obj (reference stolen) as JSON with status. */
void api_json(api_call *c, int status, json_t *obj);
void api_no_content(api_call *c);
/* Path parameter i as a positive id; on failure answers 404 and returns false. */
bool api_param_id(api_call *c, int i, int64_t *out);
/* A string member of the JSON body. Absent and required, wrong type, empty, longer than max,
 * or with control characters: answers 400 and returns false. Absent and optional: *out NULL. */
bool api_body_str(api_call *c, const char *key, bool required, size_t max, const char **out);
/* Same, for multi-line text (PEM, CPS): newlines, carriage returns and tabs are allowed. */
bool api_body_text(api_call *c, const char *key, bool required, size_t max, const char **out);
bool api_body_bool(api_call *c, const char *key, bool def, bool *out);
bool api_body_int(api_call *c, const char *key, bool required, int64_t min, int64_t max,
                  int64_t def, int64_t *out);
/* Query parameter (percent-decoded) into buf; NULL when absent or too long. */
const char *api_query(api_call *c, const char *name, char *buf, size_t buflen);
/* Integer query parameter within [min, max] (def when absent); answers 400 when invalid. */
bool api_query_int(api_call *c, const char *name, long long min, long long max, long long def,
                   long long *out);
/* Records an administrative action by the caller (never a secret in detail). */
void api_audit(api_call *c, const char *action, const char *target, int64_t ca_id,
               json_t *detail /* stolen, may be NULL */);
/* RFC 3339 text for a time, as a JSON string (null for 0). */
json_t *api_time(int64_t t);

#endif
