/* The web console: serves the static files of webui/console/ on the main listener.
 *
 * "/" and "/console/" map to the console's folder; a path naming an existing file is served as
 * that file; any other GET of a non-API path (the single-page app's own routes: /setup,
 * /cas, /request/…, /claim/…) answers the console's index.html so deep links and reloads work. */
#ifndef RELAY_CONSOLE_H
#define RELAY_CONSOLE_H

#include <stdbool.h>

#include "httpd/httpd.h"

/* Chooses the console folder: root when given (config key http.console_root), else the
 * installed copy /usr/share/pki-relay/console when it exists, else webui/console of the source
 * tree this binary was built from. Logs the choice. */
void console_init(const char *root);
/* The folder in use (for tests and logs). */
const char *console_root(void);
/* Answers GET/HEAD of console files and SPA routes. Returns false (and leaves resp alone) for
 * paths the console does not own (/api/…, /healthz, and other services' prefixes). */
bool console_handle(const httpd_request *req, httpd_response *resp);

#endif
