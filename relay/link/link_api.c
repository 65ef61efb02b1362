/* REST endpoints of the link: appliances with their state, enrolment tokens, the relay's link
 * certificate. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "auth/auth.h"
#include "db/db.h"
#include "keys/keys.h"
#include "link/link_impl.h"
#include "link/link_server.h"
#include "util/timefmt.h"

static bool started(api_call *c)
{
    if (!G_LINK.started) {
        api_error(c, 503, "link_unavailable", "the appliance link is not running");
        return false;
    }
    return true;
}

void relay_link_api_list(api_call *c)
{
    if (!started(c))
        return;
    json_t *list = json_array();
    pthread_mutex_lock(&G_LINK.lock);
    sqlite3_stmt *st = db_query(G_LINK.db,
                                "SELECT name, fingerprint, enrolled_at, last_seen, inventory "
                                "FROM appliances ORDER BY name",
                                "");
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        int online = 0;
        for (link_session *s = G_LINK.sessions; s; s = s->next)
            online |= strcmp(s->peer, name) == 0;
        json_t *inv = json_loads((const char *)sqlite3_column_text(st, 4), 0, NULL);
        json_t *keys = inv ? json_incref(json_object_get(inv, "keys")) : NULL;
        json_decref(inv);
        json_array_append_new(list,
                              json_pack("{s:s,s:s,s:o,s:o,s:b,s:o}", "name", name, "fingerprint",
                                        (const char *)sqlite3_column_text(st, 1), "enrolled",
                                        api_time(sqlite3_column_int64(st, 2)), "last_seen",
                                        api_time(sqlite3_column_int64(st, 3)), "online", online,
                                        "keys", keys ? keys : json_array()));
    }
    if (st)
        db_done(st);
    pthread_mutex_unlock(&G_LINK.lock);
    api_json(c, 200, json_pack("{s:o}", "appliances", list));
}

void relay_link_api_token(api_call *c)
{
    if (!started(c))
        return;
    const char *ca_id = NULL;
    int64_t ttl;
    if (!api_body_str(c, "ca_id", false, 64, &ca_id) ||
        !api_body_int(c, "ttl_seconds", false, 60, 30 * 86400, 86400, &ttl))
        return;
    char token[128], digest[AUTH_DIGEST_HEX];
    if (auth_token_new_prefixed("enrol_", 32, token, sizeof token) != 0 ||
        auth_token_digest(token, digest) != 0) {
        api_error(c, 500, "internal", "cannot make a token");
        return;
    }
    int64_t expires = c->now + ttl;
    pthread_mutex_lock(&G_LINK.lock);
    int n = db_run(G_LINK.db,
                   "INSERT INTO enrolment_tokens (digest, ca_id, created_by, expires) "
                   "VALUES (?,?,?,?)",
                   "ttii", digest, ca_id ? ca_id : "", (int64_t)c->user.id, expires);
    pthread_mutex_unlock(&G_LINK.lock);
    if (n != 1) {
        api_error(c, 500, "internal", "cannot store the token");
        return;
    }
    api_audit(c, "appliance.enrolment_token", ca_id ? ca_id : "", 0, NULL);
    /* The token is shown once; only its digest is kept. */
    api_json(c, 201,
             json_pack("{s:s,s:o,s:s,s:s}", "token", token, "expires", api_time(expires),
                       "link_url", G_LINK.url, "relay_fingerprint", G_LINK.fingerprint));
    explicit_bzero(token, sizeof token);
}

void relay_link_api_certificate(api_call *c)
{
    if (!started(c))
        return;
    size_t len;
    const uint8_t *der = link_identity_cert(G_LINK.id, &len);
    char *pem = NULL;
    size_t pem_len;
    if (pki_pem_encode("CERTIFICATE", der, len, &pem, &pem_len) != 0) {
        api_error(c, 500, "internal", "cannot encode the certificate");
        return;
    }
    httpd_respond(&c->resp, 200, "application/pem-certificate-chain", pem, pem_len);
    free(pem);
}
