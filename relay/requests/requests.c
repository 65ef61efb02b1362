/* Issuance workflows: submit, public request, pre-approved + claim, approve/decline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"
#include "certs/certs.h"
#include "issue/issue.h"
#include "log/log.h"
#include "requests/csr.h"
#include "requests/requests.h"
#include "templates/templates.h"
#include "util/encoding.h"

/* ---- helpers ---- */

static json_t *request_json(const store_request *r)
{
    json_error_t jerr;
    json_t *params = json_loads(r->params ? r->params : "{}", 0, &jerr);
    if (!params)
        params = json_object();
    return json_pack("{s:I,s:I,s:I,s:s,s:s,s:o,s:o,s:o,s:I}", "id", (json_int_t)r->id, "ca_id",
                     (json_int_t)r->ca_id, "template_id", (json_int_t)r->template_id, "status",
                     r->status, "source", r->source, "params", params, "created",
                     api_time(r->created), "decided", api_time(r->decided), "certificate_id",
                     (json_int_t)r->certificate_id);
}

/* Template by path id for user_id (0 = public), with its CA and parsed settings. */
static bool load_template(api_call *c, int64_t user_id, store_template *t, store_ca *ca,
                          tpl_settings *s)
{
    int64_t id;
    if (!api_param_id(c, 0, &id))
        return false;
    int rc = store_template_get(c->st, user_id, id, t);
    if (rc == STORE_OK) {
        rc = store_ca_get(c->st, 0, t->ca_id, ca);
        if (rc != STORE_OK)
            store_template_clear(t);
    }
    if (rc != STORE_OK) {
        api_error(c, rc == STORE_NOT_FOUND ? 404 : 500,
                  rc == STORE_NOT_FOUND ? "not_found" : "internal", "no such template");
        return false;
    }
    tpl_parse_stored(s, t->settings);
    return true;
}

/* Checks the override members a request may carry: subject, sans, validity_days, not_before,
 * not_after. Copies the valid ones into dst. */
static bool take_overrides(api_call *c, json_t *src, json_t *dst)
{
    if (!src)
        return true;
    if (!json_is_object(src)) {
        api_error(c, 400, "bad_field", "overrides must be an object");
        return false;
    }
    const char *k;
    json_t *v;
    json_object_foreach(src, k, v)
    {
        if (!strcmp(k, "subject") || !strcmp(k, "not_before") || !strcmp(k, "not_after")) {
            if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 1000) {
                api_error(c, 400, "bad_field", "'%s' must be a non-empty string", k);
                return false;
            }
        } else if (!strcmp(k, "sans")) {
            size_t i;
            json_t *e;
            if (!json_is_array(v) || json_array_size(v) > ISSUE_MAX_SANS) {
                api_error(c, 400, "bad_field", "'sans' must be an array of at most %d strings",
                          ISSUE_MAX_SANS);
                return false;
            }
            json_array_foreach(v, i, e) if (!json_is_string(e) || json_string_length(e) > 512)
            {
                api_error(c, 400, "bad_field", "'sans' item %zu must be a string", i);
                return false;
            }
        } else if (!strcmp(k, "validity_days")) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 36500) {
                api_error(c, 400, "bad_field", "'validity_days' must be 1 to 36500");
                return false;
            }
        } else {
            continue; /* other members belong to the caller's own body */
        }
        json_object_set(dst, k, v);
    }
    return true;
}

static json_t *pick(json_t *a, json_t *b, json_t *c_, const char *key)
{
    json_t *v = a ? json_object_get(a, key) : NULL;
    if (!v && b)
        v = json_object_get(b, key);
    if (!v && c_)
        v = json_object_get(c_, key);
    return v;
}

/* Issues the certificate for request r with CSR csr: overrides (approval) beat the request's
 * fixed parameters (pre-approved), which beat the CSR and the template. Inside the caller's
 * transaction. */
/* Signs the certificate of request r (issue_sign: outside any transaction; the caller stores
 * it with issue_store). */
static int sign_for(api_call *c, const store_ca *ca, const store_template *t, const tpl_settings *s,
                    const store_request *r, const csr_info *csr, json_t *overrides, store_cert *out,
                    int64_t *crl_part, int *status, char *err, size_t errlen)
{
    if (!s->enabled) {
        *status = 409;
        snprintf(err, errlen, "the template is disabled");
        return -1;
    }
    json_error_t jerr;
    json_t *params = json_loads(r->params ? r->params : "{}", 0, &jerr);
    json_t *subj = pick(overrides, params, NULL, "subject");
    const char *subject = subj                  ? json_string_value(subj)
                          : s->subject_from_csr ? csr->subject
                                                : s->subject_defaults;
    json_t *sans = pick(overrides, params, NULL, "sans");
    if (!sans)
        sans = csr->sans;
    const char *list[ISSUE_MAX_SANS];
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(sans) && n < ISSUE_MAX_SANS; i++)
        list[n++] = json_string_value(json_array_get(sans, i));
    json_t *days = pick(overrides, params, NULL, "validity_days");
    json_t *nb = pick(overrides, params, NULL, "not_before");
    json_t *na = pick(overrides, params, NULL, "not_after");
    issue_params p = {.subject = subject,
                      .sans = list,
                      .n_sans = n,
                      .spki = csr->spki,
                      .spki_len = csr->spki_len,
                      .template_id = t->id,
                      .request_id = r->id};
    p.explicit_end = na != NULL;
    int rc = -1;
    *status = 400;
    if (issue_validity(c->now, days ? (int)json_integer_value(days) : s->validity_days,
                       json_string_value(nb), json_string_value(na), &p.not_before, &p.not_after,
                       err, errlen) == 0) {
        pki_signer *signer = ca_signer(c->app, ca, err, errlen);
        if (!signer)
            *status = 500;
        else
            rc = issue_sign(c->app, c->st, ca, signer, s, &p, out, crl_part, status, err, errlen);
    }
    json_decref(params);
    return rc;
}

static bool read_csr(api_call *c, csr_info *csr)
{
    const char *pem;
    if (!api_body_text(c, "csr", true, 64 * 1024, &pem))
        return false;
    const char *code;
    char err[300];
    if (csr_read((const uint8_t *)pem, strlen(pem), csr, &code, err, sizeof err) != 0) {
        api_error(c, 400, code, "%s", err);
        return false;
    }
    return true;
}

/* Creates a pending request from the CSR in the body. */
static void submit(api_call *c, int64_t user_id, const char *source)
{
    store_template t;
    store_ca ca;
    tpl_settings s;
    if (!load_template(c, user_id, &t, &ca, &s))
        return;
    csr_info csr;
    json_t *params = json_object();
    if (user_id == 0 && (!s.allow_public || !s.enabled)) {
        /* Not public: the same answer as an unknown template. */
        api_error(c, 404, "not_found", "no such template");
    } else if (!s.enabled) {
        api_error(c, 409, "template_disabled", "the template is disabled");
    } else if (strcmp(ca.status, "active") != 0) {
        api_error(c, 409, "not_active", "the CA is not active");
    } else if (take_overrides(c, c->json, params) && read_csr(c, &csr)) {
        json_object_set_new(params, "csr_subject", json_string(csr.subject));
        json_object_set(params, "csr_sans", csr.sans);
        json_object_set_new(params, "key_type", json_string(csr.key_type));
        char *spki64 = pki_base64_encode(csr.spki, csr.spki_len);
        json_object_set_new(params, "spki", spki64 ? json_string(spki64) : json_null());
        free(spki64);
        store_request r;
        memset(&r, 0, sizeof r);
        r.ca_id = ca.id;
        r.template_id = t.id;
        snprintf(r.status, sizeof r.status, "pending");
        snprintf(r.source, sizeof r.source, "%s", source);
        r.csr_der = csr.der;
        r.csr_len = csr.der_len;
        r.params = json_dumps(params, JSON_COMPACT);
        r.created = c->now;
        if (!r.params || store_begin(c->st) != STORE_OK) {
            api_error(c, 500, "internal", "cannot store the request");
        } else if (store_request_create(c->st, &r) != STORE_OK) {
            store_rollback(c->st);
            api_error(c, 500, "internal", "cannot store the request");
        } else {
            char target[48];
            snprintf(target, sizeof target, "request:%lld", (long long)r.id);
            api_audit(c, "request.submit", target, ca.id,
                      json_pack("{s:s,s:s}", "source", source, "subject", csr.subject));
            if (store_commit(c->st) != STORE_OK)
                api_error(c, 500, "internal", "cannot store the request");
            else
                api_json(c, 201, request_json(&r));
        }
        free(r.params);
        csr_info_free(&csr);
    }
    json_decref(params);
    store_template_clear(&t);
    store_ca_clear(&ca);
}

void requests_submit(api_call *c)
{
    submit(c, c->user.id, "csr");
}

void requests_public(api_call *c)
{
    submit(c, 0, "public");
}

void requests_preapprove(api_call *c)
{
    store_template t;
    store_ca ca;
    tpl_settings s;
    if (!load_template(c, c->user.id, &t, &ca, &s))
        return;
    json_t *params = json_object();
    if (!take_overrides(c, c->json, params))
        goto done;
    if (!json_object_get(params, "subject")) {
        api_error(c, 400, "missing_field", "'subject' is required for a pre-approved request");
        goto done;
    }
    if (strcmp(ca.status, "active") != 0) {
        api_error(c, 409, "not_active", "the CA is not active");
        goto done;
    }
    char token[64];
    store_request r;
    memset(&r, 0, sizeof r);
    if (auth_token_new(32, token, sizeof token) != 0 ||
        auth_token_digest(token, r.claim_digest) != 0) {
        api_error(c, 500, "internal", "no randomness");
        goto done;
    }
    r.ca_id = ca.id;
    r.template_id = t.id;
    snprintf(r.status, sizeof r.status, "preapproved");
    snprintf(r.source, sizeof r.source, "preapproved");
    r.params = json_dumps(params, JSON_COMPACT);
    r.created = c->now;
    if (!r.params || store_request_create(c->st, &r) != STORE_OK) {
        api_error(c, 500, "internal", "cannot store the request");
    } else {
        char target[48], url[700];
        snprintf(target, sizeof target, "request:%lld", (long long)r.id);
        api_audit(c, "request.preapprove", target, ca.id, NULL);
        /* The claim token rides in the fragment: never sent to a server by a browser. */
        snprintf(url, sizeof url, "%s/claim#token=%s", c->app->base_url, token);
        json_t *o = request_json(&r);
        json_object_set_new(o, "claim_token", json_string(token));
        json_object_set_new(o, "claim_url", json_string(url));
        api_json(c, 201, o);
    }
    free(r.params);
    memset(token, 0, sizeof token);
done:
    json_decref(params);
    store_template_clear(&t);
    store_ca_clear(&ca);
}

/* The checked CSR data of a request: from its stored parameters, else its CSR read again. */
static int request_csr(const store_request *r, csr_info *csr, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *params = json_loads(r->params ? r->params : "{}", 0, &jerr);
    int rc = params ? csr_from_params(params, csr) : -1;
    json_decref(params);
    if (rc == 0)
        return 0;
    const char *code;
    if (!r->csr_der) {
        snprintf(err, errlen, "the request has no CSR");
        return -1;
    }
    return csr_read(r->csr_der, r->csr_len, csr, &code, err, errlen);
}

/* Stores a signed certificate as request r's, with the decision and the audit entry, in one
 * transaction. 0, or -1 (status and err set; cert is the caller's to clear). */
static int store_approval(api_call *c, const store_request *r, store_cert *cert, int64_t crl_part,
                          int *status, char *err, size_t errlen)
{
    if (store_begin(c->st) != STORE_OK) {
        snprintf(err, errlen, "database busy");
        return -1;
    }
    if (store_request_decide(c->st, r->id, r->status, "issued", 0, c->now) != STORE_OK) {
        store_rollback(c->st);
        *status = 409;
        snprintf(err, errlen, "the request was already decided");
        return -1;
    }
    if (issue_store(c->st, cert, crl_part, status, err, errlen) != 0) {
        store_rollback(c->st);
        return -1;
    }
    /* The audit entry is written in the same transaction as the certificate. */
    char target[48];
    snprintf(target, sizeof target, "request:%lld", (long long)r->id);
    api_audit(
        c, "request.approve", target, r->ca_id,
        json_pack("{s:s,s:I}", "serial", cert->serial, "certificate_id", (json_int_t)cert->id));
    if (store_request_decide(c->st, r->id, "issued", "issued", cert->id, c->now) != STORE_OK ||
        store_commit(c->st) != STORE_OK) {
        store_rollback(c->st);
        *status = 500;
        snprintf(err, errlen, "cannot store the certificate");
        return -1;
    }
    return 0;
}

/* Approves (issues) one request; fills cert. given: a CSR the caller has just read and
 * checked (claims), else the request's own. The certificate is signed first, outside any
 * transaction, then stored with the request's decision in one (store_approval): the database's
 * write lock is never held while an HSM CA's appliance signs. A request decided by someone
 * else meanwhile gets 409, and the certificate just signed is dropped (never stored, never
 * shown). */
static int approve_one(api_call *c, store_request *r, const csr_info *given, json_t *overrides,
                       store_cert *cert, int *status, char *err, size_t errlen)
{
    store_template t;
    store_ca ca;
    tpl_settings s;
    csr_info own;
    memset(&own, 0, sizeof own);
    memset(cert, 0, sizeof *cert);
    const csr_info *csr = given;
    *status = 500;
    if (store_template_get(c->st, 0, r->template_id, &t) != STORE_OK) {
        snprintf(err, errlen, "the template is gone");
        return -1;
    }
    if (store_ca_get(c->st, 0, r->ca_id, &ca) != STORE_OK) {
        snprintf(err, errlen, "the CA is gone");
        store_template_clear(&t);
        return -1;
    }
    tpl_parse_stored(&s, t.settings);
    if (!csr && request_csr(r, &own, err, errlen) == 0)
        csr = &own;
    int64_t crl_part = -1;
    int rc = -1;
    if (!csr)
        *status = 400;
    else if (sign_for(c, &ca, &t, &s, r, csr, overrides, cert, &crl_part, status, err, errlen) ==
                 0 &&
             store_approval(c, r, cert, crl_part, status, err, errlen) == 0)
        rc = 0;
    if (rc != 0)
        store_cert_clear(cert);
    csr_info_free(&own);
    store_template_clear(&t);
    store_ca_clear(&ca);
    return rc;
}

void requests_claim(api_call *c)
{
    const char *token;
    if (!api_body_str(c, "token", true, 128, &token))
        return;
    char digest[AUTH_DIGEST_HEX];
    store_request r;
    if (auth_token_digest(token, digest) != 0 ||
        store_request_find_claim(c->st, digest, &r) != STORE_OK) {
        api_error(c, 404, "not_found", "the claim link is not valid (used or wrong)");
        return;
    }
    csr_info csr;
    if (!read_csr(c, &csr)) {
        store_request_clear(&r);
        return;
    }
    /* The claimant's key; subject and SANs come from the pre-approved request. */
    store_cert cert;
    int status;
    char err[300];
    if (approve_one(c, &r, &csr, NULL, &cert, &status, err, sizeof err) != 0) {
        api_error(c, status,
                  status == 409 ? "already_claimed" : issue_error_code(err, "cannot_issue"), "%s",
                  err);
    } else {
        json_t *o = cert_json(&cert, true);
        store_ca ca;
        if (store_ca_get(c->st, 0, cert.ca_id, &ca) == STORE_OK) {
            char *chain = cert_chain_pem(&ca, cert.der, cert.der_len);
            json_object_set_new(o, "chain_pem", chain ? json_string(chain) : json_null());
            free(chain);
            store_ca_clear(&ca);
        }
        api_json(c, 201, o);
        store_cert_clear(&cert);
    }
    csr_info_free(&csr);
    store_request_clear(&r);
}

static bool load_request(api_call *c, store_request *r)
{
    int64_t id;
    if (!api_param_id(c, 0, &id))
        return false;
    int rc = store_request_get(c->st, c->user.id, id, r);
    if (rc == STORE_OK)
        return true;
    api_error(c, rc == STORE_NOT_FOUND ? 404 : 500,
              rc == STORE_NOT_FOUND ? "not_found" : "internal", "no such request");
    return false;
}

void requests_get(api_call *c)
{
    store_request r;
    if (!load_request(c, &r))
        return;
    api_json(c, 200, request_json(&r));
    store_request_clear(&r);
}

void requests_approve(api_call *c)
{
    store_request r;
    if (!load_request(c, &r))
        return;
    json_t *ov = json_object();
    if (strcmp(r.status, "pending") != 0) {
        api_error(c, 409, "already_decided", "the request is %s", r.status);
    } else if (take_overrides(c, c->json, ov)) {
        store_cert cert;
        int status;
        char err[300];
        if (approve_one(c, &r, NULL, ov, &cert, &status, err, sizeof err) != 0) {
            api_error(c, status,
                      status == 409 ? "already_decided" : issue_error_code(err, "cannot_issue"),
                      "%s", err);
        } else {
            store_request_clear(&r);
            store_request_get(c->st, 0, cert.request_id, &r);
            json_t *o = request_json(&r);
            json_object_set_new(o, "certificate", cert_json(&cert, true));
            api_json(c, 200, o);
            store_cert_clear(&cert);
        }
    }
    json_decref(ov);
    store_request_clear(&r);
}

static int decline_one(api_call *c, store_request *r)
{
    if (strcmp(r->status, "pending") != 0 && strcmp(r->status, "preapproved") != 0)
        return STORE_CONFLICT;
    int rc = store_request_decide(c->st, r->id, r->status, "declined", 0, c->now);
    if (rc == STORE_OK) {
        char target[48];
        snprintf(target, sizeof target, "request:%lld", (long long)r->id);
        api_audit(c, "request.decline", target, r->ca_id, NULL);
    }
    return rc == STORE_NOT_FOUND ? STORE_CONFLICT : rc;
}

void requests_decline(api_call *c)
{
    store_request r;
    if (!load_request(c, &r))
        return;
    int rc = decline_one(c, &r);
    if (rc == STORE_CONFLICT)
        api_error(c, 409, "already_decided", "the request is %s", r.status);
    else if (rc != STORE_OK)
        api_error(c, 500, "internal", "cannot decline");
    else {
        snprintf(r.status, sizeof r.status, "declined");
        r.decided = c->now;
        api_json(c, 200, request_json(&r));
    }
    store_request_clear(&r);
}

typedef struct {
    api_call *c;
    json_t *arr;
} list_ctx;

static int add_request(void *ctx, const store_request *r)
{
    list_ctx *l = ctx;
    json_array_append_new(l->arr, request_json(r));
    return 0;
}

static bool visible_ca(api_call *c, int64_t *ca_id)
{
    if (!api_param_id(c, 0, ca_id))
        return false;
    store_ca ca;
    int rc = store_ca_get(c->st, c->user.id, *ca_id, &ca);
    if (rc == STORE_OK) {
        store_ca_clear(&ca);
        return true;
    }
    api_error(c, rc == STORE_NOT_FOUND ? 404 : 500,
              rc == STORE_NOT_FOUND ? "not_found" : "internal", "no such CA");
    return false;
}

void requests_list(api_call *c)
{
    int64_t ca_id;
    if (!visible_ca(c, &ca_id))
        return;
    char status[16];
    const char *st = api_query(c, "status", status, sizeof status);
    if (st && strcmp(st, "pending") && strcmp(st, "preapproved") && strcmp(st, "issued") &&
        strcmp(st, "declined")) {
        api_error(c, 400, "bad_query", "'status' is pending, preapproved, issued or declined");
        return;
    }
    list_ctx l = {c, json_array()};
    if (store_request_list(c->st, ca_id, st, add_request, &l) != STORE_OK) {
        json_decref(l.arr);
        api_error(c, 500, "internal", "cannot list requests");
        return;
    }
    api_json(c, 200, json_pack("{s:o}", "requests", l.arr));
}

void requests_bulk(api_call *c)
{
    int64_t ca_id;
    const char *action;
    if (!visible_ca(c, &ca_id) || !api_body_str(c, "action", true, 16, &action))
        return;
    json_t *ids = json_object_get(c->json, "ids");
    if (strcmp(action, "approve") && strcmp(action, "decline")) {
        api_error(c, 400, "bad_field", "'action' is approve or decline");
        return;
    }
    if (!json_is_array(ids) || json_array_size(ids) == 0 || json_array_size(ids) > 500) {
        api_error(c, 400, "bad_field", "'ids' must be an array of 1 to 500 request ids");
        return;
    }
    json_t *results = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        json_int_t id = json_is_integer(v) ? json_integer_value(v) : 0;
        store_request r;
        json_t *res = json_pack("{s:I}", "id", id);
        /* Foreign or unknown ids, or ones of another CA, all look the same. */
        if (id <= 0 || store_request_get(c->st, c->user.id, id, &r) != STORE_OK) {
            json_object_set_new(res, "status", json_string("not_found"));
            json_array_append_new(results, res);
            continue;
        }
        if (r.ca_id != ca_id) {
            json_object_set_new(res, "status", json_string("not_found"));
        } else if (!strcmp(action, "decline")) {
            int rc = decline_one(c, &r);
            json_object_set_new(res, "status",
                                json_string(rc == STORE_OK         ? "declined"
                                            : rc == STORE_CONFLICT ? "already_decided"
                                                                   : "error"));
        } else if (strcmp(r.status, "pending") != 0) {
            json_object_set_new(res, "status", json_string("already_decided"));
        } else {
            store_cert cert;
            int status;
            char err[300];
            if (approve_one(c, &r, NULL, NULL, &cert, &status, err, sizeof err) == 0) {
                json_object_set_new(res, "status", json_string("issued"));
                json_object_set_new(res, "certificate_id", json_integer(cert.id));
                json_object_set_new(res, "serial", json_string(cert.serial));
                store_cert_clear(&cert);
            } else {
                json_object_set_new(res, "status", json_string("error"));
                json_object_set_new(res, "message", json_string(err));
            }
        }
        json_array_append_new(results, res);
        store_request_clear(&r);
    }
    api_json(c, 200, json_pack("{s:o}", "results", results));
}
