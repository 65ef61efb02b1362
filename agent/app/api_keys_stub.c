#include <string.h>

#include "app/app.h"

void api_keys_handle(agent_app *a, const httpd_request *req, httpd_response *resp);

void api_keys_handle(agent_app *a, const httpd_request *req, httpd_response *resp)
{
    (void)a;
    httpd_respond_error(resp, 404, "not_found", "no such resource: %s", req->path);
}
