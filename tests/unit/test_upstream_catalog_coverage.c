/* test_upstream_catalog_coverage.c — every catalog model is complete: it has a price in the default
 * price table, a billing rule, consistent media rules, a sandbox recipe, the sandbox serves it and at
 * least one real provider does. The checker is one function over one model, so it is also run on
 * deliberately incomplete fake rows to show that each gap is reported (a checker that never fails
 * proves nothing). Adding a model and forgetting a part fails here; CONTRIBUTING.md says which. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/prices.h"
#include "upstream/upstream.h"

typedef struct coverage_report {
    int gaps;
    size_t used;
    char text[4096];
} coverage_report;

static void gap(coverage_report *report, const catalog_model *model, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static void gap(coverage_report *report, const catalog_model *model, const char *format, ...)
{
    report->gaps++;
    if (report->used >= sizeof(report->text)) return;
    int n = snprintf(report->text + report->used, sizeof(report->text) - report->used, "%s: ", model->id);
    if (n > 0) report->used += (size_t)n;
    if (report->used >= sizeof(report->text)) return;
    va_list args;
    va_start(args, format);
    n = vsnprintf(report->text + report->used, sizeof(report->text) - report->used, format, args);
    va_end(args);
    if (n > 0) report->used += (size_t)n;
    if (report->used + 1 < sizeof(report->text)) {
        report->text[report->used++] = '\n';
        report->text[report->used] = '\0';
    }
}

static bool names_field(const catalog_model *model, const char *name)
{
    return name != NULL && catalog_model_field(model, name) != NULL;
}

/* The model's media input of that kind, or NULL. */
static const catalog_media_input *input_of_kind(const catalog_model *model, catalog_media_kind kind)
{
    for (size_t i = 0; i < model->media_count; i++)
        if (model->media[i].kind == kind) return &model->media[i];
    return NULL;
}

static bool required_input(const catalog_model *model, catalog_media_kind kind)
{
    const catalog_media_input *input = input_of_kind(model, kind);
    const catalog_field *field = input ? catalog_model_field(model, input->field) : NULL;
    return field != NULL && field->required;
}

static bool timed_input(const catalog_model *model, catalog_media_kind kind)
{
    const catalog_media_input *input = input_of_kind(model, kind);
    return input != NULL && input->needs_duration;
}

static void check_media(const catalog_model *model, coverage_report *report)
{
    if (model->media_count > CATALOG_MAX_MEDIA_INPUTS)
        gap(report, model, "media rules: %zu inputs, at most %d", model->media_count,
            CATALOG_MAX_MEDIA_INPUTS);
    bool seen[CATALOG_MEDIA_IMAGE + 1] = {false};
    for (size_t i = 0; i < model->media_count; i++) {
        const catalog_media_input *input = &model->media[i];
        const char *name = input->field ? input->field : "(null)";
        const catalog_field *field = catalog_model_field(model, input->field);
        catalog_type wanted = input->first_item ? CATALOG_TYPE_URL_ARRAY : CATALOG_TYPE_URL;
        if (field == NULL)
            gap(report, model, "media rules: input %s names no field of the model", name);
        else if (field->type != wanted)
            gap(report, model, "media rules: input %s is not a field of %s type", name,
                input->first_item ? "url_array" : "url");
        if (input->kind > CATALOG_MEDIA_IMAGE) {
            gap(report, model, "media rules: input %s has no known kind", name);
        } else {
            if (seen[input->kind]) gap(report, model, "media rules: two inputs of one kind (%s)", name);
            seen[input->kind] = true;
        }
        const catalog_media_formats *formats = input->formats;
        if (formats == NULL || formats->not_kind == NULL || formats->not_format == NULL ||
            (formats->containers == NULL && formats->codecs == NULL))
            gap(report, model, "media rules: input %s lacks its formats or their refusal words", name);
        for (const catalog_length_limit *limit = input->length_limits; limit && limit->max_seconds > 0;
             limit++) {
            if (limit->why == NULL) gap(report, model, "media rules: a length limit of %s says no why", name);
            if (limit->when.param && !names_field(model, limit->when.param))
                gap(report, model, "media rules: a length limit of %s depends on unknown %s", name,
                    limit->when.param);
            if (!input->needs_duration)
                gap(report, model, "media rules: %s has a length limit but needs no duration", name);
        }
    }
}

static void check_billing(const catalog_model *model, coverage_report *report)
{
    const catalog_billing_rule *rule = model->billable;
    if (rule == NULL || rule->seconds == CATALOG_SECONDS_NONE) {
        gap(report, model, "no billable rule");
        return;
    }
    bool unconditional = false;
    for (; rule->seconds != CATALOG_SECONDS_NONE; rule++) {
        unconditional = rule->when.param == NULL;
        if (rule->when.param && !names_field(model, rule->when.param))
            gap(report, model, "billable rule: depends on unknown %s", rule->when.param);
        bool audio = rule->seconds == CATALOG_SECONDS_AUDIO || rule->seconds == CATALOG_SECONDS_SHORTER;
        bool video = rule->seconds == CATALOG_SECONDS_VIDEO || rule->seconds == CATALOG_SECONDS_SHORTER;
        if (audio && !timed_input(model, CATALOG_MEDIA_AUDIO))
            gap(report, model, "billable rule: counts an audio input the model does not time");
        if (video && !timed_input(model, CATALOG_MEDIA_VIDEO))
            gap(report, model, "billable rule: counts a video input the model does not time");
        if (rule->seconds == CATALOG_SECONDS_PARAM) {
            const catalog_field *field = catalog_model_field(model, rule->param);
            if (field == NULL || (field->type != CATALOG_TYPE_INTEGER && field->type != CATALOG_TYPE_NUMBER))
                gap(report, model, "billable rule: seconds from %s, not a numeric field",
                    rule->param ? rule->param : "(null)");
        }
    }
    if (!unconditional)
        gap(report, model, "billable rule: the last rule has a condition (some tasks cost 0)");
}

static void check_sandbox_recipe(const catalog_model *model, coverage_report *report)
{
    /* the inputs each media_render kind needs (media.h) */
    static const struct {
        bool video, audio, image;
    } needs[] = {[CATALOG_RENDER_LIPSYNC] = {true, true, false},
                 [CATALOG_RENDER_TALKING_HEAD] = {false, true, true},
                 [CATALOG_RENDER_MOTION_CONTROL] = {true, false, true},
                 [CATALOG_RENDER_TEST_CARD] = {false, false, false}};
    catalog_render_kind render = model->sandbox.render;
    if (render == CATALOG_RENDER_NONE || render > CATALOG_RENDER_TEST_CARD) {
        gap(report, model, "no sandbox recipe");
        return;
    }
    if ((needs[render].video && !required_input(model, CATALOG_MEDIA_VIDEO)) ||
        (needs[render].audio && !required_input(model, CATALOG_MEDIA_AUDIO)) ||
        (needs[render].image && !required_input(model, CATALOG_MEDIA_IMAGE)))
        gap(report, model, "sandbox recipe: the render needs an input the model does not require");
    for (const catalog_render_arg *arg = model->sandbox.args; arg && arg->kind != CATALOG_RENDER_ARG_NONE;
         arg++) {
        if (arg->kind > CATALOG_RENDER_ARG_KEEP_SOUND)
            gap(report, model, "sandbox recipe: an unknown argument");
        if (!names_field(model, arg->param))
            gap(report, model, "sandbox recipe: an argument reads unknown %s",
                arg->param ? arg->param : "(null)");
        if (arg->kind == CATALOG_RENDER_ARG_FRAME &&
            (!names_field(model, arg->portrait_param) || !arg->pixels))
            gap(report, model, "sandbox recipe: a frame without its orientation field or default size");
        if (arg->kind == CATALOG_RENDER_ARG_SHORT_SIDE && !arg->pixels)
            gap(report, model, "sandbox recipe: a short side without its default size");
        if (arg->kind == CATALOG_RENDER_ARG_KEEP_SOUND && arg->value == NULL)
            gap(report, model, "sandbox recipe: keep-sound without the value meaning yes");
    }
}

/* Every gap of one model, described in report; returns how many. providers is a NULL-terminated list
 * (upstream_providers() in production); the provider named "sandbox" must serve the model and at least
 * one other must. */
static int model_coverage_gaps(const catalog_model *model, const price_table *prices,
                               const upstream_provider *const *providers, coverage_report *report)
{
    int before = report->gaps;
    if (prices == NULL || !price_table_has_model(prices, model->id))
        gap(report, model, "no price in the default price table (catalog/prices.c)");
    check_billing(model, report);
    check_media(model, report);
    check_sandbox_recipe(model, report);
    bool sandbox = false, provider = false;
    for (size_t i = 0; providers[i]; i++) {
        if (!upstream_provider_serves(providers[i], model->id)) continue;
        if (strcmp(providers[i]->name, "sandbox") == 0)
            sandbox = true;
        else
            provider = true;
    }
    if (!sandbox) gap(report, model, "the sandbox does not serve it");
    if (!provider) gap(report, model, "no provider serves it (src/upstream/<provider>.c)");
    return report->gaps - before;
}

static price_table *default_prices(void)
{
    char err[256] = "";
    price_table *table = price_table_load(NULL, err, sizeof(err));
    assert_non_null(table);
    return table;
}

static void every_catalog_model_is_complete(void **state)
{
    (void)state;
    price_table *prices = default_prices();
    coverage_report report = {0};
    assert_true(catalog_model_count() > 0);
    for (size_t i = 0; i < catalog_model_count(); i++)
        model_coverage_gaps(catalog_model_at(i), prices, upstream_providers(), &report);
    if (report.gaps) print_error("%s", report.text);
    assert_int_equal(report.gaps, 0);
    price_table_free(prices);
}

/* The fake rows below start from a complete one (sora-2's) and break one part each. */
static int gaps_of(const catalog_model *model, const upstream_provider *const *providers,
                   coverage_report *report)
{
    price_table *prices = default_prices();
    memset(report, 0, sizeof(*report));
    int gaps = model_coverage_gaps(model, prices, providers, report);
    price_table_free(prices);
    return gaps;
}

static void a_model_without_price_or_provider_is_reported(void **state)
{
    (void)state;
    catalog_model fake = *catalog_model_find("sora-2");
    fake.id = "sora-9"; /* a new row: not in the price table, no provider file names it */
    coverage_report report;
    assert_int_equal(gaps_of(&fake, upstream_providers(), &report), 3);
    assert_non_null(strstr(report.text, "sora-9: no price"));
    assert_non_null(strstr(report.text, "sora-9: the sandbox does not serve it"));
    assert_non_null(strstr(report.text, "sora-9: no provider serves it"));

    /* a real model that only the sandbox serves lacks a provider, nothing else */
    const upstream_provider *only_sandbox[] = {upstream_provider_find("sandbox"), NULL};
    catalog_model real = *catalog_model_find("sync-3");
    assert_int_equal(gaps_of(&real, only_sandbox, &report), 1);
    assert_non_null(strstr(report.text, "sync-3: no provider serves it"));
    /* and a provider list without the sandbox is noticed too */
    const upstream_provider *only_sync[] = {upstream_provider_find("sync"), NULL};
    assert_int_equal(gaps_of(&real, only_sync, &report), 1);
    assert_non_null(strstr(report.text, "the sandbox does not serve it"));
}

static void a_row_without_billing_or_recipe_is_reported(void **state)
{
    (void)state;
    coverage_report report;
    catalog_model fake = *catalog_model_find("sora-2");
    fake.billable = NULL;
    assert_int_equal(gaps_of(&fake, upstream_providers(), &report), 1);
    assert_non_null(strstr(report.text, "no billable rule"));

    fake = *catalog_model_find("sora-2");
    fake.sandbox.render = CATALOG_RENDER_NONE;
    assert_int_equal(gaps_of(&fake, upstream_providers(), &report), 1);
    assert_non_null(strstr(report.text, "no sandbox recipe"));

    /* billed by an audio input the model does not have */
    static const catalog_billing_rule by_audio[] = {{.seconds = CATALOG_SECONDS_AUDIO},
                                                    {.seconds = CATALOG_SECONDS_NONE}};
    fake = *catalog_model_find("sora-2");
    fake.billable = by_audio;
    assert_int_equal(gaps_of(&fake, upstream_providers(), &report), 1);
    assert_non_null(strstr(report.text, "counts an audio input"));

    /* only conditional rules: some tasks would cost nothing */
    static const catalog_billing_rule conditional[] = {
        {.when = {"resolution", "1080p"}, .seconds = CATALOG_SECONDS_PARAM, .param = "duration"},
        {.seconds = CATALOG_SECONDS_NONE}};
    fake.billable = conditional;
    assert_int_equal(gaps_of(&fake, upstream_providers(), &report), 1);
    assert_non_null(strstr(report.text, "the last rule has a condition"));

    /* a lip-sync render for a model without video and audio inputs */
    fake = *catalog_model_find("sora-2");
    fake.sandbox.render = CATALOG_RENDER_LIPSYNC;
    assert_int_equal(gaps_of(&fake, upstream_providers(), &report), 1);
    assert_non_null(strstr(report.text, "the render needs an input"));

    /* a recipe argument that reads a field the model does not have */
    static const catalog_render_arg stray[] = {{.kind = CATALOG_RENDER_ARG_TEXT, .param = "caption"},
                                               {.kind = CATALOG_RENDER_ARG_NONE}};
    fake = *catalog_model_find("sora-2");
    fake.sandbox.args = stray;
    assert_int_equal(gaps_of(&fake, upstream_providers(), &report), 1);
    assert_non_null(strstr(report.text, "reads unknown caption"));
}

static void inconsistent_media_rules_are_reported(void **state)
{
    (void)state;
    coverage_report report;
    const catalog_model *sora = catalog_model_find("sora-2");
    catalog_model fake = *sora;

    /* a media input naming a field the model lacks */
    catalog_media_input media[] = {sora->media[0]};
    media[0].field = "image_url";
    fake.media = media;
    assert_int_equal(gaps_of(&fake, upstream_providers(), &report), 1);
    assert_non_null(strstr(report.text, "input image_url names no field"));

    /* a media input on a field that is not a URL */
    media[0].field = "prompt", media[0].first_item = false;
    assert_int_equal(gaps_of(&fake, upstream_providers(), &report), 1);
    assert_non_null(strstr(report.text, "input prompt is not a field of url type"));

    /* an input without its formats */
    media[0] = sora->media[0];
    media[0].formats = NULL;
    assert_int_equal(gaps_of(&fake, upstream_providers(), &report), 1);
    assert_non_null(strstr(report.text, "lacks its formats"));

    /* a length limit on an input whose length is never read */
    media[0] = sora->media[0];
    static const catalog_length_limit limit[] = {{.max_seconds = 5, .why = "for a test"}, {.max_seconds = 0}};
    media[0].length_limits = limit;
    assert_int_equal(gaps_of(&fake, upstream_providers(), &report), 1);
    assert_non_null(strstr(report.text, "has a length limit but needs no duration"));

    /* two inputs of one kind (the sandbox has one slot per kind) */
    catalog_media_input twice[] = {sora->media[0], sora->media[0]};
    fake.media = twice, fake.media_count = 2;
    assert_int_equal(gaps_of(&fake, upstream_providers(), &report), 1);
    assert_non_null(strstr(report.text, "two inputs of one kind"));
}

static void the_sandbox_serves_exactly_the_catalog(void **state)
{
    (void)state;
    const upstream_provider *sandbox = upstream_provider_find("sandbox");
    assert_non_null(sandbox);
    for (size_t i = 0; i < catalog_model_count(); i++)
        assert_true(upstream_provider_serves(sandbox, catalog_model_at(i)->id));
    assert_false(upstream_provider_serves(sandbox, "kling-v1"));
    assert_false(upstream_provider_serves(sandbox, ""));
    assert_false(upstream_provider_serves(sandbox, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_catalog_model_is_complete),
        cmocka_unit_test(a_model_without_price_or_provider_is_reported),
        cmocka_unit_test(a_row_without_billing_or_recipe_is_reported),
        cmocka_unit_test(inconsistent_media_rules_are_reported),
        cmocka_unit_test(the_sandbox_serves_exactly_the_catalog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
