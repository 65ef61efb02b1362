/* The local UI's HTTPS certificate. When the configuration names none, the agent makes a
 * self-signed ECDSA P-256 certificate on first start (state_dir/ui-tls.crt and ui-tls.key, the
 * key 0600) and reuses it afterwards, so the browser's pinned exception stays valid. */
#ifndef AGENT_TLSCERT_H
#define AGENT_TLSCERT_H

#include <stddef.h>

/* Fills cert_path/key_path with the files to use, creating them when missing.
 * Returns 0, or -1 with a logged reason. */
int tlscert_ensure(const char *state_dir, char *cert_path, size_t cert_len, char *key_path,
                   size_t key_len);

#endif
