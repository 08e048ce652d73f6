/* test_admin_checks.c — the pure parts of admin/ and what they stand on: a failure names its field as
 * the front end does ("base_url" or "--base-url"), what changed accumulates without overflowing, outside
 * text is plain or refused, names and base URLs are checked as the settings table and the admin API both
 * check them (util/ids.h, util/url_scheme.h), and the circuit's state as the channel health shows it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "admin/admin_internal.h"
#include "engine/routing.h"
#include "util/ids.h"
#include "util/url_scheme.h"

static void a_failure_names_its_field_as_the_front_end_does(void **state)
{
    (void)state;
    admin_context http = {.flag_names = false}, cli = {.flag_names = true};
    admin_result result;
    admin_fail(&http, &result, ADMIN_INVALID, "invalid_url", "base_url", "{F} must be http(s), not %s",
               "ftp");
    assert_int_equal(result.outcome, ADMIN_INVALID);
    assert_string_equal(result.code, "invalid_url");
    assert_string_equal(result.param, "base_url");
    assert_string_equal(result.message, "base_url must be http(s), not ftp");
    admin_fail(&cli, &result, ADMIN_INVALID, "invalid_url", "max_concurrent", "bad {F}; {F} again");
    assert_string_equal(result.param, "--max-concurrent");
    assert_string_equal(result.message, "bad --max-concurrent; --max-concurrent again");
    admin_fail(&cli, &result, ADMIN_NOT_FOUND, "key_not_found", NULL, "no key %s {F", "key_x");
    assert_string_equal(result.param, "");
    assert_string_equal(result.message, "no key key_x {F"); /* an unfinished marker stays as it is */
}

static void what_changed_accumulates_and_stays_bounded(void **state)
{
    (void)state;
    admin_result result;
    admin_done(&result);
    admin_changed(&result, "channel", "%s", "fal-main");
    admin_changed(&result, "enabled", "%s", "false");
    assert_string_equal(result.changed, "channel=fal-main enabled=false");
    for (int i = 0; i < 200; i++)
        admin_changed(&result, "field", "%d", i);
    assert_true(strlen(result.changed) < sizeof(result.changed));
    assert_int_equal(result.outcome, ADMIN_DONE);
}

static void outside_text_is_plain_or_refused(void **state)
{
    (void)state;
    assert_true(admin_text_is_plain("team a — café", 63));
    assert_true(admin_text_is_plain("", 63));
    assert_false(admin_text_is_plain("line\nbreak", 63));
    assert_false(admin_text_is_plain("tab\there", 63));
    assert_false(admin_text_is_plain("del\x7f", 63));
    assert_false(admin_text_is_plain("0123456789", 9));
}

static void names_and_base_urls(void **state)
{
    (void)state;
    assert_true(ids_is_plain_name("fal-main_2", 63));
    assert_false(ids_is_plain_name("", 63));
    assert_false(ids_is_plain_name("x/..", 63));
    assert_false(ids_is_plain_name("bad name", 63));
    assert_false(ids_is_plain_name("abcd", 3));
    assert_false(ids_is_plain_name(NULL, 3));
    assert_true(url_is_plain_http("https://queue.fal.run", true));
    assert_true(url_is_plain_http("HTTP://127.0.0.1:9/v1", true));
    assert_true(url_is_plain_http("https://example.com/x?y=1", false));
    assert_false(url_is_plain_http("https://example.com/x?y=1", true));
    assert_false(url_is_plain_http("https://example.com/#frag", true));
    assert_false(url_is_plain_http("https://user:pw@example.com", true));
    assert_false(url_is_plain_http("ftp://example.com", true));
    assert_false(url_is_plain_http("https://", true));
    assert_false(url_is_plain_http("https://exa mple.com", true));
    assert_false(url_is_plain_http(NULL, true));
}

static void the_circuit_as_the_health_shows_it(void **state)
{
    (void)state;
    routing_channel channel;
    memset(&channel, 0, sizeof(channel));
    snprintf(channel.record.name, sizeof(channel.record.name), "fal-main");
    routing_channel_health health;
    routing_health_of(&channel, &health);
    assert_string_equal(health.name, "fal-main");
    assert_false(health.usable); /* no provider */
    assert_string_equal(routing_circuit_name(routing_circuit_state(&health, 1000)), "closed");
    for (int i = 0; i < ROUTING_FAILURES_TO_OPEN; i++)
        routing_record_failure(&channel, 1000);
    routing_health_of(&channel, &health);
    assert_int_equal(health.consecutive_failures, ROUTING_FAILURES_TO_OPEN);
    assert_string_equal(routing_circuit_name(routing_circuit_state(&health, 1001)), "open");
    assert_string_equal(routing_circuit_name(routing_circuit_state(&health, health.open_until_ms)),
                        "half_open");
    routing_record_success(&channel);
    routing_health_of(&channel, &health);
    assert_string_equal(routing_circuit_name(routing_circuit_state(&health, health.open_until_ms)), "closed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_failure_names_its_field_as_the_front_end_does),
        cmocka_unit_test(what_changed_accumulates_and_stays_bounded),
        cmocka_unit_test(outside_text_is_plain_or_refused),
        cmocka_unit_test(names_and_base_urls),
        cmocka_unit_test(the_circuit_as_the_health_shows_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
