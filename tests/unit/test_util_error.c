/* test_util_error.c — reelay_error_set: every field filled, and text cut by the fixed-size param and
 * message buffers never ends inside a UTF-8 character (a long non-ASCII field name would otherwise make
 * the error unwritable as JSON: a 500 instead of its 422). The JSON check is the one http_error_json
 * makes (jansson refuses invalid UTF-8), done here with jansson since util cannot reach http/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

/* Well-formed UTF-8 (RFC 3629: no overlongs, surrogates or code points past U+10FFFF). */
static bool utf8_valid(const char *text)
{
    const unsigned char *p = (const unsigned char *)text;
    while (*p) {
        unsigned c = *p++, more, minimum, value;
        if (c < 0x80) continue;
        if (c >= 0xC2 && c <= 0xDF)
            more = 1, minimum = 0x80, value = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF)
            more = 2, minimum = 0x800, value = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4)
            more = 3, minimum = 0x10000, value = c & 0x07;
        else
            return false;
        for (unsigned i = 0; i < more; i++, p++) {
            if ((*p & 0xC0) != 0x80) return false; /* also the terminator */
            value = (value << 6) | (*p & 0x3F);
        }
        if (value < minimum || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return false;
    }
    return true;
}

/* What http_error_json builds; NULL when a field is not valid UTF-8. */
static char *error_json(const reelay_error *err)
{
    json_t *body = json_pack("{s:{s:s, s:s, s:o, s:o}}", "error", "message", err->message, "type", err->type,
                             "code", err->code[0] ? json_string(err->code) : json_null(), "param",
                             err->param[0] ? json_string(err->param) : json_null());
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    return text;
}

/* Checks that `kept` is the longest prefix of `sent` that fits in `size` bytes and ends on a character
 * boundary (every character of `sent` is `width` bytes after an ASCII prefix of `ascii` bytes). */
static void check_cut(const char *kept, const char *sent, size_t size, size_t ascii, size_t width)
{
    size_t length = strlen(kept);
    assert_true(utf8_valid(kept));
    assert_memory_equal(kept, sent, length);
    size_t room = size - 1,
           expected = strlen(sent) < room ? strlen(sent) : ascii + (room - ascii) / width * width;
    if (length != expected)
        fail_msg("kept %zu bytes of %zu, expected %zu (width %zu)", length, strlen(sent), expected, width);
}

static void fields_are_filled(void **state)
{
    (void)state;
    reelay_error err;
    assert_int_equal(reelay_error_set(&err, 422, ERR_TYPE_INVALID_REQUEST, "unknown_field", "seed",
                                      "Unknown field %s for %s.", "seed", "sora-2"),
                     -1);
    assert_int_equal(err.status, 422);
    assert_string_equal(err.type, ERR_TYPE_INVALID_REQUEST);
    assert_string_equal(err.code, "unknown_field");
    assert_string_equal(err.param, "seed");
    assert_string_equal(err.message, "Unknown field seed for sora-2.");
    assert_int_equal(reelay_error_set(&err, 500, ERR_TYPE_SERVER, NULL, NULL, "x"), -1);
    assert_string_equal(err.code, "");
    assert_string_equal(err.param, "");
    assert_int_equal(reelay_error_set(NULL, 500, ERR_TYPE_SERVER, NULL, NULL, "x"), -1);
}

/* 2-, 3- and 4-byte characters after 0..3 ASCII bytes: every cut position in the last character. */
static void a_long_non_ascii_param_is_cut_between_characters(void **state)
{
    (void)state;
    static const char *characters[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
    for (size_t c = 0; c < 3; c++) {
        size_t width = c + 2;
        for (size_t ascii = 0; ascii < 4; ascii++) {
            char name[700];
            memset(name, 'k', ascii);
            size_t n = ascii;
            while (n + width < sizeof(name)) /* far longer than param and message */
                memcpy(name + n, characters[c], width), n += width;
            name[n] = '\0';
            reelay_error err;
            reelay_error_set(&err, 422, ERR_TYPE_INVALID_REQUEST, "unknown_field", name, "%s", name);
            check_cut(err.param, name, sizeof(err.param), ascii, width);
            check_cut(err.message, name, sizeof(err.message), ascii, width);
            char *json = error_json(&err);
            if (json == NULL) fail_msg("no JSON for width %zu after %zu ASCII bytes", width, ascii);
            free(json);
            /* the message's own text before the field moves the cut too */
            reelay_error_set(&err, 422, ERR_TYPE_INVALID_REQUEST, "unknown_field", name,
                             "Unknown field %s for %s; see GET /v1/models for its fields.", name, "sora-2");
            assert_true(utf8_valid(err.message) && utf8_valid(err.param));
            assert_int_equal(strncmp(err.message, "Unknown field ", 14), 0);
            assert_true(strlen(err.message) > sizeof(err.message) - 1 - width);
            json = error_json(&err);
            assert_non_null(json);
            free(json);
        }
    }
}

/* Text that fits, ASCII or not, is kept whole. */
static void text_that_fits_is_kept(void **state)
{
    (void)state;
    reelay_error err;
    const char *param = "caf\xc3\xa9_\xe2\x82\xac_\xf0\x9f\x98\x80";
    reelay_error_set(&err, 422, ERR_TYPE_INVALID_REQUEST, "unknown_field", param, "%s!", param);
    assert_string_equal(err.param, param);
    assert_int_equal(strncmp(err.message, param, strlen(param)), 0);
    assert_string_equal(err.message + strlen(param), "!");
    char exact[64];
    memset(exact, 'x', 61);
    memcpy(exact + 61, "\xc3\xa9", 3); /* 63 bytes and the terminator: exactly full */
    reelay_error_set(&err, 422, ERR_TYPE_INVALID_REQUEST, NULL, exact, "m");
    assert_string_equal(err.param, exact);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fields_are_filled),
        cmocka_unit_test(a_long_non_ascii_param_is_cut_between_characters),
        cmocka_unit_test(text_that_fits_is_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
