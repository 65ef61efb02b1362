/* The agent's certificate reader takes whatever an operator pastes (the HSM provisioning
 * certificate, a signed CA certificate, a chain). Beyond not crashing: a certificate that parses
 * must describe itself, re-encode to the same DER through PEM, and either become a template or
 * be refused with a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "certinfo/certinfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    certinfo ci;
    char err[256];
    if (certinfo_parse(&ci, data, size, err, sizeof err) == 0) {
        json_t *j = certinfo_json(&ci);
        json_decref(j);
        char *pem = certinfo_pem(&ci);
        certinfo again;
        if (!pem || certinfo_parse(&again, (const uint8_t *)pem, strlen(pem), err, sizeof err) ||
            again.der_len != ci.der_len || memcmp(again.der, ci.der, ci.der_len) != 0)
            abort();
        certinfo_free(&again);
        free(pem);
        pki_cert_template t;
        certinfo_tpl *tpl = calloc(1, sizeof *tpl);
        if (tpl && certinfo_to_template(&ci, ci.spki, ci.spki_len, &t, tpl, err, sizeof err) == 0)
            certinfo_tpl_free(tpl);
        else if (tpl && err[0] == '\0')
            abort(); /* a refusal always says why */
        free(tpl);
        certinfo_free(&ci);
    } else if (err[0] == '\0') {
        abort();
    }
    certinfo *chain = NULL;
    size_t n = 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (certinfo_parse_chain(text, size, &chain, &n, err, sizeof err) == 0) {
        for (size_t i = 0; i < n; i++)
            certinfo_free(&chain[i]);
        free(chain);
    }
    free(text);
    return 0;
}
