/* The relay's link endpoint: identity, registry, WebSocket sessions with appliances. */
#include "link/link_server.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/auth.h"
#include "db/db.h"
#include "link/link_impl.h"
#include "log/log.h"
#include "seal/seal.h"
#include "util/timefmt.h"

struct relay_link_state G_LINK = {.lock = PTHREAD_MUTEX_INITIALIZER};

static const db_migration REGISTRY_STEPS[] = {
    {1, "CREATE TABLE appliances ("
        " name TEXT PRIMARY KEY, cert BLOB NOT NULL, fingerprint TEXT NOT NULL UNIQUE,"
        " enrolled_at INTEGER NOT NULL, last_seen INTEGER NOT NULL DEFAULT 0,"
        " inventory TEXT NOT NULL DEFAULT '{}');"
        "CREATE TABLE enrolment_tokens ("
        " digest TEXT PRIMARY KEY, ca_id TEXT NOT NULL DEFAULT '', created_by INTEGER NOT NULL,"
        " expires INTEGER NOT NULL, used_at INTEGER NOT NULL DEFAULT 0,"
        " used_by TEXT NOT NULL DEFAULT '');"},
    /* HSM CAs (hsm-contract): provisioning tokens are bound to their CA and replaced by the
     * next download; each CA's certificate template; the slots appliances offer for it. */
    {2, "ALTER TABLE enrolment_tokens ADD COLUMN hsm INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE enrolment_tokens ADD COLUMN replaced INTEGER NOT NULL DEFAULT 0;"
        "CREATE INDEX enrolment_tokens_ca ON enrolment_tokens(ca_id, used_at);"
        "CREATE TABLE hsm_cas ("
        " ca_id TEXT PRIMARY KEY, kind INTEGER NOT NULL, subject BLOB NOT NULL,"
        " not_before INTEGER NOT NULL, not_after INTEGER NOT NULL, path_len INTEGER NOT NULL,"
        " created INTEGER NOT NULL);"
        "CREATE TABLE hsm_offers ("
        " ca_id TEXT NOT NULL, appliance TEXT NOT NULL, slot TEXT NOT NULL, spki BLOB NOT NULL,"
        " cert BLOB, csr BLOB, attested INTEGER NOT NULL, offered INTEGER NOT NULL,"
        " PRIMARY KEY (ca_id, appliance, slot));"},
    /* The device certificate the relay issues at enrolment; either certificate identifies the
     * appliance. */
    {3, "ALTER TABLE appliances ADD COLUMN issued_cert BLOB;"
        "ALTER TABLE appliances ADD COLUMN issued_fingerprint TEXT;"
        "CREATE UNIQUE INDEX appliances_issued ON appliances(issued_fingerprint);"},
};

/* ---- Files -------------------------------------------------------------------------------- */

static int read_file(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? 1 : -1;
    uint8_t *buf = malloc(65536);
    size_t n = buf ? fread(buf, 1, 65536, f) : 0;
    int bad = ferror(f) || !feof(f);
    fclose(f);
    if (!buf || bad || n == 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

static int write_file(const char *path, const uint8_t *data, size_t len)
{
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, data, len);
    int ok = w == (ssize_t)len && fsync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static const uint8_t IDENTITY_AAD[] = "link:relay";

/* <state_dir>/link/relay.key (PKCS#8 sealed with the master key) and relay.crt (DER). */
static link_identity *load_identity(relay_app *app)
{
    char dir[1100], keyp[1200], certp[1200], err[256];
    snprintf(dir, sizeof dir, "%s/link", app->state_dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        pki_err("link: %s: %s", dir, strerror(errno));
        return NULL;
    }
    snprintf(keyp, sizeof keyp, "%s/relay.key", dir);
    snprintf(certp, sizeof certp, "%s/relay.crt", dir);
    uint8_t *sealed = NULL, *cert = NULL, *key = NULL;
    size_t sealed_len = 0, cert_len = 0, key_len = 0;
    int r1 = read_file(keyp, &sealed, &sealed_len), r2 = read_file(certp, &cert, &cert_len);
    link_identity *id = NULL;
    if (r1 == 0 && r2 == 0) {
        if (seal_decrypt(app->master, sealed, sealed_len, IDENTITY_AAD, sizeof IDENTITY_AAD - 1,
                         &key, &key_len) != 0)
            pki_err("link: %s does not open with the master key", keyp);
        else if (!(id = link_identity_load(RELAY_LINK_NAME, key, key_len, cert, cert_len, err,
                                           sizeof err)))
            pki_err("link: relay identity: %s", err);
    } else if (r1 == 1 && r2 == 1) {
        id = link_identity_generate(RELAY_LINK_NAME, err, sizeof err);
        const uint8_t *c;
        size_t c_len;
        if (!id) {
            pki_err("link: cannot make the relay identity: %s", err);
        } else if (link_identity_export_key(id, &key, &key_len) != 0 ||
                   seal_encrypt(app->master, key, key_len, IDENTITY_AAD, sizeof IDENTITY_AAD - 1,
                                &sealed, &sealed_len) != 0 ||
                   write_file(keyp, sealed, sealed_len) != 0 ||
                   !(c = link_identity_cert(id, &c_len)) || write_file(certp, c, c_len) != 0) {
            pki_err("link: cannot store the relay identity in %s", dir);
            link_identity_free(id);
            id = NULL;
        } else {
            pki_info("link: made the relay's link identity");
        }
    } else {
        pki_err("link: %s and %s must both exist (or neither)", keyp, certp);
    }
    seal_wipe_free(key, key_len);
    free(sealed);
    free(cert);
    return id;
}

int relay_link_start(relay_app *app)
{
    char path[1200], err[256];
    G_LINK.id = load_identity(app);
    if (!G_LINK.id)
        return -1;
    size_t cl;
    const uint8_t *c = link_identity_cert(G_LINK.id, &cl);
    link_cert_fingerprint(c, cl, G_LINK.fingerprint);
    snprintf(path, sizeof path, "%s/link.db", app->state_dir);
    G_LINK.db = db_open(path, 2000, err, sizeof err);
    if (!G_LINK.db ||
        db_migrate(G_LINK.db, REGISTRY_STEPS, sizeof REGISTRY_STEPS / sizeof REGISTRY_STEPS[0], err,
                   sizeof err) != 0) {
        pki_err("link: registry %s: %s", path, err);
        return -1;
    }
    snprintf(path, sizeof path, "%s/link-replay.db", app->state_dir);
    G_LINK.replay = link_replay_open(path, err, sizeof err);
    if (!G_LINK.replay) {
        pki_err("link: replay cache %s: %s", path, err);
        return -1;
    }
    /* wss://host:port/link from the public base URL. */
    const char *b = app->base_url;
    if (strncmp(b, "https://", 8) == 0)
        snprintf(G_LINK.url, sizeof G_LINK.url, "wss://%s/link", b + 8);
    else if (strncmp(b, "http://", 7) == 0)
        snprintf(G_LINK.url, sizeof G_LINK.url, "ws://%s/link", b + 7);
    else
        snprintf(G_LINK.url, sizeof G_LINK.url, "%s/link", b);
    G_LINK.started = 1;
    link_status_update();
    pki_info("link: listening for appliances at %s (relay link certificate sha256 %s)", G_LINK.url,
             G_LINK.fingerprint);
    return 0;
}

void relay_link_stop(void)
{
    pthread_mutex_lock(&G_LINK.lock);
    G_LINK.started = 0;
    while (G_LINK.sessions) {
        link_session *s = G_LINK.sessions;
        G_LINK.sessions = s->next;
        link_session_free(s);
    }
    pthread_mutex_unlock(&G_LINK.lock);
    link_identity_free(G_LINK.id);
    G_LINK.id = NULL;
    db_close(G_LINK.db);
    G_LINK.db = NULL;
    link_replay_close(G_LINK.replay);
    G_LINK.replay = NULL;
}

/* ---- Registry (caller holds G_LINK.lock) -------------------------------------------------- */

/* The appliance whose enrolment certificate or relay-issued device certificate has this
 * fingerprint; *cert is that certificate (the one to pin). */
int registry_find_by_fingerprint(const char *fp, char *name, uint8_t **cert, size_t *cert_len)
{
    sqlite3_stmt *st =
        db_query(G_LINK.db,
                 "SELECT name, CASE WHEN fingerprint = ?1 THEN cert ELSE issued_cert "
                 "END FROM appliances WHERE fingerprint = ?1 OR "
                 "issued_fingerprint = ?1",
                 "t", fp);
    if (!st)
        return -1;
    int rc = 1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(name, LINK_NAME_MAX, "%s", (const char *)sqlite3_column_text(st, 0));
        rc = db_col_blob(st, 1, cert, cert_len) == 0 ? 0 : -1;
    }
    db_done(st);
    return rc;
}

int registry_issued_cert(const char *name, uint8_t **der, size_t *len)
{
    sqlite3_stmt *st = db_query(
        G_LINK.db, "SELECT issued_cert FROM appliances WHERE name = ? AND issued_cert IS NOT NULL",
        "t", name);
    if (!st)
        return -1;
    int rc = 1;
    if (sqlite3_step(st) == SQLITE_ROW)
        rc = db_col_blob(st, 0, der, len) == 0 ? 0 : -1;
    db_done(st);
    return rc;
}

void registry_touch(const char *name, int64_t now, const char *inventory)
{
    if (inventory)
        db_run(G_LINK.db, "UPDATE appliances SET last_seen = ?, inventory = ? WHERE name = ?",
               "itt", now, inventory, name);
    else
        db_run(G_LINK.db, "UPDATE appliances SET last_seen = ? WHERE name = ?", "it", now, name);
}

/* Inside a transaction: spends a one-time token for name. With ca_id, the token must be an HSM
 * provisioning token of that CA; without, it must not be one (any CA owner can make those, so
 * they enrol an appliance only together with an offer for their CA). 0, or -1 with why. */
int registry_spend_token(const char *token, const char *name, const char *ca_id, int64_t now,
                         char *why, size_t whylen)
{
    char digest[AUTH_DIGEST_HEX];
    if (auth_token_digest(token, digest) != 0) {
        snprintf(why, whylen, "internal error");
        return -1;
    }
    sqlite3_stmt *st = db_query(G_LINK.db,
                                "SELECT expires, used_at, replaced, hsm, ca_id FROM "
                                "enrolment_tokens WHERE digest = ?",
                                "t", digest);
    int64_t expires = 0, used = 0, replaced = 0, hsm = 0;
    char bound[64] = "";
    int found = 0;
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        found = 1;
        expires = sqlite3_column_int64(st, 0);
        used = sqlite3_column_int64(st, 1);
        replaced = sqlite3_column_int64(st, 2);
        hsm = sqlite3_column_int64(st, 3);
        const unsigned char *b = sqlite3_column_text(st, 4);
        snprintf(bound, sizeof bound, "%s", b ? (const char *)b : "");
    }
    if (st)
        db_done(st);
    const char *problem =
        !found           ? "unknown enrolment token"
        : replaced       ? "the enrolment token was replaced by a newer provisioning certificate"
        : used           ? "the enrolment token was already used"
        : expires <= now ? "the enrolment token has expired"
        : !ca_id && hsm  ? "this token is from an HSM provisioning certificate: it enrols an "
                           "appliance only with a slot offer for its CA (paste the certificate "
                           "into the appliance's provisioning wizard)"
        : ca_id && !hsm  ? "the token is not from an HSM provisioning certificate"
        : ca_id && strcmp(bound, ca_id) != 0 ? "the token belongs to another CA"
                                             : NULL;
    if (!problem &&
        db_run(G_LINK.db, "UPDATE enrolment_tokens SET used_at = ?, used_by = ? WHERE digest = ?",
               "itt", now, name, digest) != 1)
        problem = "internal error";
    if (problem) {
        snprintf(why, whylen, "%s", problem);
        return -1;
    }
    return 0;
}

/* Inside a transaction: records a new appliance's pinned certificate and the device
 * certificate the relay issues it. 0, or -1 with why. */
int registry_add_appliance(const char *name, const uint8_t *cert, size_t cert_len, int64_t now,
                           char *why, size_t whylen)
{
    char fp[65], ifp[65], err[200];
    uint8_t *issued = NULL;
    size_t issued_len = 0;
    if (link_cert_fingerprint(cert, cert_len, fp) != 0) {
        snprintf(why, whylen, "internal error");
        return -1;
    }
    if (link_device_cert_issue(cert, cert_len, name, &issued, &issued_len, err, sizeof err) != 0 ||
        link_cert_fingerprint(issued, issued_len, ifp) != 0) {
        pki_err("link: device certificate for %s: %s", name, err);
        free(issued);
        snprintf(why, whylen, "internal error");
        return -1;
    }
    int n = db_run(G_LINK.db,
                   "INSERT INTO appliances (name, cert, fingerprint, enrolled_at, last_seen, "
                   "issued_cert, issued_fingerprint) VALUES (?,?,?,?,?,?,?) ON CONFLICT(name) DO "
                   "UPDATE SET cert = excluded.cert, fingerprint = excluded.fingerprint, "
                   "enrolled_at = excluded.enrolled_at, issued_cert = excluded.issued_cert, "
                   "issued_fingerprint = excluded.issued_fingerprint",
                   "tbtiibt", name, (const void *)cert, cert_len, fp, now, now,
                   (const void *)issued, issued_len, ifp);
    free(issued);
    if (n != 1) {
        snprintf(why, whylen, "this device key is already enrolled under another name");
        return -1;
    }
    return 0;
}

/* Spends a one-time token for name/cert. 0, or a message in why. */
int registry_enrol(const char *token, const char *name, const uint8_t *cert, size_t cert_len,
                   int64_t now, char *why, size_t whylen)
{
    if (db_begin(G_LINK.db) != 0) {
        snprintf(why, whylen, "registry busy");
        return -1;
    }
    if (registry_spend_token(token, name, NULL, now, why, whylen) != 0 ||
        registry_add_appliance(name, cert, cert_len, now, why, whylen) != 0) {
        db_rollback(G_LINK.db);
        return -1;
    }
    return db_commit(G_LINK.db);
}
