/* pki-relay: the PKI platform daemon. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "daemon/daemon.h"
#include "daemon/status.h"
#include "httpd/httpd.h"
#include "log/log.h"

static const pki_cfg_key RELAY_SCHEMA[] = {
    {"log_level", PKI_CFG_STRING, false, "info", "error, warning, notice, info or debug"},
    {"state_dir", PKI_CFG_STRING, false, "/var/lib/pki-relay", "database and sealed keys"},
    {"http", PKI_CFG_GROUP, false, NULL, "the HTTPS listener (console, REST API, protocols)"},
    {"http.listen", PKI_CFG_STRING, false, "0.0.0.0", "address to listen on"},
    {"http.port", PKI_CFG_INT, false, "8443", "TCP port"},
    {"http.tls_cert", PKI_CFG_STRING, false, NULL, "PEM certificate chain for HTTPS"},
    {"http.tls_key", PKI_CFG_STRING, false, NULL, "PEM private key for HTTPS"},
};

static const pki_daemon_info RELAY_INFO = {
    .name = "pki-relay",
    .summary = "The PKI platform: certificate authorities, templates, workflows, CRL, OCSP, ACME.",
    .default_config = "/etc/pki-relay/relay.conf",
    .commands_help =
        "  status [--json]  one-screen summary of the running pki-relay (exit 0 running,\n"
        "                   1 not answering, 3 not running, 4 no status)\n",
    .schema = RELAY_SCHEMA,
    .schema_len = sizeof RELAY_SCHEMA / sizeof RELAY_SCHEMA[0],
};

static volatile sig_atomic_t g_stop;

static void handle_request(void *app, const httpd_request *req, httpd_response *resp)
{
    (void)app;
    if (strcmp(req->path, "/healthz") == 0) {
        httpd_respond(resp, 200, "application/json", "{\"status\":\"ok\"}\n", 16);
        return;
    }
    httpd_respond_error(resp, 404, "not_found", "no such resource: %s", req->path);
}

static void wake(void *arg)
{
    httpd_wake(arg);
}

static void tick(void *app)
{
    (void)app;
    pki_daemon_watchdog_ping();
    pki_status_publish();
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
    if (args.check_only) {
        printf("%s: configuration OK\n", args.config_path);
        pki_config_free(&cfg);
        return 0;
    }
    const char *state_dir = pki_config_string(&cfg, "state_dir", "/var/lib/pki-relay");
    if (args.argc > 0 && strcmp(args.argv[0], "status") == 0) {
        rc = pki_status_print(stdout, "pki-relay", state_dir,
                              args.argc > 1 && strcmp(args.argv[1], "--json") == 0);
        pki_config_free(&cfg);
        return rc;
    }
    pki_daemon_harden();
    pki_status_init("pki-relay", state_dir);

    unsigned wd = pki_daemon_watchdog_period_ms();
    httpd_options opts = {.tick = tick, .tick_ms = wd ? wd : 1000};
    httpd *h = httpd_new(&opts, handle_request, NULL);
    if (!h) {
        pki_config_free(&cfg);
        return 1;
    }
    const char *cert = pki_config_string(&cfg, "http.tls_cert", NULL);
    const char *key = pki_config_string(&cfg, "http.tls_key", NULL);
    if (httpd_add_listener(h, "main", pki_config_string(&cfg, "http.listen", "0.0.0.0"),
                           (int)pki_config_int(&cfg, "http.port", 8443), cert, key) != 0) {
        httpd_free(h);
        pki_config_free(&cfg);
        return 1;
    }
    pki_daemon_handle_signals(&g_stop, wake, h);
    pki_daemon_notify_ready("serving");
    pki_status_publish();
    pki_info("pki-relay ready");
    rc = httpd_run(h, &g_stop);
    pki_daemon_notify_stopping();
    pki_status_shutdown();
    pki_info("pki-relay stopping");
    httpd_free(h);
    pki_config_free(&cfg);
    return rc == 0 ? 0 : 1;
}
