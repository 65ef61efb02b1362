/* The audit log of administrative actions (P-5): listing over the API and retention. Entries
 * are written by api_audit() as each action happens. */
#ifndef RELAY_AUDIT_H
#define RELAY_AUDIT_H

#include "api/api.h"

/* GET /api/v1/audit?limit=N&before=ID: administrators see every entry, others their own. */
void audit_list(api_call *c);
/* Deletes entries older than the retention period (run from a periodic job). */
void audit_purge(relay_app *app, store *st);

#endif
