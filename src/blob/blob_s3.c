/* blob_s3.c — the S3 backend of blob.h: the bucket's configuration, one signed request (s3_perform, with
 * its callbacks and retries), and HEAD, ranged GET and DELETE of objects. Puts are in blob_s3_upload.c,
 * listings and XML in blob_s3_list.c. */
#include "blob/blob_s3_request.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "net/curl_setup.h"
#include "util/log.h"

struct blob_s3 {
    char bucket[64];
    char prefix[520];        /* "" or a valid object name */
    char base_url[600];      /* "scheme://host[:port]/bucket" (path style) or "scheme://bucket.host[:port]" */
    char endpoint_host[300]; /* for messages: the endpoint's host[:port] */
    char sigv4[128];         /* "aws:amz:<region>:s3" */
    char *access_key_id;
    char *secret_access_key;
    size_t part_size;
    long request_timeout_ms;
    CURLSH *share; /* kept-alive connections and DNS answers, for every thread */
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
    bool share_locks_ready;
};

/* libcurl's share interface locks each kind of shared data apart. */
static void share_lock(CURL *easy, curl_lock_data data, curl_lock_access access, void *user)
{
    (void)easy, (void)access;
    blob_s3 *s3 = user;
    pthread_mutex_lock(&s3->share_locks[data < CURL_LOCK_DATA_LAST ? data : 0]);
}

static void share_unlock(CURL *easy, curl_lock_data data, void *user)
{
    (void)easy;
    blob_s3 *s3 = user;
    pthread_mutex_unlock(&s3->share_locks[data < CURL_LOCK_DATA_LAST ? data : 0]);
}

/* One connection cache and DNS cache for every request of the store, so parts, listings and reads
 * reuse kept-alive (TLS) connections instead of opening one each. 0 or -1. */
static int share_open(blob_s3 *s3)
{
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&s3->share_locks[i], NULL);
    s3->share_locks_ready = true;
    s3->share = curl_share_init();
    if (s3->share == NULL || curl_share_setopt(s3->share, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
        curl_share_setopt(s3->share, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
        curl_share_setopt(s3->share, CURLSHOPT_USERDATA, s3) != CURLSHE_OK ||
        curl_share_setopt(s3->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK ||
        curl_share_setopt(s3->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK)
        return -1;
    return 0;
}

const char *s3_prefix(const blob_s3 *s3)
{
    return s3->prefix;
}
size_t s3_part_size(const blob_s3 *s3)
{
    return s3->part_size;
}

int s3_object_key(const blob_s3 *s3, const char *name, char *out, size_t out_size)
{
    if (!blob_name_is_valid(name)) return -1;
    int n = s3->prefix[0] ? snprintf(out, out_size, "%s/%s", s3->prefix, name)
                          : snprintf(out, out_size, "%s", name);
    return n < 0 || (size_t)n >= out_size ? -1 : 0;
}

static bool bucket_name_is_valid(const char *name, size_t length)
{
    if (length < 3 || length > 63) return false;
    for (size_t i = 0; i < length; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
    }
    return name[0] != '.' && name[0] != '-' && name[length - 1] != '.' && name[length - 1] != '-';
}

/* "s3://bucket[/prefix]" into s3->bucket and s3->prefix. */
static int parse_storage_url(blob_s3 *s3, const char *url, char *err, size_t err_size)
{
    if (url == NULL || strncmp(url, "s3://", 5) != 0) {
        snprintf(err, err_size, "the storage URL must be s3://bucket[/prefix]");
        return -1;
    }
    const char *bucket = url + 5, *slash = strchr(bucket, '/');
    size_t length = slash ? (size_t)(slash - bucket) : strlen(bucket);
    if (!bucket_name_is_valid(bucket, length)) {
        snprintf(err, err_size, "the bucket name of the storage URL is not valid (3 to 63 of a-z 0-9 . -)");
        return -1;
    }
    memcpy(s3->bucket, bucket, length);
    s3->bucket[length] = '\0';
    const char *prefix = slash ? slash + 1 : "";
    size_t prefix_length = strlen(prefix);
    while (prefix_length > 0 && prefix[prefix_length - 1] == '/') /* "s3://b/p/" is "s3://b/p" */
        prefix_length--;
    if (prefix_length >= sizeof(s3->prefix)) prefix_length = sizeof(s3->prefix); /* refused below */
    snprintf(s3->prefix, sizeof(s3->prefix), "%.*s", (int)prefix_length, prefix);
    if (prefix_length > 0 && (prefix_length >= sizeof(s3->prefix) - 1 || !blob_name_is_valid(s3->prefix))) {
        snprintf(err, err_size, "the prefix of the storage URL must be segments of [A-Za-z0-9._-]");
        return -1;
    }
    return 0;
}

/* The endpoint (default: AWS's for the region) into base_url, as path style or virtual host. */
static int parse_endpoint(blob_s3 *s3, const blob_s3_config *config, const char *region, char *err,
                          size_t err_size)
{
    char fallback[200];
    const char *endpoint = config->endpoint;
    if (endpoint == NULL || endpoint[0] == '\0') {
        snprintf(fallback, sizeof(fallback), "https://s3.%s.amazonaws.com", region);
        endpoint = fallback;
    }
    CURLU *url = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL, *user = NULL;
    int result = -1;
    if (url != NULL && curl_url_set(url, CURLUPART_URL, endpoint, 0) == CURLUE_OK &&
        curl_url_get(url, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(url, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) &&
        curl_url_get(url, CURLUPART_QUERY, &query, 0) == CURLUE_NO_QUERY &&
        curl_url_get(url, CURLUPART_USER, &user, 0) == CURLUE_NO_USER &&
        (curl_url_get(url, CURLUPART_PATH, &path, 0) != CURLUE_OK || strcmp(path, "/") == 0)) {
        CURLUcode has_port = curl_url_get(url, CURLUPART_PORT, &port, 0);
        int n = snprintf(s3->endpoint_host, sizeof(s3->endpoint_host), "%s%s%s", host,
                         has_port == CURLUE_OK ? ":" : "", has_port == CURLUE_OK ? port : "");
        int m = config->path_style ? snprintf(s3->base_url, sizeof(s3->base_url), "%s://%s/%s", scheme,
                                              s3->endpoint_host, s3->bucket)
                                   : snprintf(s3->base_url, sizeof(s3->base_url), "%s://%s.%s", scheme,
                                              s3->bucket, s3->endpoint_host);
        if (n > 0 && (size_t)n < sizeof(s3->endpoint_host) && m > 0 && (size_t)m < sizeof(s3->base_url))
            result = 0;
    }
    if (result != 0)
        snprintf(err, err_size,
                 "the S3 endpoint must be http(s)://host[:port] without a path or credentials");
    curl_free(scheme), curl_free(host), curl_free(port), curl_free(path), curl_free(query), curl_free(user);
    curl_url_cleanup(url);
    return result;
}

static int configure(blob_s3 *s3, const blob_s3_config *config, char *err, size_t err_size)
{
    const char *region = config->region && config->region[0] ? config->region : "us-east-1";
    for (const char *p = region; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-') || p - region > 60) {
            snprintf(err, err_size, "the S3 region must be letters, digits and '-'");
            return -1;
        }
    if (config->access_key_id == NULL || config->access_key_id[0] == '\0' ||
        config->secret_access_key == NULL || config->secret_access_key[0] == '\0' ||
        strchr(config->access_key_id, ':') != NULL) {
        snprintf(err, err_size, "S3 storage needs an access key id and a secret access key");
        return -1;
    }
    if (parse_storage_url(s3, config->url, err, err_size) != 0 ||
        parse_endpoint(s3, config, region, err, err_size) != 0)
        return -1;
    snprintf(s3->sigv4, sizeof(s3->sigv4), "aws:amz:%s:s3", region);
    s3->access_key_id = strdup(config->access_key_id);
    s3->secret_access_key = strdup(config->secret_access_key);
    if (s3->access_key_id == NULL || s3->secret_access_key == NULL) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    if (share_open(s3) != 0) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    s3->part_size = config->part_size ? config->part_size : BLOB_S3_DEFAULT_PART_SIZE;
    s3->request_timeout_ms = config->request_timeout_ms > 0 ? config->request_timeout_ms : 300000;
    return 0;
}

int blob_s3_open(const blob_s3_config *config, blob_s3 **out, char *err, size_t err_size)
{
    blob_s3 *s3 = calloc(1, sizeof(*s3));
    if (s3 == NULL) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    if (configure(s3, config, err, err_size) != 0) {
        blob_s3_close(s3);
        return -1;
    }
    /* One listing of the prefix: the endpoint answers, the bucket exists, the credentials work. */
    s3_response response = {0};
    s3_request request = {.method = "GET", .key = "", .query = "list-type=2&max-keys=1"};
    int sent = s3_perform(s3, "check the bucket", &request, &response);
    if (sent != 0 || response.status != 200) {
        if (sent != 0)
            snprintf(err, err_size, "the S3 endpoint %s did not answer", s3->endpoint_host);
        else
            snprintf(err, err_size, "the bucket %s at %s refused a listing: HTTP %ld%s%s", s3->bucket,
                     s3->endpoint_host, response.status, response.error_code[0] ? " " : "",
                     response.error_code);
        s3_response_free(&response);
        blob_s3_close(s3);
        return -1;
    }
    s3_response_free(&response);
    *out = s3;
    return 0;
}

void blob_s3_close(blob_s3 *s3)
{
    if (s3 == NULL) return;
    if (s3->share != NULL) curl_share_cleanup(s3->share); /* every request's handle is gone by now */
    if (s3->share_locks_ready)
        for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
            pthread_mutex_destroy(&s3->share_locks[i]);
    free(s3->access_key_id);
    if (s3->secret_access_key != NULL) {
        memset(s3->secret_access_key, 0, strlen(s3->secret_access_key));
        free(s3->secret_access_key);
    }
    free(s3);
}

/* ---- One request ---- */

typedef struct s3_call {
    CURL *easy;
    const s3_request *request;
    s3_response *response;
    uint64_t uploaded; /* bytes of the upload read so far */
    bool sink_failed;
} s3_call;

static int text_append(s3_response *response, const char *data, size_t size)
{
    if (response->text_length + size > S3_XML_LIMIT) return -1;
    char *grown = realloc(response->text, response->text_length + size + 1);
    if (grown == NULL) return -1;
    memcpy(grown + response->text_length, data, size);
    response->text = grown;
    response->text_length += size;
    grown[response->text_length] = '\0';
    return 0;
}

static size_t on_body(char *data, size_t size, size_t count, void *user)
{
    s3_call *call = user;
    size_t n = size * count;
    long status = 0;
    if (curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) return 0;
    if (status >= 200 && status < 300 && call->request->sink != NULL) {
        if (call->request->sink(call->request->sink_context, data, n) != 0) {
            call->sink_failed = true;
            return 0;
        }
        call->response->delivered += n;
        return n;
    }
    return text_append(call->response, data, n) == 0 ? n : 0;
}

static size_t on_header(char *data, size_t size, size_t count, void *user)
{
    s3_call *call = user;
    size_t n = size * count;
    blob_object_info *info = &call->response->info;
    char line[400];
    if (n >= sizeof(line)) return n; /* none of ours is that long */
    memcpy(line, data, n);
    while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n'))
        n--;
    line[n] = '\0';
    if (strncmp(line, "HTTP/", 5) == 0) { /* a new answer (after 100 Continue): forget the last one's */
        memset(info, 0, sizeof(*info));
        call->response->has_length = false;
    } else if (strncasecmp(line, "content-length:", 15) == 0) {
        char *end = NULL;
        unsigned long long value = strtoull(line + 15, &end, 10);
        call->response->has_length = end != line + 15 && (*end == '\0' || *end == ' ');
        info->size = value;
    } else if (strncasecmp(line, "etag:", 5) == 0) {
        const char *value = line + 5 + strspn(line + 5, " ");
        if (strlen(value) < sizeof(info->etag) && strpbrk(value, "<>&") == NULL)
            snprintf(info->etag, sizeof(info->etag), "%s", value);
    } else if (strncasecmp(line, "last-modified:", 14) == 0) {
        time_t when = curl_getdate(line + 14, NULL);
        info->modified_unix = when > 0 ? (int64_t)when : 0;
    }
    return size * count;
}

static size_t on_upload(char *buffer, size_t size, size_t count, void *user)
{
    s3_call *call = user;
    const s3_request *request = call->request;
    uint64_t sent = call->uploaded;
    size_t want = size * count;
    if (want > request->upload_size - sent) want = (size_t)(request->upload_size - sent);
    if (want == 0) return 0;
    ssize_t got = pread(request->upload_fd, buffer, want, (off_t)(request->upload_offset + sent));
    if (got <= 0) return CURL_READFUNC_ABORT; /* an error, or the file shrank under us */
    call->uploaded += (uint64_t)got;
    return (size_t)got;
}

/* libcurl resending the body (a kept-alive connection found closed): back to where it asks. */
static int on_upload_seek(void *user, curl_off_t offset, int origin)
{
    s3_call *call = user;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > call->request->upload_size)
        return CURL_SEEKFUNC_FAIL;
    call->uploaded = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

static CURLcode set_up(blob_s3 *s3, s3_call *call, struct curl_slist **headers, char *url, char *error_buffer)
{
    const s3_request *request = call->request;
    int n = snprintf(url, S3_URL_SIZE, "%s/%s%s%s", s3->base_url, request->key, request->query ? "?" : "",
                     request->query ? request->query : "");
    if (n < 0 || n >= S3_URL_SIZE) return CURLE_URL_MALFORMAT;
    char range[96];
    CURLcode code = net_curl_header_append(headers, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    if (code == CURLE_OK && request->range) {
        snprintf(range, sizeof(range), "Range: %s", request->range);
        code = net_curl_header_append(headers, range);
    }
    /* sent explicitly with every body: libcurl 7.88's signer signs a Content-Type even when none is sent */
    if (code == CURLE_OK && (request->upload || request->body))
        code = net_curl_header_append(headers, request->upload ? "Content-Type: application/octet-stream"
                                                               : "Content-Type: application/xml");
    if (code != CURLE_OK) return code;
    net_curl_options options = {.url = url,
                                .error_buffer = error_buffer,
                                .connect_timeout_ms = 10000,
                                .total_timeout_ms = s3->request_timeout_ms,
                                .headers = *headers,
                                .method = strcmp(request->method, "GET") == 0 || request->upload ||
                                                  strcmp(request->method, "HEAD") == 0
                                              ? NULL
                                              : request->method,
                                .body = request->body,
                                .body_size = request->body_size,
                                .write_body = on_body,
                                .write_body_data = call,
                                .write_header = on_header,
                                .write_header_data = call,
                                .user_agent = "reelay",
                                .no_body = strcmp(request->method, "HEAD") == 0,
                                .read_body = request->upload ? on_upload : NULL,
                                .read_body_data = call,
                                .seek_body = request->upload ? on_upload_seek : NULL,
                                .upload_size = (curl_off_t)request->upload_size,
                                .aws_sigv4 = s3->sigv4,
                                .username = s3->access_key_id,
                                .password = s3->secret_access_key,
                                .share = s3->share};
    return net_curl_setup(call->easy, &options);
}

/* One attempt. Returns the libcurl result; response->status is set when an answer came. */
static CURLcode attempt(blob_s3 *s3, const s3_request *request, s3_response *response, char *error_buffer)
{
    s3_call call = {.easy = curl_easy_init(), .request = request, .response = response};
    if (call.easy == NULL) return CURLE_OUT_OF_MEMORY;
    struct curl_slist *headers = NULL;
    char *url = malloc(S3_URL_SIZE);
    CURLcode code = url ? set_up(s3, &call, &headers, url, error_buffer) : CURLE_OUT_OF_MEMORY;
    if (code == CURLE_OK) code = curl_easy_perform(call.easy);
    long status = 0;
    if (code == CURLE_OK && curl_easy_getinfo(call.easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
        code = CURLE_BAD_FUNCTION_ARGUMENT;
    response->status = code == CURLE_OK ? status : 0;
    if (call.sink_failed) code = CURLE_WRITE_ERROR;
    curl_slist_free_all(headers);
    free(url);
    curl_easy_cleanup(call.easy);
    return code;
}

static bool worth_retrying(CURLcode code, const s3_response *response, const s3_request *request)
{
    if (response->delivered > 0 && request->sink != NULL) return false; /* bytes already went on */
    if (code == CURLE_OK) return response->status == 500 || response->status == 503;
    return code == CURLE_COULDNT_CONNECT || code == CURLE_SEND_ERROR || code == CURLE_RECV_ERROR ||
           code == CURLE_GOT_NOTHING || code == CURLE_PARTIAL_FILE;
}

int s3_perform(blob_s3 *s3, const char *what, const s3_request *request, s3_response *response)
{
    char error_buffer[CURL_ERROR_SIZE];
    CURLcode code = CURLE_OK;
    for (int attempt_number = 0; attempt_number < 3; attempt_number++) {
        if (attempt_number > 0)
            nanosleep(&(struct timespec){.tv_nsec = 100000000L * attempt_number * attempt_number}, NULL);
        s3_response_free(response);
        error_buffer[0] = '\0';
        code = attempt(s3, request, response, error_buffer);
        if (!worth_retrying(code, response, request)) break;
    }
    if (response->status >= 300 && response->text != NULL &&
        s3_xml_text(response->text, response->text_length, NULL, "Code", response->error_code,
                    sizeof(response->error_code)) == NULL)
        response->error_code[0] = '\0';
    if (code == CURLE_OK) return 0;
    log_warn("S3 request failed", "op=\"%s\" endpoint=\"%s\" bucket=\"%s\" key=\"%s\" curl=%d error=\"%s\"",
             what, s3->endpoint_host, s3->bucket, request->key, (int)code,
             error_buffer[0] ? error_buffer : curl_easy_strerror(code));
    return -1;
}

void s3_response_free(s3_response *response)
{
    free(response->text);
    memset(response, 0, sizeof(*response));
}

void s3_log_status(const blob_s3 *s3, const char *what, const char *key, const s3_response *response)
{
    log_warn("S3 request refused",
             "op=\"%s\" endpoint=\"%s\" bucket=\"%s\" key=\"%s\" status=%ld code=\"%s\"", what,
             s3->endpoint_host, s3->bucket, key, response->status, response->error_code);
}

/* ---- Objects ---- */

int blob_s3_head(blob_s3 *s3, const char *name, blob_object_info *out)
{
    char key[S3_KEY_SIZE];
    if (s3_object_key(s3, name, key, sizeof(key)) != 0) return BLOB_ERROR;
    s3_request request = {.method = "HEAD", .key = key};
    s3_response response = {0};
    int result = BLOB_ERROR;
    if (s3_perform(s3, "head", &request, &response) == 0) {
        if (response.status == 200 && response.has_length) {
            *out = response.info;
            result = BLOB_OK;
        } else if (response.status == 404) {
            result = BLOB_NOT_FOUND;
        } else {
            s3_log_status(s3, "head", key, &response);
        }
    }
    s3_response_free(&response);
    return result;
}

int blob_s3_read(blob_s3 *s3, const char *name, uint64_t offset, uint64_t length, blob_sink sink,
                 void *context)
{
    char key[S3_KEY_SIZE], range[64] = "";
    if (s3_object_key(s3, name, key, sizeof(key)) != 0) return BLOB_ERROR;
    if (length > 0)
        snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)offset,
                 (unsigned long long)(offset + length - 1));
    else if (offset > 0)
        snprintf(range, sizeof(range), "bytes=%llu-", (unsigned long long)offset);
    s3_request request = {
        .method = "GET", .key = key, .range = range[0] ? range : NULL, .sink = sink, .sink_context = context};
    s3_response response = {0};
    int result = BLOB_ERROR;
    if (s3_perform(s3, "get", &request, &response) == 0) {
        bool ranged = request.range != NULL;
        if (response.status == (ranged ? 206 : 200) && (length == 0 || response.delivered == length))
            result = BLOB_OK;
        else if (response.status == 404)
            result = BLOB_NOT_FOUND;
        else
            s3_log_status(s3, "get", key, &response);
    }
    s3_response_free(&response);
    return result;
}

int blob_s3_remove(blob_s3 *s3, const char *name)
{
    char key[S3_KEY_SIZE];
    if (s3_object_key(s3, name, key, sizeof(key)) != 0) return BLOB_ERROR;
    s3_request request = {.method = "DELETE", .key = key};
    s3_response response = {0};
    int result = BLOB_ERROR;
    if (s3_perform(s3, "delete", &request, &response) == 0) {
        if (response.status == 204 || response.status == 200 || response.status == 404)
            result = BLOB_OK;
        else
            s3_log_status(s3, "delete", key, &response);
    }
    s3_response_free(&response);
    return result;
}
