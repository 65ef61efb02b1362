/* CRL generation and serving on lib/x509. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"
#include "crl/crl.h"
#include "crl/crl_name.h"
#include "issue/issue.h"
#include "log/log.h"
#include "store/store_crl_part.h"
#include "util/encoding.h"
#include "util/timefmt.h"
#include "work/work.h"
#include "x509/x509.h"

typedef struct {
    pki_crl_entry *v;
    uint8_t **serials;
    size_t n, cap;
    int fail;
} entries;

static int add_entry(void *ctx, const char *serial, int64_t revoked_at, int reason)
{
    entries *e = ctx;
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 256;
        pki_crl_entry *nv = realloc(e->v, cap * sizeof *nv);
        if (!nv) {
            e->fail = 1;
            return 1;
        }
        e->v = nv;
        uint8_t **ns = realloc(e->serials, cap * sizeof *ns);
        if (!ns) {
            e->fail = 1;
            return 1;
        }
        e->serials = ns;
        e->cap = cap;
    }
    uint8_t *bytes = NULL;
    size_t blen = 0;
    if (pki_hex_decode(serial, strlen(serial), &bytes, &blen) != 0) {
        e->fail = 1;
        return 1;
    }
    e->serials[e->n] = bytes;
    e->v[e->n] = (pki_crl_entry){.serial = bytes,
                                 .serial_len = blen,
                                 .revoked_at = revoked_at,
                                 .reason = reason > 0 ? reason : PKI_REASON_NONE};
    e->n++;
    return 0;
}

static void entries_free(entries *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->serials[i]);
    free(e->serials);
    free(e->v);
}

/* What one CRL is made of: its entries and number, read in one short transaction, and the
 * count of changes (store_crl_get) read before them: whatever is counted after that read is
 * either in the entries already or still to come, so the CRL saved with that count stays due
 * for a remake until it shows every change. */
typedef struct {
    entries e;
    int64_t number;
    int64_t changes;
} crl_input;

static int cache_get(store *st, int64_t ca_id, int64_t part, uint8_t **der, size_t *len,
                     int64_t *next_update, int64_t *changes)
{
    return part < 0 ? store_crl_get(st, ca_id, der, len, next_update, changes)
                    : store_crl_part_get(st, ca_id, part, der, len, next_update, changes);
}

/* Reads the entries of ca's next CRL (full: part < 0, or one partition) and takes its number.
 * The number is taken for good even if the CRL is never made: CRL numbers may have gaps
 * (RFC 5280 5.2.3 asks only that they increase). */
static int collect(store *st, const store_ca *ca, int64_t part, crl_input *in)
{
    if (store_begin(st) != STORE_OK)
        return -1;
    int rc = part < 0 ? STORE_OK : store_crl_part_track(st, ca->id, part);
    if (rc == STORE_OK)
        rc = part < 0 ? store_cert_revoked(st, ca->id, add_entry, &in->e)
                      : store_crl_part_revoked(st, ca->id, part, add_entry, &in->e);
    if (rc == STORE_OK && !in->e.fail)
        rc = store_crl_next_number(st, ca->id, &in->number);
    if (rc == STORE_OK && !in->e.fail && store_commit(st) == STORE_OK)
        return 0;
    store_rollback(st);
    return -1;
}

/* Makes and saves a new CRL for ca from in: the full one (part < 0) or one partition's, which
 * names its own URL in a critical issuingDistributionPoint (RFC 5280 5.2.5) so a relying party
 * can tell it covers only the certificates pointing there. The CRL number is shared by all of a
 * CA's CRLs, so it grows within every scope. Signs outside any transaction. Returns 0, or the
 * signer's status (PKI_SIGN_ERR_*) when the CA could not sign, or -1. */
static int make(relay_app *app, store *st, const store_ca *ca, int64_t part, crl_input *in,
                uint8_t **der, size_t *len, int64_t *next_update)
{
    char err[200];
    pki_signer *signer = ca_signer(app, ca, err, sizeof err);
    pki_issuer is;
    memset(&is, 0, sizeof is);
    if (!signer || pki_issuer_from_cert(&is, ca->cert_der, ca->cert_len, err, sizeof err) != 0) {
        pki_err("CRL for CA %lld: %s", (long long)ca->id, err);
        return -1;
    }
    int64_t now = pki_now();
    pki_crl_template t = {.this_update = now,
                          .next_update = now + ca->crl_validity_s,
                          .crl_number = (uint64_t)in->number,
                          .entries = in->e.v,
                          .count = in->e.n};
    char idp[640];
    if (part >= 0) {
        issue_crl_part_url(app, ca->id, part, idp, sizeof idp);
        t.idp_url = idp;
    }
    pki_sig_alg alg;
    if (pki_sig_alg_from_name(ca->sig_alg, &alg) == 0)
        t.sig_alg = alg;
    int rc = pki_crl_build_sync(&t, &is, signer, der, len, err, sizeof err);
    pki_issuer_free(&is);
    if (rc != 0) {
        pki_err("CRL for CA %lld: %s", (long long)ca->id, err);
        return rc < 0 ? rc : -1;
    }
    /* One statement, so no transaction: what was revoked while signing keeps the count above
     * in->changes, and the next request makes the CRL again. */
    if ((part < 0 ? store_crl_save(st, ca->id, *der, *len, t.next_update, in->changes)
                  : store_crl_part_save(st, ca->id, part, *der, *len, t.next_update,
                                        in->changes)) != STORE_OK) {
        free(*der);
        *der = NULL;
        return -1;
    }
    *next_update = t.next_update;
    const char *fields[] = {NULL, NULL};
    char f[40];
    snprintf(f, sizeof f, "CA=%lld", (long long)ca->id);
    fields[0] = f;
    if (part < 0)
        pki_log_fields(LOG_INFO, fields, "CRL %lld made with %zu entries", (long long)in->number,
                       in->e.n);
    else
        pki_log_fields(LOG_INFO, fields, "CRL %lld of partition %lld made with %zu entries",
                       (long long)in->number, (long long)part, in->e.n);
    return 0;
}

static bool due(const store_ca *ca, int64_t next_update, int64_t changes, int64_t now)
{
    /* Made at next_update - validity; remade once crl_refresh has passed since then. */
    return changes != 0 || next_update == 0 ||
           now >= next_update - ca->crl_validity_s + ca->crl_refresh_s;
}

/* A signer that is away or refusing (an HSM CA's appliance offline, its YubiKey pulled, …), as
 * opposed to a fault of the relay: the CRL is then "unavailable", not an internal error. */
static bool signer_unavailable(int rc)
{
    return rc <= PKI_SIGN_ERR_OFFLINE && rc >= PKI_SIGN_ERR_BAD_SIGNATURE;
}

/* One CA's CRLs are remade by one thread at a time, so that their numbers are saved in the
 * order they were taken and a request that waited finds the CRL just made. The database is
 * not held meanwhile: other writes go on while an HSM CA's appliance signs. */
#define REMAKE_LOCKS 8
#define L PTHREAD_MUTEX_INITIALIZER
static pthread_mutex_t g_remaking[REMAKE_LOCKS] = {L, L, L, L, L, L, L, L};
#undef L

/* Remakes the CRL unless someone else just did. 0, or make's status. */
static int remake(relay_app *app, store *st, store_ca *ca, int64_t part, uint8_t **der, size_t *len,
                  int64_t *next_update)
{
    pthread_mutex_t *lock = &g_remaking[(uint64_t)ca->id % REMAKE_LOCKS];
    pthread_mutex_lock(lock);
    int64_t changes = 1; /* as if unknown: the CRL saved below then stays due */
    int rc;
    if (cache_get(st, ca->id, part, der, len, next_update, &changes) == STORE_OK && *der &&
        !due(ca, *next_update, changes, pki_now())) {
        rc = 0;
    } else {
        free(*der);
        *der = NULL;
        crl_input in = {.changes = changes};
        rc = collect(st, ca, part, &in);
        if (rc == 0)
            rc = make(app, st, ca, part, &in, der, len, next_update);
        entries_free(&in.e);
    }
    pthread_mutex_unlock(lock);
    return rc;
}

/* The cached CRL (full: part < 0, or one partition), remade first when due. When it cannot be
 * remade because the CA's signer is away, the previous CRL is served while it is still valid
 * (a relying party accepts it until its nextUpdate, RFC 5280 5.1.2.5); after that the answer is
 * 503, never a CRL past its nextUpdate. */
static int current(relay_app *app, store *st, int64_t ca_id, int64_t part, uint8_t **der,
                   size_t *len, int64_t *next_update, int *status)
{
    *status = 500;
    store_ca ca;
    int rc = store_ca_get(st, 0, ca_id, &ca);
    if (rc != STORE_OK) {
        *status = rc == STORE_NOT_FOUND ? 404 : 500;
        return -1;
    }
    if (strcmp(ca.status, "active") != 0) {
        *status = 404;
        store_ca_clear(&ca);
        return -1;
    }
    if (part >= 0 && (rc = store_crl_part_exists(st, ca_id, part)) != STORE_OK) {
        *status = rc == STORE_NOT_FOUND ? 404 : 500;
        store_ca_clear(&ca);
        return -1;
    }
    int64_t changes;
    uint8_t *prev = NULL;
    size_t prev_len = 0;
    int64_t prev_next = 0;
    rc = -1;
    if (cache_get(st, ca_id, part, &prev, &prev_len, &prev_next, &changes) == STORE_OK) {
        int64_t now = pki_now();
        if (prev && !due(&ca, prev_next, changes, now)) {
            *der = prev, *len = prev_len, *next_update = prev_next;
            prev = NULL;
            rc = 0;
        } else {
            int made = remake(app, st, &ca, part, der, len, next_update);
            if (made == 0) {
                rc = 0;
            } else if (prev && prev_next > now) {
                pki_warn("CA %lld: serving the previous CRL (valid until its nextUpdate) while the "
                         "CA cannot sign: %s",
                         (long long)ca_id, pki_sign_status_text(made < 0 ? made : -1));
                *der = prev, *len = prev_len, *next_update = prev_next;
                prev = NULL;
                rc = 0;
            } else if (signer_unavailable(made)) {
                *status = 503;
            }
        }
    }
    free(prev);
    store_ca_clear(&ca);
    return rc;
}

int crl_current(relay_app *app, store *st, int64_t ca_id, uint8_t **der, size_t *len,
                int64_t *next_update, int *status)
{
    return current(app, st, ca_id, -1, der, len, next_update, status);
}

int crl_part_current(relay_app *app, store *st, int64_t ca_id, int64_t part, uint8_t **der,
                     size_t *len, int64_t *next_update, int *status)
{
    if (part < 0) {
        *status = 404;
        return -1;
    }
    return current(app, st, ca_id, part, der, len, next_update, status);
}

/* Remakes whatever of one CA's CRLs is due: the full one, then each partition in use. */
static void refresh_ca(relay_app *app, store *st, int64_t ca_id)
{
    uint8_t *der = NULL;
    size_t len;
    int64_t nu, max = -1;
    int status;
    crl_current(app, st, ca_id, &der, &len, &nu, &status);
    free(der);
    if (store_crl_part_max(st, ca_id, &max) != STORE_OK)
        return;
    for (int64_t p = 0; p <= max; p++) {
        der = NULL;
        crl_part_current(app, st, ca_id, p, &der, &len, &nu, &status);
        free(der);
    }
}

void crl_refresh_all(relay_app *app, store *st)
{
    int64_t *ids = NULL;
    size_t n = 0;
    if (store_ca_ids(st, &ids, &n) != STORE_OK)
        return;
    for (size_t i = 0; i < n; i++)
        refresh_ca(app, st, ids[i]);
    free(ids);
}

typedef struct {
    relay_app *app;
    int64_t ca_id;
} regen_arg;

static void regen_job(void *thread_ctx, void *arg)
{
    regen_arg *a = arg;
    refresh_ca(a->app, thread_ctx, a->ca_id);
    free(a);
}

void crl_schedule(relay_app *app, int64_t ca_id)
{
    regen_arg *a = malloc(sizeof *a);
    if (!a)
        return;
    a->app = app;
    a->ca_id = ca_id;
    if (work_submit(app->pool, regen_job, a) != 0)
        free(a); /* the CRL stays marked dirty: the next request or tick remakes it */
}

static void respond(api_call *c, uint8_t *der, size_t len, int64_t next_update)
{
    httpd_respond(&c->resp, 200, "application/pkix-crl", der, len);
    int64_t age = next_update - c->now;
    char cc[64];
    snprintf(cc, sizeof cc, "max-age=%lld, public", (long long)(age > 0 ? age : 0));
    httpd_add_header(&c->resp, "Cache-Control", cc);
}

static void crl_error(api_call *c, int status, const char *not_found)
{
    if (status == 404)
        api_error(c, 404, "not_found", "%s", not_found);
    else if (status == 503)
        api_error(c, 503, "crl_unavailable",
                  "the CA cannot sign a new CRL now (its appliance is offline or refusing) and "
                  "has no valid CRL to serve");
    else
        api_error(c, 500, "internal", "cannot make the CRL");
}

void crl_serve(api_call *c)
{
    int64_t id;
    if (!api_param_id(c, 0, &id))
        return;
    uint8_t *der = NULL;
    size_t len = 0;
    int64_t next_update;
    int status;
    if (crl_current(c->app, c->st, id, &der, &len, &next_update, &status) != 0) {
        crl_error(c, status, "no such CA");
        return;
    }
    respond(c, der, len, next_update);
    free(der);
}

void crl_part_serve(api_call *c)
{
    int64_t id;
    if (!api_param_id(c, 0, &id))
        return;
    int64_t part = crl_part_from_name(c->params[1]);
    uint8_t *der = NULL;
    size_t len = 0;
    int64_t next_update;
    int status = 404;
    if (part < 0 ||
        crl_part_current(c->app, c->st, id, part, &der, &len, &next_update, &status) != 0) {
        crl_error(c, status, "no such CA or CRL partition");
        return;
    }
    respond(c, der, len, next_update);
    free(der);
}
