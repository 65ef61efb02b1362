/* Public per-CA services that need no login (R-5, CA-9): the CA certificate (DER and PEM), its
 * chain, and the CPS page. CRL and OCSP have their own modules. Served on the HTTPS listener
 * and on the optional plain-HTTP one. */
#ifndef RELAY_PUBLIC_H
#define RELAY_PUBLIC_H

#include "api/api.h"

void public_ca_cert(api_call *c);     /* GET /pki/ca/{id}/cert (DER) */
void public_ca_cert_pem(api_call *c); /* GET /pki/ca/{id}/cert.pem */
void public_ca_chain(api_call *c);    /* GET /pki/ca/{id}/chain.pem */
void public_ca_cps(api_call *c);      /* GET /pki/ca/{id}/cps */

#endif
