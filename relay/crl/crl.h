/* CRLs per CA: DER, with CRL number, authority key identifier and reason codes. The
 * current CRL is kept with the CA in the store and served from there; it is remade when a
 * revocation changes (marked dirty) and when crl_refresh has passed since it was made, so
 * clients never see one past its nextUpdate. Never rebuilt per request.
 *
 * Partitioned CRLs: a CA with crl_partition_size > 0 gives each new certificate a partition at
 * issuance (floor(seq / size)); each partition has its own CRL at /pki/ca/<id>/crl/<n>.crl,
 * cached and remade the same way, with a critical issuingDistributionPoint naming that URL.
 * The full CRL stays. */
#ifndef RELAY_CRL_H
#define RELAY_CRL_H

#include "api/api.h"

/* The current CRL of a CA, remade first when due. 0 with *der malloc'd; -1 with *status. */
int crl_current(relay_app *app, store *st, int64_t ca_id, uint8_t **der, size_t *len,
                int64_t *next_update, int *status);
/* The current CRL of one partition (404 in *status for an unknown one), remade when due. */
int crl_part_current(relay_app *app, store *st, int64_t ca_id, int64_t part, uint8_t **der,
                     size_t *len, int64_t *next_update, int *status);
/* Remakes every CA's CRLs that are due, partitions included (housekeeping). */
void crl_refresh_all(relay_app *app, store *st);
/* Queues a remake of one CA's due CRLs on a worker (after a revocation change). */
void crl_schedule(relay_app *app, int64_t ca_id);

/* GET /pki/ca/{id}/crl (public). */
void crl_serve(api_call *c);
/* GET /pki/ca/{id}/crl/{n}.crl (public): one partition's CRL. */
void crl_part_serve(api_call *c);

#endif
