/* error_filter.c — the documented JSON error shape for answers h2o writes itself. h2o's file handler
 * and its request reader answer some failures with a plain-text body of their own (a missing file, an
 * unsatisfiable range, broken chunked encoding, a body over the global limit, an unknown Expect); an
 * output filter on every path swaps such a body for {"error": {message, type, code, param}}, keeping
 * the status and the other headers (Content-Range of a 416, for one). */
#include <stdlib.h>
#include <string.h>

#include "http/server_internal.h"

typedef struct json_error_ostream {
    h2o_ostream_t super;
    h2o_iovec_t body;
    bool sent;
} json_error_ostream;

/* The error code (a row of util/error.c's table, which gives its type) and message for a status h2o
 * answers on its own. The answer keeps h2o's status: "bad_request" and "internal_error" stand for any
 * other 4xx and 5xx. */
static void error_kind(int status, const char **code, const char **message)
{
    switch (status) {
    case 400:
        *code = "malformed_request",
        *message = "The request could not be read (its framing or encoding is broken).";
        return;
    case 403:
        *code = "forbidden", *message = "This file may not be read.";
        return;
    case 404:
        *code = "not_found", *message = "There is nothing at this path.";
        return;
    case 405:
        *code = "method_not_allowed", *message = "This method is not allowed on this path.";
        return;
    case 413:
        *code = "request_too_large", *message = "The request body is larger than this server accepts.";
        return;
    case 416:
        *code = "range_not_satisfiable", *message = "The requested range is outside the file.";
        return;
    case 417:
        *code = "expectation_failed", *message = "Only 'Expect: 100-continue' is understood.";
        return;
    default:
        if (status >= 500)
            *code = "internal_error", *message = "The server could not answer.";
        else
            *code = "bad_request", *message = "The request was refused.";
    }
}

static void json_error_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt,
                            h2o_send_state_t state)
{
    (void)bufs, (void)bufcnt; /* h2o's text is replaced, whatever it was */
    json_error_ostream *stream = (json_error_ostream *)self;
    if (stream->sent) {
        h2o_ostream_send_next(self, req, NULL, 0, state);
        return;
    }
    stream->sent = true;
    h2o_ostream_send_next(self, req, &stream->body, 1, state);
}

static bool is_json_answer(h2o_req_t *req)
{
    ssize_t index = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (index < 0) return false;
    h2o_iovec_t value = req->res.headers.entries[index].value;
    return value.len >= 16 && h2o_memis(value.base, 16, H2O_STRLIT("application/json"));
}

static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    if (req->res.status >= 400 && !is_json_answer(req)) {
        const char *code, *message;
        error_kind(req->res.status, &code, &message);
        reelay_error err; /* its status is not used: the answer's stays h2o's */
        reelay_error_raise(&err, code, NULL, "%s", message);
        char *text = http_error_json(&err);
        if (text != NULL) {
            size_t length = strlen(text);
            json_error_ostream *stream = (json_error_ostream *)h2o_add_ostream(req, sizeof(*stream), slot);
            stream->super.do_send = json_error_send;
            stream->body = h2o_strdup(&req->pool, text, length);
            stream->sent = false;
            free(text);
            h2o_set_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE,
                           H2O_STRLIT("application/json"), 1);
            h2o_set_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, H2O_STRLIT("no-store"), 1);
            req->res.content_length = length;
            slot = &stream->super.next;
        }
    }
    h2o_setup_next_ostream(req, slot);
}

void http_error_filter_register(h2o_pathconf_t *pathconf)
{
    h2o_filter_t *filter = h2o_create_filter(pathconf, sizeof(*filter));
    filter->on_setup_ostream = on_setup_ostream;
}
