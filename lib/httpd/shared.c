/* Listeners on a shared port (httpd_shared.h says why they are sockets of our own). */
#include "httpd/httpd_shared.h"

#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log/log.h"

int httpd_shared_socket(const char *address, int port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(address, service, &hints, &res);
    if (rc != 0 || !res) {
        pki_err("cannot listen on %s:%d: %s", address ? address : "*", port, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        pki_err("cannot listen on %s:%d: %s", address ? address : "*", port, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

int httpd_accept_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len)
{
    (void)user;
    (void)in;
    (void)len;
    if (reason != LWS_CALLBACK_RAW_RX_FILE)
        return 0;
    int lfd = lws_get_socket_fd(wsi);
    struct lws_vhost *vh = lws_get_vhost(wsi);
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            /* Nothing more waiting, or another server took it; a connection the peer gave up
             * on, or a transient shortage, is not this listener's end either. */
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED && errno != EMFILE && errno != ENFILE && errno != ENOBUFS &&
                errno != ENOMEM && errno != EPROTO)
                pki_warn("accept on a shared listener: %s", strerror(errno));
            return 0;
        }
        if (!lws_adopt_socket_vhost(vh, fd))
            pki_warn("could not adopt an accepted connection"); /* lws closed it */
    }
}
