/* test_util_url_scheme.c — http and https schemes in any letter case, and nothing else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>

#include "util/url_scheme.h"

static void http_and_https_in_any_case(void **state)
{
    (void)state;
    assert_int_equal(url_scheme_http_length("http://a"), 7);
    assert_int_equal(url_scheme_http_length("HTTP://a"), 7);
    assert_int_equal(url_scheme_http_length("hTtP://a"), 7);
    assert_int_equal(url_scheme_http_length("https://a"), 8);
    assert_int_equal(url_scheme_http_length("HTTPS://a"), 8);
    assert_int_equal(url_scheme_http_length("Https://"), 8);
}

static void other_schemes_and_shapes_are_refused(void **state)
{
    (void)state;
    const char *refused[] = {"",
                             "http",
                             "http:/a",
                             "http:a",
                             "https:/a",
                             "ftp://a",
                             "file:///etc/passwd",
                             "httpx://a",
                             " http://a",
                             "//a",
                             "data:text/html,x",
                             "javascript://a"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        if (url_scheme_http_length(refused[i]) != 0) fail_msg("accepted \"%s\"", refused[i]);
    assert_int_equal(url_scheme_http_length(NULL), 0);
}

static void prefixes_compare_the_scheme_without_case(void **state)
{
    (void)state;
    const char *base = "http://127.0.0.1:8080";
    assert_true(url_scheme_has_prefix("http://127.0.0.1:8080/v1/files/x", base));
    assert_true(url_scheme_has_prefix("HTTP://127.0.0.1:8080/v1/files/x", base));
    assert_true(url_scheme_has_prefix("http://127.0.0.1:8080/v1/files/x", "HTTP://127.0.0.1:8080"));
    assert_false(url_scheme_has_prefix("https://127.0.0.1:8080/v1/files/x", base));
    assert_false(url_scheme_has_prefix("http://127.0.0.1:8081/v1/files/x", base));
    assert_false(url_scheme_has_prefix("http://127.0.0.1:80", base));
    assert_false(url_scheme_has_prefix("ftp://127.0.0.1:8080/x", "ftp://127.0.0.1:8080"));
    assert_false(url_scheme_has_prefix(NULL, base));
    assert_false(url_scheme_has_prefix("http://a/", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(http_and_https_in_any_case),
        cmocka_unit_test(other_schemes_and_shapes_are_refused),
        cmocka_unit_test(prefixes_compare_the_scheme_without_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
