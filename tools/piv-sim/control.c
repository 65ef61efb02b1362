/* Control socket (see control.h). Commands are short words; a line longer than the buffer or a
 * client that misbehaves is dropped without affecting the card. */
#include "control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int control_open(struct control *c, const char *path, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    c->listen_fd = -1;
    for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
        c->clients[i] = -1;
    }
    struct sockaddr_un sa = {0};
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "control socket path too long: %s", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    unlink(path); /* a stale socket of a previous run */
    mode_t old = umask(077);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (rc != 0 || listen(fd, 4) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    c->listen_fd = fd;
    c->path = strdup(path);
    return c->path ? 0 : -1;
}

void control_close(struct control *c)
{
    for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
        if (c->clients[i] >= 0) {
            close(c->clients[i]);
            c->clients[i] = -1;
        }
    }
    if (c->listen_fd >= 0) {
        close(c->listen_fd);
        c->listen_fd = -1;
    }
    if (c->path) {
        unlink(c->path);
        free(c->path);
        c->path = NULL;
    }
}

size_t control_pollfds(const struct control *c, int *fds, size_t max)
{
    size_t n = 0;
    if (c->listen_fd >= 0 && n < max) {
        fds[n++] = c->listen_fd;
    }
    for (int i = 0; i < CONTROL_MAX_CLIENTS && n < max; i++) {
        if (c->clients[i] >= 0) {
            fds[n++] = c->clients[i];
        }
    }
    return n;
}

static void drop(struct control *c, int i)
{
    close(c->clients[i]);
    c->clients[i] = -1;
    c->inlen[i] = 0;
}

void control_handle(struct control *c, int fd, control_handler h, void *ctx)
{
    if (fd == c->listen_fd) {
        int cfd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0) {
            return;
        }
        for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
            if (c->clients[i] < 0) {
                c->clients[i] = cfd;
                c->inlen[i] = 0;
                return;
            }
        }
        close(cfd); /* too many clients */
        return;
    }
    for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
        if (c->clients[i] != fd) {
            continue;
        }
        ssize_t n = read(fd, c->inbuf[i] + c->inlen[i], sizeof(c->inbuf[i]) - 1 - c->inlen[i]);
        if (n <= 0) {
            if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                drop(c, i);
            }
            return;
        }
        c->inlen[i] += (size_t)n;
        char *nl;
        while (c->clients[i] >= 0 && (nl = memchr(c->inbuf[i], '\n', c->inlen[i])) != NULL) {
            *nl = '\0';
            char *cmd = c->inbuf[i];
            size_t cl = strlen(cmd);
            while (cl > 0 && (cmd[cl - 1] == '\r' || cmd[cl - 1] == ' ')) {
                cmd[--cl] = '\0';
            }
            char reply[256];
            h(ctx, cmd, reply, sizeof(reply) - 1);
            size_t rl = strlen(reply);
            reply[rl++] = '\n';
            if (send(fd, reply, rl, MSG_NOSIGNAL) != (ssize_t)rl) {
                drop(c, i);
                return;
            }
            size_t used = (size_t)(nl - c->inbuf[i]) + 1;
            memmove(c->inbuf[i], c->inbuf[i] + used, c->inlen[i] - used);
            c->inlen[i] -= used;
        }
        if (c->clients[i] >= 0 && c->inlen[i] >= sizeof(c->inbuf[i]) - 1) {
            drop(c, i);
        }
        return;
    }
}
