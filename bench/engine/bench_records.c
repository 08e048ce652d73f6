/* bench_records.c — the API's and the engine's records of one sora-2 task on fal (see bench_records.h). */
#include "bench_records.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/prices.h"
#include "util/error.h"
#include "util/ids.h"

/* What a client of the product sends (POST /v1/videos/generations). */
static const char REQUEST[] = "{\"model\": \"" BENCH_MODEL "\", \"prompt\": \"placeholder\", \"duration\": 8,"
                              " \"aspect_ratio\": \"16:9\", \"callback_url\": \"" BENCH_CALLBACK_URL "\"}";

/* A prompt of a realistic length (about 260 characters), different for every task. */
static const char PROMPT_FORMAT[] =
    "A slow dolly shot through a rain-soaked night market, steam rising from the food stalls, neon signs "
    "reflected in the wet cobblestones, a street cook flipping noodles in a flaming wok, shallow depth of "
    "field, warm and teal colour grade, 35 mm film grain. Take %zu.";

bool bench_template_init(bench_template *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof(*out));
    json_error_t parse_error;
    json_t *body = json_loads(REQUEST, 0, &parse_error);
    const catalog_model *model = NULL;
    json_t *params = NULL;
    reelay_error invalid;
    memset(&invalid, 0, sizeof(invalid));
    if (body == NULL || catalog_validate(body, &model, &params, NULL, &invalid) != 0) {
        snprintf(err, err_size, "the sora-2 request does not validate: %s",
                 body ? invalid.message : parse_error.text);
        json_decref(body);
        return false;
    }
    json_decref(body);
    price_table *table = price_table_load(NULL, err, err_size);
    if (table == NULL) {
        json_decref(params);
        return false;
    }
    snprintf(out->user_group, sizeof(out->user_group), "default");
    price_quote quote = price_quote_task(table, model, params, &(billing_inputs){0}, out->user_group);
    price_table_free(table);
    out->params = params;
    out->reserve = quote.credits;
    out->billing_json = price_quote_json(&quote);
    if (out->billing_json == NULL || out->reserve <= 0) {
        snprintf(err, err_size, "the sora-2 request could not be priced");
        bench_template_clear(out);
        return false;
    }
    out->charge = price_settle(out->billing_json, BENCH_RESULT_SECONDS);
    return true;
}

void bench_template_clear(bench_template *tmpl)
{
    json_decref(tmpl->params);
    free(tmpl->billing_json);
    memset(tmpl, 0, sizeof(*tmpl));
}

bool bench_task_fill(task_record *task, const bench_template *tmpl, const char *key_id, size_t number,
                     int64_t now)
{
    memset(task, 0, sizeof(*task));
    char prompt[512];
    snprintf(prompt, sizeof(prompt), PROMPT_FORMAT, number);
    ids_task_new(task->id, now);
    snprintf(task->key_id, sizeof(task->key_id), "%s", key_id);
    snprintf(task->model, sizeof(task->model), "%s", BENCH_MODEL);
    snprintf(task->user_group, sizeof(task->user_group), "%s", tmpl->user_group);
    task->state = TASK_PENDING;
    task->created_at = task->updated_at = now;
    task->deadline_at = now + BENCH_TASK_TIMEOUT_SECONDS;
    task->credits_reserved = tmpl->reserve;
    json_t *params = tmpl->params;
    if (json_object_set_new(params, "prompt", json_string(prompt)) == 0)
        task->params_json = json_dumps(params, JSON_COMPACT);
    task->billing_json = strdup(tmpl->billing_json);
    if (task->params_json == NULL || task->billing_json == NULL) {
        task_record_clear(task);
        return false;
    }
    return true;
}

void bench_job_of(const char *task_id, bench_job *out)
{
    unsigned char hash[16];
    crypto_generichash(hash, sizeof(hash), (const unsigned char *)task_id, strlen(task_id), NULL, 0);
    hash[6] = (unsigned char)((hash[6] & 0x0f) | 0x40); /* shaped as a version 4 UUID, as fal's are */
    hash[8] = (unsigned char)((hash[8] & 0x3f) | 0x80);
    char hex[33];
    sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
    snprintf(out->id, sizeof(out->id), "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
             hex + 20);
    static const char base[] = "https://queue.fal.run/fal-ai/sora-2/requests/";
    snprintf(out->status_url, sizeof(out->status_url), "%s%s/status", base, out->id);
    snprintf(out->result_url, sizeof(out->result_url), "%s%s", base, out->id);
    snprintf(out->cancel_url, sizeof(out->cancel_url), "%s%s/cancel", base, out->id);
}

char *bench_upstream_record(const char *phase, const bench_job *job)
{
    json_t *record = json_object();
    if (record == NULL) return NULL;
    json_object_set_new(record, "phase", json_string(phase));
    json_object_set_new(record, "channel", json_string(BENCH_CHANNEL));
    if (job != NULL)
        json_object_set_new(record, "job",
                            json_pack("{s:s, s:s, s:s, s:s}", "id", job->id, "status_url", job->status_url,
                                      "result_url", job->result_url, "cancel_url", job->cancel_url));
    json_object_set_new(record, "tried", json_array());
    char *text = json_dumps(record, JSON_COMPACT);
    json_decref(record);
    return text;
}

char *bench_results_json(const char *task_id)
{
    char object[128], poster[128], spritesheet[128];
    snprintf(object, sizeof(object), "results/%s/output.mp4", task_id);
    snprintf(poster, sizeof(poster), "results/%s/poster.jpg", task_id);
    snprintf(spritesheet, sizeof(spritesheet), "results/%s/spritesheet.jpg", task_id);
    json_t *results = json_pack("[{s:s, s:s, s:f, s:i, s:i, s:s, s:s}]", "object", object, "content_type",
                                "video/mp4", "duration", BENCH_RESULT_SECONDS, "width", 1280, "height", 720,
                                "thumbnail", poster, "spritesheet", spritesheet);
    char *text = results ? json_dumps(results, JSON_COMPACT) : NULL;
    json_decref(results);
    return text;
}
