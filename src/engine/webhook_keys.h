/* webhook_keys.h — the keys providers publish to sign their webhooks (internal to the engine).
 *
 * A provider whose table entry has a webhook_keys_url (fal's JWKS) signs its webhooks with keys it
 * publishes there. The upstream runner's thread fetches each such document on its curl multi handle —
 * only while webhooks are on and an enabled channel of that provider exists — checks it with the
 * provider's webhook_keys_count, and keeps the last good one; it refetches hourly, or sooner when asked
 * (a signature that did not verify: the keys may have rotated), at most once a minute (every 5 s until
 * a first document arrives). The HTTP threads read copies to verify webhooks.
 *
 * Thread safety: webhook_keys_copy and webhook_keys_ask_refresh may be called from any thread; the other
 * functions only from the thread that owns the multi handle. */
#ifndef REELAY_ENGINE_WEBHOOK_KEYS_H
#define REELAY_ENGINE_WEBHOOK_KEYS_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/routing.h"
#include "upstream/upstream.h"

typedef struct webhook_keys webhook_keys;

/* One slot per provider of upstream_providers() that publishes keys. url_override (copied), when not
 * NULL, replaces every provider's own webhook_keys_url (tests, mirrors). NULL when out of memory. */
webhook_keys *webhook_keys_create(const char *url_override);
/* Removes a fetch still in flight from multi and frees everything. NULL is ignored. */
void webhook_keys_destroy(webhook_keys *keys, CURLM *multi);

/* Starts, on multi, the fetches that are due: for each provider that publishes keys and has an enabled
 * channel among `channels`. A fetch that cannot start is tried again on a later call. */
void webhook_keys_tick(webhook_keys *keys, CURLM *multi, const routing_channel *channels,
                       size_t channel_count, int64_t now_ms);
/* A transfer on multi has finished: when it is one of ours (true), it is removed from multi and cleaned
 * up, and a usable document replaces the provider's keys. false = not ours, nothing done. */
bool webhook_keys_done(webhook_keys *keys, CURLM *multi, CURL *easy, CURLcode code, int64_t now_ms);

/* Copies the provider's last good key document into out (NUL-terminated); false when there is none
 * yet, the provider publishes no keys, or it does not fit. */
bool webhook_keys_copy(webhook_keys *keys, const upstream_provider *provider, char *out, size_t out_size);
/* Asks for an earlier refetch of the provider's keys (the next tick, within the minimum interval); the
 * caller wakes the multi handle's thread. */
void webhook_keys_ask_refresh(webhook_keys *keys, const upstream_provider *provider);

#endif
