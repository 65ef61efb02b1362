/* REST endpoints of the link: appliances with their state, enrolment tokens, the relay's link
 * certificate. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "auth/auth.h"
#include "db/db.h"
#include "keys/keys.h"
#include "link/link_impl.h"
#include "link/link_server.h"
#include "util/encoding.h"
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

int relay_link_sign_http(int sign_status, const char **code)
{
    static const struct {
        int status, http;
        const char *code;
    } map[] = {
        {PKI_SIGN_ERR_OFFLINE, 503, "appliance_offline"},
        {PKI_SIGN_ERR_CARD_ABSENT, 503, "card_absent"},
        {PKI_SIGN_ERR_PIN_BLOCKED, 423, "pin_blocked"},
        {PKI_SIGN_ERR_PIN_REQUIRED, 423, "pin_required"},
        {PKI_SIGN_ERR_POLICY, 403, "policy_refused"},
        {PKI_SIGN_ERR_BUSY, 503, "busy"},
        {PKI_SIGN_ERR_TIMEOUT, 504, "timeout"},
        {PKI_SIGN_ERR_BAD_SIGNATURE, 502, "bad_signature"},
        {PKI_SIGN_ERR_BAD_ALG, 400, "bad_algorithm"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i].status == sign_status) {
            if (code)
                *code = map[i].code;
            return map[i].http;
        }
    if (code)
        *code = "internal";
    return 500;
}

int relay_link_sign_status_of(const char *message)
{
    size_t n = message ? strlen(message) : 0;
    for (int st = PKI_SIGN_ERR_BAD_ALG; st >= PKI_SIGN_ERR_BAD_SIGNATURE; st--) {
        const char *t = pki_sign_status_text(st);
        size_t tl = strlen(t);
        /* lib/x509 words it "signing failed: <text>"; the text alone also counts */
        if (n >= tl && strcmp(message + n - tl, t) == 0 &&
            (n == tl || (n >= tl + 2 && message[n - tl - 2] == ':')))
            return st;
    }
    return 0;
}

/* The API's name and HTTP status for each signer error. */
static void sign_error(api_call *c, int status)
{
    const char *code;
    int http = relay_link_sign_http(status, &code);
    api_error(c, http, code, "%s", pki_sign_status_text(status));
}

/* A signature through an appliance, for operators checking the path end to end: the appliance
 * applies its own policy (it signs only structures its slot's CA issues), and the answer is
 * verified against public_key like every signature the relay uses. */
void relay_link_api_sign(api_call *c)
{
    if (!started(c))
        return;
    const char *appliance, *slot, *ca_id, *alg_name, *tbs_b64, *pub_pem;
    int64_t timeout_ms;
    char targets[2048] = "";
    /* One appliance and slot, or "targets": [{"appliance", "slot"}, …] holding the same key. */
    json_t *list = json_object_get(c->json, "targets");
    if (json_is_array(list) && json_array_size(list) > 0) {
        size_t i;
        json_t *t;
        json_array_foreach(list, i, t)
        {
            const char *a = json_string_value(json_object_get(t, "appliance"));
            const char *sl = json_string_value(json_object_get(t, "slot"));
            size_t used = strlen(targets);
            if (!a || !sl || strchr(a, ',') || strchr(sl, ',') ||
                (size_t)snprintf(targets + used, sizeof targets - used, "%s%s/%s", used ? "," : "",
                                 a, sl) >= sizeof targets - used) {
                api_error(c, 400, "bad_request", "targets: a list of {appliance, slot}");
                return;
            }
        }
    } else {
        if (!api_body_str(c, "appliance", true, LINK_NAME_MAX - 1, &appliance) ||
            !api_body_str(c, "slot", true, 30, &slot))
            return;
        if (strchr(appliance, ',') || strchr(slot, ',')) {
            api_error(c, 400, "bad_request", "appliance and slot are single names");
            return;
        }
        snprintf(targets, sizeof targets, "%s/%s", appliance, slot);
    }
    if (!api_body_str(c, "ca_id", false, 64, &ca_id) ||
        !api_body_str(c, "algorithm", false, 64, &alg_name) ||
        !api_body_text(c, "tbs", true, 1024 * 1024, &tbs_b64) ||
        !api_body_text(c, "public_key", true, 16384, &pub_pem) ||
        !api_body_int(c, "timeout_ms", false, 100, 60000, RELAY_LINK_SIGN_TIMEOUT_MS, &timeout_ms))
        return;
    uint8_t *tbs = NULL, *spki = NULL, *sig = NULL;
    size_t tbs_len, spki_len, sig_len;
    char err[256];
    pki_signer *s = NULL;
    if (pki_base64_decode(tbs_b64, strlen(tbs_b64), &tbs, &tbs_len) != 0 || tbs_len == 0) {
        api_error(c, 400, "bad_request", "tbs must be base64 DER");
        goto done;
    }
    if (pki_pem_decode(pub_pem, strlen(pub_pem), "PUBLIC KEY", &spki, &spki_len, NULL, 0, NULL)) {
        api_error(c, 400, "bad_request", "public_key must be a PEM PUBLIC KEY");
        goto done;
    }
    if (!(s = relay_link_signer_new(targets, ca_id, spki, spki_len, (unsigned)timeout_ms, err,
                                    sizeof err))) {
        api_error(c, 400, "bad_request", "%s", err);
        goto done;
    }
    pki_sig_alg alg = s->default_alg;
    if (alg_name && pki_sig_alg_from_name(alg_name, &alg) != 0) {
        api_error(c, 400, "bad_request", "unknown algorithm %s", alg_name);
        goto done;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc =
        pki_signer_sign_sync(s, alg, tbs, tbs_len, (unsigned)timeout_ms + 2000, &sig, &sig_len);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* How long the signer took, from the request sealed to the answer verified (the link and
     * the appliance, without this API around it), in the W3C Server-Timing header. */
    char timing[64];
    snprintf(timing, sizeof timing, "appliance;dur=%.3f",
             (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    httpd_add_header(&c->resp, "Server-Timing", timing);
    if (rc != PKI_SIGN_OK) {
        sign_error(c, rc);
        goto done;
    }
    char *b64 = pki_base64_encode(sig, sig_len);
    api_json(
        c, 200,
        json_pack("{s:s,s:s}", "signature", b64 ? b64 : "", "algorithm", pki_sig_alg_name(alg)));
    free(b64);
done:
    pki_signer_free(s);
    free(tbs);
    free(spki);
    free(sig);
}
