/* curl_setup.c — the one libcurl easy-handle setup (see curl_setup.h): every option set and checked,
 * the guard's open-socket hook, URL parsing as the guard reads it, and how a failed guarded GET is told. */
#include "net/curl_setup.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

void net_guard_init(net_guard *guard, CURL *easy, const char *allow_list, const char *host)
{
    memset(guard, 0, sizeof(*guard));
    guard->easy = easy;
    guard->allow_list = allow_list;
    guard->host = host;
}

bool net_url_host(CURLU *parsed, char *out, size_t out_size)
{
    char *host = NULL;
    if (curl_url_get(parsed, CURLUPART_HOST, &host, 0) != CURLUE_OK || host == NULL) return false;
    size_t length = strlen(host);
    const char *start = host;
    if (length >= 2 && host[0] == '[' && host[length - 1] == ']') {
        start++;
        length -= 2;
    }
    bool fits = length > 0 && length < out_size;
    if (fits) {
        memcpy(out, start, length);
        out[length] = '\0';
    }
    curl_free(host);
    return fits;
}

bool net_url_text_host(const char *url, char *out, size_t out_size)
{
    CURLU *parsed = curl_url();
    if (parsed == NULL) return false;
    bool found =
        curl_url_set(parsed, CURLUPART_URL, url, 0) == CURLUE_OK && net_url_host(parsed, out, out_size);
    curl_url_cleanup(parsed);
    return found;
}

fetch_result net_url_parse(const char *url, size_t max_length, const char *action, CURLU **out, char *host,
                           size_t host_size, char *err, size_t err_size)
{
    *out = NULL;
    if (url == NULL || *url == '\0' || strnlen(url, max_length + 1) > max_length) {
        snprintf(err, err_size, "%s", url == NULL || *url == '\0' ? "no URL given" : "the URL is too long");
        return FETCH_INVALID_URL;
    }
    CURLU *parsed = curl_url();
    if (parsed == NULL) {
        snprintf(err, err_size, "out of memory");
        return FETCH_UNREACHABLE;
    }
    char *scheme = NULL;
    fetch_result result = FETCH_OK;
    if (curl_url_set(parsed, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(parsed, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || scheme == NULL) {
        snprintf(err, err_size, "not an absolute http or https URL");
        result = FETCH_INVALID_URL;
    } else if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
        snprintf(err, err_size, "only http and https URLs can be %s", action);
        result = FETCH_INVALID_URL;
    } else if (!net_url_host(parsed, host, host_size)) {
        snprintf(err, err_size, "the URL has no usable host");
        result = FETCH_INVALID_URL;
    }
    curl_free(scheme);
    if (result != FETCH_OK) {
        curl_url_cleanup(parsed);
        return result;
    }
    *out = parsed;
    return FETCH_OK;
}

/* libcurl's open-socket hook: the one place every resolved address passes before connect(), for the
 * first hop and for each redirect, so DNS answers cannot change between check and use. */
static curl_socket_t net_guard_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
    net_guard *guard = clientp;
    /* After a redirect libcurl has already replaced the effective URL with the target, so its host is
     * the one being connected to. If it cannot be read, fail closed: only address entries of the
     * allow-list can then match. */
    char host[NET_HOST_SIZE] = "";
    if (guard->host != NULL) {
        snprintf(host, sizeof(host), "%s", guard->host);
    } else {
        char *effective = NULL;
        if (guard->easy == NULL ||
            curl_easy_getinfo(guard->easy, CURLINFO_EFFECTIVE_URL, &effective) != CURLE_OK ||
            effective == NULL || !net_url_text_host(effective, host, sizeof(host)))
            host[0] = '\0';
    }
    bool shape_ok = purpose == CURLSOCKTYPE_IPCXN &&
                    ((address->family == AF_INET && address->addrlen >= sizeof(struct sockaddr_in)) ||
                     (address->family == AF_INET6 && address->addrlen >= sizeof(struct sockaddr_in6)));
    if (!shape_ok || (!net_address_is_public(&address->addr) &&
                      !net_allow_list_matches(guard->allow_list, host, &address->addr))) {
        guard->blocked = true;
        snprintf(guard->blocked_host, sizeof(guard->blocked_host), "%s", host);
        return CURL_SOCKET_BAD;
    }
    int fd = socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    return fd < 0 ? CURL_SOCKET_BAD : fd;
}

#define NET_SETOPT(easy, option, value)                                                                      \
    do {                                                                                                     \
        CURLcode setopt_result = curl_easy_setopt(easy, option, value);                                      \
        if (setopt_result != CURLE_OK) return setopt_result;                                                 \
    } while (0)

/* The URL, where it may lead, and the guard. */
static CURLcode net_curl_setup_target(CURL *easy, const net_curl_options *o)
{
    if (o->parsed_url != NULL)
        NET_SETOPT(easy, CURLOPT_CURLU, o->parsed_url);
    else if (o->url != NULL)
        NET_SETOPT(easy, CURLOPT_URL, o->url);
    if (o->error_buffer != NULL) NET_SETOPT(easy, CURLOPT_ERRORBUFFER, o->error_buffer);
    NET_SETOPT(easy, CURLOPT_NOSIGNAL, 1L);
    NET_SETOPT(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    NET_SETOPT(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    NET_SETOPT(easy, CURLOPT_FOLLOWLOCATION, o->follow_redirects ? 1L : 0L);
    if (o->follow_redirects)
        NET_SETOPT(easy, CURLOPT_MAXREDIRS, o->max_redirects < 0 ? 0L : o->max_redirects);
    if (o->guard != NULL) {
        /* A proxy from the environment would make the guard see the proxy's address, not the target's. */
        NET_SETOPT(easy, CURLOPT_PROXY, "");
        NET_SETOPT(easy, CURLOPT_NOPROXY, "*");
        NET_SETOPT(easy, CURLOPT_OPENSOCKETFUNCTION, net_guard_open_socket);
        NET_SETOPT(easy, CURLOPT_OPENSOCKETDATA, o->guard);
    }
    return CURLE_OK;
}

/* Limits, the request itself and where the answer goes. */
static CURLcode net_curl_setup_exchange(CURL *easy, const net_curl_options *o)
{
    if (o->connect_timeout_ms > 0) NET_SETOPT(easy, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    if (o->total_timeout_ms > 0) NET_SETOPT(easy, CURLOPT_TIMEOUT_MS, o->total_timeout_ms);
    if (o->max_file_size > 0) NET_SETOPT(easy, CURLOPT_MAXFILESIZE_LARGE, o->max_file_size);
    if (o->headers != NULL) NET_SETOPT(easy, CURLOPT_HTTPHEADER, o->headers);
    if (o->method != NULL) NET_SETOPT(easy, CURLOPT_CUSTOMREQUEST, o->method);
    if (o->body != NULL) {
        if (o->method == NULL) NET_SETOPT(easy, CURLOPT_POST, 1L);
        /* the size first: COPYPOSTFIELDS copies that many bytes (the body may hold NULs) */
        NET_SETOPT(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_size);
        NET_SETOPT(easy, o->copy_body ? CURLOPT_COPYPOSTFIELDS : CURLOPT_POSTFIELDS, o->body);
    }
    if (o->write_body != NULL) {
        NET_SETOPT(easy, CURLOPT_WRITEFUNCTION, o->write_body);
        NET_SETOPT(easy, CURLOPT_WRITEDATA, o->write_body_data);
    }
    if (o->write_header != NULL) {
        NET_SETOPT(easy, CURLOPT_HEADERFUNCTION, o->write_header);
        NET_SETOPT(easy, CURLOPT_HEADERDATA, o->write_header_data);
    }
    if (o->user_agent != NULL) NET_SETOPT(easy, CURLOPT_USERAGENT, o->user_agent);
    if (o->private_data != NULL) NET_SETOPT(easy, CURLOPT_PRIVATE, o->private_data);
    return CURLE_OK;
}

/* HEAD, streamed uploads and credentials (libcurl's own SigV4 signer for S3-compatible storage). */
static CURLcode net_curl_setup_transfer(CURL *easy, const net_curl_options *o)
{
    if (o->no_body) NET_SETOPT(easy, CURLOPT_NOBODY, 1L);
    if (o->read_body != NULL) {
        NET_SETOPT(easy, CURLOPT_UPLOAD, 1L);
        NET_SETOPT(easy, CURLOPT_READFUNCTION, o->read_body);
        NET_SETOPT(easy, CURLOPT_READDATA, o->read_body_data);
        NET_SETOPT(easy, CURLOPT_INFILESIZE_LARGE, o->upload_size);
        if (o->seek_body != NULL) {
            NET_SETOPT(easy, CURLOPT_SEEKFUNCTION, o->seek_body);
            NET_SETOPT(easy, CURLOPT_SEEKDATA, o->read_body_data);
        }
    }
    if (o->aws_sigv4 != NULL) NET_SETOPT(easy, CURLOPT_AWS_SIGV4, o->aws_sigv4);
    if (o->username != NULL) NET_SETOPT(easy, CURLOPT_USERNAME, o->username);
    if (o->password != NULL) NET_SETOPT(easy, CURLOPT_PASSWORD, o->password);
    if (o->share != NULL) NET_SETOPT(easy, CURLOPT_SHARE, o->share);
    return CURLE_OK;
}

CURLcode net_curl_setup(CURL *easy, const net_curl_options *options)
{
    if (easy == NULL || options == NULL) return CURLE_BAD_FUNCTION_ARGUMENT;
    CURLcode code = net_curl_setup_target(easy, options);
    if (code == CURLE_OK) code = net_curl_setup_exchange(easy, options);
    return code != CURLE_OK ? code : net_curl_setup_transfer(easy, options);
}

net_curl_options net_curl_fetch_options(const fetch_policy *policy, net_guard *guard)
{
    net_curl_options options = {.guard = guard,
                                .follow_redirects = true,
                                .max_redirects = policy->max_redirects,
                                .connect_timeout_ms = policy->connect_timeout_ms,
                                .total_timeout_ms = policy->total_timeout_ms,
                                .user_agent = "reelay"};
    /* 0 would mean "no limit" to libcurl; the body callbacks still enforce a zero limit. */
    if (policy->max_bytes > 0)
        options.max_file_size =
            policy->max_bytes > (size_t)INT64_MAX ? (curl_off_t)INT64_MAX : (curl_off_t)policy->max_bytes;
    return options;
}

CURLcode net_curl_header_append(struct curl_slist **list, const char *line)
{
    struct curl_slist *grown = curl_slist_append(*list, line);
    if (grown == NULL) return CURLE_OUT_OF_MEMORY;
    *list = grown;
    return CURLE_OK;
}

fetch_result net_curl_describe_failure(CURLcode code, CURL *easy, const net_guard *guard,
                                       const fetch_policy *policy, const char *host, const char *error_buffer,
                                       char *err, size_t err_size)
{
    if (guard->blocked && code == CURLE_COULDNT_CONNECT) {
        snprintf(err, err_size, "the address of %s is not public",
                 guard->blocked_host[0] != '\0' ? guard->blocked_host : host);
        return FETCH_BLOCKED;
    }
    switch (code) {
    case CURLE_FILESIZE_EXCEEDED:
        snprintf(err, err_size, "more than %zu bytes", policy->max_bytes);
        return FETCH_TOO_LARGE;
    case CURLE_OPERATION_TIMEDOUT: {
        curl_off_t connected_us = 0;
        if (curl_easy_getinfo(easy, CURLINFO_CONNECT_TIME_T, &connected_us) != CURLE_OK) connected_us = 0;
        if (connected_us == 0)
            snprintf(err, err_size, "could not connect to %s within %ld ms", host,
                     policy->connect_timeout_ms);
        else
            snprintf(err, err_size, "%s did not send the whole file within %ld ms", host,
                     policy->total_timeout_ms);
        return FETCH_TIMEOUT;
    }
    case CURLE_UNSUPPORTED_PROTOCOL:
        snprintf(err, err_size, "%s redirected to a URL that is not http or https", host);
        return FETCH_BLOCKED;
    case CURLE_TOO_MANY_REDIRECTS:
        snprintf(err, err_size, "more than %d redirects", policy->max_redirects);
        return FETCH_HTTP_STATUS;
    case CURLE_COULDNT_RESOLVE_HOST:
        snprintf(err, err_size, "could not resolve %s", host);
        return FETCH_UNREACHABLE;
    case CURLE_COULDNT_CONNECT: {
        long os_errno = 0;
        if (curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno) != CURLE_OK) os_errno = 0;
        snprintf(err, err_size, "could not connect to %s: %s", host,
                 os_errno != 0 ? strerror((int)os_errno) : curl_easy_strerror(code));
        return FETCH_UNREACHABLE;
    }
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
        /* libcurl's TLS messages name the certificate problem, never the URL. */
        snprintf(err, err_size, "TLS with %s failed: %s", host,
                 error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code));
        return FETCH_UNREACHABLE;
    default:
        snprintf(err, err_size, "could not fetch from %s: %s", host, curl_easy_strerror(code));
        return FETCH_UNREACHABLE;
    }
}
