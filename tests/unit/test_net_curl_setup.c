/* test_net_curl_setup.c — the one libcurl setup (net/curl_setup.h) against a loopback server
 * (tests/unit/range_server.h): URL parsing as the guard reads it, the guard refusing a non-public
 * address unless allow-listed (and saying so), redirects followed or not, header lines and bodies
 * handed to their callbacks, and a bad argument refused instead of ignored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "net/curl_setup.h"
#include "range_server.h"

static range_server server;
static const char body[] = "hello from the loopback";

static bool answer(int fd, const range_server_request *request, void *context)
{
    (void)context;
    if (strcmp(request->path, "/redirect") == 0) {
        range_server_send_text(fd, "HTTP/1.1 302 Found\r\nLocation: /file\r\nContent-Length: 0\r\n\r\n");
        return !request->close;
    }
    range_server_send_body(&server, fd, request, body, sizeof(body) - 1, "text/plain", false);
    return !request->close;
}

static int setup_server(void **state)
{
    (void)state;
    return range_server_start(&server, answer, NULL) == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK
               ? 0
               : -1;
}

static int teardown_server(void **state)
{
    (void)state;
    range_server_stop(&server);
    curl_global_cleanup();
    return 0;
}

typedef struct collected {
    char text[4096];
    size_t length;
    int header_lines;
} collected;

static size_t collect(char *data, size_t size, size_t count, void *userdata)
{
    collected *into = userdata;
    size_t n = size * count;
    if (n >= sizeof(into->text) - into->length) return 0;
    memcpy(into->text + into->length, data, n);
    into->length += n;
    into->text[into->length] = '\0';
    return n;
}

static size_t count_header(char *data, size_t size, size_t count, void *userdata)
{
    (void)data;
    ((collected *)userdata)->header_lines++;
    return size * count;
}

static void urls_are_parsed_as_the_guard_reads_them(void **state)
{
    (void)state;
    CURLU *parsed = NULL;
    char host[NET_HOST_SIZE], err[256];
    assert_int_equal(net_url_parse("https://user:pw@[::1]:8443/a?b", 100, "fetched", &parsed, host,
                                   sizeof(host), err, sizeof(err)),
                     FETCH_OK);
    assert_non_null(parsed);
    assert_string_equal(host, "::1"); /* no brackets, userinfo or port */
    curl_url_cleanup(parsed);

    assert_int_equal(
        net_url_parse("ftp://example.com/x", 100, "posted", &parsed, host, sizeof(host), err, sizeof(err)),
        FETCH_INVALID_URL);
    assert_null(parsed);
    assert_string_equal(err, "only http and https URLs can be posted");
    assert_int_equal(net_url_parse("http://example.com/0123456789", 20, "fetched", &parsed, host,
                                   sizeof(host), err, sizeof(err)),
                     FETCH_INVALID_URL);
    assert_string_equal(err, "the URL is too long");
    assert_int_equal(net_url_parse("", 100, "fetched", &parsed, host, sizeof(host), err, sizeof(err)),
                     FETCH_INVALID_URL);
    assert_int_equal(
        net_url_parse("/relative/path", 100, "fetched", &parsed, host, sizeof(host), err, sizeof(err)),
        FETCH_INVALID_URL);
    assert_string_equal(err, "not an absolute http or https URL");
    char tiny[4];
    assert_int_equal(
        net_url_parse("http://example.com/", 100, "fetched", &parsed, tiny, sizeof(tiny), err, sizeof(err)),
        FETCH_INVALID_URL); /* a host that does not fit is no host */
    assert_true(net_url_text_host("http://Example.COM:80/x", host, sizeof(host)));
    assert_string_equal(host, "Example.COM"); /* as written: the allow-list ignores case itself */
    assert_false(net_url_text_host("not a url", host, sizeof(host)));
}

/* A GET of path on the loopback server; *guard is used when allow_list is not "unguarded". */
static CURLcode get(const char *path, net_guard *guard, const char *allow_list, bool follow, collected *into,
                    CURL **easy_out)
{
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", server.port, path);
    CURL *easy = curl_easy_init();
    assert_non_null(easy);
    fetch_policy policy = {.max_bytes = 1 << 20,
                           .connect_timeout_ms = 2000,
                           .total_timeout_ms = 5000,
                           .max_redirects = 0,
                           .allow_list = allow_list};
    net_curl_options options = net_curl_fetch_options(&policy, guard);
    if (guard != NULL) net_guard_init(guard, easy, allow_list, NULL);
    options.url = url;
    options.follow_redirects = follow;
    options.write_body = collect;
    options.write_body_data = into;
    options.write_header = count_header;
    options.write_header_data = into;
    assert_int_equal(net_curl_setup(easy, &options), CURLE_OK);
    CURLcode code = curl_easy_perform(easy);
    *easy_out = easy;
    return code;
}

static void the_guard_refuses_loopback_unless_allow_listed(void **state)
{
    (void)state;
    net_guard guard;
    collected got = {0};
    CURL *easy = NULL;
    CURLcode code = get("/file", &guard, NULL, true, &got, &easy);
    assert_int_equal(code, CURLE_COULDNT_CONNECT);
    assert_true(guard.blocked);
    assert_string_equal(guard.blocked_host, "127.0.0.1");
    fetch_policy policy = {.max_bytes = 1};
    char err[256];
    assert_int_equal(
        net_curl_describe_failure(code, easy, &guard, &policy, "127.0.0.1", "", err, sizeof(err)),
        FETCH_BLOCKED);
    assert_string_equal(err, "the address of 127.0.0.1 is not public");
    assert_int_equal(got.length, 0);
    curl_easy_cleanup(easy);

    memset(&got, 0, sizeof(got));
    assert_int_equal(get("/file", &guard, "127.0.0.1", true, &got, &easy), CURLE_OK);
    assert_false(guard.blocked);
    assert_string_equal(got.text, body);
    assert_true(got.header_lines >= 3); /* status line, headers, the blank line */
    curl_easy_cleanup(easy);
}

static void redirects_are_followed_only_when_asked_and_within_the_limit(void **state)
{
    (void)state;
    collected got = {0};
    CURL *easy = NULL;
    long status = 0;
    assert_int_equal(get("/redirect", NULL, NULL, false, &got, &easy), CURLE_OK); /* unguarded */
    assert_int_equal(curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status), CURLE_OK);
    assert_int_equal(status, 302);
    curl_easy_cleanup(easy);

    net_guard guard;
    memset(&got, 0, sizeof(got));
    CURLcode code = get("/redirect", &guard, "127.0.0.1", true, &got, &easy); /* max_redirects 0 */
    assert_int_equal(code, CURLE_TOO_MANY_REDIRECTS);
    fetch_policy policy = {.max_redirects = 0};
    char err[256];
    assert_int_equal(
        net_curl_describe_failure(code, easy, &guard, &policy, "127.0.0.1", "", err, sizeof(err)),
        FETCH_HTTP_STATUS);
    assert_string_equal(err, "more than 0 redirects");
    curl_easy_cleanup(easy);
}

static void bad_arguments_and_header_lists_are_reported(void **state)
{
    (void)state;
    net_curl_options options = {.url = "http://127.0.0.1/"};
    assert_int_equal(net_curl_setup(NULL, &options), CURLE_BAD_FUNCTION_ARGUMENT);
    CURL *easy = curl_easy_init();
    assert_int_equal(net_curl_setup(easy, NULL), CURLE_BAD_FUNCTION_ARGUMENT);
    /* a body without a method is a POST; a method is sent as given */
    options.method = "PUT";
    options.body = "{}";
    options.body_size = 2;
    options.copy_body = true;
    assert_int_equal(net_curl_setup(easy, &options), CURLE_OK);
    curl_easy_cleanup(easy);

    struct curl_slist *list = NULL;
    assert_int_equal(net_curl_header_append(&list, "X-One: 1"), CURLE_OK);
    assert_int_equal(net_curl_header_append(&list, "X-Two: 2"), CURLE_OK);
    assert_string_equal(list->data, "X-One: 1");
    assert_string_equal(list->next->data, "X-Two: 2");
    assert_null(list->next->next);
    curl_slist_free_all(list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(urls_are_parsed_as_the_guard_reads_them),
        cmocka_unit_test(the_guard_refuses_loopback_unless_allow_listed),
        cmocka_unit_test(redirects_are_followed_only_when_asked_and_within_the_limit),
        cmocka_unit_test(bad_arguments_and_header_lists_are_reported),
    };
    return cmocka_run_group_tests(tests, setup_server, teardown_server);
}
