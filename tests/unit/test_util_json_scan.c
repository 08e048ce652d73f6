/* test_util_json_scan.c — the streaming scan of a JSON object body: for every body (valid ones and a
 * catalogue of malformed ones, then random mutations of both) and every split into pieces, it accepts
 * exactly what json_loadb(JSON_REJECT_DUPLICATES) accepts as an object, gives the streamed member's
 * string as jansson decodes it, and the other members as jansson parses them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json_scan.h"

typedef struct streamed {
    char *data;
    size_t length, capacity;
} streamed;

static int collect(void *ctx, const char *data, size_t length)
{
    streamed *s = ctx;
    assert_true(length >= 1 && length <= JSON_SCAN_OUT);
    if (s->length + length > s->capacity) {
        s->capacity = (s->length + length) * 2;
        s->data = realloc(s->data, s->capacity);
        assert_non_null(s->data);
    }
    memcpy(s->data + s->length, data, length);
    s->length += length;
    return 0;
}

/* Scans body in pieces cut at cuts[] (ascending); out gets the streamed bytes. The scan is left for
 * the caller to inspect and free. */
static json_scan_status scan_split(json_scan *scan, const char *body, size_t length, const size_t *cuts,
                                   size_t cut_count, streamed *out, size_t max_small)
{
    memset(out, 0, sizeof(*out));
    assert_int_equal(json_scan_init(scan, "file_data", collect, out, max_small), JSON_SCAN_OK);
    size_t at = 0;
    for (size_t i = 0; i <= cut_count; i++) {
        size_t end = i < cut_count ? cuts[i] : length;
        json_scan_feed(scan, body + at, end - at);
        at = end;
    }
    return json_scan_finish(scan);
}

/* Compares one scan of body with jansson's whole parse. */
static void check_against_jansson(const char *body, size_t length, const size_t *cuts, size_t cut_count)
{
    static json_scan scan;
    streamed out;
    json_scan_status status = scan_split(&scan, body, length, cuts, cut_count, &out, 1 << 20);
    json_error_t error;
    json_t *whole = json_loadb(body, length, JSON_REJECT_DUPLICATES, &error);
    bool jansson_accepts = whole != NULL && json_is_object(whole);
    if (jansson_accepts != (status == JSON_SCAN_OK))
        fail_msg("body %.*s: jansson %s (%s), scan status %d (%s at %llu)",
                 (int)(length < 300 ? length : 300), body, jansson_accepts ? "accepts" : "refuses",
                 whole ? "parsed" : error.text, status, scan.error ? scan.error : "-",
                 (unsigned long long)scan.error_offset);
    if (status == JSON_SCAN_INVALID || status == JSON_SCAN_NOT_OBJECT) assert_non_null(scan.error);
    if (jansson_accepts) {
        json_t *data = json_object_get(whole, "file_data");
        if (json_is_string(data)) {
            assert_true(scan.streamed);
            assert_int_equal(scan.streamed_length, json_string_length(data));
            assert_int_equal(out.length, json_string_length(data));
            if (out.length) assert_memory_equal(out.data, json_string_value(data), out.length);
            json_object_del(whole, "file_data");
        } else {
            assert_false(scan.streamed);
            assert_int_equal(out.length, 0);
        }
        assert_true(json_equal(whole, scan.members));
    }
    json_decref(whole);
    json_scan_free(&scan);
    free(out.data);
}

/* Whole, at every single cut, and byte by byte. */
static void check_every_split(const char *body, size_t length)
{
    check_against_jansson(body, length, NULL, 0);
    for (size_t cut = 0; cut <= length; cut++)
        check_against_jansson(body, length, &cut, 1);
    size_t *cuts = malloc((length + 1) * sizeof(*cuts));
    assert_non_null(cuts);
    for (size_t i = 0; i < length; i++)
        cuts[i] = i;
    check_against_jansson(body, length, cuts, length);
    free(cuts);
}

static const char *valid_bodies[] = {
    "{\"file_data\": \"QUJD\"}",
    " \r\n{ \"file_data\" :\t\"data:audio/wav;base64,QUJD\" , \"file_name\": \"a.wav\" }\n ",
    "{\"file_name\":\"x\",\"auto_cleanup\":false,\"file_data\":\"QU\\/"
    "J\\u0044\\n\",\"extra\":[1,{\"a\":\"}\"}]}",
    "{\"file_data\": \"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20ac\\ud83d\\ude00 caf\xc3\xa9 \xe2\x82\xac "
    "\xf0\x9f\x98\x80\"}",
    "{}",
    "{\"auto_cleanup\": true}",
    "{\"file_data\": 42, \"n\": -1.5e3, \"t\": true, \"f\": false, \"z\": null}",
    "{\"file_data\": \"\"}",
    "{\"file_data\": null}",
    "{\"fi\\u006ce_data\": \"QUJD\"}", /* an escaped key is the same name */
    "{\"file_data\": {\"nested\": \"QUJD\"}, \"s\": \"a\\\"b\"}",
    "{\"a\":[[[]]],\"b\":{},\"c\":\"\",\"file_data\":\"x\"}",
    "{\"\": 1, \"file_data\": \"x y\"}",
};

static const char *invalid_bodies[] = {
    "",
    "   ",
    "[\"file_data\"]",
    "\"file_data\"",
    "42",
    "{not json",
    "{\"file_data\": \"QUJD\"",
    "{\"file_data\": \"QUJD}",
    "{\"file_data\" \"QUJD\"}",
    "{\"file_data\": \"QUJD\",}",
    "{\"file_data\": \"QUJD\"} x",
    "{\"file_data\": \"QUJD\"}}",
    "{\"file_data\": \"QUJD\", \"file_data\": \"QUJD\"}",
    "{\"file_data\": 1, \"file_data\": \"QUJD\"}",
    "{\"file_data\": \"QUJD\", \"fil\\u0065_data\": 1}",
    "{\"a\": 1, \"a\": 2}",
    "{\"a\": {\"b\": 1, \"b\": 2}}",
    "{\"file_data\": \"\\x\"}",
    "{\"file_data\": \"\\u00G0\"}",
    "{\"file_data\": \"\\u0000\"}",
    "{\"file_data\": \"\\ud800\"}",
    "{\"file_data\": \"\\ud800x\"}",
    "{\"file_data\": \"\\ud800\\n\"}",
    "{\"file_data\": \"\\ud800\\u0041\"}",
    "{\"file_data\": \"\\udc00\"}",
    "{\"file_data\": \"a\tb\"}",
    "{\"file_data\": \"\xc3\"}",
    "{\"file_data\": \"\xc0\xaf\"}",
    "{\"file_data\": \"\xe0\x80\xaf\"}",
    "{\"file_data\": \"\xed\xa0\x80\"}",
    "{\"file_data\": \"\xf4\x90\x80\x80\"}",
    "{\"file_data\": \"\xff\"}",
    "{\"a\": tru}",
    "{\"a\": 01}",
    "{\"a\": [1,]}",
    "{\"a\": [1}",
    "{\"a\": \"x}",
    "{\"a\" 1}",
    "{\"a\": }",
    "{\"a\": 1 2}",
    "{a: 1}",
    "{\"a\":1,,\"b\":2}",
    "{\"a\\u0000\": 1}",
    "{\"a\xff\": 1}",
    "{\"a\": \"\\ud800\"}",
    "{\"a\": 99999999999999999999999}",
    "{\"file_data\": \"QUJD\"} {}",
};

static void valid_bodies_match_jansson_for_every_split(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(valid_bodies) / sizeof(valid_bodies[0]); i++) {
        json_t *parsed = json_loads(valid_bodies[i], JSON_REJECT_DUPLICATES, NULL);
        if (parsed == NULL) fail_msg("valid body %zu is not valid for jansson", i);
        json_decref(parsed);
        check_every_split(valid_bodies[i], strlen(valid_bodies[i]));
    }
}

static void invalid_bodies_are_refused_for_every_split(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(invalid_bodies) / sizeof(invalid_bodies[0]); i++) {
        json_t *parsed = json_loads(invalid_bodies[i], JSON_REJECT_DUPLICATES, NULL);
        if (parsed != NULL && json_is_object(parsed)) fail_msg("invalid body %zu is valid for jansson", i);
        json_decref(parsed);
        check_every_split(invalid_bodies[i], strlen(invalid_bodies[i]));
    }
}

/* Random byte changes, insertions and deletions of the bodies above: the scan and jansson agree. */
static void mutated_bodies_match_jansson(void **state)
{
    (void)state;
    static const char alphabet[] = "{}[]\":,\\ u0dDae9\xc3\xa9\xff\x01\t";
    char body[512];
    size_t sources = sizeof(valid_bodies) / sizeof(valid_bodies[0]);
    for (int round = 0; round < 20000; round++) {
        const char *source =
            round % 2 ? valid_bodies[round / 2 % sources]
                      : invalid_bodies[round / 2 % (sizeof(invalid_bodies) / sizeof(invalid_bodies[0]))];
        size_t length = strlen(source);
        memcpy(body, source, length);
        int edits = 1 + (int)randombytes_uniform(3);
        for (int e = 0; e < edits; e++) {
            size_t at = length ? randombytes_uniform((uint32_t)length) : 0;
            char c = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
            switch (randombytes_uniform(3)) {
            case 0:
                if (length) body[at] = c;
                break;
            case 1:
                if (length + 1 < sizeof(body)) {
                    memmove(body + at + 1, body + at, length - at);
                    body[at] = c;
                    length++;
                }
                break;
            default:
                if (length) {
                    memmove(body + at, body + at + 1, length - at - 1);
                    length--;
                }
            }
        }
        size_t cut = length ? randombytes_uniform((uint32_t)length + 1) : 0;
        check_against_jansson(body, length, &cut, 1);
    }
}

static void large_streamed_string_and_size_limits(void **state)
{
    (void)state;
    /* a long streamed value goes out in pieces, never held */
    size_t text_length = 3 * JSON_SCAN_OUT + 123;
    char *body = malloc(text_length + 64);
    assert_non_null(body);
    int n = sprintf(body, "{\"file_data\":\"");
    for (size_t i = 0; i < text_length; i++)
        body[n + i] = (char)('A' + i % 26);
    strcpy(body + n + text_length, "\",\"x\":1}");
    check_against_jansson(body, strlen(body), NULL, 0);
    size_t cut = n + JSON_SCAN_OUT - 1;
    check_against_jansson(body, strlen(body), &cut, 1);
    /* the other members are held to max_small_bytes; the streamed one is not */
    static json_scan scan;
    streamed out;
    assert_int_equal(scan_split(&scan, body, strlen(body), NULL, 0, &out, 16), JSON_SCAN_OK);
    json_scan_free(&scan);
    free(out.data);
    const char *big = "{\"file_data\":\"QUJD\",\"padding\":\"0123456789abcdef0123\"}";
    assert_int_equal(scan_split(&scan, big, strlen(big), NULL, 0, &out, 16), JSON_SCAN_TOO_LARGE);
    assert_non_null(scan.error);
    json_scan_free(&scan);
    free(out.data);
    /* a key over JSON_SCAN_MAX_KEY */
    char *long_key = malloc(JSON_SCAN_MAX_KEY + 32);
    assert_non_null(long_key);
    long_key[0] = '{', long_key[1] = '"';
    memset(long_key + 2, 'k', JSON_SCAN_MAX_KEY);
    strcpy(long_key + 2 + JSON_SCAN_MAX_KEY, "\":1}");
    assert_int_equal(scan_split(&scan, long_key, strlen(long_key), NULL, 0, &out, 1 << 20),
                     JSON_SCAN_TOO_LARGE);
    json_scan_free(&scan);
    free(out.data);
    free(long_key);
    free(body);
}

static int failing_sink(void *ctx, const char *data, size_t length)
{
    (void)data, (void)length;
    return ++*(int *)ctx >= 1 ? -1 : 0;
}

/* A member's value is parsed on its own, one level less deep than in the body: nesting at jansson's
 * limit must still be refused as jansson refuses the whole body (found by fuzz_util_json_scan). */
static void nesting_is_held_to_jansson_depth(void **state)
{
    (void)state;
    for (size_t depth = 2040; depth <= 2050; depth++) {
        size_t length = 6 + 2 * depth + 1;
        char *body = malloc(length + 1);
        assert_non_null(body);
        memcpy(body, "{\"a\":", 5);
        memset(body + 5, '[', depth);
        memset(body + 5 + depth, ']', depth);
        memcpy(body + 5 + 2 * depth, "}", 2);
        check_against_jansson(body, strlen(body), NULL, 0);
        size_t scalar_length = 5 + depth + 1 + depth + 1;
        memcpy(body + 5 + depth, "1", 1);
        memset(body + 6 + depth, ']', depth);
        memcpy(body + 6 + 2 * depth, "}", 2);
        assert_int_equal(strlen(body), scalar_length);
        check_against_jansson(body, scalar_length, NULL, 0);
        free(body);
    }
}

static void a_failing_sink_stops_the_scan(void **state)
{
    (void)state;
    static json_scan scan;
    int calls = 0;
    assert_int_equal(json_scan_init(&scan, "file_data", failing_sink, &calls, 1024), JSON_SCAN_OK);
    const char *body = "{\"file_data\": \"QUJD\", \"a\": 1}";
    assert_int_equal(json_scan_feed(&scan, body, strlen(body)), JSON_SCAN_SINK_FAILED);
    assert_int_equal(json_scan_feed(&scan, "}", 1), JSON_SCAN_SINK_FAILED);
    assert_int_equal(json_scan_finish(&scan), JSON_SCAN_SINK_FAILED);
    assert_int_equal(calls, 1);
    json_scan_free(&scan);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_bodies_match_jansson_for_every_split),
        cmocka_unit_test(invalid_bodies_are_refused_for_every_split),
        cmocka_unit_test(mutated_bodies_match_jansson),
        cmocka_unit_test(large_streamed_string_and_size_limits),
        cmocka_unit_test(nesting_is_held_to_jansson_depth),
        cmocka_unit_test(a_failing_sink_stops_the_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
