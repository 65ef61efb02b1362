/* Audit log listing and retention. */
#include <stdlib.h>

#include "audit/audit.h"
#include "log/log.h"
#include "util/timefmt.h"

static int add_entry(void *ctx, const store_audit *e)
{
    json_error_t jerr;
    json_t *detail = json_loads(e->detail, 0, &jerr);
    json_array_append_new(ctx, json_pack("{s:I,s:o,s:I,s:s,s:s,s:s,s:s,s:o}", "id",
                                         (json_int_t)e->id, "time", api_time(e->time), "user_id",
                                         (json_int_t)e->user_id, "actor", e->actor, "action",
                                         e->action, "target", e->target, "remote", e->remote,
                                         "detail", detail ? detail : json_object()));
    return 0;
}

void audit_list(api_call *c)
{
    long long limit, before, ca_id;
    char action[64];
    if (!api_query_int(c, "limit", 1, 1000, 100, &limit) ||
        !api_query_int(c, "before", 0, INT64_MAX, 0, &before) ||
        !api_query_int(c, "ca_id", 0, INT64_MAX, 0, &ca_id))
        return;
    store_audit_filter f = {.user_id = c->user.admin ? 0 : c->user.id,
                            .before = before,
                            .limit = (int)limit,
                            .action = api_query(c, "action", action, sizeof action),
                            .ca_id = ca_id};
    json_t *arr = json_array();
    if (store_audit_list(c->st, &f, add_entry, arr) != STORE_OK) {
        json_decref(arr);
        api_error(c, 500, "internal", "cannot read the audit log");
        return;
    }
    api_json(c, 200, json_pack("{s:o}", "entries", arr));
}

#define SESSION_PURGE_GRACE_S 86400

void audit_purge(relay_app *app, store *st)
{
    int64_t n = 0;
    if (store_audit_purge(st, pki_now() - app->audit_retention_s, &n) == STORE_OK && n > 0)
        pki_info("audit: purged %lld entries older than %lld days", (long long)n,
                 (long long)(app->audit_retention_s / 86400));
    /* Expired sessions stay a day, so someone coming back is told "session expired" rather
     * than "not valid" whether or not a purge happened to run in between. */
    store_session_purge(st, pki_now() - SESSION_PURGE_GRACE_S, app->session_idle_s);
}
