/* A small HTTP(S) server on libwebsockets for both daemons' APIs, UIs and public services.
 *
 * One event loop (the caller's thread) serves every listener. A handler gets the whole request
 * (headers it asks for, body already collected up to a limit) and fills a response. Work that
 * blocks (a YubiKey, key generation, a big database write) must not run in the handler: it calls
 * httpd_defer(), hands the returned token to a worker, and the worker calls httpd_complete(),
 * which wakes the loop. The loop never waits on anything but sockets and timers.
 *
 * Limits applied before the handler runs: a request target plus known header fields (Cookie,
 * Authorization, …) over 8 KiB gets 431 with a JSON error; over 32 KiB of header data in all,
 * libwebsockets closes the connection. Bodies: see max_body. */
#ifndef PKI_HTTPD_H
#define PKI_HTTPD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lws_protocols;

typedef struct httpd httpd;
typedef struct httpd_deferred httpd_deferred;

typedef struct {
    const char *method; /* "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD" */
    const char *path;   /* decoded path without the query, always starts with '/' */
    const char *query;  /* raw query string without '?', "" when none */
    const uint8_t *body;
    size_t body_len;
    const char *listener; /* name given to httpd_add_listener */
    bool tls;             /* arrived over TLS */
    void *conn;           /* internal */
} httpd_request;

typedef struct {
    int status;
    char content_type[96];
    uint8_t *body; /* malloc'd; owned by the server once the handler returns */
    size_t body_len;
    char headers[2048]; /* extra "Name: value\r\n" lines */
} httpd_response;

typedef void (*httpd_handler)(void *app, const httpd_request *req, httpd_response *resp);

/* The peer's IP address as text, valid during the handler. Looked up on first use (a
 * getpeername): libwebsockets gives each request on a kept-alive connection fresh per-request
 * memory, and an OCSP answer from the cache never needs the address. */
const char *httpd_remote_addr(const httpd_request *req);

typedef struct {
    size_t max_body;         /* bigger bodies get 413 before the handler runs; default 1 MiB */
    unsigned tick_ms;        /* period of the tick callback; 0 = no tick */
    void (*tick)(void *app); /* runs on the loop thread (watchdog pings, cache refresh) */
    const struct lws_protocols *extra_protocols; /* e.g. a WebSocket protocol; NULL-terminated */
    /* Listeners set SO_REUSEPORT, so that several servers, each looping on a thread of its own,
     * can listen on one port and the kernel spreads the connections among them. Only processes
     * of the same user can join such a port. Plain HTTP only (no certificate). */
    bool share_port;
} httpd_options;

/* Creates the server (no listener yet). handler and app are used for every request. */
httpd *httpd_new(const httpd_options *opts, httpd_handler handler, void *app);
/* Adds a listener. cert/key PEM paths make it HTTPS; NULL makes it plain HTTP.
 * address NULL listens on every address. Returns 0, or -1 with a logged reason. */
int httpd_add_listener(httpd *h, const char *name, const char *address, int port,
                       const char *cert_path, const char *key_path);
/* Runs the loop until *stop becomes non-zero (set it from a signal handler, then call
 * httpd_wake). Returns 0 on a clean stop. */
int httpd_run(httpd *h, volatile sig_atomic_t *stop);
/* Safe from any thread and from signal handlers: makes the loop look at its state. */
void httpd_wake(httpd *h);
void httpd_free(httpd *h);
/* The libwebsockets context, for a module that adds a vhost of its own (a WebSocket client) to
 * the daemon's one event loop. Valid until httpd_free. */
struct lws_context *httpd_lws_context(httpd *h);

/* Header value by case-insensitive name ("cookie", "authorization", "x-csrf-token"), copied
 * into buf; returns buf, or NULL when absent or longer than buflen-1. */
const char *httpd_header(const httpd_request *req, const char *name, char *buf, size_t buflen);
/* Query parameter value, percent-decoded, into buf; NULL when absent. */
const char *httpd_query_param(const httpd_request *req, const char *name, char *buf, size_t buflen);

/* Response helpers. They replace any body already set. Return 0, or -1 on OOM (then the
 * server answers 500). */
int httpd_respond(httpd_response *resp, int status, const char *content_type, const void *body,
                  size_t len);
int httpd_respond_text(httpd_response *resp, int status, const char *text);
/* The same as httpd_respond with a malloc'd body the response takes over (no copy). */
void httpd_respond_take(httpd_response *resp, int status, const char *content_type, uint8_t *body,
                        size_t len);
/* {"error":{"code":code,"message":message}} with the given status (ARCHITECTURE decision 9). */
int httpd_respond_error(httpd_response *resp, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Appends one header line; returns -1 if it does not fit or contains CR/LF. */
int httpd_add_header(httpd_response *resp, const char *name, const char *value);
/* Serves root/relpath with a content type from its extension; 404 for anything missing or
 * outside root ("..", absolute paths, symlinks out are refused). */
int httpd_respond_file(httpd_response *resp, const char *root, const char *relpath);

/* Asynchronous answers. Inside a handler: httpd_defer(req) returns a token and the handler's
 * response is ignored. Later, from any thread: httpd_complete(token, resp) sends resp (its body
 * is taken over) and frees the token. If the client went away meanwhile the response is
 * dropped; the token is still freed. */
httpd_deferred *httpd_defer(const httpd_request *req);
void httpd_complete(httpd_deferred *token, httpd_response *resp);

#endif
