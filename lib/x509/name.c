/* Distinguished names: attribute table, text forms (openssl "/A=b" and RFC 4514), DER. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "der/der_reader.h"
#include "x509/x509.h"

typedef struct {
    const char *name;
    const char *alias;
    const char *oid;
    pki_derw_str_kind kind;
} attr_type;

/* Short names as openssl prints them. RFC 5280 appendix A / RFC 4519. */
static const attr_type ATTRS[] = {
    {"CN", "commonName", "2.5.4.3", PKI_DERW_STR_AUTO},
    {"SN", "surname", "2.5.4.4", PKI_DERW_STR_AUTO},
    {"serialNumber", NULL, "2.5.4.5", PKI_DERW_STR_PRINTABLE},
    {"C", "countryName", "2.5.4.6", PKI_DERW_STR_PRINTABLE},
    {"L", "localityName", "2.5.4.7", PKI_DERW_STR_AUTO},
    {"ST", "stateOrProvinceName", "2.5.4.8", PKI_DERW_STR_AUTO},
    {"street", "streetAddress", "2.5.4.9", PKI_DERW_STR_AUTO},
    {"O", "organizationName", "2.5.4.10", PKI_DERW_STR_AUTO},
    {"OU", "organizationalUnitName", "2.5.4.11", PKI_DERW_STR_AUTO},
    {"title", NULL, "2.5.4.12", PKI_DERW_STR_AUTO},
    {"businessCategory", NULL, "2.5.4.15", PKI_DERW_STR_AUTO},
    {"postalCode", NULL, "2.5.4.17", PKI_DERW_STR_AUTO},
    {"GN", "givenName", "2.5.4.42", PKI_DERW_STR_AUTO},
    {"initials", NULL, "2.5.4.43", PKI_DERW_STR_AUTO},
    {"dnQualifier", NULL, "2.5.4.46", PKI_DERW_STR_PRINTABLE},
    {"pseudonym", NULL, "2.5.4.65", PKI_DERW_STR_AUTO},
    {"organizationIdentifier", NULL, "2.5.4.97", PKI_DERW_STR_AUTO},
    {"emailAddress", "E", "1.2.840.113549.1.9.1", PKI_DERW_STR_IA5},
    {"DC", "domainComponent", "0.9.2342.19200300.100.1.25", PKI_DERW_STR_IA5},
    {"UID", "userId", "0.9.2342.19200300.100.1.1", PKI_DERW_STR_AUTO},
    {"jurisdictionC", "jurisdictionCountryName", "1.3.6.1.4.1.311.60.2.1.3",
     PKI_DERW_STR_PRINTABLE},
};
#define N_ATTRS (sizeof ATTRS / sizeof ATTRS[0])

static const attr_type *by_name(const char *name)
{
    for (size_t i = 0; i < N_ATTRS; i++)
        if (!strcasecmp(name, ATTRS[i].name) ||
            (ATTRS[i].alias && !strcasecmp(name, ATTRS[i].alias)))
            return &ATTRS[i];
    return NULL;
}

static const attr_type *by_oid(const char *oid)
{
    for (size_t i = 0; i < N_ATTRS; i++)
        if (!strcmp(oid, ATTRS[i].oid))
            return &ATTRS[i];
    return NULL;
}

static int seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return PKI_X509_ERR_INPUT;
}

static int add_attr(pki_name *n, const char *type, const char *value, int joined, char *err,
                    size_t errlen)
{
    const attr_type *t = by_name(type);
    const char *oid = t ? t->oid : type;
    uint8_t oidbuf[64];
    if (!t && (strlen(type) >= sizeof n->attr[0].oid ||
               pki_derw_oid_encode(type, oidbuf, sizeof oidbuf) < 0))
        return seterr(err, errlen, "unknown name attribute '%s'", type);
    if (!t)
        t = by_oid(oid);
    size_t vlen = strlen(value);
    if (n->count >= PKI_NAME_MAX_ATTRS)
        return seterr(err, errlen, "too many name attributes (at '%s=%s')", type, value);
    if (vlen == 0 || vlen > PKI_NAME_MAX_VALUE)
        return seterr(err, errlen, "name attribute %s: value must have 1..256 characters", type);
    pki_derw_str_kind kind = t ? t->kind : PKI_DERW_STR_AUTO;
    if ((kind == PKI_DERW_STR_PRINTABLE && !pki_derw_is_printable(value, vlen)) ||
        (kind == PKI_DERW_STR_IA5 && !pki_derw_is_ia5(value, vlen)) ||
        (kind == PKI_DERW_STR_AUTO && !pki_derw_is_utf8(value, vlen)))
        return seterr(err, errlen, "name attribute %s: characters not allowed in '%s'", type,
                      value);
    if (t && (!strcmp(t->oid, "2.5.4.6") || !strcmp(t->oid, "1.3.6.1.4.1.311.60.2.1.3")) &&
        (vlen != 2 ||
         !((value[0] >= 'A' && value[0] <= 'Z') && (value[1] >= 'A' && value[1] <= 'Z'))))
        return seterr(err, errlen, "name attribute %s: '%s' is not a two-letter country code", type,
                      value);
    if (n->count == 0)
        joined = 0;
    pki_name_attr *a = &n->attr[n->count++];
    snprintf(a->oid, sizeof a->oid, "%s", oid);
    memcpy(a->value, value, vlen + 1);
    a->joined = joined;
    return 0;
}

int pki_name_add(pki_name *n, const char *type, const char *value, char *err, size_t errlen)
{
    if (!n || !type || !value)
        return seterr(err, errlen, "name attribute missing");
    return add_attr(n, type, value, 0, err, errlen);
}

/* Splits text into "type=value" pieces at unescaped separators; each piece is added with the
 * joined flag when the separator before it was '+'. rfc4514 reverses RDN order. */
int pki_name_parse(pki_name *n, const char *text, char *err, size_t errlen)
{
    if (!n || !text)
        return seterr(err, errlen, "no name given");
    memset(n, 0, sizeof *n);
    int rfc4514 = text[0] != '/';
    const char *p = rfc4514 ? text : text + 1;
    if (*p == '\0')
        return 0; /* empty name */
    char type[64], value[PKI_NAME_MAX_VALUE + 1];
    pki_name tmp;
    memset(&tmp, 0, sizeof tmp);
    int joined = 0;
    while (*p) {
        size_t tl = 0, vl = 0;
        while (*p == ' ' && rfc4514)
            p++;
        while (*p && *p != '=') {
            if (tl + 1 >= sizeof type)
                return seterr(err, errlen, "name: attribute type too long");
            type[tl++] = *p++;
        }
        type[tl] = 0;
        if (*p != '=' || tl == 0)
            return seterr(err, errlen, "name: expected type=value near '%s'", type);
        p++;
        char sep = rfc4514 ? ',' : '/';
        while (*p && *p != sep && *p != '+' && !(rfc4514 && *p == ';')) {
            char c = *p++;
            if (c == '\\') {
                if (!*p)
                    return seterr(err, errlen, "name: dangling '\\' in %s", type);
                if (rfc4514 && isxdigit((unsigned char)p[0]) && isxdigit((unsigned char)p[1])) {
                    char hex[3] = {p[0], p[1], 0};
                    c = (char)strtoul(hex, NULL, 16);
                    p += 2;
                } else {
                    c = *p++;
                }
            }
            if (vl >= PKI_NAME_MAX_VALUE)
                return seterr(err, errlen, "name attribute %s: value too long", type);
            value[vl++] = c;
        }
        value[vl] = 0;
        if (memchr(value, 0, vl))
            return seterr(err, errlen, "name attribute %s: NUL in value", type);
        int rc = add_attr(&tmp, type, value, joined, err, errlen);
        if (rc)
            return rc;
        joined = *p == '+';
        if (*p)
            p++;
    }
    if (!rfc4514) {
        *n = tmp;
        return 0;
    }
    /* RFC 4514 lists the last RDN first: copy RDN groups in reverse, keeping each group's
     * internal order. */
    size_t end = tmp.count;
    while (end > 0) {
        size_t start = end - 1;
        while (start > 0 && tmp.attr[start].joined)
            start--;
        for (size_t i = start; i < end; i++) {
            n->attr[n->count] = tmp.attr[i];
            n->attr[n->count].joined = i != start;
            n->count++;
        }
        end = start;
    }
    return 0;
}

static const char *short_name(const char *oid)
{
    const attr_type *t = by_oid(oid);
    return t ? t->name : oid;
}

/* Appends s to buf, escaping what the style requires. */
static int append(char *buf, size_t cap, size_t *o, const char *s, int style, int is_value)
{
    size_t len = strlen(s);
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int esc = 0;
        if (is_value && style == PKI_NAME_RFC4514)
            esc = strchr(",+\"\\<>;", c) || (i == 0 && (c == '#' || c == ' ')) ||
                  (i == len - 1 && c == ' ');
        else if (is_value)
            esc = c == '/' || c == '+' || c == '\\';
        if (*o + 2 + (size_t)esc >= cap)
            return -1;
        if (esc)
            buf[(*o)++] = '\\';
        buf[(*o)++] = c;
    }
    buf[*o] = 0;
    return 0;
}

int pki_name_format(const pki_name *n, int style, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return -1;
    /* RFC 4514 lists RDNs from the last; within an RDN, attributes stay in order. */
    size_t order[PKI_NAME_MAX_ATTRS], m = 0;
    if (style == PKI_NAME_RFC4514) {
        for (size_t e = n->count; e > 0;) {
            size_t s = e - 1;
            while (s > 0 && n->attr[s].joined)
                s--;
            for (size_t i = s; i < e; i++)
                order[m++] = i;
            e = s;
        }
    } else {
        for (size_t i = 0; i < n->count; i++)
            order[m++] = i;
    }
    size_t o = 0;
    buf[0] = 0;
    for (size_t k = 0; k < m; k++) {
        const pki_name_attr *a = &n->attr[order[k]];
        const char *sep;
        if (k > 0 && a->joined)
            sep = "+";
        else if (style == PKI_NAME_OPENSSL)
            sep = "/";
        else
            sep = k > 0 ? "," : "";
        if (append(buf, cap, &o, sep, style, 0) ||
            append(buf, cap, &o, short_name(a->oid), style, 0) ||
            append(buf, cap, &o, "=", style, 0) || append(buf, cap, &o, a->value, style, 1))
            return -1;
    }
    return 0;
}

void pki_name_write(pki_der_writer *w, const pki_name *n)
{
    pki_derw_begin(w, PKI_DER_SEQUENCE);
    for (size_t i = 0; i < n->count;) {
        pki_derw_begin_set_of(w);
        size_t j = i;
        do {
            const pki_name_attr *a = &n->attr[j];
            const attr_type *t = by_oid(a->oid);
            pki_derw_begin(w, PKI_DER_SEQUENCE);
            pki_derw_oid(w, a->oid);
            pki_derw_string(w, t ? t->kind : PKI_DERW_STR_AUTO, a->value, strlen(a->value));
            pki_derw_end(w);
            j++;
        } while (j < n->count && n->attr[j].joined);
        pki_derw_end(w);
        i = j;
    }
    pki_derw_end(w);
}

int pki_name_der(const pki_name *n, uint8_t **der, size_t *len)
{
    pki_der_writer w;
    pki_derw_init(&w);
    pki_name_write(&w, n);
    *der = pki_derw_take(&w, len);
    return *der ? 0 : -1;
}

/* One AttributeTypeAndValue into the next slot. */
static int read_atv(pki_name *n, pki_der *set, int joined, char *err, size_t errlen)
{
    pki_der atv;
    pki_der_item oid, val;
    if (pki_der_enter_expect(set, PKI_DER_SEQUENCE, &atv, NULL) ||
        pki_der_expect(&atv, PKI_DER_OID, &oid) || pki_der_next(&atv, &val) ||
        !pki_der_at_end(&atv))
        return seterr(err, errlen, "name: malformed attribute");
    if (n->count >= PKI_NAME_MAX_ATTRS)
        return seterr(err, errlen, "name: more than %d attributes", PKI_NAME_MAX_ATTRS);
    pki_name_attr *a = &n->attr[n->count];
    if (pki_der_oid_text(&oid, a->oid, sizeof a->oid))
        return seterr(err, errlen, "name: bad attribute type");
    if (pki_der_string(&val, a->value, sizeof a->value) || a->value[0] == 0)
        return seterr(err, errlen, "name: attribute %s has no usable string value", a->oid);
    a->joined = joined;
    n->count++;
    return 0;
}

int pki_name_from_der(pki_name *n, const uint8_t *der, size_t len, char *err, size_t errlen)
{
    memset(n, 0, sizeof *n);
    pki_der d, seq, set;
    pki_der_init(&d, der, len);
    if (!der || pki_der_enter_expect(&d, PKI_DER_SEQUENCE, &seq, NULL) || !pki_der_at_end(&d))
        return seterr(err, errlen, "name: not a DER Name");
    while (!pki_der_at_end(&seq)) {
        if (pki_der_enter_expect(&seq, PKI_DER_SET, &set, NULL) || pki_der_at_end(&set))
            return seterr(err, errlen, "name: malformed RDN");
        for (int joined = 0; !pki_der_at_end(&set); joined = 1) {
            int rc = read_atv(n, &set, joined, err, errlen);
            if (rc)
                return rc;
        }
    }
    return 0;
}
