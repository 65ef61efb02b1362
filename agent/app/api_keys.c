/* The YubiKey part of the JSON API:
 *   GET  /api/keys                                  every present key, its slots and states
 *   POST /api/keys/reload                           re-read every key ("Reload")
 *   GET  /api/keys/{serial}
 *   POST /api/keys/{serial}/setup                   new PIN and PUK, protected management key
 *   POST /api/keys/{serial}/verify-pin
 *   POST /api/keys/{serial}/unlock                  keep the PIN for link signatures ({pin})
 *   POST /api/keys/{serial}/lock                    forget it
 *   GET  /api/keys/{serial}/slots/{slot}            "View Certificate"
 *   DELETE /api/keys/{serial}/slots/{slot}          "Clear Slot" ({pin, confirm})
 *   POST /api/keys/{serial}/slots/{slot}/generate | import-key | provision | certificate
 *   POST /api/keys/{serial}/slots/{slot}/attest
 * Everything that touches a card runs on a thread (provision.h) and answers deferred. */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "daemon/status.h"
#include "jsonapi/jsonapi.h"
#include "provision/provision.h"
#include "yubikey/yk.h"

void api_keys_handle(agent_app *a, const httpd_request *req, httpd_response *resp);

typedef struct {
    agent_app *a;
    prov_op op;
    bool reload;
    uint32_t serial;
    int slot;
    json_t *in;
    httpd_deferred *token;
    char actor[64];
} api_job;

static void respond_result(httpd_response *resp, const yk_result *r)
{
    json_t *e = json_pack("{s:s,s:s}", "code", r->code[0] ? r->code : "internal", "message",
                          r->message[0] ? r->message : "operation failed");
    if (r->retries >= 0)
        json_object_set_new(e, "retries", json_integer(r->retries));
    jsonapi_respond(resp, r->http ? r->http : 500, json_pack("{s:o}", "error", e));
}

/* Adds each slot's provisioning state from the database to a key description. */
static void merge_states(agent_app *a, json_t *key)
{
    json_int_t serial = json_integer_value(json_object_get(key, "serial"));
    size_t i;
    json_t *slot;
    json_t *slots = json_object_get(key, "slots");
    for (i = 0; i < json_array_size(slots) && (slot = json_array_get(slots, i)); i++) {
        const char *name = jsonapi_str(slot, "slot");
        json_t *rec = name ? agent_state_slot_get(a->state, (uint32_t)serial, name) : NULL;
        const char *st = rec ? jsonapi_str(rec, "state") : NULL;
        if (st)
            json_object_set_new(slot, "state", json_string(st));
        else
            json_object_set_new(slot, "state",
                                json_string(json_is_true(json_object_get(slot, "certificate")) ||
                                                    !json_is_null(json_object_get(slot, "key"))
                                                ? "foreign"
                                                : "empty"));
        json_decref(rec);
    }
}

static json_t *key_list(agent_app *a)
{
    json_t *list = yk_manager_list(a->keys);
    size_t i;
    json_t *k;
    for (i = 0; i < json_array_size(list) && (k = json_array_get(list, i)); i++)
        merge_states(a, k);
    return json_pack("{s:o}", "keys", list);
}

/* One status item per key: "YubiKey 123 (5.4.3): 9c provisioned, 9d CSR pending". */
#define STATUS_MAX_KEYS 8
static uint32_t g_status_keys[STATUS_MAX_KEYS];

static const char *short_state(const char *st)
{
    if (strcmp(st, "csr_pending") == 0)
        return "CSR pending";
    if (strncmp(st, "key_", 4) == 0)
        return "no certificate";
    return st;
}

static void status_key_item(json_t *key, uint32_t serial)
{
    char text[160], name[32];
    int n = snprintf(text, sizeof text, "YubiKey %u%s", serial,
                     json_is_true(json_object_get(key, "set_up")) ? ":" : " (not set up):");
    json_t *slots = json_object_get(key, "slots");
    int used = 0;
    for (size_t k = 0; k < json_array_size(slots) && n > 0 && (size_t)n < sizeof text; k++) {
        json_t *sl = json_array_get(slots, k);
        const char *st = jsonapi_str(sl, "state");
        if (!st || strcmp(st, "empty") == 0)
            continue;
        n += snprintf(text + n, sizeof text - (size_t)n, "%s %s %s", used++ ? "," : "",
                      jsonapi_str(sl, "slot"), short_state(st));
    }
    if (!used && n > 0 && (size_t)n < sizeof text)
        snprintf(text + n, sizeof text - (size_t)n, " no slots in use");
    snprintf(name, sizeof name, "key %u", serial);
    pki_status_set(name, "%s", text);
}

void agent_app_status(agent_app *a)
{
    if (!a->keys)
        return;
    json_t *list = key_list(a);
    json_t *arr = json_object_get(list, "keys");
    long provisioned = 0, pending = 0;
    uint32_t now[STATUS_MAX_KEYS] = {0};
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *key = json_array_get(arr, i);
        json_t *slots = json_object_get(key, "slots");
        for (size_t k = 0; k < json_array_size(slots); k++) {
            const char *st = jsonapi_str(json_array_get(slots, k), "state");
            provisioned += st && strcmp(st, "provisioned") == 0;
            pending += st && (strcmp(st, "csr_pending") == 0 || strncmp(st, "key_", 4) == 0);
        }
    }
    /* counts first: the status line shows items in the order they were first set */
    pki_status_count("keys", (long)json_array_size(arr), "YubiKey", "YubiKeys");
    pki_status_count("slots", provisioned, "slot provisioned", "slots provisioned");
    if (pending)
        pki_status_count("pending", pending, "slot half-provisioned", "slots half-provisioned");
    else
        pki_status_clear("pending");
    for (size_t i = 0; i < json_array_size(arr) && i < STATUS_MAX_KEYS; i++) {
        json_t *key = json_array_get(arr, i);
        now[i] = (uint32_t)json_integer_value(json_object_get(key, "serial"));
        status_key_item(key, now[i]);
    }
    /* keys that left since the last time */
    for (size_t i = 0; i < STATUS_MAX_KEYS; i++) {
        bool still = false;
        for (size_t k = 0; k < STATUS_MAX_KEYS; k++)
            still |= g_status_keys[i] && g_status_keys[i] == now[k];
        if (g_status_keys[i] && !still) {
            char name[32];
            snprintf(name, sizeof name, "key %u", g_status_keys[i]);
            pki_status_clear(name);
        }
    }
    memcpy(g_status_keys, now, sizeof now);
    json_decref(list);
}

static int refresh_job(ykpiv_state *yk, uint32_t serial, void *ctx)
{
    (void)serial;
    (void)ctx;
    return yk ? YK_CHANGED : YK_SAME;
}

static void *job_thread(void *arg)
{
    api_job *j = arg;
    httpd_response resp = {0};
    if (j->reload) {
        json_t *list = yk_manager_list(j->a->keys);
        size_t i;
        json_t *k;
        for (i = 0; i < json_array_size(list) && (k = json_array_get(list, i)); i++) {
            json_int_t serial = json_integer_value(json_object_get(k, "serial"));
            (void)yk_manager_run(j->a->keys, (uint32_t)serial, refresh_job, NULL);
        }
        json_decref(list);
        jsonapi_respond(&resp, 200, key_list(j->a));
    } else {
        prov_env env = {
            .keys = j->a->keys, .state = j->a->state, .link = j->a->link, .actor = j->actor};
        yk_result r;
        json_t *ans = provision_run(&env, j->op, j->serial, j->slot, j->in, &r);
        if (ans)
            jsonapi_respond(&resp, 200, ans);
        else
            respond_result(&resp, &r);
    }
    httpd_complete(j->token, &resp);
    json_decref(j->in);
    free(j);
    wc_ecc_fp_free(); /* wolfCrypt's per-thread ECC point cache */
    return NULL;
}

static void start_job(agent_app *a, const httpd_request *req, httpd_response *resp, api_job *j)
{
    j->a = a;
    snprintf(j->actor, sizeof j->actor, "%s", httpd_remote_addr(req));
    j->token = httpd_defer(req);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = j->token ? pthread_create(&t, &attr, job_thread, j) : -1;
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        httpd_response r = {0};
        httpd_respond_error(j->token ? &r : resp, 503, "busy", "cannot start the operation");
        if (j->token)
            httpd_complete(j->token, &r);
        json_decref(j->in);
        free(j);
    }
}

static int parse_serial(const char *s, size_t len, uint32_t *out)
{
    if (len == 0 || len > 10)
        return -1;
    unsigned long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v == 0 || v > 0xffffffffUL)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static const struct {
    const char *name;
    prov_op op;
} SLOT_ACTIONS[] = {
    {"generate", PROV_GENERATE},   {"import-key", PROV_IMPORT_KEY},
    {"provision", PROV_PROVISION}, {"certificate", PROV_CERTIFICATE},
    {"attest", PROV_ATTEST},
};

void api_keys_handle(agent_app *a, const httpd_request *req, httpd_response *resp)
{
    const char *p = req->path;
    bool get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
    if (strncmp(p, "/api/keys", 9) != 0 || (p[9] != '\0' && p[9] != '/')) {
        httpd_respond_error(resp, 404, "not_found", "no such resource: %s", p);
        return;
    }
    if (!a->keys) {
        httpd_respond_error(resp, 503, "no_pcsc", "the YubiKey layer is not running");
        return;
    }
    if (strcmp(p, "/api/keys") == 0 && get) {
        jsonapi_respond(resp, 200, key_list(a));
        return;
    }
    api_job *j = calloc(1, sizeof *j);
    if (!j) {
        httpd_respond_error(resp, 500, "internal", "out of memory");
        return;
    }
    j->slot = -1;
    if (strcmp(p, "/api/keys/reload") == 0 && post) {
        j->reload = true;
        start_job(a, req, resp, j);
        return;
    }
    /* /api/keys/{serial}[/...] */
    const char *s = p + 10, *end = strchr(s, '/');
    size_t slen = end ? (size_t)(end - s) : strlen(s);
    if (parse_serial(s, slen, &j->serial) != 0) {
        free(j);
        httpd_respond_error(resp, 404, "not_found", "no such resource: %s", p);
        return;
    }
    const char *rest = end ? end : "";
    bool ok = false;
    if (*rest == '\0' && get) {
        json_t *k = yk_manager_get(a->keys, j->serial);
        uint32_t serial = j->serial;
        free(j);
        if (!k) {
            httpd_respond_error(resp, 404, "no_key", "no YubiKey with serial %u is plugged in",
                                serial);
            return;
        }
        merge_states(a, k);
        jsonapi_respond(resp, 200, k);
        return;
    } else if (strcmp(rest, "/setup") == 0 && post) {
        j->op = PROV_SETUP;
        ok = true;
    } else if (strcmp(rest, "/verify-pin") == 0 && post) {
        j->op = PROV_VERIFY_PIN;
        ok = true;
    } else if (strcmp(rest, "/unlock") == 0 && post) {
        j->op = PROV_UNLOCK;
        ok = true;
    } else if (strcmp(rest, "/lock") == 0 && post) {
        j->op = PROV_LOCK;
        ok = true;
    } else if (strncmp(rest, "/slots/", 7) == 0) {
        char slot[8] = "";
        const char *sl = rest + 7, *act = strchr(sl, '/');
        size_t l = act ? (size_t)(act - sl) : strlen(sl);
        if (l < sizeof slot) {
            memcpy(slot, sl, l);
            slot[l] = '\0';
        }
        j->slot = ykc_slot_from_name(slot);
        if (j->slot < 0) {
            free(j);
            httpd_respond_error(resp, 400, "bad_slot",
                                "'%s' is not a provisionable slot (9a, 9c, 9d, 9e, 82-95)", slot);
            return;
        }
        if (!act && get) {
            j->op = PROV_VIEW;
            ok = true;
        } else if (!act && strcmp(req->method, "DELETE") == 0) {
            j->op = PROV_CLEAR;
            ok = true;
        } else if (act && post) {
            for (size_t i = 0; i < sizeof SLOT_ACTIONS / sizeof SLOT_ACTIONS[0]; i++)
                if (strcmp(act + 1, SLOT_ACTIONS[i].name) == 0) {
                    j->op = SLOT_ACTIONS[i].op;
                    ok = true;
                }
        }
    }
    if (!ok) {
        free(j);
        httpd_respond_error(resp, 404, "not_found", "no such resource: %s %s", req->method, p);
        return;
    }
    if (req->body_len == 0) {
        j->in = json_object();
    } else {
        j->in = jsonapi_body(req, resp);
        if (!j->in) {
            free(j);
            return;
        }
    }
    start_job(a, req, resp, j);
}
