/* lib/httpd internal: listeners that share their port with other servers (httpd_options.
 * share_port), each server looping on a thread of its own.
 *
 * libwebsockets 4.1 sets SO_REUSEPORT on a listening socket only when it runs its own
 * multi-threaded service, which Debian's build leaves out (LWS_MAX_SMP 1). So such a listener
 * is a socket of ours, watched by the server's loop as a raw descriptor; each connection it
 * accepts is handed to libwebsockets as if libwebsockets had accepted it. */
#ifndef PKI_HTTPD_SHARED_H
#define PKI_HTTPD_SHARED_H

#include <libwebsockets.h>

#define HTTPD_ACCEPT_PROTOCOL "pki-accept"

/* A listening, non-blocking TCP socket on address:port with SO_REUSEADDR and SO_REUSEPORT, or
 * -1 (logged). address NULL listens on every address. */
int httpd_shared_socket(const char *address, int port);

/* The protocol callback of the adopted listening socket: accepts what is waiting and adopts
 * it into the socket's vhost. */
int httpd_accept_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len);

#endif
