/* sandbox_runner.c — one sandbox task: fetch inputs → probe them → render (media_render) → store the
 * MP4 under results/<task id>/output.mp4 → describe it for the task's results. */
#include "engine/sandbox_runner.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "engine/task_completion.h"
#include "media/media.h"
#include "util/clock.h"
#include "util/log.h"

enum { PROGRESS_AFTER_FETCH = 10, PROGRESS_WRITE_INTERVAL_MS = 250 };

typedef struct progress_reporter {
    store *db;
    const char *task_id;
    int last_written;
    int64_t last_write_ms;
} progress_reporter;

static void report_progress(void *context, int render_percent)
{
    progress_reporter *reporter = context;
    int overall = PROGRESS_AFTER_FETCH + render_percent * (99 - PROGRESS_AFTER_FETCH) / 100;
    int64_t now_ms = clock_monotonic_ms();
    if (overall <= reporter->last_written || now_ms - reporter->last_write_ms < PROGRESS_WRITE_INTERVAL_MS)
        return;
    if (store_task_set_progress(reporter->db, reporter->task_id, overall, clock_unix_seconds()) == STORE_OK) {
        reporter->last_written = overall;
        reporter->last_write_ms = now_ms;
    }
}

static int fail(sandbox_outcome *outcome, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(sandbox_outcome *outcome, const char *code, const char *fmt, ...)
{
    snprintf(outcome->error_code, sizeof(outcome->error_code), "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(outcome->error_message, sizeof(outcome->error_message), fmt, ap);
    va_end(ap);
    return -1;
}

/* Where inputs come from: this server's own storage for its own links, else the guarded fetcher. */
typedef struct input_source {
    const fetch_policy *fetch;
    const local_inputs *local;
} input_source;

/* Downloads one input into dir/name (or takes it from local storage when it is one of our own
 * links) and checks it is the kind of media the field promises. */
static int fetch_input(const input_source *source, const char *field, const char *url,
                       catalog_media_kind kind, const char *dir, const char *name, char *path,
                       size_t path_size, sandbox_outcome *outcome)
{
    if (snprintf(path, path_size, "%s/%s", dir, name) >= (int)path_size)
        return fail(outcome, "internal_error", "%s", "scratch path too long");
    char err[256] = "";
    local_input_status own = local_input_copy(source->local, url, path);
    if (own == LOCAL_INPUT_FAILED)
        return fail(outcome, "input_unreachable", "%s could not be read from this server's storage", field);
    if (own == LOCAL_INPUT_NOT_OURS) {
        fetch_response response;
        fetch_result result = fetch_url_to_file(url, path, source->fetch, &response, err, sizeof(err));
        if (result == FETCH_TOO_LARGE)
            return fail(outcome, "input_too_large", "%s is too large: %s", field, err);
        if (result != FETCH_OK)
            return fail(outcome, "input_unreachable", "%s could not be fetched: %s", field, err);
    }
    media_info info;
    if (media_probe(path, &info, err, sizeof(err)) != 0)
        return fail(outcome, "input_not_media", "%s is not a media file we can read: %s", field, err);
    bool fits = (kind == CATALOG_MEDIA_VIDEO && info.has_video && !info.is_image) ||
                (kind == CATALOG_MEDIA_AUDIO && info.has_audio) ||
                (kind == CATALOG_MEDIA_IMAGE && info.is_image);
    static const char *const kind_names[] = {"a video", "an audio file", "an image"};
    if (!fits) return fail(outcome, "input_not_media", "%s is not %s", field, kind_names[kind]);
    return 0;
}

static const char *param_string(const json_t *params, const char *name)
{
    return json_string_value(json_object_get(params, name));
}

/* Fetches each media input of the model into the slot of its kind (an optional one the params do not
 * give is skipped). 0, or -1 with the outcome filled. */
static int fetch_recipe_inputs(const input_source *source, const catalog_model *model, const json_t *params,
                               const char *scratch, char *const slots[], const char *const slot_names[],
                               sandbox_outcome *outcome)
{
    for (size_t i = 0; i < model->media_count; i++) {
        const catalog_media_input *input = &model->media[i];
        char field[64];
        if (!catalog_media_name(input, field, sizeof(field)) || input->kind > CATALOG_MEDIA_IMAGE)
            return fail(outcome, "internal_error", "%s", "the catalog's media input is malformed");
        const char *url = catalog_media_url(input, params);
        if (url == NULL) {
            const catalog_field *row = catalog_model_field(model, input->field);
            if (row == NULL || !row->required) continue;
            return fail(outcome, "internal_error", "%s is missing from the stored task parameters", field);
        }
        if (fetch_input(source, field, url, input->kind, scratch, slot_names[input->kind], slots[input->kind],
                        PATH_MAX, outcome) != 0)
            return -1;
    }
    return 0;
}

/* "<N>p" → N; fallback when the text is absent or not of that form. */
static int short_side_of(const char *resolution, int fallback)
{
    int pixels = 0, consumed = 0;
    if (resolution && sscanf(resolution, "%dp%n", &pixels, &consumed) == 1 && resolution[consumed] == '\0' &&
        pixels > 0 && pixels <= 8192)
        return pixels;
    return fallback;
}

static bool is_one_of(const char *text, const char *const *values)
{
    for (; text && values && *values; values++)
        if (strcmp(text, *values) == 0) return true;
    return false;
}

/* Fills the job's render kind and parameters from the model's sandbox recipe (catalog.h); false when it
 * has none. */
static bool recipe_job(const catalog_model *model, const json_t *params, media_render_job *job)
{
    switch (model->sandbox.render) {
    case CATALOG_RENDER_NONE:
        return false;
    case CATALOG_RENDER_LIPSYNC:
        job->kind = MEDIA_RENDER_LIPSYNC;
        break;
    case CATALOG_RENDER_TALKING_HEAD:
        job->kind = MEDIA_RENDER_TALKING_HEAD;
        break;
    case CATALOG_RENDER_MOTION_CONTROL:
        job->kind = MEDIA_RENDER_MOTION_CONTROL;
        break;
    case CATALOG_RENDER_TEST_CARD:
        job->kind = MEDIA_RENDER_TEST_CARD;
        break;
    }
    for (const catalog_render_arg *arg = model->sandbox.args; arg && arg->kind != CATALOG_RENDER_ARG_NONE;
         arg++) {
        const char *text = param_string(params, arg->param);
        switch (arg->kind) {
        case CATALOG_RENDER_ARG_NONE:
            break;
        case CATALOG_RENDER_ARG_SYNC_MODE:
            job->sync_mode = text;
            break;
        case CATALOG_RENDER_ARG_TEXT:
            job->text = text;
            break;
        case CATALOG_RENDER_ARG_DURATION:
            job->duration = (double)json_integer_value(json_object_get(params, arg->param));
            break;
        case CATALOG_RENDER_ARG_SHORT_SIDE:
            job->short_side = short_side_of(text, arg->pixels);
            break;
        case CATALOG_RENDER_ARG_FRAME: {
            int short_side = short_side_of(text, arg->pixels), long_side = short_side * 16 / 9;
            bool portrait = is_one_of(param_string(params, arg->portrait_param), arg->portrait_values);
            job->width = portrait ? short_side : long_side;
            job->height = portrait ? long_side : short_side;
            break;
        }
        case CATALOG_RENDER_ARG_KEEP_SOUND:
            job->keep_original_sound = text == NULL || (arg->value && strcmp(text, arg->value) == 0);
            break;
        }
    }
    return true;
}

/* Renders the job, reporting progress on the task as it goes, until the task's deadline. 0 when the
 * output is ready (info describes it), 1 when cancelled, -1 with outcome filled otherwise. */
static int render_job(store *db, const task_record *task, atomic_bool *cancel, media_render_job *job,
                      media_info *info, sandbox_outcome *outcome)
{
    progress_reporter reporter = {.db = db, .task_id = task->id};
    report_progress(&reporter, 0);
    job->on_progress = report_progress;
    job->progress_context = &reporter;
    job->cancel = cancel;
    int64_t remaining = task->deadline_at - clock_unix_seconds();
    job->timeout_seconds = remaining > 0 ? (int)(remaining < INT_MAX ? remaining : INT_MAX) : 1;
    char err[512] = "";
    int rendered = media_render(job, info, err, sizeof(err));
    if (rendered == 0 || rendered == 1) return rendered;
    if (rendered == 2) return fail(outcome, "timeout", "%s", "The task did not finish before its deadline.");
    log_warn("sandbox render failed", "task=%s error=\"%s\"", task->id, err);
    return fail(outcome, "generation_failed", "%s",
                "The sandbox could not render this task from these inputs.");
}

int sandbox_run_task(store *db, blob_store *blobs, const fetch_policy *fetch, const local_inputs *local,
                     const task_record *task, atomic_bool *cancel, sandbox_outcome *outcome)
{
    input_source source = {.fetch = fetch, .local = local};
    memset(outcome, 0, sizeof(*outcome));
    const catalog_model *model = catalog_model_find(task->model);
    json_error_t json_error;
    json_t *params = task->params_json ? json_loads(task->params_json, 0, &json_error) : NULL;
    if (model == NULL || !json_is_object(params)) {
        json_decref(params);
        return fail(outcome, "internal_error", "%s", "the stored task parameters are unreadable");
    }
    char scratch[PATH_MAX];
    if (blob_scratch_create(blobs, scratch, sizeof(scratch)) != 0) {
        json_decref(params);
        return fail(outcome, "internal_error", "%s", "no scratch space for the render");
    }
    char video[PATH_MAX] = "", audio[PATH_MAX] = "", image[PATH_MAX] = "", output[PATH_MAX];
    int result = -1;
    media_render_job job = {.model = task->model, .work_dir = scratch};
    if (snprintf(output, sizeof(output), "%s/output.mp4", scratch) >= (int)sizeof(output)) goto done;
    job.output_path = output;

    char *slots[] = {
        [CATALOG_MEDIA_VIDEO] = video, [CATALOG_MEDIA_AUDIO] = audio, [CATALOG_MEDIA_IMAGE] = image};
    static const char *const slot_names[] = {
        [CATALOG_MEDIA_VIDEO] = "video", [CATALOG_MEDIA_AUDIO] = "audio", [CATALOG_MEDIA_IMAGE] = "image"};
    if (!recipe_job(model, params, &job)) {
        fail(outcome, "internal_error", "the sandbox has no recipe for %s", model->id);
        goto done;
    }
    if (fetch_recipe_inputs(&source, model, params, scratch, slots, slot_names, outcome) != 0) goto done;
    job.video_path = video[0] ? video : NULL;
    job.audio_path = audio[0] ? audio : NULL;
    job.image_path = image[0] ? image : NULL;

    media_info info;
    result = render_job(db, task, cancel, &job, &info, outcome);
    if (result != 0) goto done;
    task_completion what = {.task_id = task->id,
                            .from = TASK_PROCESSING,
                            .path = output,
                            .info = &info,
                            .stated_duration = info.duration,
                            .billing_json = task->billing_json};
    switch (task_complete_with_file(db, blobs, &what, outcome->error_code, sizeof(outcome->error_code),
                                    outcome->error_message, sizeof(outcome->error_message))) {
    case TASK_COMPLETION_DONE:
        result = 0;
        break;
    case TASK_COMPLETION_GONE: /* cancelled or timed out meanwhile: the result is not wanted */
        result = 1;
        break;
    case TASK_COMPLETION_FAILED:
        result = -1;
        break;
    }

done:
    blob_scratch_remove(scratch);
    json_decref(params);
    return result;
}
