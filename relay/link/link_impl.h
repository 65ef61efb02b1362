/* Internals shared by relay/link's files. */
#ifndef RELAY_LINK_IMPL_H
#define RELAY_LINK_IMPL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "link/link.h"
#include "x509/x509.h"

struct json_t;

struct lws;
struct lws_context;
typedef struct db db;

typedef struct link_session {
    struct link_session *next;
    struct lws *wsi;
    char peer[LINK_NAME_MAX]; /* "" until the appliance proved who it is */
    uint8_t *peer_cert;
    size_t peer_cert_len;
    uint8_t *rx;
    size_t rx_len;
    link_frame_queue out;
    int64_t connected, last_rx;
    int close_now;
} link_session;

struct relay_link_state {
    pthread_mutex_t lock; /* everything below */
    int started;
    link_identity *id;
    char fingerprint[65];
    char url[600];
    db *db;
    link_replay *replay;
    link_session *sessions;
    struct lws_context *ctx;
};
extern struct relay_link_state G_LINK;

void link_session_free(link_session *s);
void link_signer_on_response(const link_msg *m);
void link_signer_sweep(const char *gone_appliance);
void link_status_update(void);
int registry_find_by_fingerprint(const char *fp, char *name, uint8_t **cert, size_t *cert_len);
void registry_touch(const char *name, int64_t now, const char *inventory);
int registry_spend_token(const char *token, const char *name, const char *ca_id, int64_t now,
                         char *why, size_t whylen);
int registry_add_appliance(const char *name, const uint8_t *cert, size_t cert_len, int64_t now,
                           char *why, size_t whylen);
/* The relay's certificate for a device key (the key of self_cert, CN=name), signed with the
 * link key. 0, or -1 with err. */
int link_device_cert_issue(const uint8_t *self_cert, size_t len, const char *name, uint8_t **der,
                           size_t *der_len, char *err, size_t errlen);
/* The link certificate as an issuer for the lints, widened to cover not_before..not_after. */
int relay_link_issuer(pki_issuer *is, int64_t not_before, int64_t not_after, char *err,
                      size_t errlen);
/* The device certificate the relay issued to name (DER, malloc'd). Lock held. 0, 1 none, -1. */
int registry_issued_cert(const char *name, uint8_t **der, size_t *len);
int registry_enrol(const char *token, const char *name, const uint8_t *cert, size_t cert_len,
                   int64_t now, char *why, size_t whylen);

/* Whether an ENROL body carries an offer (any of slot, public_key, certificate, csr,
 * attestation): then link_slot_offer_parse reads it. */
int hsm_offer_present(const struct json_t *body);
/* Spends token (valid, unspent, not replaced, unexpired, an HSM token of o->ca_id) and records
 * the offer of appliance name; a new device (cert given) is enrolled in the same transaction.
 * Caller holds the lock. 0, or -1 with why (nothing recorded). */
int registry_offer(const char *token, const char *name, const uint8_t *new_cert,
                   size_t new_cert_len, const link_slot_offer *o, int64_t now, char *why,
                   size_t whylen);

#endif
