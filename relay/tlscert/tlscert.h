/* The relay's HTTPS certificate when none is configured: a self-signed ECDSA P-256 certificate
 * made on first start in state_dir/tls/ (key 0600) and reused afterwards, so a browser's
 * exception or a client's pin stays valid across restarts. A configured pair is used as is. */
#ifndef RELAY_TLSCERT_H
#define RELAY_TLSCERT_H

#include <stddef.h>

/* Fills cert_path/key_path with state_dir/tls/relay.crt and relay.key, creating them when
 * missing. 0, or -1 with a logged reason. */
int tlscert_ensure(const char *state_dir, const char *common_name, char *cert_path, size_t cert_len,
                   char *key_path, size_t key_len);

#endif
