/* iothsm-agent: the YubiKey appliance daemon. */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "config/config.h"
#include "daemon/daemon.h"
#include "daemon/status.h"
#include "httpd/httpd.h"
#include "link/link_client.h"
#include "log/log.h"
#include "state/state.h"
#include "tlscert/tlscert.h"
#include "webauth/webauth.h"
#include "yubikey/yk.h"

static const pki_cfg_key AGENT_SCHEMA[] = {
    {"log_level", PKI_CFG_STRING, false, "info", "error, warning, notice, info or debug"},
    {"state_dir", PKI_CFG_STRING, false, "/var/lib/iothsm",
     "state database, audit log, device key"},
    {"http", PKI_CFG_GROUP, false, NULL, "the local HTTPS provisioning UI"},
    {"http.listen", PKI_CFG_STRING, false, "127.0.0.1", "address to listen on"},
    {"http.port", PKI_CFG_INT, false, "8444", "TCP port"},
    {"http.tls_cert", PKI_CFG_STRING, false, NULL,
     "PEM certificate chain for HTTPS (default: self-signed, made on first start)"},
    {"http.tls_key", PKI_CFG_STRING, false, NULL, "PEM private key for HTTPS"},
    {"http.webui_root", PKI_CFG_STRING, false, "/usr/share/iothsm/webui",
     "folder with the UI's static files (webui/agent)"},
    {"http.session_idle_minutes", PKI_CFG_INT, false, "30",
     "a UI session ends after this many idle minutes"},
    {"yubikey", PKI_CFG_GROUP, false, NULL, "YubiKeys on PC/SC"},
    {"yubikey.reader_filter", PKI_CFG_STRING, false, "",
     "use only readers whose name contains this text (\"\" = every reader)"},
    {"link", PKI_CFG_GROUP, false, NULL, "the link to the relay (docs/link.md)"},
    {"link.tls_ca", PKI_CFG_STRING, false, NULL,
     "PEM file the relay's HTTPS certificate must chain to (then its host name is not checked)"},
    {"link.tls_verify", PKI_CFG_BOOL, false, "true",
     "check the relay's HTTPS certificate against the system CAs (false: accept any; the "
     "signed and encrypted envelope still authenticates the relay)"},
    {"link.max_backoff_ms", PKI_CFG_INT, false, "4000", "longest wait between reconnects"},
    {"link.ping_ms", PKI_CFG_INT, false, "10000", "heartbeat period"},
    {"link.dead_ms", PKI_CFG_INT, false, "25000", "silence after which the relay counts as gone"},
    {"link.allow", PKI_CFG_STRING_LIST, false, "[\"certificate\", \"crl\", \"ocsp\"]",
     "what the relay may have signed: certificate, crl, ocsp, csr, cms (empty: the default)"},
};

static const pki_daemon_info AGENT_INFO = {
    .name = "iothsm-agent",
    .summary =
        "The YubiKey appliance: provisions slots and signs for a pki-relay over an S/MIME link.",
    .default_config = "/etc/iothsm/agent.conf",
    .commands_help = "  set-password    read a new admin password from standard input\n",
    .schema = AGENT_SCHEMA,
    .schema_len = sizeof AGENT_SCHEMA / sizeof AGENT_SCHEMA[0],
};

static volatile sig_atomic_t g_stop;

static void wake(void *arg)
{
    httpd_wake(arg);
}

static void tick(void *app)
{
    pki_daemon_watchdog_ping();
    agent_app_status(app);
    pki_status_publish();
}

/* Starts the listener on the configured certificate, or on the self-signed one. */
static int add_listener(httpd *h, const pki_config *cfg, const char *state_dir)
{
    const char *cert = pki_config_string(cfg, "http.tls_cert", NULL);
    const char *key = pki_config_string(cfg, "http.tls_key", NULL);
    char cbuf[1024], kbuf[1024];
    if (!cert != !key) {
        pki_err("http.tls_cert and http.tls_key go together: set both or neither");
        return -1;
    }
    if (!cert) {
        static const pki_tlscert_subject subject = {"iothsm-agent local UI", "iothsm appliance",
                                                    3650};
        if (pki_tlscert_ensure(state_dir, "ui-tls", &subject, cbuf, sizeof cbuf, kbuf,
                               sizeof kbuf) != 0)
            return -1;
        cert = cbuf;
        key = kbuf;
    }
    return httpd_add_listener(h, "main", pki_config_string(cfg, "http.listen", "127.0.0.1"),
                              (int)pki_config_int(cfg, "http.port", 8444), cert, key);
}

static int serve(const pki_config *cfg, agent_state *st)
{
    const char *state_dir = pki_config_string(cfg, "state_dir", "/var/lib/iothsm");
    long long idle = pki_config_int(cfg, "http.session_idle_minutes", 30);
    if (idle < 1 || idle > 24 * 60) {
        pki_err("http.session_idle_minutes must be between 1 and 1440");
        return 1;
    }
    agent_app app = {
        .state = st,
        .auth = webauth_new(st, (unsigned)idle),
        .webui_root = pki_config_string(cfg, "http.webui_root", "/usr/share/iothsm/webui"),
    };
    if (!app.auth)
        return 1;
    /* The YubiKey layer runs beside the loop; without pcscd it keeps retrying, the UI works. */
    app.keys = yk_manager_start(pki_config_string(cfg, "yubikey.reader_filter", ""));
    agent_link_config lc = {
        .state_dir = state_dir,
        .tls_ca = pki_config_string(cfg, "link.tls_ca", NULL),
        .tls_verify = pki_config_bool(cfg, "link.tls_verify", true),
        .max_backoff_ms = (unsigned)pki_config_int(cfg, "link.max_backoff_ms", 4000),
        .ping_ms = (unsigned)pki_config_int(cfg, "link.ping_ms", 10000),
        .dead_ms = (unsigned)pki_config_int(cfg, "link.dead_ms", 25000),
    };
    size_t n_allow = pki_config_list_len(cfg, "link.allow");
    if (n_allow == 0) /* absent (or empty): the default kinds */
        lc.allow = agent_link_allow_bit("certificate") | agent_link_allow_bit("crl") |
                   agent_link_allow_bit("ocsp");
    for (size_t i = 0; i < n_allow; i++) {
        const char *kind = pki_config_list_item(cfg, "link.allow", i);
        unsigned bit = kind ? agent_link_allow_bit(kind) : 0;
        if (!bit) {
            pki_err("link.allow: unknown kind '%s' (certificate, crl, ocsp, csr, cms)",
                    kind ? kind : "");
            yk_manager_stop(app.keys);
            webauth_free(app.auth);
            return 1;
        }
        lc.allow |= bit;
    }
    unsigned wd = pki_daemon_watchdog_period_ms();
    httpd_options opts = {.tick = tick, .tick_ms = wd ? wd : 1000};
    httpd *h = httpd_new(&opts, agent_app_handle, &app);
    /* Before any listener exists: a SIGTERM sent as soon as the port answers is a clean stop. */
    if (h) {
        pki_daemon_handle_signals(&g_stop, wake, h);
        app.link = agent_link_start(&lc, st, app.keys, h); /* NULL: the UI works without it */
    }
    if (!h || add_listener(h, cfg, state_dir) != 0) {
        agent_link_shutdown(app.link);
        httpd_free(h);
        agent_link_free(app.link);
        yk_manager_stop(app.keys);
        webauth_free(app.auth);
        return 1;
    }
    pki_status_init("iothsm-agent", state_dir);
    pki_daemon_notify_ready("serving");
    pki_status_publish();
    pki_info("iothsm-agent ready");
    int rc = httpd_run(h, &g_stop);
    pki_daemon_notify_stopping();
    pki_status_shutdown();
    pki_info("iothsm-agent stopping");
    agent_link_shutdown(app.link); /* answers pending enrolments before the server goes */
    httpd_free(h);
    yk_manager_stop(app.keys); /* queued sign jobs finish while the link still exists */
    agent_link_free(app.link);
    webauth_free(app.auth);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    pki_log_init("iothsm-agent");
    pki_daemon_args args;
    int rc = pki_daemon_parse_args(&AGENT_INFO, argc, argv, &args);
    if (rc)
        return rc == 1 ? 0 : 2;

    pki_config cfg;
    char err[1024];
    if (pki_config_load(&cfg, args.config_path, AGENT_INFO.schema, AGENT_INFO.schema_len, err,
                        sizeof err) != 0) {
        fprintf(stderr, "iothsm-agent: %s\n", err);
        return 1;
    }
    int level = pki_log_level_from_name(pki_config_string(&cfg, "log_level", "info"));
    if (level < 0) {
        fprintf(stderr,
                "iothsm-agent: %s: log_level must be error, warning, notice, info or debug\n",
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
    if (args.argc > 0 && strcmp(args.argv[0], "set-password") != 0) {
        fprintf(stderr, "iothsm-agent: unknown command '%s'\n", args.argv[0]);
        pki_config_free(&cfg);
        return 2;
    }
    pki_daemon_harden();

    agent_state *st = agent_state_open(pki_config_string(&cfg, "state_dir", "/var/lib/iothsm"));
    if (!st) {
        pki_config_free(&cfg);
        return 1;
    }
    if (args.argc > 0)
        rc = webauth_set_password_cli(st);
    else
        rc = serve(&cfg, st);
    agent_state_close(st);
    pki_config_free(&cfg);
    wc_ecc_fp_free(); /* wolfCrypt's per-thread ECC point cache */
    return rc;
}
