/* upstream_transfer.c — a provider request on the runner's multi handle (see upstream_transfer.h). */
#include "engine/upstream_transfer.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/curl_setup.h"

enum { CONNECT_TIMEOUT_MS = 10000 };

static size_t collect_body(char *data, size_t size, size_t count, void *userdata)
{
    upstream_transfer *t = userdata;
    size_t n = size * count;
    if (t->body_size + n > UPSTREAM_TRANSFER_BODY_LIMIT)
        return 0; /* an answer this big is not one we want: fail the transfer */
    char *grown = realloc(t->body, t->body_size + n + 1);
    if (grown == NULL) return 0;
    memcpy(grown + t->body_size, data, n);
    t->body = grown;
    t->body_size += n;
    t->body[t->body_size] = '\0';
    return n;
}

/* Copies the value of header `name` from one header line, trimmed, when the line is that header. */
static void copy_header_value(const char *line, size_t length, const char *name, char *out, size_t out_size)
{
    size_t name_length = strlen(name);
    if (length <= name_length + 1 || strncasecmp(line, name, name_length) != 0 || line[name_length] != ':')
        return;
    const char *value = line + name_length + 1;
    size_t value_length = length - name_length - 1;
    while (value_length && (*value == ' ' || *value == '\t'))
        value++, value_length--;
    while (value_length && (value[value_length - 1] == '\r' || value[value_length - 1] == '\n' ||
                            value[value_length - 1] == ' '))
        value_length--;
    if (value_length >= out_size) value_length = out_size - 1;
    memcpy(out, value, value_length);
    out[value_length] = '\0';
}

static size_t collect_header(char *line, size_t size, size_t count, void *userdata)
{
    upstream_transfer *t = userdata;
    size_t n = size * count;
    copy_header_value(line, n, "retry-after", t->retry_after, sizeof(t->retry_after));
    copy_header_value(line, n, "retry-after-ms", t->retry_after_ms, sizeof(t->retry_after_ms));
    copy_header_value(line, n, "openai-poll-after-ms", t->poll_after_ms, sizeof(t->poll_after_ms));
    return n;
}

/* Sets t->easy up for request (whose body t now holds). */
static CURLcode transfer_configure(upstream_transfer *t, const upstream_request *request, int64_t timeout_ms,
                                   void *private_data)
{
    CURLcode code = CURLE_OK;
    for (int i = 0; code == CURLE_OK && i < request->header_count; i++)
        code = net_curl_header_append(&t->headers, request->headers[i]);
    if (code == CURLE_OK) code = net_curl_header_append(&t->headers, "Expect:");
    if (code != CURLE_OK) return code;
    const char *method = request->method;
    bool sends_body = t->request_body != NULL || strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0;
    net_curl_options options = {.url = request->url,
                                .connect_timeout_ms = CONNECT_TIMEOUT_MS,
                                .total_timeout_ms = (long)timeout_ms,
                                .headers = t->headers,
                                .method = method,
                                .body = t->request_body ? t->request_body
                                        : sends_body    ? ""
                                                        : NULL,
                                .body_size = t->request_body ? request->body_size : 0,
                                .write_body = collect_body,
                                .write_body_data = t,
                                .write_header = collect_header,
                                .write_header_data = t,
                                .user_agent = "reelay",
                                .private_data = private_data};
    return net_curl_setup(t->easy, &options);
}

/* Frees what a finished or abandoned request held (the answer stays). */
static void transfer_detach(upstream_transfer *t, CURLM *multi)
{
    if (t->easy != NULL) {
        curl_multi_remove_handle(multi, t->easy);
        curl_easy_cleanup(t->easy);
        t->easy = NULL;
    }
    curl_slist_free_all(t->headers);
    t->headers = NULL;
    free(t->request_body);
    t->request_body = NULL;
}

upstream_transfer *upstream_transfer_start(CURLM *multi, upstream_request *request, const char *base_url,
                                           int64_t timeout_ms, void *private_data, char *err, size_t err_size)
{
    if (request->carries_credential && !upstream_same_origin(request->url, base_url)) {
        snprintf(err, err_size, "refusing to send a credential off the channel's origin");
        upstream_request_clear(request);
        return NULL;
    }
    upstream_transfer *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        snprintf(err, err_size, "out of memory");
        upstream_request_clear(request);
        return NULL;
    }
    t->request_body = request->body; /* moved: the body now belongs to t */
    request->body = NULL;
    t->easy = curl_easy_init();
    CURLcode code =
        t->easy != NULL ? transfer_configure(t, request, timeout_ms, private_data) : CURLE_FAILED_INIT;
    CURLMcode added = code == CURLE_OK ? curl_multi_add_handle(multi, t->easy) : CURLM_OK;
    upstream_request_clear(request); /* libcurl copied the URL and the header lines */
    if (code != CURLE_OK || added != CURLM_OK) {
        snprintf(err, err_size, "the request could not be set up: %s",
                 code != CURLE_OK ? curl_easy_strerror(code) : curl_multi_strerror(added));
        if (t->easy != NULL) curl_easy_cleanup(t->easy); /* never added to multi */
        t->easy = NULL;
        upstream_transfer_free(t, multi);
        return NULL;
    }
    return t;
}

bool upstream_transfer_active(const upstream_transfer *t)
{
    return t != NULL && t->easy != NULL;
}

void upstream_transfer_end(upstream_transfer *t, CURLM *multi, CURLcode code, upstream_transfer_result *out)
{
    assert(t->easy != NULL);
    memset(out, 0, sizeof(*out));
    if (curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &out->status) != CURLE_OK) out->status = 0;
    /* 0 when the request never got as far as being sent (it waited for a connection the whole time) */
    curl_off_t pretransfer_us = 0;
    if (curl_easy_getinfo(t->easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer_us) != CURLE_OK)
        pretransfer_us = 0;
    out->never_left = pretransfer_us == 0;
    out->connect_failed = code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST ||
                          code == CURLE_COULDNT_RESOLVE_PROXY || code == CURLE_SSL_CONNECT_ERROR ||
                          code == CURLE_PEER_FAILED_VERIFICATION;
    transfer_detach(t, multi);
    out->response = (upstream_response){.status = out->status,
                                        .body = t->body,
                                        .body_size = t->body_size,
                                        .retry_after = t->retry_after[0] ? t->retry_after : NULL,
                                        .retry_after_ms = t->retry_after_ms[0] ? t->retry_after_ms : NULL,
                                        .poll_after_ms = t->poll_after_ms[0] ? t->poll_after_ms : NULL};
}

void upstream_transfer_free(upstream_transfer *t, CURLM *multi)
{
    if (t == NULL) return;
    transfer_detach(t, multi);
    free(t->body);
    free(t);
}
