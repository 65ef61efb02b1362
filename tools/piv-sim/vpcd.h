/* The vpcd socket protocol (vsmartcard's virtual reader driver for pcscd). The driver listens
 * on a TCP port per reader slot; the virtual card connects to it. Every message in both
 * directions is a 2-byte big-endian length and that many bytes. From the reader, a 1-byte
 * message is a control code (0 power off, 1 power on, 2 reset, 4 ATR request; the card answers
 * only the ATR request, with its ATR); anything longer is a command APDU, answered with the
 * response APDU. Closing the connection is pulling the card out. */
#ifndef PIVSIM_VPCD_H
#define PIVSIM_VPCD_H

#include <stddef.h>
#include <stdint.h>

#include "tlv.h"

#define VPCD_CTRL_OFF 0
#define VPCD_CTRL_ON 1
#define VPCD_CTRL_RESET 2
#define VPCD_CTRL_ATR 4

struct vpcd {
    int fd; /* -1 when not connected */
    struct buf in;
};

void vpcd_init(struct vpcd *v);
/* Connects to host:port. Returns 0, or -1 (errno set) when the reader is not listening. */
int vpcd_connect(struct vpcd *v, const char *host, int port);
void vpcd_close(struct vpcd *v);
/* Reads what is available. Returns 1 when data was read, 0 when the peer closed, -1 on error. */
int vpcd_read(struct vpcd *v);
/* Takes the next complete message from the input, if any: 1 = a message in msg/len (valid
 * until the next call), 0 = incomplete. */
int vpcd_next(struct vpcd *v, const uint8_t **msg, size_t *len);
/* Sends one message. Returns 0 or -1. */
int vpcd_send(struct vpcd *v, const uint8_t *msg, size_t len);

#endif
