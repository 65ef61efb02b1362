/* Administration of ACME policies and EAB credentials over the REST API. The HMAC key of a new
 * credential is returned once, with example commands, and stored only sealed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/random.h>

#include "acme/acme_impl.h"
#include "seal/seal.h"
#include "util/encoding.h"
#include "util/timefmt.h"

static bool ensure(api_call *c)
{
    if (acme_store_ensure(c->st) != STORE_OK) {
        api_error(c, 500, "internal", "ACME storage unavailable");
        return false;
    }
    return true;
}

static json_t *policy_json(const acme_policy *p)
{
    json_error_t jerr;
    json_t *allowed = json_loads(p->allowed ? p->allowed : "[]", 0, &jerr);
    json_t *pre = json_loads(p->preapproved ? p->preapproved : "[]", 0, &jerr);
    return json_pack("{s:I, s:s, s:I, s:o, s:o, s:o}", "id", (json_int_t)p->id, "name", p->name,
                     "template_id", (json_int_t)p->template_id, "allowed_domains",
                     allowed ? allowed : json_array(), "preapproved_domains",
                     pre ? pre : json_array(), "created", api_time(p->created));
}

static int add_policy(void *ctx, const acme_policy *p)
{
    json_array_append_new(ctx, policy_json(p));
    return 0;
}

void acme_api_policy_list(api_call *c)
{
    if (!ensure(c))
        return;
    json_t *arr = json_array();
    if (acme_policy_list(c->st, add_policy, arr) != STORE_OK) {
        json_decref(arr);
        api_error(c, 500, "internal", "cannot list policies");
        return;
    }
    api_json(c, 200, json_pack("{s:o}", "policies", arr));
}

/* A JSON array of domain patterns; normalised into *out (text). */
static bool domain_list(api_call *c, const char *key, char **out)
{
    json_t *v = json_object_get(c->json, key);
    json_t *norm = json_array();
    if (v && !json_is_array(v)) {
        json_decref(norm);
        api_error(c, 400, "bad_field", "'%s' must be an array of domain names", key);
        return false;
    }
    size_t i;
    json_t *d;
    json_array_foreach(v, i, d)
    {
        char name[256];
        const char *s = json_string_value(d);
        if (!s || strlen(s) >= sizeof name || i >= 1000) {
            json_decref(norm);
            api_error(c, 400, "bad_field", "'%s' entries must be DNS names (at most 1000)", key);
            return false;
        }
        snprintf(name, sizeof name, "%s", s);
        if (!acme_dns_name_ok(name, true)) {
            json_decref(norm);
            api_error(c, 400, "bad_field", "'%s': '%s' is not a DNS name or a '*.' pattern", key,
                      s);
            return false;
        }
        json_array_append_new(norm, json_string(name));
    }
    *out = json_dumps(norm, JSON_COMPACT);
    json_decref(norm);
    return *out != NULL;
}

void acme_api_policy_create(api_call *c)
{
    if (!ensure(c))
        return;
    const char *name;
    int64_t template_id;
    if (!api_body_str(c, "name", true, STORE_NAME_MAX - 1, &name) ||
        !api_body_int(c, "template_id", true, 1, INT64_MAX, 0, &template_id))
        return;
    store_template t = {0};
    if (store_template_get(c->st, c->user.id, template_id, &t) != STORE_OK) {
        api_error(c, 400, "bad_field", "no template %lld visible to you", (long long)template_id);
        return;
    }
    store_template_clear(&t);
    acme_policy p = {0};
    snprintf(p.name, sizeof p.name, "%s", name);
    p.template_id = template_id;
    p.created = c->now;
    if (!domain_list(c, "allowed_domains", &p.allowed) ||
        !domain_list(c, "preapproved_domains", &p.preapproved)) {
        acme_policy_clear(&p);
        return;
    }
    int rc = acme_policy_create(c->st, &p);
    if (rc == STORE_CONFLICT)
        api_error(c, 409, "conflict", "a policy named '%s' exists", name);
    else if (rc != STORE_OK)
        api_error(c, 500, "internal", "cannot store the policy");
    else {
        char target[64];
        snprintf(target, sizeof target, "acme_policy:%lld", (long long)p.id);
        api_audit(c, "acme.policy.create", target, 0, json_pack("{s:s}", "name", p.name));
        api_json(c, 201, policy_json(&p));
    }
    acme_policy_clear(&p);
}

void acme_api_policy_delete(api_call *c)
{
    int64_t id;
    if (!ensure(c) || !api_param_id(c, 0, &id))
        return;
    int rc = acme_policy_delete(c->st, id);
    if (rc == STORE_NOT_FOUND)
        api_error(c, 404, "not_found", "no such policy");
    else if (rc == STORE_CONFLICT)
        api_error(c, 409, "in_use", "accounts or EAB credentials still use this policy");
    else if (rc != STORE_OK)
        api_error(c, 500, "internal", "cannot delete the policy");
    else {
        char target[64];
        snprintf(target, sizeof target, "acme_policy:%lld", (long long)id);
        api_audit(c, "acme.policy.delete", target, 0, NULL);
        api_no_content(c);
    }
}

static json_t *eab_json(const acme_eab *e)
{
    return json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:o, s:o}", "id", (json_int_t)e->id, "name",
                     e->name, "key_id", e->kid, "policy_id", (json_int_t)e->policy_id, "max_uses",
                     (json_int_t)e->max_uses, "uses", (json_int_t)e->uses, "expires",
                     api_time(e->expires), "created", api_time(e->created));
}

static int add_eab(void *ctx, const acme_eab *e)
{
    json_array_append_new(ctx, eab_json(e));
    return 0;
}

void acme_api_eab_list(api_call *c)
{
    if (!ensure(c))
        return;
    json_t *arr = json_array();
    if (acme_eab_list(c->st, add_eab, arr) != STORE_OK) {
        json_decref(arr);
        api_error(c, 500, "internal", "cannot list credentials");
        return;
    }
    api_json(c, 200, json_pack("{s:o}", "credentials", arr));
}

/* Example commands; the HMAC key appears here once and nowhere else. */
static json_t *examples(const char *dir, const char *kid, const char *hmac)
{
    char certbot[2600], lego[2600], uacme[2600];
    snprintf(certbot, sizeof certbot,
             "certbot register --server %s --eab-kid=%s --eab-hmac-key=%s --agree-tos -m "
             "admin@example.com && certbot certonly --server %s --standalone -d example.com",
             dir, kid, hmac, dir);
    snprintf(lego, sizeof lego,
             "lego --server %s --eab --kid=%s --hmac=%s --accept-tos --email admin@example.com "
             "--domains example.com --http run",
             dir, kid, hmac);
    snprintf(uacme, sizeof uacme,
             "uacme -a %s -e %s:%s new admin@example.com && uacme -a %s -h "
             "/usr/share/uacme/uacme.sh issue example.com",
             dir, kid, hmac, dir);
    return json_pack("{s:s, s:s, s:s}", "certbot", certbot, "lego", lego, "uacme", uacme);
}

/* base64url of n random bytes. A value starting with '-' is drawn again: ACME clients
 * (certbot's argparse, lego's flag parser) read "--eab-hmac-key -Xy…" as a missing value
 * followed by an unknown option, so one credential in 64 would be unusable as typed. */
static int random_b64(size_t n, char **out)
{
    uint8_t raw[64];
    WC_RNG rng;
    *out = NULL;
    if (n > sizeof raw || wc_InitRng(&rng) != 0)
        return -1;
    for (int attempt = 0; attempt < 64; attempt++) {
        if (wc_RNG_GenerateBlock(&rng, raw, (word32)n) != 0)
            break;
        *out = pki_base64url_encode(raw, n);
        if (!*out || (*out)[0] != '-')
            break;
        explicit_bzero(*out, strlen(*out));
        free(*out);
        *out = NULL;
    }
    wc_FreeRng(&rng);
    explicit_bzero(raw, sizeof raw);
    return *out ? 0 : -1;
}

void acme_api_eab_create(api_call *c)
{
    if (!ensure(c))
        return;
    const char *name, *expires_s;
    int64_t policy_id, max_uses;
    if (!api_body_str(c, "name", true, STORE_NAME_MAX - 1, &name) ||
        !api_body_int(c, "policy_id", true, 1, INT64_MAX, 0, &policy_id) ||
        !api_body_int(c, "max_uses", false, 0, 1000000, 1, &max_uses) ||
        !api_body_str(c, "expires", false, 64, &expires_s))
        return;
    acme_eab e = {0};
    if (expires_s && (pki_time_from_rfc3339(expires_s, &e.expires) != 0 || e.expires <= c->now)) {
        api_error(c, 400, "bad_field", "'expires' must be an RFC 3339 time in the future");
        return;
    }
    acme_policy pol;
    if (acme_policy_get(c->st, policy_id, &pol) != STORE_OK) {
        api_error(c, 400, "bad_field", "no ACME policy %lld", (long long)policy_id);
        return;
    }
    acme_policy_clear(&pol);
    char *kid = NULL, *hmac = NULL;
    uint8_t *key = NULL;
    size_t key_len = 0;
    if (random_b64(16, &kid) != 0 || random_b64(32, &hmac) != 0 ||
        pki_base64url_decode(hmac, strlen(hmac), &key, &key_len) != 0) {
        api_error(c, 500, "internal", "no randomness");
        goto out;
    }
    snprintf(e.name, sizeof e.name, "%s", name);
    snprintf(e.kid, sizeof e.kid, "%s", kid);
    e.policy_id = policy_id;
    e.max_uses = max_uses;
    e.created = c->now;
    char aad[128];
    snprintf(aad, sizeof aad, "acme-eab:%s", e.kid);
    if (seal_encrypt(c->app->master, key, key_len, (const uint8_t *)aad, strlen(aad), &e.sealed_key,
                     &e.sealed_len) != 0) {
        api_error(c, 500, "internal", "cannot seal the key");
        goto out;
    }
    if (acme_eab_create(c->st, &e) != STORE_OK) {
        api_error(c, 500, "internal", "cannot store the credential");
        goto out;
    }
    char target[64], dir[600];
    snprintf(target, sizeof target, "acme_eab:%lld", (long long)e.id);
    api_audit(c, "acme.eab.create", target, 0,
              json_pack("{s:s, s:s}", "name", e.name, "key_id", e.kid));
    acme_url(dir, sizeof dir, "directory");
    json_t *j = eab_json(&e);
    json_object_set_new(j, "hmac_key", json_string(hmac));
    json_object_set_new(j, "directory", json_string(dir));
    json_object_set_new(j, "examples", examples(dir, e.kid, hmac));
    api_json(c, 201, j);
out:
    free(kid);
    if (hmac)
        seal_wipe_free(hmac, strlen(hmac));
    seal_wipe_free(key, key_len);
    acme_eab_clear(&e);
}

void acme_api_eab_delete(api_call *c)
{
    int64_t id;
    if (!ensure(c) || !api_param_id(c, 0, &id))
        return;
    int rc = acme_eab_delete(c->st, id);
    if (rc == STORE_NOT_FOUND)
        api_error(c, 404, "not_found", "no such credential");
    else if (rc != STORE_OK)
        api_error(c, 500, "internal", "cannot delete the credential");
    else {
        char target[64];
        snprintf(target, sizeof target, "acme_eab:%lld", (long long)id);
        api_audit(c, "acme.eab.delete", target, 0, NULL);
        api_no_content(c);
    }
}
