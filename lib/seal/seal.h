/* Sealing secrets at rest (ARCHITECTURE decision 7): AES-256-GCM under a master key, with
 * associated data that binds a sealed blob to what it belongs to (e.g. "ca:42"), so a blob
 * copied onto another record does not open.
 *
 * The master key comes from a systemd credential ($CREDENTIALS_DIRECTORY/<name>,
 * LoadCredentialEncrypted= in the unit) or from a file that must be 0600 (no group or world
 * access) and owned by us; the file is created with a fresh random key on first start. The key
 * lives in locked memory and is wiped when freed. */
#ifndef PKI_SEAL_H
#define PKI_SEAL_H

#include <stddef.h>
#include <stdint.h>

#define SEAL_KEY_LEN 32
/* Sealed blob: version byte, 12-byte nonce, ciphertext, 16-byte tag. */
#define SEAL_OVERHEAD (1 + 12 + 16)

typedef struct seal_key seal_key;

/* Loads the master key. When $CREDENTIALS_DIRECTORY/<credential> exists it is used (and must
 * hold exactly 32 bytes, or 64 hex digits with an optional newline). Otherwise file_path is
 * read, or created (O_EXCL, 0600) with 32 random bytes when missing. A file with any group or
 * world permission, or owned by someone else, is refused. NULL with a message in err. */
seal_key *seal_key_load(const char *credential, const char *file_path, char *err, size_t errlen);
/* From raw bytes (tests, key rotation tools). */
seal_key *seal_key_from_bytes(const uint8_t key[SEAL_KEY_LEN]);
void seal_key_free(seal_key *k);

/* Encrypts pt with a random nonce; *out (malloc'd, pt_len + SEAL_OVERHEAD bytes) is owned by
 * the caller. 0, or -1. */
int seal_encrypt(const seal_key *k, const uint8_t *pt, size_t pt_len, const uint8_t *aad,
                 size_t aad_len, uint8_t **out, size_t *out_len);
/* Decrypts and authenticates. -1 when the blob was altered, sealed under another key or with
 * other associated data. *out is malloc'd (callers wipe it after use with seal_wipe). */
int seal_decrypt(const seal_key *k, const uint8_t *blob, size_t blob_len, const uint8_t *aad,
                 size_t aad_len, uint8_t **out, size_t *out_len);

/* Zeroes memory in a way the compiler cannot drop, then frees it (NULL is fine). */
void seal_wipe_free(void *p, size_t len);

#endif
