/* YubiKeys on PC/SC through libykpiv.
 *
 * A monitor thread watches the readers with SCardGetStatusChange (hot-plug). Every present key
 * gets its own worker thread with its own libykpiv connection: APDUs to one key are
 * serialised on it and never run on the event loop. Callers submit jobs to a key by serial; a
 * job runs on that key's worker with the connected ykpiv_state (NULL when the key was removed
 * before the job could run). After a job that changed the card the worker re-reads the
 * key's description (serial, version, retries, slots) which yk_manager_list serves from cache. */
#ifndef AGENT_YK_H
#define AGENT_YK_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "secmem/secmem.h"
#include "ykpiv.h"
#include "yubikey/yk_card.h"

typedef struct yk_manager yk_manager;

/* A job returns what it changed on the card, so the worker re-reads only that:
 * YK_SAME, YK_CHANGED_PIN (retry counters), YK_CHANGED_SLOT(slot) (that slot and the counters)
 * or YK_CHANGED (everything). yk is NULL when the key is gone; the job must then report that and
 * clean up. */
#define YK_SAME 0
#define YK_CHANGED 1
#define YK_CHANGED_PIN 2
#define YK_CHANGED_SLOT(slot) (0x100 | (slot))
typedef int (*yk_job_fn)(ykpiv_state *yk, uint32_t serial, void *ctx);

/* Starts the monitor. reader_filter: only readers whose name contains it ("" = all). */
yk_manager *yk_manager_start(const char *reader_filter);
/* Stops the monitor and every worker (queued jobs run with yk == NULL). */
void yk_manager_stop(yk_manager *m);

/* A JSON array describing every present key (copied from the cache). */
json_t *yk_manager_list(yk_manager *m);
/* One key's description, or NULL when no key with this serial is present. */
json_t *yk_manager_get(yk_manager *m, uint32_t serial);
/* Queues fn on the key's worker. 0, or -1 when no such key is present (fn is not called). */
int yk_manager_submit(yk_manager *m, uint32_t serial, yk_job_fn fn, void *ctx);
/* Same, and waits until fn has run and the description is up to date. Returns 1 when fn
 * changed something, 0 when not, -1 when no such key. */
int yk_manager_run(yk_manager *m, uint32_t serial, yk_job_fn fn, void *ctx);
/* Re-reads every key's description ("Reload"). */
void yk_manager_rescan(yk_manager *m);

/* On a key's worker, inside a job: the slot's certificate (DER, malloc'd) as ykc_read_cert
 * gives it (0, 1 when the slot holds none, -1 with the failure in r), read from the card once
 * and then served from the worker's cache. The cache holds only what this worker read, and is
 * dropped after every job that reports a change (anything but YK_SAME: provisioning writes,
 * Clear Slot, generate, import, setup, reset), on a re-read ("Reload") and when the card leaves.
 * So the agent's own changes are always seen; a certificate written to the card by another
 * program while the agent runs is seen after "Reload" or re-insertion. On any other thread it
 * reads the card each time. */
int yk_worker_read_cert(ykpiv_state *yk, int slot, uint8_t **der, size_t *len, yk_result *r);

/* The PIN kept for signatures over the link (slots whose PIN policy is once or always): set
 * after the operator unlocked the key for signing (and the card accepted the PIN), kept in
 * locked memory until the card is removed, the agent stops or the operator locks it again
 * (descriptions show "signing_unlocked"). keep: 0, or -1 when no such key is present.
 * sign_pin copies it into out (locked); 0, or -1 when none is kept. */
int yk_manager_keep_sign_pin(yk_manager *m, uint32_t serial, const secret *pin);
void yk_manager_forget_sign_pin(yk_manager *m, uint32_t serial);
int yk_manager_sign_pin(yk_manager *m, uint32_t serial, secret *out);

#endif
