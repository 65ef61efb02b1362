/* PEM armor (RFC 7468) for any label. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/keys.h"
#include "util/encoding.h"

int pki_pem_encode(const char *label, const uint8_t *der, size_t len, char **pem, size_t *pem_len)
{
    if (!label || !pem || (!der && len))
        return -1;
    *pem = NULL;
    char *b64 = pki_base64_encode(der, len);
    if (!b64)
        return -1;
    size_t blen = strlen(b64), llen = strlen(label);
    size_t cap = blen + blen / 64 + 2 + 2 * (llen + 32);
    char *out = malloc(cap);
    if (!out) {
        pki_secret_free(b64, blen);
        return -1;
    }
    size_t o = (size_t)snprintf(out, cap, "-----BEGIN %s-----\n", label);
    for (size_t i = 0; i < blen; i += 64) {
        size_t n = blen - i < 64 ? blen - i : 64;
        memcpy(out + o, b64 + i, n);
        o += n;
        out[o++] = '\n';
    }
    o += (size_t)snprintf(out + o, cap - o, "-----END %s-----\n", label);
    pki_secret_free(b64, blen); /* the body may be a private key */
    *pem = out;
    if (pem_len)
        *pem_len = o;
    return 0;
}

static const char *find(const char *hay, size_t hlen, const char *needle)
{
    return memmem(hay, hlen, needle, strlen(needle));
}

int pki_pem_decode(const char *text, size_t len, const char *label, uint8_t **der, size_t *der_len,
                   char *label_out, size_t label_cap, size_t *end)
{
    if (!text || !der || !der_len)
        return -1;
    *der = NULL;
    size_t pos = 0;
    for (;;) {
        const char *b = find(text + pos, len - pos, "-----BEGIN ");
        if (!b)
            return 1;
        const char *lab = b + 11;
        const char *lab_end = find(lab, (size_t)(text + len - lab), "-----");
        if (!lab_end)
            return -1;
        size_t lab_len = (size_t)(lab_end - lab);
        if (lab_len > 64 || memchr(lab, '\n', lab_len))
            return -1;
        const char *body = lab_end + 5;
        if (label && (strlen(label) != lab_len || memcmp(label, lab, lab_len) != 0)) {
            pos = (size_t)(body - text);
            continue;
        }
        char endline[96];
        snprintf(endline, sizeof endline, "-----END %.*s-----", (int)lab_len, lab);
        const char *e = find(body, (size_t)(text + len - body), endline);
        if (!e)
            return -1;
        if (memchr(body, ':', (size_t)(e - body)))
            return -1; /* RFC 1421 headers: legacy encrypted PEM */
        if (pki_base64_decode(body, (size_t)(e - body), der, der_len) != 0 || *der_len == 0) {
            if (*der)
                pki_secret_free(*der, *der_len);
            *der = NULL;
            return -1;
        }
        if (label_out && label_cap) {
            size_t n = lab_len < label_cap - 1 ? lab_len : label_cap - 1;
            memcpy(label_out, lab, n);
            label_out[n] = '\0';
        }
        if (end)
            *end = (size_t)(e - text) + strlen(endline);
        return 0;
    }
}
