/* admin_channels_api.c — the admin API's channels and reports (admin_api.h, README "Admin API"):
 *   POST   /admin/v1/channels               {provider, name, models, credential, base_url, priority, weight,
 *                                           max_concurrent, webhook_secret, enabled} → 201, the channel
 *   GET    /admin/v1/channels               → {data: [channels]}, credentials masked as `channels list`
 *                                           masks them, never a webhook secret (only whether one is set)
 *   GET    /admin/v1/channels/health        → each channel's circuit (this node's), tasks in flight and
 *                                           outcomes of the last hour
 *   PATCH  /admin/v1/channels/{name}        {models, credential, base_url, priority, weight,
 *                                           max_concurrent, webhook_secret} → the channel
 *   POST   /admin/v1/channels/{name}/enable, …/disable → the channel
 *   DELETE /admin/v1/channels/{name}        → {name, deleted: true}
 *   GET    /admin/v1/tasks/summary          → tasks by state, by model and state, and finished lately */
#include <stdio.h>
#include <string.h>

#include "api/admin_api.h"
#include "engine/cluster_signals.h"
#include "util/clock.h"

enum { CHANNEL_NAME_SIZE = 64 };

/* Reads a channel's fields; `adding` also takes provider, name and enabled. NULL after answering. */
static json_t *read_channel_fields(h2o_req_t *req, admin_channel_fields *f, bool adding)
{
    int64_t priority = 0, weight = 0, max_concurrent = 0;
    bool enabled = true;
    *f = (admin_channel_fields){0};
    admin_member members[] = {
        ADMIN_TEXT("models", &f->models),
        ADMIN_TEXT("credential", &f->credential),
        ADMIN_TEXT("base_url", &f->base_url),
        ADMIN_NUMBER("priority", &priority, &f->has_priority),
        ADMIN_NUMBER("weight", &weight, &f->has_weight),
        ADMIN_NUMBER("max_concurrent", &max_concurrent, &f->has_max_concurrent),
        ADMIN_TEXT("webhook_secret", &f->webhook_secret),
        ADMIN_TEXT("provider", &f->provider),
        ADMIN_TEXT("name", &f->name),
        ADMIN_FLAG("enabled", &enabled),
    };
    size_t count = sizeof(members) / sizeof(members[0]);
    json_t *body = api_admin_read_body(req, members, adding ? count : count - 3);
    if (body == NULL) return NULL;
    /* out of int's range is out of every field's range: clamp so the admin check refuses it */
    f->priority = priority < -1000000 ? -1000000 : priority > 1000000 ? 1000000 : (int)priority;
    f->weight = weight < -1000000 ? -1000000 : weight > 1000000 ? 1000000 : (int)weight;
    f->max_concurrent = max_concurrent < -1 ? -1 : max_concurrent > 2000000 ? 2000000 : (int)max_concurrent;
    f->disabled = !enabled;
    return body;
}

/* The channel called name as GET /admin/v1/channels lists it (masked), or NULL. */
static json_t *listed_channel(const admin_context *ctx, const char *name)
{
    admin_result result;
    return api_admin_pick(admin_channels_list(ctx, &result), "name", name);
}

/* After a change of the channel called name: log, reach this node's views, answer it as listed. */
static void channel_changed(http_exchange *exchange, const admin_context *ctx, const char *route,
                            const char *name, int status, const admin_result *result)
{
    if (result->outcome != ADMIN_DONE) {
        api_admin_send_failure(exchange->req, result);
        return;
    }
    api_admin_changed(exchange, route, CLUSTER_SIGNAL_CHANNEL, result);
    api_send_json_value(exchange->req, status, listed_channel(ctx, name));
}

void api_admin_channels_add(http_exchange *exchange)
{
    admin_context ctx;
    if (!api_admin_begin(exchange, &ctx)) return;
    admin_channel_fields fields;
    json_t *body = read_channel_fields(exchange->req, &fields, true);
    if (body == NULL) return;
    admin_result result;
    admin_channel_add(&ctx, &fields, &result);
    char name[CHANNEL_NAME_SIZE];
    snprintf(name, sizeof(name), "%s", fields.name ? fields.name : "");
    json_decref(body);
    channel_changed(exchange, &ctx, "admin.channels.add", name, 201, &result);
}

void api_admin_channels_list(http_exchange *exchange)
{
    admin_context ctx;
    if (!api_admin_begin(exchange, &ctx)) return;
    admin_result result;
    json_t *list = admin_channels_list(&ctx, &result);
    if (list == NULL)
        api_admin_send_failure(exchange->req, &result);
    else
        api_send_json_value(exchange->req, 200, json_pack("{s:s, s:o}", "object", "list", "data", list));
}

void api_admin_channels_update(http_exchange *exchange)
{
    admin_context ctx;
    char name[CHANNEL_NAME_SIZE];
    if (!api_admin_begin_named(exchange, &ctx, "channel_not_found", name, sizeof(name))) return;
    admin_channel_fields fields;
    json_t *body = read_channel_fields(exchange->req, &fields, false);
    if (body == NULL) return;
    admin_result result;
    admin_channel_update(&ctx, name, &fields, &result);
    json_decref(body);
    channel_changed(exchange, &ctx, "admin.channels.update", name, 200, &result);
}

static void channel_switch(http_exchange *exchange, bool enabled)
{
    admin_context ctx;
    char name[CHANNEL_NAME_SIZE];
    if (!api_admin_begin_named(exchange, &ctx, "channel_not_found", name, sizeof(name))) return;
    admin_result result;
    admin_channel_set_enabled(&ctx, name, enabled, &result);
    channel_changed(exchange, &ctx, enabled ? "admin.channels.enable" : "admin.channels.disable", name, 200,
                    &result);
}

void api_admin_channels_enable(http_exchange *exchange)
{
    channel_switch(exchange, true);
}

void api_admin_channels_disable(http_exchange *exchange)
{
    channel_switch(exchange, false);
}

void api_admin_channels_remove(http_exchange *exchange)
{
    admin_context ctx;
    char name[CHANNEL_NAME_SIZE];
    if (!api_admin_begin_named(exchange, &ctx, "channel_not_found", name, sizeof(name))) return;
    admin_result result;
    admin_channel_remove(&ctx, name, &result);
    if (result.outcome != ADMIN_DONE) {
        api_admin_send_failure(exchange->req, &result);
        return;
    }
    api_admin_changed(exchange, "admin.channels.remove", CLUSTER_SIGNAL_CHANNEL, &result);
    api_send_json_value(exchange->req, 200, json_pack("{s:s, s:b}", "name", name, "deleted", 1));
}

void api_admin_channels_health(http_exchange *exchange)
{
    admin_context ctx;
    if (!api_admin_begin(exchange, &ctx)) return;
    api_thread *thread = exchange->thread_data;
    admin_result result;
    json_t *health = admin_channels_health(&ctx, thread->app->engine, clock_unix_seconds(), &result);
    if (health == NULL)
        api_admin_send_failure(exchange->req, &result);
    else
        api_send_json_value(exchange->req, 200, health);
}

void api_admin_tasks_summary(http_exchange *exchange)
{
    admin_context ctx;
    if (!api_admin_begin(exchange, &ctx)) return;
    admin_result result;
    json_t *summary = admin_tasks_summary(&ctx, clock_unix_seconds(), &result);
    if (summary == NULL)
        api_admin_send_failure(exchange->req, &result);
    else
        api_send_json_value(exchange->req, 200, summary);
}
