/* The appliance's veto and signature (ARCHITECTURE decision 4): a sign request from the relay is
 * checked on the slot key's worker — the to-be-signed bytes must be a kind the local policy
 * allows and name the CA the slot holds as issuer (or OCSP responder) — then signed on the
 * YubiKey, recorded in the audit log, and answered with the signature or a precise error.
 * The slot's certificate comes from the worker's cache (yk_worker_read_cert: read once, dropped
 * whenever a job changed the card), saving its APDUs on every request; the signature is still
 * verified with that certificate's key, so a certificate that is not the slot key's never lets
 * a signature through. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link/link_client_impl.h"
#include "log/log.h"
#include "pkix/pkix.h"
#include "x509/x509.h"
#include "yubikey/yk.h"
#include "yubikey/yk_card.h"

#define MSG_LIFETIME 60

typedef struct {
    agent_link *l;
    link_msg req; /* body pointers cleared; tbs copied below */
    uint32_t serial;
    int slot;
    pki_sig_alg alg;
    uint8_t *tbs;
    size_t tbs_len;
} sign_job;

unsigned agent_link_allow_bit(const char *name)
{
    if (strcmp(name, "certificate") == 0)
        return 1u << PKI_TBS_CERTIFICATE;
    if (strcmp(name, "crl") == 0)
        return 1u << PKI_TBS_CRL;
    if (strcmp(name, "ocsp") == 0)
        return 1u << PKI_TBS_OCSP_RESPONSE;
    if (strcmp(name, "csr") == 0)
        return 1u << PKI_TBS_CSR;
    if (strcmp(name, "cms") == 0)
        return 1u << PKI_TBS_CMS_ATTRS;
    return 0;
}

/* The sealed answer (NULL on failure). */
static link_frame *seal_answer(agent_link *l, const link_msg *req, int status, const uint8_t *sig,
                               size_t sig_len, const char *reason)
{
    link_sign_resp r = {.status = status, .sig = sig, .sig_len = sig_len};
    snprintf(r.reason, sizeof r.reason, "%s", reason ? reason : "");
    uint8_t *body;
    size_t len;
    if (link_sign_resp_encode(&r, &body, &len) != LINK_OK) {
        pki_err("link: cannot encode the answer to a sign request for %s", req->ca_id);
        return NULL;
    }
    link_msg m;
    link_msg_reply(&m, req, LINK_MSG_SIGN_RESP, MSG_LIFETIME);
    m.body = body;
    m.body_len = len;
    link_frame *o = link_seal_msg(l, &m);
    free(body);
    if (!o) /* the relay's request then ends in its timeout: say why here */
        pki_err("link: cannot seal the answer to a sign request for %s (link stopping or no "
                "identity)",
                req->ca_id);
    return o;
}

/* Seals the answer and queues it; safe from any thread. */
static void respond(agent_link *l, const link_msg *req, int status, const uint8_t *sig,
                    size_t sig_len, const char *reason)
{
    link_queue_out(l, seal_answer(l, req, status, sig, sig_len, reason));
}

/* The refusal of a request whose audit entry cannot be made durable. */
static void refuse_unaudited(agent_link *l, const link_msg *req)
{
    pki_err("link: the audit entry of a sign request could not be written; refusing it");
    respond(l, req, PKI_SIGN_ERR_INTERNAL, NULL, 0, "the appliance cannot write its audit log");
}

/* The same, once the request's audit entry (ticket) is durable: the answer is sealed while
 * the entry is synced, and a signature whose entry cannot be made durable never leaves. */
static void respond_audited(agent_link *l, const link_msg *req, int64_t audit_id, uint64_t ticket,
                            int status, const uint8_t *sig, size_t sig_len, const char *reason)
{
    link_frame *o = seal_answer(l, req, status, sig, sig_len, reason);
    if (agent_state_wait_durable(l->st, ticket) == 0) {
        link_queue_out(l, o);
        return;
    }
    free(o);
    /* Committed, even if it may not survive a power cut: the entry says what happened. */
    agent_state_audit_finish(l->st, audit_id,
                             "withheld: the audit log cannot be made durable, nothing was sent");
    refuse_unaudited(l, req);
}

static int same_span(pki_span s, const uint8_t *p, size_t len)
{
    return s.len == len && len > 0 && memcmp(s.p, p, len) == 0;
}

/* The veto: kind allowed, issuer (or responder) is the slot's CA. 0, or a reason in why. */
static int check_policy(agent_link *l, const sign_job *j, const uint8_t *cert, size_t cert_len,
                        const pki_span *spki, pki_tbs_info *t, char *why, size_t whylen)
{
    char err[256];
    if (pki_tbs_inspect(j->tbs, j->tbs_len, t, err, sizeof err) != 0) {
        snprintf(why, whylen, "not a structure this appliance signs: %s", err);
        return -1;
    }
    if (!(l->cfg.allow & (1u << t->kind))) {
        snprintf(why, whylen, "local policy does not allow signing a %s",
                 pki_tbs_kind_name(t->kind));
        return -1;
    }
    pki_issuer is;
    if (pki_issuer_from_cert(&is, cert, cert_len, err, sizeof err) != 0) {
        snprintf(why, whylen, "the slot's certificate is unreadable: %s", err);
        return -1;
    }
    int ok;
    if (t->kind == PKI_TBS_OCSP_RESPONSE)
        ok = same_span(t->responder_name_der, is.name_der, is.name_len) ||
             t->responder_key_hash.len > 0; /* byKey: checked against the key below */
    else if (t->kind == PKI_TBS_CERTIFICATE || t->kind == PKI_TBS_CRL)
        ok = same_span(t->issuer_der, is.name_der, is.name_len);
    else
        ok = 1; /* CSR and CMS attributes name no issuer */
    if (!ok) {
        pki_issuer_free(&is);
        snprintf(why, whylen, "the %s names another issuer than the CA in slot %02x",
                 pki_tbs_kind_name(t->kind), j->slot);
        return -1;
    }
    /* A responder named byKey must be the slot's key (SHA-1 of its subjectPublicKey). */
    uint8_t key_hash[20];
    if (t->kind == PKI_TBS_OCSP_RESPONSE && t->responder_key_hash.len > 0 &&
        (pki_key_id_from_spki(spki->p, spki->len, key_hash) != 0 ||
         !same_span(t->responder_key_hash, key_hash, sizeof key_hash))) {
        pki_issuer_free(&is);
        snprintf(why, whylen,
                 "the ocsp response names another responder key than the CA in "
                 "slot %02x",
                 j->slot);
        return -1;
    }
    /* The authority key identifier, when both sides have one, must be the slot key's. */
    if (t->kind == PKI_TBS_CERTIFICATE || t->kind == PKI_TBS_CRL) {
        const uint8_t *aki;
        size_t aki_len;
        int r = link_tbs_authority_key_id(j->tbs, j->tbs_len, t->kind == PKI_TBS_CERTIFICATE, &aki,
                                          &aki_len);
        if (r < 0 || (r == 1 && is.ski_len &&
                      (aki_len != is.ski_len || memcmp(aki, is.ski, is.ski_len) != 0))) {
            pki_issuer_free(&is);
            snprintf(why, whylen, "the %s names another authority key than the CA in slot %02x",
                     pki_tbs_kind_name(t->kind), j->slot);
            return -1;
        }
    }
    pki_issuer_free(&is);
    return 0;
}

/* Whether the card no longer answers (a failure may be a key pulled out mid-command). */
static int card_gone(ykpiv_state *yk)
{
    int tries = 0;
    return ykpiv_get_pin_retries(yk, &tries) == YKPIV_PCSC_ERROR;
}

/* Signs on the card; when the slot's PIN policy wants a PIN (the card refuses with "security
 * status not satisfied") and the operator unlocked this key for signing, verifies the kept PIN
 * once and signs again. A kept PIN the card refuses is forgotten at once, so it is never tried
 * twice; without one the answer is pin_required. */
static int sign_with_pin(agent_link *l, ykpiv_state *yk, uint32_t serial, const sign_job *j,
                         pki_key_type type, uint8_t **sig, size_t *sig_len, yk_result *r)
{
    if (ykc_sign(yk, j->slot, type, j->alg, j->tbs, j->tbs_len, sig, sig_len, r) == 0)
        return 0;
    if (r->status != PKI_SIGN_ERR_PIN_REQUIRED)
        return r->status;
    secret pin = {0};
    if (yk_manager_sign_pin(l->keys, serial, &pin) != 0) {
        snprintf(r->message, sizeof r->message,
                 "slot %02x needs the PIN: unlock YubiKey %u for signing in the appliance's UI",
                 j->slot, serial);
        return r->status;
    }
    int rc = ykc_verify_pin(yk, &pin, r);
    secret_clear(&pin);
    if (rc != 0) {
        yk_manager_forget_sign_pin(l->keys, serial);
        agent_state_audit(l->st, "relay", "signing_locked", serial, "",
                          "the kept PIN was refused by the card and forgotten");
        if (r->status != PKI_SIGN_ERR_CARD_ABSENT && r->status != PKI_SIGN_ERR_PIN_BLOCKED) {
            r->status = PKI_SIGN_ERR_PIN_REQUIRED;
            snprintf(r->message, sizeof r->message,
                     "the card refused the kept PIN of YubiKey %u: unlock it again", serial);
        }
        return r->status;
    }
    return ykc_sign(yk, j->slot, type, j->alg, j->tbs, j->tbs_len, sig, sig_len, r);
}

static int sign_on_worker(ykpiv_state *yk, uint32_t serial, void *ctx)
{
    sign_job *j = ctx;
    agent_link *l = j->l;
    char slot_name[16], why[300] = "";
    snprintf(slot_name, sizeof slot_name, "%02x", j->slot);
    int status = PKI_SIGN_OK;
    uint8_t *cert = NULL, *sig = NULL;
    size_t cert_len = 0, sig_len = 0;
    yk_result r = {0};
    pki_tbs_info t = {0};
    pki_key_type type = 0;
    pki_cert *pc = NULL;
    char perr[128];
    /* The audit entry first, so that its sync overlaps the checks and the card's work: a
     * signature never leaves before an entry for it survives a power cut. */
    char detail[900];
    snprintf(detail, sizeof detail, "%s for CA %s: under way", link_msg_type_name(j->req.type),
             j->req.ca_id);
    uint64_t ticket;
    int64_t audit_id =
        agent_state_audit_begin(l->st, "relay", "link.sign", serial, slot_name, detail, &ticket);
    if (!audit_id || !agent_state_durable_ok(l->st)) {
        /* Before the card signs anything. */
        if (audit_id)
            agent_state_audit_finish(l->st, audit_id,
                                     "refused: the audit log cannot be made durable");
        refuse_unaudited(l, &j->req);
        free(j->tbs);
        free(j);
        return YK_SAME;
    }
    if (!yk) {
        status = PKI_SIGN_ERR_CARD_ABSENT;
        snprintf(why, sizeof why, "YubiKey %u was removed", serial);
    } else if (yk_worker_read_cert(yk, j->slot, &cert, &cert_len, &r) != 0 ||
               !(pc = pki_cert_parse(cert, cert_len, perr, sizeof perr)) ||
               !(type = pc->key_type)) {
        if (r.status == PKI_SIGN_ERR_CARD_ABSENT || card_gone(yk)) {
            status = PKI_SIGN_ERR_CARD_ABSENT;
            snprintf(why, sizeof why, "YubiKey %u was removed", serial);
        } else {
            status = PKI_SIGN_ERR_POLICY;
            snprintf(why, sizeof why, "slot %s of YubiKey %u holds no CA certificate", slot_name,
                     serial);
        }
    } else if (check_policy(l, j, cert, cert_len, &pc->spki, &t, why, sizeof why) != 0) {
        status = PKI_SIGN_ERR_POLICY;
    } else if (!pki_sig_alg_fits_key(j->alg, type)) {
        status = PKI_SIGN_ERR_BAD_ALG;
        snprintf(why, sizeof why, "%s does not fit the slot's key", pki_sig_alg_name(j->alg));
    } else if (sign_with_pin(l, yk, serial, j, type, &sig, &sig_len, &r) != 0) {
        status = r.status ? r.status : PKI_SIGN_ERR_INTERNAL;
        snprintf(why, sizeof why, "%s", r.message[0] ? r.message : "the YubiKey did not sign");
    } else if (pki_spki_verify(pc->spki.p, pc->spki.len, j->alg, j->tbs, j->tbs_len, sig,
                               sig_len) != 0) {
        /* A card pulled mid-command can leave garbage where a signature should be: never pass
         * it on (the relay would refuse it too, less precisely). */
        int gone = card_gone(yk);
        status = gone ? PKI_SIGN_ERR_CARD_ABSENT : PKI_SIGN_ERR_INTERNAL;
        snprintf(why, sizeof why, "%s",
                 gone ? "the YubiKey was removed during the signature"
                      : "the YubiKey returned an invalid signature");
        free(sig);
        sig = NULL;
        sig_len = 0;
    }
    /* Every request is in the audit log, signed or refused; never the bytes, only what they
     * are. */
    snprintf(detail, sizeof detail, "%s %s for CA %s: %s", status ? "refused" : "signed",
             status ? link_msg_type_name(j->req.type) : pki_tbs_kind_name(t.kind), j->req.ca_id,
             status ? why : "ok");
    if (agent_state_audit_finish(l->st, audit_id, detail) != 0)
        pki_err("link: cannot record the outcome of a sign request in the audit log");
    if (status)
        pki_warn("link: sign request for %s/%s refused: %s", j->req.slot, j->req.ca_id, why);
    respond_audited(l, &j->req, audit_id, ticket, status, sig, sig_len, why);
    free(sig);
    free(cert);
    pki_cert_free(pc);
    free(j->tbs);
    free(j);
    return YK_SAME;
}

void link_on_sign_request(agent_link *l, const link_msg *m)
{
    link_sign_req req;
    unsigned serial = 0;
    char slot[8] = "";
    if (link_sign_req_decode(m->body, m->body_len, &req) != LINK_OK) {
        respond(l, m, PKI_SIGN_ERR_INTERNAL, NULL, 0, "malformed sign request");
        return;
    }
    if (sscanf(m->slot, "%u/%7s", &serial, slot) != 2 || ykc_slot_from_name(slot) < 0) {
        respond(l, m, PKI_SIGN_ERR_POLICY, NULL, 0, "the request names no slot of this appliance");
        return;
    }
    sign_job *j = calloc(1, sizeof *j);
    if (!j || !(j->tbs = malloc(req.tbs_len))) {
        free(j);
        respond(l, m, PKI_SIGN_ERR_BUSY, NULL, 0, "out of memory");
        return;
    }
    j->l = l;
    j->req = *m;
    j->req.body = NULL;
    j->req.body_len = 0;
    j->serial = serial;
    j->slot = ykc_slot_from_name(slot);
    j->alg = req.alg;
    memcpy(j->tbs, req.tbs, req.tbs_len);
    j->tbs_len = req.tbs_len;
    if (!l->keys || yk_manager_submit(l->keys, serial, sign_on_worker, j) != 0) {
        char why[128];
        snprintf(why, sizeof why, "YubiKey %u is not present", serial);
        agent_state_audit(l->st, "relay", "link.sign", serial, slot, why);
        respond(l, m, PKI_SIGN_ERR_CARD_ABSENT, NULL, 0, why);
        free(j->tbs);
        free(j);
    }
}
