/* fuzz_http_multipart.c — a Content-Type line and a body (the input's first line, then the rest) through
 * http_multipart_boundary and http_multipart_parse. Asserts that the boundary lies inside the header and
 * follows RFC 2046, that every part lies inside the body, in order and without overlap, that no part's
 * data contains the delimiter, and that a parsed form round-trips: written out again with the same
 * boundary, it parses to the very same names, filenames, content types and data. */
#include <string.h>

#include "fuzz_common.h"
#include "http/http.h"

enum { MAX_PARTS = 16 }; /* as the upload handler */

static bool inside(h2o_iovec_t field, const char *start, size_t length)
{
    if (field.base == NULL) return field.len == 0;
    return field.base >= start && field.len <= length && (size_t)(field.base - start) <= length - field.len;
}

static bool same_field(h2o_iovec_t a, h2o_iovec_t b)
{
    if ((a.base == NULL) != (b.base == NULL) || a.len != b.len) return false;
    return a.len == 0 || memcmp(a.base, b.base, a.len) == 0;
}

/* Appends bytes to a growing buffer (aborts when memory runs out: inputs are small). */
static void put(char **buffer, size_t *used, size_t *capacity, const void *bytes, size_t length)
{
    if (*used + length > *capacity) {
        *capacity = (*used + length) * 2 + 64;
        *buffer = realloc(*buffer, *capacity);
        if (*buffer == NULL) abort();
    }
    if (length) memcpy(*buffer + *used, bytes, length);
    *used += length;
}

/* A parameter as it was sent: quoted values keep their quotes (their escapes were kept too). */
static void put_parameter(char **buffer, size_t *used, size_t *capacity, const char *name, h2o_iovec_t value,
                          const char *body)
{
    if (value.base == NULL) return;
    bool quoted = value.base > body && value.base[-1] == '"';
    put(buffer, used, capacity, "; ", 2);
    put(buffer, used, capacity, name, strlen(name));
    put(buffer, used, capacity, quoted ? "=\"" : "=", quoted ? 2 : 1);
    put(buffer, used, capacity, value.base, value.len);
    if (quoted) put(buffer, used, capacity, "\"", 1);
}

static void check_round_trip(h2o_iovec_t boundary, const http_multipart_part *parts, size_t count,
                             const char *body)
{
    char *again = NULL;
    size_t used = 0, capacity = 0;
    for (size_t i = 0; i < count; i++) {
        put(&again, &used, &capacity, i == 0 ? "--" : "\r\n--", i == 0 ? 2 : 4);
        put(&again, &used, &capacity, boundary.base, boundary.len);
        static const char disposition[] = "\r\nContent-Disposition: form-data";
        put(&again, &used, &capacity, disposition, sizeof(disposition) - 1);
        put_parameter(&again, &used, &capacity, "name", parts[i].name, body);
        put_parameter(&again, &used, &capacity, "filename", parts[i].filename, body);
        if (parts[i].content_type.base != NULL) {
            put(&again, &used, &capacity, "\r\nContent-Type: ", 16);
            put(&again, &used, &capacity, parts[i].content_type.base, parts[i].content_type.len);
        }
        put(&again, &used, &capacity, "\r\n\r\n", 4);
        put(&again, &used, &capacity, parts[i].data.base, parts[i].data.len);
    }
    put(&again, &used, &capacity, "\r\n--", 4);
    put(&again, &used, &capacity, boundary.base, boundary.len);
    put(&again, &used, &capacity, "--\r\n", 4);

    http_multipart_part reparsed[MAX_PARTS];
    size_t recount = 0;
    const char *error = NULL;
    int result = http_multipart_parse(again, used, boundary, reparsed, MAX_PARTS, &recount, &error);
    if (result != 0) fprintf(stderr, "round trip refused: %s\n", error);
    FUZZ_CHECK(result == 0);
    FUZZ_CHECK(recount == count);
    for (size_t i = 0; i < count; i++) {
        FUZZ_CHECK(same_field(reparsed[i].name, parts[i].name));
        FUZZ_CHECK(same_field(reparsed[i].filename, parts[i].filename));
        FUZZ_CHECK(same_field(reparsed[i].content_type, parts[i].content_type));
        FUZZ_CHECK(same_field(reparsed[i].data, parts[i].data));
    }
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    size_t header_length = 0, body_length = 0;
    char *header = fuzz_take_field(&in, '\n', &header_length);
    char *body = fuzz_take_rest(&in, &body_length);

    h2o_iovec_t boundary = {NULL, 0};
    if (http_multipart_boundary(h2o_iovec_init(header, header_length), &boundary) == 0) {
        FUZZ_CHECK(inside(boundary, header, header_length));
        FUZZ_CHECK(boundary.len >= 1 && boundary.len <= 70);
        FUZZ_CHECK(boundary.base[boundary.len - 1] != ' ');
        for (size_t i = 0; i < boundary.len; i++)
            FUZZ_CHECK(boundary.base[i] != '\0' && boundary.base[i] != '\r' && boundary.base[i] != '\n' &&
                       boundary.base[i] != '"' && boundary.base[i] != ';');
    } else {
        boundary = h2o_iovec_init("fuzzboundary", 12); /* the body is still worth parsing */
    }

    http_multipart_part parts[MAX_PARTS];
    size_t count = 0;
    const char *error = NULL;
    if (http_multipart_parse(body, body_length, boundary, parts, MAX_PARTS, &count, &error) != 0) {
        FUZZ_CHECK(error != NULL && error[0] != '\0');
    } else {
        FUZZ_CHECK(error == NULL && count <= MAX_PARTS);
        char delimiter[4 + 70];
        memcpy(delimiter, "\r\n--", 4);
        memcpy(delimiter + 4, boundary.base, boundary.len);
        const char *previous_end = body;
        for (size_t i = 0; i < count; i++) {
            const http_multipart_part *part = &parts[i];
            FUZZ_CHECK(part->name.base != NULL && part->name.len > 0);
            FUZZ_CHECK(inside(part->name, body, body_length));
            FUZZ_CHECK(inside(part->filename, body, body_length));
            FUZZ_CHECK(inside(part->content_type, body, body_length));
            FUZZ_CHECK(part->data.base != NULL && inside(part->data, body, body_length));
            FUZZ_CHECK(part->data.base >= previous_end); /* in order, never overlapping */
            previous_end = part->data.base + part->data.len;
            FUZZ_CHECK(memmem(part->data.base, part->data.len, delimiter, 4 + boundary.len) == NULL);
        }
        check_round_trip(boundary, parts, count, body);
    }
    free(header);
    free(body);
    return 0;
}
