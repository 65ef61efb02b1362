/* Accounts (RFC 8555 7.3): creation with required external account binding, look-up by key
 * (onlyReturnExisting), contact update, deactivation, key rollover, the orders list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/acme_impl.h"
#include "log/log.h"
#include "seal/seal.h"

static json_t *account_json(const acme_account *a)
{
    char orders[700];
    acme_url(orders, sizeof orders, "acct/%lld/orders", (long long)a->id);
    json_error_t jerr;
    json_t *contact = json_loads(a->contact ? a->contact : "[]", 0, &jerr);
    return json_pack("{s:s, s:o, s:s}", "status", a->status, "contact",
                     contact ? contact : json_array(), "orders", orders);
}

static void send_account(acme_req *r, int status, const acme_account *a)
{
    char loc[700];
    acme_url(loc, sizeof loc, "acct/%lld", (long long)a->id);
    acme_json(r, status, account_json(a), loc);
}

/* contact: an array of "mailto:" URLs (RFC 8555 7.3). NULL text = absent. */
static bool contact_text(acme_req *r, char **out)
{
    *out = NULL;
    json_t *c = json_object_get(r->payload, "contact");
    if (!c)
        return true;
    if (!json_is_array(c) || json_array_size(c) > 10) {
        acme_problem(r, 400, "malformed", "'contact' must be an array of at most 10 URLs");
        return false;
    }
    size_t i;
    json_t *v;
    json_array_foreach(c, i, v)
    {
        const char *s = json_string_value(v);
        if (!s || strncmp(s, "mailto:", 7) != 0 || strlen(s) > 254 || strlen(s) < 10 ||
            strpbrk(s, ",\r\n ") || !strchr(s + 7, '@')) {
            acme_problem(r, 400,
                         json_is_string(v) && strncmp(s, "mailto:", 7) != 0 ? "unsupportedContact"
                                                                            : "invalidContact",
                         "contact URLs must be single 'mailto:' addresses");
            return false;
        }
    }
    *out = json_dumps(c, JSON_COMPACT);
    return *out != NULL;
}

/* RFC 8555 7.3.4: the binding is a JWS by the EAB key over the account's JWK. */
static bool check_eab(acme_req *r, json_t *eab_jws, acme_eab *eab)
{
    char err[256], url[700];
    jws_msg m;
    if (jws_parse_json(eab_jws, &m, err, sizeof err) != JWS_OK) {
        acme_problem(r, 400, "malformed", "externalAccountBinding: %s", err);
        return false;
    }
    acme_url(url, sizeof url, "new-account");
    bool ok = false;
    json_error_t jerr;
    json_t *inner_key = json_loadb((const char *)m.payload, m.payload_len, 0, &jerr);
    if (!m.kid || !m.url || strcmp(m.url, url) != 0 || m.nonce || m.jwk) {
        acme_problem(r, 400, "malformed",
                     "externalAccountBinding needs 'kid' and 'url' = %s, and no nonce or jwk", url);
    } else if (!inner_key || !json_equal(inner_key, r->jws.jwk)) {
        acme_problem(r, 400, "malformed",
                     "externalAccountBinding payload must be the account's JWK");
    } else if (acme_eab_get_by_kid(r->st, m.kid, eab) != STORE_OK) {
        acme_problem(r, 401, "unauthorized", "unknown external account key id");
    } else {
        char aad[128];
        snprintf(aad, sizeof aad, "acme-eab:%s", eab->kid);
        uint8_t *key = NULL;
        size_t key_len = 0;
        if (seal_decrypt(r->app->master, eab->sealed_key, eab->sealed_len, (const uint8_t *)aad,
                         strlen(aad), &key, &key_len) != 0) {
            acme_problem(r, 500, "serverInternal", "cannot open the EAB key");
        } else {
            jws_status st = jws_verify_hmac(&m, key, key_len, err, sizeof err);
            seal_wipe_free(key, key_len);
            if (st == JWS_BAD_ALG)
                acme_problem(r, 400, "badSignatureAlgorithm", "%s", err);
            else if (st != JWS_OK)
                acme_problem(r, 401, "unauthorized", "external account binding: %s", err);
            else if (eab->expires && r->now >= eab->expires)
                acme_problem(r, 401, "unauthorized", "the external account binding has expired");
            else if (eab->max_uses && eab->uses >= eab->max_uses)
                acme_problem(r, 401, "unauthorized",
                             "the external account binding has been used up");
            else
                ok = true;
        }
    }
    if (inner_key)
        json_decref(inner_key);
    jws_msg_free(&m);
    return ok;
}

void acme_new_account(acme_req *r)
{
    char tp[JWK_THUMBPRINT_LEN], err[256];
    if (!r->payload) {
        acme_problem(r, 400, "malformed", "newAccount needs a JSON payload");
        return;
    }
    if (jwk_thumbprint(r->jws.jwk, tp, err, sizeof err) != JWS_OK) {
        acme_problem(r, 400, "badPublicKey", "%s", err);
        return;
    }
    acme_account existing;
    if (acme_account_get_by_thumbprint(r->st, tp, &existing) == STORE_OK) {
        /* RFC 8555 7.3.1 and 7.3.6: the existing account, unless it was deactivated. */
        if (strcmp(existing.status, "valid") != 0)
            acme_problem(r, 401, "unauthorized", "the account for this key is %s", existing.status);
        else
            send_account(r, 200, &existing);
        acme_account_clear(&existing);
        return;
    }
    if (json_is_true(json_object_get(r->payload, "onlyReturnExisting"))) {
        acme_problem(r, 400, "accountDoesNotExist", "no account exists with this key");
        return;
    }
    json_t *eab_jws = json_object_get(r->payload, "externalAccountBinding");
    if (!eab_jws) {
        acme_problem(r, 400, "externalAccountRequired",
                     "this server requires an external account binding (ask your administrator "
                     "for an EAB key id and HMAC key)");
        return;
    }
    char *contact = NULL;
    if (!contact_text(r, &contact))
        return;
    acme_eab eab = {0};
    if (!check_eab(r, eab_jws, &eab)) {
        free(contact);
        acme_eab_clear(&eab);
        return;
    }
    acme_account a = {0};
    a.policy_id = eab.policy_id;
    a.eab_id = eab.id;
    snprintf(a.thumbprint, sizeof a.thumbprint, "%s", tp);
    a.jwk = json_dumps(r->jws.jwk, JSON_COMPACT | JSON_SORT_KEYS);
    snprintf(a.status, sizeof a.status, "valid");
    a.contact = contact;
    a.created = r->now;
    int rc = STORE_ERROR;
    if (a.jwk && store_begin(r->st) == STORE_OK) {
        rc = acme_eab_use(r->st, eab.id);
        if (rc == STORE_OK)
            rc = acme_account_create(r->st, &a);
        if (rc == STORE_OK && store_commit(r->st) != STORE_OK)
            rc = STORE_ERROR;
        if (rc != STORE_OK)
            store_rollback(r->st);
    }
    if (rc == STORE_NOT_FOUND)
        acme_problem(r, 401, "unauthorized", "the external account binding has been used up");
    else if (rc == STORE_CONFLICT)
        acme_problem(r, 409, "malformed", "an account with this key was created meanwhile");
    else if (rc != STORE_OK)
        acme_problem(r, 500, "serverInternal", "cannot create the account");
    else {
        pki_info("acme: account %lld created with EAB '%s' (policy %lld)", (long long)a.id,
                 eab.name, (long long)a.policy_id);
        send_account(r, 201, &a);
    }
    acme_account_clear(&a);
    acme_eab_clear(&eab);
}

static bool own_account(acme_req *r, int64_t id)
{
    if (!r->acct.id || r->acct.id != id) {
        acme_problem(r, 403, "unauthorized", "the JWS is not signed by this account");
        return false;
    }
    return true;
}

void acme_account_post(acme_req *r, int64_t id)
{
    if (!own_account(r, id))
        return;
    if (r->payload) {
        json_t *status = json_object_get(r->payload, "status");
        char *contact = NULL;
        if (status &&
            !(json_is_string(status) && strcmp(json_string_value(status), "deactivated") == 0)) {
            acme_problem(r, 400, "malformed", "an account's status can only become 'deactivated'");
            return;
        }
        if (!contact_text(r, &contact))
            return;
        if (contact) {
            free(r->acct.contact);
            r->acct.contact = contact;
        }
        if (status)
            snprintf(r->acct.status, sizeof r->acct.status, "deactivated");
        if (acme_account_update(r->st, &r->acct) != STORE_OK) {
            acme_problem(r, 500, "serverInternal", "cannot update the account");
            return;
        }
    }
    send_account(r, 200, &r->acct);
}

static const char *problem_for_key_change(jws_status st)
{
    return st == JWS_BAD_ALG          ? "badSignatureAlgorithm"
           : st == JWS_BAD_PUBLIC_KEY ? "badPublicKey"
                                      : "malformed";
}

/* RFC 8555 7.3.5: the inner JWS is signed by the new key and names the account and old key. */
void acme_key_change(acme_req *r)
{
    char err[256], tp[JWK_THUMBPRINT_LEN], acct_url[700];
    if (!r->payload) {
        acme_problem(r, 400, "malformed", "keyChange needs the inner JWS as payload");
        return;
    }
    jws_msg in;
    if (jws_parse_json(r->payload, &in, err, sizeof err) != JWS_OK) {
        acme_problem(r, 400, "malformed", "inner JWS: %s", err);
        return;
    }
    uint8_t *spki = NULL;
    size_t spki_len = 0;
    pki_key_type type;
    json_t *inner = NULL;
    json_error_t jerr;
    acme_url(acct_url, sizeof acct_url, "acct/%lld", (long long)r->acct.id);
    json_t *old_key = json_loads(r->acct.jwk, 0, &jerr);
    jws_status st = JWS_OK;
    /* The inner JWS may carry a nonce (RFC 8555 7.3.5); it is not checked. */
    if (!in.jwk || in.kid || !in.url || strcmp(in.url, r->jws.url) != 0) {
        acme_problem(r, 400, "malformed", "inner JWS needs 'jwk' and the same 'url' as the outer");
    } else if ((st = jwk_to_spki(in.jwk, &spki, &spki_len, &type, err, sizeof err)) != JWS_OK ||
               (st = jws_verify(&in, spki, spki_len, type, err, sizeof err)) != JWS_OK) {
        acme_problem(r, 400, problem_for_key_change(st), "inner JWS: %s", err);
    } else if (!(inner = json_loadb((const char *)in.payload, in.payload_len, 0, &jerr)) ||
               !json_is_string(json_object_get(inner, "account")) ||
               strcmp(json_string_value(json_object_get(inner, "account")), acct_url) != 0 ||
               !old_key || !json_equal(json_object_get(inner, "oldKey"), old_key)) {
        acme_problem(r, 400, "malformed", "inner payload must name this account and its old key");
    } else if (jwk_thumbprint(in.jwk, tp, err, sizeof err) != JWS_OK) {
        acme_problem(r, 400, "badPublicKey", "%s", err);
    } else {
        acme_account other;
        if (acme_account_get_by_thumbprint(r->st, tp, &other) == STORE_OK) {
            char loc[700];
            acme_url(loc, sizeof loc, "acct/%lld", (long long)other.id);
            acme_account_clear(&other);
            acme_problem(r, 409, "malformed", "another account uses the new key");
            httpd_add_header(&r->resp, "Location", loc);
        } else {
            free(r->acct.jwk);
            r->acct.jwk = json_dumps(in.jwk, JSON_COMPACT | JSON_SORT_KEYS);
            snprintf(r->acct.thumbprint, sizeof r->acct.thumbprint, "%s", tp);
            if (!r->acct.jwk || acme_account_update(r->st, &r->acct) != STORE_OK)
                acme_problem(r, 500, "serverInternal", "cannot store the new key");
            else
                send_account(r, 200, &r->acct);
        }
    }
    if (inner)
        json_decref(inner);
    if (old_key)
        json_decref(old_key);
    free(spki);
    jws_msg_free(&in);
}

typedef struct {
    json_t *arr;
} order_list;

static int add_order(void *ctx, int64_t id)
{
    char u[700];
    acme_url(u, sizeof u, "order/%lld", (long long)id);
    json_array_append_new(((order_list *)ctx)->arr, json_string(u));
    return 0;
}

void acme_account_orders(acme_req *r, int64_t id)
{
    if (!own_account(r, id))
        return;
    order_list l = {json_array()};
    if (acme_order_list(r->st, id, add_order, &l) != STORE_OK) {
        json_decref(l.arr);
        acme_problem(r, 500, "serverInternal", "cannot list orders");
        return;
    }
    acme_json(r, 200, json_pack("{s:o}", "orders", l.arr), NULL);
}
