#include "webauth/webauth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth/auth.h"
#include "jsonapi/jsonapi.h"
#include "log/log.h"
#include "util/timefmt.h"

#define MAX_SESSIONS 32
#define SESSION_COOKIE "iothsm_session"
#define CSRF_COOKIE "iothsm_csrf"
#define PASSWORD_SETTING "admin_password_hash"

typedef struct {
    char digest[AUTH_DIGEST_HEX]; /* SHA-256 of the token; "" = free */
    int64_t last_seen;
} session;

struct webauth {
    agent_state *st;
    int64_t idle_s;
    pthread_mutex_t lock;
    session sessions[MAX_SESSIONS];
    auth_throttle *throttle;
};

webauth *webauth_new(agent_state *st, unsigned idle_minutes)
{
    webauth *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->st = st;
    w->idle_s = (int64_t)(idle_minutes ? idle_minutes : 30) * 60;
    pthread_mutex_init(&w->lock, NULL);
    w->throttle = auth_throttle_new(5, 300, 30);
    if (!w->throttle) {
        webauth_free(w);
        return NULL;
    }
    return w;
}

void webauth_free(webauth *w)
{
    if (!w)
        return;
    auth_throttle_free(w->throttle);
    pthread_mutex_destroy(&w->lock);
    explicit_bzero(w->sessions, sizeof w->sessions);
    free(w);
}

/* The session token from the Cookie header, into tok; NULL when absent. */
static const char *session_token(const httpd_request *req, char *tok, size_t toklen)
{
    char cookie[4096];
    if (!httpd_header(req, "cookie", cookie, sizeof cookie))
        return NULL;
    return auth_cookie_get(cookie, SESSION_COOKIE, tok, toklen);
}

/* Index of the live session for token, refreshing its idle timer; -1 when none. */
static int session_find(webauth *w, const char *token)
{
    char digest[AUTH_DIGEST_HEX];
    if (auth_token_digest(token, digest) != 0)
        return -1;
    int64_t now = pki_now();
    int found = -1;
    pthread_mutex_lock(&w->lock);
    for (int i = 0; i < MAX_SESSIONS; i++) {
        session *s = &w->sessions[i];
        if (!s->digest[0])
            continue;
        if (now - s->last_seen > w->idle_s) {
            memset(s, 0, sizeof *s);
            continue;
        }
        if (auth_ct_streq(digest, s->digest)) {
            s->last_seen = now;
            found = i;
        }
    }
    pthread_mutex_unlock(&w->lock);
    return found;
}

/* Makes a session; writes its token. Evicts the least recently used one when full. */
static int session_create(webauth *w, char *token, size_t toklen)
{
    if (auth_token_new(32, token, toklen) != 0)
        return -1;
    char digest[AUTH_DIGEST_HEX];
    if (auth_token_digest(token, digest) != 0)
        return -1;
    pthread_mutex_lock(&w->lock);
    int pick = 0;
    for (int i = 0; i < MAX_SESSIONS; i++) {
        if (!w->sessions[i].digest[0]) {
            pick = i;
            break;
        }
        if (w->sessions[i].last_seen < w->sessions[pick].last_seen)
            pick = i;
    }
    memcpy(w->sessions[pick].digest, digest, sizeof digest);
    w->sessions[pick].last_seen = pki_now();
    pthread_mutex_unlock(&w->lock);
    return 0;
}

/* Ends every session but keep (-1: all). */
static void sessions_drop_others(webauth *w, int keep)
{
    pthread_mutex_lock(&w->lock);
    for (int i = 0; i < MAX_SESSIONS; i++)
        if (i != keep)
            memset(&w->sessions[i], 0, sizeof w->sessions[i]);
    pthread_mutex_unlock(&w->lock);
}

static void set_cookies(webauth *w, httpd_response *resp, const char *token)
{
    char line[512], csrf[AUTH_CSRF_LEN];
    auth_cookie_opts sess = {.path = "/",
                             .http_only = true,
                             .secure = true,
                             .same_site = "Strict",
                             .max_age = token ? 0 : -1};
    auth_cookie_opts readable = sess;
    readable.http_only = false;
    (void)w;
    if (auth_cookie_format(line, sizeof line, SESSION_COOKIE, token ? token : "", &sess) == 0)
        (void)httpd_add_header(resp, "Set-Cookie", line);
    if (token && auth_csrf_token(token, csrf) != 0)
        return;
    if (auth_cookie_format(line, sizeof line, CSRF_COOKIE, token ? csrf : "", &readable) == 0)
        (void)httpd_add_header(resp, "Set-Cookie", line);
}

bool webauth_check(webauth *w, const httpd_request *req, httpd_response *resp)
{
    char tok[128];
    if (!session_token(req, tok, sizeof tok) || session_find(w, tok) < 0) {
        httpd_respond_error(resp, 401, "unauthenticated", "log in first");
        return false;
    }
    if (auth_method_is_unsafe(req->method)) {
        char hdr[128];
        if (!httpd_header(req, "x-csrf-token", hdr, sizeof hdr) || !auth_csrf_check(tok, hdr)) {
            httpd_respond_error(resp, 403, "csrf", "missing or wrong X-CSRF-Token header");
            return false;
        }
    }
    return true;
}

/* ---- password checks on a thread ---- */

typedef struct {
    webauth *w;
    httpd_deferred *token;
    secret password;
    secret new_password; /* change only */
    char remote[64];
    int keep_session; /* change: the caller's session index */
    bool change;
} pw_job;

static void pw_job_free(pw_job *j)
{
    secret_clear(&j->password);
    secret_clear(&j->new_password);
    free(j);
}

static void *pw_thread(void *arg)
{
    pw_job *j = arg;
    webauth *w = j->w;
    httpd_response resp = {0};
    char key[96];
    snprintf(key, sizeof key, "ip:%s", j->remote);
    char *hash = agent_state_get(w->st, PASSWORD_SETTING);
    int ok = hash ? auth_password_verify(hash, j->password.buf, j->password.len) : 0;
    if (!hash)
        auth_password_burn(j->password.buf, j->password.len);
    free(hash);
    if (ok != 1) {
        auth_throttle_failure(w->throttle, key, pki_now());
        agent_state_audit(w->st, j->remote, j->change ? "password_change_failed" : "login_failed",
                          0, NULL, NULL);
        httpd_respond_error(&resp, 401, "bad_password", "wrong password");
    } else if (!j->change) {
        auth_throttle_success(w->throttle, key);
        char tok[64];
        if (session_create(w, tok, sizeof tok) != 0) {
            httpd_respond_error(&resp, 500, "internal", "cannot create a session");
        } else {
            char csrf[AUTH_CSRF_LEN];
            json_t *body = json_object();
            if (auth_csrf_token(tok, csrf) == 0)
                json_object_set_new(body, "csrf", json_string(csrf));
            json_object_set_new(body, "user", json_string("admin"));
            jsonapi_respond(&resp, 200, body);
            set_cookies(w, &resp, tok);
            agent_state_audit(w->st, j->remote, "login", 0, NULL, NULL);
        }
        explicit_bzero(tok, sizeof tok);
    } else {
        char newhash[AUTH_HASH_MAX];
        if (auth_password_hash(j->new_password.buf, j->new_password.len, newhash, sizeof newhash) !=
                0 ||
            agent_state_set(w->st, PASSWORD_SETTING, newhash) != 0) {
            httpd_respond_error(&resp, 500, "internal", "cannot store the new password");
        } else {
            sessions_drop_others(w, j->keep_session);
            agent_state_audit(w->st, j->remote, "password_changed", 0, NULL, NULL);
            jsonapi_respond(&resp, 200, json_pack("{s:b}", "changed", 1));
        }
    }
    httpd_complete(j->token, &resp);
    pw_job_free(j);
    return NULL;
}

static void start_pw_job(webauth *w, const httpd_request *req, httpd_response *resp, pw_job *j)
{
    j->w = w;
    snprintf(j->remote, sizeof j->remote, "%s", httpd_remote_addr(req));
    j->token = httpd_defer(req);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (!j->token || pthread_create(&t, &attr, pw_thread, j) != 0) {
        pthread_attr_destroy(&attr);
        if (j->token) {
            httpd_response r = {0};
            httpd_respond_error(&r, 503, "busy", "cannot start the password check");
            httpd_complete(j->token, &r);
        } else {
            httpd_respond_error(resp, 503, "busy", "cannot start the password check");
        }
        pw_job_free(j);
        return;
    }
    pthread_attr_destroy(&attr);
}

static void handle_login(webauth *w, const httpd_request *req, httpd_response *resp)
{
    char key[96];
    snprintf(key, sizeof key, "ip:%s", httpd_remote_addr(req));
    unsigned wait = auth_throttle_wait(w->throttle, key, pki_now());
    if (wait) {
        char secs[16];
        snprintf(secs, sizeof secs, "%u", wait);
        httpd_respond_error(resp, 429, "throttled",
                            "too many failed logins; try again in %u seconds", wait);
        (void)httpd_add_header(resp, "Retry-After", secs);
        return;
    }
    json_t *body = jsonapi_body(req, resp);
    if (!body)
        return;
    pw_job *j = calloc(1, sizeof *j);
    int rc = j ? jsonapi_take_secret(body, "password", &j->password) : -1;
    json_decref(body);
    if (rc != 0) {
        if (j)
            pw_job_free(j);
        httpd_respond_error(resp, 400, "bad_request", "\"password\" (a string) is required");
        return;
    }
    start_pw_job(w, req, resp, j);
}

static void handle_password(webauth *w, const httpd_request *req, httpd_response *resp)
{
    if (!webauth_check(w, req, resp))
        return;
    char tok[128];
    int idx = session_token(req, tok, sizeof tok) ? session_find(w, tok) : -1;
    json_t *body = jsonapi_body(req, resp);
    if (!body)
        return;
    pw_job *j = calloc(1, sizeof *j);
    int a = j ? jsonapi_take_secret(body, "current", &j->password) : -1;
    int b = j ? jsonapi_take_secret(body, "new", &j->new_password) : -1;
    json_decref(body);
    if (a != 0 || b != 0) {
        if (j)
            pw_job_free(j);
        httpd_respond_error(resp, 400, "bad_request",
                            "\"current\" and \"new\" (strings) are required");
        return;
    }
    if (!auth_password_acceptable(j->new_password.buf, j->new_password.len)) {
        pw_job_free(j);
        httpd_respond_error(resp, 400, "weak_password",
                            "the new password must have %d to %d characters", AUTH_PASSWORD_MIN,
                            AUTH_PASSWORD_MAX);
        return;
    }
    j->change = true;
    j->keep_session = idx;
    start_pw_job(w, req, resp, j);
}

bool webauth_handle(webauth *w, const httpd_request *req, httpd_response *resp)
{
    bool post = strcmp(req->method, "POST") == 0;
    if (strcmp(req->path, "/api/login") == 0 && post) {
        handle_login(w, req, resp);
    } else if (strcmp(req->path, "/api/logout") == 0 && post) {
        if (!webauth_check(w, req, resp))
            return true;
        char tok[128];
        int idx = session_token(req, tok, sizeof tok) ? session_find(w, tok) : -1;
        if (idx >= 0) {
            pthread_mutex_lock(&w->lock);
            memset(&w->sessions[idx], 0, sizeof w->sessions[idx]);
            pthread_mutex_unlock(&w->lock);
        }
        jsonapi_respond(resp, 200, json_pack("{s:b}", "logged_out", 1));
        set_cookies(w, resp, NULL);
    } else if (strcmp(req->path, "/api/session") == 0 && strcmp(req->method, "GET") == 0) {
        if (!webauth_check(w, req, resp))
            return true;
        char tok[128], csrf[AUTH_CSRF_LEN];
        if (!session_token(req, tok, sizeof tok) || auth_csrf_token(tok, csrf) != 0) {
            httpd_respond_error(resp, 500, "internal", "cannot derive the CSRF token");
            return true;
        }
        jsonapi_respond(resp, 200, json_pack("{s:s,s:s}", "user", "admin", "csrf", csrf));
    } else if (strcmp(req->path, "/api/password") == 0 && post) {
        handle_password(w, req, resp);
    } else {
        return false;
    }
    return true;
}

/* Reads one line from stdin into buf without its newline; echo off on a terminal. */
static int read_line(const char *prompt, char *buf, size_t len)
{
    bool tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    if (tty) {
        fputs(prompt, stderr);
        if (tcgetattr(STDIN_FILENO, &old) == 0) {
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        } else {
            tty = false;
        }
    }
    char *got = fgets(buf, (int)len, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (!got)
        return -1;
    size_t n = strcspn(buf, "\r\n");
    if (buf[n] == '\0' && n == len - 1)
        return -1; /* longer than the buffer */
    buf[n] = '\0';
    return 0;
}

int webauth_set_password_cli(agent_state *st)
{
    static char a[AUTH_PASSWORD_MAX + 2], b[AUTH_PASSWORD_MAX + 2];
    int rc = 1;
    if (read_line("New admin password: ", a, sizeof a) != 0) {
        fprintf(stderr, "iothsm-agent: no password on standard input\n");
        goto out;
    }
    if (isatty(STDIN_FILENO)) {
        if (read_line("Again: ", b, sizeof b) != 0 || strcmp(a, b) != 0) {
            fprintf(stderr, "iothsm-agent: the passwords differ\n");
            goto out;
        }
    }
    if (!auth_password_acceptable(a, strlen(a))) {
        fprintf(stderr, "iothsm-agent: the password must have %d to %d characters\n",
                AUTH_PASSWORD_MIN, AUTH_PASSWORD_MAX);
        goto out;
    }
    char hash[AUTH_HASH_MAX];
    if (auth_password_hash(a, strlen(a), hash, sizeof hash) != 0 ||
        agent_state_set(st, PASSWORD_SETTING, hash) != 0) {
        fprintf(stderr, "iothsm-agent: cannot store the password\n");
        goto out;
    }
    agent_state_audit(st, "cli", "password_set", 0, NULL, NULL);
    printf("admin password set\n");
    rc = 0;
out:
    explicit_bzero(a, sizeof a);
    explicit_bzero(b, sizeof b);
    return rc;
}
