/* byte_range.c — one `Range: bytes=…` request header against an object's size (see http.h): the
 * three forms of a single range, clamped as RFC 9110 says; malformed values are unsatisfiable, as
 * h2o's file handler answers them, so both storage backends answer a client alike; and the weak
 * comparison of entity tags that If-None-Match asks for. */
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "http/http.h"

/* Reads decimal digits at value[*at…end) into *number. False when there are none or they overflow. */
static bool read_number(const char *value, size_t end, size_t *at, uint64_t *number)
{
    size_t start = *at;
    uint64_t n = 0;
    while (*at < end && isdigit((unsigned char)value[*at])) {
        unsigned digit = (unsigned)(value[*at] - '0');
        if (n > (UINT64_MAX - digit) / 10) return false;
        n = n * 10 + digit;
        (*at)++;
    }
    *number = n;
    return *at > start;
}

http_range_kind http_byte_range_parse(const char *value, size_t length, uint64_t size, uint64_t *offset,
                                      uint64_t *count)
{
    *offset = 0;
    *count = size;
    static const char unit[] = "bytes=";
    if (value == NULL) return HTTP_RANGE_NONE;
    if (length < sizeof(unit) - 1 || strncasecmp(value, unit, sizeof(unit) - 1) != 0)
        return HTTP_RANGE_UNSATISFIABLE; /* another unit: h2o's file handler refuses it too */
    for (size_t i = sizeof(unit) - 1; i < length; i++)
        if (value[i] == ',') return HTTP_RANGE_NONE; /* several ranges: the whole object (RFC 9110 allows) */
    size_t at = sizeof(unit) - 1;
    uint64_t first = 0, last = 0;
    bool has_first = read_number(value, length, &at, &first);
    if (at >= length || value[at] != '-') return HTTP_RANGE_UNSATISFIABLE;
    at++;
    bool has_last = read_number(value, length, &at, &last);
    if (at != length || (!has_first && !has_last)) return HTTP_RANGE_UNSATISFIABLE;
    if (!has_first) { /* "-n": the last n bytes */
        if (last == 0 || size == 0) return HTTP_RANGE_UNSATISFIABLE;
        *count = last < size ? last : size;
        *offset = size - *count;
        return HTTP_RANGE_PARTIAL;
    }
    if (first >= size || (has_last && last < first)) return HTTP_RANGE_UNSATISFIABLE;
    if (!has_last || last >= size) last = size - 1;
    *offset = first;
    *count = last - first + 1;
    return HTTP_RANGE_PARTIAL;
}

/* value[0..length) without a weak prefix "W/". */
static void strip_weak(const char **value, size_t *length)
{
    if (*length >= 2 && (*value)[0] == 'W' && (*value)[1] == '/') *value += 2, *length -= 2;
}

bool http_etag_list_matches(const char *list, size_t length, const char *etag)
{
    if (list == NULL || etag == NULL || etag[0] == '\0') return false;
    const char *ours = etag;
    size_t ours_length = strlen(etag);
    strip_weak(&ours, &ours_length);
    for (size_t at = 0; at < length;) {
        while (at < length && (list[at] == ' ' || list[at] == '\t' || list[at] == ','))
            at++;
        size_t start = at;
        while (at < length && list[at] != ',')
            at++;
        size_t end = at;
        while (end > start && (list[end - 1] == ' ' || list[end - 1] == '\t'))
            end--;
        const char *tag = list + start;
        size_t tag_length = end - start;
        if (tag_length == 1 && tag[0] == '*') return true;
        strip_weak(&tag, &tag_length);
        if (tag_length > 0 && tag_length == ours_length && memcmp(tag, ours, tag_length) == 0) return true;
    }
    return false;
}
