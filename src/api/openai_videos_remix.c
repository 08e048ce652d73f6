/* openai_videos_remix.c — POST /v1/videos/{id}/remix: a new video of a completed one's model and
 * parameters with a new prompt (OpenAI's remix), recorded as remixed_from_video_id.
 *
 * reelay's remix is a new generation, not an edit of the old file: the source's validated parameters,
 * with the body's fields over them (prompt required; OpenAI's names, mapped as a create's are, so
 * `seconds` or `size` may change too), admitted as a create is (credits, limits, Idempotency-Key,
 * callbacks) and routed to any channel of the model. Only models that take a prompt and make a video from
 * it (the text-to-video family) remix; any other answers 422 remix_unsupported. The source must be
 * completed (409 video_not_ready otherwise). The source's callback_url is not carried over. */
#include <string.h>

#include "api/api_internal.h"
#include "api/openai_videos_map.h"
#include "catalog/catalog.h"

/* The remix's unified body: the source's parameters under the body's (mapped) fields. NULL with err. */
static json_t *remix_body(const task_record *source, const json_t *body, reelay_error *err)
{
    json_t *request = json_deep_copy(body);
    if (request == NULL || json_object_set_new(request, "model", json_string(source->model)) != 0) {
        json_decref(request);
        reelay_error_raise(err, "internal_error", NULL, "Out of memory.");
        return NULL;
    }
    json_t *unified = openai_video_request_to_unified(request, err);
    json_decref(request);
    json_t *params = unified && source->params_json ? json_loads(source->params_json, 0, NULL) : NULL;
    const char *name;
    json_t *value;
    json_object_foreach(params, name, value)
    {
        if (strcmp(name, "callback_url") != 0 && json_object_get(unified, name) == NULL &&
            json_object_set(unified, name, value) != 0) {
            json_decref(unified);
            unified = NULL;
            reelay_error_raise(err, "internal_error", NULL, "Out of memory.");
            break;
        }
    }
    json_decref(params);
    return unified;
}

/* False after answering when the source cannot be remixed: its model makes no video from a prompt, or
 * it is not completed. */
static bool remixable(h2o_req_t *req, const task_record *source)
{
    const catalog_model *model = catalog_model_find(source->model);
    if (model == NULL || model->family != CATALOG_FAMILY_TEXT_TO_VIDEO ||
        !catalog_model_field(model, "prompt")) {
        http_send_error_code(
            req, "remix_unsupported", NULL,
            "%s videos cannot be remixed: a remix renders a text-to-video model's video again "
            "with a new prompt, and %s makes its video from its inputs.",
            source->model, source->model);
        return false;
    }
    if (source->state != TASK_COMPLETED) {
        http_send_error_code(req, "video_not_ready", NULL,
                             "Only a completed video can be remixed; this one is %s.",
                             task_state_is_terminal(source->state) ? "failed" : "not completed yet");
        return false;
    }
    return true;
}

void api_openai_videos_remix(http_exchange *exchange)
{
    h2o_req_t *req = exchange->req;
    key_record key;
    task_record source;
    if (!api_read_own_video(exchange, &key, &source)) return;
    char idempotency_key[STORE_IDEMPOTENCY_KEY_MAX + 1];
    reelay_error err;
    json_t *body = NULL, *unified = NULL;
    if (!api_read_idempotency_key(req, idempotency_key) || !remixable(req, &source)) {
        task_record_clear(&source);
        return;
    }
    if ((body = api_parse_json_object(req, &err)) == NULL) {
        http_send_error(req, &err);
    } else if (!json_is_string(json_object_get(body, "prompt"))) {
        http_send_error_code(req, "missing_required_field", "prompt", "A remix needs its new prompt.");
    } else if ((unified = remix_body(&source, body, &err)) == NULL) {
        http_send_error(req, &err);
    } else {
        json_t *param_names = openai_param_names(body);
        api_generations_admit(exchange->thread_data, req, &key, idempotency_key, unified,
                              &(api_admit_options){.openai_video = true,
                                                   .remixed_from = source.id,
                                                   .param_names = param_names});
        json_decref(param_names);
    }
    json_decref(unified);
    json_decref(body);
    task_record_clear(&source);
}
