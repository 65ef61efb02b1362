/* Creating CAs: root (self-signed), intermediate (key + CSR, active once its certificate is
 * imported), or an existing key with its certificate; and the services every active CA gets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ca/ca_impl.h"
#include "issue/issue.h"
#include "keys/keys.h"
#include "log/log.h"
#include "signer/soft_signer.h"
#include "templates/templates.h"
#include "util/timefmt.h"
#include "x509/x509.h"

#define CA_KU (PKI_KU_KEY_CERT_SIGN | PKI_KU_CRL_SIGN | PKI_KU_DIGITAL_SIGNATURE)

static const char *const SUBJECT_ORDER[] = {"C", "ST", "L", "O", "OU", "CN"};

/* The subject from a string ("/CN=x/O=y" or RFC 4514) or an object {"CN":…,"O":…}. */
bool ca_subject_from_json(api_call *c, pki_name *n)
{
    json_t *v = json_object_get(c->json, "subject");
    char why[200];
    memset(n, 0, sizeof *n);
    if (json_is_string(v)) {
        if (pki_name_parse(n, json_string_value(v), why, sizeof why) != 0) {
            api_error(c, 400, "bad_field", "subject: %s", why);
            return false;
        }
    } else if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach(v, k, m)
        {
            size_t i;
            for (i = 0; i < sizeof SUBJECT_ORDER / sizeof SUBJECT_ORDER[0]; i++)
                if (strcmp(k, SUBJECT_ORDER[i]) == 0)
                    break;
            if (i == sizeof SUBJECT_ORDER / sizeof SUBJECT_ORDER[0] || !json_is_string(m)) {
                api_error(c, 400, "bad_field",
                          "subject members are CN, O, OU, L, ST, C with string values");
                return false;
            }
        }
        for (size_t i = 0; i < sizeof SUBJECT_ORDER / sizeof SUBJECT_ORDER[0]; i++) {
            json_t *x = json_object_get(v, SUBJECT_ORDER[i]);
            if (x && json_string_length(x) &&
                pki_name_add(n, SUBJECT_ORDER[i], json_string_value(x), why, sizeof why) != 0) {
                api_error(c, 400, "bad_field", "subject %s: %s", SUBJECT_ORDER[i], why);
                return false;
            }
        }
    } else {
        api_error(c, 400, "missing_field", "'subject' is required (text or an object)");
        return false;
    }
    bool has_cn = false;
    for (size_t i = 0; i < n->count; i++)
        if (strcmp(n->attr[i].oid, "2.5.4.3") == 0 && n->attr[i].value[0])
            has_cn = true;
    if (!has_cn) {
        api_error(c, 400, "bad_field", "the subject needs a CN");
        return false;
    }
    return true;
}

static bool key_choice(api_call *c, pki_key_type *type, unsigned *bits, pki_sig_alg *alg)
{
    const char *kt, *sa;
    int64_t rsa_bits;
    if (!api_body_str(c, "key_type", true, 16, &kt) ||
        !api_body_int(c, "rsa_bits", false, 2048, 4096, 2048, &rsa_bits) ||
        !api_body_str(c, "signature_algorithm", false, 32, &sa))
        return false;
    if (pki_key_type_from_name(kt, type) != 0) {
        api_error(c, 400, "bad_key_type",
                  "'key_type' must be rsa, ec-p256, ec-p384, ec-p521 or ed25519");
        return false;
    }
    if (*type == PKI_KEY_RSA && rsa_bits != 2048 && rsa_bits != 3072 && rsa_bits != 4096) {
        api_error(c, 400, "bad_key_type", "'rsa_bits' must be 2048, 3072 or 4096");
        return false;
    }
    *bits = (unsigned)rsa_bits;
    *alg = 0;
    if (sa && (pki_sig_alg_from_name(sa, alg) != 0 || !pki_sig_alg_fits_key(*alg, *type))) {
        api_error(c, 400, "bad_field", "'signature_algorithm' %s does not fit a %s key", sa, kt);
        return false;
    }
    return true;
}

static void fill_ca_defaults(api_call *c, store_ca *ca, const char *name, pki_signer *s)
{
    memset(ca, 0, sizeof *ca);
    ca->owner_id = c->user.id;
    snprintf(ca->name, sizeof ca->name, "%s", name);
    snprintf(ca->key_type, sizeof ca->key_type, "%s", pki_key_type_name(s->key_type));
    ca->crl_validity_s = 7 * 86400;
    ca->crl_refresh_s = 86400;
    snprintf(ca->service_key_type, sizeof ca->service_key_type, "ec-p256");
    ca->created = c->now;
    const char *cps = json_string_value(json_object_get(c->json, "cps"));
    ca->cps = strdup(cps ? cps : "");
}

int ca_make_services(relay_app *app, store *st, store_ca *ca, pki_signer *signer, bool add_template,
                     int *http, char *err, size_t errlen)
{
    int unused_http;
    if (!http)
        http = &unused_http;
    *http = 500;
    int64_t tid;
    if (add_template && tpl_create_starter(st, ca->id, "Web Server", pki_now(), &tid) != STORE_OK) {
        snprintf(err, errlen, "cannot create the Web Server template");
        return -1;
    }
    pki_key_type kt = PKI_KEY_EC_P256;
    pki_key_type_from_name(ca->service_key_type, &kt);
    pki_signer *resp = pki_soft_signer_generate(kt, 2048);
    if (!resp) {
        snprintf(err, errlen, "cannot generate the OCSP responder key");
        return -1;
    }
    pki_issuer is;
    memset(&is, 0, sizeof is);
    char why[200];
    if (pki_issuer_from_cert(&is, ca->cert_der, ca->cert_len, why, sizeof why) != 0) {
        pki_signer_free(resp);
        snprintf(err, errlen, "CA certificate: %s", why);
        return -1;
    }
    int64_t now = pki_now();
    int64_t end = now + 365 * 86400;
    if (end > is.not_after)
        end = is.not_after;
    pki_issuer_free(&is);
    char subject[300];
    snprintf(subject, sizeof subject, "/CN=%s OCSP Responder", ca->name);
    for (char *p = subject + 4; *p; p++)
        if (*p == '/' || *p == ',' || *p == '+' || *p == '=')
            *p = ' '; /* the CA name is free text; keep the DN parseable */
    issue_params p = {.subject = subject,
                      .spki = resp->spki,
                      .spki_len = resp->spki_len,
                      .not_before = now,
                      .not_after = end,
                      .kind = "ocsp",
                      .ocsp_signing = 1};
    store_cert cert;
    int status;
    if (issue_certificate(app, st, ca, signer, NULL, &p, &cert, &status, err, errlen) != 0) {
        pki_signer_free(resp);
        *http = status;
        return -1;
    }
    uint8_t *blob = NULL;
    size_t blen = 0;
    int rc = ca_seal_key(app, ca->id, "ocsp", resp, &blob, &blen);
    pki_signer_free(resp);
    if (rc != 0) {
        store_cert_clear(&cert);
        snprintf(err, errlen, "cannot seal the OCSP responder key");
        return -1;
    }
    free(ca->ocsp_sealed_key);
    ca->ocsp_sealed_key = blob;
    ca->ocsp_sealed_len = blen;
    ca->ocsp_cert_id = cert.id;
    store_cert_clear(&cert);
    if (store_ca_update(st, ca) != STORE_OK) {
        snprintf(err, errlen, "cannot store the OCSP responder");
        return -1;
    }
    ca_forget(ca->id); /* a cached responder key of this id is stale now */
    return 0;
}

/* Inserts the CA, seals its key under its id, and (active CAs) adds the services; all in one
 * transaction. Answers the request. */
static void persist(api_call *c, store_ca *ca, pki_signer *s)
{
    char err[300];
    uint8_t *blob = NULL;
    size_t blen = 0;
    if (store_begin(c->st) != STORE_OK) {
        api_error(c, 503, "busy", "database busy");
        return;
    }
    int rc = store_ca_create(c->st, ca);
    if (rc == STORE_CONFLICT) {
        store_rollback(c->st);
        api_error(c, 409, "conflict", "you have a CA named '%s'", ca->name);
        return;
    }
    if (rc != STORE_OK || ca_seal_key(c->app, ca->id, "", s, &blob, &blen) != 0 ||
        store_ca_set_key(c->st, ca->id, blob, blen) != STORE_OK) {
        free(blob);
        store_rollback(c->st);
        api_error(c, 500, "internal", "cannot store the CA");
        return;
    }
    free(ca->sealed_key);
    ca->sealed_key = blob;
    ca->sealed_len = blen;
    if (strcmp(ca->status, "active") == 0 &&
        ca_make_services(c->app, c->st, ca, s, true, NULL, err, sizeof err) != 0) {
        store_rollback(c->st);
        ca_forget(ca->id);
        api_error(c, 500, "internal", "%s", err);
        return;
    }
    char target[48];
    snprintf(target, sizeof target, "ca:%lld", (long long)ca->id);
    api_audit(c, "ca.create", target, ca->id,
              json_pack("{s:s,s:s,s:s}", "name", ca->name, "key_type", ca->key_type, "status",
                        ca->status));
    if (store_commit(c->st) != STORE_OK) {
        ca_forget(ca->id);
        api_error(c, 500, "internal", "cannot store the CA");
        return;
    }
    api_json(c, 201, ca_json(c->app, ca));
}

static void create_root_or_intermediate(api_call *c, const char *name, bool root)
{
    pki_name subject;
    pki_key_type kt;
    unsigned bits;
    pki_sig_alg alg;
    int64_t days, path_len = -1;
    json_t *pl = json_object_get(c->json, "path_len");
    if (!ca_subject_from_json(c, &subject) || !key_choice(c, &kt, &bits, &alg) ||
        !api_body_int(c, "validity_days", false, 1, 36500, 3650, &days))
        return;
    if (pl && !json_is_null(pl) && !api_body_int(c, "path_len", false, 0, 32, -1, &path_len))
        return;
    pki_signer *s = pki_soft_signer_generate(kt, bits);
    if (!s) {
        api_error(c, 500, "internal", "key generation failed");
        return;
    }
    if (!alg)
        alg = s->default_alg;
    store_ca ca;
    fill_ca_defaults(c, &ca, name, s);
    snprintf(ca.sig_alg, sizeof ca.sig_alg, "%s", pki_sig_alg_name(alg));
    pki_name_format(&subject, PKI_NAME_RFC4514, ca.subject, sizeof ca.subject);
    ca.spki = malloc(s->spki_len);
    if (!ca.spki) {
        pki_signer_free(s);
        api_error(c, 500, "internal", "out of memory");
        return;
    }
    memcpy(ca.spki, s->spki, s->spki_len);
    ca.spki_len = s->spki_len;
    char why[300];
    int rc;
    if (root) {
        pki_cert_template t;
        pki_cert_template_init(&t);
        t.subject = subject;
        t.not_before = c->now;
        t.not_after = c->now + days * 86400;
        t.spki = s->spki;
        t.spki_len = s->spki_len;
        t.sig_alg = alg;
        t.is_ca = 1;
        t.path_len = (int)path_len;
        t.key_usage = CA_KU;
        snprintf(ca.status, sizeof ca.status, "active");
        rc = pki_cert_build_sync(&t, NULL, s, &ca.cert_der, &ca.cert_len, why, sizeof why);
    } else {
        snprintf(ca.status, sizeof ca.status, "pending");
        rc = pki_csr_build_sync(&subject, NULL, s, alg, &ca.csr_der, &ca.csr_len, why, sizeof why);
    }
    if (rc != 0) {
        api_error(c, rc == PKI_X509_ERR_INPUT || rc == PKI_X509_ERR_LINT ? 400 : 500,
                  "cannot_build", "%s", why);
    } else {
        persist(c, &ca, s);
    }
    pki_signer_free(s);
    store_ca_clear(&ca);
}

static void create_import(api_call *c, const char *name)
{
    const char *key_pem, *password, *cert_pem, *chain_pem;
    if (!api_body_text(c, "key_pem", true, 64 * 1024, &key_pem) ||
        !api_body_str(c, "key_password", false, 1024, &password) ||
        !api_body_text(c, "certificate_pem", true, 64 * 1024, &cert_pem) ||
        !api_body_text(c, "chain_pem", false, 512 * 1024, &chain_pem))
        return;
    char why[300];
    pki_signer *s = pki_soft_signer_from_pem(key_pem, strlen(key_pem), password, why, sizeof why);
    if (!s) {
        api_error(c, 400, "bad_key", "%s", why);
        return;
    }
    ca_checked chk;
    int status;
    const char *code;
    if (ca_check_cert(c->st, c->user.id, 0, s->spki, s->spki_len, cert_pem, chain_pem, &chk,
                      &status, &code, why, sizeof why) != 0) {
        pki_signer_free(s);
        api_error(c, status, code, "%s", why);
        return;
    }
    store_ca ca;
    fill_ca_defaults(c, &ca, name, s);
    snprintf(ca.status, sizeof ca.status, "active");
    snprintf(ca.sig_alg, sizeof ca.sig_alg, "%s", pki_sig_alg_name(s->default_alg));
    snprintf(ca.subject, sizeof ca.subject, "%s", chk.subject);
    ca.cert_der = chk.cert_der;
    ca.cert_len = chk.cert_len;
    ca.chain_der = chk.chain_der;
    ca.chain_len = chk.chain_len;
    chk.cert_der = chk.chain_der = NULL;
    ca.spki = malloc(s->spki_len);
    if (ca.spki) {
        memcpy(ca.spki, s->spki, s->spki_len);
        ca.spki_len = s->spki_len;
        persist(c, &ca, s);
    } else {
        api_error(c, 500, "internal", "out of memory");
    }
    ca_checked_free(&chk);
    pki_signer_free(s);
    store_ca_clear(&ca);
}

void ca_create(api_call *c)
{
    const char *name, *type;
    if (!api_body_str(c, "name", true, STORE_NAME_MAX - 1, &name) ||
        !api_body_str(c, "type", false, 16, &type))
        return;
    const char *cps;
    if (!api_body_text(c, "cps", false, 64 * 1024, &cps))
        return;
    const char *kt = json_string_value(json_object_get(c->json, "key_type"));
    if (kt && strcasecmp(kt, "HSM") == 0) {
        /* The key will live on an appliance's YubiKey (hsm-contract §2). */
        if (type && strcmp(type, "root") != 0 && strcmp(type, "intermediate") != 0)
            api_error(c, 400, "bad_field", "an HSM CA's 'type' is root or intermediate");
        else
            ca_create_hsm(c, name, !type || strcmp(type, "root") == 0);
        return;
    }
    if (!type || strcmp(type, "root") == 0)
        create_root_or_intermediate(c, name, true);
    else if (strcmp(type, "intermediate") == 0)
        create_root_or_intermediate(c, name, false);
    else if (strcmp(type, "import") == 0)
        create_import(c, name);
    else
        api_error(c, 400, "bad_field", "'type' must be root, intermediate or import");
}
