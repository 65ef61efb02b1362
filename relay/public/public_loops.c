/* The public listener's event loops (public_loops.h says why they exist). */
#include "public/public_loops.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "log/log.h"

typedef struct {
    httpd *http;
    httpd_handler handler;
    void *app;
    pthread_t thread;
    bool running;
    _Atomic int64_t beat; /* CLOCK_MONOTONIC seconds of the loop's last tick */
} public_loop;

static public_loop g_loops[PUBLIC_LOOPS_MAX];
static unsigned g_count;
static volatile sig_atomic_t *g_stop;

static int64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

unsigned public_loops_default(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 8 ? 8 : (unsigned)n;
}

static void serve(void *arg, const httpd_request *req, httpd_response *resp)
{
    public_loop *l = arg;
    l->handler(l->app, req, resp);
}

static void beat(void *arg)
{
    public_loop *l = arg;
    atomic_store(&l->beat, mono_s());
}

static void *run(void *arg)
{
    public_loop *l = arg;
    if (httpd_run(l->http, g_stop) != 0)
        pki_err("a public HTTP loop stopped with an error");
    return NULL;
}

int public_loops_start(httpd_handler handler, void *app, const char *address, int port, unsigned n,
                       size_t max_body, volatile sig_atomic_t *stop)
{
    if (n < 1 || n > PUBLIC_LOOPS_MAX || g_count) {
        pki_err("public_http.threads must be 1 to %d", PUBLIC_LOOPS_MAX);
        return -1;
    }
    g_stop = stop;
    httpd_options opts = {.tick = beat, .tick_ms = 1000, .max_body = max_body, .share_port = true};
    /* Every server and listener first: a port that cannot be bound fails the start whole. */
    for (g_count = 0; g_count < n; g_count++) {
        public_loop *l = &g_loops[g_count];
        l->handler = handler;
        l->app = app;
        atomic_store(&l->beat, mono_s());
        l->http = httpd_new(&opts, serve, l);
        if (!l->http || httpd_add_listener(l->http, "public", address, port, NULL, NULL) != 0) {
            g_count++;
            public_loops_free();
            return -1;
        }
    }
    /* The loops leave signals to the main thread, whose handler sets *stop. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = 0;
    for (unsigned i = 0; i < g_count && rc == 0; i++) {
        rc = pthread_create(&g_loops[i].thread, NULL, run, &g_loops[i]);
        g_loops[i].running = rc == 0;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pki_err("cannot start the public HTTP loops");
        *stop = 1;
        public_loops_stop();
        public_loops_free();
        return -1;
    }
    pki_info("public HTTP listener on %u loop%s", g_count, g_count == 1 ? "" : "s");
    return 0;
}

bool public_loops_alive(unsigned max_age_s)
{
    int64_t now = mono_s();
    for (unsigned i = 0; i < g_count; i++)
        if (g_loops[i].running && now - atomic_load(&g_loops[i].beat) > (int64_t)max_age_s)
            return false;
    return true;
}

void public_loops_stop(void)
{
    for (unsigned i = 0; i < g_count; i++)
        if (g_loops[i].running)
            httpd_wake(g_loops[i].http);
    for (unsigned i = 0; i < g_count; i++) {
        if (g_loops[i].running)
            pthread_join(g_loops[i].thread, NULL);
        g_loops[i].running = false;
    }
}

void public_loops_free(void)
{
    for (unsigned i = 0; i < g_count; i++) {
        httpd_free(g_loops[i].http);
        g_loops[i].http = NULL;
    }
    g_count = 0;
}
