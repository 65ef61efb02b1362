/* pki-relay: the PKI platform daemon. */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "accounts/accounts.h"
#include "acme/acme.h"
#include "api/api.h"
#include "app.h"
#include "audit/audit.h"
#include "ca/ca.h"
#include "config/config.h"
#include "console/console.h"
#include "daemon/daemon.h"
#include "daemon/status.h"
#include "httpd/httpd.h"
#include "link/link_server.h"
#include "crl/crl.h"
#include "log/log.h"
#include "ocsp/ocsp.h"
#include "public/public_loops.h"
#include "tlscert/tlscert.h"
#include "util/timefmt.h"
#include "work/work.h"

static const pki_cfg_key RELAY_SCHEMA[] = {
    {"log_level", PKI_CFG_STRING, false, "info", "error, warning, notice, info or debug"},
    {"state_dir", PKI_CFG_STRING, false, "/var/lib/pki-relay", "database and sealed keys"},
    {"master_key_file", PKI_CFG_STRING, false, "<state_dir>/master.key",
     "master key file (0600) used when no systemd credential 'master.key' is given"},
    {"workers", PKI_CFG_INT, false, "4", "worker threads for the API and signing"},
    {"http", PKI_CFG_GROUP, false, NULL, "the HTTPS listener (console, REST API, protocols)"},
    {"http.listen", PKI_CFG_STRING, false, "0.0.0.0", "address to listen on"},
    {"http.port", PKI_CFG_INT, false, "8443", "TCP port"},
    {"http.tls", PKI_CFG_BOOL, false, "true",
     "HTTPS (false: plain HTTP, only behind a TLS-terminating proxy)"},
    {"http.tls_cert", PKI_CFG_STRING, false, NULL,
     "PEM certificate chain for HTTPS (default: self-signed, made in state_dir/tls)"},
    {"http.tls_key", PKI_CFG_STRING, false, NULL, "PEM private key for HTTPS"},
    {"http.max_body", PKI_CFG_INT, false, "1048576", "largest request body in bytes (413 above)"},
    {"http.public_url", PKI_CFG_STRING, false, "https://<listen>:<port>",
     "base URL users reach the relay at (set-up link, service URLs)"},
    {"http.console_root", PKI_CFG_STRING, false, "/usr/share/pki-relay/console",
     "folder with the web console's files (default: the installed copy, else the source tree's "
     "webui/console)"},
    {"public_http", PKI_CFG_GROUP, false, NULL,
     "optional plain-HTTP listener for CRL, OCSP and AIA (nothing else is served there)"},
    {"public_http.listen", PKI_CFG_STRING, false, "0.0.0.0", "address"},
    {"public_http.port", PKI_CFG_INT, false, NULL, "TCP port (no listener when absent)"},
    {"public_http.url", PKI_CFG_STRING, false, "http://<listen>:<port>",
     "base URL written into certificates for CRL, OCSP and AIA (default: this listener, else "
     "http.public_url)"},
    {"public_http.threads", PKI_CFG_INT, false, "<CPUs, at most 8>",
     "event loops (one thread each) serving this listener, 1 to 16"},
    {"ocsp", PKI_CFG_GROUP, false, NULL, "OCSP responders"},
    {"ocsp.validity_hours", PKI_CFG_INT, false, "24",
     "validity of an OCSP answer (nextUpdate - thisUpdate); re-signed after half of it"},
    {"certificates", PKI_CFG_GROUP, false, NULL, "issued certificates"},
    {"certificates.purge_after_days", PKI_CFG_INT, false, "30",
     "days after expiry when a certificate is deleted"},
    {"session", PKI_CFG_GROUP, false, NULL, "console sessions"},
    {"session.lifetime", PKI_CFG_INT, false, "43200", "seconds a session lasts at most"},
    {"session.idle_timeout", PKI_CFG_INT, false, "1800", "seconds of inactivity that end one"},
    {"login", PKI_CFG_GROUP, false, NULL, "login throttling"},
    {"login.max_failures", PKI_CFG_INT, false, "5",
     "failed logins per user name or address within 15 minutes before a lock-out"},
    {"login.lockout", PKI_CFG_INT, false, "60",
     "seconds of the first lock-out (doubling each time, at most an hour)"},
    {"audit", PKI_CFG_GROUP, false, NULL, "audit log"},
    {"audit.retention_days", PKI_CFG_INT, false, "30", "days audit entries are kept"},
    ACME_CONFIG_KEYS,
};

static const pki_daemon_info RELAY_INFO = {
    .name = "pki-relay",
    .summary = "The PKI platform: certificate authorities, templates, workflows, CRL, OCSP, ACME.",
    .default_config = "/etc/pki-relay/relay.conf",
    .commands_help =
        "  status [--json]  one-screen summary of the running pki-relay (exit 0 running,\n"
        "                   1 not answering, 3 not running, 4 no status)\n"
        "  user add [--admin] NAME   create a user; the password is read from stdin\n"
        "  routes           print the REST route table (JSON lines)\n",
    .schema = RELAY_SCHEMA,
    .schema_len = sizeof RELAY_SCHEMA / sizeof RELAY_SCHEMA[0],
};

static volatile sig_atomic_t g_stop;
static int64_t g_next_housekeeping;

static void handle_request(void *arg, const httpd_request *req, httpd_response *resp)
{
    relay_app *app = arg;
    if (strcmp(req->path, "/healthz") == 0) {
        httpd_respond(resp, 200, "application/json", "{\"status\":\"ok\"}\n", 16);
        return;
    }
    if (strncmp(req->path, "/pki/", 5) == 0) {
        if (ocsp_is_path(req->path))
            ocsp_handle(app, req, resp);
        else
            api_dispatch(app, req, resp);
        return;
    }
    /* The public plain-HTTP listener serves only what relying parties fetch without TLS. */
    if (strcmp(req->listener, "public") == 0) {
        httpd_respond_error(resp, 404, "not_found", "no such resource: %s", req->path);
        return;
    }
    if (strncmp(req->path, "/api/", 5) == 0) {
        api_dispatch(app, req, resp);
        return;
    }
    if (strncmp(req->path, "/acme/", 6) == 0) {
        acme_dispatch(app, req, resp);
        return;
    }
    if (console_handle(req, resp))
        return;
    httpd_respond_error(resp, 404, "not_found", "no such resource: %s", req->path);
}

static void wake(void *arg)
{
    httpd_wake(arg);
}

static int64_t g_next_purge;

/* Every minute on a worker: CRLs that are due; every hour: retention purges. */
static void housekeeping(void *thread_ctx, void *arg)
{
    relay_app *app = arg;
    crl_refresh_all(app, thread_ctx);
    int64_t now = pki_now();
    if (now >= g_next_purge) {
        g_next_purge = now + 3600;
        audit_purge(app, thread_ctx);
        int64_t n = 0;
        if (store_cert_purge_expired(thread_ctx, now - app->cert_purge_s, &n) == STORE_OK && n > 0)
            pki_info("purged %lld certificates expired more than %lld days ago", (long long)n,
                     (long long)(app->cert_purge_s / 86400));
    }
}

/* A public HTTP loop that has not beaten for this long counts as stuck (public_loops.h). */
#define PUBLIC_LOOP_STUCK_S 10

static void tick(void *arg)
{
    relay_app *app = arg;
    static bool told;
    if (public_loops_alive(PUBLIC_LOOP_STUCK_S)) {
        pki_daemon_watchdog_ping();
        told = false;
    } else if (!told) {
        pki_err("a public HTTP loop has not run for %d s; the watchdog is no longer fed",
                PUBLIC_LOOP_STUCK_S);
        told = true;
    }
    pki_status_publish();
    int64_t now = pki_now();
    if (now >= g_next_housekeeping) {
        g_next_housekeeping = now + 60;
        work_submit(app->pool, housekeeping, app);
    }
}

static int ensure_dir(const char *path)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "pki-relay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Subcommands that work on the state directory without serving. */
static int run_command(relay_app *app, pki_daemon_args *args)
{
    if (strcmp(args->argv[0], "routes") == 0) {
        api_print_routes();
        return 0;
    }
    if (strcmp(args->argv[0], "user") == 0 && args->argc >= 2 &&
        strcmp(args->argv[1], "add") == 0) {
        if (ensure_dir(app->state_dir) != 0)
            return 1;
        char err[512];
        store *st = store_open(app->db_path, err, sizeof err);
        if (!st) {
            fprintf(stderr, "pki-relay: %s\n", err);
            return 1;
        }
        int rc = accounts_cli_user_add(st, args->argc - 2, args->argv + 2, stdin, stderr);
        store_close(st);
        return rc;
    }
    fprintf(stderr, "pki-relay: unknown command '%s' (see --help)\n", args->argv[0]);
    return 2;
}

static int load_settings(relay_app *app, const pki_config *cfg)
{
    snprintf(app->state_dir, sizeof app->state_dir, "%s",
             pki_config_string(cfg, "state_dir", "/var/lib/pki-relay"));
    snprintf(app->db_path, sizeof app->db_path, "%s/relay.db", app->state_dir);
    app->session_lifetime_s = pki_config_int(cfg, "session.lifetime", 43200);
    app->session_idle_s = pki_config_int(cfg, "session.idle_timeout", 1800);
    app->audit_retention_s = pki_config_int(cfg, "audit.retention_days", 30) * 86400;
    app->cert_purge_s = pki_config_int(cfg, "certificates.purge_after_days", 30) * 86400;
    long long ocsp_h = pki_config_int(cfg, "ocsp.validity_hours", 24);
    if (ocsp_h < 1 || ocsp_h > 24 * 30 || app->cert_purge_s < 0) {
        fprintf(stderr, "pki-relay: ocsp.validity_hours is 1 to 720; certificates.purge_after_days "
                        ">= 0\n");
        return -1;
    }
    ocsp_set_validity(ocsp_h * 3600);
    const char *listen = pki_config_string(cfg, "http.listen", "0.0.0.0");
    char base[512];
    snprintf(base, sizeof base, "%s://%s:%lld",
             pki_config_bool(cfg, "http.tls", true) ? "https" : "http",
             strcmp(listen, "0.0.0.0") == 0 ? "localhost" : listen,
             pki_config_int(cfg, "http.port", 8443));
    snprintf(app->base_url, sizeof app->base_url, "%s",
             pki_config_string(cfg, "http.public_url", base));
    long long pport = pki_config_int(cfg, "public_http.port", 0);
    const char *plisten = pki_config_string(cfg, "public_http.listen", "0.0.0.0");
    if (pport > 0)
        snprintf(base, sizeof base, "http://%s:%lld",
                 strcmp(plisten, "0.0.0.0") == 0 ? "localhost" : plisten, pport);
    else
        snprintf(base, sizeof base, "%s", app->base_url);
    snprintf(app->public_base_url, sizeof app->public_base_url, "%s",
             pki_config_string(cfg, "public_http.url", base));
    long long loops = pki_config_int(cfg, "public_http.threads", public_loops_default());
    if (loops < 1 || loops > PUBLIC_LOOPS_MAX) {
        fprintf(stderr, "pki-relay: public_http.threads must be 1 to %d\n", PUBLIC_LOOPS_MAX);
        return -1;
    }
    app->public_loops = (unsigned)loops;
    long long max_body = pki_config_int(cfg, "http.max_body", 1048576);
    app->max_body = max_body > 0 ? (size_t)max_body : 1048576;
    if (app->session_lifetime_s < 60 || app->session_idle_s < 60 || app->audit_retention_s <= 0) {
        fprintf(stderr, "pki-relay: session times must be >= 60 s and audit.retention_days >= 1\n");
        return -1;
    }
    return 0;
}

/* Opens what serving needs: master key, database (migrated), throttle, workers. */
static int open_state(relay_app *app, const pki_config *cfg)
{
    if (ensure_dir(app->state_dir) != 0)
        return -1;
    char keyfile[1100], err[1024];
    snprintf(keyfile, sizeof keyfile, "%s", pki_config_string(cfg, "master_key_file", ""));
    if (!keyfile[0])
        snprintf(keyfile, sizeof keyfile, "%s/master.key", app->state_dir);
    app->master = seal_key_load("master.key", keyfile, err, sizeof err);
    if (!app->master) {
        pki_err("master key: %s", err);
        return -1;
    }
    store *st = store_open(app->db_path, err, sizeof err);
    if (!st) {
        pki_err("database: %s", err);
        return -1;
    }
    int rc = accounts_bootstrap(app, st, app->base_url);
    store_close(st);
    if (rc != 0)
        return -1;
    long long maxf = pki_config_int(cfg, "login.max_failures", 5);
    long long lock = pki_config_int(cfg, "login.lockout", 60);
    unsigned mf = (unsigned)(maxf > 0 && maxf < 10000 ? maxf : 5);
    unsigned lo = (unsigned)(lock > 0 && lock < 86400 ? lock : 60);
    app->throttle = auth_throttle_new(mf, 900, lo);
    app->throttle_ip = auth_throttle_new(mf * 4, 900, lo);
    long long nw = pki_config_int(cfg, "workers", 4);
    app->pool = work_pool_new((unsigned)(nw > 0 && nw <= 64 ? nw : 4), api_worker_init,
                              api_worker_fini, app);
    return app->throttle && app->throttle_ip && app->pool ? 0 : -1;
}

static int add_listeners(relay_app *app, const pki_config *cfg)
{
    const char *cert = pki_config_string(cfg, "http.tls_cert", NULL);
    const char *key = pki_config_string(cfg, "http.tls_key", NULL);
    char certbuf[1200], keybuf[1200];
    bool tls = pki_config_bool(cfg, "http.tls", true);
    if (tls && (!cert || !key)) {
        if (cert || key) {
            pki_err("http.tls_cert and http.tls_key go together");
            return -1;
        }
        static const pki_tlscert_subject subject = {"pki-relay", "pki-relay (self-signed)", 825};
        char dir[1100];
        snprintf(dir, sizeof dir, "%s/tls", app->state_dir);
        if (pki_tlscert_ensure(dir, "relay", &subject, certbuf, sizeof certbuf, keybuf,
                               sizeof keybuf) != 0)
            return -1;
        cert = certbuf;
        key = keybuf;
    }
    if (httpd_add_listener(app->http, "main", pki_config_string(cfg, "http.listen", "0.0.0.0"),
                           (int)pki_config_int(cfg, "http.port", 8443), tls ? cert : NULL,
                           tls ? key : NULL) != 0)
        return -1;
    long long pport = pki_config_int(cfg, "public_http.port", 0);
    if (pport <= 0)
        return 0;
    return public_loops_start(handle_request, app,
                              pki_config_string(cfg, "public_http.listen", "0.0.0.0"), (int)pport,
                              app->public_loops, app->max_body, &g_stop);
}

static void close_state(relay_app *app)
{
    g_stop = 1;
    public_loops_stop();
    work_pool_free(app->pool); /* runs queued jobs; they complete through their server */
    public_loops_free();
    httpd_free(app->http);
    relay_link_stop(); /* after the loop: its sessions are closed */
    auth_throttle_free(app->throttle);
    auth_throttle_free(app->throttle_ip);
    ca_cache_free();
    ocsp_cache_free();
    acme_shutdown();
    seal_key_free(app->master);
}

int main(int argc, char **argv)
{
    pki_log_init("pki-relay");
    pki_daemon_args args;
    int rc = pki_daemon_parse_args(&RELAY_INFO, argc, argv, &args);
    if (rc)
        return rc == 1 ? 0 : 2;

    pki_config cfg;
    char err[1024];
    if (pki_config_load(&cfg, args.config_path, RELAY_INFO.schema, RELAY_INFO.schema_len, err,
                        sizeof err) != 0) {
        fprintf(stderr, "pki-relay: %s\n", err);
        return 1;
    }
    int level = pki_log_level_from_name(pki_config_string(&cfg, "log_level", "info"));
    if (level < 0) {
        fprintf(stderr, "pki-relay: %s: log_level must be error, warning, notice, info or debug\n",
                args.config_path);
        pki_config_free(&cfg);
        return 1;
    }
    pki_log_set_level(level);
    static relay_app app;
    if (load_settings(&app, &cfg) != 0 || acme_configure(&app, &cfg) != 0) {
        pki_config_free(&cfg);
        return 1;
    }
    if (args.check_only) {
        printf("%s: configuration OK\n", args.config_path);
        pki_config_free(&cfg);
        return 0;
    }
    const char *state_dir = app.state_dir;
    if (args.argc > 0 && strcmp(args.argv[0], "status") == 0) {
        rc = pki_status_print(stdout, "pki-relay", state_dir,
                              args.argc > 1 && strcmp(args.argv[1], "--json") == 0);
        pki_config_free(&cfg);
        return rc;
    }
    if (args.argc > 0) {
        rc = run_command(&app, &args);
        pki_config_free(&cfg);
        return rc;
    }
    pki_daemon_harden();
    pki_status_init("pki-relay", state_dir);
    console_init(pki_config_string(&cfg, "http.console_root", NULL));

    unsigned wd = pki_daemon_watchdog_period_ms();
    httpd_options opts = {.tick = tick,
                          .tick_ms = wd ? wd : 1000,
                          .max_body = app.max_body,
                          .extra_protocols = relay_link_protocols()};
    app.http = httpd_new(&opts, handle_request, &app);
    /* Before any listener exists: a SIGTERM sent as soon as the port answers is a clean stop. */
    if (app.http)
        pki_daemon_handle_signals(&g_stop, wake, app.http);
    if (!app.http || open_state(&app, &cfg) != 0 || relay_link_start(&app) != 0 ||
        add_listeners(&app, &cfg) != 0) {
        close_state(&app);
        pki_config_free(&cfg);
        return 1;
    }
    pki_daemon_notify_ready("serving");
    pki_status_publish();
    pki_info("pki-relay ready");
    rc = httpd_run(app.http, &g_stop);
    pki_daemon_notify_stopping();
    pki_status_shutdown();
    pki_info("pki-relay stopping");
    close_state(&app);
    pki_config_free(&cfg);
    wc_ecc_fp_free(); /* the self-signed HTTPS key was made on this thread */
    return rc == 0 ? 0 : 1;
}
