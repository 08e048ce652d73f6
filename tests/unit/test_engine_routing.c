/* test_engine_routing.c — channel choice (priority, weight, caps, throttling, channels already tried,
 * advanced options) and the circuit breaker (open, half-open trial, close, longer re-open). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "engine/routing.h"

static routing_channel make(const char *name, const char *provider, const char *models, int priority,
                            int weight, int max_concurrent)
{
    routing_channel c;
    memset(&c, 0, sizeof(c));
    snprintf(c.record.name, sizeof(c.record.name), "%s", name);
    snprintf(c.record.provider, sizeof(c.record.provider), "%s", provider);
    snprintf(c.record.models, sizeof(c.record.models), "%s", models);
    c.record.priority = priority;
    c.record.weight = weight;
    c.record.max_concurrent = max_concurrent;
    c.record.enabled = true;
    c.provider = upstream_provider_find(provider);
    return c;
}

static routing_verdict choose(routing_channel *channels, size_t count, const char *model,
                              const json_t *advanced, const char *const *tried, int64_t now_ms,
                              uint32_t random, size_t *chosen)
{
    int64_t retry_at = 0;
    return routing_choose(channels, count, model, advanced, tried, now_ms, random, chosen, &retry_at);
}

static void higher_priority_wins_and_lower_takes_over_when_it_is_full(void **state)
{
    (void)state;
    routing_channel channels[] = {make("low", "fal", "all", 1, 1, 0), make("high", "fal", "all", 10, 1, 2),
                                  make("other-model", "fal", "sora-2", 50, 1, 0)};
    size_t chosen = 99;
    for (uint32_t random = 0; random < 20; random++) {
        assert_int_equal(choose(channels, 3, "lipsync-2", NULL, NULL, 0, random, &chosen), ROUTING_CHOSEN);
        assert_int_equal(chosen, 1);
    }
    channels[1].in_flight = 2; /* at its cap */
    assert_int_equal(choose(channels, 3, "lipsync-2", NULL, NULL, 0, 7, &chosen), ROUTING_CHOSEN);
    assert_int_equal(chosen, 0);
    channels[1].record.enabled = false;
    channels[1].in_flight = 0;
    assert_int_equal(choose(channels, 3, "lipsync-2", NULL, NULL, 0, 7, &chosen), ROUTING_CHOSEN);
    assert_int_equal(chosen, 0);
    assert_int_equal(choose(channels, 3, "sora-2", NULL, NULL, 0, 7, &chosen), ROUTING_CHOSEN);
    assert_int_equal(chosen, 2);
}

static void weights_share_tasks_in_proportion(void **state)
{
    (void)state;
    routing_channel channels[] = {make("a", "fal", "all", 5, 1, 0), make("b", "fal", "all", 5, 3, 0)};
    int picks[2] = {0, 0};
    for (uint32_t random = 0; random < 4000; random++) {
        size_t chosen = 99;
        assert_int_equal(choose(channels, 2, "sora-2", NULL, NULL, 0, random, &chosen), ROUTING_CHOSEN);
        picks[chosen]++;
    }
    assert_int_equal(picks[0], 1000); /* random % 4 over 0..3999: exactly one in four */
    assert_int_equal(picks[1], 3000);
}

static void channels_already_tried_are_skipped_until_none_is_left(void **state)
{
    (void)state;
    routing_channel channels[] = {make("first", "fal", "all", 10, 1, 0),
                                  make("second", "fal", "all", 1, 1, 0)};
    size_t chosen = 99;
    const char *tried_one[] = {"first", NULL};
    assert_int_equal(choose(channels, 2, "sora-2", NULL, tried_one, 0, 0, &chosen), ROUTING_CHOSEN);
    assert_int_equal(chosen, 1);
    const char *tried_both[] = {"first", "second", NULL};
    assert_int_equal(choose(channels, 2, "sora-2", NULL, tried_both, 0, 0, &chosen), ROUTING_NO_CHANNEL);
}

static void throttled_and_full_channels_mean_busy_not_failed(void **state)
{
    (void)state;
    routing_channel channels[] = {make("only", "fal", "all", 0, 1, 1)};
    size_t chosen = 99;
    int64_t retry_at = 0;
    channels[0].throttled_until_ms = 5000;
    assert_int_equal(routing_choose(channels, 1, "sora-2", NULL, NULL, 1000, 0, &chosen, &retry_at),
                     ROUTING_BUSY);
    assert_int_equal(retry_at, 5000);
    assert_int_equal(choose(channels, 1, "sora-2", NULL, NULL, 5000, 0, &chosen), ROUTING_CHOSEN);
    channels[0].in_flight = 1;
    assert_int_equal(routing_choose(channels, 1, "sora-2", NULL, NULL, 6000, 0, &chosen, &retry_at),
                     ROUTING_BUSY);
    assert_true(retry_at > 6000);
}

static void advanced_options_restrict_routing_to_providers_that_honour_them(void **state)
{
    (void)state;
    routing_channel channels[] = {make("fal", "fal", "all", 10, 1, 0),
                                  make("sandbox", "sandbox", "all", 0, 1, 0)};
    json_t *temperature = json_pack("[s]", "temperature");
    size_t chosen = 99;
    /* fal's lip-sync takes no temperature: only the sandbox can honour it */
    assert_int_equal(choose(channels, 2, "lipsync-2", temperature, NULL, 0, 0, &chosen), ROUTING_CHOSEN);
    assert_int_equal(chosen, 1);
    assert_int_equal(routing_check(channels, 2, "lipsync-2", temperature, NULL), ROUTING_CHOSEN);
    channels[1].record.enabled = false;
    json_t *unsupported = NULL;
    assert_int_equal(routing_check(channels, 2, "lipsync-2", temperature, &unsupported), ROUTING_UNSUPPORTED);
    assert_int_equal(json_array_size(unsupported), 1);
    assert_string_equal(json_string_value(json_array_get(unsupported, 0)), "temperature");
    json_decref(unsupported);
    /* guidance_scale is honoured by fal for creatify-aurora; temperature is not a field there at all */
    json_t *mixed = json_pack("[s,s]", "guidance_scale", "temperature");
    assert_int_equal(routing_check(channels, 2, "creatify-aurora", mixed, &unsupported), ROUTING_UNSUPPORTED);
    assert_int_equal(json_array_size(unsupported), 1);
    assert_string_equal(json_string_value(json_array_get(unsupported, 0)), "temperature");
    json_decref(unsupported);
    json_t *guidance = json_pack("[s]", "guidance_scale");
    assert_int_equal(routing_check(channels, 2, "creatify-aurora", guidance, NULL), ROUTING_CHOSEN);
    channels[0].record.enabled = false;
    assert_int_equal(routing_check(channels, 2, "creatify-aurora", guidance, NULL), ROUTING_NO_CHANNEL);
    json_decref(temperature), json_decref(mixed), json_decref(guidance);
}

static void unknown_providers_and_foreign_models_are_never_chosen(void **state)
{
    (void)state;
    routing_channel channels[] = {make("ghost", "nobody", "all", 10, 1, 0),
                                  make("lip", "fal", "lipsync-2", 0, 1, 0)};
    size_t chosen = 99;
    assert_int_equal(choose(channels, 2, "sora-2", NULL, NULL, 0, 0, &chosen), ROUTING_NO_CHANNEL);
    assert_int_equal(routing_check(channels, 2, "sora-2", NULL, NULL), ROUTING_NO_CHANNEL);
    assert_int_equal(choose(channels, 2, "lipsync-2", NULL, NULL, 0, 0, &chosen), ROUTING_CHOSEN);
    assert_int_equal(chosen, 1);
}

static void circuit_opens_after_failures_and_a_trial_closes_or_reopens_it(void **state)
{
    (void)state;
    routing_channel channels[] = {make("flaky", "fal", "all", 10, 1, 0),
                                  make("backup", "fal", "all", 0, 1, 0)};
    size_t chosen = 99;
    for (int i = 0; i < ROUTING_FAILURES_TO_OPEN - 1; i++)
        routing_record_failure(&channels[0], 1000);
    assert_false(routing_is_open(&channels[0], 1000));
    routing_record_failure(&channels[0], 1000);
    assert_true(routing_is_open(&channels[0], 1000));
    /* while open, the backup takes the work */
    assert_int_equal(choose(channels, 2, "sora-2", NULL, NULL, 2000, 0, &chosen), ROUTING_CHOSEN);
    assert_int_equal(chosen, 1);
    /* after the cool-down one trial goes to the flaky channel; others keep going to the backup */
    int64_t after = 1000 + ROUTING_COOLDOWN_MS;
    assert_int_equal(choose(channels, 2, "sora-2", NULL, NULL, after, 0, &chosen), ROUTING_CHOSEN);
    assert_int_equal(chosen, 0);
    assert_true(channels[0].trial_in_flight);
    assert_int_equal(choose(channels, 2, "sora-2", NULL, NULL, after, 0, &chosen), ROUTING_CHOSEN);
    assert_int_equal(chosen, 1);
    /* the trial fails: open again, for twice as long */
    routing_record_failure(&channels[0], after);
    assert_true(routing_is_open(&channels[0], after + 2 * ROUTING_COOLDOWN_MS - 1));
    assert_false(routing_is_open(&channels[0], after + 2 * ROUTING_COOLDOWN_MS));
    /* the next trial succeeds: closed, and it takes all the work again */
    int64_t later = after + 2 * ROUTING_COOLDOWN_MS;
    assert_int_equal(choose(channels, 2, "sora-2", NULL, NULL, later, 0, &chosen), ROUTING_CHOSEN);
    assert_int_equal(chosen, 0);
    routing_record_success(&channels[0]);
    assert_false(channels[0].trial_in_flight);
    for (uint32_t random = 0; random < 5; random++) {
        assert_int_equal(choose(channels, 2, "sora-2", NULL, NULL, later, random, &chosen), ROUTING_CHOSEN);
        assert_int_equal(chosen, 0);
    }
    /* one failure after success does not open it */
    routing_record_failure(&channels[0], later);
    assert_false(routing_is_open(&channels[0], later));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(higher_priority_wins_and_lower_takes_over_when_it_is_full),
        cmocka_unit_test(weights_share_tasks_in_proportion),
        cmocka_unit_test(channels_already_tried_are_skipped_until_none_is_left),
        cmocka_unit_test(throttled_and_full_channels_mean_busy_not_failed),
        cmocka_unit_test(advanced_options_restrict_routing_to_providers_that_honour_them),
        cmocka_unit_test(unknown_providers_and_foreign_models_are_never_chosen),
        cmocka_unit_test(circuit_opens_after_failures_and_a_trial_closes_or_reopens_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
