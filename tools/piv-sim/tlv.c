/* BER-TLV helpers (see tlv.h). */
#include "tlv.h"

#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void buf_free_secret(struct buf *b)
{
    if (b->data) {
        volatile uint8_t *p = b->data;
        for (size_t i = 0; i < b->cap; i++) {
            p[i] = 0;
        }
    }
    buf_free(b);
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    b->failed = false;
}

void buf_put(struct buf *b, const void *data, size_t len)
{
    if (b->failed || len == 0) {
        return;
    }
    if (b->max && b->len + len > b->max) {
        b->failed = true;
        return;
    }
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len) {
            cap *= 2;
        }
        uint8_t *n = realloc(b->data, cap);
        if (!n) {
            b->failed = true;
            return;
        }
        b->data = n;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

void buf_put_u8(struct buf *b, uint8_t v)
{
    buf_put(b, &v, 1);
}

void buf_put_tag(struct buf *b, unsigned tag)
{
    if (tag > 0xFF) {
        buf_put_u8(b, (uint8_t)(tag >> 8));
    }
    buf_put_u8(b, (uint8_t)tag);
}

void buf_put_len(struct buf *b, size_t len)
{
    if (len < 0x80) {
        buf_put_u8(b, (uint8_t)len);
    } else if (len < 0x100) {
        uint8_t l[2] = {0x81, (uint8_t)len};
        buf_put(b, l, 2);
    } else if (len <= 0xFFFF) {
        uint8_t l[3] = {0x82, (uint8_t)(len >> 8), (uint8_t)len};
        buf_put(b, l, 3);
    } else {
        b->failed = true;
    }
}

void buf_put_tlv(struct buf *b, unsigned tag, const void *value, size_t len)
{
    buf_put_tag(b, tag);
    buf_put_len(b, len);
    buf_put(b, value, len);
}

bool tlv_next(const uint8_t **p, const uint8_t *end, unsigned *tag, const uint8_t **value,
              size_t *len)
{
    const uint8_t *q = *p;
    if (q >= end) {
        return false;
    }
    unsigned t = *q++;
    if ((t & 0x1F) == 0x1F) {
        if (q >= end) {
            return false;
        }
        t = (t << 8) | *q++;
    }
    if (q >= end) {
        return false;
    }
    size_t l = *q++;
    if (l == 0x81) {
        if (end - q < 1) {
            return false;
        }
        l = *q++;
    } else if (l == 0x82) {
        if (end - q < 2) {
            return false;
        }
        l = ((size_t)q[0] << 8) | q[1];
        q += 2;
    } else if (l >= 0x80) {
        return false;
    }
    if ((size_t)(end - q) < l) {
        return false;
    }
    *tag = t;
    *value = q;
    *len = l;
    *p = q + l;
    return true;
}

bool tlv_find(const uint8_t *data, size_t len, unsigned tag, const uint8_t **value, size_t *vlen)
{
    if (!data || len == 0) {
        return false;
    }
    const uint8_t *p = data, *end = data + len;
    unsigned t;
    const uint8_t *v;
    size_t l;
    while (p < end) {
        if (!tlv_next(&p, end, &t, &v, &l)) {
            return false;
        }
        if (t == tag) {
            *value = v;
            *vlen = l;
            return true;
        }
    }
    return false;
}
