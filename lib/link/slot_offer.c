/* A slot offer in an ENROL body (hsm-contract §3), read from the appliance's JSON: the relay
 * checks everything it can before it records anything. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/keys.h"
#include "link/link.h"
#include "pkix/pkix.h"

void link_slot_offer_free(link_slot_offer *o)
{
    free(o->spki);
    free(o->cert);
    free(o->csr);
    memset(o, 0, sizeof *o);
}

/* "<serial>/<slot>": a decimal YubiKey serial and a PIV slot in hex (lower case kept). */
static int slot_ok(const char *s, char *out, size_t cap)
{
    const char *slash = strchr(s, '/');
    size_t digits = slash ? (size_t)(slash - s) : 0;
    if (!slash || digits == 0 || digits > 10 || strlen(slash + 1) != 2 || strlen(s) >= cap)
        return 0;
    for (size_t i = 0; i < digits; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    for (size_t i = 0; i < strlen(s); i++)
        out[i] = (char)(s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 'a' : s[i]);
    out[strlen(s)] = 0;
    const char *hex = out + digits + 1;
    return strspn(hex, "0123456789abcdef") == 2;
}

static const char *text_of(const json_t *body, const char *key)
{
    return json_string_value(json_object_get(body, key));
}

static int pem_block(const char *pem, const char *label, uint8_t **der, size_t *len)
{
    return pki_pem_decode(pem, strlen(pem), label, der, len, NULL, 0, NULL) == 0 ? 0 : -1;
}

static int same_key(pki_span a, const link_slot_offer *o)
{
    return a.len == o->spki_len && memcmp(a.p, o->spki, a.len) == 0;
}

/* The attestation pair: the slot's attestation certificate must carry the offered key and be
 * signed by the f9 certificate's key. */
static int check_attestation(const json_t *att, link_slot_offer *o, char *why, size_t whylen)
{
    const char *a = json_string_value(json_array_get(att, 0));
    const char *f9 = json_string_value(json_array_get(att, 1));
    if (!json_is_array(att) || json_array_size(att) != 2 || !a || !f9) {
        snprintf(why, whylen, "attestation: two PEM certificates (slot attestation, f9)");
        return -1;
    }
    char err[160];
    pki_cert *ac = pki_cert_parse((const uint8_t *)a, strlen(a), err, sizeof err);
    pki_cert *fc = ac ? pki_cert_parse((const uint8_t *)f9, strlen(f9), err, sizeof err) : NULL;
    int rc = -1;
    if (!ac || !fc)
        snprintf(why, whylen, "attestation: %s", err);
    else if (!same_key(ac->spki, o))
        snprintf(why, whylen, "attestation: the attested key is not public_key");
    else if (pki_cert_verify(ac, fc->spki.p, fc->spki.len) != 0)
        snprintf(why, whylen, "attestation: the slot attestation is not signed by the f9 key");
    else
        rc = 0;
    pki_cert_free(ac);
    pki_cert_free(fc);
    return rc;
}

static int parse_json(const json_t *body, link_slot_offer *o, char *why, size_t whylen)
{
    const char *ca_id = text_of(body, "ca_id"), *slot = text_of(body, "slot");
    const char *pub = text_of(body, "public_key"), *cert = text_of(body, "certificate");
    const char *csr = text_of(body, "csr");
    json_t *att = json_object_get(body, "attestation");
    pki_key_type kt;
    unsigned bits;
    char err[160];
    if (!ca_id || !*ca_id || strlen(ca_id) >= sizeof o->ca_id ||
        strspn(ca_id, "0123456789") != strlen(ca_id)) {
        snprintf(why, whylen, "ca_id: the CA id from the provisioning certificate");
        goto bad;
    }
    snprintf(o->ca_id, sizeof o->ca_id, "%s", ca_id);
    if (!slot || !slot_ok(slot, o->slot, sizeof o->slot)) {
        snprintf(why, whylen, "slot: \"<serial>/<slot>\", e.g. \"12345678/9c\"");
        goto bad;
    }
    if (!pub || pem_block(pub, "PUBLIC KEY", &o->spki, &o->spki_len) != 0 ||
        pki_spki_info(o->spki, o->spki_len, &kt, &bits, err, sizeof err) != 0) {
        snprintf(why, whylen, "public_key: a PEM PUBLIC KEY the relay can use");
        goto bad;
    }
    if (json_object_get(body, "certificate") &&
        !json_is_null(json_object_get(body, "certificate"))) {
        pki_cert *c =
            cert ? pki_cert_parse((const uint8_t *)cert, strlen(cert), err, sizeof err) : NULL;
        int same = c && same_key(c->spki, o);
        if (same && (o->cert = malloc(c->der.len))) {
            memcpy(o->cert, c->der.p, c->der.len);
            o->cert_len = c->der.len;
        }
        pki_cert_free(c);
        if (!same || !o->cert) {
            snprintf(why, whylen, "certificate: %s",
                     !c ? "not a PEM certificate" : "its key is not public_key");
            goto bad;
        }
    }
    if (json_object_get(body, "csr") && !json_is_null(json_object_get(body, "csr"))) {
        pki_csr *c = csr ? pki_csr_parse((const uint8_t *)csr, strlen(csr), err, sizeof err) : NULL;
        int same = c && same_key(c->spki, o);
        if (same && (o->csr = malloc(c->der.len))) {
            memcpy(o->csr, c->der.p, c->der.len);
            o->csr_len = c->der.len;
        }
        pki_csr_free(c);
        if (!same || !o->csr) {
            snprintf(why, whylen, "csr: %s", !c ? err : "its key is not public_key");
            goto bad;
        }
    }
    if (att && !json_is_null(att)) {
        if (check_attestation(att, o, why, whylen) != 0)
            goto bad;
        o->attested = 1;
    }
    return 0;
bad:
    link_slot_offer_free(o);
    return -1;
}

int link_slot_offer_parse(const uint8_t *json, size_t len, link_slot_offer *o, char *why,
                          size_t whylen)
{
    memset(o, 0, sizeof *o);
    json_t *body =
        json && len ? json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (!json_is_object(body)) {
        json_decref(body);
        snprintf(why, whylen, "the enrolment body is not a JSON object");
        return -1;
    }
    int rc = parse_json(body, o, why, whylen);
    json_decref(body);
    return rc;
}
