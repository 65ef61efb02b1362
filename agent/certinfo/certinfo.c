#include "certinfo/certinfo.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/hash.h>

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "der/der_reader.h"
#include "keys/keys.h"
#include "link/link.h"
#include "util/encoding.h"
#include "util/timefmt.h"

#define OID_BASIC_CONSTRAINTS "2.5.29.19"
#define OID_KEY_USAGE "2.5.29.15"
#define OID_SKI "2.5.29.14"
#define OID_AKI "2.5.29.35"

static int fail(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return -1;
}

/* Name ::= SEQUENCE OF RelativeDistinguishedName (SET OF AttributeTypeAndValue). */
static int read_name(const pki_der_item *it, pki_name *n)
{
    pki_der rdns, rdn, atv;
    pki_der_item set, seq, oid, val;
    memset(n, 0, sizeof *n);
    if (pki_der_enter(it, &rdns) != 0)
        return -1;
    while (!pki_der_at_end(&rdns)) {
        if (pki_der_expect(&rdns, PKI_DER_SET, &set) != 0 || pki_der_enter(&set, &rdn) != 0)
            return -1;
        int first = 1;
        while (!pki_der_at_end(&rdn)) {
            if (n->count >= PKI_NAME_MAX_ATTRS ||
                pki_der_enter_expect(&rdn, PKI_DER_SEQUENCE, &atv, &seq) != 0 ||
                pki_der_expect(&atv, PKI_DER_OID, &oid) != 0 || pki_der_next(&atv, &val) != 0)
                return -1;
            pki_name_attr *a = &n->attr[n->count];
            if (pki_der_oid_text(&oid, a->oid, sizeof a->oid) != 0 ||
                pki_der_string(&val, a->value, sizeof a->value) != 0)
                return -1;
            a->joined = !first;
            first = 0;
            n->count++;
        }
    }
    return 0;
}

static int read_extensions(certinfo *ci, const pki_der_item *it)
{
    pki_der outer, list, ext;
    pki_der_item seq, oid, crit, val;
    if (pki_der_enter(it, &outer) != 0 ||
        pki_der_enter_expect(&outer, PKI_DER_SEQUENCE, &list, NULL) != 0)
        return -1;
    while (!pki_der_at_end(&list)) {
        if (ci->n_exts >= CERTINFO_MAX_EXTS ||
            pki_der_enter_expect(&list, PKI_DER_SEQUENCE, &ext, &seq) != 0 ||
            pki_der_expect(&ext, PKI_DER_OID, &oid) != 0)
            return -1;
        certinfo_ext *e = &ci->exts[ci->n_exts];
        if (pki_der_oid_text(&oid, e->oid, sizeof e->oid) != 0)
            return -1;
        int r = pki_der_optional(&ext, PKI_DER_BOOLEAN, &crit);
        if (r < 0 || (r == 0 && pki_der_boolean(&crit, &e->critical) != 0))
            return -1;
        if (pki_der_expect(&ext, PKI_DER_OCTET_STRING, &val) != 0 || !pki_der_at_end(&ext))
            return -1;
        for (size_t i = 0; i < ci->n_exts; i++)
            if (strcmp(ci->exts[i].oid, e->oid) == 0)
                return -1; /* RFC 5280: one instance per extension */
        e->value = val.val;
        e->len = val.len;
        ci->n_exts++;
        if (strcmp(e->oid, OID_BASIC_CONSTRAINTS) == 0) {
            pki_der bc;
            pki_der_item b;
            if (pki_der_single(val.val, val.len, &b) != 0 || pki_der_enter(&b, &bc) != 0)
                return -1;
            pki_der_item ca, pl;
            if (pki_der_optional(&bc, PKI_DER_BOOLEAN, &ca) == 0 &&
                pki_der_boolean(&ca, &ci->is_ca) != 0)
                return -1;
            long v;
            if (pki_der_optional(&bc, PKI_DER_INTEGER, &pl) == 0) {
                if (pki_der_int_long(&pl, &v) != 0 || v < 0 || v > 255)
                    return -1;
                ci->path_len = (int)v;
            }
        } else if (strcmp(e->oid, OID_KEY_USAGE) == 0) {
            pki_der_item ku;
            if (pki_der_single(val.val, val.len, &ku) != 0 || ku.tag != PKI_DER_BIT_STRING ||
                pki_der_bit_string_flags(&ku, &ci->key_usage) != 0)
                return -1;
            ci->has_key_usage = 1;
        }
    }
    return pki_der_at_end(&outer) ? 0 : -1;
}

static int parse_der(certinfo *ci, char *err, size_t errlen)
{
    pki_der_item cert, tbs_it, it;
    pki_der c, tbs;
    if (pki_der_single(ci->der, ci->der_len, &cert) != 0 || cert.tag != PKI_DER_SEQUENCE ||
        pki_der_enter(&cert, &c) != 0 ||
        pki_der_enter_expect(&c, PKI_DER_SEQUENCE, &tbs, &tbs_it) != 0)
        return fail(err, errlen, "not an X.509 certificate");
    /* version [0] EXPLICIT, optional */
    if (pki_der_optional(&tbs, PKI_DER_CTX_CONS(0), &it) < 0 ||
        pki_der_expect(&tbs, PKI_DER_INTEGER, &it) != 0 ||
        pki_der_int_unsigned_bytes(&it, &ci->serial, &ci->serial_len) != 0)
        return fail(err, errlen, "certificate: bad version or serial number");
    if (pki_der_expect(&tbs, PKI_DER_SEQUENCE, &it) != 0)
        return fail(err, errlen, "certificate: bad signature algorithm");
    if (pki_der_expect(&tbs, PKI_DER_SEQUENCE, &it) != 0 || read_name(&it, &ci->issuer) != 0)
        return fail(err, errlen, "certificate: bad issuer name");
    ci->issuer_der = it.raw;
    ci->issuer_der_len = it.raw_len;
    pki_der val;
    pki_der_item t1, t2;
    if (pki_der_enter_expect(&tbs, PKI_DER_SEQUENCE, &val, NULL) != 0 ||
        pki_der_next(&val, &t1) != 0 || pki_der_time(&t1, &ci->not_before) != 0 ||
        pki_der_next(&val, &t2) != 0 || pki_der_time(&t2, &ci->not_after) != 0)
        return fail(err, errlen, "certificate: bad validity");
    if (pki_der_expect(&tbs, PKI_DER_SEQUENCE, &it) != 0 || read_name(&it, &ci->subject) != 0)
        return fail(err, errlen, "certificate: bad subject name");
    ci->subject_der = it.raw;
    ci->subject_der_len = it.raw_len;
    if (pki_der_expect(&tbs, PKI_DER_SEQUENCE, &it) != 0)
        return fail(err, errlen, "certificate: bad public key");
    ci->spki = it.raw;
    ci->spki_len = it.raw_len;
    ci->path_len = -1;
    while (!pki_der_at_end(&tbs)) {
        if (pki_der_next(&tbs, &it) != 0)
            return fail(err, errlen, "certificate: malformed");
        if (it.tag == PKI_DER_CTX_CONS(3) && read_extensions(ci, &it) != 0)
            return fail(err, errlen, "certificate: malformed extensions");
    }
    pki_der_item sigalg, sig;
    if (pki_der_expect(&c, PKI_DER_SEQUENCE, &sigalg) != 0 ||
        pki_der_expect(&c, PKI_DER_BIT_STRING, &sig) != 0 || !pki_der_at_end(&c) ||
        pki_der_bit_string_octets(&sig, &ci->sig, &ci->sig_len) != 0)
        return fail(err, errlen, "certificate: bad signature");
    ci->tbs = tbs_it.raw;
    ci->tbs_len = tbs_it.raw_len;
    ci->sig_alg = sigalg.raw;
    ci->sig_alg_len = sigalg.raw_len;
    return 0;
}

static bool blank(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
            return false;
    return true;
}

int certinfo_parse(certinfo *ci, const uint8_t *data, size_t len, char *err, size_t errlen)
{
    memset(ci, 0, sizeof *ci);
    if (!data || len == 0 || blank(data, len))
        return fail(err, errlen, "no certificate given");
    if (data[0] == 0x30) {
        ci->der = malloc(len);
        if (!ci->der)
            return fail(err, errlen, "out of memory");
        memcpy(ci->der, data, len);
        ci->der_len = len;
    } else {
        size_t end = 0;
        int r = pki_pem_decode((const char *)data, len, "CERTIFICATE", &ci->der, &ci->der_len, NULL,
                               0, &end);
        if (r != 0) {
            certinfo_free(ci);
            return fail(err, errlen,
                        r == 1 ? "no PEM certificate found (expected -----BEGIN CERTIFICATE-----)"
                               : "the PEM certificate is malformed");
        }
        if (!blank(data + end, len - end)) {
            certinfo_free(ci);
            return fail(err, errlen, "expected exactly one certificate");
        }
    }
    if (parse_der(ci, err, errlen) != 0) {
        certinfo_free(ci);
        return -1;
    }
    return 0;
}

void certinfo_free(certinfo *ci)
{
    free(ci->der);
    memset(ci, 0, sizeof *ci);
}

int certinfo_parse_chain(const char *pem, size_t len, certinfo **out, size_t *n, char *err,
                         size_t errlen)
{
    *out = NULL;
    *n = 0;
    size_t pos = 0, cap = 0;
    certinfo *arr = NULL;
    while (pos < len && !blank((const uint8_t *)pem + pos, len - pos)) {
        uint8_t *der = NULL;
        size_t der_len = 0, end = 0;
        int r = pki_pem_decode(pem + pos, len - pos, "CERTIFICATE", &der, &der_len, NULL, 0, &end);
        if (r != 0) {
            snprintf(err, errlen, "chain: certificate %zu: %s", *n + 1,
                     r == 1 ? "no PEM certificate found" : "malformed PEM");
            goto bad;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 4;
            certinfo *grown = cap <= 16 ? realloc(arr, cap * sizeof *arr) : NULL;
            if (!grown) {
                free(der);
                fail(err, errlen, "chain: too many certificates (at most 16)");
                goto bad;
            }
            arr = grown;
        }
        char e2[160];
        int pr = certinfo_parse(&arr[*n], der, der_len, e2, sizeof e2);
        free(der);
        if (pr != 0) {
            snprintf(err, errlen, "chain: certificate %zu: %s", *n + 1, e2);
            goto bad;
        }
        (*n)++;
        pos += end;
    }
    if (*n == 0) {
        fail(err, errlen, "no certificate in the chain");
        goto bad;
    }
    *out = arr;
    return 0;
bad:
    for (size_t i = 0; i < *n; i++)
        certinfo_free(&arr[i]);
    free(arr);
    *n = 0;
    return -1;
}

char *certinfo_pem(const certinfo *ci)
{
    char *pem = NULL;
    size_t len = 0;
    if (pki_pem_encode("CERTIFICATE", ci->der, ci->der_len, &pem, &len) != 0)
        return NULL;
    return pem;
}

static json_t *hex_json(const uint8_t *p, size_t len, char sep)
{
    char *s = malloc(len * 3 + 1);
    if (!s)
        return json_null();
    size_t o = 0;
    for (size_t i = 0; i < len; i++)
        o += (size_t)sprintf(s + o, i + 1 < len && sep ? "%02X%c" : "%02X", p[i], sep);
    s[o] = '\0';
    json_t *j = json_string(s);
    free(s);
    return j;
}

json_t *certinfo_json(const certinfo *ci)
{
    char name[2048], nb[32] = "", na[32] = "";
    json_t *j = json_object();
    if (pki_name_format(&ci->subject, PKI_NAME_RFC4514, name, sizeof name) == 0)
        json_object_set_new(j, "subject", json_string(name));
    if (pki_name_format(&ci->issuer, PKI_NAME_RFC4514, name, sizeof name) == 0)
        json_object_set_new(j, "issuer", json_string(name));
    json_object_set_new(j, "serial", hex_json(ci->serial, ci->serial_len, ':'));
    pki_time_to_rfc3339(ci->not_before, nb, sizeof nb);
    pki_time_to_rfc3339(ci->not_after, na, sizeof na);
    json_object_set_new(j, "not_before", json_string(nb));
    json_object_set_new(j, "not_after", json_string(na));
    pki_key_type type;
    unsigned bits = 0;
    char e[128];
    if (pki_spki_info(ci->spki, ci->spki_len, &type, &bits, e, sizeof e) == 0) {
        json_object_set_new(j, "key_type", json_string(pki_key_type_name(type)));
        if (bits)
            json_object_set_new(j, "rsa_bits", json_integer(bits));
    }
    uint8_t fp[32];
    if (wc_Sha256Hash(ci->der, (word32)ci->der_len, fp) == 0)
        json_object_set_new(j, "sha256_fingerprint", hex_json(fp, sizeof fp, ':'));
    json_object_set_new(j, "is_ca", json_boolean(ci->is_ca));
    if (ci->is_ca && ci->path_len >= 0)
        json_object_set_new(j, "path_len", json_integer(ci->path_len));
    json_t *exts = json_array();
    for (size_t i = 0; i < ci->n_exts; i++)
        json_array_append_new(
            exts, json_pack("{s:s,s:b}", "oid", ci->exts[i].oid, "critical", ci->exts[i].critical));
    json_object_set_new(j, "extensions", exts);
    return j;
}

static const char *pool_add(certinfo_tpl *tpl, const char *text, size_t len)
{
    if (tpl->pool_used + len + 1 > sizeof tpl->pool)
        return NULL;
    char *p = tpl->pool + tpl->pool_used;
    memcpy(p, text, len);
    p[len] = '\0';
    tpl->pool_used += len + 1;
    return p;
}

/* An IA5String-ish element ([6] URI, [2] dNSName, [1] rfc822Name) copied to the pool. */
static const char *pool_ia5(certinfo_tpl *tpl, const pki_der_item *it)
{
    for (size_t i = 0; i < it->len; i++)
        if (it->val[i] < 0x20 || it->val[i] > 0x7e)
            return NULL;
    return pool_add(tpl, (const char *)it->val, it->len);
}

static int decode_general_name(certinfo_tpl *tpl, const pki_der_item *g)
{
    if (tpl->n_san >= sizeof tpl->san / sizeof tpl->san[0])
        return -1;
    pki_general_name *gn = &tpl->san[tpl->n_san];
    char ip[64];
    switch (g->tag) {
    case PKI_DER_CTX(1):
        gn->type = PKI_GN_EMAIL;
        gn->value = pool_ia5(tpl, g);
        break;
    case PKI_DER_CTX(2):
        gn->type = PKI_GN_DNS;
        gn->value = pool_ia5(tpl, g);
        break;
    case PKI_DER_CTX(6):
        gn->type = PKI_GN_URI;
        gn->value = pool_ia5(tpl, g);
        break;
    case PKI_DER_CTX(7):
        gn->type = PKI_GN_IP;
        if (g->len == 4)
            snprintf(ip, sizeof ip, "%u.%u.%u.%u", g->val[0], g->val[1], g->val[2], g->val[3]);
        else if (g->len == 16 && inet_ntop(AF_INET6, g->val, ip, sizeof ip))
            ;
        else
            return -1;
        gn->value = pool_add(tpl, ip, strlen(ip));
        break;
    default:
        return -1;
    }
    if (!gn->value)
        return -1;
    tpl->n_san++;
    return 0;
}

static int decode_san(certinfo_tpl *tpl, const certinfo_ext *e)
{
    pki_der_item it, g;
    pki_der d;
    if (pki_der_single(e->value, e->len, &it) != 0 || pki_der_enter(&it, &d) != 0)
        return -1;
    while (!pki_der_at_end(&d))
        if (pki_der_next(&d, &g) != 0 || decode_general_name(tpl, &g) != 0)
            return -1;
    return 0;
}

static int decode_eku(certinfo_tpl *tpl, const certinfo_ext *e)
{
    pki_der_item it, o;
    pki_der d;
    char oid[48];
    if (pki_der_single(e->value, e->len, &it) != 0 || pki_der_enter(&it, &d) != 0)
        return -1;
    while (!pki_der_at_end(&d)) {
        if (tpl->n_eku >= sizeof tpl->eku / sizeof tpl->eku[0] ||
            pki_der_expect(&d, PKI_DER_OID, &o) != 0 ||
            pki_der_oid_text(&o, oid, sizeof oid) != 0 ||
            !(tpl->eku[tpl->n_eku] = pool_add(tpl, oid, strlen(oid))))
            return -1;
        tpl->n_eku++;
    }
    return 0;
}

/* CRLDistributionPoints: fullName URIs only. */
static int decode_crldp(certinfo_tpl *tpl, const certinfo_ext *e)
{
    pki_der_item it, dp, g;
    pki_der d, dpd, name, full;
    if (pki_der_single(e->value, e->len, &it) != 0 || pki_der_enter(&it, &d) != 0)
        return -1;
    while (!pki_der_at_end(&d)) {
        if (pki_der_enter_expect(&d, PKI_DER_SEQUENCE, &dpd, &dp) != 0 ||
            pki_der_enter_expect(&dpd, PKI_DER_CTX_CONS(0), &name, NULL) != 0 ||
            pki_der_enter_expect(&name, PKI_DER_CTX_CONS(0), &full, NULL) != 0)
            return -1;
        while (!pki_der_at_end(&full)) {
            if (pki_der_expect(&full, PKI_DER_CTX(6), &g) != 0 ||
                tpl->n_crl >= sizeof tpl->crl / sizeof tpl->crl[0] ||
                !(tpl->crl[tpl->n_crl] = pool_ia5(tpl, &g)))
                return -1;
            tpl->n_crl++;
        }
    }
    return 0;
}

static int decode_aia(certinfo_tpl *tpl, const certinfo_ext *e)
{
    pki_der_item it, o, g;
    pki_der d, ad;
    if (pki_der_single(e->value, e->len, &it) != 0 || pki_der_enter(&it, &d) != 0)
        return -1;
    while (!pki_der_at_end(&d)) {
        if (pki_der_enter_expect(&d, PKI_DER_SEQUENCE, &ad, NULL) != 0 ||
            pki_der_expect(&ad, PKI_DER_OID, &o) != 0 ||
            pki_der_expect(&ad, PKI_DER_CTX(6), &g) != 0)
            return -1;
        bool ocsp = pki_der_oid_is(&o, "1.3.6.1.5.5.7.48.1");
        if (!ocsp && !pki_der_oid_is(&o, "1.3.6.1.5.5.7.48.2"))
            return -1;
        const char **list = ocsp ? tpl->ocsp : tpl->ca_issuers;
        size_t *n = ocsp ? &tpl->n_ocsp : &tpl->n_ca_issuers;
        if (*n >= 8 || !(list[*n] = pool_ia5(tpl, &g)))
            return -1;
        (*n)++;
    }
    return 0;
}

/* certificatePolicies: policy OIDs with at most one CPS URI qualifier each. */
static int decode_policies(certinfo_tpl *tpl, const certinfo_ext *e)
{
    pki_der_item it, o, q;
    pki_der d, pi, quals, qi;
    char oid[48];
    if (pki_der_single(e->value, e->len, &it) != 0 || pki_der_enter(&it, &d) != 0)
        return -1;
    while (!pki_der_at_end(&d)) {
        if (tpl->n_policies >= sizeof tpl->policies / sizeof tpl->policies[0] ||
            pki_der_enter_expect(&d, PKI_DER_SEQUENCE, &pi, NULL) != 0 ||
            pki_der_expect(&pi, PKI_DER_OID, &o) != 0 || pki_der_oid_text(&o, oid, sizeof oid) != 0)
            return -1;
        pki_policy *p = &tpl->policies[tpl->n_policies];
        if (!(p->oid = pool_add(tpl, oid, strlen(oid))))
            return -1;
        p->cps_uri = NULL;
        if (!pki_der_at_end(&pi)) {
            if (pki_der_enter_expect(&pi, PKI_DER_SEQUENCE, &quals, NULL) != 0)
                return -1;
            while (!pki_der_at_end(&quals)) {
                if (pki_der_enter_expect(&quals, PKI_DER_SEQUENCE, &qi, NULL) != 0 ||
                    pki_der_expect(&qi, PKI_DER_OID, &o) != 0 ||
                    !pki_der_oid_is(&o, "1.3.6.1.5.5.7.2.1") || p->cps_uri ||
                    pki_der_expect(&qi, PKI_DER_IA5_STRING, &q) != 0 ||
                    !(p->cps_uri = pool_ia5(tpl, &q)))
                    return -1; /* only one CPS pointer per policy is carried over */
            }
        }
        tpl->n_policies++;
    }
    return 0;
}

void certinfo_tpl_free(certinfo_tpl *tpl)
{
    pki_exts_free(&tpl->exts);
}

int certinfo_to_template(const certinfo *ci, const uint8_t *spki, size_t spki_len,
                         pki_cert_template *t, certinfo_tpl *tpl, char *err, size_t errlen)
{
    pki_cert_template_init(t);
    memset(tpl, 0, sizeof *tpl);
    pki_exts_init(&tpl->exts);
    if (ci->subject.count == 0)
        return fail(err, errlen, "the provisioning certificate has an empty subject");
    if (!ci->is_ca)
        return fail(err, errlen,
                    "the provisioning certificate is not a CA template (basicConstraints cA "
                    "is not set)");
    t->subject = ci->subject;
    t->not_before = ci->not_before;
    t->not_after = ci->not_after;
    t->spki = spki;
    t->spki_len = spki_len;
    t->is_ca = 1;
    t->path_len = ci->path_len;
    t->key_usage = ci->has_key_usage ? ci->key_usage : 0;
    for (size_t i = 0; i < ci->n_exts; i++) {
        const certinfo_ext *e = &ci->exts[i];
        int rc = 0;
        if (!strcmp(e->oid, OID_BASIC_CONSTRAINTS) || !strcmp(e->oid, OID_KEY_USAGE) ||
            !strcmp(e->oid, OID_SKI) || !strcmp(e->oid, OID_AKI) ||
            !strcmp(e->oid, LINK_PROVISIONING_OID))
            continue; /* the relay's enrolment data belongs to the template only */
        if (!strcmp(e->oid, "2.5.29.17"))
            rc = decode_san(tpl, e);
        else if (!strcmp(e->oid, "2.5.29.37"))
            rc = decode_eku(tpl, e);
        else if (!strcmp(e->oid, "2.5.29.31"))
            rc = decode_crldp(tpl, e);
        else if (!strcmp(e->oid, "2.5.29.32"))
            rc = decode_policies(tpl, e);
        else if (!strcmp(e->oid, "1.3.6.1.5.5.7.1.1"))
            rc = decode_aia(tpl, e);
        else if (!strcmp(e->oid, "1.3.6.1.5.5.7.48.1.5"))
            tpl->ocsp_nocheck = 1;
        else if (!strcmp(e->oid, "1.3.6.1.4.1.11129.2.4.3"))
            rc = -1; /* a CT precertificate poison has no place in a CA certificate */
        else
            rc = pki_exts_add(&tpl->exts, e->oid, e->critical, e->value, e->len);
        if (rc != 0) {
            snprintf(err, errlen, "provisioning certificate: extension %s cannot be carried over",
                     e->oid);
            certinfo_tpl_free(tpl);
            return -1;
        }
    }
    t->san = tpl->san;
    t->san_count = tpl->n_san;
    t->eku = tpl->eku;
    t->eku_count = tpl->n_eku;
    t->crl_urls = tpl->crl;
    t->crl_url_count = tpl->n_crl;
    t->ocsp_urls = tpl->ocsp;
    t->ocsp_url_count = tpl->n_ocsp;
    t->ca_issuer_urls = tpl->ca_issuers;
    t->ca_issuer_url_count = tpl->n_ca_issuers;
    t->policies = tpl->policies;
    t->policy_count = tpl->n_policies;
    t->ocsp_nocheck = tpl->ocsp_nocheck;
    t->extra = &tpl->exts;
    return 0;
}

static bool same_name(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    return al == bl && memcmp(a, b, al) == 0;
}

int certinfo_verify_chain(const certinfo *leaf, const certinfo *chain, size_t n, char *err,
                          size_t errlen)
{
    /* The chain must be in order (each certificate issued by the next) and end in a
     * self-signed root; names are compared byte for byte, signatures by wolfSSL. */
    const certinfo *prev = leaf;
    for (size_t i = 0; i < n; i++) {
        if (!same_name(prev->issuer_der, prev->issuer_der_len, chain[i].subject_der,
                       chain[i].subject_der_len)) {
            snprintf(err, errlen, "chain: certificate %zu is not the issuer of the one before it",
                     i + 1);
            return -1;
        }
        if (!chain[i].is_ca) {
            snprintf(err, errlen, "chain: certificate %zu is not a CA certificate", i + 1);
            return -1;
        }
        prev = &chain[i];
    }
    if (!same_name(prev->issuer_der, prev->issuer_der_len, prev->subject_der,
                   prev->subject_der_len))
        return fail(err, errlen, "the chain is incomplete: paste every certificate up to the root");
    WOLFSSL_CERT_MANAGER *cm = wolfSSL_CertManagerNew();
    if (!cm)
        return fail(err, errlen, "out of memory");
    const certinfo *all[17];
    size_t total = 0;
    all[total++] = leaf;
    for (size_t i = 0; i < n && total < 17; i++)
        all[total++] = &chain[i];
    /* Trust the root, then verify downwards, adding each verified CA as we go. */
    int rc = 0;
    for (size_t k = total; k-- > 0 && rc == 0;) {
        const certinfo *c = all[k];
        if (k == total - 1 &&
            wolfSSL_CertManagerLoadCABuffer(cm, c->der, (long)c->der_len, WOLFSSL_FILETYPE_ASN1) !=
                WOLFSSL_SUCCESS) {
            rc = fail(err, errlen, "the root certificate cannot be used as a trust anchor");
            break;
        }
        int v =
            wolfSSL_CertManagerVerifyBuffer(cm, c->der, (long)c->der_len, WOLFSSL_FILETYPE_ASN1);
        if (v != WOLFSSL_SUCCESS) {
            snprintf(err, errlen, "%s does not verify: %s",
                     k == 0 ? "the certificate" : "a chain certificate", wc_GetErrorString(v));
            rc = -1;
            break;
        }
        if (k > 0 && k < total - 1 &&
            wolfSSL_CertManagerLoadCABuffer(cm, c->der, (long)c->der_len, WOLFSSL_FILETYPE_ASN1) !=
                WOLFSSL_SUCCESS)
            rc = fail(err, errlen, "a chain certificate cannot be used as a CA");
    }
    wolfSSL_CertManagerFree(cm);
    return rc;
}

int certinfo_verify_signature(const certinfo *ci, const uint8_t *spki, size_t spki_len, char *err,
                              size_t errlen)
{
    pki_sig_alg alg;
    if (pki_sig_alg_from_der(ci->sig_alg, ci->sig_alg_len, &alg) != 0)
        return fail(err, errlen, "the certificate's signature algorithm is not supported");
    if (pki_spki_verify(spki, spki_len, alg, ci->tbs, ci->tbs_len, ci->sig, ci->sig_len) != 0)
        return fail(err, errlen, "the certificate's signature does not verify with that key");
    return 0;
}
