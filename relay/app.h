/* The relay's shared state, made once in main.c and read by every capability. Everything here
 * is either immutable after start-up or thread-safe itself (throttle, pool). Database access
 * goes through the store handle each worker owns, never through this struct. */
#ifndef RELAY_APP_H
#define RELAY_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/auth.h"
#include "seal/seal.h"

typedef struct httpd httpd;
typedef struct work_pool work_pool;

typedef struct relay_app {
    char state_dir[1024];
    char db_path[1100];
    seal_key *master;
    auth_throttle *throttle;    /* failed logins per user name */
    auth_throttle *throttle_ip; /* per client address, 4x more lenient (shared NAT) */
    work_pool *pool;
    httpd *http;
    int64_t session_lifetime_s; /* absolute session lifetime */
    int64_t session_idle_s;     /* idle timeout */
    int64_t audit_retention_s;
    int64_t cert_purge_s;      /* expired certificates are deleted this long after expiry */
    char base_url[512];        /* https://host:port: console, API, public request pages */
    char public_base_url[512]; /* where relying parties fetch CRL/OCSP/AIA (plain HTTP) */
    size_t max_body;           /* http.max_body, for every listener */
    unsigned public_loops;     /* public_http.threads */
} relay_app;

#endif
