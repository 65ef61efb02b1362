#include "secmem/secmem.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void secret_wipe(void *p, size_t len)
{
    if (p && len)
        explicit_bzero(p, len);
}

int secret_set(secret *s, const void *src, size_t len)
{
    secret_clear(s);
    if (len > SECRET_MAX)
        return -1;
    char *b = malloc(len + 1);
    if (!b)
        return -1;
    /* mlock can fail under a tight RLIMIT_MEMLOCK; the secret is still wiped on free, and
     * the daemons disable core dumps, so we go on rather than refuse the operator. */
    (void)mlock(b, len + 1);
    memcpy(b, src, len);
    b[len] = '\0';
    s->buf = b;
    s->len = len;
    return 0;
}

void secret_clear(secret *s)
{
    if (!s->buf)
        return;
    explicit_bzero(s->buf, s->len + 1);
    (void)munlock(s->buf, s->len + 1);
    free(s->buf);
    s->buf = NULL;
    s->len = 0;
}
