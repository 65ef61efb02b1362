/* The OCSP responder per CA: RFC 6960 and the RFC 5019 profile, GET and POST, nonces,
 * signed by the CA's delegated responder certificate.
 *
 * Answers without a nonce are pre-signed and cached in memory and served straight from the
 * event loop; they are re-signed in the background when half their validity has passed, and
 * dropped when the certificate's revocation state changes. Requests with a nonce (which must be
 * signed fresh) and cache misses are answered by a worker. */
#ifndef RELAY_OCSP_H
#define RELAY_OCSP_H

#include <stdbool.h>
#include <stdint.h>

#include "app.h"
#include "httpd/httpd.h"

/* Whether path is an OCSP path (/pki/ca/<id>/ocsp, /pki/ca/<id>/ocsp/<base64>). */
bool ocsp_is_path(const char *path);
/* Answers (from the cache) or defers to a worker. Loop thread. */
void ocsp_handle(relay_app *app, const httpd_request *req, httpd_response *resp);
/* Drops cached answers for a certificate of a CA (serial in lower-case hex). Any thread. */
void ocsp_invalidate(relay_app *app, int64_t ca_id, const char *serial);
/* Drops every cached answer of a CA (responder re-made, CA deleted). */
void ocsp_invalidate_ca(int64_t ca_id);
void ocsp_cache_free(void);
/* How long a response is valid (nextUpdate - thisUpdate), seconds. */
void ocsp_set_validity(int64_t seconds);

#endif
