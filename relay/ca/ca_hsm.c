/* HSM CAs (hsm-contract §2): a CA whose key is generated on (or imported to) an appliance's
 * YubiKey. Created in state "awaiting_appliance" with a provisioning certificate the operator
 * pastes into the appliance's wizard; the appliance offers its slot over the link; "Import
 * Signed Certificate" with a certificate for an offered key makes the CA active, its signer the
 * appliance-backed one (keys.c). The link side (template, tokens, offers) is relay/link. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca_impl.h"
#include "keys/keys.h"
#include "link/link.h"
#include "link/link_server.h"
#include "log/log.h"
#include "pkix/pkix.h"

bool ca_is_hsm(const store_ca *ca)
{
    return strcmp(ca->key_type, "hsm") == 0;
}

json_t *ca_hsm_json(const store_ca *ca)
{
    bool active = strcmp(ca->status, "active") == 0;
    return relay_link_hsm_json(ca->id, active ? ca->spki : NULL, active ? ca->spki_len : 0);
}

static char *pem_of(const uint8_t *der, size_t len)
{
    char *pem = NULL;
    size_t pem_len;
    return pki_pem_encode("CERTIFICATE", der, len, &pem, &pem_len) == 0 ? pem : NULL;
}

void ca_create_hsm(api_call *c, const char *name, bool root)
{
    pki_name subject;
    int64_t days, path_len = -1, ttl;
    const char *sa;
    json_t *pl = json_object_get(c->json, "path_len");
    if (!ca_subject_from_json(c, &subject) ||
        !api_body_int(c, "validity_days", false, 1, 36500, 3650, &days) ||
        !api_body_int(c, "token_ttl_seconds", false, 60, 30 * 86400, RELAY_HSM_TOKEN_TTL, &ttl) ||
        !api_body_str(c, "signature_algorithm", false, 32, &sa))
        return;
    if (pl && !json_is_null(pl) && !api_body_int(c, "path_len", false, 0, 32, -1, &path_len))
        return;
    pki_sig_alg alg = 0;
    if (sa && pki_sig_alg_from_name(sa, &alg) != 0) {
        api_error(c, 400, "bad_field", "unknown 'signature_algorithm' %s", sa);
        return;
    }
    uint8_t *subject_der = NULL, *prov = NULL;
    size_t subject_len = 0, prov_len = 0;
    if (pki_name_der(&subject, &subject_der, &subject_len) != 0) {
        api_error(c, 400, "bad_field", "subject: cannot encode");
        return;
    }
    store_ca ca;
    memset(&ca, 0, sizeof ca);
    ca.owner_id = c->user.id;
    snprintf(ca.name, sizeof ca.name, "%s", name);
    snprintf(ca.key_type, sizeof ca.key_type, "hsm");
    snprintf(ca.status, sizeof ca.status, "awaiting_appliance");
    snprintf(ca.sig_alg, sizeof ca.sig_alg, "%s", alg ? pki_sig_alg_name(alg) : "");
    pki_name_format(&subject, PKI_NAME_RFC4514, ca.subject, sizeof ca.subject);
    ca.crl_validity_s = 7 * 86400;
    ca.crl_refresh_s = 86400;
    snprintf(ca.service_key_type, sizeof ca.service_key_type, "ec-p256");
    ca.created = c->now;
    const char *cps = json_string_value(json_object_get(c->json, "cps"));
    ca.cps = strdup(cps ? cps : "");
    /* No key yet: the public key becomes the offered slot's at import. */
    ca.spki = malloc(1);
    ca.spki_len = 0;
    char err[300];
    relay_hsm_template t = {.kind = root ? LINK_CA_ROOT : LINK_CA_INTERMEDIATE,
                            .subject_der = subject_der,
                            .subject_len = subject_len,
                            .not_before = c->now,
                            .not_after = c->now + days * 86400,
                            .path_len = (int)path_len};
    if (!ca.spki || !ca.cps) {
        api_error(c, 500, "internal", "out of memory");
        goto done;
    }
    if (store_begin(c->st) != STORE_OK) {
        api_error(c, 503, "busy", "database busy");
        goto done;
    }
    int rc = store_ca_create(c->st, &ca);
    if (rc == STORE_CONFLICT) {
        store_rollback(c->st);
        api_error(c, 409, "conflict", "you have a CA named '%s'", ca.name);
        goto done;
    }
    if (rc != STORE_OK) {
        store_rollback(c->st);
        api_error(c, 500, "internal", "cannot store the CA");
        goto done;
    }
    /* The link registry is another database: its rows are dropped again if ours roll back. */
    if (relay_link_hsm_register(ca.id, &t, err, sizeof err) != 0 ||
        relay_link_hsm_provisioning(ca.id, c->user.id, ttl, &prov, &prov_len, err, sizeof err) !=
            0) {
        store_rollback(c->st);
        relay_link_hsm_forget(ca.id);
        api_error(c, 503, "link_unavailable", "%s", err);
        goto done;
    }
    char target[48];
    snprintf(target, sizeof target, "ca:%lld", (long long)ca.id);
    api_audit(c, "ca.create", target, ca.id,
              json_pack("{s:s,s:s,s:s,s:s}", "name", ca.name, "key_type", ca.key_type, "status",
                        ca.status, "kind", root ? "root" : "intermediate"));
    if (store_commit(c->st) != STORE_OK) {
        relay_link_hsm_forget(ca.id);
        api_error(c, 500, "internal", "cannot store the CA");
        goto done;
    }
    char *pem = pem_of(prov, prov_len);
    json_t *o = ca_json(c->app, &ca);
    json_object_set_new(o, "provisioning_certificate", pem ? json_string(pem) : json_null());
    free(pem);
    api_json(c, 201, o);
done:
    free(subject_der);
    free(prov);
    store_ca_clear(&ca);
}

void ca_provisioning_certificate(api_call *c)
{
    store_ca ca;
    if (!ca_load(c, &ca))
        return;
    long long ttl;
    uint8_t *der = NULL;
    size_t len = 0;
    char err[300];
    if (!api_query_int(c, "ttl_seconds", 60, 30 * 86400, RELAY_HSM_TOKEN_TTL, &ttl))
        goto done;
    if (!ca_is_hsm(&ca)) {
        api_error(c, 409, "not_hsm", "this CA's key is not on an appliance");
        goto done;
    }
    if (relay_link_hsm_provisioning(ca.id, c->user.id, ttl, &der, &len, err, sizeof err) != 0) {
        api_error(c, 503, "link_unavailable", "%s", err);
        goto done;
    }
    char target[48];
    snprintf(target, sizeof target, "ca:%lld", (long long)ca.id);
    api_audit(c, "ca.provisioning_certificate", target, ca.id, NULL);
    char *pem = pem_of(der, len);
    if (!pem)
        api_error(c, 500, "internal", "cannot encode");
    else
        httpd_respond(&c->resp, 200, "application/x-pem-file", pem, strlen(pem));
    free(pem);
done:
    free(der);
    store_ca_clear(&ca);
}

/* The public key of the first certificate in text (PEM or DER). */
static int first_cert_spki(const char *text, uint8_t **spki, size_t *len, char *err, size_t errlen)
{
    pki_cert *cert = pki_cert_parse((const uint8_t *)text, strlen(text), err, errlen);
    if (!cert)
        return -1;
    *spki = malloc(cert->spki.len);
    if (*spki) {
        memcpy(*spki, cert->spki.p, cert->spki.len);
        *len = cert->spki.len;
    }
    pki_cert_free(cert);
    return *spki ? 0 : -1;
}

void ca_hsm_import(api_call *c, store_ca *ca, const char *cert_pem, const char *chain_pem)
{
    char err[300], *offered = NULL;
    uint8_t *spki = NULL;
    size_t spki_len = 0;
    if (strcmp(ca->status, "awaiting_appliance") != 0) {
        api_error(c, 409, "not_pending", "this CA already has its certificate");
        return;
    }
    if (!cert_pem) {
        /* The certificate the appliance sent with its offer (a root made on the YubiKey). */
        uint8_t *der = NULL;
        size_t len = 0;
        if (relay_link_hsm_offered(ca->id, 0, &der, &len) == 0)
            offered = pem_of(der, len);
        free(der);
        if (!offered) {
            api_error(c, 400, "missing_field",
                      "'certificate_pem' is required (no single certificate was offered)");
            return;
        }
        cert_pem = offered;
    }
    char targets[2048];
    int n;
    pki_key_type kt;
    unsigned bits;
    if (first_cert_spki(cert_pem, &spki, &spki_len, err, sizeof err) != 0) {
        api_error(c, 400, "bad_certificate", "%s", err);
        goto done;
    }
    n = relay_link_hsm_targets(ca->id, spki, spki_len, targets, sizeof targets);
    if (n < 0) {
        api_error(c, 503, "link_unavailable", "cannot read the appliances' offers");
        goto done;
    }
    if (n == 0) {
        api_error(c, 400, "no_matching_slot",
                  "no appliance offered a slot holding this certificate's key");
        goto done;
    }
    if (pki_spki_info(spki, spki_len, &kt, &bits, err, sizeof err) != 0) {
        api_error(c, 400, "bad_certificate", "%s", err);
        goto done;
    }
    pki_sig_alg alg = 0;
    if (ca->sig_alg[0] &&
        (pki_sig_alg_from_name(ca->sig_alg, &alg) != 0 || !pki_sig_alg_fits_key(alg, kt))) {
        api_error(c, 400, "key_mismatch", "the CA's signature algorithm %s does not fit a %s key",
                  ca->sig_alg, pki_key_type_name(kt));
        goto done;
    }
    ca_checked chk;
    int status;
    const char *code;
    if (ca_check_cert(c->st, c->user.id, ca->id, spki, spki_len, cert_pem, chain_pem, &chk, &status,
                      &code, err, sizeof err) != 0) {
        api_error(c, status, code, "%s", err);
        goto done;
    }
    free(ca->cert_der);
    free(ca->chain_der);
    free(ca->spki);
    ca->cert_der = chk.cert_der;
    ca->cert_len = chk.cert_len;
    ca->chain_der = chk.chain_der;
    ca->chain_len = chk.chain_len;
    chk.cert_der = chk.chain_der = NULL;
    ca->spki = spki;
    ca->spki_len = spki_len;
    spki = NULL;
    if (!ca->sig_alg[0])
        snprintf(ca->sig_alg, sizeof ca->sig_alg, "%s", pki_sig_alg_name(pki_sig_alg_default(kt)));
    snprintf(ca->subject, sizeof ca->subject, "%s", chk.subject);
    snprintf(ca->status, sizeof ca->status, "active");
    ca_forget(ca->id);
    pki_signer *s = ca_signer(c->app, ca, err, sizeof err);
    if (!s || store_begin(c->st) != STORE_OK) {
        api_error(c, s ? 503 : 500, s ? "busy" : "internal", "%s", s ? "database busy" : err);
        ca_forget(ca->id);
        goto done;
    }
    /* The OCSP responder certificate is signed over the link now: an appliance that cannot sign
     * leaves the CA waiting, with the signer's own error. */
    int http = 500;
    if (store_ca_update(c->st, ca) != STORE_OK ||
        store_ca_set_spki(c->st, ca->id, ca->spki, ca->spki_len, ca->sig_alg) != STORE_OK ||
        ca_make_services(c->app, c->st, ca, s, true, &http, err, sizeof err) != 0) {
        store_rollback(c->st);
        ca_forget(ca->id);
        const char *why = "internal";
        int sign = relay_link_sign_status_of(err);
        if (sign)
            http = relay_link_sign_http(sign, &why);
        api_error(c, http, why, "cannot activate the CA: %s", err);
        goto done;
    }
    char target[48];
    snprintf(target, sizeof target, "ca:%lld", (long long)ca->id);
    api_audit(c, "ca.import_certificate", target, ca->id, json_pack("{s:s}", "targets", targets));
    if (store_commit(c->st) != STORE_OK) {
        ca_forget(ca->id);
        api_error(c, 500, "internal", "cannot activate the CA");
        goto done;
    }
    ca_forget(ca->id); /* nothing cached from before the commit survives */
    pki_notice("CA %lld (HSM) active, signing through %s", (long long)ca->id, targets);
    api_json(c, 200, ca_json(c->app, ca));
done:
    free(spki);
    free(offered);
}
