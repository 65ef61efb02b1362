/* iothsmctl: what an appliance administrator types. `iothsmctl status` prints a one-screen
 * summary of the running iothsm-agent from the status file it keeps in its state directory
 * (lib/daemon/status.h), so it works without the agent's help even when the agent is stuck. */
#include <getopt.h>
#include <libconfig.h>
#include <stdio.h>
#include <string.h>

#include "daemon/status.h"
#include "pki_version.h"

#define DEFAULT_CONFIG "/etc/iothsm/agent.conf"
#define DEFAULT_STATE_DIR "/var/lib/iothsm"

static void usage(FILE *out)
{
    fprintf(out, "Usage: iothsmctl [OPTIONS] status [--json]\n"
                 "Administers the iothsm-agent appliance.\n\n"
                 "Options:\n"
                 "  -c, --config FILE    the agent's configuration (default " DEFAULT_CONFIG ")\n"
                 "      --state-dir DIR  read this state directory instead of the config's\n"
                 "  -V, --version        print the version and exit\n"
                 "  -h, --help           print this help and exit\n\n"
                 "Commands:\n"
                 "  status [--json]      one-screen summary: running or not, YubiKeys, slots,\n"
                 "                       link, errors. Exit 0 running, 1 not answering,\n"
                 "                       3 not running, 4 no status.\n");
}

/* Only state_dir is read: the agent validates its whole configuration itself, and a tool that
 * refused keys it does not know would break whenever the agent gains one. */
static int state_dir_from_config(const char *path, char *out, size_t len)
{
    config_t cfg;
    config_init(&cfg);
    if (config_read_file(&cfg, path) != CONFIG_TRUE) {
        if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO) {
            config_destroy(&cfg);
            snprintf(out, len, "%s", DEFAULT_STATE_DIR); /* no config: the agent's default */
            return 0;
        }
        fprintf(stderr, "iothsmctl: %s:%d: %s\n", path, config_error_line(&cfg),
                config_error_text(&cfg));
        config_destroy(&cfg);
        return -1;
    }
    const char *dir = NULL;
    if (config_lookup_string(&cfg, "state_dir", &dir) != CONFIG_TRUE)
        dir = DEFAULT_STATE_DIR;
    snprintf(out, len, "%s", dir);
    config_destroy(&cfg);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"state-dir", required_argument, NULL, 's'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = DEFAULT_CONFIG, *state_dir = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "+c:Vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 's':
            state_dir = optarg;
            break;
        case 'V':
            printf("iothsmctl %s\n", PKI_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind];
    if (strcmp(cmd, "status") != 0) {
        fprintf(stderr, "iothsmctl: unknown command \"%s\" (try --help)\n", cmd);
        return 2;
    }
    int as_json = 0;
    for (int i = optind + 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else {
            fprintf(stderr, "iothsmctl: status: unknown argument \"%s\"\n", argv[i]);
            return 2;
        }
    }
    char dir[4096];
    if (!state_dir) {
        if (state_dir_from_config(config, dir, sizeof dir) != 0)
            return 4;
        state_dir = dir;
    }
    return pki_status_print(stdout, "iothsm-agent", state_dir, as_json);
}
