/* BER-TLV helpers for the PIV applet: a growable byte buffer, a tag/length writer and a bounded
 * reader. PIV uses one- and two-byte tags and lengths up to 0xFFFF (0x82 form), which is all this
 * supports; anything else is reported as malformed rather than guessed at. */
#ifndef PIVSIM_TLV_H
#define PIVSIM_TLV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Growable output buffer. `failed` latches on allocation failure or when `max` would be exceeded,
 * so callers can append freely and check once at the end. */
struct buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t max; /* 0 = unlimited */
    bool failed;
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
/* Wipes the contents (for buffers that held secrets) before freeing. */
void buf_free_secret(struct buf *b);
void buf_reset(struct buf *b);
void buf_put(struct buf *b, const void *data, size_t len);
void buf_put_u8(struct buf *b, uint8_t v);
/* Tag of one or two bytes (tags > 0xFF are written as two bytes). */
void buf_put_tag(struct buf *b, unsigned tag);
void buf_put_len(struct buf *b, size_t len);
/* tag, length, value */
void buf_put_tlv(struct buf *b, unsigned tag, const void *value, size_t len);

/* Reads one TLV element from [*p, end). Tags whose low five bits are all set in the first byte
 * (0x1F, e.g. 0x5F, 0x7F) take a second byte. Returns false when the element is truncated or the
 * length form is unsupported; on success advances *p past the element. */
bool tlv_next(const uint8_t **p, const uint8_t *end, unsigned *tag, const uint8_t **value,
              size_t *len);

/* Finds the first element with `tag` at the top level of [data, data+len). */
bool tlv_find(const uint8_t *data, size_t len, unsigned tag, const uint8_t **value, size_t *vlen);

#endif
