#include "util/encoding.h"

#include <stdlib.h>
#include <string.h>

static const char B64_STD[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char B64_URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *base64_encode_with(const char *alphabet, int pad, const uint8_t *data, size_t len)
{
    if (len > (SIZE_MAX / 4) - 3)
        return NULL;
    size_t out_len = ((len + 2) / 3) * 4;
    char *out = malloc(out_len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = ((uint32_t)data[i] << 16) | ((uint32_t)data[i + 1] << 8) | data[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
    }
    size_t rest = len - i;
    if (rest) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (rest == 2)
            v |= (uint32_t)data[i + 1] << 8;
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        if (rest == 2)
            out[o++] = alphabet[(v >> 6) & 63];
        else if (pad)
            out[o++] = '=';
        if (pad)
            out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}

char *pki_base64_encode(const uint8_t *data, size_t len)
{
    return base64_encode_with(B64_STD, 1, data, len);
}

char *pki_base64url_encode(const uint8_t *data, size_t len)
{
    return base64_encode_with(B64_URL, 0, data, len);
}

static int b64_value(const char *alphabet, char c)
{
    const char *p = c ? strchr(alphabet, c) : NULL;
    return p ? (int)(p - alphabet) : -1;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Decodes the symbols in sym[0..n) (no padding, no whitespace). Canonical form requires the
 * unused low bits of the last symbol to be zero. */
static int base64_decode_symbols(const char *alphabet, const char *sym, size_t n, uint8_t **out,
                                 size_t *out_len)
{
    if (n % 4 == 1)
        return -1;
    size_t cap = (n / 4) * 3 + (n % 4 ? (n % 4) - 1 : 0);
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(alphabet, sym[i]);
        if (v < 0) {
            free(buf);
            return -1;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) { /* non-zero padding bits: not canonical */
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = o;
    return 0;
}

int pki_base64_decode(const char *text, size_t text_len, uint8_t **out, size_t *out_len)
{
    char *sym = malloc(text_len + 1);
    if (!sym)
        return -1;
    size_t n = 0;
    size_t pad = 0;
    for (size_t i = 0; i < text_len; i++) {
        char c = text[i];
        if (is_space(c))
            continue;
        if (c == '=') {
            pad++;
            continue;
        }
        if (pad) { /* data after padding */
            free(sym);
            return -1;
        }
        sym[n++] = c;
    }
    int rc = -1;
    /* Padding, when present, must complete the last quantum exactly. */
    if (pad == 0 || (pad <= 2 && (n + pad) % 4 == 0))
        rc = base64_decode_symbols(B64_STD, sym, n, out, out_len);
    free(sym);
    return rc;
}

int pki_base64url_decode(const char *text, size_t text_len, uint8_t **out, size_t *out_len)
{
    for (size_t i = 0; i < text_len; i++)
        if (text[i] == '\0')
            return -1;
    return base64_decode_symbols(B64_URL, text, text_len, out, out_len);
}

char *pki_hex_encode(const uint8_t *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    if (len > (SIZE_MAX - 1) / 2)
        return NULL;
    char *out = malloc(len * 2 + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[len * 2] = '\0';
    return out;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int pki_hex_decode(const char *text, size_t text_len, uint8_t **out, size_t *out_len)
{
    if (text_len % 2)
        return -1;
    uint8_t *buf = malloc(text_len / 2 + 1);
    if (!buf)
        return -1;
    for (size_t i = 0; i < text_len; i += 2) {
        int hi = hex_value(text[i]);
        int lo = hex_value(text[i + 1]);
        if (hi < 0 || lo < 0) {
            free(buf);
            return -1;
        }
        buf[i / 2] = (uint8_t)((hi << 4) | lo);
    }
    *out = buf;
    *out_len = text_len / 2;
    return 0;
}
