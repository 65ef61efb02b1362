/* Store interface for partitioned CRLs: the per-CA partition size, the partition each
 * certificate was given at issuance, and one cached CRL per partition. Same return codes as
 * store.h. A partition exists once a certificate was issued into it. */
#ifndef RELAY_STORE_CRL_PART_H
#define RELAY_STORE_CRL_PART_H

#include "store/store.h"

/* The CA's partition size; 0 = not partitioned (only the full CRL). */
int store_crl_part_size(store *s, int64_t ca_id, int64_t *size);
int store_crl_part_set_size(store *s, int64_t ca_id, int64_t size);
/* Takes the partition of the next certificate this CA issues: floor(seq / size) where seq
 * counts the CA's partitioned issuances; -1 when the CA is not partitioned. */
int store_crl_part_assign(store *s, int64_t ca_id, int64_t *part);
/* store_cert_create with the certificate's partition, in one statement (a crash leaves the
 * row with its partition or no row). */
int store_crl_part_cert_create(store *s, store_cert *c, int64_t part);
/* STORE_OK when some certificate of the CA is in the partition, else STORE_NOT_FOUND. */
int store_crl_part_exists(store *s, int64_t ca_id, int64_t part);
/* The highest partition in use (-1: none). */
int store_crl_part_max(store *s, int64_t ca_id, int64_t *max);
/* Revoked certificates of one partition (for its CRL). */
int store_crl_part_revoked(store *s, int64_t ca_id, int64_t part, store_revoked_fn fn, void *ctx);
/* The cached CRL of a partition and the changes it misses (as store_crl_get); *der NULL and
 * *changes 1 when none was made yet. */
int store_crl_part_get(store *s, int64_t ca_id, int64_t part, uint8_t **der, size_t *len,
                       int64_t *next_update, int64_t *changes);
/* Makes the partition's cache entry (without a CRL) if there is none, so that changes made
 * while its first CRL is being signed are counted. */
int store_crl_part_track(store *s, int64_t ca_id, int64_t part);
/* Saves the CRL; the change count is cleared only if it is still changes_seen. */
int store_crl_part_save(store *s, int64_t ca_id, int64_t part, const uint8_t *der, size_t len,
                        int64_t next_update, int64_t changes_seen);
/* Marks the partition of this certificate for a remake (after its revocation changed). */
int store_crl_part_mark_cert_dirty(store *s, int64_t cert_id);
/* Marks every partition of a CA (after a change of the CA's CRL settings). */
int store_crl_part_mark_all_dirty(store *s, int64_t ca_id);

#endif
