/* Static files of the web console and the single-page app's fallback to index.html. */
#include "console/console.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log/log.h"

#define INSTALLED_ROOT "/usr/share/pki-relay/console"

static char g_root[1024];

/* webui/console of the source tree: __FILE__ is this file's absolute path as CMake passes it
 * (…/relay/console/console.c), so a binary run from its build tree finds the pages with no
 * configuration. */
static void source_tree_root(char *out, size_t outlen)
{
    const char *suffix = "relay/console/console.c";
    const char *f = __FILE__;
    size_t fl = strlen(f), sl = strlen(suffix);
    if (fl >= sl && strcmp(f + fl - sl, suffix) == 0)
        snprintf(out, outlen, "%.*swebui/console", (int)(fl - sl), f);
    else
        snprintf(out, outlen, "webui/console");
}

void console_init(const char *root)
{
    if (root && root[0])
        snprintf(g_root, sizeof g_root, "%s", root);
    else if (access(INSTALLED_ROOT "/index.html", R_OK) == 0)
        snprintf(g_root, sizeof g_root, "%s", INSTALLED_ROOT);
    else
        source_tree_root(g_root, sizeof g_root);
    char index[1100];
    snprintf(index, sizeof index, "%s/index.html", g_root);
    if (access(index, R_OK) != 0)
        pki_warn("web console: no index.html in %s (set http.console_root)", g_root);
    else
        pki_info("web console served from %s", g_root);
}

const char *console_root(void)
{
    return g_root;
}

static void security_headers(httpd_response *resp)
{
    /* Everything the console loads comes from this origin; no inline script or style. */
    (void)httpd_add_header(resp, "Content-Security-Policy",
                           "default-src 'self'; script-src 'self'; style-src 'self'; "
                           "img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                           "frame-ancestors 'none'; form-action 'self'");
    (void)httpd_add_header(resp, "X-Frame-Options", "DENY");
    (void)httpd_add_header(resp, "X-Content-Type-Options", "nosniff");
    (void)httpd_add_header(resp, "Referrer-Policy", "no-referrer");
    (void)httpd_add_header(resp, "Cache-Control", "no-cache");
}

static bool is_file_path(const char *rel)
{
    const char *slash = strrchr(rel, '/');
    return strchr(slash ? slash + 1 : rel, '.') != NULL;
}

bool console_handle(const httpd_request *req, httpd_response *resp)
{
    const char *p = req->path;
    if (strncmp(p, "/api/", 5) == 0 || strcmp(p, "/api") == 0 || strcmp(p, "/healthz") == 0)
        return false;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0)
        return false;
    if (!g_root[0])
        console_init(NULL);
    const char *rel = p;
    if (strncmp(rel, "/console/", 9) == 0)
        rel += 8;
    else if (strcmp(rel, "/console") == 0)
        rel = "/";
    while (*rel == '/')
        rel++;
    if (is_file_path(rel)) {
        /* A file the console does not have is a plain 404, as any static server would say. */
        httpd_respond_file(resp, g_root, rel);
    } else {
        /* An app route: only for browsers navigating (they ask for HTML), so protocol
         * clients probing unknown paths still get a JSON 404. */
        char accept[512];
        if (rel[0] &&
            (!httpd_header(req, "accept", accept, sizeof accept) || !strstr(accept, "text/html")))
            return false;
        httpd_respond_file(resp, g_root, "index.html");
    }
    security_headers(resp);
    return true;
}
