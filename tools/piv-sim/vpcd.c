/* vpcd transport (see vpcd.h). */
#include "vpcd.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A message can be up to 0xFFFF bytes plus its length. */
#define VPCD_IN_MAX (0xFFFF + 2 + 4096)

void vpcd_init(struct vpcd *v)
{
    v->fd = -1;
    buf_init(&v->in, VPCD_IN_MAX);
}

/* vpcd writes the 2-byte length and the message in two send() calls without TCP_NODELAY, so
 * Nagle holds the message until the length is acknowledged; with delayed ACKs that costs 40 ms
 * per APDU. Acknowledging at once (TCP_QUICKACK, which Linux clears again, hence before every
 * read) keeps an APDU round trip well under a millisecond. */
static void quickack(int fd)
{
#ifdef TCP_QUICKACK
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
#else
    (void)fd;
#endif
}

int vpcd_connect(struct vpcd *v, const char *host, int port)
{
    struct addrinfo hints = {0}, *res = NULL;
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if (getaddrinfo(host, ps, &hints, &res) != 0) {
        errno = EHOSTUNREACH;
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            break;
        }
        int e = errno;
        close(fd);
        fd = -1;
        errno = e;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    quickack(fd);
    v->fd = fd;
    buf_reset(&v->in);
    return 0;
}

void vpcd_close(struct vpcd *v)
{
    if (v->fd >= 0) {
        close(v->fd);
        v->fd = -1;
    }
    buf_reset(&v->in);
}

int vpcd_read(struct vpcd *v)
{
    uint8_t tmp[8192];
    quickack(v->fd);
    ssize_t n = recv(v->fd, tmp, sizeof(tmp), MSG_DONTWAIT);
    quickack(v->fd);
    if (n == 0) {
        return 0;
    }
    if (n < 0) {
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 1 : -1;
    }
    buf_put(&v->in, tmp, (size_t)n);
    return v->in.failed ? -1 : 1;
}

int vpcd_next(struct vpcd *v, const uint8_t **msg, size_t *len)
{
    static uint8_t current[0xFFFF];
    if (v->in.len < 2) {
        return 0;
    }
    size_t l = ((size_t)v->in.data[0] << 8) | v->in.data[1];
    if (v->in.len < 2 + l) {
        return 0;
    }
    memcpy(current, v->in.data + 2, l);
    memmove(v->in.data, v->in.data + 2 + l, v->in.len - 2 - l);
    v->in.len -= 2 + l;
    *msg = current;
    *len = l;
    return 1;
}

int vpcd_send(struct vpcd *v, const uint8_t *msg, size_t len)
{
    if (v->fd < 0 || len > 0xFFFF) {
        return -1;
    }
    uint8_t hdr[2] = {(uint8_t)(len >> 8), (uint8_t)len};
    struct iovec iov[2] = {{hdr, 2}, {(void *)msg, len}};
    struct msghdr mh = {0};
    mh.msg_iov = iov;
    mh.msg_iovlen = 2;
    size_t total = 2 + len, sent = 0;
    while (sent < total) {
        ssize_t n = sendmsg(v->fd, &mh, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        sent += (size_t)n;
        /* advance the iovecs past what went out */
        size_t skip = (size_t)n;
        while (mh.msg_iovlen > 0 && skip >= mh.msg_iov[0].iov_len) {
            skip -= mh.msg_iov[0].iov_len;
            mh.msg_iov++;
            mh.msg_iovlen--;
        }
        if (mh.msg_iovlen > 0) {
            mh.msg_iov[0].iov_base = (uint8_t *)mh.msg_iov[0].iov_base + skip;
            mh.msg_iov[0].iov_len -= skip;
        }
    }
    return 0;
}
