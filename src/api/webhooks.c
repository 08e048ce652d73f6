/* webhooks.c — POST /v1/upstream/{channel}/webhook: a provider says a job changed.
 *
 * No API key: the provider proves itself as its table entry says (upstream_provider.verify_webhook — a
 * signature under keys it publishes, which the engine fetches, or under the channel's webhook secret),
 * or signs nothing by design, and then the callback is only a prompt to poll. Whatever the webhook
 * says, reelay then polls the provider and believes the poll, so a webhook can never set a task's state
 * by itself; a duplicate is a poll that finds nothing new (and polls of one task are at most one a
 * second). A refused webhook is 401 and changes nothing; keys not loaded yet are 503 with Retry-After.
 * No provider is named here: everything provider-specific is in its upstream/ table. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "api/api_internal.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/secret_box.h"

/* Every request header, as NUL-terminated copies with lower-case names, allocated from the request's
 * pool (it lives as long as the request). */
static upstream_header *request_headers(h2o_req_t *req, size_t *count)
{
    *count = 0;
    if (req->headers.size == 0) return NULL;
    upstream_header *headers = h2o_mem_alloc_pool(&req->pool, sizeof(*headers) * req->headers.size);
    for (size_t i = 0; i < req->headers.size; i++) {
        const h2o_header_t *header = &req->headers.entries[i];
        h2o_iovec_t name = h2o_strdup(&req->pool, header->name->base, header->name->len);
        h2o_iovec_t value = h2o_strdup(&req->pool, header->value.base, header->value.len);
        h2o_strtolower(name.base, name.len);
        headers[(*count)++] = (upstream_header){.name = name.base, .value = value.base};
    }
    return headers;
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
    /* a channel whose provider takes no webhooks (the sandbox) has no webhook route */
    if (channel == NULL || channel->provider == NULL || channel->provider->verify_webhook == NULL) {
        http_send_error_fields(req, 404, ERR_TYPE_NOT_FOUND, "channel_not_found", NULL, "No such channel.");
        return;
    }
    const upstream_provider *provider = channel->provider;
    char secret[SECRET_BOX_MAX_PLAIN + 1];
    bool has_secret = open_webhook_secret(thread, &channel->record, secret, sizeof(secret));
    static __thread char keys[32768];
    bool has_keys = provider->webhook_keys_url != NULL &&
                    engine_webhook_keys(thread->app->engine, provider, keys, sizeof(keys));
    upstream_webhook hook = {.body = req->entity.base ? req->entity.base : "",
                             .body_size = req->entity.base ? req->entity.len : 0,
                             .secret = has_secret ? secret : NULL,
                             .keys = has_keys ? keys : NULL,
                             .now = clock_unix_seconds()};
    hook.headers = request_headers(req, &hook.header_count);
    const char *reason = "refused";
    upstream_webhook_verdict verdict = provider->verify_webhook(&hook, &reason);
    sodium_memzero(secret, sizeof(secret));

    if (verdict == UPSTREAM_WEBHOOK_KEYS_MISSING) {
        engine_refresh_webhook_keys(thread->app->engine, provider);
        http_add_header(req, "retry-after", "5");
        http_send_error_fields(req, 503, ERR_TYPE_SERVICE_UNAVAILABLE, "keys_unavailable", NULL,
                               "The provider's webhook keys are not loaded yet; retry later.");
        return;
    }
    if (verdict == UPSTREAM_WEBHOOK_REFUSED) {
        /* published keys may have rotated since they were fetched */
        if (provider->webhook_keys_url != NULL) engine_refresh_webhook_keys(thread->app->engine, provider);
        refuse(req, name, reason);
        return;
    }
    char job_id[128];
    upstream_webhook_job_id(provider, hook.body, hook.body_size, job_id, sizeof(job_id));
    engine_webhook(thread->app->engine, name, task_id[0] ? task_id : NULL, job_id,
                   verdict == UPSTREAM_WEBHOOK_VERIFIED);
    log_info("webhook", "channel=%s task=%s job=%s signed=%s", name, task_id[0] ? task_id : "-",
             job_id[0] ? job_id : "-", verdict == UPSTREAM_WEBHOOK_VERIFIED ? "yes" : "no");
    static const char ok[] = "{\"received\":true}";
    http_send_json(req, 200, ok, sizeof(ok) - 1);
}
