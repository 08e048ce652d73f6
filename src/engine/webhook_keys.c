/* webhook_keys.c — fetching the keys providers sign their webhooks with (see webhook_keys.h). */
#include "engine/webhook_keys.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "net/curl_setup.h"
#include "util/log.h"

enum {
    KEYS_REFRESH_MS = 3600 * 1000,    /* a good document is refetched hourly */
    KEYS_MIN_INTERVAL_MS = 60 * 1000, /* and at most once a minute when asked */
    KEYS_FIRST_RETRY_MS = 5000,       /* until a first one arrives, every 5 s */
    KEYS_LIMIT = 64 * 1024,           /* a longer document is refused */
    KEYS_TIMEOUT_MS = 10000,
};

/* One provider that publishes keys. */
typedef struct keys_slot {
    const upstream_provider *provider;
    const char *url;
    char *text; /* the last good document; guarded by the lock */
    int64_t fetched_ms, attempt_ms;
    atomic_bool refresh;
    CURL *easy; /* the fetch in flight, or NULL */
    char *body;
    size_t body_size;
} keys_slot;

struct webhook_keys {
    pthread_mutex_t lock;
    char *url_override;
    keys_slot *slots;
    size_t slot_count;
};

webhook_keys *webhook_keys_create(const char *url_override)
{
    webhook_keys *keys = calloc(1, sizeof(*keys));
    if (keys == NULL) return NULL;
    const upstream_provider *const *providers = upstream_providers();
    size_t publishing = 0;
    for (size_t i = 0; providers[i]; i++)
        if (providers[i]->webhook_keys_url != NULL) publishing++;
    keys->slots = publishing ? calloc(publishing, sizeof(*keys->slots)) : NULL;
    keys->url_override = url_override ? strdup(url_override) : NULL;
    if ((publishing && keys->slots == NULL) || (url_override && keys->url_override == NULL)) {
        free(keys->slots);
        free(keys->url_override);
        free(keys);
        return NULL;
    }
    for (size_t i = 0; providers[i]; i++) {
        if (providers[i]->webhook_keys_url == NULL) continue;
        keys_slot *slot = &keys->slots[keys->slot_count++];
        slot->provider = providers[i];
        slot->url = keys->url_override ? keys->url_override : providers[i]->webhook_keys_url;
        atomic_init(&slot->refresh, false);
    }
    pthread_mutex_init(&keys->lock, NULL);
    return keys;
}

void webhook_keys_destroy(webhook_keys *keys, CURLM *multi)
{
    if (keys == NULL) return;
    for (size_t i = 0; i < keys->slot_count; i++) {
        keys_slot *slot = &keys->slots[i];
        if (slot->easy) {
            curl_multi_remove_handle(multi, slot->easy);
            curl_easy_cleanup(slot->easy);
        }
        free(slot->body);
        free(slot->text);
    }
    pthread_mutex_destroy(&keys->lock);
    free(keys->slots);
    free(keys->url_override);
    free(keys);
}

static keys_slot *slot_of(webhook_keys *keys, const upstream_provider *provider)
{
    for (size_t i = 0; provider && i < keys->slot_count; i++)
        if (keys->slots[i].provider == provider) return &keys->slots[i];
    return NULL;
}

static size_t collect(char *data, size_t size, size_t count, void *userdata)
{
    keys_slot *slot = userdata;
    size_t n = size * count;
    if (slot->body_size + n > KEYS_LIMIT) return 0;
    char *grown = realloc(slot->body, slot->body_size + n + 1);
    if (grown == NULL) return 0;
    memcpy(grown + slot->body_size, data, n);
    slot->body = grown, slot->body_size += n;
    slot->body[slot->body_size] = '\0';
    return n;
}

static bool has_enabled_channel(const upstream_provider *provider, const routing_channel *channels,
                                size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (channels[i].record.enabled && channels[i].provider == provider) return true;
    return false;
}

/* Starts the fetch of one slot on multi; false when it could not start. */
static bool start_fetch(keys_slot *slot, CURLM *multi)
{
    CURL *easy = curl_easy_init();
    if (easy == NULL) return false;
    /* the provider's own published URL (or the operator's override): not a user-given one, so unguarded */
    net_curl_options options = {.url = slot->url,
                                .total_timeout_ms = KEYS_TIMEOUT_MS,
                                .write_body = collect,
                                .write_body_data = slot};
    bool ready = net_curl_setup(easy, &options) == CURLE_OK;
    if (!ready || curl_multi_add_handle(multi, easy) != CURLM_OK) {
        log_warn("webhook keys fetch could not start", "provider=%s", slot->provider->name);
        curl_easy_cleanup(easy);
        return false;
    }
    slot->easy = easy;
    return true;
}

void webhook_keys_tick(webhook_keys *keys, CURLM *multi, const routing_channel *channels,
                       size_t channel_count, int64_t now_ms)
{
    for (size_t i = 0; i < keys->slot_count; i++) {
        keys_slot *slot = &keys->slots[i];
        if (slot->easy != NULL || !has_enabled_channel(slot->provider, channels, channel_count)) continue;
        bool stale = slot->fetched_ms == 0 || now_ms - slot->fetched_ms > KEYS_REFRESH_MS;
        bool asked = atomic_load(&slot->refresh);
        int64_t interval = slot->fetched_ms ? KEYS_MIN_INTERVAL_MS : KEYS_FIRST_RETRY_MS;
        if (!(stale || asked) || now_ms - slot->attempt_ms < interval) continue;
        atomic_store(&slot->refresh, false);
        slot->attempt_ms = now_ms;
        start_fetch(slot, multi);
    }
}

bool webhook_keys_done(webhook_keys *keys, CURLM *multi, CURL *easy, CURLcode code, int64_t now_ms)
{
    keys_slot *slot = NULL;
    for (size_t i = 0; easy != NULL && i < keys->slot_count && slot == NULL; i++)
        if (keys->slots[i].easy == easy) slot = &keys->slots[i];
    if (slot == NULL) return false;
    long status = 0;
    if (curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) status = 0;
    curl_multi_remove_handle(multi, easy);
    curl_easy_cleanup(easy);
    slot->easy = NULL;
    int count =
        code == CURLE_OK && status == 200 && slot->body ? slot->provider->webhook_keys_count(slot->body) : -1;
    if (count >= 0) {
        pthread_mutex_lock(&keys->lock);
        free(slot->text);
        slot->text = slot->body;
        pthread_mutex_unlock(&keys->lock);
        slot->body = NULL;
        slot->fetched_ms = now_ms;
        log_info("webhook keys fetched", "provider=%s keys=%d", slot->provider->name, count);
    } else {
        log_warn("webhook keys could not be fetched", "provider=%s status=%ld error=\"%s\"",
                 slot->provider->name, status, curl_easy_strerror(code));
    }
    free(slot->body);
    slot->body = NULL, slot->body_size = 0;
    return true;
}

bool webhook_keys_copy(webhook_keys *keys, const upstream_provider *provider, char *out, size_t out_size)
{
    keys_slot *slot = slot_of(keys, provider);
    if (slot == NULL) return false;
    pthread_mutex_lock(&keys->lock);
    size_t length = slot->text ? strlen(slot->text) : 0;
    bool ok = slot->text != NULL && length < out_size;
    if (ok) memcpy(out, slot->text, length + 1);
    pthread_mutex_unlock(&keys->lock);
    return ok;
}

void webhook_keys_ask_refresh(webhook_keys *keys, const upstream_provider *provider)
{
    keys_slot *slot = slot_of(keys, provider);
    if (slot != NULL) atomic_store(&slot->refresh, true);
}
