/* openai_videos_map.c — the video object of a task, and the create body's mapping (see the header). */
#include "api/openai_videos_map.h"

#include <stdio.h>
#include <string.h>

#include "catalog/catalog.h"

const char *openai_video_status(task_state state)
{
    switch (state) {
    case TASK_PENDING:
    case TASK_SUBMITTING:
        return "queued";
    case TASK_PROCESSING:
    case TASK_FINALIZING:
        return "in_progress";
    case TASK_COMPLETED:
        return "completed";
    default:
        return "failed";
    }
}

/* Reads 1 to 5 decimal digits from *text, moving it past them; -1 when there are none or too many. */
static long read_digits(const char **text)
{
    long value = 0;
    int digits = 0;
    while (**text >= '0' && **text <= '9') {
        if (++digits > 5) return -1;
        value = value * 10 + (**text - '0');
        (*text)++;
    }
    return digits ? value : -1;
}

bool openai_size_parse(const char *size, char aspect[8], char resolution[8])
{
    if (size == NULL) return false;
    const char *cursor = size;
    long width = read_digits(&cursor);
    if (width <= 0 || *cursor++ != 'x') return false;
    long height = read_digits(&cursor);
    if (height <= 0 || *cursor != '\0') return false;
    long short_side = width < height ? width : height;
    if (short_side == 1024) short_side = 1080; /* OpenAI's sora-2-pro sizes, 1792x1024 and 1024x1792 */
    snprintf(aspect, 8, "%s", width > height ? "16:9" : width < height ? "9:16" : "1:1");
    return snprintf(resolution, 8, "%ldp", short_side) < 8;
}

bool openai_size_from(const char *aspect, const char *resolution, char *out, size_t out_size)
{
    if (out_size > 0) out[0] = '\0';
    if (aspect == NULL || resolution == NULL) return false;
    bool landscape = strcmp(aspect, "16:9") == 0 || strcmp(aspect, "1280x720") == 0;
    bool portrait = strcmp(aspect, "9:16") == 0 || strcmp(aspect, "720x1280") == 0;
    const char *size = NULL;
    if (strcmp(resolution, "720p") == 0 && (landscape || portrait))
        size = landscape ? "1280x720" : "720x1280";
    if (strcmp(resolution, "1080p") == 0 && (landscape || portrait))
        size = landscape ? "1792x1024" : "1024x1792";
    if (size == NULL || strlen(size) >= out_size) return false;
    memcpy(out, size, strlen(size) + 1);
    return true;
}

/* The first stored result's number `name` (its width, height, duration), or -1. */
static double first_result_number(const json_t *results, const char *name)
{
    json_t *value = json_object_get(json_array_get(results, 0), name);
    return json_is_number(value) ? json_number_value(value) : -1;
}

/* seconds and size: from the parameters, else (a model without them) from the stored result. */
static int set_seconds_and_size(json_t *video, const json_t *params, const json_t *results)
{
    json_t *duration = json_object_get(params, "duration");
    double seconds =
        json_is_number(duration) ? json_number_value(duration) : first_result_number(results, "duration");
    char text[32];
    json_t *seconds_value = json_null();
    if (seconds >= 0 && snprintf(text, sizeof(text), "%.0f", seconds) < (int)sizeof(text))
        seconds_value = json_string(text);
    char size[24];
    json_t *size_value = json_null();
    if (openai_size_from(json_string_value(json_object_get(params, "aspect_ratio")),
                         json_string_value(json_object_get(params, "resolution")), size, sizeof(size))) {
        size_value = json_string(size);
    } else {
        double width = first_result_number(results, "width"), height = first_result_number(results, "height");
        if (width > 0 && height > 0 &&
            snprintf(size, sizeof(size), "%.0fx%.0f", width, height) < (int)sizeof(size))
            size_value = json_string(size);
    }
    return json_object_set_new(video, "seconds", seconds_value) |
           json_object_set_new(video, "size", size_value);
}

static json_t *time_or_null(int64_t seconds)
{
    return seconds > 0 ? json_integer(seconds) : json_null();
}

json_t *openai_video_object(const task_record *task, int64_t link_ttl_seconds)
{
    bool finished = task_state_is_terminal(task->state);
    bool completed = task->state == TASK_COMPLETED;
    json_t *params = task->params_json ? json_loads(task->params_json, 0, NULL) : NULL;
    json_t *results = completed && task->results_json ? json_loads(task->results_json, 0, NULL) : NULL;
    const char *prompt = json_string_value(json_object_get(params, "prompt"));
    json_t *video = json_pack(
        "{s:s, s:s, s:s, s:s, s:i, s:I, s:o, s:o, s:o, s:o}", "id", task->id, "object", "video", "model",
        task->model, "status", openai_video_status(task->state), "progress", task->progress, "created_at",
        (json_int_t)task->created_at, "completed_at", time_or_null(finished ? task->completed_at : 0),
        "expires_at",
        time_or_null(completed && task->completed_at > 0 ? task->completed_at + link_ttl_seconds : 0),
        "prompt", prompt ? json_string(prompt) : json_null(), "remixed_from_video_id",
        task->remixed_from[0] ? json_string(task->remixed_from) : json_null());
    int failed = video == NULL || set_seconds_and_size(video, params, results) != 0;
    json_t *error = json_null();
    if (!failed && (task->state == TASK_FAILED || task->state == TASK_CANCELLED)) {
        const char *code = task->error_code[0] ? task->error_code : "cancelled";
        const char *message = task->error_message             ? task->error_message
                              : task->state == TASK_CANCELLED ? "The task was cancelled."
                                                              : "The task failed.";
        error = json_pack("{s:s, s:s}", "code", code, "message", message);
    }
    if (!failed && json_object_set_new(video, "error", error) != 0) failed = 1;
    json_decref(params);
    json_decref(results);
    if (failed) {
        json_decref(video);
        return NULL;
    }
    return video;
}

/* Whether the model (NULL: unknown, left to catalog_validate) has the field. */
static bool model_has(const catalog_model *model, const char *field)
{
    return model == NULL || catalog_model_field(model, field) != NULL;
}

/* Fills err with 500 internal_error; always false. */
static bool out_of_memory(reelay_error *err)
{
    reelay_error_raise(err, "internal_error", NULL, "Out of memory.");
    return false;
}

/* `seconds` → `duration`: a string of digits or a non-negative integer. */
static bool map_seconds(json_t *unified, const json_t *seconds, const catalog_model *model, reelay_error *err)
{
    if (json_object_get(unified, "duration") != NULL) {
        reelay_error_raise(err, "duplicate_field", "seconds", "Give seconds or duration, not both.");
        return false;
    }
    json_int_t value = -1;
    const char *text = json_string_value(seconds);
    if (json_is_integer(seconds)) value = json_integer_value(seconds);
    if (text != NULL) {
        const char *cursor = text;
        long parsed = read_digits(&cursor);
        value = *cursor == '\0' ? parsed : -1;
    }
    if (value < 0) {
        reelay_error_raise(err, "invalid_value", "seconds",
                           "seconds must be a whole number of seconds, as \"8\".");
        return false;
    }
    if (!model_has(model, "duration")) {
        reelay_error_raise(err, "unsupported_field", "seconds",
                           "%s does not support seconds: its length comes from its inputs.", model->id);
        return false;
    }
    return json_object_set_new(unified, "duration", json_integer(value)) == 0 || out_of_memory(err);
}

/* `size` → `aspect_ratio` and `resolution`, as far as the model has them. */
static bool map_size(json_t *unified, const json_t *size, const catalog_model *model, reelay_error *err)
{
    if (json_object_get(unified, "aspect_ratio") != NULL || json_object_get(unified, "resolution") != NULL) {
        reelay_error_raise(err, "duplicate_field", "size",
                           "Give size, or aspect_ratio and resolution, not both.");
        return false;
    }
    char aspect[8], resolution[8];
    if (!openai_size_parse(json_string_value(size), aspect, resolution)) {
        reelay_error_raise(err, "invalid_value", "size",
                           "size must be WIDTHxHEIGHT in pixels, as \"1280x720\".");
        return false;
    }
    bool has_aspect = model_has(model, "aspect_ratio"), has_resolution = model_has(model, "resolution");
    if (!has_aspect && !has_resolution) {
        reelay_error_raise(err, "unsupported_field", "size",
                           "%s does not support size: its frame comes from its inputs.", model->id);
        return false;
    }
    int failed = 0;
    if (has_aspect) failed |= json_object_set_new(unified, "aspect_ratio", json_string(aspect));
    if (has_resolution) failed |= json_object_set_new(unified, "resolution", json_string(resolution));
    return failed == 0 || out_of_memory(err);
}

const catalog_media_input *openai_reference_input(const catalog_model *model)
{
    for (size_t i = 0; model != NULL && i < model->media_count; i++)
        if (model->media[i].kind == CATALOG_MEDIA_IMAGE) return &model->media[i];
    return NULL;
}

bool openai_reference_set(json_t *unified, const catalog_model *model, const char *url, reelay_error *err)
{
    const catalog_media_input *input = openai_reference_input(model);
    if (input == NULL) {
        reelay_error_raise(err, "unsupported_field", "input_reference",
                           "%s does not take an image: it has no input_reference.", model ? model->id : "");
        return false;
    }
    if (json_object_get(unified, input->field) != NULL) {
        reelay_error_raise(err, "duplicate_field", "input_reference", "Give input_reference or %s, not both.",
                           input->field);
        return false;
    }
    json_t *value = input->first_item ? json_pack("[s]", url) : json_string(url);
    return (value != NULL && json_object_set_new(unified, input->field, value) == 0) || out_of_memory(err);
}

/* OpenAI's JSON input_reference, {"image_url": "…"}, onto the model's image field. */
static bool map_reference(json_t *unified, const json_t *reference, const catalog_model *model,
                          reelay_error *err)
{
    const char *url = json_string_value(json_object_get(reference, "image_url"));
    if (json_is_object(reference) && json_object_get(reference, "file_id") != NULL) {
        reelay_error_raise(err, "unsupported_field", "input_reference",
                           "input_reference.file_id is not offered: send the image as a multipart file, or "
                           "give {\"image_url\": …}.");
        return false;
    }
    if (!json_is_object(reference) || json_object_size(reference) != 1 || url == NULL) {
        reelay_error_raise(err, "invalid_type", "input_reference",
                           "input_reference must be {\"image_url\": \"https://…\"} (or a multipart file).");
        return false;
    }
    return openai_reference_set(unified, model, url, err);
}

json_t *openai_param_names(const json_t *body)
{
    const catalog_model *model = catalog_model_find(json_string_value(json_object_get(body, "model")));
    if (json_object_get(body, "model") == NULL) model = catalog_model_find("sora-2");
    const catalog_media_input *reference = openai_reference_input(model);
    json_t *names = json_object();
    int failed = names == NULL;
    if (!failed && json_object_get(body, "seconds"))
        failed |= json_object_set_new(names, "duration", json_string("seconds"));
    if (!failed && json_object_get(body, "size")) {
        failed |= json_object_set_new(names, "aspect_ratio", json_string("size"));
        failed |= json_object_set_new(names, "resolution", json_string("size"));
    }
    if (!failed && reference && json_object_get(body, "input_reference"))
        failed |= json_object_set_new(names, reference->field, json_string("input_reference"));
    if (failed) {
        json_decref(names);
        return NULL;
    }
    return names;
}

json_t *openai_video_request_to_unified(const json_t *body, reelay_error *err)
{
    json_t *unified = json_deep_copy(body);
    if (unified == NULL || !json_is_object(unified)) {
        json_decref(unified);
        reelay_error_raise(err, "internal_error", NULL, "Out of memory.");
        return NULL;
    }
    /* OpenAI's model defaults to sora-2 */
    if (json_object_get(body, "model") == NULL &&
        json_object_set_new(unified, "model", json_string("sora-2")) != 0) {
        json_decref(unified);
        reelay_error_raise(err, "internal_error", NULL, "Out of memory.");
        return NULL;
    }
    const catalog_model *model = catalog_model_find(json_string_value(json_object_get(unified, "model")));
    json_t *seconds = json_object_get(body, "seconds"), *size = json_object_get(body, "size");
    json_t *reference = json_object_get(body, "input_reference");
    /* the Python SDK requires a prompt: an empty one means none where the model takes none */
    const char *prompt = json_string_value(json_object_get(body, "prompt"));
    if (model != NULL && prompt != NULL && prompt[0] == '\0' && !model_has(model, "prompt"))
        json_object_del(unified, "prompt");
    json_object_del(unified, "seconds");
    json_object_del(unified, "size");
    json_object_del(unified, "input_reference");
    bool ok = (seconds == NULL || json_is_null(seconds) || map_seconds(unified, seconds, model, err)) &&
              (size == NULL || json_is_null(size) || map_size(unified, size, model, err)) &&
              (reference == NULL || json_is_null(reference) || model == NULL ||
               map_reference(unified, reference, model, err));
    if (!ok) {
        json_decref(unified);
        return NULL;
    }
    return unified;
}
