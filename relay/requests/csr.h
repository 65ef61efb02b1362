/* Internal to relay/requests: what the workflows need from a CSR, without the parser's
 * header (lib/pkix and lib/x509 share names; each stays in its own file). */
#ifndef RELAY_REQUESTS_CSR_H
#define RELAY_REQUESTS_CSR_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *der; /* the CSR */
    size_t der_len;
    uint8_t *spki;
    size_t spki_len;
    char subject[1024]; /* RFC 4514 */
    json_t *sans;       /* ["DNS:…", "IP:…", …] */
    char key_type[16];
} csr_info;

/* Parses PEM or DER text, checks its self-signature and that its key is one we issue for.
 * -1 with a message for a 400 and a code ("bad_csr", "bad_key_type"). */
int csr_read(const uint8_t *data, size_t len, csr_info *out, const char **code, char *err,
             size_t errlen);
void csr_info_free(csr_info *c);
/* What a request stored at submission (csr_subject, csr_sans, key_type, spki in base64): the
 * CSR was checked then, so approval needs no second parse and signature check. -1 when the
 * parameters lack it (older requests: read the CSR again). */
int csr_from_params(json_t *params, csr_info *out);

#endif
