/* test_http_byte_range.c — the Range header parser and the If-None-Match matcher (http/byte_range.c)
 * that answer downloads from object storage the way h2o's file handler answers local files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/http.h"

static http_range_kind parse(const char *value, uint64_t size, uint64_t *offset, uint64_t *count)
{
    return http_byte_range_parse(value, value ? strlen(value) : 0, size, offset, count);
}

static void test_the_three_forms_of_one_range(void **state)
{
    (void)state;
    uint64_t offset, count;
    assert_int_equal(parse("bytes=0-99", 1000, &offset, &count), HTTP_RANGE_PARTIAL);
    assert_int_equal(offset, 0);
    assert_int_equal(count, 100);
    assert_int_equal(parse("bytes=990-", 1000, &offset, &count), HTTP_RANGE_PARTIAL);
    assert_int_equal(offset, 990);
    assert_int_equal(count, 10);
    assert_int_equal(parse("bytes=-10", 1000, &offset, &count), HTTP_RANGE_PARTIAL);
    assert_int_equal(offset, 990);
    assert_int_equal(count, 10);
    assert_int_equal(parse("BYTES=5-5", 1000, &offset, &count), HTTP_RANGE_PARTIAL);
    assert_int_equal(offset, 5);
    assert_int_equal(count, 1);
}

static void test_ranges_past_the_end_are_clamped(void **state)
{
    (void)state;
    uint64_t offset, count;
    assert_int_equal(parse("bytes=10-99999999", 100, &offset, &count), HTTP_RANGE_PARTIAL);
    assert_int_equal(offset, 10);
    assert_int_equal(count, 90);
    assert_int_equal(parse("bytes=-99999999", 100, &offset, &count), HTTP_RANGE_PARTIAL);
    assert_int_equal(offset, 0);
    assert_int_equal(count, 100);
}

static void test_no_range_or_several_mean_the_whole_object(void **state)
{
    (void)state;
    uint64_t offset = 7, count = 7;
    assert_int_equal(parse(NULL, 100, &offset, &count), HTTP_RANGE_NONE);
    assert_int_equal(offset, 0);
    assert_int_equal(count, 100);
    assert_int_equal(parse("bytes=0-1,3-4", 100, &offset, &count), HTTP_RANGE_NONE);
    assert_int_equal(count, 100);
}

static void test_unsatisfiable_and_malformed_ranges(void **state)
{
    (void)state;
    uint64_t offset, count;
    const char *bad[] = {"bytes=100-",
                         "bytes=100-200",
                         "bytes=5-2",
                         "bytes=-0",
                         "bytes=-",
                         "bytes=abc",
                         "items=0-1",
                         "bytes= 3-4",
                         "bytes=3-4 ",
                         "bytes=3 -4",
                         "",
                         "bytes=",
                         "bytes=1-2-3",
                         "bytes=99999999999999999999-",
                         "bytes=0x1-2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse(bad[i], 100, &offset, &count), HTTP_RANGE_UNSATISFIABLE);
    assert_int_equal(parse("bytes=0-", 0, &offset, &count), HTTP_RANGE_UNSATISFIABLE); /* empty object */
    assert_int_equal(parse("bytes=-5", 0, &offset, &count), HTTP_RANGE_UNSATISFIABLE);
}

static void test_etag_lists(void **state)
{
    (void)state;
    const char *etag = "\"abc\"";
#define MATCHES(list) http_etag_list_matches(list, strlen(list), etag)
    assert_true(MATCHES("\"abc\""));
    assert_true(MATCHES("\"x\", \"abc\""));
    assert_true(MATCHES("W/\"abc\""));
    assert_true(MATCHES("*"));
    assert_false(MATCHES("\"abcd\""));
    assert_false(MATCHES("abc"));
    assert_false(MATCHES(""));
    assert_false(MATCHES("\"ab\", c\""));
#undef MATCHES
    assert_false(http_etag_list_matches("*", 1, ""));
    assert_true(http_etag_list_matches("\"abc\"", 5, "W/\"abc\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_three_forms_of_one_range),
        cmocka_unit_test(test_ranges_past_the_end_are_clamped),
        cmocka_unit_test(test_no_range_or_several_mean_the_whole_object),
        cmocka_unit_test(test_unsatisfiable_and_malformed_ranges),
        cmocka_unit_test(test_etag_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
