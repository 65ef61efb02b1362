#include "jsonapi/jsonapi.h"

#include <stdlib.h>
#include <string.h>

void jsonapi_respond(httpd_response *resp, int status, json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT);
    json_decref(value);
    if (!text) {
        httpd_respond_error(resp, 500, "internal", "out of memory");
        return;
    }
    size_t len = strlen(text);
    httpd_respond(resp, status, "application/json", text, len);
    free(text);
    (void)httpd_add_header(resp, "Cache-Control", "no-store");
}

json_t *jsonapi_body(const httpd_request *req, httpd_response *resp)
{
    json_error_t err;
    json_t *j = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &err);
    if (!j) {
        httpd_respond_error(resp, 400, "bad_json", "request body is not valid JSON: %s", err.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        httpd_respond_error(resp, 400, "bad_json", "request body must be a JSON object");
        return NULL;
    }
    return j;
}

const char *jsonapi_str(json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int jsonapi_take_secret(json_t *obj, const char *name, secret *out)
{
    json_t *v = json_object_get(obj, name);
    if (!v)
        return 1;
    if (!json_is_string(v))
        return -1;
    /* jansson owns the string; it is ours to wipe since nothing else references it. */
    char *s = (char *)json_string_value(v);
    size_t len = json_string_length(v);
    int rc = secret_set(out, s, len);
    secret_wipe(s, len);
    return rc;
}
