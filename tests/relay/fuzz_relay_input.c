/* libFuzzer target for what the relay reads from outside on its own (the CSR, certificate and
 * OCSP parsers are lib/pkix's and fuzzed there): Cookie headers, template settings JSON, and
 * the OCSP request adapter. The first byte picks the parser. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/parse.h"
#include "auth/auth.h"
#include "ocsp/ocsp_impl.h"
#include "templates/templates.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t which = data[0] % 5;
    data++;
    size--;
    if (which == 0) {
        char *text = malloc(size + 1);
        if (!text)
            return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        char out[128];
        auth_cookie_get(text, "pkr_session", out, sizeof out);
        auth_cookie_get(text, "a", out, 2);
        free(text);
    } else if (which == 1) {
        json_error_t err;
        json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
        if (j) {
            tpl_settings t;
            char why[200];
            tpl_defaults(&t);
            if (tpl_from_json(&t, j, why, sizeof why) == 0) {
                json_t *back = tpl_to_json(&t);
                tpl_settings u;
                tpl_defaults(&u);
                /* What we write we must read back the same. */
                if (tpl_from_json(&u, back, why, sizeof why) != 0 || memcmp(&t, &u, sizeof t))
                    abort();
                json_decref(back);
            }
            json_decref(j);
        }
    } else if (which == 2) {
        ocsp_req r;
        ocsp_req_parse(data, size, &r);
    } else {
        char *text = malloc(size + 1);
        if (!text)
            return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        if (which == 3) {
            static const char *const patterns[] = {"/api/v1/cas/{id}",
                                                   "/api/v1/cas/{id}/requests/bulk",
                                                   "/pki/ca/{id}/crl", "/a/{x}/{y}/{z}/{w}/{v}"};
            char params[API_PATH_PARAMS][API_PARAM_LEN];
            int n;
            for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++)
                if (api_path_match(patterns[i], text, params, &n) && (n < 0 || n > API_PATH_PARAMS))
                    abort();
        } else {
            char v[32];
            api_query_value(text, "status", v, sizeof v);
            api_query_value(text, "q", v, 1);
        }
        free(text);
    }
    return 0;
}
