/* libFuzzer target for the outside input lib/x509 reads: name text (subjects from templates,
 * the REST API and the command line), DER names, subjectAltName values and issuer certificates. The
 * first byte picks the parser. Whatever parses must also format and encode without failing. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "der/der_reader.h"
#include "x509/x509.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char err[256];
    if (data[0] & 1) {
        pki_issuer is;
        if (pki_issuer_from_cert(&is, data + 1, size - 1, err, sizeof err) == 0)
            pki_issuer_free(&is);
        return 0;
    }
    if (data[0] & 4) { /* subjectAltName values: checked names always encode to one element */
        char *v = malloc(size);
        if (!v)
            return 0;
        memcpy(v, data + 1, size - 1);
        v[size - 1] = 0;
        pki_general_name gn = {(pki_gn_type)(1 + (data[0] >> 3) % 5), v};
        pki_exts e;
        pki_exts_init(&e);
        if (pki_exts_add_san(&e, &gn, 1, 0) == 0) {
            pki_der_item it;
            if (e.count != 1 || pki_der_single(e.v[0].value, e.v[0].len, &it))
                abort();
        } else if (!pki_exts_error(&e)) {
            abort(); /* a refusal always says why */
        }
        pki_exts_free(&e);
        free(v);
        return 0;
    }
    if (data[0] & 2) { /* a DER Name: what reads must encode again */
        pki_name n;
        uint8_t *der;
        size_t len;
        if (pki_name_from_der(&n, data + 1, size - 1, err, sizeof err) == 0) {
            if (pki_name_der(&n, &der, &len) == 0)
                free(der);
        }
        return 0;
    }
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    pki_name n;
    if (pki_name_parse(&n, text, err, sizeof err) == 0) {
        char buf[8192];
        if (pki_name_format(&n, PKI_NAME_OPENSSL, buf, sizeof buf) ||
            pki_name_format(&n, PKI_NAME_RFC4514, buf, sizeof buf))
            abort(); /* 24 attributes of 256 octets, escaped, always fit */
        uint8_t *der;
        size_t len;
        if (pki_name_der(&n, &der, &len))
            abort(); /* a parsed name always encodes */
        free(der);
        /* Round trip through the RFC 4514 form gives the same name. */
        pki_name again;
        if (pki_name_format(&n, PKI_NAME_RFC4514, buf, sizeof buf) == 0 && n.count > 0 &&
            (pki_name_parse(&again, buf, err, sizeof err) || again.count != n.count))
            abort();
    }
    free(text);
    return 0;
}
