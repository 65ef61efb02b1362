#include "daemon/daemon.h"

#include <getopt.h>
#include <jansson.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>

#include "log/log.h"
#include "pki_version.h"

static void usage(const pki_daemon_info *info, FILE *out)
{
    fprintf(out,
            "Usage: %s [OPTIONS]%s\n"
            "%s\n\n"
            "Options:\n"
            "  -c, --config FILE   configuration file (default %s)\n"
            "      --check-config  validate the configuration and exit\n"
            "      --help-config   list every configuration key\n"
            "  -V, --version       print the version and exit\n"
            "  -h, --help          print this help and exit\n",
            info->name, info->commands_help ? " [COMMAND ...]" : "", info->summary,
            info->default_config);
    if (info->commands_help)
        fprintf(out, "\nCommands:\n%s", info->commands_help);
}

int pki_daemon_parse_args(const pki_daemon_info *info, int argc, char **argv, pki_daemon_args *out)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"check-config", no_argument, NULL, 'k'},
        {"help-config", no_argument, NULL, 'H'},  {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    memset(out, 0, sizeof *out);
    out->config_path = info->default_config;
    optind = 1;
    int c;
    /* '+' stops at the first non-option so subcommands keep their own options. */
    while ((c = getopt_long(argc, argv, "+c:Vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            out->config_path = optarg;
            break;
        case 'k':
            out->check_only = 1;
            break;
        case 'H':
            printf("Configuration keys of %s (%s):\n", info->name, info->default_config);
            pki_config_print_schema(stdout, info->schema, info->schema_len);
            return 1;
        case 'V':
            printf("%s %s\n", info->name, PKI_VERSION);
            return 1;
        case 'h':
            usage(info, stdout);
            return 1;
        default:
            usage(info, stderr);
            return 2;
        }
    }
    out->argc = argc - optind;
    out->argv = argv + optind;
    return 0;
}

/* jansson's memory is wiped before it is freed: the JSON parsed from a request body holds its
 * passwords, PINs and keys in jansson's own strings, beyond the reach of the handler. */
static void json_wiping_free(void *p)
{
    if (p) {
        explicit_bzero(p, malloc_usable_size(p));
        free(p);
    }
}

void pki_daemon_harden(void)
{
    json_set_alloc_funcs(malloc, json_wiping_free);
    struct rlimit none = {0, 0};
    if (setrlimit(RLIMIT_CORE, &none) != 0)
        pki_warn("cannot disable core dumps: %m");
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        pki_warn("cannot mark the process non-dumpable: %m");
}

static volatile sig_atomic_t *g_stop;
static void (*g_wake)(void *);
static void *g_wake_arg;

static void on_signal(int sig)
{
    (void)sig;
    if (g_stop)
        *g_stop = 1;
    if (g_wake)
        g_wake(g_wake_arg);
}

void pki_daemon_handle_signals(volatile sig_atomic_t *stop, void (*wake)(void *), void *wake_arg)
{
    g_stop = stop;
    g_wake = wake;
    g_wake_arg = wake_arg;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a blocking poll returns EINTR and the loop sees *stop. */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

void pki_daemon_notify_ready(const char *status)
{
    sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void pki_daemon_notify_status(const char *status)
{
    sd_notifyf(0, "STATUS=%s", status);
}

void pki_daemon_notify_stopping(void)
{
    sd_notify(0, "STOPPING=1");
}

void pki_daemon_watchdog_ping(void)
{
    sd_notify(0, "WATCHDOG=1");
}

unsigned pki_daemon_watchdog_period_ms(void)
{
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return 0;
    return (unsigned)(usec / 2000);
}
