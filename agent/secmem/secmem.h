/* Secrets in locked memory: PINs, PUKs, management keys and passwords live in buffers that are
 * mlock'd (never swapped) and wiped before they are freed. */
#ifndef AGENT_SECMEM_H
#define AGENT_SECMEM_H

#include <stddef.h>

/* The longest secret kept (a pasted PEM private key fits easily). */
#define SECRET_MAX 16384

typedef struct {
    char *buf; /* NUL-terminated, locked; NULL when empty */
    size_t len;
} secret;

/* Copies len bytes of src into a fresh locked buffer. 0, or -1 (out of memory / too long). */
int secret_set(secret *s, const void *src, size_t len);
/* Wipes and frees. Safe on an empty secret. */
void secret_clear(secret *s);
/* Wipes len bytes of p (a copy that cannot be avoided, e.g. in a parsed JSON string). */
void secret_wipe(void *p, size_t len);

#endif
