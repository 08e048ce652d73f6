/* task_view.c — the one task view (see task_view.h). */
#include "engine/task_view.h"

#include <jansson.h>
#include <string.h>

#include "catalog/catalog.h"
#include "upstream/upstream.h"
#include "util/clock.h"

const char *task_view_status(task_state state)
{
    switch (state) {
    case TASK_PENDING:
    case TASK_SUBMITTING:
        return "pending";
    case TASK_PROCESSING:
    case TASK_FINALIZING:
        return "processing";
    default:
        return task_state_name(state);
    }
}

/* A link to the stored object name, expiring with the task's result; false when it cannot be signed. */
static bool sign_result_link(const task_view_links *links, const task_record *task, const char *name,
                             char *url, size_t url_size)
{
    return name != NULL && link_sign_url(links->signer, links->public_url, name,
                                         task->completed_at + links->link_ttl_seconds, url, url_size) == 0;
}

/* Stored results name objects in our storage; the view turns each into a signed link. Previews (the
 * result's thumbnail and spritesheet objects) are shown only when stored. */
static void write_results(const task_view_links *links, const task_record *task, json_text *out)
{
    json_error_t error;
    json_t *stored = task->results_json ? json_loads(task->results_json, 0, &error) : NULL;
    json_text_raw(out, "[");
    size_t i, written = 0;
    json_t *item;
    json_array_foreach(stored, i, item)
    {
        const char *name = json_string_value(json_object_get(item, "object"));
        char url[2048];
        if (!sign_result_link(links, task, name, url, sizeof(url))) continue;
        json_text_raw(out, written++ ? ",{" : "{");
        json_text_key(out, "url", true);
        json_text_string(out, url);
        json_text_key(out, "content_type", false);
        json_text_string(out, json_string_value(json_object_get(item, "content_type")));
        json_text_key(out, "duration", false);
        json_text_number(out, json_number_value(json_object_get(item, "duration")));
        json_text_key(out, "width", false);
        json_text_integer(out, json_integer_value(json_object_get(item, "width")));
        json_text_key(out, "height", false);
        json_text_integer(out, json_integer_value(json_object_get(item, "height")));
        static const char *const previews[][2] = {{"thumbnail", "thumbnail_url"},
                                                  {"spritesheet", "spritesheet_url"}};
        for (size_t p = 0; p < sizeof(previews) / sizeof(previews[0]); p++) {
            const char *preview = json_string_value(json_object_get(item, previews[p][0]));
            if (!sign_result_link(links, task, preview, url, sizeof(url))) continue;
            json_text_key(out, previews[p][1], false);
            json_text_string(out, url);
        }
        json_text_raw(out, "}");
    }
    json_text_raw(out, "]");
    json_decref(stored);
}

void task_view_write(const task_view_links *links, const task_record *task, json_text *out)
{
    bool finished = task_state_is_terminal(task->state);
    const catalog_model *model = catalog_model_find(task->model);
    int64_t estimate = 0;
    if (!finished && model != NULL) {
        estimate = model->estimated_seconds - (clock_unix_seconds() - task->created_at);
        if (estimate < 0) estimate = 0;
    }
    json_text_raw(out, "{");
    json_text_key(out, "id", true);
    json_text_string(out, task->id);
    json_text_raw(out, ",\"object\":\"video.generation.task\",\"type\":\"video\"");
    json_text_key(out, "model", false);
    json_text_string(out, task->model);
    json_text_key(out, "status", false);
    json_text_string(out, task_view_status(task->state));
    json_text_key(out, "progress", false);
    json_text_integer(out, task->progress);
    json_text_key(out, "created", false);
    json_text_integer(out, task->created_at);
    json_text_raw(out,
                  finished ? ",\"task_info\":{\"can_cancel\":false" : ",\"task_info\":{\"can_cancel\":true");
    json_text_key(out, "estimated_time", false);
    json_text_integer(out, estimate);
    json_text_raw(out, "}");
    json_text_key(out, "results", false);
    if (task->state == TASK_COMPLETED)
        write_results(links, task, out);
    else
        json_text_raw(out, "null");
    json_text_key(out, "error", false);
    if (task->state == TASK_FAILED || task->state == TASK_CANCELLED) {
        json_text_raw(out, "{");
        json_text_key(out, "code", true);
        json_text_string(out, task->error_code);
        json_text_key(out, "message", false);
        json_text_string(out, task->error_message ? task->error_message : "");
        json_text_raw(out, ",\"type\":\"task_error\"}");
    } else {
        json_text_raw(out, "null");
    }
    json_text_raw(out, ",\"usage\":{");
    json_text_key(out, "credits_reserved", true);
    json_text_integer(out, task->credits_reserved);
    json_text_key(out, "user_group", false);
    json_text_string(out, task->user_group);
    json_text_raw(out, "}}");
}

bool task_view_on_provider(const task_record *task)
{
    if (task_state_is_terminal(task->state) || task->channel[0] == '\0' || task->upstream_json == NULL)
        return false;
    /* The upstream runner (engine/upstream_runner.c) records a task it hands to a channel that runs
     * locally with the phase TASK_PHASE_LOCAL (before, with the name of such a provider: still read so);
     * every other phase is a provider job's. */
    json_t *record = json_loads(task->upstream_json, 0, NULL);
    const char *phase = json_string_value(json_object_get(record, "phase"));
    const upstream_provider *named = phase ? upstream_provider_find(phase) : NULL;
    bool on_provider =
        phase == NULL || (strcmp(phase, TASK_PHASE_LOCAL) != 0 && !(named && named->runs_locally));
    json_decref(record);
    return on_provider;
}
