/* piv-sim: a virtual YubiKey 5 (PIV applet) for pcscd's vpcd reader driver.
 *
 *   piv-sim --state FILE [--serial N] [--vpcd-host HOST] [--vpcd-port PORT]
 *           [--control SOCKET] [--attestation-ca DIR] [--touch-timeout SECONDS] [--removed]
 *           [--log-level LEVEL]
 *
 * One process is one key. It connects to the vpcd port (the card side of the virtual reader),
 * answers the reader until it is stopped (SIGTERM/SIGINT or "quit" on the control socket), and
 * reconnects when pcscd restarts. See docs/piv-sim.md. */
#include "attest_ca.h"
#include "card.h"
#include "control.h"
#include "crypto.h"
#include "state.h"
#include "vpcd.h"

#include "log/log.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

struct sim {
    struct sim_state st;
    struct card card;
    struct vpcd vpcd;
    struct control ctl;
    bool have_ctl;
    const char *host;
    int port;
    bool inserted;
    bool quit;
    double wait_deadline;
    /* "delay MS": every response is held this long, as from a slow card. */
    double delay;
    struct buf delayed;
    double delay_deadline; /* > 0 while a response is held */
    double touch_timeout;
    double next_connect;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: piv-sim --state FILE [--serial N] [--vpcd-host HOST] [--vpcd-port PORT]\n"
               "               [--control SOCKET] [--attestation-ca DIR] [--touch-timeout S]\n"
               "               [--removed] [--log-level error|warning|notice|info|debug]\n");
}

static void drop_delayed(struct sim *s)
{
    buf_reset(&s->delayed);
    s->delay_deadline = 0;
}

static void send_or_drop(struct sim *s, const struct buf *out)
{
    if (out->failed || vpcd_send(&s->vpcd, out->data, out->len) != 0) {
        pki_warn("vpcd: send failed, reconnecting");
        vpcd_close(&s->vpcd);
    }
}

static void on_message(struct sim *s, const uint8_t *msg, size_t len)
{
    struct buf out;
    buf_init(&out, 0xFFFF);
    if (len == 1) {
        switch (msg[0]) {
        case VPCD_CTRL_OFF:
        case VPCD_CTRL_ON:
        case VPCD_CTRL_RESET:
            card_power_reset(&s->card);
            s->wait_deadline = 0;
            break;
        case VPCD_CTRL_ATR: {
            uint8_t atr[33];
            size_t n = card_atr(atr, sizeof(atr));
            buf_put(&out, atr, n);
            send_or_drop(s, &out);
            break;
        }
        default:
            pki_debug("vpcd: unknown control code %u", msg[0]);
            break;
        }
        buf_free(&out);
        return;
    }
    if (len >= 2) {
        pki_debug("apdu: ins=%02x p1=%02x p2=%02x len=%zu", msg[1], len > 2 ? msg[2] : 0,
                  len > 3 ? msg[3] : 0, len);
    }
    if (card_transmit(&s->card, msg, len, &out) == CARD_WAIT_TOUCH) {
        pki_info("waiting for a touch (up to %.0f s)", s->touch_timeout);
        s->wait_deadline = piv_now() + s->touch_timeout;
    } else {
        if (out.len >= 2) {
            pki_debug("apdu: sw=%02x%02x", out.data[out.len - 2], out.data[out.len - 1]);
        }
        if (s->delay > 0) {
            buf_reset(&s->delayed);
            buf_put(&s->delayed, out.data, out.len);
            s->delay_deadline = piv_now() + s->delay;
        } else {
            send_or_drop(s, &out);
        }
    }
    buf_free_secret(&out);
}

/* Handles the messages already read, unless the reader must wait for an answer first. */
static void drain(struct sim *s)
{
    const uint8_t *msg;
    size_t len;
    while (s->vpcd.fd >= 0 && !s->card.waiting && s->delay_deadline == 0 &&
           vpcd_next(&s->vpcd, &msg, &len)) {
        on_message(s, msg, len);
    }
}

static void resume(struct sim *s, int touched)
{
    struct buf out;
    buf_init(&out, 0xFFFF);
    s->wait_deadline = 0;
    if (card_resume(&s->card, touched, &out) == CARD_WAIT_TOUCH) {
        s->wait_deadline = piv_now() + s->touch_timeout;
    } else if (s->vpcd.fd >= 0) {
        send_or_drop(s, &out);
    }
    buf_free_secret(&out);
}

static void on_control(void *ctx, const char *cmd, char *reply, size_t len)
{
    struct sim *s = ctx;
    if (strcmp(cmd, "status") == 0) {
        snprintf(reply, len, "ok serial=%u inserted=%d connected=%d waiting_touch=%d", s->st.serial,
                 s->inserted, s->vpcd.fd >= 0, s->card.waiting);
    } else if (strncmp(cmd, "delay ", 6) == 0) {
        char *end;
        long ms = strtol(cmd + 6, &end, 10);
        if (*end || ms < 0 || ms > 600000) {
            snprintf(reply, len, "error delay takes milliseconds, 0..600000");
            return;
        }
        s->delay = (double)ms / 1000.0;
        snprintf(reply, len, "ok delay %ld ms", ms);
    } else if (strcmp(cmd, "remove") == 0) {
        s->inserted = false;
        vpcd_close(&s->vpcd);
        card_power_reset(&s->card);
        s->wait_deadline = 0;
        drop_delayed(s);
        pki_info("card removed");
        snprintf(reply, len, "ok removed");
    } else if (strcmp(cmd, "insert") == 0) {
        s->inserted = true;
        s->next_connect = 0;
        pki_info("card inserted");
        snprintf(reply, len, "ok inserted");
    } else if (strcmp(cmd, "touch") == 0) {
        if (s->card.waiting) {
            resume(s, 1);
            drain(s);
            snprintf(reply, len, "ok touched waiting operation");
        } else {
            piv_touch(&s->card.piv);
            snprintf(reply, len, "ok touch armed");
        }
    } else if (strcmp(cmd, "quit") == 0) {
        s->quit = true;
        snprintf(reply, len, "ok quitting");
    } else {
        snprintf(reply, len,
                 "error unknown command (status, remove, insert, touch, delay MS, quit)");
    }
}

static void try_connect(struct sim *s)
{
    double now = piv_now();
    if (!s->inserted || s->vpcd.fd >= 0 || now < s->next_connect) {
        return;
    }
    if (vpcd_connect(&s->vpcd, s->host, s->port) == 0) {
        pki_info("connected to vpcd at %s:%d", s->host, s->port);
        card_power_reset(&s->card);
    } else {
        s->next_connect = now + 0.2;
    }
}

static int run(struct sim *s)
{
    while (!s->quit && !stop_signal) {
        try_connect(s);
        struct pollfd pfd[CONTROL_MAX_CLIENTS + 2];
        int cfds[CONTROL_MAX_CLIENTS + 1];
        nfds_t n = 0;
        if (s->vpcd.fd >= 0) {
            pfd[n].fd = s->vpcd.fd;
            pfd[n].events = POLLIN;
            n++;
        }
        size_t nc = s->have_ctl ? control_pollfds(&s->ctl, cfds, CONTROL_MAX_CLIENTS + 1) : 0;
        for (size_t i = 0; i < nc; i++) {
            pfd[n].fd = cfds[i];
            pfd[n].events = POLLIN;
            n++;
        }
        int timeout = 200;
        double next = s->wait_deadline > 0 ? s->wait_deadline : 0;
        if (s->delay_deadline > 0 && (next == 0 || s->delay_deadline < next)) {
            next = s->delay_deadline;
        }
        if (next > 0) {
            double left = next - piv_now();
            timeout = left <= 0 ? 0 : left < 0.2 ? (int)(left * 1000) + 1 : 200;
        }
        int r = poll(pfd, n, timeout);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            pki_err("poll: %s", strerror(errno));
            return 1;
        }
        if (s->wait_deadline > 0 && piv_now() >= s->wait_deadline) {
            pki_info("touch timeout");
            resume(s, 0);
            drain(s);
        }
        if (s->delay_deadline > 0 && piv_now() >= s->delay_deadline) {
            s->delay_deadline = 0;
            send_or_drop(s, &s->delayed);
            buf_reset(&s->delayed);
            drain(s);
        }
        for (nfds_t i = 0; i < n; i++) {
            if (!pfd[i].revents) {
                continue;
            }
            if (pfd[i].fd == s->vpcd.fd) {
                int rr = vpcd_read(&s->vpcd);
                if (rr <= 0) {
                    pki_info("vpcd: connection closed, reconnecting");
                    vpcd_close(&s->vpcd);
                    card_power_reset(&s->card);
                    s->wait_deadline = 0;
                    drop_delayed(s);
                    s->next_connect = piv_now() + 0.2;
                    continue;
                }
                /* While a command waits for a touch (or a delayed answer) the reader is blocked
                 * on it; nothing else is handled until it is answered. */
                drain(s);
            } else if (s->have_ctl) {
                control_handle(&s->ctl, pfd[i].fd, on_control, s);
            }
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"state", required_argument, NULL, 's'},
        {"serial", required_argument, NULL, 'n'},
        {"vpcd-host", required_argument, NULL, 'H'},
        {"vpcd-port", required_argument, NULL, 'p'},
        {"control", required_argument, NULL, 'c'},
        {"attestation-ca", required_argument, NULL, 'a'},
        {"touch-timeout", required_argument, NULL, 't'},
        {"removed", no_argument, NULL, 'r'},
        {"log-level", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *state_path = NULL, *control_path = NULL, *ca_dir = NULL;
    unsigned long serial = 0;
    struct sim *s = calloc(1, sizeof(*s));
    if (!s) {
        return 1;
    }
    s->host = "127.0.0.1";
    s->port = 35963;
    s->inserted = true;
    s->touch_timeout = 15;
    pki_log_init("piv-sim");
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end = NULL;
        switch (o) {
        case 's':
            state_path = optarg;
            break;
        case 'n':
            errno = 0;
            serial = strtoul(optarg, &end, 10);
            if (errno || *end || serial == 0 || serial > 0xFFFFFFFFul) {
                fprintf(stderr, "piv-sim: --serial must be 1..4294967295\n");
                return 2;
            }
            break;
        case 'H':
            s->host = optarg;
            break;
        case 'p':
            s->port = atoi(optarg);
            if (s->port <= 0 || s->port > 65535) {
                fprintf(stderr, "piv-sim: --vpcd-port must be 1..65535\n");
                return 2;
            }
            break;
        case 'c':
            control_path = optarg;
            break;
        case 'a':
            ca_dir = optarg;
            break;
        case 't':
            s->touch_timeout = strtod(optarg, &end);
            if (*end || s->touch_timeout <= 0) {
                fprintf(stderr, "piv-sim: --touch-timeout must be a positive number\n");
                return 2;
            }
            break;
        case 'r':
            s->inserted = false;
            break;
        case 'l': {
            int lv = pki_log_level_from_name(optarg);
            if (lv < 0) {
                fprintf(stderr, "piv-sim: unknown log level %s\n", optarg);
                return 2;
            }
            pki_log_set_level(lv);
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!state_path || optind != argc) {
        usage(stderr);
        return 2;
    }
    /* The state holds private keys: keep them out of core dumps. */
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    prctl(PR_SET_DUMPABLE, 0);

    char err[512];
    if (crypto_init() != 0) {
        pki_err("cannot initialise the random number generator");
        return 1;
    }
    if (state_open(&s->st, state_path, (uint32_t)serial, err, sizeof(err)) != 0) {
        pki_err("%s", err);
        return 1;
    }
    if (serial && s->st.serial != serial) {
        pki_warn("state %s has serial %u; --serial %lu ignored", state_path, s->st.serial, serial);
    }
    card_init(&s->card, &s->st);
    struct attest_ca ca = {0};
    if (ca_dir) {
        if (attest_ca_open(&ca, ca_dir, err, sizeof(err)) != 0 ||
            attest_ca_provision(&ca, &s->st, err, sizeof(err)) != 0) {
            pki_err("%s", err);
            return 1;
        }
        s->card.piv.ca_cert_der = ca.cert_der;
        s->card.piv.ca_cert_len = ca.cert_len;
    }
    vpcd_init(&s->vpcd);
    if (control_path) {
        if (control_open(&s->ctl, control_path, err, sizeof(err)) != 0) {
            pki_err("%s", err);
            return 1;
        }
        s->have_ctl = true;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    pki_notice("virtual YubiKey serial %u, firmware %d.%d.%d, vpcd %s:%d%s", s->st.serial, FW_MAJOR,
               FW_MINOR, FW_PATCH, s->host, s->port, s->inserted ? "" : " (removed)");
    int rc = run(s);
    pki_info("stopping");
    vpcd_close(&s->vpcd);
    buf_free(&s->vpcd.in);
    if (s->have_ctl) {
        control_close(&s->ctl);
    }
    card_free(&s->card);
    buf_free_secret(&s->delayed);
    attest_ca_free(&ca);
    state_free(&s->st);
    crypto_cleanup();
    free(s);
    return rc;
}
