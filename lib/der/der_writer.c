/* DER writer: see der_writer.h for the shape. Everything here is plain X.690 arithmetic; the
 * only interesting part is pki_derw_end(), which patches a length in place and sorts SET OF. */
#include "der/der_writer.h"
#include "util/timefmt.h"

#include <stdlib.h>
#include <string.h>

void pki_derw_init(pki_der_writer *w)
{
    memset(w, 0, sizeof *w);
}

void pki_derw_free(pki_der_writer *w)
{
    free(w->buf);
    memset(w, 0, sizeof *w);
}

int pki_derw_error(const pki_der_writer *w)
{
    return w->err;
}

const uint8_t *pki_derw_data(const pki_der_writer *w)
{
    return w->buf;
}

size_t pki_derw_len(const pki_der_writer *w)
{
    return w->len;
}

uint8_t *pki_derw_take(pki_der_writer *w, size_t *len)
{
    if (!w->err && w->depth != 0)
        w->err = PKI_DERW_ERR_OPEN;
    if (w->err) {
        pki_derw_free(w);
        *len = 0;
        return NULL;
    }
    uint8_t *out = w->buf;
    *len = w->len;
    if (!out) /* nothing written: still hand back a valid (empty) allocation */
        out = malloc(1);
    memset(w, 0, sizeof *w);
    return out;
}

static void fail(pki_der_writer *w, int err)
{
    if (!w->err)
        w->err = err;
}

/* Makes room for n more octets; doubling keeps appends amortised O(1). */
static int reserve(pki_der_writer *w, size_t n)
{
    if (w->err)
        return -1;
    if (n > SIZE_MAX / 2 - w->len) {
        fail(w, PKI_DERW_ERR_NOMEM);
        return -1;
    }
    if (w->len + n <= w->cap)
        return 0;
    size_t cap = w->cap ? w->cap * 2 : 256;
    while (cap < w->len + n)
        cap *= 2;
    uint8_t *nb = realloc(w->buf, cap);
    if (!nb) {
        fail(w, PKI_DERW_ERR_NOMEM);
        return -1;
    }
    w->buf = nb;
    w->cap = cap;
    return 0;
}

static void put(pki_der_writer *w, const void *p, size_t n)
{
    if (n == 0 || reserve(w, n))
        return;
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void put_byte(pki_der_writer *w, uint8_t b)
{
    put(w, &b, 1);
}

static size_t len_octets(size_t len)
{
    size_t n = 1;
    if (len >= 0x80)
        for (size_t l = len; l; l >>= 8)
            n++;
    return n;
}

static void encode_len(uint8_t *out, size_t len, size_t n)
{
    if (n == 1) {
        out[0] = (uint8_t)len;
        return;
    }
    out[0] = (uint8_t)(0x80 | (n - 1));
    for (size_t i = n - 1; i >= 1; i--, len >>= 8)
        out[i] = (uint8_t)len;
}

static void header(pki_der_writer *w, unsigned tag, size_t len)
{
    uint8_t h[1 + 1 + sizeof(size_t)];
    size_t n = len_octets(len);
    h[0] = (uint8_t)tag;
    encode_len(h + 1, len, n);
    put(w, h, 1 + n);
}

void pki_derw_tlv(pki_der_writer *w, unsigned tag, const uint8_t *val, size_t len)
{
    if (tag > 0xff || (len && !val)) {
        fail(w, PKI_DERW_ERR_ARG);
        return;
    }
    header(w, tag, len);
    put(w, val, len);
}

void pki_derw_raw(pki_der_writer *w, const uint8_t *der, size_t len)
{
    if (len && !der) {
        fail(w, PKI_DERW_ERR_ARG);
        return;
    }
    put(w, der, len);
}

void pki_derw_begin(pki_der_writer *w, unsigned tag)
{
    if (w->err)
        return;
    if (tag > 0xff || (tag & 0x1f) == 0x1f) { /* high tag numbers are never needed */
        fail(w, PKI_DERW_ERR_ARG);
        return;
    }
    if (w->depth >= PKI_DERW_MAX_DEPTH) {
        fail(w, PKI_DERW_ERR_DEPTH);
        return;
    }
    put_byte(w, (uint8_t)tag);
    w->open_at[w->depth] = w->len;
    w->open_set_of[w->depth] = 0;
    put_byte(w, 0); /* length placeholder, patched by end() */
    if (!w->err)
        w->depth++;
}

void pki_derw_begin_set_of(pki_der_writer *w)
{
    pki_derw_begin(w, PKI_DER_SET);
    if (!w->err)
        w->open_set_of[w->depth - 1] = 1;
}

typedef struct {
    const uint8_t *p;
    size_t n;
} span;

/* X.690 11.6: compare as octet strings, the shorter padded with trailing zero octets. */
static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    size_t m = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->p, y->p, m);
    if (c)
        return c;
    const span *longer = x->n > y->n ? x : y;
    for (size_t i = m; i < longer->n; i++)
        if (longer->p[i])
            return longer == x ? 1 : -1;
    return 0;
}

/* Size of the TLV at p (at most avail octets), or 0 when it does not fit: SET OF content may
 * come from pki_derw_raw(), so it is checked rather than trusted. */
static size_t tlv_size(const uint8_t *p, size_t avail)
{
    if (avail < 2)
        return 0;
    size_t len = p[1];
    size_t hdr = 2;
    if (len & 0x80) {
        size_t n = len & 0x7f;
        if (n == 0 || n > sizeof(size_t) || avail < 2 + n)
            return 0;
        len = 0;
        for (size_t i = 0; i < n; i++)
            len = (len << 8) | p[2 + i];
        hdr += n;
    }
    if (len > avail - hdr)
        return 0;
    return hdr + len;
}

static void sort_set_of(pki_der_writer *w, size_t start, size_t end)
{
    size_t count = 0;
    for (size_t off = start, n; off < end; off += n) {
        n = tlv_size(w->buf + off, end - off);
        if (n == 0) {
            fail(w, PKI_DERW_ERR_ARG);
            return;
        }
        count++;
    }
    if (count < 2)
        return;
    span *v = malloc(count * sizeof *v);
    uint8_t *tmp = malloc(end - start);
    if (!v || !tmp) {
        free(v);
        free(tmp);
        fail(w, PKI_DERW_ERR_NOMEM);
        return;
    }
    size_t i = 0;
    for (size_t off = start; off < end; off += v[i++].n) {
        v[i].p = w->buf + off;
        v[i].n = tlv_size(w->buf + off, end - off);
    }
    qsort(v, count, sizeof *v, cmp_span);
    size_t o = 0;
    for (i = 0; i < count; i++) {
        memcpy(tmp + o, v[i].p, v[i].n);
        o += v[i].n;
    }
    memcpy(w->buf + start, tmp, end - start);
    free(v);
    free(tmp);
}

void pki_derw_end(pki_der_writer *w)
{
    if (w->err)
        return;
    if (w->depth == 0) {
        fail(w, PKI_DERW_ERR_DEPTH);
        return;
    }
    w->depth--;
    size_t at = w->open_at[w->depth];
    size_t content = at + 1;
    size_t clen = w->len - content;
    if (w->open_set_of[w->depth])
        sort_set_of(w, content, w->len);
    if (w->err)
        return;
    size_t n = len_octets(clen);
    if (n > 1) {
        /* The one reserved octet was too few: shift the content once. */
        if (reserve(w, n - 1))
            return;
        memmove(w->buf + content + n - 1, w->buf + content, clen);
        w->len += n - 1;
    }
    encode_len(w->buf + at, clen, n);
}

void pki_derw_bool(pki_der_writer *w, int value)
{
    uint8_t v = value ? 0xff : 0x00;
    pki_derw_tlv(w, PKI_DER_BOOLEAN, &v, 1);
}

void pki_derw_null(pki_der_writer *w)
{
    pki_derw_tlv(w, PKI_DER_NULL, NULL, 0);
}

static void signed_int(pki_der_writer *w, unsigned tag, int64_t value)
{
    uint8_t b[8];
    uint64_t u = (uint64_t)value;
    for (int i = 7; i >= 0; i--, u >>= 8)
        b[i] = (uint8_t)u;
    /* Minimal two's complement: drop a leading octet while it only repeats the sign. */
    size_t s = 0;
    while (s < 7 && ((b[s] == 0x00 && !(b[s + 1] & 0x80)) || (b[s] == 0xff && (b[s + 1] & 0x80))))
        s++;
    pki_derw_tlv(w, tag, b + s, 8 - s);
}

void pki_derw_int(pki_der_writer *w, int64_t value)
{
    signed_int(w, PKI_DER_INTEGER, value);
}

void pki_derw_enum(pki_der_writer *w, int64_t value)
{
    signed_int(w, PKI_DER_ENUMERATED, value);
}

void pki_derw_uint_be(pki_der_writer *w, unsigned tag, const uint8_t *be, size_t len)
{
    if (len && !be) {
        fail(w, PKI_DERW_ERR_ARG);
        return;
    }
    while (len > 0 && be[0] == 0) {
        be++;
        len--;
    }
    if (len == 0) {
        uint8_t zero = 0;
        pki_derw_tlv(w, tag, &zero, 1);
        return;
    }
    int pad = (be[0] & 0x80) != 0;
    header(w, tag, len + (size_t)pad);
    if (pad)
        put_byte(w, 0);
    put(w, be, len);
}

void pki_derw_bit_string(pki_der_writer *w, const uint8_t *bits, size_t len, unsigned unused_bits)
{
    if (unused_bits > 7 || (len == 0 && unused_bits) || (len && !bits)) {
        fail(w, PKI_DERW_ERR_ARG);
        return;
    }
    header(w, PKI_DER_BIT_STRING, len + 1);
    put_byte(w, (uint8_t)unused_bits);
    put(w, bits, len);
    if (!w->err && len) /* DER: unused bits are zero */
        w->buf[w->len - 1] &= (uint8_t)(0xff << unused_bits);
}

void pki_derw_named_bits(pki_der_writer *w, unsigned tag, uint32_t bits)
{
    uint8_t b[5];
    if (bits == 0) {
        b[0] = 0;
        pki_derw_tlv(w, tag, b, 1);
        return;
    }
    int hi = 31;
    while (!(bits & (1u << hi)))
        hi--;
    size_t nbytes = (size_t)hi / 8 + 1;
    memset(b, 0, sizeof b);
    b[0] = (uint8_t)(7 - hi % 8);
    for (int i = 0; i <= hi; i++)
        if (bits & (1u << i))
            b[1 + i / 8] |= (uint8_t)(0x80 >> (i % 8));
    pki_derw_tlv(w, tag, b, nbytes + 1);
}

void pki_derw_octet_string(pki_der_writer *w, const uint8_t *val, size_t len)
{
    pki_derw_tlv(w, PKI_DER_OCTET_STRING, val, len);
}

/* Arcs are 128-bit: 2.25.<UUID> arcs (X.667) need all of them. */
__extension__ typedef unsigned __int128 oid_arc;
#define OID_ARC_MAX (~(oid_arc)0)

static int put_base128(uint8_t *out, size_t outlen, size_t *o, oid_arc v)
{
    uint8_t tmp[19]; /* ceil(128 / 7) */
    size_t n = 0;
    do {
        tmp[n++] = (uint8_t)(v & 0x7f);
        v >>= 7;
    } while (v);
    if (*o + n > outlen)
        return -1;
    while (n > 0) {
        n--;
        out[(*o)++] = (uint8_t)(tmp[n] | (n ? 0x80 : 0));
    }
    return 0;
}

/* Reads one decimal arc without leading zeros; advances *p past it and a following dot. */
static int read_arc(const char **p, oid_arc *out)
{
    const char *s = *p;
    oid_arc v = 0;
    if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' && s[1] <= '9'))
        return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned digit = (unsigned)(*s - '0');
        if (v > (OID_ARC_MAX - digit) / 10)
            return -1; /* beyond 128 bits */
        v = v * 10 + digit;
    }
    if (*s == '.') {
        if (s[1] == '\0')
            return -1;
        s++;
    } else if (*s != '\0') {
        return -1;
    }
    *p = s;
    *out = v;
    return 0;
}

int pki_derw_oid_encode(const char *dotted, uint8_t *out, size_t outlen)
{
    if (!dotted || !out)
        return -1;
    const char *p = dotted;
    oid_arc a, b;
    if (read_arc(&p, &a) || a > 2 || *p == '\0' || read_arc(&p, &b) || (a < 2 && b >= 40) ||
        b > OID_ARC_MAX - 80)
        return -1;
    size_t o = 0;
    if (put_base128(out, outlen, &o, a * 40 + b))
        return -1;
    while (*p) {
        oid_arc v;
        if (read_arc(&p, &v) || put_base128(out, outlen, &o, v))
            return -1;
    }
    return (int)o;
}

void pki_derw_oid(pki_der_writer *w, const char *dotted)
{
    uint8_t buf[128];
    int n = pki_derw_oid_encode(dotted, buf, sizeof buf);
    if (n < 0) {
        fail(w, PKI_DERW_ERR_ARG);
        return;
    }
    pki_derw_tlv(w, PKI_DER_OID, buf, (size_t)n);
}

static void time_as(pki_der_writer *w, int64_t t, int force_generalized)
{
    char buf[16];
    int gen;
    int n = pki_time_format_asn1(t, force_generalized, buf, &gen);
    if (n < 0) {
        fail(w, PKI_DERW_ERR_ARG);
        return;
    }
    pki_derw_tlv(w, gen ? PKI_DER_GENERALIZED_TIME : PKI_DER_UTC_TIME, (const uint8_t *)buf,
                 (size_t)n);
}

void pki_derw_time(pki_der_writer *w, int64_t t)
{
    time_as(w, t, 0);
}

void pki_derw_generalized_time(pki_der_writer *w, int64_t t)
{
    time_as(w, t, 1);
}

int pki_derw_is_printable(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            continue;
        if (!strchr(" '()+,-./:=?", c) || c == 0)
            return 0;
    }
    return 1;
}

int pki_derw_is_ia5(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] > 0x7f || s[i] == 0)
            return 0;
    return 1;
}

int pki_derw_is_utf8(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        size_t n;
        unsigned cp;
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + n >= len)
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        /* Reject overlong forms, surrogates and values past U+10FFFF. */
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return 0;
        i += n + 1;
    }
    return 1;
}

void pki_derw_string(pki_der_writer *w, pki_derw_str_kind kind, const char *s, size_t len)
{
    if (len && !s) {
        fail(w, PKI_DERW_ERR_ARG);
        return;
    }
    unsigned tag;
    switch (kind) {
    case PKI_DERW_STR_AUTO:
        if (pki_derw_is_printable(s, len)) {
            tag = PKI_DER_PRINTABLE_STRING;
            break;
        }
        /* fall through */
    case PKI_DERW_STR_UTF8:
        if (!pki_derw_is_utf8(s, len)) {
            fail(w, PKI_DERW_ERR_ARG);
            return;
        }
        tag = PKI_DER_UTF8_STRING;
        break;
    case PKI_DERW_STR_PRINTABLE:
        if (!pki_derw_is_printable(s, len)) {
            fail(w, PKI_DERW_ERR_ARG);
            return;
        }
        tag = PKI_DER_PRINTABLE_STRING;
        break;
    case PKI_DERW_STR_IA5:
        if (!pki_derw_is_ia5(s, len)) {
            fail(w, PKI_DERW_ERR_ARG);
            return;
        }
        tag = PKI_DER_IA5_STRING;
        break;
    default:
        fail(w, PKI_DERW_ERR_ARG);
        return;
    }
    pki_derw_tlv(w, tag, (const uint8_t *)s, len);
}
