#include "provision/provision.h"
#include "provision/provision_impl.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/pkcs12.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certinfo/certinfo.h"
#include "jsonapi/jsonapi.h"
#include "keys/keys.h"
#include "util/encoding.h"
#include "x509/x509.h"
#include "yubikey/yk_signer.h"

#define SIGN_TIMEOUT_MS 120000

typedef enum {
    STEP_SETUP,
    STEP_VERIFY,
    STEP_GENERATE,
    STEP_IMPORT,
    STEP_PUBKEY,
    STEP_WRITE_CERT,
    STEP_READ_CERT,
    STEP_CLEAR,
    STEP_ATTEST,
} step_kind;

/* One visit to the card on its worker: everything a step needs in, its results out. */
typedef struct {
    step_kind kind;
    int slot;
    const secret *pin, *new_pin, *puk, *new_puk;
    const char *mgm_hex;
    pki_key_type type;
    int pin_policy, touch_policy;
    const pki_key *key;
    const uint8_t *cert;
    size_t cert_len;
    uint8_t *out; /* SPKI, certificate or attestation; malloc'd */
    size_t out_len;
    int absent; /* READ_CERT: the slot has no certificate */
    yk_result r;
} card_step;

static int card_job(ykpiv_state *yk, uint32_t serial, void *arg)
{
    card_step *s = arg;
    yk_result *r = &s->r;
    if (!yk) {
        ykc_fail(r, PKI_SIGN_ERR_CARD_ABSENT, 503, "card_absent",
                 "YubiKey %u was removed during the operation", serial);
        return YK_SAME;
    }
    int here = YK_CHANGED_SLOT(s->slot);
    switch (s->kind) {
    case STEP_SETUP:
        ykc_setup(yk, s->pin, s->new_pin, s->puk, s->new_puk, s->mgm_hex, r);
        return YK_CHANGED;
    case STEP_VERIFY:
        ykc_verify_pin(yk, s->pin, r);
        return YK_CHANGED_PIN; /* the retry counter changed either way */
    case STEP_GENERATE:
        if (ykc_admin_login(yk, s->pin, r) == 0)
            ykc_generate(yk, s->slot, s->type, s->pin_policy, s->touch_policy, &s->out, &s->out_len,
                         r);
        return here;
    case STEP_IMPORT:
        if (ykc_admin_login(yk, s->pin, r) == 0)
            ykc_import_key(yk, s->slot, s->key, s->pin_policy, s->touch_policy, r);
        return here;
    case STEP_PUBKEY:
        ykc_public_key(yk, s->slot, &s->out, &s->out_len, r);
        return YK_SAME;
    case STEP_WRITE_CERT:
        if (ykc_admin_login(yk, s->pin, r) == 0)
            ykc_write_cert(yk, s->slot, s->cert, s->cert_len, r);
        return here;
    case STEP_READ_CERT: {
        int rc = ykc_read_cert(yk, s->slot, &s->out, &s->out_len, r);
        s->absent = rc == 1;
        return YK_SAME;
    }
    case STEP_CLEAR:
        if (ykc_admin_login(yk, s->pin, r) == 0)
            ykc_clear_slot(yk, s->slot, r);
        return here;
    case STEP_ATTEST:
        ykc_attest(yk, s->slot, &s->out, &s->out_len, r);
        return YK_SAME;
    }
    return YK_SAME;
}

/* Runs a step on the key; 0, or the failure in s->r (404 when the key is not present). */
static int run_step(const prov_env *env, uint32_t serial, card_step *s)
{
    s->r.retries = -1;
    if (yk_manager_run(env->keys, serial, card_job, s) < 0)
        return ykc_fail(&s->r, PKI_SIGN_ERR_CARD_ABSENT, 404, "no_key",
                        "no YubiKey with serial %u is plugged in", serial);
    return s->r.status;
}

static void audit(const prov_env *env, const char *event, uint32_t serial, int slot,
                  const char *detail)
{
    agent_state_audit(env->state, env->actor, event, serial, slot >= 0 ? ykc_slot_name(slot) : NULL,
                      detail);
}

static char *pem_of(const char *label, const uint8_t *der, size_t len)
{
    char *pem = NULL;
    size_t pl = 0;
    return pki_pem_encode(label, der, len, &pem, &pl) == 0 ? pem : NULL;
}

static json_t *json_pem(const char *label, const uint8_t *der, size_t len)
{
    char *pem = pem_of(label, der, len);
    json_t *j = pem ? json_string(pem) : json_null();
    free(pem);
    return j;
}

/* The record of a slot, or an empty object. */
static json_t *slot_record(const prov_env *env, uint32_t serial, int slot)
{
    json_t *rec = agent_state_slot_get(env->state, serial, ykc_slot_name(slot));
    return rec ? rec : json_object();
}

/* The slot key's SPKI: from the card's metadata, else what we recorded at generation or
 * import (older firmware without GET METADATA). */
static int slot_spki(const prov_env *env, uint32_t serial, int slot, uint8_t **spki, size_t *len,
                     yk_result *r)
{
    card_step s = {.kind = STEP_PUBKEY, .slot = slot};
    if (run_step(env, serial, &s) == 0) {
        *spki = s.out;
        *len = s.out_len;
        return 0;
    }
    if (s.r.status == PKI_SIGN_ERR_CARD_ABSENT) {
        *r = s.r;
        return r->status;
    }
    json_t *rec = slot_record(env, serial, slot);
    const char *b64 = jsonapi_str(rec, "spki");
    int rc = -1;
    if (b64 && pki_base64_decode(b64, strlen(b64), spki, len) == 0)
        rc = 0;
    json_decref(rec);
    if (rc != 0)
        return ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 409, "no_key",
                        "slot %s holds no key yet: generate or import one first",
                        ykc_slot_name(slot));
    return 0;
}

/* Stores the slot's record (the reference is stolen). 0, or the failure in r. */
static int record_put(const prov_env *env, uint32_t serial, int slot, json_t *rec, yk_result *r)
{
    int rc = agent_state_slot_put(env->state, serial, ykc_slot_name(slot), rec);
    json_decref(rec);
    if (rc != 0)
        return ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 500, "state",
                        "the card was changed but the state database could not be written");
    return 0;
}

static json_t *spki_b64(const uint8_t *spki, size_t len)
{
    char *b = pki_base64_encode(spki, len);
    json_t *j = b ? json_string(b) : json_null();
    free(b);
    return j;
}

/* ---- operations ---- */

typedef struct {
    secret pin, new_pin, puk, new_puk, mgm, password, key;
} secrets;

static void secrets_clear(secrets *s)
{
    secret_clear(&s->pin);
    secret_clear(&s->new_pin);
    secret_clear(&s->puk);
    secret_clear(&s->new_puk);
    secret_clear(&s->mgm);
    secret_clear(&s->password);
    secret_clear(&s->key);
}

static int take_secrets(json_t *in, secrets *s, yk_result *r)
{
    struct {
        const char *name;
        secret *dst;
    } fields[] = {{"pin", &s->pin},         {"new_pin", &s->new_pin},    {"puk", &s->puk},
                  {"new_puk", &s->new_puk}, {"management_key", &s->mgm}, {"password", &s->password},
                  {"key", &s->key}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (jsonapi_take_secret(in, fields[i].name, fields[i].dst) < 0)
            return ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400,
                            strcmp(fields[i].name, "key") == 0 ? "bad_key" : "bad_request",
                            "\"%s\" must be a string of at most %d bytes", fields[i].name,
                            SECRET_MAX);
    return 0;
}

static json_t *op_setup(const prov_env *env, uint32_t serial, secrets *sec, yk_result *r)
{
    card_step s = {.kind = STEP_SETUP,
                   .pin = &sec->pin,
                   .new_pin = &sec->new_pin,
                   .puk = &sec->puk,
                   .new_puk = &sec->new_puk,
                   .mgm_hex = sec->mgm.buf};
    if (run_step(env, serial, &s) != 0) {
        *r = s.r;
        audit(env, "setup_failed", serial, -1, r->code);
        return NULL;
    }
    audit(env, "key_set_up", serial, -1, "PIN and PUK changed, management key PIN-protected");
    return json_pack("{s:I,s:b}", "serial", (json_int_t)serial, "set_up", 1);
}

static json_t *op_verify(const prov_env *env, uint32_t serial, secrets *sec, yk_result *r)
{
    card_step s = {.kind = STEP_VERIFY, .pin = &sec->pin};
    if (run_step(env, serial, &s) != 0) {
        *r = s.r;
        audit(env, "pin_failed", serial, -1, r->code);
        return NULL;
    }
    return json_pack("{s:b}", "verified", 1);
}

/* "Unlock for signing": the card checks the PIN once (a wrong one is never kept or retried);
 * then the key's manager keeps it in locked memory for the link's signatures. */
static json_t *op_unlock(const prov_env *env, uint32_t serial, secrets *sec, yk_result *r)
{
    card_step s = {.kind = STEP_VERIFY, .pin = &sec->pin};
    if (run_step(env, serial, &s) != 0) {
        *r = s.r;
        audit(env, "signing_unlock_failed", serial, -1, r->code);
        return NULL;
    }
    if (yk_manager_keep_sign_pin(env->keys, serial, &sec->pin) != 0) {
        ykc_fail(r, PKI_SIGN_ERR_CARD_ABSENT, 404, "no_key",
                 "no YubiKey with serial %u is plugged in", serial);
        return NULL;
    }
    audit(env, "signing_unlocked", serial, -1, "PIN kept for link signatures");
    return json_pack("{s:I,s:b}", "serial", (json_int_t)serial, "signing_unlocked", 1);
}

static json_t *op_lock(const prov_env *env, uint32_t serial)
{
    yk_manager_forget_sign_pin(env->keys, serial);
    audit(env, "signing_locked", serial, -1, "kept PIN forgotten");
    return json_pack("{s:I,s:b}", "serial", (json_int_t)serial, "signing_unlocked", 0);
}

static json_t *op_generate(const prov_env *env, uint32_t serial, int slot, json_t *in, secrets *sec,
                           yk_result *r)
{
    const char *alg = jsonapi_str(in, "algorithm");
    card_step s = {.kind = STEP_GENERATE, .slot = slot, .pin = &sec->pin};
    if (alg && strcmp(alg, "rsa2048") == 0)
        s.type = PKI_KEY_RSA;
    else if (alg && strcmp(alg, "ec-p256") == 0)
        s.type = PKI_KEY_EC_P256;
    else if (alg && strcmp(alg, "ec-p384") == 0)
        s.type = PKI_KEY_EC_P384;
    else {
        ykc_fail(r, PKI_SIGN_ERR_BAD_ALG, 400, "bad_algorithm",
                 "\"algorithm\" must be rsa2048, ec-p256 or ec-p384");
        return NULL;
    }
    s.pin_policy = ykc_pin_policy(jsonapi_str(in, "pin_policy"));
    s.touch_policy = ykc_touch_policy(jsonapi_str(in, "touch_policy"));
    if (s.pin_policy < 0 || s.touch_policy < 0) {
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "bad_policy",
                 "pin_policy is never, once or always; touch_policy is never, always or cached");
        return NULL;
    }
    if (run_step(env, serial, &s) != 0) {
        *r = s.r;
        return NULL;
    }
    json_t *rec = json_pack("{s:s,s:s,s:s,s:o}", "state", "key_generated", "key_type", alg,
                            "origin", "generated", "spki", spki_b64(s.out, s.out_len));
    json_t *ans = NULL;
    if (record_put(env, serial, slot, rec, r) == 0) {
        audit(env, "key_generated", serial, slot, alg);
        ans = json_pack("{s:s,s:s,s:o}", "slot", ykc_slot_name(slot), "state", "key_generated",
                        "public_key", json_pem("PUBLIC KEY", s.out, s.out_len));
    }
    free(s.out);
    return ans;
}

/* wolfSSL hands PKCS#12 EC keys back as SEC1 without their curve: wrap them in PKCS#8 with
 * each curve a YubiKey holds until one fits. */
static pki_key *ec_key_without_curve(const uint8_t *sec1, size_t len)
{
    static const word32 CURVES[] = {ECC_SECP256R1_OID, ECC_SECP384R1_OID};
    for (size_t i = 0; i < sizeof CURVES / sizeof CURVES[0]; i++) {
        const byte *oid = NULL;
        word32 oid_len = 0, out_len = 0;
        if (wc_ecc_get_oid(CURVES[i], &oid, &oid_len) < 0 ||
            wc_CreatePKCS8Key(NULL, &out_len, (byte *)sec1, (word32)len, ECDSAk, oid, oid_len) !=
                LENGTH_ONLY_E)
            continue;
        byte *p8 = malloc(out_len);
        if (!p8)
            return NULL;
        pki_key *key = NULL;
        char err[160];
        if (wc_CreatePKCS8Key(p8, &out_len, (byte *)sec1, (word32)len, ECDSAk, oid, oid_len) > 0)
            key = pki_key_import(p8, out_len, NULL, err, sizeof err);
        pki_secret_free(p8, out_len);
        if (key)
            return key;
    }
    return NULL;
}

/* The private key of a PKCS#12 file (base64 in the request). */
static pki_key *key_from_pkcs12(const char *b64, const secret *password, yk_result *r)
{
    uint8_t *der = NULL;
    size_t len = 0;
    if (pki_base64_decode(b64, strlen(b64), &der, &len) != 0 || len == 0) {
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "bad_pkcs12", "the PKCS#12 file is not base64");
        return NULL;
    }
    WC_PKCS12 *p12 = wc_PKCS12_new();
    byte *pkey = NULL, *cert = NULL;
    word32 pkey_len = 0, cert_len = 0;
    WC_DerCertList *ca = NULL;
    pki_key *key = NULL;
    if (!p12 || wc_d2i_PKCS12(der, (word32)len, p12) != 0) {
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "bad_pkcs12", "this is not a PKCS#12 file");
    } else if (wc_PKCS12_parse(p12, password->buf ? password->buf : "", &pkey, &pkey_len, &cert,
                               &cert_len, &ca) != 0 ||
               !pkey) {
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "bad_password",
                 "cannot open the PKCS#12 file: wrong password, or it holds no private key");
    } else {
        char err[160];
        key = pki_key_import(pkey, pkey_len, NULL, err, sizeof err);
        if (!key)
            key = ec_key_without_curve(pkey, pkey_len);
        if (!key)
            ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "bad_key", "PKCS#12: %s", err);
    }
    if (pkey)
        pki_secret_free(pkey, pkey_len);
    free(cert);
    while (ca) { /* wc_FreeCertList is not exported by Debian's build */
        WC_DerCertList *next = ca->next;
        free(ca->buffer);
        free(ca);
        ca = next;
    }
    wc_PKCS12_free(p12);
    free(der);
    return key;
}

static json_t *op_import_key(const prov_env *env, uint32_t serial, int slot, json_t *in,
                             secrets *sec, yk_result *r)
{
    const char *p12 = jsonapi_str(in, "pkcs12");
    pki_key *key = NULL;
    if (p12) {
        key = key_from_pkcs12(p12, &sec->password, r);
    } else if (sec->key.buf) {
        char err[160];
        key = pki_key_import((const uint8_t *)sec->key.buf, sec->key.len, sec->password.buf, err,
                             sizeof err);
        if (!key)
            ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "bad_key", "%s", err);
    } else {
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "bad_key",
                 "paste a private key (\"key\") or a PKCS#12 file (\"pkcs12\")");
    }
    if (!key)
        return NULL;
    card_step s = {.kind = STEP_IMPORT, .slot = slot, .pin = &sec->pin, .key = key};
    s.pin_policy = ykc_pin_policy(jsonapi_str(in, "pin_policy"));
    s.touch_policy = ykc_touch_policy(jsonapi_str(in, "touch_policy"));
    json_t *ans = NULL;
    if (s.pin_policy < 0 || s.touch_policy < 0) {
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "bad_policy",
                 "pin_policy is never, once or always; touch_policy is never, always or cached");
    } else if (run_step(env, serial, &s) != 0) {
        *r = s.r;
    } else {
        size_t spki_len = 0;
        const uint8_t *spki = pki_key_spki(key, &spki_len);
        const char *type = pki_key_type_name(pki_key_get_type(key));
        json_t *rec = json_pack("{s:s,s:s,s:s,s:o}", "state", "key_imported", "key_type", type,
                                "origin", "imported", "spki", spki_b64(spki, spki_len));
        if (record_put(env, serial, slot, rec, r) == 0) {
            audit(env, "key_imported", serial, slot, type);
            ans = json_pack("{s:s,s:s,s:o}", "slot", ykc_slot_name(slot), "state", "key_imported",
                            "public_key", json_pem("PUBLIC KEY", spki, spki_len));
        }
    }
    pki_key_free(key);
    return ans;
}

/* Signs with the slot's key through the signer interface; reports card/PIN failures. */
static int signer_failure(pki_signer *signer, int status, const char *err, yk_result *r)
{
    yk_result last;
    yk_signer_last_error(signer, &last);
    if (last.status != 0) {
        *r = last;
        return r->status;
    }
    return ykc_fail(r, status ? status : PKI_SIGN_ERR_INTERNAL, 400, "bad_template", "%s", err);
}

int prov_make_ca(const prov_env *env, uint32_t serial, int slot, const certinfo *ci,
                 bool self_signed, const secret *pin, uint8_t **spki, size_t *spki_len,
                 uint8_t **der, size_t *der_len, yk_result *r)
{
    char err[256];
    int rc = -1;
    pki_signer *signer = NULL;
    pki_cert_template t;
    pki_exts exts;
    pki_exts_init(&exts);
    *spki = *der = NULL;
    certinfo_tpl *tpl = calloc(1, sizeof *tpl);
    if (!tpl) {
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 500, "internal", "out of memory");
        goto out;
    }
    pki_exts_init(&tpl->exts);
    if (slot_spki(env, serial, slot, spki, spki_len, r) != 0)
        goto out;
    signer = yk_signer_new(env->keys, serial, slot, *spki, *spki_len, pin, err, sizeof err);
    if (!signer) {
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 409, "bad_key", "%s", err);
        goto out;
    }
    if (self_signed) {
        if (certinfo_to_template(ci, *spki, *spki_len, &t, tpl, err, sizeof err) != 0) {
            ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "bad_template", "%s", err);
            goto out;
        }
        int sr = pki_cert_build_sync(&t, NULL, signer, der, der_len, err, sizeof err);
        if (sr != 0) {
            signer_failure(signer, sr, err, r);
            goto out;
        }
    } else {
        for (size_t i = 0; i < ci->n_exts; i++) {
            const certinfo_ext *e = &ci->exts[i];
            if (strcmp(e->oid, "2.5.29.14") == 0 || strcmp(e->oid, "2.5.29.35") == 0 ||
                strcmp(e->oid, LINK_PROVISIONING_OID) == 0)
                continue;
            pki_exts_add(&exts, e->oid, e->critical, e->value, e->len);
        }
        if (pki_exts_error(&exts)) {
            ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "bad_template", "%s", pki_exts_error(&exts));
            goto out;
        }
        int sr = pki_csr_build_sync(&ci->subject, &exts, signer, signer->default_alg, der, der_len,
                                    err, sizeof err);
        if (sr != 0) {
            signer_failure(signer, sr, err, r);
            goto out;
        }
    }
    rc = 0;
out:
    pki_signer_free(signer);
    pki_exts_free(&exts);
    if (tpl)
        certinfo_tpl_free(tpl);
    free(tpl);
    if (rc != 0) {
        free(*spki);
        free(*der);
        *spki = *der = NULL;
    }
    return rc;
}

json_t *prov_store_ca(const prov_env *env, uint32_t serial, int slot, const certinfo *ci,
                      bool self_signed, const secret *pin, const uint8_t *spki, size_t spki_len,
                      const uint8_t *der, size_t der_len, json_t *relay, yk_result *r)
{
    char err[256];
    if (self_signed) {
        card_step s = {
            .kind = STEP_WRITE_CERT, .slot = slot, .pin = pin, .cert = der, .cert_len = der_len};
        if (run_step(env, serial, &s) != 0) {
            *r = s.r;
            return NULL;
        }
    }
    json_t *rec = slot_record(env, serial, slot);
    json_object_set_new(rec, "state", json_string(self_signed ? "provisioned" : "csr_pending"));
    json_object_set_new(rec, "mode", json_string(self_signed ? "self-signed" : "csr"));
    json_object_set_new(rec, "template", json_pem("CERTIFICATE", ci->der, ci->der_len));
    json_object_set_new(rec, "spki", spki_b64(spki, spki_len));
    if (self_signed)
        json_object_del(rec, "csr");
    else
        json_object_set_new(rec, "csr", json_pem("CERTIFICATE REQUEST", der, der_len));
    if (relay)
        json_object_set(rec, "relay", relay);
    else
        json_object_del(rec, "relay");
    if (record_put(env, serial, slot, rec, r) != 0)
        return NULL;
    audit(env, self_signed ? "provisioned_root" : "csr_created", serial, slot,
          relay ? jsonapi_str(relay, "link_url") : NULL);
    if (!self_signed)
        return json_pack("{s:s,s:s,s:o}", "slot", ykc_slot_name(slot), "state", "csr_pending",
                         "csr", json_pem("CERTIFICATE REQUEST", der, der_len));
    certinfo made;
    json_t *details = NULL;
    if (certinfo_parse(&made, der, der_len, err, sizeof err) == 0) {
        details = certinfo_json(&made);
        certinfo_free(&made);
    }
    return json_pack("{s:s,s:s,s:o,s:o*}", "slot", ykc_slot_name(slot), "state", "provisioned",
                     "certificate", json_pem("CERTIFICATE", der, der_len), "details", details);
}

static json_t *op_provision(const prov_env *env, uint32_t serial, int slot, json_t *in,
                            secrets *sec, yk_result *r)
{
    const char *tpl_pem = jsonapi_str(in, "template");
    const char *mode = jsonapi_str(in, "mode");
    bool self_signed = mode && strcmp(mode, "self-signed") == 0;
    if (mode && !self_signed && strcmp(mode, "csr") != 0) {
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "bad_mode", "\"mode\" must be self-signed or csr");
        return NULL;
    }
    certinfo ci;
    char err[256];
    if (certinfo_parse(&ci, (const uint8_t *)(tpl_pem ? tpl_pem : ""),
                       tpl_pem ? strlen(tpl_pem) : 0, err, sizeof err) != 0) {
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "bad_template", "HSM provisioning certificate: %s",
                 err);
        return NULL;
    }
    json_t *ans = NULL;
    link_provisioning p;
    int has = link_provisioning_from_cert(ci.der, ci.der_len, &p);
    if (has < 0) {
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "bad_template",
                 "HSM provisioning certificate: the relay's provisioning extension is malformed");
    } else if (!mode && has != 0) {
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "bad_mode", "\"mode\" must be self-signed or csr");
    } else if (has == 0) {
        /* The relay's template: confirm the relay, enrol with the offer, then write. */
        if (!mode)
            self_signed = p.ca_kind == LINK_CA_ROOT;
        ans = prov_relay(env, serial, slot, in, &ci, &p, self_signed, &sec->pin, r);
    } else {
        uint8_t *spki = NULL, *der = NULL;
        size_t spki_len = 0, der_len = 0;
        if (prov_make_ca(env, serial, slot, &ci, self_signed, &sec->pin, &spki, &spki_len, &der,
                         &der_len, r) == 0)
            ans = prov_store_ca(env, serial, slot, &ci, self_signed, &sec->pin, spki, spki_len, der,
                                der_len, NULL, r);
        free(spki);
        free(der);
    }
    if (has == 0)
        explicit_bzero(&p, sizeof p); /* the token */
    certinfo_free(&ci);
    return ans;
}

static json_t *op_certificate(const prov_env *env, uint32_t serial, int slot, json_t *in,
                              secrets *sec, yk_result *r)
{
    const char *pem = jsonapi_str(in, "certificate");
    const char *chain_pem = jsonapi_str(in, "chain");
    certinfo ci, *chain = NULL;
    size_t n = 0;
    char err[256];
    if (certinfo_parse(&ci, (const uint8_t *)(pem ? pem : ""), pem ? strlen(pem) : 0, err,
                       sizeof err) != 0) {
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "bad_certificate", "certificate: %s", err);
        return NULL;
    }
    json_t *ans = NULL;
    uint8_t *spki = NULL;
    size_t spki_len = 0;
    bool has_chain = chain_pem && strspn(chain_pem, " \t\r\n") < strlen(chain_pem);
    if (has_chain &&
        certinfo_parse_chain(chain_pem, strlen(chain_pem), &chain, &n, err, sizeof err) != 0) {
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "bad_chain", "%s", err);
        goto out;
    }
    if (!ci.is_ca) {
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "not_ca",
                 "this is not a CA certificate (basicConstraints cA is not set)");
        goto out;
    }
    if (slot_spki(env, serial, slot, &spki, &spki_len, r) != 0)
        goto out;
    if (spki_len != ci.spki_len || memcmp(spki, ci.spki, spki_len) != 0) {
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "key_mismatch",
                 "this certificate's public key is not the key in slot %s", ykc_slot_name(slot));
        goto out;
    }
    if (certinfo_verify_chain(&ci, chain, n, err, sizeof err) != 0) {
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "bad_chain", "%s", err);
        goto out;
    }
    card_step s = {.kind = STEP_WRITE_CERT,
                   .slot = slot,
                   .pin = &sec->pin,
                   .cert = ci.der,
                   .cert_len = ci.der_len};
    if (run_step(env, serial, &s) != 0) {
        *r = s.r;
        goto out;
    }
    json_t *rec = slot_record(env, serial, slot);
    json_object_set_new(rec, "state", json_string("provisioned"));
    json_object_set_new(rec, "spki", spki_b64(spki, spki_len));
    if (has_chain)
        json_object_set_new(rec, "chain", json_string(chain_pem));
    if (record_put(env, serial, slot, rec, r) != 0)
        goto out;
    audit(env, "certificate_imported", serial, slot, NULL);
    ans = json_pack("{s:s,s:s,s:o}", "slot", ykc_slot_name(slot), "state", "provisioned", "details",
                    certinfo_json(&ci));
out:
    for (size_t i = 0; i < n; i++)
        certinfo_free(&chain[i]);
    free(chain);
    certinfo_free(&ci);
    free(spki);
    return ans;
}

static json_t *op_view(const prov_env *env, uint32_t serial, int slot, yk_result *r)
{
    card_step s = {.kind = STEP_READ_CERT, .slot = slot};
    if (run_step(env, serial, &s) != 0) {
        *r = s.r;
        return NULL;
    }
    json_t *ans = json_object();
    json_object_set_new(ans, "slot", json_string(ykc_slot_name(slot)));
    json_t *rec = slot_record(env, serial, slot);
    const char *st = jsonapi_str(rec, "state");
    json_object_set_new(ans, "state", json_string(st ? st : (s.absent ? "empty" : "foreign")));
    const char *copy[] = {"csr", "chain", "template", "mode", "key_type", "origin", "relay"};
    for (size_t i = 0; i < sizeof copy / sizeof copy[0]; i++)
        if (json_object_get(rec, copy[i]))
            json_object_set(ans, copy[i], json_object_get(rec, copy[i]));
    json_decref(rec);
    json_t *desc = yk_manager_get(env->keys, serial);
    json_t *slots = desc ? json_object_get(desc, "slots") : NULL;
    size_t i;
    json_t *v;
    for (i = 0; i < json_array_size(slots) && (v = json_array_get(slots, i)); i++) {
        const char *name = jsonapi_str(v, "slot");
        if (name && strcmp(name, ykc_slot_name(slot)) == 0)
            json_object_set(ans, "key", json_object_get(v, "key"));
    }
    json_decref(desc);
    if (!s.absent) {
        certinfo ci;
        char err[160];
        json_object_set_new(ans, "certificate", json_pem("CERTIFICATE", s.out, s.out_len));
        if (certinfo_parse(&ci, s.out, s.out_len, err, sizeof err) == 0) {
            json_object_set_new(ans, "details", certinfo_json(&ci));
            certinfo_free(&ci);
        }
    }
    free(s.out);
    return ans;
}

static json_t *op_clear(const prov_env *env, uint32_t serial, int slot, json_t *in, secrets *sec,
                        yk_result *r)
{
    const char *confirm = jsonapi_str(in, "confirm");
    if (!confirm || strcmp(confirm, ykc_slot_name(slot)) != 0) {
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "confirm",
                 "to clear slot %s, confirm with its name (\"confirm\": \"%s\")",
                 ykc_slot_name(slot), ykc_slot_name(slot));
        return NULL;
    }
    card_step s = {.kind = STEP_CLEAR, .slot = slot, .pin = &sec->pin};
    if (run_step(env, serial, &s) != 0) {
        *r = s.r;
        return NULL;
    }
    /* The slot keeps a throw-away key nobody can use: record it as empty so the wizard offers
     * it again. */
    if (record_put(env, serial, slot, json_pack("{s:s}", "state", "empty"), r) != 0)
        return NULL;
    audit(env, "slot_cleared", serial, slot, NULL);
    return json_pack("{s:s,s:s}", "slot", ykc_slot_name(slot), "state", "empty");
}

static json_t *op_attest(const prov_env *env, uint32_t serial, int slot, yk_result *r)
{
    card_step s = {.kind = STEP_ATTEST, .slot = slot};
    if (run_step(env, serial, &s) != 0) {
        *r = s.r;
        return NULL;
    }
    json_t *ans = json_pack("{s:s,s:o}", "slot", ykc_slot_name(slot), "certificate",
                            json_pem("CERTIFICATE", s.out, s.out_len));
    free(s.out);
    return ans;
}

json_t *prov_attestation(const prov_env *env, uint32_t serial, int slot)
{
    json_t *rec = slot_record(env, serial, slot);
    const char *origin = jsonapi_str(rec, "origin");
    bool generated = origin && strcmp(origin, "generated") == 0;
    json_decref(rec);
    if (!generated)
        return NULL;
    card_step att = {.kind = STEP_ATTEST, .slot = slot};
    card_step f9 = {.kind = STEP_READ_CERT, .slot = YKPIV_KEY_ATTESTATION};
    json_t *out = NULL;
    if (run_step(env, serial, &att) == 0 && run_step(env, serial, &f9) == 0 && !f9.absent)
        out = json_pack("[o,o]", json_pem("CERTIFICATE", att.out, att.out_len),
                        json_pem("CERTIFICATE", f9.out, f9.out_len));
    free(att.out);
    free(f9.out);
    return out;
}

void prov_audit(const prov_env *env, const char *event, uint32_t serial, int slot,
                const char *detail)
{
    audit(env, event, serial, slot, detail);
}

json_t *provision_run(const prov_env *env, prov_op op, uint32_t serial, int slot, json_t *in,
                      yk_result *r)
{
    memset(r, 0, sizeof *r);
    r->retries = -1;
    secrets sec;
    memset(&sec, 0, sizeof sec);
    json_t *ans = NULL;
    json_t *desc = yk_manager_get(env->keys, serial);
    if (!desc) {
        ykc_fail(r, PKI_SIGN_ERR_CARD_ABSENT, 404, "no_key",
                 "no YubiKey with serial %u is plugged in", serial);
        goto out;
    }
    bool set_up = json_is_true(json_object_get(desc, "set_up"));
    json_decref(desc);
    if (take_secrets(in, &sec, r) != 0)
        goto out;
    if (op == PROV_SETUP && set_up) {
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 409, "already_set_up", "YubiKey %u is set up already",
                 serial);
        goto out;
    }
    if (op != PROV_SETUP && op != PROV_VIEW && op != PROV_ATTEST && op != PROV_LOCK && !set_up) {
        /* A factory-fresh key is never used: its PIN, PUK and management key are public. */
        ykc_fail(r, PKI_SIGN_ERR_POLICY, 409, "not_set_up",
                 "YubiKey %u still has its factory PIN, PUK or management key: set it up first",
                 serial);
        goto out;
    }
    switch (op) {
    case PROV_SETUP:
        ans = op_setup(env, serial, &sec, r);
        break;
    case PROV_VERIFY_PIN:
        ans = op_verify(env, serial, &sec, r);
        break;
    case PROV_GENERATE:
        ans = op_generate(env, serial, slot, in, &sec, r);
        break;
    case PROV_IMPORT_KEY:
        ans = op_import_key(env, serial, slot, in, &sec, r);
        break;
    case PROV_PROVISION:
        ans = op_provision(env, serial, slot, in, &sec, r);
        break;
    case PROV_CERTIFICATE:
        ans = op_certificate(env, serial, slot, in, &sec, r);
        break;
    case PROV_VIEW:
        ans = op_view(env, serial, slot, r);
        break;
    case PROV_CLEAR:
        ans = op_clear(env, serial, slot, in, &sec, r);
        break;
    case PROV_ATTEST:
        ans = op_attest(env, serial, slot, r);
        break;
    case PROV_UNLOCK:
        ans = op_unlock(env, serial, &sec, r);
        break;
    case PROV_LOCK:
        ans = op_lock(env, serial);
        break;
    }
out:
    secrets_clear(&sec);
    return ans;
}
