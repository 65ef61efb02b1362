/* The appliance link protocol (ARCHITECTURE "The appliance link"): message types, their DER
 * codec, the signed-then-encrypted envelope and the persisted replay cache.
 *
 * A message on the wire (one binary WebSocket frame) is
 *     CMS AuthEnvelopedData (AES-256-GCM, ECDH key agreement to the recipient's P-256 certificate)
 *       └ CMS SignedData (ECDSA P-256 with SHA-256, the sender's certificate attached)
 *           └ LinkMessage (DER, below)
 * so the recipient alone can read it and it proves its sender. The receiver checks, in order:
 * it decrypts (LINK_ERR_DECRYPT), the signature is valid (LINK_ERR_SIGNATURE), the signer's
 * certificate is byte for byte the pinned peer's (LINK_ERR_WRONG_SIGNER), the message parses
 * (LINK_ERR_MALFORMED), sender and recipient names fit (LINK_ERR_WRONG_SENDER,
 * LINK_ERR_WRONG_RECIPIENT), it is within its lifetime (LINK_ERR_EXPIRED, LINK_ERR_NOT_YET_VALID,
 * LINK_ERR_LIFETIME) and its request id was not seen before (LINK_ERR_REPLAY).
 *
 *   LinkMessage ::= SEQUENCE {
 *     version    INTEGER (1),
 *     type       ENUMERATED,            -- link_msg_type
 *     requestId  OCTET STRING (16),     -- a response repeats its request's id
 *     sender     UTF8String,            -- "relay:<host>" or "device:<id>"
 *     recipient  UTF8String,
 *     caId       UTF8String,            -- "" when not about a CA
 *     slot       UTF8String,            -- "serial/9c", "" when not about a slot
 *     issued     GeneralizedTime,
 *     expires    GeneralizedTime,
 *     body       OCTET STRING }         -- per type, see the body codecs
 *
 * Threads: the codec functions are pure; a link_identity may be used by one thread at a time
 * per call (wolfCrypt's RNG is guarded inside); the replay cache has its own lock. */
#ifndef PKI_LINK_H
#define PKI_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "keys/keys.h"
#include "signer/signer.h"

#define LINK_ID_LEN 16
#define LINK_NAME_MAX 128
/* A message may live at most this long (expires - issued); the replay cache remembers a
 * request id until the message expires, so this bounds its size. */
#define LINK_MAX_LIFETIME 600
/* Clocks of relay and appliance may differ this much. */
#define LINK_CLOCK_SKEW 60
#define LINK_MAX_MESSAGE (1024 * 1024)

typedef enum {
    LINK_OK = 0,
    LINK_ERR_INTERNAL = -100,
    LINK_ERR_MALFORMED = -101,
    LINK_ERR_DECRYPT = -102,      /* not for us, or damaged */
    LINK_ERR_SIGNATURE = -103,    /* the signature does not verify */
    LINK_ERR_WRONG_SIGNER = -104, /* valid, but not by the pinned peer */
    LINK_ERR_WRONG_SENDER = -105, /* the sender field names someone else */
    LINK_ERR_WRONG_RECIPIENT = -106,
    LINK_ERR_EXPIRED = -107,
    LINK_ERR_NOT_YET_VALID = -108, /* issued in the future beyond the clock skew */
    LINK_ERR_LIFETIME = -109,      /* expires - issued longer than LINK_MAX_LIFETIME */
    LINK_ERR_REPLAY = -110,
    LINK_ERR_TOO_LARGE = -111,
} link_status;

/* "expired", "replayed", … stable short codes for logs and API errors; and a sentence. */
const char *link_status_code(int status);
const char *link_status_text(int status);

typedef enum {
    LINK_MSG_HELLO = 1,   /* agent → relay after connecting: its inventory (JSON body) */
    LINK_MSG_WELCOME = 2, /* relay → agent: accepted (JSON body) */
    LINK_MSG_PING = 3,    /* either way; empty body */
    LINK_MSG_PONG = 4,
    LINK_MSG_ENROL = 5,     /* agent → relay: token, slot key, attestation (JSON body) */
    LINK_MSG_ENROLLED = 6,  /* relay → agent: device certificate (JSON body) */
    LINK_MSG_SIGN_REQ = 7,  /* relay → agent: link_sign_req body */
    LINK_MSG_SIGN_RESP = 8, /* agent → relay: link_sign_resp body */
    LINK_MSG_INVENTORY = 9, /* agent → relay: keys and slots changed (JSON body) */
    LINK_MSG_ERROR = 10,    /* either way: link_sign_resp-shaped status + text */
    LINK_MSG_TYPE_MAX = 10,
} link_msg_type;

const char *link_msg_type_name(int type);

typedef struct {
    int type;
    uint8_t request_id[LINK_ID_LEN];
    char sender[LINK_NAME_MAX];
    char recipient[LINK_NAME_MAX];
    char ca_id[LINK_NAME_MAX];
    char slot[LINK_NAME_MAX];
    int64_t issued, expires;
    const uint8_t *body; /* encode: caller's; decode: points into the decoded buffer */
    size_t body_len;
} link_msg;

/* Fills type, a random request id, names, issued = now and expires = now + lifetime. Names
 * longer than LINK_NAME_MAX-1 are refused (-1). */
int link_msg_init(link_msg *m, int type, const char *sender, const char *recipient, int lifetime);
/* The response to req: same request id, sender and recipient swapped, same CA and slot. */
int link_msg_reply(link_msg *m, const link_msg *req, int type, int lifetime);

/* LinkMessage DER (malloc'd). 0 or LINK_ERR_*. */
int link_msg_encode(const link_msg *m, uint8_t **der, size_t *len);
/* Strict: exactly one LinkMessage, version 1, known type, 16-octet id, names that fit and are
 * UTF-8 without NUL. m->body points into der. 0 or LINK_ERR_MALFORMED. */
int link_msg_decode(const uint8_t *der, size_t len, link_msg *m);

/* ---- Bodies ------------------------------------------------------------------------------- */

/* SignRequest ::= SEQUENCE { algorithm INTEGER (pki_sig_alg), tbs OCTET STRING } */
typedef struct {
    pki_sig_alg alg;
    const uint8_t *tbs;
    size_t tbs_len;
} link_sign_req;
/* SignResponse ::= SEQUENCE { status INTEGER (pki_sign_status), signature OCTET STRING,
 *                             reason UTF8String }   -- signature empty unless status is 0 */
typedef struct {
    int status;
    const uint8_t *sig;
    size_t sig_len;
    char reason[256];
} link_sign_resp;

int link_sign_req_encode(const link_sign_req *r, uint8_t **der, size_t *len);
int link_sign_req_decode(const uint8_t *der, size_t len, link_sign_req *r);
int link_sign_resp_encode(const link_sign_resp *r, uint8_t **der, size_t *len);
int link_sign_resp_decode(const uint8_t *der, size_t len, link_sign_resp *r);

/* The authorityKeyIdentifier keyIdentifier of a TBSCertificate (is_certificate) or a
 * TBSCertList, for the appliance's check that what it signs names its own key. 1 with *id
 * pointing into tbs, 0 when there is none, -1 when the structure or its extensions are
 * malformed. */
int link_tbs_authority_key_id(const uint8_t *tbs, size_t len, int is_certificate,
                              const uint8_t **id, size_t *id_len);

/* ---- Identities and the envelope ---------------------------------------------------------- */

/* One side's P-256 key, its certificate and its link name. */
typedef struct link_identity link_identity;

/* A fresh P-256 key with a self-signed certificate (CN=name, 10 years): the relay's link
 * identity, and an appliance's key before the relay certifies it. */
link_identity *link_identity_generate(const char *name, char *err, size_t errlen);
/* An existing P-256 key (any form pki_key_import reads) with a new self-signed certificate:
 * lets an appliance name itself after its key before the relay certifies it. */
link_identity *link_identity_self_signed(const char *name, const uint8_t *key, size_t key_len,
                                         char *err, size_t errlen);
/* From a private key (any form pki_key_import reads) and its certificate (DER); the
 * certificate's key must be the private key's. */
link_identity *link_identity_load(const char *name, const uint8_t *key, size_t key_len,
                                  const uint8_t *cert, size_t cert_len, char *err, size_t errlen);
/* Replaces the certificate (after enrolment: the relay-issued device certificate). */
int link_identity_set_cert(link_identity *id, const uint8_t *cert, size_t len, char *err,
                           size_t errlen);
void link_identity_free(link_identity *id);
const char *link_identity_name(const link_identity *id);
const uint8_t *link_identity_cert(const link_identity *id, size_t *len);
pki_key *link_identity_key(link_identity *id);
/* A software signer over the identity's key (owned by the identity; safe for concurrent use):
 * the relay signs HSM provisioning certificates with it. */
pki_signer *link_identity_signer(link_identity *id);
/* PKCS#8 DER of the key, for storing it sealed; release with pki_secret_free. */
int link_identity_export_key(const link_identity *id, uint8_t **der, size_t *len);

/* An appliance's link name: "device:" and the first 16 hex digits of the SHA-256 of its
 * public key (SubjectPublicKeyInfo), so a name cannot be claimed with another key. From a
 * certificate: link_device_name_of_cert. 0, or -1 for a malformed input. */
int link_device_name(const uint8_t *spki, size_t len, char out[LINK_NAME_MAX]);
int link_device_name_of_cert(const uint8_t *cert, size_t len, char out[LINK_NAME_MAX]);

/* SHA-256 of a certificate's DER, lower-case hex (65 bytes with NUL). */
int link_cert_fingerprint(const uint8_t *cert, size_t len, char out[65]);

/* Encodes m, signs it as self and encrypts it to the peer's certificate. */
int link_seal(link_identity *self, const uint8_t *peer_cert, size_t peer_cert_len,
              const link_msg *m, uint8_t **out, size_t *out_len);

/* ---- Outgoing frames: sealed envelopes waiting for the WebSocket --------------------------
 * Both ends seal on whatever thread asks and write on their event loop, one frame per
 * writable callback. A frame keeps libwebsockets' LWS_PRE octets of headroom before the
 * envelope (link_frame_payload), so lws_write needs no copy. A queue is not locked here: its
 * owner guards it with the lock of the state it belongs to. */
typedef struct link_frame {
    struct link_frame *next;
    size_t len; /* of the envelope */
    uint8_t data[];
} link_frame;

typedef struct {
    link_frame *head, *tail;
} link_frame_queue;

/* m sealed (link_seal) into a new frame; NULL on failure, with the LINK_ERR_* in *rc. */
link_frame *link_frame_seal(link_identity *self, const uint8_t *peer_cert, size_t peer_cert_len,
                            const link_msg *m, int *rc);
/* Where the envelope starts (after the headroom). */
uint8_t *link_frame_payload(link_frame *f);
void link_frame_push(link_frame_queue *q, link_frame *f);
/* The oldest frame, taken off the queue (the caller frees it), or NULL. */
link_frame *link_frame_pop(link_frame_queue *q);
/* Frees every frame still queued. */
void link_frame_queue_clear(link_frame_queue *q);

/* The receiving side, step by step (link_open does them all for a known peer):
 * link_unwrap decrypts an envelope addressed to self and returns the SignedData (malloc'd);
 * link_peek_signer returns the certificate the SignedData carries (malloc'd), NOT verified —
 * to look up which peer it claims to be; link_verify checks the signature and that the signer
 * is exactly pinned_cert, and decodes the message (m->body points into *content, malloc'd). */
int link_unwrap(link_identity *self, const uint8_t *env, size_t env_len, uint8_t **signed_der,
                size_t *signed_len);
int link_peek_signer(const uint8_t *signed_der, size_t signed_len, uint8_t **cert,
                     size_t *cert_len);
int link_verify(const uint8_t *signed_der, size_t signed_len, const uint8_t *pinned_cert,
                size_t pinned_len, link_msg *m, uint8_t **content, size_t *content_len);

typedef struct link_replay link_replay;

/* Names, lifetime and replay: the recipient is self_name; expected_sender (NULL: any) is the
 * peer's link name; replay (NULL: not checked) remembers the request id until it expires.
 * Check order: names, times, then replay (so a rejected message is never remembered). */
int link_check(const link_msg *m, const char *self_name, const char *expected_sender,
               link_replay *replay, int64_t now);

/* All of the above for a known peer. On success *content (malloc'd) holds what m points into. */
int link_open(link_identity *self, const uint8_t *peer_cert, size_t peer_cert_len,
              const char *peer_name, link_replay *replay, const uint8_t *env, size_t env_len,
              link_msg *m, uint8_t **content, size_t *content_len);

/* ---- Replay cache ------------------------------------------------------------------------- */

/* A SQLite file (lib/db, WAL) remembering (sender, type, request id) until the message's
 * expiry, so a restart does not reopen the window. ":memory:" for tests. NULL on error. */
link_replay *link_replay_open(const char *path, char *err, size_t errlen);
void link_replay_close(link_replay *r);
/* LINK_OK and remembered, LINK_ERR_REPLAY when already there, LINK_ERR_INTERNAL on a database
 * failure (the message is then refused: better to drop than to sign twice). Expired entries are
 * purged now and then. */
int link_replay_check(link_replay *r, const char *sender, int type, const uint8_t id[LINK_ID_LEN],
                      int64_t expires, int64_t now);
/* Entries currently kept (tests, status). */
long link_replay_count(link_replay *r);

/* ---- HSM provisioning certificate (hsm-contract §1) --------------------------------------- */

/* The critical extension of ours the relay puts into an HSM CA's provisioning certificate. */
#define LINK_PROVISIONING_OID "2.25.121939985752823855590338856841221336458"
#define LINK_CA_ROOT 0
#define LINK_CA_INTERMEDIATE 1

typedef struct {
    char link_url[512];            /* "wss://host:port/link" */
    char ca_id[64];                /* the relay's CA id (decimal text) */
    int ca_kind;                   /* LINK_CA_ROOT or LINK_CA_INTERMEDIATE */
    char token[128];               /* one-time enrolment token */
    int64_t token_expires;         /* unix seconds */
    uint8_t relay_fingerprint[32]; /* SHA-256 of the relay's link certificate DER */
} link_provisioning;

/* The extension's value (extnValue contents, malloc'd). 0, or -1 for an empty field, a kind out
 * of range or a link URL that is not IA5. */
int link_provisioning_encode(const link_provisioning *p, uint8_t **der, size_t *len);
/* Strict: exactly one IothsmProvisioning, version 1, every text non-empty and fitting its field,
 * a 32-octet fingerprint. 0 or -1 (out untouched). */
int link_provisioning_decode(const uint8_t *der, size_t len, link_provisioning *out);
/* Finds the extension in a certificate (DER). 0 found and decoded, 1 absent, -1 malformed
 * (including: present but not critical, present twice, or a malformed certificate). */
int link_provisioning_from_cert(const uint8_t *cert, size_t len, link_provisioning *out);

/* ---- A slot offer (hsm-contract §3) ------------------------------------------------------- */

/* The HSM part of an ENROL body: {"ca_id", "slot": "<serial>/<slot>", "public_key" (PEM),
 * "certificate"?, "csr"?, "attestation"?: [slot attestation PEM, f9 PEM]} (the token is the
 * caller's). */
typedef struct {
    char ca_id[32];
    char slot[32];              /* "<serial>/<slot>", the slot in lower-case hex */
    uint8_t *spki, *cert, *csr; /* DER, malloc'd; cert and csr NULL when absent */
    size_t spki_len, cert_len, csr_len;
    int attested; /* the attestation was there and checks out */
} link_slot_offer;

/* Reads and checks an offer from the ENROL body (JSON text, strict: duplicate keys refused):
 * decimal ca_id, slot name, a public key lib/keys can use, a certificate or CSR carrying exactly
 * that key (the CSR's signature verified), an attestation certificate carrying the key and
 * signed by the f9 certificate's key. 0 (o filled; link_slot_offer_free it), or -1 with a reason
 * for the appliance in why (o empty). */
int link_slot_offer_parse(const uint8_t *json, size_t len, link_slot_offer *o, char *why,
                          size_t whylen);
void link_slot_offer_free(link_slot_offer *o);

#endif
