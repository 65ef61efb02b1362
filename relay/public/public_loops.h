/* The public plain-HTTP listener (CRL, OCSP, AIA, CPS) on event loops of its own.
 *
 * Relying parties ask a CA's OCSP responder far more often than anyone uses the console, and a
 * cached OCSP answer costs the loop that serves it more than any other work. So the public
 * listener runs on n loops, one thread each, every one listening on the same port
 * (SO_REUSEPORT: the kernel spreads connections among them), all with the daemon's request
 * handler. The HTTPS loop (console, API, ACME, the appliance link) stays on the main thread,
 * free of that load. Each loop beats once a second; the main loop's watchdog ping depends on
 * every beat being recent, so a stuck public loop gets the daemon restarted like a stuck main
 * loop. */
#ifndef RELAY_PUBLIC_LOOPS_H
#define RELAY_PUBLIC_LOOPS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "httpd/httpd.h"

#define PUBLIC_LOOPS_MAX 16

/* The default number of loops: the online CPUs, at most 8. */
unsigned public_loops_default(void);

/* Creates n (1..PUBLIC_LOOPS_MAX) servers listening on address:port as listener "public", and
 * starts their threads; they run handler(app, …) until *stop is set and public_loops_stop is
 * called. 0, or -1 (logged; nothing left running) when a server cannot be made or the port
 * cannot be bound. */
int public_loops_start(httpd_handler handler, void *app, const char *address, int port, unsigned n,
                       size_t max_body, volatile sig_atomic_t *stop);

/* True while every loop has beaten within max_age_s seconds (true when none runs). */
bool public_loops_alive(unsigned max_age_s);

/* Wakes the loops (*stop must be set) and waits for their threads to end. */
void public_loops_stop(void);

/* Frees the servers; after the worker pool is gone, since a worker may still complete a
 * request deferred by one of them. */
void public_loops_free(void);

#endif
