/* Random tokens, their digests, constant-time comparison and the derived CSRF token. */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "auth/auth.h"
#include "util/encoding.h"

int auth_random_bytes(void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int b64url_into(const uint8_t *data, size_t len, char *out, size_t outlen)
{
    char *enc = pki_base64url_encode(data, len);
    if (!enc)
        return -1;
    size_t n = strlen(enc);
    int rc = -1;
    if (n < outlen) {
        memcpy(out, enc, n + 1);
        rc = 0;
    }
    free(enc);
    return rc;
}

int auth_token_new(size_t nbytes, char *out, size_t outlen)
{
    uint8_t raw[64];
    if (!out || nbytes == 0 || nbytes > sizeof raw || auth_random_bytes(raw, nbytes) != 0)
        return -1;
    int rc = b64url_into(raw, nbytes, out, outlen);
    memset(raw, 0, sizeof raw);
    return rc;
}

int auth_token_new_prefixed(const char *prefix, size_t nbytes, char *out, size_t outlen)
{
    size_t plen = strlen(prefix);
    if (plen + 2 > outlen)
        return -1;
    memcpy(out, prefix, plen);
    out[plen] = '_';
    return auth_token_new(nbytes, out + plen + 1, outlen - plen - 1);
}

int auth_token_digest(const char *token, char out[AUTH_DIGEST_HEX])
{
    uint8_t h[WC_SHA256_DIGEST_SIZE];
    if (!token || wc_Sha256Hash((const uint8_t *)token, (word32)strlen(token), h) != 0)
        return -1;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof h; i++) {
        out[2 * i] = hex[h[i] >> 4];
        out[2 * i + 1] = hex[h[i] & 15];
    }
    out[64] = '\0';
    return 0;
}

bool auth_ct_equal(const void *a, const void *b, size_t len)
{
    const volatile uint8_t *x = a, *y = b;
    uint8_t acc = 0;
    for (size_t i = 0; i < len; i++)
        acc |= (uint8_t)(x[i] ^ y[i]);
    return acc == 0;
}

bool auth_ct_streq(const char *a, const char *b)
{
    if (!a || !b)
        return false;
    size_t lb = strlen(b);
    /* Walk b's length whatever a is, so the time depends only on the secret side's length. */
    uint8_t acc = (uint8_t)(strlen(a) != lb);
    size_t la = strlen(a);
    for (size_t i = 0; i < lb; i++) {
        uint8_t ca = i < la ? (uint8_t)a[i] : 0;
        acc |= (uint8_t)(ca ^ (uint8_t)b[i]);
    }
    return acc == 0;
}

int auth_csrf_token(const char *session_token, char out[AUTH_CSRF_LEN])
{
    if (!session_token || !*session_token)
        return -1;
    Hmac hmac;
    uint8_t mac[WC_SHA256_DIGEST_SIZE];
    int rc = -1;
    if (wc_HmacInit(&hmac, NULL, INVALID_DEVID) != 0)
        return -1;
    if (wc_HmacSetKey(&hmac, WC_SHA256, (const uint8_t *)session_token,
                      (word32)strlen(session_token)) == 0 &&
        wc_HmacUpdate(&hmac, (const uint8_t *)"csrf", 4) == 0 && wc_HmacFinal(&hmac, mac) == 0)
        rc = b64url_into(mac, sizeof mac, out, AUTH_CSRF_LEN);
    wc_HmacFree(&hmac);
    return rc;
}

bool auth_csrf_check(const char *session_token, const char *header_value)
{
    char want[AUTH_CSRF_LEN];
    if (!header_value || auth_csrf_token(session_token, want) != 0)
        return false;
    return auth_ct_streq(header_value, want);
}

bool auth_method_is_unsafe(const char *method)
{
    return !(strcasecmp(method, "GET") == 0 || strcasecmp(method, "HEAD") == 0 ||
             strcasecmp(method, "OPTIONS") == 0);
}
