#include "log/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>

static char g_ident[64] = "pki";
static int g_max = LOG_INFO;
static int g_journal = -1; /* -1: not decided yet */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

void pki_log_init(const char *ident)
{
    snprintf(g_ident, sizeof g_ident, "%s", ident);
    /* systemd sets JOURNAL_STREAM when stderr is connected to the journal. */
    g_journal = getenv("JOURNAL_STREAM") != NULL;
}

void pki_log_set_level(int max_priority)
{
    g_max = max_priority;
}

int pki_log_level_from_name(const char *name)
{
    static const struct {
        const char *name;
        int prio;
    } levels[] = {{"error", LOG_ERR},
                  {"warning", LOG_WARNING},
                  {"notice", LOG_NOTICE},
                  {"info", LOG_INFO},
                  {"debug", LOG_DEBUG}};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (strcmp(name, levels[i].name) == 0)
            return levels[i].prio;
    return -1;
}

static const char *prio_name(int p)
{
    switch (p) {
    case LOG_EMERG:
    case LOG_ALERT:
    case LOG_CRIT:
    case LOG_ERR:
        return "error";
    case LOG_WARNING:
        return "warning";
    case LOG_NOTICE:
        return "notice";
    case LOG_INFO:
        return "info";
    default:
        return "debug";
    }
}

static void emit(int priority, const char *const *fields, const char *msg)
{
    if (g_journal == 1) {
        struct iovec iov[24];
        char bufs[3][1100];
        int n = 0;
        snprintf(bufs[0], sizeof bufs[0], "MESSAGE=%s", msg);
        snprintf(bufs[1], sizeof bufs[1], "PRIORITY=%d", priority);
        snprintf(bufs[2], sizeof bufs[2], "SYSLOG_IDENTIFIER=%s", g_ident);
        for (int i = 0; i < 3; i++) {
            iov[n].iov_base = bufs[i];
            iov[n].iov_len = strlen(bufs[i]);
            n++;
        }
        for (size_t i = 0; fields && fields[i] && n < 24; i++) {
            iov[n].iov_base = (void *)fields[i];
            iov[n].iov_len = strlen(fields[i]);
            n++;
        }
        if (sd_journal_sendv(iov, n) == 0)
            return;
    }
    pthread_mutex_lock(&g_lock);
    fprintf(stderr, "%s: %s: %s", g_ident, prio_name(priority), msg);
    if (fields && fields[0]) {
        fputs(" [", stderr);
        for (size_t i = 0; fields[i]; i++)
            fprintf(stderr, "%s%s", i ? " " : "", fields[i]);
        fputc(']', stderr);
    }
    fputc('\n', stderr);
    fflush(stderr);
    pthread_mutex_unlock(&g_lock);
}

__attribute__((format(printf, 3, 0))) static void vlog(int priority, const char *const *fields,
                                                       const char *fmt, va_list ap)
{
    if (priority > g_max)
        return;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    emit(priority, fields, msg);
}

void pki_log(int priority, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(priority, NULL, fmt, ap);
    va_end(ap);
}

void pki_log_fields(int priority, const char *const *fields, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(priority, fields, fmt, ap);
    va_end(ap);
}
