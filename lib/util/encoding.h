/* Base64 (RFC 4648: standard and URL-safe alphabets) and hex encoders and strict decoders.
 *
 * Decoders reject anything that is not canonical input for their alphabet, so a value that
 * decodes has exactly one spelling. Output buffers are allocated with malloc and owned by the
 * caller; on error nothing is allocated. */
#ifndef PKI_UTIL_ENCODING_H
#define PKI_UTIL_ENCODING_H

#include <stddef.h>
#include <stdint.h>

/* Standard alphabet with '=' padding. Returns a NUL-terminated string, or NULL on OOM. */
char *pki_base64_encode(const uint8_t *data, size_t len);
/* URL-safe alphabet without padding, as JOSE (RFC 7515) uses. */
char *pki_base64url_encode(const uint8_t *data, size_t len);

/* Decode standard base64; ASCII whitespace between characters is skipped (PEM bodies).
 * Returns 0 and sets *out and *out_len, or -1 on malformed input. */
int pki_base64_decode(const char *text, size_t text_len, uint8_t **out, size_t *out_len);
/* Decode base64url without padding; no whitespace, no '='. */
int pki_base64url_decode(const char *text, size_t text_len, uint8_t **out, size_t *out_len);

/* Lower-case hex. Returns a NUL-terminated string, or NULL on OOM. */
char *pki_hex_encode(const uint8_t *data, size_t len);
/* Hex of either case, even length, no separators. */
int pki_hex_decode(const char *text, size_t text_len, uint8_t **out, size_t *out_len);

#endif
