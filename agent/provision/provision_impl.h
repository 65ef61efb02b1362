/* Internals shared by agent/provision's files: making and storing a slot's CA certificate or
 * CSR (provision.c) and the relay's part of provisioning (provision_relay.c). */
#ifndef AGENT_PROVISION_IMPL_H
#define AGENT_PROVISION_IMPL_H

#include <stdbool.h>

#include "certinfo/certinfo.h"
#include "link/link.h"
#include "provision/provision.h"

/* Builds the self-signed CA certificate (self_signed) or the CSR from the template ci, signed
 * by the slot's key on the card. Sets *spki (the slot key) and *der, both malloc'd. 0, or the
 * failure in r. Nothing is written to the card. */
int prov_make_ca(const prov_env *env, uint32_t serial, int slot, const certinfo *ci,
                 bool self_signed, const secret *pin, uint8_t **spki, size_t *spki_len,
                 uint8_t **der, size_t *der_len, yk_result *r);
/* Writes the certificate to the slot (self_signed) or keeps the CSR (state csr_pending), records
 * the slot (with relay, when given: the relay the slot was offered to) and answers the wizard's
 * JSON; NULL with r. */
json_t *prov_store_ca(const prov_env *env, uint32_t serial, int slot, const certinfo *ci,
                      bool self_signed, const secret *pin, const uint8_t *spki, size_t spki_len,
                      const uint8_t *der, size_t der_len, json_t *relay, yk_result *r);
/* The slot key's attestation as the relay wants it: [slot attestation PEM, f9 certificate PEM]
 * when the key was generated on the card and both read, else NULL. */
json_t *prov_attestation(const prov_env *env, uint32_t serial, int slot);
void prov_audit(const prov_env *env, const char *event, uint32_t serial, int slot,
                const char *detail);

/* The provisioning step for a template that carries the relay's extension (p): without
 * "confirm_fingerprint" in the request, answers {"state": "confirm_relay", "relay": {...}} and
 * does nothing else; with it, checks the relay (fingerprint, signature over the template),
 * makes the certificate or CSR, enrols with the offer and writes only when the relay accepted. */
json_t *prov_relay(const prov_env *env, uint32_t serial, int slot, json_t *in, const certinfo *ci,
                   const link_provisioning *p, bool self_signed, const secret *pin, yk_result *r);

#endif
