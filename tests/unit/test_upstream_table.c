/* test_upstream_table.c — the provider registry as a whole (every entry, so a new provider is checked
 * the day it is listed): each entry is complete for what it declares, its model rows name catalog models
 * and honour only their advanced fields, exactly one provider runs locally and it takes no webhooks; and
 * the generic look-ups every caller uses (serves, honours, the webhook wish, the job id of a webhook
 * body, header look-up, the shared link download). Each provider's own webhook entries are tested in
 * its test_upstream_<provider>.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "catalog/catalog.h"
#include "upstream/upstream.h"

static const catalog_field *catalog_field_of(const catalog_model *model, const char *name)
{
    for (size_t i = 0; i < model->field_count; i++)
        if (strcmp(model->fields[i].name, name) == 0) return &model->fields[i];
    return NULL;
}

static void every_entry_is_complete(void **state)
{
    (void)state;
    size_t local = 0, count = 0;
    for (const upstream_provider *const *entry = upstream_providers(); *entry; entry++, count++) {
        const upstream_provider *p = *entry;
        assert_non_null(p->name);
        assert_true(p->name[0] != '\0');
        assert_ptr_equal(upstream_provider_find(p->name), p);
        assert_non_null(p->default_base_url);
        assert_non_null(p->credential_form);
        assert_non_null(p->credential_valid);
        if (p->runs_locally) {
            local++;
            assert_null(p->models);         /* every catalog model: checked below */
            assert_null(p->verify_webhook); /* the webhook route answers 404 for it */
            assert_int_equal(p->webhook_ask, UPSTREAM_WEBHOOK_NEVER);
            continue;
        }
        assert_non_null(p->models);
        assert_non_null(p->models[0].model); /* serves at least one model */
        assert_true(strncmp(p->default_base_url, "https://", 8) == 0);
        assert_non_null(p->build_submit);
        assert_non_null(p->parse_submit);
        assert_non_null(p->build_poll);
        assert_non_null(p->parse_poll);
        assert_non_null(p->build_download);
        assert_true((p->build_result == NULL) == (p->parse_result == NULL));
        if (p->lookup_is_submit) assert_non_null(p->build_lookup);
        /* a provider asked to call back can be verified, and its callbacks name the job */
        if (p->webhook_ask != UPSTREAM_WEBHOOK_NEVER) assert_non_null(p->verify_webhook);
        if (p->verify_webhook != NULL) assert_non_null(p->webhook_job_id_field);
        if (p->webhook_keys_url != NULL) {
            assert_non_null(p->webhook_keys_count);
            assert_non_null(p->verify_webhook);
            assert_true(strncmp(p->webhook_keys_url, "https://", 8) == 0);
        }
    }
    assert_int_equal(local, 1);
    assert_true(count >= 2);
    assert_null(upstream_provider_find("replicate"));
    assert_null(upstream_provider_find(NULL));
}

static void model_rows_name_catalog_models_and_their_advanced_fields(void **state)
{
    (void)state;
    for (const upstream_provider *const *entry = upstream_providers(); *entry; entry++) {
        const upstream_provider *p = *entry;
        if (p->models == NULL) continue; /* every catalog model (the sandbox): no rows */
        for (const upstream_model *row = p->models; row->model; row++) {
            const catalog_model *model = catalog_model_find(row->model);
            if (model == NULL) fail_msg("%s serves %s, which the catalog does not have", p->name, row->model);
            assert_non_null(row->native);
            assert_true(row->native[0] != '\0');
            assert_ptr_equal(upstream_provider_model(p, row->model), row); /* listed once */
            for (size_t i = 0; row->honours && row->honours[i]; i++) {
                const catalog_field *field = catalog_field_of(model, row->honours[i]);
                if (field == NULL || !field->advanced)
                    fail_msg("%s honours %s for %s, which is not one of its advanced fields", p->name,
                             row->honours[i], row->model);
                assert_true(upstream_provider_honours(p, row->model, row->honours[i]));
            }
        }
    }
}

static void lookups_over_the_rows(void **state)
{
    (void)state;
    const upstream_provider *local = NULL;
    for (const upstream_provider *const *entry = upstream_providers(); *entry; entry++)
        if ((*entry)->runs_locally) local = *entry;
    assert_non_null(local);
    /* the local renderer serves every catalog model and honours every option of each */
    for (size_t i = 0; i < catalog_model_count(); i++) {
        const catalog_model *model = catalog_model_at(i);
        assert_true(upstream_provider_serves(local, model->id));
        for (size_t f = 0; f < model->field_count; f++)
            assert_true(upstream_provider_honours(local, model->id, model->fields[f].name));
    }
    assert_false(upstream_provider_serves(local, "no-such-model"));
    assert_false(upstream_provider_honours(local, "no-such-model", "prompt"));
    assert_null(upstream_provider_model(local, NULL));
    assert_false(upstream_provider_serves(local, NULL));

    const upstream_provider *p =
        upstream_providers()[0] == local ? upstream_providers()[1] : upstream_providers()[0];
    const upstream_model *row = &p->models[0];
    assert_ptr_equal(upstream_provider_model(p, row->model), row);
    assert_false(upstream_provider_honours(p, row->model, NULL));
    assert_false(upstream_provider_honours(p, row->model, "not-an-option"));
    assert_false(upstream_model_honours(NULL, "prompt"));
    static const char *const options[] = {"a", "b", NULL};
    upstream_model made = {.model = "m", .native = "n", .honours = options};
    assert_true(upstream_model_honours(&made, "b"));
    assert_false(upstream_model_honours(&made, "c"));
    made.honours = NULL;
    assert_false(upstream_model_honours(&made, "a"));
}

static upstream_webhook_verdict always_unsigned(const upstream_webhook *hook, const char **reason)
{
    (void)hook, (void)reason;
    return UPSTREAM_WEBHOOK_UNSIGNED;
}

static void webhook_wish_follows_the_table(void **state)
{
    (void)state;
    upstream_provider made = {.name = "made-up", .verify_webhook = always_unsigned};
    made.webhook_ask = UPSTREAM_WEBHOOK_ALWAYS;
    assert_true(upstream_webhook_wanted(&made, false));
    assert_true(upstream_webhook_wanted(&made, true));
    made.webhook_ask = UPSTREAM_WEBHOOK_WITH_SECRET;
    assert_false(upstream_webhook_wanted(&made, false));
    assert_true(upstream_webhook_wanted(&made, true));
    made.webhook_ask = UPSTREAM_WEBHOOK_NEVER;
    assert_false(upstream_webhook_wanted(&made, true));
    /* never asked for a webhook it could not check */
    made.webhook_ask = UPSTREAM_WEBHOOK_ALWAYS;
    made.verify_webhook = NULL;
    assert_false(upstream_webhook_wanted(&made, true));
    assert_false(upstream_webhook_wanted(NULL, true));
    for (const upstream_provider *const *entry = upstream_providers(); *entry; entry++)
        if ((*entry)->runs_locally) assert_false(upstream_webhook_wanted(*entry, true));
}

static void job_id(const upstream_provider *p, const char *body, size_t out_size, const char *expected)
{
    char out[64];
    memset(out, 'x', sizeof(out));
    assert_true(out_size <= sizeof(out));
    upstream_webhook_job_id(p, body, strlen(body), out, out_size);
    assert_string_equal(out, expected);
}

static void webhook_job_id_reads_the_tables_field(void **state)
{
    (void)state;
    upstream_provider made = {.name = "made-up", .webhook_job_id_field = "id"};
    job_id(&made, "{\"id\":\"job-1\"}", 64, "job-1");
    job_id(&made, "{\"id\":\"job-1\"}", 6, "job-1");
    job_id(&made, "{\"id\":\"job-1\"}", 5, ""); /* does not fit: nothing, never a cut id */
    job_id(&made, "{\"id\":1}", 64, "");
    job_id(&made, "[\"id\"]", 64, "");
    job_id(&made, "{\"id\":\"job-1\"", 64, "");
    job_id(&made, "", 64, "");
    made.webhook_job_id_field = "data.object.id";
    job_id(&made, "{\"data\":{\"object\":{\"id\":\"deep\"}}}", 64, "deep");
    job_id(&made, "{\"data\":{\"object\":\"deep\"}}", 64, "");
    job_id(&made, "{\"data\":{\"id\":\"shallow\"}}", 64, "");
    made.webhook_job_id_field = "data..id"; /* an empty segment names nothing */
    job_id(&made, "{\"data\":{\"\":{\"id\":\"x\"}}}", 64, "");
    made.webhook_job_id_field = NULL;
    job_id(&made, "{\"id\":\"job-1\"}", 64, "");
    char untouched[4] = "abc";
    upstream_webhook_job_id(&made, "{}", 2, untouched, 0);
    assert_string_equal(untouched, "abc");
    /* a body with bytes after its JSON (here after a NUL) is not JSON: it names nothing */
    made.webhook_job_id_field = "id";
    char out[32];
    upstream_webhook_job_id(&made, "{\"id\":\"a\"}\0junk", 15, out, sizeof(out));
    assert_string_equal(out, "");
}

static void webhook_headers_by_lower_case_name(void **state)
{
    (void)state;
    upstream_header headers[] = {{"webhook-id", "first"}, {"webhook-id", "second"}, {"empty", NULL}};
    upstream_webhook hook = {.headers = headers, .header_count = 3};
    assert_string_equal(upstream_webhook_header(&hook, "webhook-id"), "first");
    assert_string_equal(upstream_webhook_header(&hook, "empty"), "");
    assert_string_equal(upstream_webhook_header(&hook, "absent"), "");
    assert_string_equal(upstream_webhook_header(&hook, "Webhook-Id"), ""); /* names arrive lower-cased */
    hook.header_count = 0;
    assert_string_equal(upstream_webhook_header(&hook, "webhook-id"), "");
    /* Standard Webhooks with no secret: refused for that reason, before any header is read */
    const char *reason = NULL;
    assert_int_equal(upstream_webhook_verify_standard(&hook, &reason), UPSTREAM_WEBHOOK_REFUSED);
    assert_string_equal(reason, "no webhook secret set");
    hook.secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    hook.body = "{}", hook.body_size = 2;
    assert_int_equal(upstream_webhook_verify_standard(&hook, &reason), UPSTREAM_WEBHOOK_REFUSED);
    assert_string_equal(reason, "bad signature");
}

static void link_download_never_carries_the_credential(void **state)
{
    (void)state;
    upstream_context ctx = {.base_url = "https://api.example", .credential = "secret"};
    upstream_job job = {.id = "job-1"};
    upstream_outcome done;
    memset(&done, 0, sizeof(done));
    upstream_request request;
    memset(&request, 0, sizeof(request));
    snprintf(done.media_url, sizeof(done.media_url), "https://cdn.example/out.mp4?token=abc");
    assert_int_equal(upstream_build_link_download(&ctx, &job, &done, &request), 0);
    assert_string_equal(request.method, "GET");
    assert_string_equal(request.url, "https://cdn.example/out.mp4?token=abc");
    assert_false(request.carries_credential);
    assert_int_equal(request.header_count, 0);
    assert_null(request.body);
    upstream_request_clear(&request);
    static const char *const refused[] = {"", "ftp://cdn.example/out.mp4", "file:///etc/passwd", "/out.mp4",
                                          "javascript:alert(1)"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        snprintf(done.media_url, sizeof(done.media_url), "%s", refused[i]);
        assert_int_equal(upstream_build_link_download(&ctx, &job, &done, &request), -1);
        upstream_request_clear(&request);
    }
    /* the longest link that fits is taken whole */
    memset(done.media_url, 'a', sizeof(done.media_url) - 1);
    memcpy(done.media_url, "http://", 7);
    done.media_url[sizeof(done.media_url) - 1] = '\0';
    assert_int_equal(upstream_build_link_download(&ctx, &job, &done, &request), 0);
    assert_int_equal(strlen(request.url), sizeof(done.media_url) - 1);
    upstream_request_clear(&request);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_entry_is_complete),
        cmocka_unit_test(model_rows_name_catalog_models_and_their_advanced_fields),
        cmocka_unit_test(lookups_over_the_rows),
        cmocka_unit_test(webhook_wish_follows_the_table),
        cmocka_unit_test(webhook_job_id_reads_the_tables_field),
        cmocka_unit_test(webhook_headers_by_lower_case_name),
        cmocka_unit_test(link_download_never_carries_the_credential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
