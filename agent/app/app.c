#include "app/app.h"

#include <stdlib.h>
#include <string.h>

#include "jsonapi/jsonapi.h"
#include "link/link_client.h"

/* Files served without a session: the login page and what it loads. */
static const char *const PUBLIC_FILES[] = {"/login.html", "/login.js", "/style.css",
                                           "/favicon.svg"};

static void security_headers(httpd_response *resp)
{
    (void)httpd_add_header(resp, "Content-Security-Policy",
                           "default-src 'self'; frame-ancestors 'none'; form-action 'self'");
    (void)httpd_add_header(resp, "X-Frame-Options", "DENY");
    (void)httpd_add_header(resp, "Strict-Transport-Security", "max-age=31536000");
}

static bool is_public_file(const char *path)
{
    for (size_t i = 0; i < sizeof PUBLIC_FILES / sizeof PUBLIC_FILES[0]; i++)
        if (strcmp(path, PUBLIC_FILES[i]) == 0)
            return true;
    return false;
}

static void serve_static(agent_app *a, const httpd_request *req, httpd_response *resp)
{
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        httpd_respond_error(resp, 405, "method_not_allowed", "only GET here");
        return;
    }
    const char *rel = strcmp(req->path, "/") == 0 ? "index.html" : req->path + 1;
    httpd_respond_file(resp, a->webui_root, rel);
}

void api_keys_handle(agent_app *a, const httpd_request *req, httpd_response *resp);

static void handle_api(agent_app *a, const httpd_request *req, httpd_response *resp)
{
    if (webauth_handle(a->auth, req, resp))
        return;
    if (!webauth_check(a->auth, req, resp))
        return;
    if (strcmp(req->path, "/api/audit") == 0 && strcmp(req->method, "GET") == 0) {
        jsonapi_respond(resp, 200, agent_state_audit_list(a->state, 200));
        return;
    }
    if (a->link && agent_link_handle(a->link, req, resp))
        return;
    api_keys_handle(a, req, resp);
}

void agent_app_handle(void *app, const httpd_request *req, httpd_response *resp)
{
    agent_app *a = app;
    if (strcmp(req->path, "/healthz") == 0) {
        httpd_respond(resp, 200, "application/json", "{\"status\":\"ok\"}\n", 16);
        return;
    }
    security_headers(resp);
    if (strncmp(req->path, "/api/", 5) == 0) {
        handle_api(a, req, resp);
    } else if (is_public_file(req->path)) {
        serve_static(a, req, resp);
    } else {
        httpd_response probe = {0};
        if (!webauth_check(a->auth, req, &probe)) {
            free(probe.body);
            /* Pages need a session: send the browser to the login page, nothing else. */
            httpd_respond(resp, 303, "text/plain; charset=utf-8", "log in first\n", 13);
            (void)httpd_add_header(resp, "Location", "/login.html");
            return;
        }
        free(probe.body);
        serve_static(a, req, resp);
    }
}
