/* The agent's persistent state in SQLite (WAL): settings (the admin password hash), the
 * provisioning record of each slot, and the audit log. Every call is one statement or one
 * transaction, so a crash never leaves half a change. Thread-safe (one connection, a mutex;
 * a flusher thread makes commits durable). */
#ifndef AGENT_STATE_H
#define AGENT_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct agent_state agent_state;

/* Opens (creating when absent, mode 0600) dir/agent.db. NULL with a logged reason. */
agent_state *agent_state_open(const char *dir);
void agent_state_close(agent_state *st);

/* Settings. get returns a malloc'd copy or NULL when absent. set returns 0 or -1. */
char *agent_state_get(agent_state *st, const char *name);
int agent_state_set(agent_state *st, const char *name, const char *value);

/* One slot's provisioning record; fields are free-form JSON the provisioning code owns
 * (state, key type, template, CSR, certificate, chain). get returns a new reference or NULL. */
json_t *agent_state_slot_get(agent_state *st, uint32_t serial, const char *slot);
int agent_state_slot_put(agent_state *st, uint32_t serial, const char *slot, json_t *record);
int agent_state_slot_delete(agent_state *st, uint32_t serial, const char *slot);

/* Every write below returns once its change is durable (it would survive a power cut); see
 * state.c on the group commit behind that. */

/* Audit log: who did what to which key and slot. Never pass secrets. 0 once durable, or -1. */
int agent_state_audit(agent_state *st, const char *actor, const char *event, uint32_t serial,
                      const char *slot, const char *detail);
/* Write-ahead audit for an operation whose outcome comes later: begin inserts the entry
 * (detail saying it is under way) and returns its id (0 on failure) and the ticket of that
 * insert; finish replaces the detail with the outcome, committed but not waited for. A caller
 * that must not act before the entry survives a power cut waits for the ticket: a power cut
 * before the outcome is durable leaves the entry saying the operation was under way, never no
 * entry at all. */
int64_t agent_state_audit_begin(agent_state *st, const char *actor, const char *event,
                                uint32_t serial, const char *slot, const char *detail,
                                uint64_t *ticket);
int agent_state_audit_finish(agent_state *st, int64_t id, const char *detail);
/* Waits until the change with this ticket is durable: 0, or -1 when it cannot be made so (an
 * fdatasync failed; the error is logged) or the ticket is 0. */
int agent_state_wait_durable(agent_state *st, uint64_t ticket);
/* False once a sync has failed: from then on nothing written is known to be durable, and
 * nothing that needs it should start (the failure is sticky until the agent restarts). */
bool agent_state_durable_ok(agent_state *st);
/* The newest limit entries, newest first, as a JSON array. */
json_t *agent_state_audit_list(agent_state *st, int limit);

#endif
