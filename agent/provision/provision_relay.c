/* The wizard's provisioning step for an HSM provisioning certificate from the relay (its
 * extension names the relay's link URL, the CA, a one-time token and the relay's fingerprint;
 * hsm-contract §4, docs/agent.md). Two calls: the first shows the operator the relay and its
 * fingerprint and changes nothing; the second, with the fingerprint the operator confirmed,
 * checks the relay, makes the CA certificate or CSR on the card, enrols with the offer, and
 * writes the certificate to the slot only once the relay has accepted it. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonapi/jsonapi.h"
#include "keys/keys.h"
#include "link/link_client.h"
#include "provision/provision_impl.h"
#include "util/timefmt.h"

static void hex(const uint8_t *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

/* The operator's fingerprint as lower-case hex without separators (colons and blanks are
 * allowed, as openssl and browsers print them). -1 when it is not 64 hex digits. */
static int normalise_fp(const char *in, char out[65])
{
    size_t n = 0;
    for (const char *c = in; *c; c++) {
        if (*c == ':' || *c == ' ' || *c == '\t')
            continue;
        if (!isxdigit((unsigned char)*c) || n >= 64)
            return -1;
        out[n++] = (char)tolower((unsigned char)*c);
    }
    out[n] = '\0';
    return n == 64 ? 0 : -1;
}

static json_t *pem(const char *label, const uint8_t *der, size_t len)
{
    char *text = NULL;
    size_t tl = 0;
    if (pki_pem_encode(label, der, len, &text, &tl) != 0)
        return json_null();
    json_t *j = json_string(text);
    free(text);
    return j;
}

static json_t *relay_json(const link_provisioning *p, const char *fp)
{
    char expires[32] = "";
    pki_time_to_rfc3339(p->token_expires, expires, sizeof expires);
    return json_pack("{s:s,s:s,s:s,s:s,s:s}", "link_url", p->link_url, "fingerprint", fp, "ca_id",
                     p->ca_id, "ca_kind", p->ca_kind == LINK_CA_ROOT ? "root" : "intermediate",
                     "token_expires", expires);
}

/* The relay behind the URL is the one the operator confirmed, and it signed the template. */
static uint8_t *check_relay(const prov_env *env, const certinfo *ci, const link_provisioning *p,
                            const char *fp, size_t *len, yk_result *r)
{
    char err[512], got[65];
    uint8_t *der = NULL;
    if (agent_link_check_relay(env->link, p->link_url, fp, err, sizeof err) != 0) {
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 409, "other_relay", "%s", err);
        return NULL;
    }
    if (agent_link_relay_certificate(env->link, p->link_url, &der, len, err, sizeof err) != 0) {
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 502, "relay_unreachable", "%s", err);
        return NULL;
    }
    certinfo relay;
    if (link_cert_fingerprint(der, *len, got) != 0 || strcmp(got, fp) != 0) {
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "relay_fingerprint",
                 "the relay at %.120s shows link certificate %.16s..., not the confirmed %.16s...",
                 p->link_url, got, fp);
    } else if (certinfo_parse(&relay, der, *len, err, sizeof err) != 0) {
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 502, "relay_unreachable",
                 "the relay's link certificate: %.200s", err);
    } else {
        bool named = ci->issuer_der_len == relay.subject_der_len &&
                     memcmp(ci->issuer_der, relay.subject_der, relay.subject_der_len) == 0;
        int bad = !named ||
                  certinfo_verify_signature(ci, relay.spki, relay.spki_len, err, sizeof err) != 0;
        certinfo_free(&relay);
        if (!bad)
            return der;
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "bad_signature",
                 "this provisioning certificate was not signed by the relay at %.120s (%s)",
                 p->link_url,
                 named ? "its signature does not verify with the relay's link key"
                       : "its issuer is not the relay's link certificate");
    }
    free(der);
    return NULL;
}

/* The ENROL body (hsm-contract §3). */
static json_t *offer_body(const prov_env *env, uint32_t serial, int slot,
                          const link_provisioning *p, bool self_signed, const uint8_t *spki,
                          size_t spki_len, const uint8_t *der, size_t der_len)
{
    char slot_id[32];
    snprintf(slot_id, sizeof slot_id, "%u/%s", serial, ykc_slot_name(slot));
    json_t *b = json_pack("{s:s,s:s,s:s,s:o}", "token", p->token, "ca_id", p->ca_id, "slot",
                          slot_id, "public_key", pem("PUBLIC KEY", spki, spki_len));
    if (!b)
        return NULL;
    if (self_signed)
        json_object_set_new(b, "certificate", pem("CERTIFICATE", der, der_len));
    else
        json_object_set_new(b, "csr", pem("CERTIFICATE REQUEST", der, der_len));
    json_t *att = prov_attestation(env, serial, slot);
    if (att)
        json_object_set_new(b, "attestation", att);
    return b;
}

static void wipe_token(json_t *body)
{
    json_t *t = json_object_get(body, "token");
    if (json_is_string(t))
        explicit_bzero((char *)json_string_value(t), json_string_length(t));
}

json_t *prov_relay(const prov_env *env, uint32_t serial, int slot, json_t *in, const certinfo *ci,
                   const link_provisioning *p, bool self_signed, const secret *pin, yk_result *r)
{
    char fp[65], confirmed[65];
    hex(p->relay_fingerprint, sizeof p->relay_fingerprint, fp);
    const char *confirm = jsonapi_str(in, "confirm_fingerprint");
    if (!confirm) {
        /* Step one: the operator compares this with what the relay's console shows. */
        json_t *details = certinfo_json(ci);
        json_t *subject = json_object_get(details, "subject");
        json_t *ans = json_pack("{s:s,s:s,s:o,s:s,s:O*}", "slot", ykc_slot_name(slot), "state",
                                "confirm_relay", "relay", relay_json(p, fp), "mode",
                                self_signed ? "self-signed" : "csr", "subject", subject);
        json_decref(details);
        return ans;
    }
    if (normalise_fp(confirm, confirmed) != 0 || strcmp(confirmed, fp) != 0) {
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "fingerprint_mismatch",
                 "the fingerprint you confirmed is not the relay's fingerprint in this "
                 "provisioning certificate (%.16s...): nothing was done",
                 fp);
        return NULL;
    }
    if (!env->link) {
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 503, "no_link", "the link to the relay is not running");
        return NULL;
    }
    size_t relay_len = 0, spki_len = 0, der_len = 0;
    uint8_t *relay = check_relay(env, ci, p, fp, &relay_len, r);
    uint8_t *spki = NULL, *der = NULL;
    json_t *ans = NULL, *body = NULL, *answer = NULL, *relay_rec = NULL;
    if (!relay)
        return NULL;
    if (prov_make_ca(env, serial, slot, ci, self_signed, pin, &spki, &spki_len, &der, &der_len,
                     r) != 0)
        goto out;
    body = offer_body(env, serial, slot, p, self_signed, spki, spki_len, der, der_len);
    if (!body) {
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 500, "internal", "out of memory");
        goto out;
    }
    char code[48], msg[512];
    int http = agent_link_enrol_offer(env->link, p->link_url, relay, relay_len, body, &answer, code,
                                      sizeof code, msg, sizeof msg);
    if (http != 0) {
        ykc_fail(r, PKI_SIGN_ERR_INTERNAL, http, code, "%s", msg);
        prov_audit(env, "relay_offer_failed", serial, slot, code);
        goto out;
    }
    const char *device = jsonapi_str(answer, "device");
    relay_rec = json_pack("{s:s,s:s,s:s,s:s}", "link_url", p->link_url, "fingerprint", fp, "ca_id",
                          p->ca_id, "device", device ? device : "");
    prov_audit(env, "relay_offer_accepted", serial, slot, p->ca_id);
    ans = prov_store_ca(env, serial, slot, ci, self_signed, pin, spki, spki_len, der, der_len,
                        relay_rec, r);
    if (ans) {
        json_object_set(ans, "relay", relay_rec);
        json_object_set(ans, "enrolment", answer);
    } else if (self_signed) {
        /* The relay holds the offer; the operator can still import this self-signed
         * certificate into the slot with the certificate step. */
        char again[256];
        snprintf(again, sizeof again, "the relay accepted the offer, but %.160s", r->message);
        snprintf(r->message, sizeof r->message, "%s", again);
    }
out:
    if (body)
        wipe_token(body);
    json_decref(body);
    json_decref(answer);
    json_decref(relay_rec);
    free(relay);
    free(spki);
    free(der);
    return ans;
}
