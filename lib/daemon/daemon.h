/* What both daemons do the same way: the command line, signals, systemd notification,
 * and the process hardening that keeps secrets out of core dumps. */
#ifndef PKI_DAEMON_H
#define PKI_DAEMON_H

#include <signal.h>
#include <stddef.h>

#include "config/config.h"

typedef struct {
    const char *name;           /* "pki-relay" */
    const char *summary;        /* one line for --help */
    const char *default_config; /* "/etc/pki-relay/relay.conf" */
    const char *commands_help;  /* extra usage lines for subcommands, may be NULL */
    const pki_cfg_key *schema;
    size_t schema_len;
} pki_daemon_info;

typedef struct {
    const char *config_path;
    int check_only; /* --check-config: load, validate, exit */
    int argc;       /* what is left after the options: a subcommand and its arguments */
    char **argv;
} pki_daemon_args;

/* Parses --version, --help, --help-config, -c/--config FILE, --check-config.
 * Returns 0 to go on, 1 when the program should exit 0 (it printed what was asked), and
 * 2 on a usage error (message printed to stderr). */
int pki_daemon_parse_args(const pki_daemon_info *info, int argc, char **argv, pki_daemon_args *out);

/* No core dumps, not ptrace-able by other users' processes, secrets stay in memory; jansson
 * wipes what it frees (request JSON carries passwords, PINs and keys). */
void pki_daemon_harden(void);

/* SIGTERM and SIGINT set *stop and call wake(wake_arg) (e.g. httpd_wake); SIGPIPE ignored. */
void pki_daemon_handle_signals(volatile sig_atomic_t *stop, void (*wake)(void *), void *wake_arg);

/* systemd notification; harmless when not under systemd. */
void pki_daemon_notify_ready(const char *status);
void pki_daemon_notify_status(const char *status);
void pki_daemon_notify_stopping(void);
/* Call from the event loop: pings the watchdog when WatchdogSec= is set. */
void pki_daemon_watchdog_ping(void);
/* Half the watchdog interval in ms (how often to ping), or 0 when there is no watchdog. */
unsigned pki_daemon_watchdog_period_ms(void);

#endif
