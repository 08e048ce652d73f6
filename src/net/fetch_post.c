/* fetch_post.c — guarded POSTs of small bodies (see fetch_post.h). The connect-time address check is
 * the rule of net_guard.c applied in libcurl's open-socket hook, as for downloads. */
#include "net/fetch_post.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

enum {
    POST_DEFAULT_TIMEOUT_MS = 10 * 1000,
    POST_DEFAULT_RESPONSE_BYTES = 64 * 1024,
    POST_MAX_URL_LENGTH = 4096,
    POST_HOST_SIZE = 256,
};

struct fetch_post {
    CURL *easy;
    CURLU *parsed;
    struct curl_slist *headers;
    const fetch_policy *policy;
    char host[POST_HOST_SIZE];
    char error_buffer[CURL_ERROR_SIZE];
    size_t max_response_bytes, received;
    bool cut_off; /* the response passed max_response_bytes */
    bool blocked; /* the guard refused a socket */
};

/* The one place every resolved address passes before connect(). Redirects are off, so the host is
 * always the URL's own. */
static curl_socket_t post_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
    fetch_post *post = clientp;
    bool shape_ok = purpose == CURLSOCKTYPE_IPCXN &&
                    ((address->family == AF_INET && address->addrlen >= sizeof(struct sockaddr_in)) ||
                     (address->family == AF_INET6 && address->addrlen >= sizeof(struct sockaddr_in6)));
    if (!shape_ok || (!net_address_is_public(&address->addr) &&
                      !net_allow_list_matches(post->policy->allow_list, post->host, &address->addr))) {
        post->blocked = true;
        return CURL_SOCKET_BAD;
    }
    int fd = socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    return fd < 0 ? CURL_SOCKET_BAD : fd;
}

/* The answer's body is not wanted: count it and drop it, up to the cap. */
static size_t post_discard_body(char *data, size_t size, size_t count, void *userdata)
{
    (void)data;
    fetch_post *post = userdata;
    size_t length = size * count;
    if (length > post->max_response_bytes - post->received) {
        post->cut_off = true;
        return 0;
    }
    post->received += length;
    return length;
}

static void post_free(fetch_post *post)
{
    if (post->easy) curl_easy_cleanup(post->easy);
    if (post->parsed) curl_url_cleanup(post->parsed);
    curl_slist_free_all(post->headers);
    free(post);
}

/* Checks the URL: absolute http(s) with a host; http only to allow-listed hosts under https_only. */
static fetch_result post_parse_url(fetch_post *post, const char *url, bool https_only, char *err,
                                   size_t err_size)
{
    if (url == NULL || *url == '\0' || strnlen(url, POST_MAX_URL_LENGTH + 1) > POST_MAX_URL_LENGTH) {
        snprintf(err, err_size, "%s", url == NULL || *url == '\0' ? "no URL given" : "the URL is too long");
        return FETCH_INVALID_URL;
    }
    post->parsed = curl_url();
    if (post->parsed == NULL) {
        snprintf(err, err_size, "out of memory");
        return FETCH_UNREACHABLE;
    }
    char *scheme = NULL, *host = NULL;
    fetch_result result = FETCH_OK;
    if (curl_url_set(post->parsed, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(post->parsed, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || scheme == NULL ||
        curl_url_get(post->parsed, CURLUPART_HOST, &host, 0) != CURLUE_OK || host == NULL) {
        snprintf(err, err_size, "not an absolute http or https URL");
        result = FETCH_INVALID_URL;
    } else if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
        snprintf(err, err_size, "only http and https URLs can be used");
        result = FETCH_INVALID_URL;
    } else {
        size_t length = strlen(host);
        const char *start = host;
        if (length >= 2 && host[0] == '[' && host[length - 1] == ']') start++, length -= 2;
        if (length == 0 || length >= sizeof(post->host)) {
            snprintf(err, err_size, "the URL has no usable host");
            result = FETCH_INVALID_URL;
        } else {
            memcpy(post->host, start, length);
            post->host[length] = '\0';
            if (https_only && strcasecmp(scheme, "https") != 0 &&
                !net_allow_list_matches(post->policy->allow_list, post->host, NULL)) {
                snprintf(err, err_size, "only https may be used with %s", post->host);
                result = FETCH_INVALID_URL;
            }
        }
    }
    curl_free(scheme);
    curl_free(host);
    return result;
}

#define POST_SETOPT(easy, option, value)                                                                     \
    do {                                                                                                     \
        if (code == CURLE_OK) code = curl_easy_setopt(easy, option, value);                                  \
    } while (0)

fetch_post *fetch_post_begin(const char *url, const char *const *headers, const char *body, size_t body_size,
                             const fetch_post_options *options, fetch_result *result, char *err,
                             size_t err_size)
{
    err[0] = '\0';
    *result = FETCH_UNREACHABLE;
    if (options == NULL || options->policy == NULL || (body == NULL && body_size > 0)) {
        snprintf(err, err_size, "the request is incomplete");
        return NULL;
    }
    if (!fetch_library_ready()) {
        snprintf(err, err_size, "the HTTP client could not start");
        return NULL;
    }
    fetch_post *post = calloc(1, sizeof(*post));
    if (post == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    post->policy = options->policy;
    post->max_response_bytes =
        options->max_response_bytes > 0 ? options->max_response_bytes : POST_DEFAULT_RESPONSE_BYTES;
    *result = post_parse_url(post, url, options->https_only, err, err_size);
    if (*result != FETCH_OK) {
        post_free(post);
        return NULL;
    }
    *result = FETCH_UNREACHABLE;
    bool has_user_agent = false;
    CURLcode code = CURLE_OK;
    for (size_t i = 0; headers && headers[i]; i++) {
        if (strncasecmp(headers[i], "User-Agent:", 11) == 0) has_user_agent = true;
        struct curl_slist *grown = curl_slist_append(post->headers, headers[i]);
        if (grown == NULL)
            code = CURLE_OUT_OF_MEMORY;
        else
            post->headers = grown;
    }
    /* A body over 1 KiB would make libcurl wait for "100 Continue" first: a needless round trip. */
    struct curl_slist *grown = code == CURLE_OK ? curl_slist_append(post->headers, "Expect:") : NULL;
    if (grown == NULL)
        code = CURLE_OUT_OF_MEMORY;
    else
        post->headers = grown;

    long timeout_ms = options->timeout_ms > 0 ? options->timeout_ms : POST_DEFAULT_TIMEOUT_MS;
    long connect_ms = post->policy->connect_timeout_ms > 0 && post->policy->connect_timeout_ms < timeout_ms
                          ? post->policy->connect_timeout_ms
                          : timeout_ms;
    post->easy = code == CURLE_OK ? curl_easy_init() : NULL;
    if (post->easy == NULL && code == CURLE_OK) code = CURLE_FAILED_INIT;
    POST_SETOPT(post->easy, CURLOPT_CURLU, post->parsed);
    POST_SETOPT(post->easy, CURLOPT_ERRORBUFFER, post->error_buffer);
    POST_SETOPT(post->easy, CURLOPT_NOSIGNAL, 1L);
    POST_SETOPT(post->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    POST_SETOPT(post->easy, CURLOPT_FOLLOWLOCATION, 0L);
    /* A proxy from the environment would make the guard see the proxy's address, not the target's. */
    POST_SETOPT(post->easy, CURLOPT_PROXY, "");
    POST_SETOPT(post->easy, CURLOPT_NOPROXY, "*");
    POST_SETOPT(post->easy, CURLOPT_OPENSOCKETFUNCTION, post_open_socket);
    POST_SETOPT(post->easy, CURLOPT_OPENSOCKETDATA, post);
    POST_SETOPT(post->easy, CURLOPT_WRITEFUNCTION, post_discard_body);
    POST_SETOPT(post->easy, CURLOPT_WRITEDATA, post);
    POST_SETOPT(post->easy, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    POST_SETOPT(post->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    POST_SETOPT(post->easy, CURLOPT_POST, 1L);
    POST_SETOPT(post->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_size);
    POST_SETOPT(post->easy, CURLOPT_COPYPOSTFIELDS, body ? body : "");
    if (!has_user_agent) POST_SETOPT(post->easy, CURLOPT_USERAGENT, "reelay");
    POST_SETOPT(post->easy, CURLOPT_HTTPHEADER, post->headers);
    if (code != CURLE_OK) {
        snprintf(err, err_size, "the HTTP client could not be set up: %s", curl_easy_strerror(code));
        post_free(post);
        return NULL;
    }
    *result = FETCH_OK;
    return post;
}

CURL *fetch_post_easy(fetch_post *post)
{
    return post->easy;
}

fetch_result fetch_post_end(fetch_post *post, CURLcode code, long *http_status, char *err, size_t err_size)
{
    char scratch[8];
    if (err == NULL || err_size == 0) err = scratch, err_size = sizeof(scratch);
    err[0] = '\0';
    long status = 0;
    if (curl_easy_getinfo(post->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) status = 0;
    if (http_status) *http_status = status;
    fetch_result result;
    /* An answer whose body we cut off still answered: its status is what counts. */
    if ((code == CURLE_OK || (code == CURLE_WRITE_ERROR && post->cut_off)) && status >= 200 &&
        status <= 299) {
        result = FETCH_OK;
    } else if ((code == CURLE_OK || (code == CURLE_WRITE_ERROR && post->cut_off)) && status > 0) {
        snprintf(err, err_size, "%s answered %ld", post->host, status);
        result = FETCH_HTTP_STATUS;
    } else if (post->blocked && code == CURLE_COULDNT_CONNECT) {
        snprintf(err, err_size, "the address of %s is not public", post->host);
        result = FETCH_BLOCKED;
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
        snprintf(err, err_size, "%s did not answer in time", post->host);
        result = FETCH_TIMEOUT;
    } else if (code == CURLE_COULDNT_RESOLVE_HOST) {
        snprintf(err, err_size, "could not resolve %s", post->host);
        result = FETCH_UNREACHABLE;
    } else {
        /* libcurl's own message only for TLS (it names the certificate problem, never the URL) */
        bool tls = code == CURLE_SSL_CONNECT_ERROR || code == CURLE_PEER_FAILED_VERIFICATION ||
                   code == CURLE_SSL_CERTPROBLEM || code == CURLE_SSL_CIPHER ||
                   code == CURLE_SSL_CACERT_BADFILE;
        snprintf(err, err_size, "could not post to %s: %s", post->host,
                 tls && post->error_buffer[0] ? post->error_buffer : curl_easy_strerror(code));
        result = FETCH_UNREACHABLE;
    }
    post_free(post);
    return result;
}
