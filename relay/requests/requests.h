/* Issuance workflows (W-1 … W-4): submitted CSRs, public requests, pre-approved requests with a
 * claim link, and the pending queue (approve with overrides, decline, in bulk). */
#ifndef RELAY_REQUESTS_H
#define RELAY_REQUESTS_H

#include "api/api.h"

void requests_submit(api_call *c);     /* POST /api/v1/templates/{id}/requests */
void requests_public(api_call *c);     /* POST /api/v1/public/templates/{id}/requests */
void requests_preapprove(api_call *c); /* POST /api/v1/templates/{id}/preapproved */
void requests_claim(api_call *c);      /* POST /api/v1/public/claim */
void requests_list(api_call *c);       /* GET /api/v1/cas/{id}/requests */
void requests_get(api_call *c);        /* GET /api/v1/requests/{id} */
void requests_approve(api_call *c);    /* POST /api/v1/requests/{id}/approve */
void requests_decline(api_call *c);    /* POST /api/v1/requests/{id}/decline */
void requests_bulk(api_call *c);       /* POST /api/v1/cas/{id}/requests/bulk */

#endif
