/* url_scheme.h — the one test for "is this an http or https URL", for every place that takes URLs from
 * outside. Schemes are case-insensitive (RFC 3986 §3.1): "HTTP://" is the same as "http://". */
#ifndef REELAY_UTIL_URL_SCHEME_H
#define REELAY_UTIL_URL_SCHEME_H

#include <stdbool.h>
#include <stddef.h>

/* The length of url's "http://" (7) or "https://" (8) prefix in any letter case; 0 for anything else
 * (also NULL). What follows the prefix is not looked at. */
size_t url_scheme_http_length(const char *url);

/* True when url begins with base, the scheme of both compared without regard to case and the rest byte
 * for byte; false when either is not http(s). */
bool url_scheme_has_prefix(const char *url, const char *base);

/* An absolute http(s) URL with a host and no user part, nothing blank or a control character in it;
 * base_only also refuses a query and a fragment (what a base URL may not have). NULL is false. */
bool url_is_plain_http(const char *url, bool base_only);

#endif
