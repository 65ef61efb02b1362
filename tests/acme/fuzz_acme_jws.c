/* The path every ACME request takes before authentication: JWS JSON parsing, the protected
 * header, JWK -> SPKI, thumbprint, signature and HMAC checks, and the identifier checks of a
 * payload. None of it may crash, leak or accept a forged signature. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acme/acme_impl.h"
#include "acme/jws.h"

acme_config g_acme;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    jws_msg m;
    char err[256];
    if (jws_parse(data, size, &m, err, sizeof err) != JWS_OK)
        return 0;
    if (m.jwk) {
        uint8_t *spki = NULL;
        size_t len = 0;
        pki_key_type t;
        char tp[JWK_THUMBPRINT_LEN];
        jwk_thumbprint(m.jwk, tp, err, sizeof err);
        if (jwk_to_spki(m.jwk, &spki, &len, &t, err, sizeof err) == JWS_OK) {
            /* Random input never carries a valid signature by that key. */
            if (jws_verify(&m, spki, len, t, err, sizeof err) == JWS_OK && m.sig_len > 0)
                abort();
            free(spki);
        }
    }
    static const uint8_t key[32] = {1, 2, 3};
    jws_verify_hmac(&m, key, sizeof key, err, sizeof err);
    json_error_t jerr;
    json_t *payload = json_loadb((const char *)m.payload, m.payload_len, 0, &jerr);
    /* Payloads that carry a JWS themselves: keyChange, and newAccount's binding. */
    json_t *inners[2] = {payload, json_object_get(payload, "externalAccountBinding")};
    for (int k = 0; k < 2; k++) {
        jws_msg in;
        if (inners[k] && jws_parse_json(inners[k], &in, err, sizeof err) == JWS_OK) {
            jws_verify_hmac(&in, key, sizeof key, err, sizeof err);
            jws_msg_free(&in);
        }
    }
    json_t *ids = json_object_get(payload, "identifiers");
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        const char *s = json_string_value(json_object_get(v, "value"));
        char name[256];
        if (s && strlen(s) < sizeof name) {
            strcpy(name, s);
            if (acme_dns_name_ok(name, true)) {
                acme_policy p = {0};
                p.allowed = "[\"*.example.com\"]";
                p.preapproved = "[\"a.example.com\"]";
                acme_policy_allows(&p, name);
                acme_policy_preapproved(&p, name);
            }
        }
    }
    if (payload)
        json_decref(payload);
    jws_msg_free(&m);
    return 0;
}
