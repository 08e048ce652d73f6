/* admin_reports.c — what operators watch (admin.h): each channel's health and the summary of tasks.
 * Tasks in flight and recent outcomes come from the database (every node's tasks); the circuit breaker
 * lives in each node's runner (engine_channel_health), so it is this node's view. */
#include <stdlib.h>
#include <string.h>

#include "admin/admin_internal.h"
#include "util/clock.h"

/* The health of one channel: its record, this node's routing state (NULL = unknown) and its activity
 * (NULL = none lately). */
static json_t *channel_health_json(const channel_record *c, const routing_channel_health *routing,
                                   const channel_activity *activity, int64_t now_ms)
{
    int64_t completed = activity ? activity->completed : 0, failed = activity ? activity->failed : 0;
    json_t *recent = json_pack(
        "{s:i, s:I, s:I, s:o, s:o}", "seconds", ADMIN_RECENT_SECONDS, "completed", (json_int_t)completed,
        "failed", (json_int_t)failed, "success_rate",
        completed + failed > 0 ? json_real((double)completed / (double)(completed + failed)) : json_null(),
        "median_seconds",
        activity && activity->median_seconds >= 0 ? json_integer(activity->median_seconds) : json_null());
    const char *circuit = routing ? routing_circuit_name(routing_circuit_state(routing, now_ms)) : "unknown";
    return json_pack("{s:s, s:s, s:b, s:s, s:o, s:o, s:I, s:o}", "name", c->name, "provider", c->provider,
                     "enabled", c->enabled, "circuit", circuit, "consecutive_failures",
                     routing ? json_integer(routing->consecutive_failures) : json_null(), "throttled",
                     routing ? json_boolean(routing->throttled_until_ms > now_ms) : json_null(), "in_flight",
                     (json_int_t)(activity ? activity->in_flight : 0), "recent", recent);
}

json_t *admin_channels_health(const admin_context *ctx, engine *e, int64_t now, admin_result *result)
{
    channel_record *channels = NULL;
    channel_activity *activity = NULL;
    routing_channel_health *routing = NULL;
    size_t channel_count = 0, activity_count = 0, routing_count = 0;
    if (store_channel_list(ctx->db, &channels, &channel_count) != STORE_OK ||
        store_channel_activity(ctx->db, now - ADMIN_RECENT_SECONDS, &activity, &activity_count) != STORE_OK) {
        free(channels);
        admin_fail_store(ctx, result, "the channels' activity could not be read");
        return NULL;
    }
    if (e != NULL) engine_channel_health(e, &routing, &routing_count);
    int64_t now_ms = clock_unix_ms();
    json_t *list = json_array();
    for (size_t i = 0; list && i < channel_count; i++) {
        const routing_channel_health *mine = NULL;
        const channel_activity *recent = NULL;
        for (size_t j = 0; j < routing_count && !mine; j++)
            if (strcmp(routing[j].name, channels[i].name) == 0) mine = &routing[j];
        for (size_t j = 0; j < activity_count && !recent; j++)
            if (strcmp(activity[j].channel, channels[i].name) == 0) recent = &activity[j];
        json_array_append_new(list, channel_health_json(&channels[i], mine, recent, now_ms));
    }
    free(channels), free(activity), free(routing);
    json_t *view = json_pack("{s:[s,s,s], s:i, s:o}", "node_local", "circuit", "consecutive_failures",
                             "throttled", "recent_seconds", ADMIN_RECENT_SECONDS, "channels", list);
    if (view == NULL)
        admin_fail_store(ctx, result, "out of memory");
    else
        admin_done(result);
    return view;
}

/* {state name: count} for every state. */
static json_t *states_json(const int64_t counts[TASK_STATE_COUNT])
{
    json_t *states = json_object();
    for (int s = 0; states && s < TASK_STATE_COUNT; s++)
        json_object_set_new(states, task_state_name((task_state)s), json_integer(counts[s]));
    return states;
}

static int64_t total_of(const int64_t counts[TASK_STATE_COUNT])
{
    int64_t total = 0;
    for (int s = 0; s < TASK_STATE_COUNT; s++)
        total += counts[s];
    return total;
}

json_t *admin_tasks_summary(const admin_context *ctx, int64_t now, admin_result *result)
{
    task_summary summary;
    if (store_task_summary(ctx->db, now, &summary) != STORE_OK) {
        admin_fail_store(ctx, result, "the tasks could not be counted");
        return NULL;
    }
    json_t *models = json_object();
    for (size_t i = 0; models && i < summary.model_count; i++)
        json_object_set_new(models, summary.models[i].model,
                            json_pack("{s:I, s:o}", "total", (json_int_t)total_of(summary.models[i].by_state),
                                      "by_state", states_json(summary.models[i].by_state)));
    json_t *view = json_pack(
        "{s:I, s:o, s:o, s:{s:I, s:I}}", "total", (json_int_t)total_of(summary.by_state), "by_state",
        states_json(summary.by_state), "by_model", models ? models : json_null(), "finished", "last_minute",
        (json_int_t)summary.finished_last_minute, "last_hour", (json_int_t)summary.finished_last_hour);
    free(summary.models);
    if (view == NULL)
        admin_fail_store(ctx, result, "out of memory");
    else
        admin_done(result);
    return view;
}
