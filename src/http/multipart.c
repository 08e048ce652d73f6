/* multipart.c — a strict, allocation-free parser of multipart/form-data bodies (RFC 7578 over RFC 2046)
 * as h2o hands them over: the whole body in one buffer. Parts point into that buffer, so a file part
 * can be copied straight from it to disk; nothing is copied or decoded here. Anything malformed —
 * no boundary, a header without a colon, a part that never ends — is an error, never a guess. */
#include <string.h>
#include <strings.h>

#include "http/http.h"

enum { PART_HEADERS_MAX = 16 * 1024 }; /* bytes of header lines one part may have */

static bool is_boundary_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("'()+_,-./:=? ", c) != NULL); /* strchr finds the terminator too */
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static const char *skip_spaces(const char *p, const char *end)
{
    while (p < end && is_space(*p))
        p++;
    return p;
}

int http_multipart_boundary(h2o_iovec_t content_type, h2o_iovec_t *boundary)
{
    static const char media_type[] = "multipart/form-data";
    const char *p = content_type.base, *end = content_type.base + content_type.len;
    if (p == NULL) return -1;
    p = skip_spaces(p, end);
    if ((size_t)(end - p) < sizeof(media_type) - 1 || strncasecmp(p, media_type, sizeof(media_type) - 1) != 0)
        return -1;
    p += sizeof(media_type) - 1;
    bool found = false;
    while (p < end) {
        p = skip_spaces(p, end);
        if (p == end) break;
        if (*p++ != ';') return -1;
        p = skip_spaces(p, end);
        const char *key = p;
        while (p < end && *p != '=' && *p != ';' && !is_space(*p))
            p++;
        size_t key_length = (size_t)(p - key);
        p = skip_spaces(p, end);
        if (p == end || *p != '=') {
            if (key_length == 0) continue; /* a stray ';' */
            return -1;
        }
        p = skip_spaces(p + 1, end);
        const char *value, *value_end;
        if (p < end && *p == '"') {
            value = ++p;
            while (p < end && *p != '"')
                p++;
            if (p == end) return -1;
            value_end = p++;
        } else {
            value = p;
            while (p < end && *p != ';' && !is_space(*p))
                p++;
            value_end = p;
        }
        if (key_length == 8 && strncasecmp(key, "boundary", 8) == 0) {
            if (found) return -1; /* two boundaries: which one? */
            size_t length = (size_t)(value_end - value);
            if (length == 0 || length > 70 || value_end[-1] == ' ') return -1;
            for (const char *c = value; c < value_end; c++)
                if (!is_boundary_char(*c)) return -1;
            *boundary = h2o_iovec_init(value, length);
            found = true;
        }
    }
    return found ? 0 : -1;
}

/* Parses a Content-Disposition value: "form-data" then "; name=…" and "; filename=…" (quoted or
 * tokens). Quoted values keep their backslash escapes (they are not decoded). */
static int parse_disposition(const char *p, const char *end, http_multipart_part *part, const char **error)
{
    p = skip_spaces(p, end);
    const char *type = p;
    while (p < end && *p != ';' && !is_space(*p))
        p++;
    if ((size_t)(p - type) != 9 || strncasecmp(type, "form-data", 9) != 0) {
        *error = "a part's Content-Disposition is not form-data";
        return -1;
    }
    while (p < end) {
        p = skip_spaces(p, end);
        if (p == end) break;
        if (*p++ != ';') {
            *error = "a part's Content-Disposition is malformed";
            return -1;
        }
        p = skip_spaces(p, end);
        if (p == end) break;
        const char *key = p;
        while (p < end && *p != '=' && *p != ';' && !is_space(*p))
            p++;
        size_t key_length = (size_t)(p - key);
        p = skip_spaces(p, end);
        if (key_length == 0 || p == end || *p != '=') {
            *error = "a part's Content-Disposition has a parameter without a value";
            return -1;
        }
        p = skip_spaces(p + 1, end);
        const char *value, *value_end;
        if (p < end && *p == '"') {
            value = ++p;
            while (p < end && *p != '"') {
                if (*p == '\\' && p + 1 < end) p++;
                p++;
            }
            if (p >= end) {
                *error = "a part's Content-Disposition has an unterminated quoted value";
                return -1;
            }
            value_end = p++;
        } else {
            value = p;
            while (p < end && *p != ';' && !is_space(*p))
                p++;
            value_end = p;
        }
        h2o_iovec_t *target = NULL;
        if (key_length == 4 && strncasecmp(key, "name", 4) == 0)
            target = &part->name;
        else if (key_length == 8 && strncasecmp(key, "filename", 8) == 0)
            target = &part->filename;
        if (target == NULL) continue; /* filename* and others: ignored */
        if (target->base != NULL) {
            *error = "a part's Content-Disposition repeats a parameter";
            return -1;
        }
        *target = h2o_iovec_init(value, (size_t)(value_end - value));
    }
    if (part->name.base == NULL || part->name.len == 0) {
        *error = "a part has no name";
        return -1;
    }
    return 0;
}

/* Reads a part's header lines from *at up to and including the empty line. */
static int parse_part_headers(const char **at, const char *end, http_multipart_part *part, const char **error)
{
    const char *p = *at;
    const char *limit = (size_t)(end - p) > PART_HEADERS_MAX ? p + PART_HEADERS_MAX : end;
    bool has_disposition = false;
    for (;;) {
        const char *line_end = NULL;
        for (const char *c = p; c + 1 < limit; c++)
            if (c[0] == '\r' && c[1] == '\n') {
                line_end = c;
                break;
            }
        if (line_end == NULL) {
            *error = limit < end ? "a part's headers are too long" : "the body ends inside a part's headers";
            return -1;
        }
        if (line_end == p) { /* the empty line: the content follows */
            *at = line_end + 2;
            break;
        }
        const char *colon = memchr(p, ':', (size_t)(line_end - p));
        if (colon == NULL || colon == p || is_space(*p)) {
            *error = "a part has a malformed header line";
            return -1;
        }
        size_t name_length = (size_t)(colon - p);
        const char *value = skip_spaces(colon + 1, line_end), *value_end = line_end;
        while (value_end > value && is_space(value_end[-1]))
            value_end--;
        if (name_length == 19 && strncasecmp(p, "content-disposition", 19) == 0) {
            if (has_disposition) {
                *error = "a part has two Content-Disposition headers";
                return -1;
            }
            has_disposition = true;
            if (parse_disposition(value, value_end, part, error) != 0) return -1;
        } else if (name_length == 12 && strncasecmp(p, "content-type", 12) == 0) {
            part->content_type = h2o_iovec_init(value, (size_t)(value_end - value));
        }
        p = line_end + 2;
    }
    if (!has_disposition) {
        *error = "a part has no Content-Disposition header";
        return -1;
    }
    return 0;
}

int http_multipart_parse(const char *body, size_t length, h2o_iovec_t boundary, http_multipart_part *parts,
                         size_t max_parts, size_t *count, const char **error)
{
    *count = 0;
    *error = NULL;
    if (boundary.base == NULL || boundary.len == 0 || boundary.len > 70) {
        *error = "no boundary";
        return -1;
    }
    if (body == NULL) body = "", length = 0;
    /* The delimiter between parts is CRLF "--" boundary; the first may open the body without the CRLF. */
    char delimiter[2 + 2 + 70];
    memcpy(delimiter, "\r\n--", 4);
    memcpy(delimiter + 4, boundary.base, boundary.len);
    size_t delimiter_length = 4 + boundary.len;
    const char *end = body + length, *p;
    if (length >= delimiter_length - 2 && memcmp(body, delimiter + 2, delimiter_length - 2) == 0) {
        p = body + delimiter_length - 2;
    } else {
        const char *first = memmem(body, length, delimiter, delimiter_length);
        if (first == NULL) {
            *error = "the body does not contain the boundary";
            return -1;
        }
        p = first + delimiter_length; /* a preamble before it is ignored */
    }
    for (;;) {
        /* just after a delimiter: "--" closes the body, else transport padding and CRLF open a part */
        if (end - p >= 2 && p[0] == '-' && p[1] == '-') return 0; /* an epilogue is ignored */
        p = skip_spaces(p, end);
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
            *error = p == end ? "the body ends without its closing boundary" : "a boundary line is malformed";
            return -1;
        }
        p += 2;
        if (*count == max_parts) {
            *error = "too many parts";
            return -1;
        }
        http_multipart_part *part = &parts[*count];
        memset(part, 0, sizeof(*part));
        if (parse_part_headers(&p, end, part, error) != 0) return -1;
        const char *next = memmem(p, (size_t)(end - p), delimiter, delimiter_length);
        if (next == NULL) {
            *error = "the body ends inside a part (no closing boundary)";
            return -1;
        }
        part->data = h2o_iovec_init(p, (size_t)(next - p));
        (*count)++;
        p = next + delimiter_length;
    }
}
