/* CA endpoints: list, read, edit, delete, downloads, OCSP responder renewal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca_impl.h"
#include "link/link_server.h"
#include "issue/issue.h"
#include "keys/keys.h"
#include "log/log.h"
#include "ocsp/ocsp.h"
#include "store/store_crl_part.h"

json_t *ca_json(relay_app *app, const store_ca *ca)
{
    char cert[640], crl[640], ocsp[640], cps[640], chain[700];
    issue_ca_urls(app, ca->id, cert, crl, ocsp, cps, sizeof cert);
    snprintf(chain, sizeof chain, "%s/pki/ca/%lld/chain.pem", app->public_base_url,
             (long long)ca->id);
    json_t *o =
        json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:I,s:I,s:s,s:I,s:{s:s,s:s,s:s,s:s,s:s,s:n}}",
                  "id", (json_int_t)ca->id, "name", ca->name, "status", ca->status, "key_type",
                  ca->key_type, "signature_algorithm", ca->sig_alg, "subject", ca->subject,
                  "created", api_time(ca->created), "cps", ca->cps ? ca->cps : "",
                  "crl_validity_hours", (json_int_t)(ca->crl_validity_s / 3600),
                  "crl_refresh_hours", (json_int_t)(ca->crl_refresh_s / 3600), "service_key_type",
                  ca->service_key_type, "ocsp_certificate_id", (json_int_t)ca->ocsp_cert_id, "urls",
                  "certificate", cert, "chain", chain, "crl", crl, "ocsp", ocsp, "cps", cps, "tsa");
    if (o && ca_is_hsm(ca))
        json_object_set_new(o, "hsm", ca_hsm_json(ca));
    return o;
}

bool ca_load(api_call *c, store_ca *ca)
{
    int64_t id;
    if (!api_param_id(c, 0, &id))
        return false;
    int rc = store_ca_get(c->st, c->user.id, id, ca);
    if (rc == STORE_OK)
        return true;
    if (rc == STORE_NOT_FOUND)
        api_error(c, 404, "not_found", "no such CA");
    else
        api_error(c, 500, "internal", "cannot read the CA");
    return false;
}

typedef struct {
    api_call *c;
    json_t *arr;
} list_ctx;

static int add_ca(void *ctx, const store_ca *ca)
{
    list_ctx *l = ctx;
    json_array_append_new(l->arr, ca_json(l->c->app, ca));
    return 0;
}

void ca_list(api_call *c)
{
    list_ctx l = {c, json_array()};
    if (store_ca_list(c->st, c->user.id, add_ca, &l) != STORE_OK) {
        json_decref(l.arr);
        api_error(c, 500, "internal", "cannot list CAs");
        return;
    }
    api_json(c, 200, json_pack("{s:o}", "cas", l.arr));
}

void ca_get(api_call *c)
{
    store_ca ca;
    if (!ca_load(c, &ca))
        return;
    json_t *o = ca_json(c->app, &ca);
    int64_t part_size = 0;
    store_crl_part_size(c->st, ca.id, &part_size);
    json_object_set_new(o, "crl_partition_size", json_integer(part_size));
    api_json(c, 200, o);
    store_ca_clear(&ca);
}

void ca_update(api_call *c)
{
    store_ca ca;
    if (!ca_load(c, &ca))
        return;
    const char *name, *cps, *skt;
    int64_t validity, refresh, part_size = 0;
    if (!api_body_str(c, "name", false, STORE_NAME_MAX - 1, &name) ||
        !api_body_text(c, "cps", false, 64 * 1024, &cps) ||
        !api_body_str(c, "service_key_type", false, 16, &skt) ||
        !api_body_int(c, "crl_validity_hours", false, 1, 24 * 366, ca.crl_validity_s / 3600,
                      &validity) ||
        !api_body_int(c, "crl_refresh_hours", false, 1, 24 * 366, ca.crl_refresh_s / 3600,
                      &refresh))
        goto done;
    if (store_crl_part_size(c->st, ca.id, &part_size) != STORE_OK) {
        api_error(c, 500, "internal", "cannot read the CA");
        goto done;
    }
    if (!api_body_int(c, "crl_partition_size", false, 0, 1000000000, part_size, &part_size))
        goto done;
    pki_key_type kt;
    if (skt && pki_key_type_from_name(skt, &kt) != 0) {
        api_error(c, 400, "bad_key_type", "'service_key_type' must be a key type name");
        goto done;
    }
    if (refresh >= validity) {
        api_error(c, 400, "bad_field",
                  "the CRL must be remade before it expires "
                  "(crl_refresh_hours < crl_validity_hours)");
        goto done;
    }
    if (name)
        snprintf(ca.name, sizeof ca.name, "%s", name);
    if (cps) {
        free(ca.cps);
        ca.cps = strdup(cps);
    }
    if (skt)
        snprintf(ca.service_key_type, sizeof ca.service_key_type, "%s", skt);
    ca.crl_validity_s = validity * 3600;
    ca.crl_refresh_s = refresh * 3600;
    int rc = store_ca_update(c->st, &ca);
    if (rc == STORE_OK)
        rc = store_crl_part_set_size(c->st, ca.id, part_size);
    if (rc == STORE_CONFLICT) {
        api_error(c, 409, "conflict", "you have a CA named '%s'", ca.name);
        goto done;
    }
    if (rc != STORE_OK) {
        api_error(c, 500, "internal", "cannot update the CA");
        goto done;
    }
    store_crl_mark_dirty(c->st, ca.id); /* a new CRL validity applies from the next CRL */
    store_crl_part_mark_all_dirty(c->st, ca.id);
    char target[48];
    snprintf(target, sizeof target, "ca:%lld", (long long)ca.id);
    api_audit(c, "ca.update", target, ca.id, NULL);
    json_t *o = ca_json(c->app, &ca);
    json_object_set_new(o, "crl_partition_size", json_integer(part_size));
    api_json(c, 200, o);
done:
    store_ca_clear(&ca);
}

void ca_delete(api_call *c)
{
    store_ca ca;
    if (!ca_load(c, &ca))
        return;
    char confirm[STORE_NAME_MAX + 1];
    if (ca.owner_id != c->user.id) {
        api_error(c, 403, "forbidden", "only the owner can delete a CA");
    } else if (!api_query(c, "confirm", confirm, sizeof confirm) || strcmp(confirm, ca.name) != 0) {
        api_error(c, 400, "confirmation_required",
                  "deleting a CA removes its templates, requests and certificates; repeat its "
                  "name in ?confirm=");
    } else if (store_ca_delete(c->st, ca.id) != STORE_OK) {
        api_error(c, 500, "internal", "cannot delete the CA");
    } else {
        ca_forget(ca.id);
        ocsp_invalidate_ca(ca.id); /* no cached "good" for a CA that is gone */
        if (ca_is_hsm(&ca))
            relay_link_hsm_forget(ca.id); /* its offers and unspent tokens go with it */
        char target[48];
        snprintf(target, sizeof target, "ca:%lld", (long long)ca.id);
        api_audit(c, "ca.delete", target, ca.id, json_pack("{s:s}", "name", ca.name));
        api_no_content(c);
    }
    store_ca_clear(&ca);
}

/* PEM of one or more concatenated DER certificates (each a SEQUENCE with a definite length). */
static char *pem_chain(const uint8_t *der, size_t len, const char *label)
{
    char *out = NULL;
    size_t out_len = 0, off = 0;
    while (off < len) {
        if (len - off < 2 || der[off] != 0x30)
            break;
        size_t hdr = 2, body;
        uint8_t l = der[off + 1];
        if (l < 0x80) {
            body = l;
        } else {
            size_t n = l & 0x7f;
            if (n == 0 || n > 4 || len - off < 2 + n)
                break;
            body = 0;
            for (size_t i = 0; i < n; i++)
                body = body << 8 | der[off + 2 + i];
            hdr += n;
        }
        if (body > len - off - hdr)
            break;
        char *pem = NULL;
        size_t plen = 0;
        if (pki_pem_encode(label, der + off, hdr + body, &pem, &plen) != 0)
            break;
        char *nb = realloc(out, out_len + plen + 1);
        if (!nb) {
            free(pem);
            break;
        }
        memcpy(nb + out_len, pem, plen);
        out_len += plen;
        nb[out_len] = '\0';
        out = nb;
        free(pem);
        off += hdr + body;
    }
    return out;
}

void ca_download(api_call *c)
{
    store_ca ca;
    if (!ca_load(c, &ca))
        return;
    const char *what = strrchr(c->path, '/') + 1;
    char *pem = NULL;
    uint8_t *offered = NULL;
    size_t offered_len = 0;
    if (strcmp(what, "csr") == 0 && !ca.csr_der && ca_is_hsm(&ca) &&
        relay_link_hsm_offered(ca.id, 1, &offered, &offered_len) == 0) {
        /* An HSM intermediate's CSR is the one its appliance made on the YubiKey. */
        ca.csr_der = offered;
        ca.csr_len = offered_len;
    }
    if (strcmp(what, "csr") == 0 && ca.csr_der) {
        pem = pem_chain(ca.csr_der, ca.csr_len, "CERTIFICATE REQUEST");
    } else if (strcmp(what, "certificate") == 0 && ca.cert_der) {
        pem = pem_chain(ca.cert_der, ca.cert_len, "CERTIFICATE");
    } else if (strcmp(what, "chain") == 0 && ca.cert_der) {
        size_t n = ca.cert_len + ca.chain_len;
        uint8_t *all = malloc(n ? n : 1);
        if (all) {
            memcpy(all, ca.cert_der, ca.cert_len);
            if (ca.chain_len)
                memcpy(all + ca.cert_len, ca.chain_der, ca.chain_len);
            pem = pem_chain(all, n, "CERTIFICATE");
            free(all);
        }
    } else if (strcmp(what, "csr") && strcmp(what, "certificate") && strcmp(what, "chain")) {
        api_error(c, 404, "not_found", "no such download");
        store_ca_clear(&ca);
        return;
    } else {
        api_error(c, 409, "not_available", "this CA has no %s", what);
        store_ca_clear(&ca);
        return;
    }
    if (!pem)
        api_error(c, 500, "internal", "cannot encode");
    else
        httpd_respond(&c->resp, 200, "application/x-pem-file", pem, strlen(pem));
    free(pem);
    store_ca_clear(&ca);
}

void ca_renew_ocsp(api_call *c)
{
    store_ca ca;
    if (!ca_load(c, &ca))
        return;
    char err[300];
    int http = 500;
    bool active = strcmp(ca.status, "active") == 0;
    pki_signer *s = active ? ca_signer(c->app, &ca, err, sizeof err) : NULL;
    if (!active) {
        api_error(c, 409, "not_active", "the CA is not active");
    } else if (!s) {
        api_error(c, 500, "internal", "%s", err);
    } else if (store_begin(c->st) != STORE_OK) {
        api_error(c, 503, "busy", "database busy");
    } else if (ca_make_services(c->app, c->st, &ca, s, false, &http, err, sizeof err) != 0) {
        store_rollback(c->st);
        /* An HSM CA's appliance failures keep their own status and code (503 offline, …). */
        api_error(c, http, issue_error_code(err, "internal"), "%s", err);
    } else {
        char target[48];
        snprintf(target, sizeof target, "ca:%lld", (long long)ca.id);
        api_audit(c, "ca.ocsp_certificate", target, ca.id, NULL);
        if (store_commit(c->st) != STORE_OK) {
            api_error(c, 500, "internal", "cannot store the responder");
        } else {
            /* Again after the commit: a worker may have cached the old responder key between
             * ca_make_services' forget and the commit. */
            ca_forget(ca.id);
            api_json(c, 200, ca_json(c->app, &ca));
        }
    }
    store_ca_clear(&ca);
}
