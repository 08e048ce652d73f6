/* request_response.c — reading headers, query and path parameters; writing JSON and error responses.
 * Every error response of reelay is written by http_send_error, in the documented shape. */
#include "http/http.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

h2o_iovec_t http_request_header(h2o_req_t *req, const char *name)
{
    ssize_t index = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    if (index < 0) return h2o_iovec_init(NULL, 0);
    return req->headers.entries[index].value;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes src into out (NUL-terminated); '+' means space only in query strings.
 * Refuses a decoded NUL, bad escapes and overflow. */
static int percent_decode(const char *src, size_t length, bool plus_is_space, char *out, size_t out_size)
{
    size_t o = 0;
    for (size_t i = 0; i < length; i++) {
        char c = src[i];
        if (c == '%') {
            if (i + 2 >= length) return -1;
            int hi = hex_value(src[i + 1]), lo = hex_value(src[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            c = (char)(hi * 16 + lo);
            if (c == '\0') return -1;
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (o + 1 >= out_size) return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

int http_query_param(h2o_req_t *req, const char *name, char *out, size_t out_size)
{
    if (req->query_at == SIZE_MAX) return 0;
    const char *p = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
    size_t name_length = strlen(name);
    while (p < end) {
        const char *pair_end = memchr(p, '&', (size_t)(end - p));
        if (pair_end == NULL) pair_end = end;
        const char *equals = memchr(p, '=', (size_t)(pair_end - p));
        const char *key_end = equals ? equals : pair_end;
        if ((size_t)(key_end - p) == name_length && memcmp(p, name, name_length) == 0) {
            const char *value = equals ? equals + 1 : pair_end;
            return percent_decode(value, (size_t)(pair_end - value), true, out, out_size) == 0 ? 1 : -1;
        }
        p = pair_end + 1;
    }
    return 0;
}

int http_path_param(const http_exchange *exchange, size_t i, char *out, size_t out_size)
{
    if (i >= exchange->param_count) return -1;
    return percent_decode(exchange->params[i].base, exchange->params[i].len, false, out, out_size);
}

static void put_header(h2o_req_t *req, const char *name, const char *value, bool replace)
{
    size_t name_length = strlen(name), value_length = strlen(value);
    char *name_copy = h2o_mem_alloc_pool(&req->pool, name_length + 1);
    char *value_copy = h2o_mem_alloc_pool(&req->pool, value_length + 1);
    memcpy(name_copy, name, name_length + 1);
    memcpy(value_copy, value, value_length + 1);
    if (replace)
        h2o_set_header_by_str(&req->pool, &req->res.headers, name_copy, name_length, 1, value_copy,
                              value_length, 1);
    else
        h2o_add_header_by_str(&req->pool, &req->res.headers, name_copy, name_length, 1, NULL, value_copy,
                              value_length);
}

void http_add_header(h2o_req_t *req, const char *name, const char *value)
{
    put_header(req, name, value, false);
}

void http_set_header(h2o_req_t *req, const char *name, const char *value)
{
    put_header(req, name, value, true);
}

const char *http_reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 206:
        return "Partial Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 402:
        return "Payment Required";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 413:
        return "Payload Too Large";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    default:
        return status >= 500 ? "Internal Server Error" : "Error";
    }
}

void http_send_json(h2o_req_t *req, int status, const char *body, size_t length)
{
    req->res.status = status;
    req->res.reason = http_reason_phrase(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("application/json"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_send_inline(req, body, length);
}

char *http_error_json(const reelay_error *err)
{
    json_t *error = json_pack("{s:s, s:s, s:o, s:o}", "message", err->message, "type",
                              err->type ? err->type : "server_error", "code",
                              err->code[0] ? json_string(err->code) : json_null(), "param",
                              err->param[0] ? json_string(err->param) : json_null());
    json_t *body = error ? json_pack("{s:o}", "error", error) : NULL;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    return text;
}

void http_send_error(h2o_req_t *req, const reelay_error *err)
{
    char *text = http_error_json(err);
    if (text == NULL) {
        static const char fallback[] = "{\"error\":{\"message\":\"internal "
                                       "error\",\"type\":\"server_error\",\"code\":null,\"param\":null}}";
        http_send_json(req, 500, fallback, sizeof(fallback) - 1);
        return;
    }
    http_send_json(req, err->status, text, strlen(text));
    free(text);
}

void http_send_error_code(h2o_req_t *req, const char *code, const char *param, const char *fmt, ...)
{
    reelay_error err;
    va_list ap;
    va_start(ap, fmt);
    reelay_error_vraise(&err, code, param, fmt, ap);
    va_end(ap);
    http_send_error(req, &err);
}

void http_send_error_fields(h2o_req_t *req, int status, const char *type, const char *code, const char *param,
                            const char *message)
{
    reelay_error err;
    reelay_error_set(&err, status, type, code, param, "%s", message);
    http_send_error(req, &err);
}
