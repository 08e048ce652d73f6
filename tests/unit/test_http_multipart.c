/* test_http_multipart.c — the multipart/form-data parser: boundaries quoted or not, parts with binary
 * content (CR, LF and boundary look-alikes), preamble and epilogue, and hostile bodies — missing or
 * truncated delimiters, broken headers, too many parts — which must fail cleanly; plus a mutation fuzz
 * that must never read outside the body (ASan) and whose parts always lie inside it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

static h2o_iovec_t iov(const char *text)
{
    return h2o_iovec_init(text, strlen(text));
}

static bool equals(h2o_iovec_t value, const char *text)
{
    return value.base != NULL && value.len == strlen(text) && memcmp(value.base, text, value.len) == 0;
}

static void boundaries_are_read_from_the_content_type(void **state)
{
    (void)state;
    h2o_iovec_t b;
    assert_int_equal(http_multipart_boundary(iov("multipart/form-data; boundary=abc123"), &b), 0);
    assert_true(equals(b, "abc123"));
    assert_int_equal(http_multipart_boundary(iov("Multipart/Form-Data;boundary=\"a b:c\""), &b), 0);
    assert_true(equals(b, "a b:c"));
    assert_int_equal(http_multipart_boundary(iov("multipart/form-data; charset=utf-8; BOUNDARY=x-y"), &b), 0);
    assert_true(equals(b, "x-y"));
    assert_int_equal(http_multipart_boundary(iov("multipart/form-data"), &b), -1);
    assert_int_equal(http_multipart_boundary(iov("multipart/form-data; boundary="), &b), -1);
    assert_int_equal(http_multipart_boundary(iov("multipart/form-data; boundary=\"unterminated"), &b), -1);
    assert_int_equal(http_multipart_boundary(iov("multipart/form-data; boundary=a; boundary=b"), &b), -1);
    assert_int_equal(http_multipart_boundary(iov("multipart/form-data; boundary=bad\"quote"), &b), -1);
    assert_int_equal(http_multipart_boundary(iov("application/json; boundary=abc"), &b), -1);
    assert_int_equal(http_multipart_boundary(iov("multipart/mixed; boundary=abc"), &b), -1);
    char long_boundary[128] = "multipart/form-data; boundary=";
    memset(long_boundary + strlen(long_boundary), 'x', 71);
    assert_int_equal(http_multipart_boundary(iov(long_boundary), &b), -1);
    assert_int_equal(http_multipart_boundary(h2o_iovec_init(NULL, 0), &b), -1);
}

/* A NUL byte is no boundary character (strchr over the allowed set used to find its terminator), in
 * the middle, at the end, or quoted; the same bytes without it are fine. */
static void a_boundary_with_a_nul_byte_is_refused(void **state)
{
    (void)state;
    static const char middle[] = "multipart/form-data; boundary=ab\0cd";
    static const char last[] = "multipart/form-data; boundary=XyZ\0";
    static const char quoted[] = "multipart/form-data; boundary=\"a\0b\"";
    static const char alone[] = "multipart/form-data; boundary=\0; charset=utf-8";
    h2o_iovec_t b;
    assert_int_equal(http_multipart_boundary(h2o_iovec_init(middle, sizeof(middle) - 1), &b), -1);
    assert_int_equal(http_multipart_boundary(h2o_iovec_init(last, sizeof(last) - 1), &b), -1);
    assert_int_equal(http_multipart_boundary(h2o_iovec_init(quoted, sizeof(quoted) - 1), &b), -1);
    assert_int_equal(http_multipart_boundary(h2o_iovec_init(alone, sizeof(alone) - 1), &b), -1);
    assert_int_equal(http_multipart_boundary(h2o_iovec_init(last, sizeof(last) - 2), &b), 0);
    assert_true(equals(b, "XyZ"));
}

static void a_form_with_binary_content_is_split(void **state)
{
    (void)state;
    static const char binary[] = "\r\n--XY-not-quite\r\n\0\xff\r\n--XY\n\r\n-XYZ--XYZ\r--XYZ";
    char body[512];
    size_t n = 0;
    n += (size_t)sprintf(body + n,
                         "preamble to ignore\r\n--XYZ\r\n"
                         "Content-Disposition: form-data; name=\"file\"; filename=\"a \\\"q\\\".mp4\"\r\n"
                         "Content-Type: video/mp4\r\n\r\n");
    memcpy(body + n, binary, sizeof(binary) - 1);
    size_t binary_at = n;
    n += sizeof(binary) - 1;
    n += (size_t)sprintf(body + n,
                         "\r\n--XYZ  \r\ncontent-disposition: FORM-DATA;name=file_name\r\n\r\n"
                         "clip.mp4\r\n--XYZ\r\nContent-Disposition: form-data; name=\"empty\"\r\n\r\n"
                         "\r\n--XYZ--\r\nepilogue");
    http_multipart_part parts[4];
    size_t count;
    const char *error;
    assert_int_equal(http_multipart_parse(body, n, iov("XYZ"), parts, 4, &count, &error), 0);
    assert_int_equal(count, 3);
    assert_true(equals(parts[0].name, "file"));
    assert_true(equals(parts[0].filename, "a \\\"q\\\".mp4"));
    assert_true(equals(parts[0].content_type, "video/mp4"));
    assert_int_equal(parts[0].data.len, sizeof(binary) - 1);
    assert_ptr_equal(parts[0].data.base, body + binary_at);
    assert_memory_equal(parts[0].data.base, binary, sizeof(binary) - 1);
    assert_true(equals(parts[1].name, "file_name"));
    assert_null(parts[1].filename.base);
    assert_null(parts[1].content_type.base);
    assert_true(equals(parts[1].data, "clip.mp4"));
    assert_true(equals(parts[2].name, "empty"));
    assert_int_equal(parts[2].data.len, 0);
}

static int parse_text(const char *body, size_t max_parts, size_t *count, const char **error)
{
    http_multipart_part parts[8];
    return http_multipart_parse(body, strlen(body), iov("b"), parts, max_parts, count, error);
}

static void hostile_bodies_fail_cleanly(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "no boundary at all",
        "--b",                                                                  /* ends after the boundary */
        "--b\r\n",                                                              /* ends before headers */
        "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n",                /* ends inside headers */
        "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\ndata",        /* truncated content */
        "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\ndata\r\n--b", /* no closing "--" */
        "--bX\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nx\r\n--b--", /* boundary line */
        "--b\r\nno colon here\r\n\r\nx\r\n--b--",
        "--b\r\n: empty name\r\n\r\nx\r\n--b--",
        "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--",                    /* no disposition */
        "--b\r\nContent-Disposition: attachment; name=\"f\"\r\n\r\nx\r\n--b--", /* not form-data */
        "--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--",              /* no name */
        "--b\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nx\r\n--b--",   /* empty name */
        "--b\r\nContent-Disposition: form-data; name=\"f\r\n\r\nx\r\n--b--",    /* unterminated quote */
        "--b\r\nContent-Disposition: form-data; name=f; name=g\r\n\r\nx\r\n--b--",
        "--b\r\nContent-Disposition: form-data; name\r\n\r\nx\r\n--b--",
        "--b\r\nContent-Disposition: form-data; name=f\r\nContent-Disposition: form-data; "
        "name=g\r\n\r\nx\r\n--b--",
        "--b\r\n Content-Disposition: form-data; name=f\r\n\r\nx\r\n--b--", /* folded header */
        "--b\nContent-Disposition: form-data; name=f\n\nx\n--b--",          /* bare LF */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t count = 99;
        const char *error = NULL;
        if (parse_text(bad[i], 8, &count, &error) != -1) fail_msg("case %zu parsed: %s", i, bad[i]);
        assert_non_null(error);
    }
    /* more parts than allowed */
    size_t count;
    const char *error;
    assert_int_equal(parse_text("--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--b\r\n"
                                "Content-Disposition: form-data; name=b\r\n\r\n2\r\n--b--",
                                1, &count, &error),
                     -1);
    assert_string_equal(error, "too many parts");
    /* headers that never end within the limit */
    size_t size = 40000;
    char *huge = malloc(size + 1);
    strcpy(huge, "--b\r\nX-Pad: ");
    memset(huge + strlen(huge), 'a', size - strlen(huge));
    huge[size] = '\0';
    assert_int_equal(parse_text(huge, 8, &count, &error), -1);
    free(huge);
    /* no parts at all is not an error (the caller finds the field missing) */
    assert_int_equal(parse_text("--b--\r\n", 8, &count, &error), 0);
    assert_int_equal(count, 0);
}

static void mutated_bodies_never_escape_the_buffer(void **state)
{
    (void)state;
    static const char seed[] = "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.bin\"\r\n"
                               "Content-Type: application/octet-stream\r\n\r\n\x01\r\n--\r\n--b\r\n"
                               "Content-Disposition: form-data; name=auto_cleanup\r\n\r\nfalse\r\n--b--\r\n";
    static const char alphabet[] = "-\r\n\"=;:b \\";
    srand(12345);
    for (int round = 0; round < 20000; round++) {
        size_t length = sizeof(seed) - 1;
        char *body = malloc(length + 8); /* heap-exact copies so ASan sees any overread */
        memcpy(body, seed, length);
        int edits = 1 + rand() % 4;
        for (int e = 0; e < edits && length > 0; e++) {
            size_t at = (size_t)rand() % length;
            switch (rand() % 3) {
            case 0:
                body[at] = alphabet[rand() % (sizeof(alphabet) - 1)];
                break;
            case 1:
                body[at] = (char)(rand() & 0xff);
                break;
            default:
                length = at;
                break; /* truncate */
            }
        }
        char *exact = malloc(length ? length : 1);
        memcpy(exact, body, length);
        free(body);
        http_multipart_part parts[4];
        size_t count = 0;
        const char *error = NULL;
        int result = http_multipart_parse(exact, length, iov("b"), parts, 4, &count, &error);
        if (result == 0) {
            assert_true(count <= 4);
            for (size_t i = 0; i < count; i++) {
                assert_true(parts[i].data.base >= exact &&
                            parts[i].data.base + parts[i].data.len <= exact + length);
                assert_true(parts[i].name.len > 0);
            }
        } else {
            assert_int_equal(result, -1);
            assert_non_null(error);
        }
        free(exact);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(boundaries_are_read_from_the_content_type),
        cmocka_unit_test(a_boundary_with_a_nul_byte_is_refused),
        cmocka_unit_test(a_form_with_binary_content_is_split),
        cmocka_unit_test(hostile_bodies_fail_cleanly),
        cmocka_unit_test(mutated_bodies_never_escape_the_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
