/* runner_channels.c — the upstream runner's channel table (see runner_channels.h). */
#include "engine/runner_channels.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/log.h"

routing_channel *channel_named(upstream_runner *r, const char *name, size_t *index)
{
    for (size_t i = 0; i < r->channel_count; i++)
        if (strcmp(r->channels[i].record.name, name) == 0) {
            if (index) *index = i;
            return &r->channels[i];
        }
    return NULL;
}

/* Re-reads the channel table, keeping the routing state of channels that remain. */
void channels_reload(upstream_runner *r, int64_t now_ms)
{
    channel_record *records = NULL;
    size_t count = 0;
    r->channels_loaded_ms = now_ms;
    if (store_channel_list(r->db, &records, &count) != STORE_OK) return;
    routing_channel *channels = calloc(count ? count : 1, sizeof(*channels));
    channel_slot *slots = calloc(count ? count : 1, sizeof(*slots));
    secret_box box;
    bool have_box = secret_box_load(r->config.data_dir, &box) == 0;
    if (channels == NULL || slots == NULL) {
        free(channels), free(slots), free(records);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        size_t old_index = 0;
        routing_channel *old = channel_named(r, records[i].name, &old_index);
        if (old != NULL && strcmp(old->record.provider, records[i].provider) == 0) {
            channels[i] = *old;
            slots[i].auth = r->slots[old_index].auth;
        }
        channels[i].record = records[i];
        channels[i].provider = upstream_provider_find(records[i].provider);
        if (records[i].credential_sealed[0] != '\0' &&
            (!have_box || secret_box_open(&box, records[i].credential_sealed, slots[i].credential,
                                          sizeof(slots[i].credential)) != 0)) {
            log_warn("a channel's credential cannot be opened; the channel is skipped", "channel=%s",
                     records[i].name);
            channels[i].provider = NULL;
        }
    }
    sodium_memzero(&box, sizeof(box));
    if (r->slots) sodium_memzero(r->slots, r->channel_count * sizeof(*r->slots));
    free(r->channels), free(r->slots), free(records);
    r->channels = channels, r->slots = slots, r->channel_count = count;
}

void release_slot(upstream_runner *r, flight *f)
{
    if (!f->holds_slot) return;
    f->holds_slot = false;
    routing_channel *c = channel_named(r, f->channel, NULL);
    if (c != NULL && c->in_flight > 0) c->in_flight--;
}

bool make_context(upstream_runner *r, flight *f, upstream_context *ctx, const upstream_provider **provider,
                  char *webhook, size_t webhook_size)
{
    size_t index = 0;
    routing_channel *c = channel_named(r, f->channel, &index);
    if (c == NULL || c->provider == NULL) return false;
    *provider = c->provider;
    webhook[0] = '\0';
    /* Webhooks only where the provider's table asks for them (some only with a signing secret) */
    bool wanted = upstream_webhook_wanted(c->provider, c->record.webhook_secret_sealed[0] != '\0');
    if (r->config.webhook_base != NULL && wanted)
        snprintf(webhook, webhook_size, "%s/v1/upstream/%s/webhook?task=%s", r->config.webhook_base,
                 f->channel, f->task_id);
    *ctx = (upstream_context){.base_url = c->record.base_url,
                              .credential = r->slots[index].credential,
                              .task_id = f->task_id,
                              .model = f->model,
                              .params = f->params,
                              .webhook_url = webhook[0] ? webhook : NULL,
                              .now = clock_unix_seconds(),
                              .auth = &r->slots[index].auth};
    return true;
}
