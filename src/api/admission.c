/* admission.c — the checks shared by a submit and a quote (admission.h): validation, callback_url,
 * routing, the probe of the media inputs and their documented limits, the price. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/admission.h"
#include "net/callback_url.h"

bool admission_validate(admission_check *check, h2o_req_t *req, const json_t *body)
{
    reelay_error err;
    if (catalog_validate(body, &check->model, &check->params, &check->advanced, &err) != 0) {
        admission_name_param(check, &err);
        http_send_error(req, &err);
        return false;
    }
    const char *callback = json_string_value(json_object_get(check->params, "callback_url"));
    char why[200];
    if (callback && !callback_url_acceptable(callback, check->thread->app->fetch_allow, why, sizeof(why))) {
        http_send_error_code(req, "invalid_callback_url", "callback_url", "%s", why);
        return false;
    }
    return true;
}

/* Sends the 503 / 422 of a routing check that found no channel; false when the task can be routed. */
static bool refuse_unroutable(h2o_req_t *req, routing_verdict route, const catalog_model *model,
                              json_t *unsupported)
{
    if (route == ROUTING_NO_CHANNEL) {
        char message[160];
        snprintf(message, sizeof(message), "No enabled channel serves %s right now; retry later.", model->id);
        http_add_header(req, "retry-after", "30");
        http_send_error_code(req, "no_available_channel", "model", "%s", message);
        return true;
    }
    if (route == ROUTING_UNSUPPORTED) {
        char names[256] = "", message[400];
        size_t used = 0, i;
        json_t *name;
        json_array_foreach(unsupported, i, name)
        {
            int n = snprintf(names + used, sizeof(names) - used, "%s%s", used ? "," : "",
                             json_string_value(name));
            if (n < 0 || (size_t)n >= sizeof(names) - used) break;
            used += (size_t)n;
        }
        snprintf(message, sizeof(message),
                 "No available channel for %s supports the advanced option(s) %s; remove them and retry.",
                 model->id, names);
        http_send_error_code(req, "unsupported_advanced_options", names, "%s", message);
        return true;
    }
    return false;
}

bool admission_route(admission_check *check, h2o_req_t *req)
{
    json_t *unsupported = NULL;
    routing_verdict route = api_route_check(check->thread, check->model->id, check->advanced, &unsupported);
    bool refused = refuse_unroutable(req, route, check->model, unsupported);
    json_decref(unsupported);
    return !refused;
}

void admission_name_param(const admission_check *check, reelay_error *err)
{
    char field[sizeof(err->param)];
    snprintf(field, sizeof(field), "%.*s", (int)strcspn(err->param, "["), err->param);
    const char *name = json_string_value(json_object_get(check->param_names, field));
    if (name != NULL) snprintf(err->param, sizeof(err->param), "%s", name);
}

void admission_clear(admission_check *check)
{
    json_decref(check->params);
    json_decref(check->advanced);
    json_decref(check->param_names);
    check->params = check->advanced = check->param_names = NULL;
    for (size_t i = 0; i < check->input_count; i++) {
        free(check->inputs[i].url);
        check->inputs[i].url = NULL;
    }
    check->input_count = 0;
}

/* One input per media input of the model that the params give a URL for (absent optional ones are
 * skipped; validation made sure the required ones are there). */
static void collect_inputs(admission_check *check)
{
    const catalog_model *model = check->model;
    for (size_t i = 0; i < model->media_count && check->input_count < CATALOG_MAX_MEDIA_INPUTS; i++) {
        const catalog_media_input *rule = &model->media[i];
        const char *url = catalog_media_url(rule, check->params);
        if (url == NULL) continue;
        admission_input *input = &check->inputs[check->input_count++];
        if (!catalog_media_name(rule, input->field, sizeof(input->field))) input->field[0] = '\0';
        input->url = strdup(url);
        input->rule = rule;
    }
}

static bool container_is(const media_info *info, const char *name)
{
    /* libavformat names a demuxer by a comma-separated list ("mov,mp4,m4a,3gp,3g2,mj2") */
    const char *p = info->container;
    size_t length = strlen(name);
    while (p && *p) {
        if (strncmp(p, name, length) == 0 && (p[length] == ',' || p[length] == '\0')) return true;
        p = strchr(p, ',');
        if (p) p++;
    }
    return false;
}

static bool container_in(const media_info *info, const char *const *names)
{
    for (; names && *names; names++)
        if (container_is(info, *names)) return true;
    return false;
}

static bool codec_in(const media_info *info, const char *const *names)
{
    for (; names && *names; names++)
        if (strcmp(info->video_codec, *names) == 0) return true;
    return false;
}

/* Whether the probed file is the kind of media the input is, then in one of its formats (the
 * catalog's catalog_media_formats); the refusal's words, or NULL when it is acceptable. */
static const char *format_problem(const admission_input *input)
{
    const media_info *info = &input->info;
    const catalog_media_formats *formats = input->rule->formats;
    bool right_kind = false;
    switch (input->rule->kind) {
    case CATALOG_MEDIA_VIDEO:
        right_kind = info->has_video && !info->is_image;
        break;
    case CATALOG_MEDIA_AUDIO:
        right_kind = info->has_audio && (!info->has_video || container_in(info, formats->video_tolerated_in));
        break;
    case CATALOG_MEDIA_IMAGE:
        right_kind = info->is_image;
        break;
    }
    if (!right_kind) return formats->not_kind;
    if (formats->containers && !container_in(info, formats->containers)) return formats->not_format;
    if (formats->codecs && !codec_in(info, formats->codecs)) return formats->not_format;
    return NULL;
}

/* Checks every probed input against the documented limits; fills err and returns false on the first. */
static bool inputs_acceptable(const admission_check *check, reelay_error *err)
{
    for (size_t i = 0; i < check->input_count; i++) {
        const admission_input *input = &check->inputs[i];
        if (input->probed != 0) {
            /* the probe's code: 422 for the input's fault, internal_error (500) for ours — retry later */
            reelay_error_raise(err, input->code, input->field, "%s: %s", input->field, input->message);
            return false;
        }
        const char *problem = format_problem(input);
        if (problem) {
            reelay_error_raise(err, "unsupported_media_format", input->field, "%s %s; it is %s.",
                               input->field, problem,
                               input->info.container[0] ? input->info.container : "an unknown format");
            return false;
        }
        /* a length is what the price and the limits are made of: without one the input is refused */
        if (input->rule->needs_duration && !(isfinite(input->info.duration) && input->info.duration > 0)) {
            reelay_error_raise(err, "input_not_media", input->field, "%s has no readable duration.",
                               input->field);
            return false;
        }
        const catalog_length_limit *limit = catalog_media_length_limit(input->rule, check->params);
        if (limit && input->info.duration > limit->max_seconds + 0.05) {
            reelay_error_raise(err, "input_too_long", input->field,
                               "%s is %.1f s long; at most %.0f s is allowed %s.", input->field,
                               input->info.duration, limit->max_seconds, limit->why);
            return false;
        }
    }
    return true;
}

static void probe_inputs(void *context)
{
    admission_check *check = context;
    const api_app *app = check->thread->app;
    for (size_t i = 0; i < check->input_count; i++) {
        admission_input *input = &check->inputs[i];
        if (input->url == NULL) {
            input->probed = -1;
            snprintf(input->code, sizeof(input->code), "internal_error");
            snprintf(input->message, sizeof(input->message), "out of memory");
            break;
        }
        input->probed = app->probe_input(app->probe_context, input->url, &input->info, input->code,
                                         sizeof(input->code), input->message, sizeof(input->message));
        if (input->probed != 0) break; /* the first failure is the answer */
    }
}

static void inputs_probed(h2o_req_t *req, void *context)
{
    admission_check *check = context;
    check->probed(req, check); /* req NULL: the client went away, or the server is stopping */
}

bool admission_probe(admission_check *check, h2o_req_t *req)
{
    collect_inputs(check);
    if (check->input_count == 0 || check->thread->app->probe_input == NULL) {
        check->probed(req, check);
        return true;
    }
    int offloaded = http_offload(req, probe_inputs, inputs_probed, check);
    if (offloaded == HTTP_OFFLOAD_QUEUED) return true;
    if (offloaded != HTTP_OFFLOAD_REFUSED)
        http_send_error_code(req, "overloaded", NULL,
                             "The inputs could not be checked now; nothing was created. Retry later.");
    return false;
}

bool admission_price(const admission_check *check, price_quote *quote, reelay_error *err)
{
    if (!inputs_acceptable(check, err)) {
        admission_name_param(check, err);
        return false;
    }
    billing_inputs durations = {0};
    for (size_t i = 0; i < check->input_count; i++) {
        if (check->inputs[i].rule->kind == CATALOG_MEDIA_VIDEO)
            durations.video_seconds = check->inputs[i].info.duration;
        if (check->inputs[i].rule->kind == CATALOG_MEDIA_AUDIO)
            durations.audio_seconds = check->inputs[i].info.duration;
    }
    const price_table *prices = check->thread->app->prices;
    *quote = prices
                 ? price_quote_task(prices, check->model, check->params, &durations, check->key.user_group)
                 : (price_quote){.per_second = true,
                                 .seconds = price_billable_seconds(check->model, check->params, &durations)};
    return true;
}
