/* test_util_json_text.c — numbers as JSON text: integers as integers, reals in plain positional form
 * that reads back exactly (never "4e+02", which strict integer fields refuse), escaping of strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json_text.h"

static void assert_number_text(double value, const char *expected)
{
    json_text text = {0};
    json_text_number(&text, value);
    assert_false(text.failed);
    if (strcmp(text.data, expected) != 0)
        fail_msg("%.17g was written %s, expected %s", value, text.data, expected);
    json_text_free(&text);
}

static void whole_reals_keep_their_digits_and_a_point(void **state)
{
    (void)state;
    assert_number_text(400, "400.0");
    assert_number_text(250, "250.0");
    assert_number_text(4, "4.0");
    assert_number_text(0, "0.0");
    assert_number_text(-0.0, "-0.0");
    assert_number_text(1e21, "1000000000000000000000.0");
    assert_number_text(-3000000, "-3000000.0");
}

static void fractions_are_short_and_positional(void **state)
{
    (void)state;
    assert_number_text(0.1, "0.1");
    assert_number_text(1.6, "1.6");
    assert_number_text(2.5, "2.5");
    assert_number_text(4.04, "4.04");
    assert_number_text(-0.5, "-0.5");
    assert_number_text(2.5e-7, "0.00000025");
    assert_number_text(123456.789, "123456.789");
    assert_number_text(1.0 / 3.0, "0.3333333333333333");
}

static void not_finite_is_null(void **state)
{
    (void)state;
    assert_number_text(NAN, "null");
    assert_number_text(INFINITY, "null");
    assert_number_text(-INFINITY, "null");
}

static void assert_reads_back(double value)
{
    json_text text = {0};
    json_text_number(&text, value);
    assert_false(text.failed);
    if (strpbrk(text.data, "eE") != NULL || strchr(text.data, '.') == NULL)
        fail_msg("%.17g was written %s", value, text.data);
    char *end = NULL;
    double back = strtod(text.data, &end);
    if (*end != '\0' || back != value || signbit(back) != signbit(value))
        fail_msg("%.17g was written %s, which reads back as %.17g", value, text.data, back);
    json_text_free(&text);
}

/* Every finite double, from the largest to the smallest subnormal, reads back as itself and is
 * written without an exponent. */
static void every_number_reads_back_exactly(void **state)
{
    (void)state;
    const double edges[] = {DBL_MAX,
                            -DBL_MAX,
                            DBL_MIN,
                            4.9406564584124654e-324,
                            1e-7,
                            9007199254740993.0,
                            0.30000000000000004,
                            123456789012345678.0,
                            5e-324,
                            1e308,
                            0.5};
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
        assert_reads_back(edges[i]);
    uint64_t bits = 0x9e3779b97f4a7c15u; /* xorshift64: the same values on every run */
    for (int i = 0; i < 50000; i++) {
        bits ^= bits << 13, bits ^= bits >> 7, bits ^= bits << 17;
        double value;
        memcpy(&value, &bits, sizeof(value));
        if (isfinite(value)) assert_reads_back(value);
        assert_reads_back((double)(int64_t)(bits >> 20)); /* whole numbers as credits would be */
    }
}

static void integers_are_written_as_integers(void **state)
{
    (void)state;
    const struct {
        int64_t value;
        const char *text;
    } cases[] = {{0, "0"},
                 {400, "400"},
                 {-250, "-250"},
                 {INT64_MAX, "9223372036854775807"},
                 {INT64_MIN, "-9223372036854775808"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_text text = {0};
        json_text_integer(&text, cases[i].value);
        assert_string_equal(text.data, cases[i].text);
        json_text_free(&text);
    }
}

static void objects_are_built_from_keys_and_values(void **state)
{
    (void)state;
    json_text text = {0};
    json_text_raw(&text, "{");
    json_text_key(&text, "credits_reserved", true);
    json_text_integer(&text, 400);
    json_text_key(&text, "duration", false);
    json_text_number(&text, 4);
    json_text_key(&text, "name", false);
    json_text_string(&text, "a\"b\\c\n\x01");
    json_text_raw(&text, "}");
    assert_string_equal(text.data,
                        "{\"credits_reserved\":400,\"duration\":4.0,\"name\":\"a\\\"b\\\\c\\n\\u0001\"}");
    json_text_free(&text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(whole_reals_keep_their_digits_and_a_point),
        cmocka_unit_test(fractions_are_short_and_positional),
        cmocka_unit_test(not_finite_is_null),
        cmocka_unit_test(every_number_reads_back_exactly),
        cmocka_unit_test(integers_are_written_as_integers),
        cmocka_unit_test(objects_are_built_from_keys_and_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
