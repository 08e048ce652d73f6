/* test_net_callback_url.c — the submit-time policy for callback URLs: https only, public hosts only,
 * at most 2048 characters; allow-listed hosts (tests' own receivers) may use http and loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/callback_url.h"

static void check(const char *url, const char *allow_list, bool expected, const char *reason)
{
    char why[200] = "";
    bool got = callback_url_acceptable(url, allow_list, why, sizeof(why));
    if (got != expected)
        fail_msg("%s (allow %s): expected %s, got %s (%s)", url, allow_list ? allow_list : "-",
                 expected ? "accepted" : "refused", got ? "accepted" : "refused", why);
    if (!expected && reason && strstr(why, reason) == NULL)
        fail_msg("%s: reason \"%s\" lacks \"%s\"", url, why, reason);
}

static void public_https_urls_are_accepted(void **state)
{
    (void)state;
    check("https://hooks.example.com/reelay?x=1", NULL, true, NULL);
    check("https://93.184.216.34:8443/hook", NULL, true, NULL);
    check("https://[2606:4700::1111]/hook", NULL, true, NULL);
}

static void other_schemes_and_shapes_are_refused(void **state)
{
    (void)state;
    check("http://hooks.example.com/x", NULL, false, "https");
    check("ftp://hooks.example.com/x", NULL, false, "https");
    check("hooks.example.com/x", NULL, false, NULL);
    check("https://user:pass@hooks.example.com/x", NULL, false, "user");
    check("", NULL, false, NULL);
    char long_url[2100];
    snprintf(long_url, sizeof(long_url), "https://hooks.example.com/%02040d", 0);
    check(long_url, NULL, false, "2048");
}

static void private_and_local_hosts_are_refused(void **state)
{
    (void)state;
    const char *refused[] = {
        "https://127.0.0.1/x",
        "https://10.1.2.3/x",
        "https://172.16.0.9/x",
        "https://192.168.1.1/x",
        "https://169.254.169.254/",
        "https://100.64.0.1/x",
        "https://0.0.0.0/x",
        "https://[::1]/x",
        "https://[fe80::1]/x",
        "https://[fd00::1]/x",
        "https://[::ffff:10.0.0.1]/x",
        "https://localhost/x",
        "https://LOCALHOST./x",
        "https://api.localhost/x",
        "https://2130706433/x",
        "https://0x7f.1/x",
        "https://127.1/x",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        check(refused[i], NULL, false, NULL);
}

static void allow_listed_hosts_may_use_http_and_loopback(void **state)
{
    (void)state;
    check("http://127.0.0.1:8123/hook", "127.0.0.1", true, NULL);
    check("https://127.0.0.1:8123/hook", "127.0.0.0/8", true, NULL);
    check("http://localhost:8123/hook", "localhost", true, NULL);
    check("http://127.0.0.2/hook", "127.0.0.1", false, NULL);
    check("ftp://127.0.0.1/hook", "127.0.0.1", false, "https");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(public_https_urls_are_accepted),
        cmocka_unit_test(other_schemes_and_shapes_are_refused),
        cmocka_unit_test(private_and_local_hosts_are_refused),
        cmocka_unit_test(allow_listed_hosts_may_use_http_and_loopback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
