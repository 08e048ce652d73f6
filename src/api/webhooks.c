/* webhooks.c — POST /v1/upstream/{channel}/webhook: a provider says a job changed.
 *
 * No API key: the provider proves itself by its signature (fal: Ed25519 under its published keys;
 * Sync: Sync-Signature HMAC; OpenAI, and Kling when a secret is set: Standard Webhooks). Creatify
 * signs nothing, and Kling without a secret neither: their callbacks are only a prompt to poll.
 * Whatever the webhook says, reelay then polls the provider and believes the poll, so a webhook can
 * never set a task's state by itself; a duplicate is a poll that finds nothing new (and polls of
 * one task are at most one a second). A bad signature is 401 and changes nothing. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "api/api_internal.h"
#include "net/webhook_verify.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/secret_box.h"

/* A header's value as a NUL-terminated string in out ("" when absent or too long). */
static const char *header_text(h2o_req_t *req, const char *name, char *out, size_t out_size)
{
    h2o_iovec_t value = http_request_header(req, name);
    if (value.base == NULL || value.len >= out_size) {
        out[0] = '\0';
        return out;
    }
    memcpy(out, value.base, value.len);
    out[value.len] = '\0';
    return out;
}

/* The channel's webhook secret, opened; false when it has none or it cannot be opened. */
static bool open_webhook_secret(const api_thread *thread, const channel_record *record, char *out,
                                size_t out_size)
{
    if (record->webhook_secret_sealed[0] == '\0') return false;
    secret_box box;
    bool opened = secret_box_load(thread->app->data_dir, &box) == 0 &&
                  secret_box_open(&box, record->webhook_secret_sealed, out, out_size) == 0;
    sodium_memzero(&box, sizeof(box));
    return opened;
}

/* The job id a body names, for webhooks that come without our task id (OpenAI's data.id, else the
 * provider's usual id field). Not static only so that fuzz/ can reach it (api_internal.h). */
void api_webhook_job_id(const char *provider, const char *body, size_t size, char *out, size_t out_size)
{
    out[0] = '\0';
    json_error_t error;
    json_t *root = json_loadb(body, size, 0, &error);
    const json_t *value = NULL;
    if (strcmp(provider, "openai") == 0)
        value = json_object_get(json_object_get(root, "data"), "id");
    else if (strcmp(provider, "fal") == 0)
        value = json_object_get(root, "request_id");
    else if (strcmp(provider, "kling") == 0)
        value = json_object_get(root, "task_id");
    else
        value = json_object_get(root, "id");
    if (json_is_string(value) && strlen(json_string_value(value)) < out_size)
        snprintf(out, out_size, "%s", json_string_value(value));
    json_decref(root);
}

static void refuse(h2o_req_t *req, const char *channel, const char *why)
{
    log_warn("webhook refused", "channel=%s reason=\"%s\"", channel, why);
    http_send_error_fields(req, 401, ERR_TYPE_AUTHENTICATION, "invalid_signature", NULL,
                           "The webhook's signature could not be verified.");
}

void api_upstream_webhook(http_exchange *exchange)
{
    api_thread *thread = exchange->thread_data;
    h2o_req_t *req = exchange->req;
    char name[64], task_id[IDS_TASK_ID_SIZE] = "";
    if (http_path_param(exchange, 0, name, sizeof(name)) != 0) {
        http_send_error_fields(req, 404, ERR_TYPE_NOT_FOUND, "channel_not_found", NULL, "No such channel.");
        return;
    }
    int has_task = http_query_param(req, "task", task_id, sizeof(task_id));
    if (has_task < 0 || (has_task == 1 && !ids_task_is_valid(task_id))) task_id[0] = '\0';

    api_channels_refresh(thread);
    const routing_channel *channel = NULL;
    for (size_t i = 0; i < thread->channel_count; i++)
        if (strcmp(thread->channels[i].record.name, name) == 0) channel = &thread->channels[i];
    if (channel == NULL || channel->provider == NULL || strcmp(channel->record.provider, "sandbox") == 0) {
        http_send_error_fields(req, 404, ERR_TYPE_NOT_FOUND, "channel_not_found", NULL, "No such channel.");
        return;
    }
    const char *provider = channel->record.provider;
    const char *body = req->entity.base ? req->entity.base : "";
    size_t body_size = req->entity.base ? req->entity.len : 0;
    int64_t now = clock_unix_seconds();
    char secret[SECRET_BOX_MAX_PLAIN + 1];
    bool has_secret = open_webhook_secret(thread, &channel->record, secret, sizeof(secret));
    bool verified = false, hint_only = false;
    char a[160], b[160], c[64], d[1100];

    if (strcmp(provider, "fal") == 0) {
        static __thread char jwks[32768];
        if (!engine_fal_jwks(thread->app->engine, jwks, sizeof(jwks))) {
            engine_refresh_fal_jwks(thread->app->engine);
            sodium_memzero(secret, sizeof(secret));
            http_add_header(req, "retry-after", "5");
            http_send_error_fields(req, 503, ERR_TYPE_SERVICE_UNAVAILABLE, "keys_unavailable", NULL,
                                   "fal's webhook keys are not loaded yet; retry later.");
            return;
        }
        verified = webhook_verify_fal(jwks, header_text(req, "x-fal-webhook-request-id", a, sizeof(a)),
                                      header_text(req, "x-fal-webhook-user-id", b, sizeof(b)),
                                      header_text(req, "x-fal-webhook-timestamp", c, sizeof(c)),
                                      header_text(req, "x-fal-webhook-signature", d, sizeof(d)), body,
                                      body_size, now);
        if (!verified) engine_refresh_fal_jwks(thread->app->engine); /* keys may have rotated */
    } else if (strcmp(provider, "sync") == 0) {
        verified = has_secret && webhook_verify_sync(secret, header_text(req, "sync-signature", d, sizeof(d)),
                                                     body, body_size, now);
    } else if (strcmp(provider, "openai") == 0 || (strcmp(provider, "kling") == 0 && has_secret)) {
        verified = has_secret && webhook_verify_standard(secret, header_text(req, "webhook-id", a, sizeof(a)),
                                                         header_text(req, "webhook-timestamp", c, sizeof(c)),
                                                         header_text(req, "webhook-signature", d, sizeof(d)),
                                                         body, body_size, now);
    } else { /* creatify, kling without a secret: unsigned by design */
        hint_only = true;
    }
    sodium_memzero(secret, sizeof(secret));
    if (!verified && !hint_only) {
        refuse(req, name,
               has_secret || strcmp(provider, "fal") == 0 ? "bad signature" : "no webhook secret set");
        return;
    }
    char job_id[128];
    api_webhook_job_id(provider, body, body_size, job_id, sizeof(job_id));
    engine_webhook(thread->app->engine, name, task_id[0] ? task_id : NULL, job_id);
    log_info("webhook", "channel=%s task=%s job=%s signed=%s", name, task_id[0] ? task_id : "-",
             job_id[0] ? job_id : "-", verified ? "yes" : "no");
    static const char ok[] = "{\"received\":true}";
    http_send_json(req, 200, ok, sizeof(ok) - 1);
}
