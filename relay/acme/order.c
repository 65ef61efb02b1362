/* Orders, authorizations and challenges (RFC 8555 7.4, 7.5): newOrder checks every identifier
 * against the account's policy; pre-approved names get valid authorizations at once; a
 * challenge POST queues validation on a worker and answers "processing". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/random.h>

#include "acme/acme_impl.h"
#include "log/log.h"
#include "util/encoding.h"

#define MAX_IDENTIFIERS 100
static const char *const CHALL_TYPES[2] = {"http-01", "dns-01"};

static int random_token(char out[48])
{
    uint8_t raw[32];
    WC_RNG rng;
    if (wc_InitRng(&rng) != 0)
        return -1;
    int rc = wc_RNG_GenerateBlock(&rng, raw, sizeof raw);
    wc_FreeRng(&rng);
    char *t = rc == 0 ? pki_base64url_encode(raw, sizeof raw) : NULL;
    if (!t)
        return -1;
    snprintf(out, 48, "%s", t);
    free(t);
    return 0;
}

static json_t *challenge_json(const acme_authz *a, int idx)
{
    char url[700];
    acme_url(url, sizeof url, "chall/%lld/%s", (long long)a->id, CHALL_TYPES[idx]);
    const char *st = a->chall_status[idx];
    json_t *c = json_pack("{s:s, s:s, s:s, s:s}", "type", CHALL_TYPES[idx], "url", url, "token",
                          a->token, "status", strcmp(st, "processing") == 0 ? "processing" : st);
    if (strcmp(st, "valid") == 0)
        json_object_set_new(c, "validated", acme_time(a->validated));
    if (a->chall_failed == idx && a->error) {
        json_error_t jerr;
        json_t *e = json_loads(a->error, 0, &jerr);
        if (e)
            json_object_set_new(c, "error", e);
    }
    return c;
}

json_t *acme_authz_json(const acme_authz *a, const char *thumbprint)
{
    (void)thumbprint;
    json_t *ch = json_array();
    for (int i = 0; i < 2; i++)
        if (a->chall_status[i][0])
            json_array_append_new(ch, challenge_json(a, i));
    json_t *o =
        json_pack("{s:{s:s, s:s}, s:s, s:o, s:o}", "identifier", "type", "dns", "value", a->value,
                  "status", a->status, "expires", acme_time(a->expires), "challenges", ch);
    if (a->wildcard)
        json_object_set_new(o, "wildcard", json_true());
    return o;
}

typedef struct {
    json_t *urls;
    int total, valid, invalid, pending;
    int64_t now;
} authz_summary;

static int summarize(void *ctx, const acme_authz *a)
{
    authz_summary *s = ctx;
    char u[700];
    acme_url(u, sizeof u, "authz/%lld", (long long)a->id);
    json_array_append_new(s->urls, json_string(u));
    s->total++;
    if (strcmp(a->status, "valid") == 0)
        s->valid++;
    else if (strcmp(a->status, "pending") == 0 && a->expires > s->now)
        s->pending++;
    else
        s->invalid++;
    return 0;
}

/* Reloads the order and moves pending -> ready / invalid from its authorizations. */
static int load_order(acme_req *r, int64_t id, acme_order *o, authz_summary *s)
{
    if (acme_order_get(r->st, id, o) != STORE_OK)
        return STORE_NOT_FOUND;
    s->urls = json_array();
    s->now = r->now;
    if (acme_authz_list(r->st, id, summarize, s) != STORE_OK)
        return STORE_ERROR;
    const char *next = NULL;
    if (strcmp(o->status, "pending") == 0 || strcmp(o->status, "ready") == 0) {
        if (o->expires <= r->now || s->invalid)
            next = "invalid";
        else if (strcmp(o->status, "pending") == 0 && s->valid == s->total)
            next = "ready";
    }
    if (next && acme_order_transition(r->st, id, o->status, next) == STORE_OK)
        snprintf(o->status, sizeof o->status, "%s", next);
    return STORE_OK;
}

static json_t *order_json(const acme_order *o, json_t *authz_urls)
{
    char fin[700];
    acme_url(fin, sizeof fin, "order/%lld/finalize", (long long)o->id);
    json_error_t jerr;
    json_t *ids = json_loads(o->identifiers, 0, &jerr);
    json_t *j = json_pack("{s:s, s:o, s:o, s:O, s:s}", "status", o->status, "expires",
                          acme_time(o->expires), "identifiers", ids ? ids : json_array(),
                          "authorizations", authz_urls, "finalize", fin);
    if (o->cert_id) {
        char cert[700];
        acme_url(cert, sizeof cert, "cert/%lld", (long long)o->cert_id);
        json_object_set_new(j, "certificate", json_string(cert));
    }
    if (o->error) {
        json_t *e = json_loads(o->error, 0, &jerr);
        if (e)
            json_object_set_new(j, "error", e);
    } else if (strcmp(o->status, "invalid") == 0) {
        json_object_set_new(j, "error",
                            acme_problem_json("unauthorized", 403,
                                              "an authorization of this order failed or expired"));
    }
    return j;
}

static void send_order(acme_req *r, int status, int64_t id, bool with_location)
{
    acme_order o = {0};
    authz_summary s = {0};
    int rc = load_order(r, id, &o, &s);
    if (rc != STORE_OK) {
        if (s.urls)
            json_decref(s.urls);
        acme_order_clear(&o);
        acme_problem(r, rc == STORE_NOT_FOUND ? 404 : 500, "malformed", "no such order");
        return;
    }
    char loc[700];
    acme_url(loc, sizeof loc, "order/%lld", (long long)id);
    json_t *j = order_json(&o, s.urls);
    json_decref(s.urls);
    acme_json(r, status, j, with_location ? loc : NULL);
    /* Clients poll a processing order; tell them when (RFC 8555 7.4). */
    if (strcmp(o.status, "processing") == 0)
        httpd_add_header(&r->resp, "Retry-After", "1");
    acme_order_clear(&o);
}

/* Identifiers of a newOrder payload: validated, lower-cased, without duplicates. */
static json_t *parse_identifiers(acme_req *r, const acme_policy *pol)
{
    json_t *ids = json_object_get(r->payload, "identifiers");
    if (!json_is_array(ids) || json_array_size(ids) == 0 ||
        json_array_size(ids) > MAX_IDENTIFIERS) {
        acme_problem(r, 400, "malformed", "'identifiers' must be an array of 1 to %d entries",
                     MAX_IDENTIFIERS);
        return NULL;
    }
    if (json_object_get(r->payload, "notBefore") || json_object_get(r->payload, "notAfter")) {
        acme_problem(r, 400, "malformed",
                     "notBefore/notAfter are not supported: the policy's template sets validity");
        return NULL;
    }
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        const char *type = json_string_value(json_object_get(v, "type"));
        const char *value = json_string_value(json_object_get(v, "value"));
        if (!type || strcmp(type, "dns") != 0) {
            acme_problem(r, 400, "unsupportedIdentifier", "only 'dns' identifiers are supported");
            json_decref(out);
            return NULL;
        }
        char name[256];
        if (!value || strlen(value) >= sizeof name) {
            acme_problem(r, 400, "malformed", "identifier value missing or too long");
            json_decref(out);
            return NULL;
        }
        snprintf(name, sizeof name, "%s", value);
        if (!acme_dns_name_ok(name, true)) {
            acme_problem(r, 400, "rejectedIdentifier", "'%s' is not a valid DNS name", value);
            json_decref(out);
            return NULL;
        }
        if (!acme_policy_allows(pol, name)) {
            acme_problem(r, 400, "rejectedIdentifier", "'%s' is outside this account's policy",
                         name);
            json_decref(out);
            return NULL;
        }
        bool dup = false;
        size_t k;
        json_t *w;
        json_array_foreach(out, k, w) dup |=
            strcmp(json_string_value(json_object_get(w, "value")), name) == 0;
        if (!dup)
            json_array_append_new(out, json_pack("{s:s, s:s}", "type", "dns", "value", name));
    }
    return out;
}

static int create_order(acme_req *r, const acme_policy *pol, json_t *ids, int64_t *order_id)
{
    acme_order o = {0};
    o.account_id = r->acct.id;
    snprintf(o.status, sizeof o.status, "pending");
    o.identifiers = json_dumps(ids, JSON_COMPACT);
    o.expires = r->now + g_acme.order_lifetime;
    o.created = r->now;
    if (!o.identifiers || store_begin(r->st) != STORE_OK) {
        free(o.identifiers);
        return STORE_ERROR;
    }
    int rc = acme_order_create(r->st, &o);
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        if (rc != STORE_OK)
            break;
        const char *name = json_string_value(json_object_get(v, "value"));
        acme_authz a = {0};
        a.order_id = o.id;
        a.account_id = r->acct.id;
        a.wildcard = strncmp(name, "*.", 2) == 0;
        snprintf(a.value, sizeof a.value, "%s", a.wildcard ? name + 2 : name);
        a.expires = o.expires;
        if (random_token(a.token) != 0) {
            rc = STORE_ERROR;
            break;
        }
        if (acme_policy_preapproved(pol, name)) {
            snprintf(a.status, sizeof a.status, "valid");
            a.validated = r->now;
        } else {
            snprintf(a.status, sizeof a.status, "pending");
            /* RFC 8555 7.1.3 / 8.3: wildcards are proven by DNS only. */
            if (!a.wildcard)
                snprintf(a.chall_status[0], sizeof a.chall_status[0], "pending");
            snprintf(a.chall_status[1], sizeof a.chall_status[1], "pending");
        }
        rc = acme_authz_create(r->st, &a);
    }
    free(o.identifiers);
    if (rc == STORE_OK && store_commit(r->st) == STORE_OK) {
        *order_id = o.id;
        return STORE_OK;
    }
    store_rollback(r->st);
    return STORE_ERROR;
}

int acme_order_refresh(acme_req *r, int64_t id, acme_order *o)
{
    authz_summary s = {0};
    int rc = load_order(r, id, o, &s);
    if (s.urls)
        json_decref(s.urls);
    return rc;
}

void acme_send_order(acme_req *r, int64_t id)
{
    send_order(r, 200, id, false);
}

void acme_new_order(acme_req *r)
{
    if (!r->payload) {
        acme_problem(r, 400, "malformed", "newOrder needs a JSON payload");
        return;
    }
    acme_policy pol;
    if (acme_policy_get(r->st, r->acct.policy_id, &pol) != STORE_OK) {
        acme_problem(r, 403, "unauthorized", "the account's ACME policy no longer exists");
        return;
    }
    json_t *ids = parse_identifiers(r, &pol);
    int64_t id = 0;
    if (ids && create_order(r, &pol, ids, &id) != STORE_OK)
        acme_problem(r, 500, "serverInternal", "cannot create the order");
    else if (ids)
        send_order(r, 201, id, true);
    if (ids)
        json_decref(ids);
    acme_policy_clear(&pol);
}

void acme_order_post(acme_req *r, int64_t id)
{
    acme_order o;
    if (acme_order_get(r->st, id, &o) != STORE_OK || o.account_id != r->acct.id) {
        acme_problem(r, 404, "malformed", "no such order for this account");
        return;
    }
    acme_order_clear(&o);
    send_order(r, 200, id, false);
}

void acme_authz_post(acme_req *r, int64_t id)
{
    acme_authz a;
    if (acme_authz_get(r->st, id, &a) != STORE_OK || a.account_id != r->acct.id) {
        acme_problem(r, 404, "malformed", "no such authorization for this account");
        return;
    }
    /* RFC 8555 7.5.2: a client may deactivate its authorization. */
    json_t *status = r->payload ? json_object_get(r->payload, "status") : NULL;
    if (status) {
        if (!json_is_string(status) || strcmp(json_string_value(status), "deactivated") != 0 ||
            (strcmp(a.status, "pending") != 0 && strcmp(a.status, "valid") != 0)) {
            acme_problem(r, 400, "malformed",
                         "only a pending or valid authorization can be"
                         " deactivated");
            acme_authz_clear(&a);
            return;
        }
        acme_authz_set_status(r->st, id, "deactivated");
        snprintf(a.status, sizeof a.status, "deactivated");
    } else if (strcmp(a.status, "pending") == 0 && a.expires <= r->now) {
        snprintf(a.status, sizeof a.status, "expired");
    }
    acme_json(r, 200, acme_authz_json(&a, NULL), NULL);
    if (strcmp(a.chall_status[0], "processing") == 0 ||
        strcmp(a.chall_status[1], "processing") == 0)
        httpd_add_header(&r->resp, "Retry-After", "1");
    acme_authz_clear(&a);
}

void acme_challenge_post(acme_req *r, int64_t authz_id, int idx)
{
    acme_authz a;
    if (acme_authz_get(r->st, authz_id, &a) != STORE_OK || a.account_id != r->acct.id ||
        !a.chall_status[idx][0]) {
        acme_problem(r, 404, "malformed", "no such challenge for this account");
        return;
    }
    /* An empty object starts validation; POST-as-GET only reads (RFC 8555 7.5.1). */
    if (r->payload && strcmp(a.status, "pending") == 0 && a.expires > r->now &&
        acme_authz_start(r->st, authz_id, idx) == STORE_OK) {
        if (acme_validate_submit(r->app, authz_id, idx) != 0) {
            acme_authz_finish(r->st, authz_id, idx, false,
                              "{\"type\":\"urn:ietf:params:acme:error:serverInternal\","
                              "\"detail\":\"validation could not be queued\",\"status\":500}",
                              r->now);
        }
        acme_authz_clear(&a);
        if (acme_authz_get(r->st, authz_id, &a) != STORE_OK) {
            acme_problem(r, 500, "serverInternal", "authorization vanished");
            return;
        }
    }
    char up[720];
    char authz_url[700];
    acme_url(authz_url, sizeof authz_url, "authz/%lld", (long long)authz_id);
    snprintf(up, sizeof up, "<%s>;rel=\"up\"", authz_url);
    json_t *c = challenge_json(&a, idx);
    acme_json(r, 200, c, NULL);
    httpd_add_header(&r->resp, "Link", up);
    if (strcmp(a.chall_status[idx], "processing") == 0)
        httpd_add_header(&r->resp, "Retry-After", "1");
    acme_authz_clear(&a);
}
