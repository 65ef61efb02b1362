/* LinkMessage and body codecs (DER through lib/der), status and type names. */
#include "link/link.h"

#include <stdlib.h>
#include <string.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/random.h>

#include "der/der_writer.h"
#include "link/link_rng.h"
#include "util/timefmt.h"

const char *link_status_code(int status)
{
    switch (status) {
    case LINK_OK:
        return "ok";
    case LINK_ERR_MALFORMED:
        return "malformed";
    case LINK_ERR_DECRYPT:
        return "undecryptable";
    case LINK_ERR_SIGNATURE:
        return "bad_signature";
    case LINK_ERR_WRONG_SIGNER:
        return "wrong_signer";
    case LINK_ERR_WRONG_SENDER:
        return "wrong_sender";
    case LINK_ERR_WRONG_RECIPIENT:
        return "wrong_recipient";
    case LINK_ERR_EXPIRED:
        return "expired";
    case LINK_ERR_NOT_YET_VALID:
        return "not_yet_valid";
    case LINK_ERR_LIFETIME:
        return "lifetime_too_long";
    case LINK_ERR_REPLAY:
        return "replayed";
    case LINK_ERR_TOO_LARGE:
        return "too_large";
    default:
        return "internal";
    }
}

const char *link_status_text(int status)
{
    switch (status) {
    case LINK_OK:
        return "accepted";
    case LINK_ERR_MALFORMED:
        return "the message is not a well-formed link message";
    case LINK_ERR_DECRYPT:
        return "the envelope cannot be decrypted with this side's key";
    case LINK_ERR_SIGNATURE:
        return "the message signature does not verify";
    case LINK_ERR_WRONG_SIGNER:
        return "the message is signed by someone other than the pinned peer";
    case LINK_ERR_WRONG_SENDER:
        return "the message names another sender than its signer";
    case LINK_ERR_WRONG_RECIPIENT:
        return "the message is addressed to someone else";
    case LINK_ERR_EXPIRED:
        return "the message has expired";
    case LINK_ERR_NOT_YET_VALID:
        return "the message is issued in the future";
    case LINK_ERR_LIFETIME:
        return "the message claims a lifetime longer than allowed";
    case LINK_ERR_REPLAY:
        return "the request id was seen before (replay)";
    case LINK_ERR_TOO_LARGE:
        return "the message is too large";
    default:
        return "internal error in the link layer";
    }
}

const char *link_msg_type_name(int type)
{
    static const char *const names[] = {
        NULL,       "hello",        "welcome",       "ping",      "pong", "enrol",
        "enrolled", "sign-request", "sign-response", "inventory", "error"};
    return type >= 1 && type <= LINK_MSG_TYPE_MAX ? names[type] : "unknown";
}

static int set_name(char *dst, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= LINK_NAME_MAX)
        return -1;
    memcpy(dst, src ? src : "", n);
    dst[n] = 0;
    return 0;
}

static int random_id(uint8_t id[LINK_ID_LEN])
{
    WC_RNG *rng = link_thread_rng();
    return rng && wc_RNG_GenerateBlock(rng, id, LINK_ID_LEN) == 0 ? 0 : -1;
}

int link_msg_init(link_msg *m, int type, const char *sender, const char *recipient, int lifetime)
{
    memset(m, 0, sizeof *m);
    m->type = type;
    if (set_name(m->sender, sender) || set_name(m->recipient, recipient) ||
        random_id(m->request_id))
        return -1;
    m->issued = pki_now();
    m->expires = m->issued + lifetime;
    return 0;
}

int link_msg_reply(link_msg *m, const link_msg *req, int type, int lifetime)
{
    memset(m, 0, sizeof *m);
    m->type = type;
    memcpy(m->request_id, req->request_id, LINK_ID_LEN);
    memcpy(m->sender, req->recipient, LINK_NAME_MAX);
    memcpy(m->recipient, req->sender, LINK_NAME_MAX);
    memcpy(m->ca_id, req->ca_id, LINK_NAME_MAX);
    memcpy(m->slot, req->slot, LINK_NAME_MAX);
    m->issued = pki_now();
    m->expires = m->issued + lifetime;
    return 0;
}

static void write_name(pki_der_writer *w, const char *s)
{
    pki_derw_string(w, PKI_DERW_STR_UTF8, s, strlen(s));
}

static int take(pki_der_writer *w, uint8_t **der, size_t *len)
{
    if (pki_derw_error(w)) {
        int e = pki_derw_error(w);
        pki_derw_free(w);
        return e == PKI_DERW_ERR_ARG ? LINK_ERR_MALFORMED : LINK_ERR_INTERNAL;
    }
    *der = pki_derw_take(w, len);
    return *der ? LINK_OK : LINK_ERR_INTERNAL;
}

int link_msg_encode(const link_msg *m, uint8_t **der, size_t *len)
{
    if (m->type < 1 || m->type > LINK_MSG_TYPE_MAX || m->body_len > LINK_MAX_MESSAGE)
        return LINK_ERR_MALFORMED;
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_int(&w, 1);
    pki_derw_enum(&w, m->type);
    pki_derw_octet_string(&w, m->request_id, LINK_ID_LEN);
    write_name(&w, m->sender);
    write_name(&w, m->recipient);
    write_name(&w, m->ca_id);
    write_name(&w, m->slot);
    pki_derw_generalized_time(&w, m->issued);
    pki_derw_generalized_time(&w, m->expires);
    pki_derw_octet_string(&w, m->body, m->body_len);
    pki_derw_end(&w);
    return take(&w, der, len);
}

static int read_name(pki_der *d, char *out)
{
    pki_der_item it;
    if (pki_der_expect(d, PKI_DER_UTF8_STRING, &it) || it.len >= LINK_NAME_MAX)
        return -1;
    return pki_der_string(&it, out, LINK_NAME_MAX);
}

static int read_gtime(pki_der *d, int64_t *t)
{
    pki_der_item it;
    return pki_der_expect(d, PKI_DER_GENERALIZED_TIME, &it) || pki_der_time(&it, t) ? -1 : 0;
}

int link_msg_decode(const uint8_t *der, size_t len, link_msg *m)
{
    memset(m, 0, sizeof *m);
    pki_der_item top, it;
    pki_der seq;
    long v;
    if (len > LINK_MAX_MESSAGE + 4096 || pki_der_single(der, len, &top) ||
        top.tag != PKI_DER_SEQUENCE || pki_der_enter(&top, &seq))
        return LINK_ERR_MALFORMED;
    if (pki_der_expect(&seq, PKI_DER_INTEGER, &it) || pki_der_int_long(&it, &v) || v != 1)
        return LINK_ERR_MALFORMED;
    if (pki_der_expect(&seq, PKI_DER_ENUMERATED, &it) || pki_der_int_long(&it, &v) || v < 1 ||
        v > LINK_MSG_TYPE_MAX)
        return LINK_ERR_MALFORMED;
    m->type = (int)v;
    if (pki_der_expect(&seq, PKI_DER_OCTET_STRING, &it) || it.len != LINK_ID_LEN)
        return LINK_ERR_MALFORMED;
    memcpy(m->request_id, it.val, LINK_ID_LEN);
    if (read_name(&seq, m->sender) || read_name(&seq, m->recipient) || read_name(&seq, m->ca_id) ||
        read_name(&seq, m->slot) || read_gtime(&seq, &m->issued) || read_gtime(&seq, &m->expires))
        return LINK_ERR_MALFORMED;
    if (pki_der_expect(&seq, PKI_DER_OCTET_STRING, &it) || !pki_der_at_end(&seq))
        return LINK_ERR_MALFORMED;
    m->body = it.val;
    m->body_len = it.len;
    return LINK_OK;
}

int link_sign_req_encode(const link_sign_req *r, uint8_t **der, size_t *len)
{
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_int(&w, r->alg);
    pki_derw_octet_string(&w, r->tbs, r->tbs_len);
    pki_derw_end(&w);
    return take(&w, der, len);
}

int link_sign_req_decode(const uint8_t *der, size_t len, link_sign_req *r)
{
    memset(r, 0, sizeof *r);
    pki_der_item top, it;
    pki_der seq;
    long v;
    if (pki_der_single(der, len, &top) || top.tag != PKI_DER_SEQUENCE || pki_der_enter(&top, &seq))
        return LINK_ERR_MALFORMED;
    if (pki_der_expect(&seq, PKI_DER_INTEGER, &it) || pki_der_int_long(&it, &v) ||
        v < PKI_SIG_RSA_PKCS1_SHA256 || v > PKI_SIG_ED25519)
        return LINK_ERR_MALFORMED;
    r->alg = (pki_sig_alg)v;
    if (pki_der_expect(&seq, PKI_DER_OCTET_STRING, &it) || it.len == 0 || !pki_der_at_end(&seq))
        return LINK_ERR_MALFORMED;
    r->tbs = it.val;
    r->tbs_len = it.len;
    return LINK_OK;
}

int link_sign_resp_encode(const link_sign_resp *r, uint8_t **der, size_t *len)
{
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_int(&w, r->status);
    pki_derw_octet_string(&w, r->status == 0 ? r->sig : NULL, r->status == 0 ? r->sig_len : 0);
    write_name(&w, r->reason);
    pki_derw_end(&w);
    return take(&w, der, len);
}

int link_sign_resp_decode(const uint8_t *der, size_t len, link_sign_resp *r)
{
    memset(r, 0, sizeof *r);
    pki_der_item top, it;
    pki_der seq;
    long v;
    if (pki_der_single(der, len, &top) || top.tag != PKI_DER_SEQUENCE || pki_der_enter(&top, &seq))
        return LINK_ERR_MALFORMED;
    /* Status codes are pki_sign_status values: 0 and -1..-63. */
    if (pki_der_expect(&seq, PKI_DER_INTEGER, &it) || pki_der_int_long(&it, &v) || v > 0 || v < -63)
        return LINK_ERR_MALFORMED;
    r->status = (int)v;
    if (pki_der_expect(&seq, PKI_DER_OCTET_STRING, &it))
        return LINK_ERR_MALFORMED;
    if ((r->status == 0) != (it.len > 0))
        return LINK_ERR_MALFORMED; /* a signature exactly when the status is success */
    r->sig = it.len ? it.val : NULL;
    r->sig_len = it.len;
    if (pki_der_expect(&seq, PKI_DER_UTF8_STRING, &it) || it.len >= sizeof r->reason ||
        pki_der_string(&it, r->reason, sizeof r->reason) || !pki_der_at_end(&seq))
        return LINK_ERR_MALFORMED;
    return LINK_OK;
}

int link_tbs_authority_key_id(const uint8_t *tbs, size_t len, int is_certificate,
                              const uint8_t **id, size_t *id_len)
{
    pki_der_item kid;
    pki_der_item top, it, ext;
    pki_der seq, exts, e, aki;
    if (pki_der_single(tbs, len, &top) || pki_der_enter(&top, &seq))
        return -1;
    unsigned want = is_certificate ? PKI_DER_CTX_CONS(3) : PKI_DER_CTX_CONS(0);
    int first = 1, r;
    while ((r = pki_der_next(&seq, &it)) == 0) {
        if (it.tag == want && !(!is_certificate && first))
            break;
        first = 0;
    }
    if (r != 0)
        return r < 0 ? -1 : 0;
    if (pki_der_enter(&it, &exts) || pki_der_enter_expect(&exts, PKI_DER_SEQUENCE, &exts, NULL))
        return -1;
    while ((r = pki_der_next(&exts, &ext)) == 0) {
        pki_der_item oid, val;
        if (pki_der_enter(&ext, &e) || pki_der_expect(&e, PKI_DER_OID, &oid))
            return -1;
        if (!pki_der_oid_is(&oid, "2.5.29.35"))
            continue;
        if (pki_der_optional(&e, PKI_DER_BOOLEAN, &val) < 0 ||
            pki_der_expect(&e, PKI_DER_OCTET_STRING, &val))
            return -1;
        pki_der_item akid;
        if (pki_der_single(val.val, val.len, &akid) || pki_der_enter(&akid, &aki))
            return -1;
        r = pki_der_optional(&aki, PKI_DER_CTX(0), &kid);
        if (r < 0)
            return -1;
        if (r == 1)
            return 0;
        *id = kid.val;
        *id_len = kid.len;
        return 1;
    }
    return r < 0 ? -1 : 0;
}
