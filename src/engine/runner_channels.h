/* runner_channels.h — the upstream runner's table of channels (internal to the engine): each
 * channel's routing state (slots in use, circuit, throttling: engine/routing.h) and its opened
 * credential, re-read from the store every CHANNEL_RELOAD_MS while keeping the routing state of the
 * channels that remain; and the context a provider adapter builds a task's request from. Runner
 * thread only. */
#ifndef REELAY_ENGINE_RUNNER_CHANNELS_H
#define REELAY_ENGINE_RUNNER_CHANNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/runner_state.h"

/* Re-reads the channel table (now_ms is recorded as the time of the reload). On a store error the old
 * table stays. A channel whose credential cannot be opened stays listed with no provider (never
 * chosen). */
void channels_reload(upstream_runner *r, int64_t now_ms);

/* The channel called name (its index in *index when not NULL), or NULL. */
routing_channel *channel_named(upstream_runner *r, const char *name, size_t *index);

/* Gives back the slot f holds on its channel, if any. */
void release_slot(upstream_runner *r, flight *f);

/* Fills *ctx (and *provider) for a request of f on its channel; webhook receives the URL the provider
 * should call back, when it takes webhooks and a public URL is set. False when the channel is gone or
 * has no usable provider. ctx points into r, f and webhook: valid until the channel table changes. */
bool make_context(upstream_runner *r, flight *f, upstream_context *ctx, const upstream_provider **provider,
                  char *webhook, size_t webhook_size);

#endif
