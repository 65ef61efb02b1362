/* Template endpoints: list, create (from a starter or settings), read, update, delete. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "templates/templates.h"

json_t *tpl_urls(const char *base_url, int64_t id)
{
    char req[640], scep[640], acme[640], ndes[640];
    snprintf(req, sizeof req, "%s/request/%lld", base_url, (long long)id);
    snprintf(scep, sizeof scep, "%s/scep/%lld", base_url, (long long)id);
    snprintf(acme, sizeof acme, "%s/acme/directory", base_url);
    snprintf(ndes, sizeof ndes, "%s/CertSrv/mscep_admin/%lld", base_url, (long long)id);
    return json_pack("{s:s,s:s,s:s,s:s}", "public_request", req, "scep", scep, "acme_directory",
                     acme, "ndes_admin", ndes);
}

static json_t *template_json(api_call *c, const store_template *t, const tpl_settings *s)
{
    return json_pack("{s:I,s:I,s:s,s:o,s:o,s:o}", "id", (json_int_t)t->id, "ca_id",
                     (json_int_t)t->ca_id, "name", t->name, "created", api_time(t->created),
                     "settings", tpl_to_json(s), "urls", tpl_urls(c->app->base_url, t->id));
}

int tpl_create_starter(store *st, int64_t ca_id, const char *name, int64_t now, int64_t *id)
{
    tpl_settings s;
    if (!tpl_starter(name, &s))
        return STORE_NOT_FOUND;
    json_t *j = tpl_to_json(&s);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text)
        return STORE_ERROR;
    int rc = store_template_create(st, ca_id, name, text, now, id);
    free(text);
    return rc;
}

typedef struct {
    api_call *c;
    json_t *arr;
} list_ctx;

static int add_template(void *ctx, const store_template *t)
{
    list_ctx *l = ctx;
    tpl_settings s;
    tpl_parse_stored(&s, t->settings);
    json_array_append_new(l->arr, template_json(l->c, t, &s));
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
    if (rc == STORE_NOT_FOUND)
        api_error(c, 404, "not_found", "no such CA");
    else
        api_error(c, 500, "internal", "cannot read the CA");
    return false;
}

void templates_list(api_call *c)
{
    int64_t ca_id;
    if (!visible_ca(c, &ca_id))
        return;
    list_ctx l = {c, json_array()};
    if (store_template_list(c->st, ca_id, add_template, &l) != STORE_OK) {
        json_decref(l.arr);
        api_error(c, 500, "internal", "cannot list templates");
        return;
    }
    api_json(c, 200, json_pack("{s:o}", "templates", l.arr));
}

void templates_starters(api_call *c)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < TPL_STARTER_COUNT; i++) {
        tpl_settings s;
        tpl_starter(TPL_STARTER_NAMES[i], &s);
        json_array_append_new(
            arr, json_pack("{s:s,s:o}", "name", TPL_STARTER_NAMES[i], "settings", tpl_to_json(&s)));
    }
    api_json(c, 200, json_pack("{s:o}", "starters", arr));
}

void templates_create(api_call *c)
{
    int64_t ca_id;
    const char *name, *starter;
    if (!visible_ca(c, &ca_id) || !api_body_str(c, "name", true, STORE_NAME_MAX - 1, &name) ||
        !api_body_str(c, "starter", false, 64, &starter))
        return;
    tpl_settings s;
    if (starter && !tpl_starter(starter, &s)) {
        api_error(c, 400, "bad_field", "'starter' must be one of the starter template names");
        return;
    }
    if (!starter)
        tpl_defaults(&s);
    json_t *settings = json_object_get(c->json, "settings");
    char err[200];
    if (settings && tpl_from_json(&s, settings, err, sizeof err) != 0) {
        api_error(c, 400, "bad_template", "%s", err);
        return;
    }
    json_t *j = tpl_to_json(&s);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    int64_t id;
    int rc = text ? store_template_create(c->st, ca_id, name, text, c->now, &id) : STORE_ERROR;
    free(text);
    if (rc == STORE_CONFLICT) {
        api_error(c, 409, "conflict", "this CA has a template named '%s'", name);
        return;
    }
    store_template t;
    if (rc != STORE_OK || store_template_get(c->st, c->user.id, id, &t) != STORE_OK) {
        api_error(c, 500, "internal", "cannot create the template");
        return;
    }
    char target[48];
    snprintf(target, sizeof target, "template:%lld", (long long)id);
    api_audit(c, "template.create", target, ca_id, json_pack("{s:s}", "name", name));
    api_json(c, 201, template_json(c, &t, &s));
    store_template_clear(&t);
}

static bool load(api_call *c, store_template *t)
{
    int64_t id;
    if (!api_param_id(c, 0, &id))
        return false;
    int rc = store_template_get(c->st, c->user.id, id, t);
    if (rc == STORE_OK)
        return true;
    if (rc == STORE_NOT_FOUND)
        api_error(c, 404, "not_found", "no such template");
    else
        api_error(c, 500, "internal", "cannot read the template");
    return false;
}

void templates_get(api_call *c)
{
    store_template t;
    if (!load(c, &t))
        return;
    tpl_settings s;
    tpl_parse_stored(&s, t.settings);
    api_json(c, 200, template_json(c, &t, &s));
    store_template_clear(&t);
}

void templates_update(api_call *c)
{
    store_template t;
    if (!load(c, &t))
        return;
    const char *name;
    tpl_settings s;
    char err[200];
    tpl_parse_stored(&s, t.settings);
    json_t *settings = json_object_get(c->json, "settings");
    if (!api_body_str(c, "name", false, STORE_NAME_MAX - 1, &name)) {
        store_template_clear(&t);
        return;
    }
    if (settings && tpl_from_json(&s, settings, err, sizeof err) != 0) {
        api_error(c, 400, "bad_template", "%s", err);
        store_template_clear(&t);
        return;
    }
    json_t *j = tpl_to_json(&s);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (name)
        snprintf(t.name, sizeof t.name, "%s", name);
    int rc = text ? store_template_update(c->st, t.id, t.name, text) : STORE_ERROR;
    free(text);
    if (rc == STORE_CONFLICT)
        api_error(c, 409, "conflict", "this CA has a template named '%s'", t.name);
    else if (rc != STORE_OK)
        api_error(c, 500, "internal", "cannot update the template");
    else {
        char target[48];
        snprintf(target, sizeof target, "template:%lld", (long long)t.id);
        api_audit(c, "template.update", target, t.ca_id, NULL);
        api_json(c, 200, template_json(c, &t, &s));
    }
    store_template_clear(&t);
}

void templates_delete(api_call *c)
{
    store_template t;
    if (!load(c, &t))
        return;
    int64_t active = 0;
    if (store_begin(c->st) != STORE_OK) {
        api_error(c, 503, "busy", "database busy");
        store_template_clear(&t);
        return;
    }
    /* TPL-9: not while a certificate from it is active; one on hold counts as active. */
    int rc = store_template_active_certs(c->st, t.id, c->now, &active);
    if (rc == STORE_OK && active > 0) {
        store_rollback(c->st);
        api_error(c, 409, "template_in_use",
                  "%lld certificate(s) issued from this template are still active or on hold; "
                  "revoke them or wait until they expire",
                  (long long)active);
    } else if (rc != STORE_OK || store_template_delete(c->st, t.id) != STORE_OK) {
        store_rollback(c->st);
        api_error(c, 500, "internal", "cannot delete the template");
    } else {
        char target[48];
        snprintf(target, sizeof target, "template:%lld", (long long)t.id);
        api_audit(c, "template.delete", target, t.ca_id, json_pack("{s:s}", "name", t.name));
        if (store_commit(c->st) != STORE_OK)
            api_error(c, 500, "internal", "cannot delete the template");
        else
            api_no_content(c);
    }
    store_template_clear(&t);
}
