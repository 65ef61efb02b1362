/* Strict DER reading: every length is checked against the region before it is used. */
#include "der/der_reader.h"

#include <stdio.h>
#include <string.h>

#include "util/timefmt.h"

void pki_der_init(pki_der *d, const uint8_t *buf, size_t len)
{
    d->p = buf;
    d->len = buf ? len : 0;
    d->pos = 0;
}

int pki_der_at_end(const pki_der *d)
{
    return d->pos >= d->len;
}

int pki_der_peek_tag(const pki_der *d)
{
    return pki_der_at_end(d) ? -1 : d->p[d->pos];
}

/* Parses identifier and length at d->pos without moving the cursor. */
static int parse_header(const pki_der *d, pki_der_item *it, size_t *total)
{
    size_t left = d->len - d->pos;
    const uint8_t *q = d->p + d->pos;
    if (left < 2)
        return -1;
    unsigned tag = q[0];
    if ((tag & 0x1f) == 0x1f)
        return -1; /* high tag number form: not used by anything we read */
    size_t hdr = 2, len = q[1];
    if (len & 0x80) {
        size_t n = len & 0x7f;
        if (n == 0 || n > 4)
            return -1; /* indefinite length (BER) or absurdly long */
        if (left < 2 + n)
            return -1;
        if (q[2] == 0)
            return -1; /* leading zero octet: not minimal */
        len = 0;
        for (size_t i = 0; i < n; i++)
            len = (len << 8) | q[2 + i];
        if (len < 0x80)
            return -1; /* should have used the short form */
        hdr = 2 + n;
    }
    if (len > left - hdr)
        return -1;
    /* A primitive universal type must not carry the constructed bit (no BER constructed
     * strings) and SEQUENCE/SET must. */
    if ((tag & 0xc0) == 0) {
        unsigned num = tag & 0x1f;
        int cons = (tag & 0x20) != 0;
        if ((num == 0x10 || num == 0x11) != cons)
            return -1;
    }
    it->tag = tag;
    it->val = q + hdr;
    it->len = len;
    it->raw = q;
    it->raw_len = hdr + len;
    *total = hdr + len;
    return 0;
}

int pki_der_next(pki_der *d, pki_der_item *it)
{
    if (pki_der_at_end(d))
        return 1;
    size_t total;
    if (parse_header(d, it, &total) != 0)
        return -1;
    d->pos += total;
    return 0;
}

int pki_der_expect(pki_der *d, unsigned tag, pki_der_item *it)
{
    pki_der save = *d;
    if (pki_der_next(d, it) != 0 || it->tag != tag) {
        *d = save;
        return -1;
    }
    return 0;
}

int pki_der_optional(pki_der *d, unsigned tag, pki_der_item *it)
{
    if (pki_der_peek_tag(d) != (int)tag)
        return 1;
    return pki_der_expect(d, tag, it);
}

int pki_der_enter(const pki_der_item *it, pki_der *inner)
{
    if (!(it->tag & 0x20))
        return -1;
    pki_der_init(inner, it->val, it->len);
    return 0;
}

int pki_der_enter_expect(pki_der *d, unsigned tag, pki_der *inner, pki_der_item *it_or_null)
{
    pki_der_item it;
    pki_der save = *d;
    if (pki_der_expect(d, tag, &it) != 0 || pki_der_enter(&it, inner) != 0) {
        *d = save;
        return -1;
    }
    if (it_or_null)
        *it_or_null = it;
    return 0;
}

int pki_der_single(const uint8_t *buf, size_t len, pki_der_item *it)
{
    pki_der d;
    pki_der_init(&d, buf, len);
    if (pki_der_next(&d, it) != 0 || !pki_der_at_end(&d))
        return -1;
    return 0;
}

int pki_der_int_check(const pki_der_item *it)
{
    if (it->tag != PKI_DER_INTEGER && it->tag != PKI_DER_ENUMERATED)
        return -1;
    if (it->len == 0)
        return -1;
    if (it->len > 1 && ((it->val[0] == 0x00 && !(it->val[1] & 0x80)) ||
                        (it->val[0] == 0xff && (it->val[1] & 0x80))))
        return -1; /* redundant leading octet */
    return 0;
}

int pki_der_int_u64(const pki_der_item *it, uint64_t *v)
{
    if (pki_der_int_check(it) != 0 || (it->val[0] & 0x80))
        return -1;
    size_t n = it->len;
    const uint8_t *q = it->val;
    if (n > 1 && q[0] == 0) {
        q++;
        n--;
    }
    if (n > 8)
        return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++)
        x = (x << 8) | q[i];
    *v = x;
    return 0;
}

int pki_der_int_long(const pki_der_item *it, long *v)
{
    if (pki_der_int_check(it) != 0 || it->len > sizeof(long))
        return -1;
    unsigned long x = (it->val[0] & 0x80) ? ~0UL : 0;
    for (size_t i = 0; i < it->len; i++)
        x = (x << 8) | it->val[i];
    *v = (long)x;
    return 0;
}

int pki_der_int_unsigned_bytes(const pki_der_item *it, const uint8_t **mag, size_t *len)
{
    if (pki_der_int_check(it) != 0 || (it->val[0] & 0x80))
        return -1;
    const uint8_t *q = it->val;
    size_t n = it->len;
    if (n > 1 && q[0] == 0) {
        q++;
        n--;
    }
    *mag = q;
    *len = n;
    return 0;
}

int pki_der_boolean(const pki_der_item *it, int *v)
{
    if (it->tag != PKI_DER_BOOLEAN || it->len != 1 || (it->val[0] != 0 && it->val[0] != 0xff))
        return -1;
    *v = it->val[0] != 0;
    return 0;
}

int pki_der_null(const pki_der_item *it)
{
    return it->tag == PKI_DER_NULL && it->len == 0 ? 0 : -1;
}

/* Sub-identifiers are read into 128 bits: 2.25.<UUID> arcs (X.667) need all of them. */
__extension__ typedef unsigned __int128 oid_arc;
#define OID_ARC_MAX (~(oid_arc)0)

/* Decimal text of an arc, written backwards from the end of tmp; returns where it starts. */
static char *arc_decimal(oid_arc v, char *end)
{
    *--end = '\0';
    do {
        *--end = (char)('0' + (unsigned)(v % 10));
        v /= 10;
    } while (v);
    return end;
}

int pki_der_oid_text(const pki_der_item *it, char *buf, size_t cap)
{
    if (it->tag != PKI_DER_OID || it->len == 0 || !buf || cap < 16)
        return -1;
    size_t out = 0;
    int first = 1;
    oid_arc arc = 0;
    int fresh = 1;
    for (size_t i = 0; i < it->len; i++) {
        uint8_t b = it->val[i];
        if (fresh && b == 0x80)
            return -1; /* non-minimal sub-identifier */
        if (arc > (OID_ARC_MAX >> 7))
            return -1; /* beyond 128 bits */
        arc = (arc << 7) | (b & 0x7f);
        fresh = 0;
        if (b & 0x80)
            continue;
        char tmp[48], num[48];
        size_t n = 0;
        if (first) {
            unsigned top = arc < 40 ? 0 : arc < 80 ? 1 : 2;
            tmp[n++] = (char)('0' + top);
            arc -= (oid_arc)top * 40;
            first = 0;
        }
        const char *d = arc_decimal(arc, num + sizeof num);
        size_t dl = strlen(d);
        tmp[n++] = '.';
        memcpy(tmp + n, d, dl);
        n += dl;
        if (out + n >= cap)
            return -1;
        memcpy(buf + out, tmp, n);
        out += n;
        arc = 0;
        fresh = 1;
    }
    if (!fresh)
        return -1; /* truncated sub-identifier */
    buf[out] = '\0';
    return 0;
}

int pki_der_oid_is(const pki_der_item *it, const char *dotted)
{
    char buf[128];
    return pki_der_oid_text(it, buf, sizeof buf) == 0 && strcmp(buf, dotted) == 0;
}

int pki_der_bit_string(const pki_der_item *it, const uint8_t **bits, size_t *len, unsigned *unused)
{
    if (it->tag != PKI_DER_BIT_STRING || it->len == 0)
        return -1;
    unsigned u = it->val[0];
    if (u > 7 || (it->len == 1 && u != 0))
        return -1;
    if (u && (it->val[it->len - 1] & ((1u << u) - 1)))
        return -1; /* DER: unused bits are zero */
    *bits = it->val + 1;
    *len = it->len - 1;
    *unused = u;
    return 0;
}

int pki_der_bit_string_octets(const pki_der_item *it, const uint8_t **bits, size_t *len)
{
    unsigned u;
    if (pki_der_bit_string(it, bits, len, &u) != 0 || u != 0)
        return -1;
    return 0;
}

int pki_der_bit_string_flags(const pki_der_item *it, uint32_t *flags)
{
    const uint8_t *b;
    size_t n;
    unsigned u;
    if (pki_der_bit_string(it, &b, &n, &u) != 0 || n > 4)
        return -1;
    uint32_t f = 0;
    for (size_t i = 0; i < n * 8; i++)
        if (b[i / 8] & (0x80u >> (i % 8)))
            f |= 1u << i;
    *flags = f;
    return 0;
}

int pki_der_time(const pki_der_item *it, int64_t *t)
{
    if (it->tag != PKI_DER_UTC_TIME && it->tag != PKI_DER_GENERALIZED_TIME)
        return -1;
    return pki_time_from_asn1((const char *)it->val, it->len, it->tag == PKI_DER_GENERALIZED_TIME,
                              t);
}

static int printable_char(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           strchr(" '()+,-./:=?", c) != NULL;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static int valid_utf8(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            cp = c & 0x07;
        } else
            return 0;
        if (n - i <= k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += k + 1;
    }
    return 1;
}

static int put_utf8(char *buf, size_t cap, size_t *o, uint32_t cp)
{
    uint8_t tmp[4];
    size_t n;
    if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return -1;
    if (cp < 0x80) {
        tmp[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        tmp[0] = (uint8_t)(0xc0 | (cp >> 6));
        tmp[1] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        tmp[0] = (uint8_t)(0xe0 | (cp >> 12));
        tmp[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        tmp[2] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        tmp[0] = (uint8_t)(0xf0 | (cp >> 18));
        tmp[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        tmp[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        tmp[3] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 4;
    }
    if (*o + n >= cap)
        return -1;
    memcpy(buf + *o, tmp, n);
    *o += n;
    return 0;
}

int pki_der_string(const pki_der_item *it, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return -1;
    const uint8_t *s = it->val;
    size_t n = it->len, o = 0;
    switch (it->tag) {
    case PKI_DER_BMP_STRING:
    case PKI_DER_UNIVERSAL_STRING: {
        size_t w = it->tag == PKI_DER_BMP_STRING ? 2 : 4;
        if (n % w)
            return -1;
        for (size_t i = 0; i < n; i += w) {
            uint32_t cp = 0;
            for (size_t j = 0; j < w; j++)
                cp = (cp << 8) | s[i + j];
            if (put_utf8(buf, cap, &o, cp) != 0)
                return -1;
        }
        buf[o] = '\0';
        return 0;
    }
    case PKI_DER_T61_STRING: /* treated as Latin-1, as most software does */
        for (size_t i = 0; i < n; i++)
            if (put_utf8(buf, cap, &o, s[i]) != 0)
                return -1;
        buf[o] = '\0';
        return 0;
    case PKI_DER_UTF8_STRING:
        if (!valid_utf8(s, n))
            return -1;
        break;
    case PKI_DER_PRINTABLE_STRING:
        for (size_t i = 0; i < n; i++)
            if (!printable_char(s[i]))
                return -1;
        break;
    case PKI_DER_IA5_STRING:
    case PKI_DER_VISIBLE_STRING:
        for (size_t i = 0; i < n; i++)
            if (s[i] >= 0x80)
                return -1;
        break;
    default:
        return -1;
    }
    if (memchr(s, 0, n) || n >= cap)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return 0;
}
