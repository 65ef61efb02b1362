/* A daemon's own HTTPS certificate when the configuration names none: a self-signed ECDSA P-256
 * certificate made on first start and reused afterwards, so a browser's exception or a client's
 * pin stays valid across restarts. A configured pair is used as is and never comes here.
 * Made with wolfCrypt's certificate generator: a local TLS certificate, not a CA artifact. */
#ifndef PKI_TLSCERT_H
#define PKI_TLSCERT_H

#include <stddef.h>

typedef struct {
    const char *common_name;
    const char *organization;
    int days_valid;
} pki_tlscert_subject;

/* Fills cert_path/key_path with dir/<name>.crt and dir/<name>.key, making both (key 0600,
 * written atomically; dir created 0700 when missing) unless they already exist.
 * Returns 0, or -1 with a logged reason. */
int pki_tlscert_ensure(const char *dir, const char *name, const pki_tlscert_subject *subject,
                       char *cert_path, size_t cert_len, char *key_path, size_t key_len);

#endif
