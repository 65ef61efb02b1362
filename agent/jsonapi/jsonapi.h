/* Small helpers the agent's JSON API handlers share: answering with a JSON value, parsing a
 * request body as a JSON object with a clear 400 on anything else, and taking secrets out of a
 * parsed body into locked memory. */
#ifndef AGENT_JSONAPI_H
#define AGENT_JSONAPI_H

#include <jansson.h>

#include "httpd/httpd.h"
#include "secmem/secmem.h"

/* Answers with value (the reference is stolen) as application/json. */
void jsonapi_respond(httpd_response *resp, int status, json_t *value);
/* The body as a JSON object, or NULL after answering 400. */
json_t *jsonapi_body(const httpd_request *req, httpd_response *resp);
/* A string member, or NULL when absent or not a string. */
const char *jsonapi_str(json_t *obj, const char *name);
/* Moves string member name into *out (locked) and wipes the parsed copy. Returns 0, 1 when
 * absent (out left empty), -1 when not a string or too long. */
int jsonapi_take_secret(json_t *obj, const char *name, secret *out);

#endif
