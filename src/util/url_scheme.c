/* url_scheme.c — case-insensitive http(s) scheme checks (see url_scheme.h). */
#include "util/url_scheme.h"

#include <string.h>
#include <strings.h>

size_t url_scheme_http_length(const char *url)
{
    if (url == NULL) return 0;
    if (strncasecmp(url, "https://", 8) == 0) return 8;
    if (strncasecmp(url, "http://", 7) == 0) return 7;
    return 0;
}

bool url_scheme_has_prefix(const char *url, const char *base)
{
    size_t scheme = url_scheme_http_length(url);
    if (scheme == 0 || scheme != url_scheme_http_length(base)) return false; /* same length, same scheme */
    size_t rest = strlen(base + scheme);
    return strncmp(url + scheme, base + scheme, rest) == 0;
}

bool url_is_plain_http(const char *url, bool base_only)
{
    size_t scheme = url_scheme_http_length(url);
    if (scheme == 0) return false;
    const char *authority = url + scheme;
    size_t authority_length = strcspn(authority, "/?#");
    if (authority_length == 0 || memchr(authority, '@', authority_length) != NULL) return false;
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= ' ' || *p == 0x7f) return false;
    return !base_only || strpbrk(url, "?#") == NULL;
}
