/* The agent's /api/link endpoints: link state, and enrolment with a one-time token. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonapi/jsonapi.h"
#include "keys/keys.h"
#include "link/link_client_impl.h"

static void respond_state(agent_link *l, httpd_response *resp)
{
    pthread_mutex_lock(&l->lock);
    const char *state = !l->id                         ? "unconfigured"
                        : l->online                    ? "online"
                        : !l->enrolled && !l->token[0] ? "not_enrolled"
                        : !l->enrolled                 ? "enrolling"
                        : l->wsi                       ? "connecting"
                                                       : "offline";
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s}", "state", state, "relay", l->url, "device",
                          l->id ? link_identity_name(l->id) : "", "relay_fingerprint", l->relay_fp,
                          "last_error", l->last_error);
    /* The device certificate the link uses: self-signed, or the relay's after an enrolment
     * with an offer. */
    size_t dc_len = 0;
    const uint8_t *dc = l->id ? link_identity_cert(l->id, &dc_len) : NULL;
    char *pem = NULL;
    size_t pem_len;
    if (dc && pki_pem_encode("CERTIFICATE", dc, dc_len, &pem, &pem_len) == 0)
        json_object_set_new(j, "device_certificate", json_string(pem));
    free(pem);
    pthread_mutex_unlock(&l->lock);
    jsonapi_respond(resp, 200, j);
}

static int bad(httpd_response *resp, const char *msg)
{
    httpd_respond_error(resp, 400, "bad_request", "%s", msg);
    return 1;
}

static int enrol(agent_link *l, const httpd_request *req, httpd_response *resp)
{
    json_t *b = jsonapi_body(req, resp);
    if (!b)
        return 1;
    const char *url = jsonapi_str(b, "link_url");
    const char *token = jsonapi_str(b, "token");
    const char *fp = jsonapi_str(b, "relay_fingerprint");
    int rc = 1;
    if (!url || (strncmp(url, "wss://", 6) != 0 && strncmp(url, "ws://", 5) != 0) ||
        strlen(url) >= 512)
        rc = bad(resp, "link_url must be a wss:// URL");
    else if (!token || strlen(token) < 16 || strlen(token) >= 128)
        rc = bad(resp, "token is the one-time enrolment token from the relay");
    else if (!fp || strlen(fp) != 64 || strspn(fp, "0123456789abcdefABCDEF") != 64)
        rc = bad(resp, "relay_fingerprint is the SHA-256 of the relay's link certificate (64 hex)");
    else {
        link_enrol_job *job = calloc(1, sizeof *job);
        if (!job) {
            httpd_respond_error(resp, 500, "internal", "out of memory");
        } else {
            snprintf(job->url, sizeof job->url, "%s", url);
            snprintf(job->token, sizeof job->token, "%s", token);
            snprintf(job->fp, sizeof job->fp, "%s", fp);
            pthread_mutex_lock(&l->lock);
            int offering = l->offer != NULL;
            pthread_mutex_unlock(&l->lock);
            if (l->job || offering) {
                free(job);
                httpd_respond_error(resp, 409, "busy", "an enrolment is already under way");
            } else {
                job->answer = httpd_defer(req);
                link_start_enrolment(l, job);
            }
        }
    }
    /* The token was in the parsed body: wipe that copy. */
    json_t *t = json_object_get(b, "token");
    if (json_is_string(t)) {
        char *p = (char *)json_string_value(t);
        explicit_bzero(p, strlen(p));
    }
    json_decref(b);
    return rc;
}

int agent_link_handle(agent_link *l, const httpd_request *req, httpd_response *resp)
{
    if (strcmp(req->path, "/api/link") == 0) {
        if (strcmp(req->method, "GET") != 0) {
            httpd_respond_error(resp, 405, "method_not_allowed", "GET only");
            return 1;
        }
        respond_state(l, resp);
        return 1;
    }
    if (strcmp(req->path, "/api/link/enrol") == 0) {
        if (strcmp(req->method, "POST") != 0) {
            httpd_respond_error(resp, 405, "method_not_allowed", "POST only");
            return 1;
        }
        return enrol(l, req, resp);
    }
    return 0;
}
