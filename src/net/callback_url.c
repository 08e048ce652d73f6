/* callback_url.c — the submit-time policy for callback URLs (see callback_url.h). */
#include "net/callback_url.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "net/fetch.h"

/* Parses a host as an IPv4 or IPv6 literal into addr; false for a name. */
static bool host_literal(const char *host, struct sockaddr_storage *addr)
{
    memset(addr, 0, sizeof(*addr));
    struct sockaddr_in *v4 = (struct sockaddr_in *)addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)addr;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        return true;
    }
    char bare[64];
    size_t length = strlen(host);
    if (length >= 2 && host[0] == '[' && host[length - 1] == ']' && length - 2 < sizeof(bare)) {
        memcpy(bare, host + 1, length - 2);
        bare[length - 2] = '\0';
        char *zone = strchr(bare, '%');
        if (zone) *zone = '\0';
        if (inet_pton(AF_INET6, bare, &v6->sin6_addr) == 1) {
            v6->sin6_family = AF_INET6;
            return true;
        }
    }
    return false;
}

static bool is_local_name(const char *host)
{
    size_t length = strlen(host);
    while (length > 0 && host[length - 1] == '.')
        length--; /* "localhost." */
    static const char suffix[] = ".localhost";
    return (length == 9 && strncasecmp(host, "localhost", 9) == 0) ||
           (length >= sizeof(suffix) - 1 &&
            strncasecmp(host + length - (sizeof(suffix) - 1), suffix, sizeof(suffix) - 1) == 0);
}

bool callback_url_acceptable(const char *url, const char *allow_list, char *why, size_t why_size)
{
    if (url == NULL || strlen(url) > CALLBACK_URL_MAX_LENGTH) {
        snprintf(why, why_size, "callback_url must be at most %d characters.", CALLBACK_URL_MAX_LENGTH);
        return false;
    }
    CURLU *parsed = curl_url();
    char *scheme = NULL, *host = NULL, *user = NULL;
    bool ok = false;
    if (parsed == NULL || curl_url_set(parsed, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(parsed, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(parsed, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        snprintf(why, why_size, "callback_url is not an absolute URL.");
    } else if (curl_url_get(parsed, CURLUPART_USER, &user, 0) == CURLUE_OK) {
        snprintf(why, why_size, "callback_url must not carry a user name or password.");
    } else {
        struct sockaddr_storage addr;
        bool literal = host_literal(host, &addr);
        char bare[64];
        snprintf(bare, sizeof(bare), "%s", host);
        if (bare[0] == '[') { /* the allow-list writes IPv6 hosts without brackets */
            size_t n = strlen(bare);
            memmove(bare, bare + 1, n);
            if (n >= 2) bare[n - 2] = '\0';
        }
        bool allowed = allow_list && allow_list[0] &&
                       net_allow_list_matches(allow_list, bare, literal ? (struct sockaddr *)&addr : NULL);
        if (allowed) {
            ok = strcasecmp(scheme, "https") == 0 || strcasecmp(scheme, "http") == 0;
            if (!ok) snprintf(why, why_size, "callback_url must use https.");
        } else if (strcasecmp(scheme, "https") != 0) {
            snprintf(why, why_size, "callback_url must use https.");
        } else if (literal && !net_address_is_public((struct sockaddr *)&addr)) {
            snprintf(why, why_size,
                     "callback_url must not point at a private, loopback or link-local address.");
        } else if (is_local_name(host)) {
            snprintf(why, why_size, "callback_url must not point at localhost.");
        } else {
            ok = true;
        }
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_url_cleanup(parsed);
    return ok;
}
