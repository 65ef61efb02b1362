/* CSR reading on lib/pkix. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkix/pkix.h"
#include "requests/csr.h"
#include "util/encoding.h"

static const char *gn_prefix(pkix_gn_type t)
{
    switch (t) {
    case PKIX_GN_DNS:
        return "DNS:";
    case PKIX_GN_IP:
        return "IP:";
    case PKIX_GN_EMAIL:
        return "email:";
    case PKIX_GN_URI:
        return "URI:";
    case PKIX_GN_UPN:
        return "UPN:";
    default:
        return NULL;
    }
}

void csr_info_free(csr_info *c)
{
    free(c->der);
    free(c->spki);
    json_decref(c->sans);
    memset(c, 0, sizeof *c);
}

int csr_read(const uint8_t *data, size_t len, csr_info *out, const char **code, char *err,
             size_t errlen)
{
    memset(out, 0, sizeof *out);
    *code = "bad_csr";
    char why[200];
    pki_csr *csr = pki_csr_parse(data, len, why, sizeof why);
    if (!csr) {
        snprintf(err, errlen, "the CSR is not valid: %s", why);
        return -1;
    }
    int rc = -1;
    if (!csr->key_type) {
        *code = "bad_key_type";
        snprintf(err, errlen,
                 "the CSR's key type is not accepted (RSA 2048-4096, ECDSA P-256, "
                 "P-384, P-521, Ed25519)");
        goto out;
    }
    out->sans = json_array();
    for (size_t i = 0; i < csr->ext.n_san; i++) {
        const char *p = gn_prefix(csr->ext.san[i].type);
        if (!p) {
            snprintf(err, errlen, "the CSR asks for a kind of alternative name we do not issue");
            goto out;
        }
        char buf[600];
        snprintf(buf, sizeof buf, "%s%s", p, csr->ext.san[i].text);
        json_array_append_new(out->sans, json_string(buf));
    }
    out->der = malloc(csr->der.len);
    out->spki = malloc(csr->spki.len);
    if (!out->der || !out->spki) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    memcpy(out->der, csr->der.p, csr->der.len);
    out->der_len = csr->der.len;
    memcpy(out->spki, csr->spki.p, csr->spki.len);
    out->spki_len = csr->spki.len;
    snprintf(out->subject, sizeof out->subject, "%s", csr->subject ? csr->subject : "");
    snprintf(out->key_type, sizeof out->key_type, "%s", pki_key_type_name(csr->key_type));
    rc = 0;
out:
    if (rc != 0)
        csr_info_free(out);
    pki_csr_free(csr);
    return rc;
}

int csr_from_params(json_t *params, csr_info *out)
{
    memset(out, 0, sizeof *out);
    const char *spki = json_string_value(json_object_get(params, "spki"));
    const char *subject = json_string_value(json_object_get(params, "csr_subject"));
    json_t *sans = json_object_get(params, "csr_sans");
    const char *kt = json_string_value(json_object_get(params, "key_type"));
    if (!spki || !subject || !json_is_array(sans) ||
        pki_base64_decode(spki, strlen(spki), &out->spki, &out->spki_len) != 0)
        return -1;
    snprintf(out->subject, sizeof out->subject, "%s", subject);
    snprintf(out->key_type, sizeof out->key_type, "%s", kt ? kt : "");
    out->sans = json_incref(sans);
    return 0;
}
