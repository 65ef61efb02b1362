/* Logs one message with every structured field the daemons use, through lib/log, so the
 * journald test can find it with `journalctl CA=… SLOT=… REQUEST_ID=… SERIAL=…`. */
#include <stdio.h>

#include "log/log.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: ops_log_probe TAG\n");
        return 2;
    }
    char request_id[96];
    snprintf(request_id, sizeof request_id, "REQUEST_ID=%s", argv[1]);
    const char *fields[] = {"CA=3", "SLOT=9c", request_id, "SERIAL=4f2a9c01", NULL};
    pki_log_init("ops-log-probe");
    pki_log_fields(LOG_NOTICE, fields, "signed a certificate for request %s", argv[1]);
    return 0;
}
