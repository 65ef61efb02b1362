/* HSM CAs on the link side (hsm-contract): each CA's certificate template, the provisioning
 * certificate signed by the relay's link key with a one-time token bound to the CA, and the
 * slots appliances offer in their ENROL messages. All of it lives in the link registry
 * (<state_dir>/link.db), under G_LINK.lock like the rest of the registry. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>

#include "api/api.h"
#include "auth/auth.h"
#include "db/db.h"
#include "keys/keys.h"
#include "link/link_impl.h"
#include "link/link_server.h"
#include "log/log.h"
#include "pkix/pkix.h"
#include "util/timefmt.h"
#include "x509/x509.h"

static uint64_t g_generation = 1; /* under G_LINK.lock */

uint64_t relay_link_hsm_generation(void)
{
    pthread_mutex_lock(&G_LINK.lock);
    uint64_t g = g_generation;
    pthread_mutex_unlock(&G_LINK.lock);
    return g;
}

static void id_text(int64_t ca_id, char out[32])
{
    snprintf(out, 32, "%lld", (long long)ca_id);
}

int relay_link_hsm_register(int64_t ca_id, const relay_hsm_template *t, char *err, size_t errlen)
{
    char id[32];
    id_text(ca_id, id);
    if (!G_LINK.started) {
        snprintf(err, errlen, "the appliance link is not running");
        return -1;
    }
    pthread_mutex_lock(&G_LINK.lock);
    int n = db_run(G_LINK.db,
                   "INSERT OR REPLACE INTO hsm_cas (ca_id, kind, subject, not_before, not_after, "
                   "path_len, created) VALUES (?,?,?,?,?,?,?)",
                   "tibiiii", id, (int64_t)t->kind, (const void *)t->subject_der, t->subject_len,
                   t->not_before, t->not_after, (int64_t)t->path_len, pki_now());
    pthread_mutex_unlock(&G_LINK.lock);
    if (n != 1) {
        snprintf(err, errlen, "cannot store the HSM CA template");
        return -1;
    }
    return 0;
}

/* ---- The provisioning certificate --------------------------------------------------------- */

#define CA_KU (PKI_KU_KEY_CERT_SIGN | PKI_KU_CRL_SIGN | PKI_KU_DIGITAL_SIGNATURE)

typedef struct {
    int kind;
    uint8_t *subject;
    size_t subject_len;
    int64_t not_before, not_after;
    int path_len;
} stored_template;

/* Lock held. 0, 1 not an HSM CA, -1 error. */
static int load_template(const char *id, stored_template *t)
{
    memset(t, 0, sizeof *t);
    sqlite3_stmt *st = db_query(G_LINK.db,
                                "SELECT kind, subject, not_before, not_after, path_len FROM "
                                "hsm_cas WHERE ca_id = ?",
                                "t", id);
    if (!st)
        return -1;
    int rc = 1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        t->kind = sqlite3_column_int(st, 0);
        rc = db_col_blob(st, 1, &t->subject, &t->subject_len) == 0 ? 0 : -1;
        t->not_before = sqlite3_column_int64(st, 2);
        t->not_after = sqlite3_column_int64(st, 3);
        t->path_len = sqlite3_column_int(st, 4);
    }
    db_done(st);
    return rc;
}

/* The CA certificate's template (subject, validity, CA extensions), issued by the relay's link
 * certificate over the link key as a placeholder, with the extension of ours, critical (never
 * valid for anything). */
static int build_cert(const stored_template *tp, const link_provisioning *prov, uint8_t **der,
                      size_t *len, char *err, size_t errlen)
{
    size_t link_len;
    const uint8_t *link_der = link_identity_cert(G_LINK.id, &link_len);
    pki_cert *link = pki_cert_parse(link_der, link_len, err, errlen);
    if (!link)
        return -1;
    uint8_t *ext = NULL;
    size_t ext_len = 0;
    pki_exts extra;
    pki_exts_init(&extra);
    pki_issuer is;
    memset(&is, 0, sizeof is);
    int rc = -1;
    if (link_provisioning_encode(prov, &ext, &ext_len) != 0) {
        snprintf(err, errlen, "cannot encode the provisioning extension");
        goto out;
    }
    if (pki_exts_add(&extra, LINK_PROVISIONING_OID, 1, ext, ext_len) != 0 ||
        relay_link_issuer(&is, tp->not_before, tp->not_after, err, errlen) != 0)
        goto out;
    pki_cert_template t;
    pki_cert_template_init(&t);
    t.subject_der = tp->subject;
    t.subject_der_len = tp->subject_len;
    t.not_before = tp->not_before;
    t.not_after = tp->not_after;
    t.spki = link->spki.p;
    t.spki_len = link->spki.len;
    t.sig_alg = PKI_SIG_ECDSA_SHA256;
    t.is_ca = 1;
    t.path_len = tp->path_len;
    t.key_usage = CA_KU;
    t.extra = &extra;
    char why[256] = "";
    if (pki_cert_build_sync(&t, &is, link_identity_signer(G_LINK.id), der, len, why, sizeof why) !=
        0) {
        snprintf(err, errlen, "cannot build the provisioning certificate: %s", why);
        goto out;
    }
    rc = 0;
out:
    pki_issuer_free(&is);
    pki_exts_free(&extra);
    free(ext);
    pki_cert_free(link);
    return rc;
}

int relay_link_hsm_provisioning(int64_t ca_id, int64_t created_by, int64_t ttl, uint8_t **der,
                                size_t *len, char *err, size_t errlen)
{
    if (!G_LINK.started) {
        snprintf(err, errlen, "the appliance link is not running");
        return -1;
    }
    char id[32], digest[AUTH_DIGEST_HEX];
    id_text(ca_id, id);
    link_provisioning prov;
    memset(&prov, 0, sizeof prov);
    stored_template tp;
    pthread_mutex_lock(&G_LINK.lock);
    int found = load_template(id, &tp);
    pthread_mutex_unlock(&G_LINK.lock);
    if (found != 0) {
        snprintf(err, errlen, found > 0 ? "not an HSM CA" : "cannot read the HSM CA template");
        return -1;
    }
    size_t link_len;
    const uint8_t *link_der = link_identity_cert(G_LINK.id, &link_len);
    int rc = -1;
    if (auth_token_new_prefixed("enrol_", 32, prov.token, sizeof prov.token) != 0 ||
        auth_token_digest(prov.token, digest) != 0 ||
        wc_Sha256Hash(link_der, (word32)link_len, prov.relay_fingerprint) != 0) {
        snprintf(err, errlen, "cannot make a token");
        goto out;
    }
    if (strlen(G_LINK.url) >= sizeof prov.link_url) {
        snprintf(err, errlen, "the relay's link URL is too long for a provisioning certificate");
        goto out;
    }
    memcpy(prov.link_url, G_LINK.url, strlen(G_LINK.url) + 1);
    snprintf(prov.ca_id, sizeof prov.ca_id, "%s", id);
    prov.ca_kind = tp.kind;
    int64_t now = pki_now();
    prov.token_expires = now + ttl;
    if (build_cert(&tp, &prov, der, len, err, errlen) != 0)
        goto out;
    /* The new token replaces the CA's unspent ones in the same transaction that stores it. */
    pthread_mutex_lock(&G_LINK.lock);
    int ok = db_begin(G_LINK.db) == 0;
    if (ok && db_run(G_LINK.db,
                     "UPDATE enrolment_tokens SET replaced = 1 WHERE ca_id = ? AND hsm = 1 AND "
                     "used_at = 0 AND replaced = 0",
                     "t", id) < 0)
        ok = 0;
    if (ok && db_run(G_LINK.db,
                     "INSERT INTO enrolment_tokens (digest, ca_id, created_by, expires, hsm) "
                     "VALUES (?,?,?,?,1)",
                     "ttii", digest, id, created_by, prov.token_expires) != 1)
        ok = 0;
    if (ok)
        ok = db_commit(G_LINK.db) == 0;
    else
        db_rollback(G_LINK.db);
    pthread_mutex_unlock(&G_LINK.lock);
    if (!ok) {
        free(*der);
        *der = NULL;
        snprintf(err, errlen, "cannot store the enrolment token");
        goto out;
    }
    rc = 0;
out:
    explicit_bzero(prov.token, sizeof prov.token);
    free(tp.subject);
    return rc;
}

/* ---- Offers --------------------------------------------------------------------------------- */

int hsm_offer_present(const json_t *body)
{
    return json_object_get(body, "slot") || json_object_get(body, "public_key") ||
           json_object_get(body, "certificate") || json_object_get(body, "csr") ||
           json_object_get(body, "attestation");
}

int registry_offer(const char *token, const char *name, const uint8_t *new_cert,
                   size_t new_cert_len, const link_slot_offer *o, int64_t now, char *why,
                   size_t whylen)
{
    if (db_begin(G_LINK.db) != 0) {
        snprintf(why, whylen, "registry busy");
        return -1;
    }
    if (registry_spend_token(token, name, o->ca_id, now, why, whylen) != 0 ||
        (new_cert && registry_add_appliance(name, new_cert, new_cert_len, now, why, whylen) != 0)) {
        db_rollback(G_LINK.db);
        return -1;
    }
    if (db_run(G_LINK.db,
               "INSERT OR REPLACE INTO hsm_offers (ca_id, appliance, slot, spki, cert, csr, "
               "attested, offered) VALUES (?,?,?,?,?,?,?,?)",
               "tttbbbii", o->ca_id, name, o->slot, (const void *)o->spki, o->spki_len,
               (const void *)o->cert, o->cert_len, (const void *)o->csr, o->csr_len,
               (int64_t)o->attested, now) != 1 ||
        db_commit(G_LINK.db) != 0) {
        db_rollback(G_LINK.db);
        snprintf(why, whylen, "cannot record the offer");
        return -1;
    }
    g_generation++;
    return 0;
}

/* ---- What relay/ca reads -------------------------------------------------------------------- */

static json_t *pem_or_null(sqlite3_stmt *st, int col, const char *label)
{
    uint8_t *der = NULL;
    size_t len = 0;
    char *pem = NULL;
    size_t pem_len;
    if (sqlite3_column_type(st, col) == SQLITE_NULL || db_col_blob(st, col, &der, &len) != 0 ||
        pki_pem_encode(label, der, len, &pem, &pem_len) != 0) {
        free(der);
        return json_null();
    }
    free(der);
    json_t *j = json_string(pem);
    free(pem);
    return j ? j : json_null();
}

static int online(const char *appliance)
{
    for (link_session *s = G_LINK.sessions; s; s = s->next)
        if (strcmp(s->peer, appliance) == 0)
            return 1;
    return 0;
}

json_t *relay_link_hsm_json(int64_t ca_id, const uint8_t *spki, size_t spki_len)
{
    char id[32];
    id_text(ca_id, id);
    json_t *offers = json_array(), *targets = json_array();
    if (!G_LINK.started)
        return json_pack("{s:o,s:o}", "offers", offers, "targets", targets);
    pthread_mutex_lock(&G_LINK.lock);
    sqlite3_stmt *st = db_query(G_LINK.db,
                                "SELECT appliance, slot, spki, cert, csr, attested, offered FROM "
                                "hsm_offers WHERE ca_id = ? ORDER BY offered, appliance, slot",
                                "t", id);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        const char *appliance = (const char *)sqlite3_column_text(st, 0);
        const char *slot = (const char *)sqlite3_column_text(st, 1);
        const void *key = sqlite3_column_blob(st, 2);
        size_t key_len = (size_t)sqlite3_column_bytes(st, 2);
        json_array_append_new(
            offers, json_pack("{s:s,s:s,s:o,s:o,s:o,s:b,s:b,s:o}", "appliance", appliance, "slot",
                              slot, "public_key", pem_or_null(st, 2, "PUBLIC KEY"), "certificate",
                              pem_or_null(st, 3, "CERTIFICATE"), "csr",
                              pem_or_null(st, 4, "CERTIFICATE REQUEST"), "attested",
                              sqlite3_column_int(st, 5) != 0, "online", online(appliance),
                              "offered", api_time(sqlite3_column_int64(st, 6))));
        if (spki && key_len == spki_len && memcmp(key, spki, spki_len) == 0) {
            char t[LINK_NAME_MAX + 40];
            snprintf(t, sizeof t, "%s/%s", appliance, slot);
            json_array_append_new(targets, json_string(t));
        }
    }
    if (st)
        db_done(st);
    pthread_mutex_unlock(&G_LINK.lock);
    return json_pack("{s:o,s:o}", "offers", offers, "targets", targets);
}

int relay_link_hsm_targets(int64_t ca_id, const uint8_t *spki, size_t spki_len, char *out,
                           size_t cap)
{
    char id[32];
    id_text(ca_id, id);
    if (!G_LINK.started || cap == 0)
        return -1;
    out[0] = 0;
    size_t used = 0;
    int n = 0, fits = 1;
    pthread_mutex_lock(&G_LINK.lock);
    sqlite3_stmt *st =
        db_query(G_LINK.db,
                 "SELECT appliance, slot FROM hsm_offers WHERE ca_id = ? AND spki = ? "
                 "ORDER BY offered, appliance, slot",
                 "tb", id, (const void *)spki, spki_len);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        int w = snprintf(out + used, cap - used, "%s%s/%s", n ? "," : "",
                         (const char *)sqlite3_column_text(st, 0),
                         (const char *)sqlite3_column_text(st, 1));
        if (w < 0 || (size_t)w >= cap - used) {
            fits = 0;
            break;
        }
        used += (size_t)w;
        n++;
    }
    if (st)
        db_done(st);
    pthread_mutex_unlock(&G_LINK.lock);
    return st && fits ? n : -1;
}

int relay_link_hsm_offered(int64_t ca_id, int csr, uint8_t **der, size_t *len)
{
    char id[32];
    id_text(ca_id, id);
    if (!G_LINK.started)
        return -1;
    pthread_mutex_lock(&G_LINK.lock);
    sqlite3_stmt *st =
        csr ? db_query(G_LINK.db,
                       "SELECT DISTINCT csr FROM hsm_offers WHERE ca_id = ? AND csr IS NOT NULL "
                       "LIMIT 2",
                       "t", id)
            : db_query(G_LINK.db,
                       "SELECT DISTINCT cert FROM hsm_offers WHERE ca_id = ? AND cert IS NOT NULL "
                       "LIMIT 2",
                       "t", id);
    int n = 0, rc = -1;
    *der = NULL;
    while (st && sqlite3_step(st) == SQLITE_ROW)
        if (n++ == 0 && db_col_blob(st, 0, der, len) != 0)
            break;
    if (st) {
        db_done(st);
        rc = n == 1 && *der ? 0 : 1;
    }
    pthread_mutex_unlock(&G_LINK.lock);
    if (rc != 0) {
        free(*der);
        *der = NULL;
    }
    return rc;
}

void relay_link_hsm_forget(int64_t ca_id)
{
    char id[32];
    id_text(ca_id, id);
    if (!G_LINK.started)
        return;
    pthread_mutex_lock(&G_LINK.lock);
    db_run(G_LINK.db, "DELETE FROM hsm_offers WHERE ca_id = ?", "t", id);
    db_run(G_LINK.db, "DELETE FROM hsm_cas WHERE ca_id = ?", "t", id);
    db_run(G_LINK.db,
           "UPDATE enrolment_tokens SET replaced = 1 WHERE ca_id = ? AND hsm = 1 AND used_at = 0",
           "t", id);
    g_generation++;
    pthread_mutex_unlock(&G_LINK.lock);
}
