/* The control socket: a Unix stream socket (mode 0600) taking one-line text commands, each
 * answered with one line starting "ok" or "error":
 *   status   -> ok serial=<n> inserted=<0|1> connected=<0|1> waiting_touch=<0|1>
 *   remove   -> the card leaves the reader (pcscd sees it removed)
 *   insert   -> the card returns
 *   touch    -> a touch of the key's button (completes a waiting operation, or is kept for
 *               the next operation that needs one for 15 s)
 *   delay MS -> every answer is held MS milliseconds (a slow card; 0 = off)
 *   quit     -> the simulator exits */
#ifndef PIVSIM_CONTROL_H
#define PIVSIM_CONTROL_H

#include <stddef.h>

#define CONTROL_MAX_CLIENTS 8

struct control {
    int listen_fd;
    int clients[CONTROL_MAX_CLIENTS];
    char inbuf[CONTROL_MAX_CLIENTS][256];
    size_t inlen[CONTROL_MAX_CLIENTS];
    char *path;
};

/* Handler: gets a command word, writes a reply line (without newline) into reply. */
typedef void (*control_handler)(void *ctx, const char *cmd, char *reply, size_t reply_len);

int control_open(struct control *c, const char *path, char *err, size_t errlen);
void control_close(struct control *c);
/* Poll support: fills fds (listen + clients), returns count. */
size_t control_pollfds(const struct control *c, int *fds, size_t max);
/* Handles readiness on fd (accept or read + dispatch complete lines). */
void control_handle(struct control *c, int fd, control_handler h, void *ctx);

#endif
