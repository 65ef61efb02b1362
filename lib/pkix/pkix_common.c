/* What the certificate, CSR, CRL and OCSP parsers share: input handling, Names as RFC 4514 text,
 * GeneralNames, and the extensions RFC 5280 defines. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/keys.h"
#include "pkix/pkix_impl.h"
#include "util/encoding.h"

void pkix_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int pkix_input(const uint8_t *data, size_t len, const char *const *labels, const char *what,
               uint8_t **copy, size_t *copy_len, char *err, size_t errlen)
{
    *copy = NULL;
    if (!data || len == 0) {
        pkix_errf(err, errlen, "%s: empty input", what);
        return -1;
    }
    if (len > (size_t)1 << 30) {
        pkix_errf(err, errlen, "%s: too large", what);
        return -1;
    }
    if (labels && memmem(data, len, "-----BEGIN ", 11)) {
        for (size_t i = 0; labels[i]; i++) {
            int rc =
                pki_pem_decode((const char *)data, len, labels[i], copy, copy_len, NULL, 0, NULL);
            if (rc == 0)
                return 0;
            if (rc < 0) {
                pkix_errf(err, errlen, "%s: malformed PEM", what);
                return -1;
            }
        }
        pkix_errf(err, errlen, "%s: no PEM block labelled %s", what, labels[0]);
        return -1;
    }
    *copy = malloc(len);
    if (!*copy) {
        pkix_errf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(*copy, data, len);
    *copy_len = len;
    return 0;
}

char *pki_span_hex(pki_span s)
{
    return pki_hex_encode(s.p, s.len);
}

/* Growable string. */
struct sb {
    char *p;
    size_t len, cap;
    int err;
};

static void sb_add(struct sb *b, const char *s, size_t n)
{
    if (b->err)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 64) + n;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->err = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(struct sb *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static const struct {
    const char *oid;
    const char *name;
} ATTRS[] = {
    {"2.5.4.3", "CN"},
    {"2.5.4.6", "C"},
    {"2.5.4.7", "L"},
    {"2.5.4.8", "ST"},
    {"2.5.4.9", "STREET"},
    {"2.5.4.10", "O"},
    {"2.5.4.11", "OU"},
    {"2.5.4.5", "serialNumber"},
    {"2.5.4.4", "SN"},
    {"2.5.4.42", "GN"},
    {"2.5.4.12", "title"},
    {"2.5.4.97", "organizationIdentifier"},
    {"0.9.2342.19200300.100.1.25", "DC"},
    {"0.9.2342.19200300.100.1.1", "UID"},
    {"1.2.840.113549.1.9.1", "emailAddress"},
};

/* RFC 4514 section 2.4 escaping. */
static void sb_escaped(struct sb *b, const char *v)
{
    size_t n = strlen(v);
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        int esc = strchr(",+\"\\<>;", c) != NULL || (i == 0 && (c == '#' || c == ' ')) ||
                  (i == n - 1 && c == ' ');
        if (esc)
            sb_add(b, "\\", 1);
        sb_add(b, &c, 1);
    }
}

static int append_atv(struct sb *b, const pki_der_item *atv)
{
    pki_der in;
    pki_der_item oid, val;
    char oidtext[96];
    if (pki_der_enter(atv, &in) != 0 || atv->tag != PKI_DER_SEQUENCE ||
        pki_der_expect(&in, PKI_DER_OID, &oid) != 0 || pki_der_next(&in, &val) != 0 ||
        !pki_der_at_end(&in) || pki_der_oid_text(&oid, oidtext, sizeof oidtext) != 0)
        return -1;
    const char *name = oidtext;
    for (size_t i = 0; i < sizeof ATTRS / sizeof ATTRS[0]; i++)
        if (strcmp(ATTRS[i].oid, oidtext) == 0)
            name = ATTRS[i].name;
    sb_str(b, name);
    sb_add(b, "=", 1);
    char text[1024];
    if (pki_der_string(&val, text, sizeof text) == 0)
        sb_escaped(b, text);
    else {
        /* Not a string we can show: RFC 4514 "#" followed by the hex of the BER. */
        char *hex = pki_hex_encode(val.raw, val.raw_len);
        if (!hex)
            return -1;
        sb_add(b, "#", 1);
        sb_str(b, hex);
        free(hex);
    }
    return 0;
}

char *pki_name_to_text(const uint8_t *name_der, size_t len)
{
    pki_der_item name, rdn, atv;
    pki_der rdns, set;
    if (pki_der_single(name_der, len, &name) != 0 || name.tag != PKI_DER_SEQUENCE)
        return NULL;
    /* RFC 4514 writes the RDNs last to first: collect them, then walk backwards. */
    pki_der_item list[64];
    size_t n = 0;
    pki_der_enter(&name, &rdns);
    int rc;
    while ((rc = pki_der_next(&rdns, &rdn)) == 0) {
        if (rdn.tag != PKI_DER_SET || rdn.len == 0 || n == sizeof list / sizeof list[0])
            return NULL;
        list[n++] = rdn;
    }
    if (rc < 0)
        return NULL;
    struct sb b = {0};
    sb_add(&b, "", 0);
    for (size_t i = n; i-- > 0;) {
        if (i != n - 1)
            sb_add(&b, ",", 1);
        pki_der_enter(&list[i], &set);
        int first = 1;
        while ((rc = pki_der_next(&set, &atv)) == 0) {
            if (!first)
                sb_add(&b, "+", 1);
            first = 0;
            if (append_atv(&b, &atv) != 0) {
                free(b.p);
                return NULL;
            }
        }
        if (rc < 0) {
            free(b.p);
            return NULL;
        }
    }
    if (b.err) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

static char *dup_text(const char *s)
{
    return strdup(s);
}

/* One GeneralName to text; 0 on success, -1 malformed. */
static int general_name(const pki_der_item *it, pkix_general_name *g)
{
    char buf[1024];
    g->text = NULL;
    unsigned num = it->tag & 0x1f;
    if ((it->tag & 0xc0) != 0x80)
        return -1;
    switch (num) {
    case 1:
    case 2:
    case 6: {
        pki_der_item s = *it;
        s.tag = PKI_DER_IA5_STRING;
        if ((it->tag & 0x20) || pki_der_string(&s, buf, sizeof buf) != 0)
            return -1;
        g->type = num == 1 ? PKIX_GN_EMAIL : num == 2 ? PKIX_GN_DNS : PKIX_GN_URI;
        g->text = dup_text(buf);
        break;
    }
    case 7:
        if (it->tag & 0x20)
            return -1;
        g->type = PKIX_GN_IP;
        if (it->len == 4)
            inet_ntop(AF_INET, it->val, buf, sizeof buf);
        else if (it->len == 16)
            inet_ntop(AF_INET6, it->val, buf, sizeof buf);
        else
            return -1;
        g->text = dup_text(buf);
        break;
    case 4: {
        pki_der in;
        pki_der_item name;
        if (pki_der_enter(it, &in) != 0 || pki_der_expect(&in, PKI_DER_SEQUENCE, &name) != 0 ||
            !pki_der_at_end(&in))
            return -1;
        g->type = PKIX_GN_DIRNAME;
        g->text = pki_name_to_text(name.raw, name.raw_len);
        if (!g->text)
            return -1;
        break;
    }
    case 8: {
        pki_der_item o = *it;
        o.tag = PKI_DER_OID;
        if ((it->tag & 0x20) || pki_der_oid_text(&o, buf, sizeof buf) != 0)
            return -1;
        g->type = PKIX_GN_RID;
        g->text = dup_text(buf);
        break;
    }
    case 0: {
        pki_der in, vin;
        pki_der_item oid, wrap, val;
        if (pki_der_enter(it, &in) != 0 || pki_der_expect(&in, PKI_DER_OID, &oid) != 0 ||
            pki_der_expect(&in, PKI_DER_CTX_CONS(0), &wrap) != 0 || !pki_der_at_end(&in))
            return -1;
        g->type = PKIX_GN_OTHER;
        if (pki_der_oid_is(&oid, "1.3.6.1.4.1.311.20.2.3")) {
            pki_der_enter(&wrap, &vin);
            if (pki_der_expect(&vin, PKI_DER_UTF8_STRING, &val) != 0 || !pki_der_at_end(&vin) ||
                pki_der_string(&val, buf, sizeof buf) != 0)
                return -1;
            g->type = PKIX_GN_UPN;
            g->text = dup_text(buf);
        } else
            g->text = dup_text("");
        break;
    }
    case 3:
    case 5:
        if (!(it->tag & 0x20))
            return -1;
        g->type = (pkix_gn_type)num;
        g->text = dup_text("");
        break;
    default:
        return -1;
    }
    return g->text ? 0 : -1;
}

void pkix_general_names_free(pkix_general_name *g, size_t n)
{
    if (!g)
        return;
    for (size_t i = 0; i < n; i++)
        free(g[i].text);
    free(g);
}

int pkix_general_names(const pki_der_item *seq, pkix_general_name **out, size_t *n)
{
    pki_der in;
    pki_der_item it;
    *out = NULL;
    *n = 0;
    if (seq->tag != PKI_DER_SEQUENCE || pki_der_enter(seq, &in) != 0)
        return -1;
    size_t count = 0;
    pkix_general_name *g = NULL;
    int rc;
    while ((rc = pki_der_next(&in, &it)) == 0) {
        if (count == PKI_PKIX_MAX_NAMES)
            goto fail;
        pkix_general_name *ng = realloc(g, (count + 1) * sizeof *g);
        if (!ng)
            goto fail;
        g = ng;
        if (general_name(&it, &g[count]) != 0) {
            free(g[count].text);
            goto fail;
        }
        count++;
    }
    if (rc < 0 || count == 0) /* RFC 5280: GeneralNames has at least one entry */
        goto fail;
    *out = g;
    *n = count;
    return 0;
fail:
    pkix_general_names_free(g, count);
    return -1;
}

void pkix_extensions_clear(pki_extensions *e)
{
    free(e->items);
    free(e->eku);
    pkix_general_names_free(e->san, e->n_san);
    memset(e, 0, sizeof *e);
    e->path_len = -1;
}

const pki_extension *pki_extensions_find(const pki_extensions *e, const char *oid)
{
    for (size_t i = 0; e && i < e->count; i++)
        if (strcmp(e->items[i].oid, oid) == 0)
            return &e->items[i];
    return NULL;
}

static int ext_basic_constraints(pki_extensions *e, const pki_extension *x)
{
    pki_der_item seq, it;
    pki_der in;
    if (pki_der_single(x->value.p, x->value.len, &seq) != 0 || seq.tag != PKI_DER_SEQUENCE)
        return -1;
    pki_der_enter(&seq, &in);
    e->has_basic_constraints = 1;
    if (pki_der_optional(&in, PKI_DER_BOOLEAN, &it) == 0 && pki_der_boolean(&it, &e->is_ca) != 0)
        return -1;
    if (pki_der_optional(&in, PKI_DER_INTEGER, &it) == 0) {
        uint64_t v;
        if (pki_der_int_u64(&it, &v) != 0 || v > 255)
            return -1;
        e->path_len = (int)v;
    }
    return pki_der_at_end(&in) ? 0 : -1;
}

static int ext_eku(pki_extensions *e, const pki_extension *x)
{
    pki_der_item seq, it;
    pki_der in;
    if (pki_der_single(x->value.p, x->value.len, &seq) != 0 || seq.tag != PKI_DER_SEQUENCE)
        return -1;
    pki_der_enter(&seq, &in);
    int rc;
    while ((rc = pki_der_next(&in, &it)) == 0) {
        if (e->n_eku == PKI_PKIX_MAX_NAMES)
            return -1;
        char(*n)[64] = realloc(e->eku, (e->n_eku + 1) * sizeof *e->eku);
        if (!n)
            return -1;
        e->eku = n;
        if (pki_der_oid_text(&it, e->eku[e->n_eku], sizeof e->eku[0]) != 0)
            return -1;
        e->n_eku++;
    }
    return rc < 0 || e->n_eku == 0 ? -1 : 0;
}

static int ext_aki(pki_extensions *e, const pki_extension *x)
{
    pki_der_item seq, it;
    pki_der in;
    if (pki_der_single(x->value.p, x->value.len, &seq) != 0 || seq.tag != PKI_DER_SEQUENCE)
        return -1;
    pki_der_enter(&seq, &in);
    if (pki_der_optional(&in, PKI_DER_CTX(0), &it) == 0)
        e->aki_key_id = pkix_span(it.val, it.len);
    if (pki_der_optional(&in, PKI_DER_CTX_CONS(1), &it) < 0)
        return -1;
    if (pki_der_optional(&in, PKI_DER_CTX(2), &it) < 0)
        return -1;
    return pki_der_at_end(&in) ? 0 : -1;
}

/* Decodes the extensions we know; unknown ones stay raw. */
static int ext_decode(pki_extensions *e, const pki_extension *x)
{
    pki_der_item it;
    if (strcmp(x->oid, "2.5.29.19") == 0)
        return ext_basic_constraints(e, x);
    if (strcmp(x->oid, "2.5.29.15") == 0) {
        e->has_key_usage = 1;
        return pki_der_single(x->value.p, x->value.len, &it) == 0 &&
                       pki_der_bit_string_flags(&it, &e->key_usage) == 0 && e->key_usage != 0
                   ? 0
                   : -1;
    }
    if (strcmp(x->oid, "2.5.29.37") == 0)
        return ext_eku(e, x);
    if (strcmp(x->oid, "2.5.29.17") == 0)
        return pki_der_single(x->value.p, x->value.len, &it) == 0
                   ? pkix_general_names(&it, &e->san, &e->n_san)
                   : -1;
    if (strcmp(x->oid, "2.5.29.14") == 0) {
        if (pki_der_single(x->value.p, x->value.len, &it) != 0 || it.tag != PKI_DER_OCTET_STRING)
            return -1;
        e->ski = pkix_span(it.val, it.len);
        return 0;
    }
    if (strcmp(x->oid, "2.5.29.35") == 0)
        return ext_aki(e, x);
    return 0;
}

int pkix_extensions_parse(const pki_der_item *seq, pki_extensions *out, char *err, size_t errlen)
{
    pki_der in, ext;
    pki_der_item item, oid, crit, val;
    memset(out, 0, sizeof *out);
    out->path_len = -1;
    if (seq->tag != PKI_DER_SEQUENCE || pki_der_enter(seq, &in) != 0 || seq->len == 0) {
        pkix_errf(err, errlen, "malformed extensions");
        return -1;
    }
    int rc;
    while ((rc = pki_der_next(&in, &item)) == 0) {
        if (out->count == PKI_PKIX_MAX_EXTENSIONS) {
            pkix_errf(err, errlen, "too many extensions");
            goto fail;
        }
        pki_extension *n = realloc(out->items, (out->count + 1) * sizeof *n);
        if (!n) {
            pkix_errf(err, errlen, "out of memory");
            goto fail;
        }
        out->items = n;
        pki_extension *x = &out->items[out->count];
        memset(x, 0, sizeof *x);
        if (item.tag != PKI_DER_SEQUENCE || pki_der_enter(&item, &ext) != 0 ||
            pki_der_expect(&ext, PKI_DER_OID, &oid) != 0 ||
            pki_der_oid_text(&oid, x->oid, sizeof x->oid) != 0 ||
            (pki_der_optional(&ext, PKI_DER_BOOLEAN, &crit) == 0 &&
             pki_der_boolean(&crit, &x->critical) != 0) ||
            pki_der_expect(&ext, PKI_DER_OCTET_STRING, &val) != 0 || !pki_der_at_end(&ext)) {
            pkix_errf(err, errlen, "malformed extension");
            goto fail;
        }
        x->value = pkix_span(val.val, val.len);
        if (pki_extensions_find(out, x->oid)) {
            pkix_errf(err, errlen, "extension %s appears twice", x->oid);
            goto fail;
        }
        out->count++;
        if (ext_decode(out, x) != 0) {
            pkix_errf(err, errlen, "malformed extension %s", x->oid);
            goto fail;
        }
    }
    if (rc < 0) {
        pkix_errf(err, errlen, "malformed extensions");
        goto fail;
    }
    return 0;
fail:
    pkix_extensions_clear(out);
    return -1;
}

int pkix_signed_split(const uint8_t *der, size_t der_len, const char *what, const char *asn1_name,
                      pki_der_item *tbs, pki_der_item *alg, pki_span *signature, char *err,
                      size_t errlen)
{
    pki_der_item top, sig;
    pki_der body;
    if (pki_der_single(der, der_len, &top) != 0 || top.tag != PKI_DER_SEQUENCE ||
        pki_der_enter(&top, &body) != 0 || pki_der_expect(&body, PKI_DER_SEQUENCE, tbs) != 0 ||
        pki_der_expect(&body, PKI_DER_SEQUENCE, alg) != 0 ||
        pki_der_expect(&body, PKI_DER_BIT_STRING, &sig) != 0 || !pki_der_at_end(&body) ||
        pki_der_bit_string_octets(&sig, &signature->p, &signature->len) != 0) {
        pkix_errf(err, errlen, "%s: malformed (not a DER %s)", what, asn1_name);
        return -1;
    }
    return 0;
}

int pkix_same_alg(const pki_span *inner, const pki_der_item *outer, const char *what, char *err,
                  size_t errlen)
{
    if (inner->len != outer->raw_len || memcmp(inner->p, outer->raw, outer->raw_len) != 0) {
        pkix_errf(err, errlen, "%s: signature algorithm differs inside and outside", what);
        return -1;
    }
    return 0;
}

int pkix_verify_signed(pki_sig_alg alg, const pki_span *tbs, const pki_span *signature,
                       const uint8_t *spki, size_t spki_len)
{
    if (!alg)
        return -1;
    return pki_spki_verify(spki, spki_len, alg, tbs->p, tbs->len, signature->p, signature->len) ==
                   PKI_SIGN_OK
               ? 0
               : -1;
}

int pkix_begin(const uint8_t *data, size_t len, const char *const *labels, const char *what,
               const char *asn1_name, void **priv, pki_span *der, pki_der_item *tbs,
               pki_der_item *alg, pki_span *signature, char *err, size_t errlen)
{
    uint8_t *copy;
    size_t copy_len;
    if (pkix_input(data, len, labels, what, &copy, &copy_len, err, errlen) != 0)
        return -1;
    *priv = copy;
    *der = pkix_span(copy, copy_len);
    return pkix_signed_split(copy, copy_len, what, asn1_name, tbs, alg, signature, err, errlen);
}
