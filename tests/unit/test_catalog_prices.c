/* test_catalog_prices.c — the price table: defaults, files over them, refusals of malformed files,
 * billable seconds by the seed rules, quotes with multipliers and groups, settlement never above the
 * reservation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog/prices.h"

static price_table *load_text(const char *text, char *err, size_t err_size)
{
    char path[] = "/tmp/reelay-prices-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    price_table *table = price_table_load(path, err, err_size);
    unlink(path);
    return table;
}

static json_t *params(const char *text)
{
    json_t *value = json_loads(text, 0, NULL);
    assert_non_null(value);
    return value;
}

static void billable_seconds_follow_the_seed_rules(void **state)
{
    (void)state;
    const catalog_model *lipsync = catalog_model_find("lipsync-2");
    billing_inputs inputs = {.video_seconds = 5, .audio_seconds = 8};
    const struct {
        const char *mode;
        double seconds;
    } cases[] = {{"loop", 8}, {"bounce", 8}, {"remap", 8}, {"cut_off", 5}, {"silence", 5}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[64];
        snprintf(text, sizeof(text), "{\"sync_mode\":\"%s\"}", cases[i].mode);
        json_t *p = params(text);
        assert_float_equal(price_billable_seconds(lipsync, p, &inputs), cases[i].seconds, 1e-9);
        json_decref(p);
    }
    json_t *none = params("{}");
    assert_float_equal(price_billable_seconds(catalog_model_find("creatify-aurora"), none, &inputs), 8, 1e-9);
    assert_float_equal(price_billable_seconds(catalog_model_find("kling-v3-motion-control"), none, &inputs),
                       5, 1e-9);
    json_decref(none);
    json_t *sora = params("{\"duration\":12}");
    assert_float_equal(price_billable_seconds(catalog_model_find("sora-2"), sora, &inputs), 12, 1e-9);
    json_decref(sora);
}

static void quotes_apply_multipliers_and_groups_and_round_up(void **state)
{
    (void)state;
    char err[256];
    price_table *table =
        load_text("{\"groups\":{\"vip\":0.5},\"models\":{\"sora-2-pro\":{\"unit\":\"second\","
                  "\"credits\":10,\"multipliers\":{\"resolution\":{\"1080p\":1.5},"
                  "\"duration\":{\"20\":2}}},\"sync-3\":{\"unit\":\"task\",\"credits\":7}}}",
                  err, sizeof(err));
    assert_non_null(table);
    billing_inputs none = {0};
    json_t *p = params("{\"resolution\":\"1080p\",\"duration\":8}");
    price_quote quote = price_quote_task(table, catalog_model_find("sora-2-pro"), p, &none, "default");
    assert_int_equal(quote.credits, 120); /* 10 × 1.5 × 8 s */
    quote = price_quote_task(table, catalog_model_find("sora-2-pro"), p, &none, "vip");
    assert_int_equal(quote.credits, 60);
    quote = price_quote_task(table, catalog_model_find("sora-2-pro"), p, &none, "unlisted-group");
    assert_int_equal(quote.credits, 120); /* the default group's multiplier */
    json_decref(p);
    p = params("{\"resolution\":\"720p\",\"duration\":20}");
    quote = price_quote_task(table, catalog_model_find("sora-2-pro"), p, &none, "default");
    assert_int_equal(quote.credits, 400); /* integer-valued fields match their text */
    json_decref(p);
    /* per task: no seconds involved */
    p = params("{\"sync_mode\":\"loop\"}");
    billing_inputs long_inputs = {.video_seconds = 100, .audio_seconds = 100};
    quote = price_quote_task(table, catalog_model_find("sync-3"), p, &long_inputs, "default");
    assert_int_equal(quote.credits, 7);
    assert_false(quote.per_second);
    /* defaults still apply to models the file leaves out; fractions round up */
    billing_inputs short_audio = {.video_seconds = 3, .audio_seconds = 2.01};
    quote = price_quote_task(table, catalog_model_find("lipsync-2"), p, &short_audio, "default");
    assert_int_equal(quote.credits, 101); /* 50 × 2.01 = 100.5 → 101 */
    json_decref(p);
    price_table_free(table);
}

/* The rule a quote shows: the model's first billing rule that holds, its condition, its parameter. */
static void the_quote_rule_names_the_billing_rule_applied(void **state)
{
    (void)state;
    price_quote per_second = {.credits = 150, .rate = 50, .seconds = 3, .per_second = true};
    json_t *p = params("{\"sync_mode\":\"cut_off\"}");
    json_t *rule = price_quote_rule_json(catalog_model_find("lipsync-2"), p, &per_second);
    json_t *expected =
        params("{\"unit\":\"second\",\"rate\":50.0,\"seconds_from\":\"shorter\",\"param\":null,"
               "\"when\":{\"sync_mode\":\"cut_off\"},"
               "\"rounding\":\"ceil(rate \u00d7 billable_seconds)\"}");
    assert_true(json_equal(rule, expected));
    json_decref(rule), json_decref(expected), json_decref(p);
    p = params("{\"sync_mode\":\"loop\"}");
    rule = price_quote_rule_json(catalog_model_find("lipsync-2"), p, &per_second);
    assert_string_equal(json_string_value(json_object_get(rule, "seconds_from")), "audio");
    assert_true(json_is_null(json_object_get(rule, "when")));
    json_decref(rule), json_decref(p);
    p = params("{\"duration\":8}");
    rule = price_quote_rule_json(catalog_model_find("sora-2"), p, &per_second);
    assert_string_equal(json_string_value(json_object_get(rule, "seconds_from")), "param");
    assert_string_equal(json_string_value(json_object_get(rule, "param")), "duration");
    json_decref(rule);
    price_quote per_task = {.credits = 7, .rate = 7};
    rule = price_quote_rule_json(catalog_model_find("sora-2"), p, &per_task);
    assert_string_equal(json_string_value(json_object_get(rule, "unit")), "task");
    assert_string_equal(json_string_value(json_object_get(rule, "seconds_from")), "none");
    assert_true(json_is_null(json_object_get(rule, "param")));
    assert_string_equal(json_string_value(json_object_get(rule, "rounding")), "ceil(rate)");
    json_decref(rule), json_decref(p);
}

static void settlement_charges_the_real_length_never_above_the_reservation(void **state)
{
    (void)state;
    price_quote quote = {.credits = 400, .rate = 50, .seconds = 8, .per_second = true};
    char *record = price_quote_json(&quote);
    assert_non_null(record);
    assert_int_equal(price_settle(record, 8), 400);
    assert_int_equal(price_settle(record, 4.5), 225);
    assert_int_equal(price_settle(record, 8.3), 400); /* a little longer than estimated: the reservation */
    assert_int_equal(price_settle(record, 0), 400);   /* unknown length: the reservation */
    free(record);
    price_quote per_task = {.credits = 7, .rate = 7, .per_second = false};
    record = price_quote_json(&per_task);
    assert_int_equal(price_settle(record, 100), 7);
    free(record);
    assert_int_equal(price_settle(NULL, 3), -1);
    assert_int_equal(price_settle("not json", 3), -1);
    assert_int_equal(price_settle("{\"credits\":\"x\"}", 3), -1);
}

static void malformed_price_files_are_refused_with_a_reason(void **state)
{
    (void)state;
    const struct {
        const char *text, *reason;
    } cases[] = {
        {"[1]", "must be a JSON object"},
        {"{\"modles\":{}}", "unknown key"},
        {"{\"models\":{\"no-such\":{\"unit\":\"second\",\"credits\":1}}}", "no such model"},
        {"{\"models\":{\"sora-2\":{\"unit\":\"minute\",\"credits\":1}}}", "unit"},
        {"{\"models\":{\"sora-2\":{\"unit\":\"second\",\"credits\":-1}}}", "credits"},
        {"{\"models\":{\"sora-2\":{\"unit\":\"second\",\"credits\":1,\"extra\":1}}}", "unknown key"},
        {"{\"models\":{\"sora-2\":{\"unit\":\"second\",\"credits\":1,\"multipliers\":{\"colour\":{}}}}}",
         "no such field"},
        {"{\"models\":{\"sora-2\":{\"unit\":\"second\",\"credits\":1,\"multipliers\":{\"resolution\":"
         "{\"1080p\":\"x\"}}}}}",
         "number"},
        {"{\"groups\":{\"vip\":-0.5}}", "groups.vip"},
        {"{\"groups\":", "line"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[256] = "";
        price_table *table = load_text(cases[i].text, err, sizeof(err));
        if (table != NULL) fail_msg("accepted: %s", cases[i].text);
        if (strstr(err, cases[i].reason) == NULL)
            fail_msg("%s: reason \"%s\" lacks \"%s\"", cases[i].text, err, cases[i].reason);
    }
    char err[256];
    assert_null(price_table_load("/nonexistent/prices.json", err, sizeof(err)));
}

static void the_defaults_load_and_describe_every_model(void **state)
{
    (void)state;
    char err[256];
    price_table *table = price_table_load(NULL, err, sizeof(err));
    assert_non_null(table);
    char *text = price_table_default_json();
    price_table *from_text = load_text(text, err, sizeof(err)); /* what init writes reads back */
    assert_non_null(from_text);
    free(text);
    for (size_t i = 0; i < catalog_model_count(); i++) {
        json_t *pricing = price_model_json(table, catalog_model_at(i), "vip");
        assert_non_null(pricing);
        assert_true(json_number_value(json_object_get(pricing, "credits")) > 0);
        assert_float_equal(json_number_value(json_object_get(pricing, "group_multiplier")), 0.8, 1e-9);
        json_decref(pricing);
    }
    price_table_free(from_text);
    price_table_free(table);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(billable_seconds_follow_the_seed_rules),
        cmocka_unit_test(quotes_apply_multipliers_and_groups_and_round_up),
        cmocka_unit_test(the_quote_rule_names_the_billing_rule_applied),
        cmocka_unit_test(settlement_charges_the_real_length_never_above_the_reservation),
        cmocka_unit_test(malformed_price_files_are_refused_with_a_reason),
        cmocka_unit_test(the_defaults_load_and_describe_every_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
