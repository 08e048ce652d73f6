/* auth.c — Bearer key authentication, and the per-key request rate limit. The key is hashed (SHA-256) and
 * looked up by its hash; the key itself is never stored, logged or compared as text. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/api_internal.h"
#include "api/rate_limit.h"
#include "util/clock.h"

enum { MAX_KEY_LENGTH = 200 };

/* Counts the request against the key's per-minute limit; adds the X-RateLimit-* headers, and on a
 * refusal answers 429 and returns false. */
static bool within_rate_limit(h2o_req_t *req, const key_record *key)
{
    if (key->rpm_limit <= 0) return true;
    rate_verdict verdict = rate_limit_take(key->id, key->rpm_limit, clock_unix_ms());
    api_add_rate_headers(req, verdict.limit, verdict.remaining, verdict.reset_seconds);
    if (verdict.allowed) return true;
    char retry[16], message[160];
    snprintf(retry, sizeof(retry), "%d", verdict.reset_seconds);
    http_add_header(req, "retry-after", retry);
    snprintf(message, sizeof(message), "Rate limit of %d requests per minute reached; retry in %d s.",
             verdict.limit, verdict.reset_seconds);
    http_send_error_code(req, "rate_limit_exceeded", NULL, "%s", message);
    return false;
}

void api_add_rate_headers(h2o_req_t *req, int limit, int remaining, int reset_seconds)
{
    char text[24];
    snprintf(text, sizeof(text), "%d", limit);
    http_set_header(req, "x-ratelimit-limit", text);
    snprintf(text, sizeof(text), "%d", remaining);
    http_set_header(req, "x-ratelimit-remaining", text);
    snprintf(text, sizeof(text), "%d", reset_seconds);
    http_set_header(req, "x-ratelimit-reset", text);
}

/* Finds the key an Authorization header names. Returns true with *key, or false with err filled (401
 * for a missing, malformed or unknown key; 500 when the store cannot be read). */
static bool find_key(api_thread *thread, h2o_iovec_t header, key_record *key, reelay_error *err)
{
    static const char bearer[] = "Bearer ";
    const char *problem = NULL;
    if (header.base == NULL) {
        problem = "Missing API key: send it as 'Authorization: Bearer sk-…'.";
    } else if (header.len <= sizeof(bearer) - 1 ||
               strncasecmp(header.base, bearer, sizeof(bearer) - 1) != 0 ||
               header.len - (sizeof(bearer) - 1) > MAX_KEY_LENGTH) {
        problem = "Malformed Authorization header: expected 'Bearer sk-…'.";
    } else {
        char text[MAX_KEY_LENGTH + 1];
        size_t length = header.len - (sizeof(bearer) - 1);
        memcpy(text, header.base + sizeof(bearer) - 1, length);
        text[length] = '\0';
        while (length > 0 && text[length - 1] == ' ')
            text[--length] = '\0';
        unsigned char hash[32];
        store_secret_hash(text, hash);
        sodium_memzero(text, sizeof(text));
        /* The slot is chosen by the hash's first byte; comparing the whole hash is constant-time. */
        uint64_t generation = atomic_load(&thread->app->keys_generation);
        if (generation != thread->keys_generation) { /* a key changed somewhere: forget them all */
            memset(thread->keys, 0, sizeof(thread->keys));
            thread->keys_generation = generation;
        }
        key_cache_entry *slot = &thread->keys[hash[0] % KEY_CACHE_SLOTS];
        int64_t now_ms = clock_monotonic_ms();
        if (slot->checked_ms != 0 && now_ms - slot->checked_ms < KEY_CACHE_MS &&
            sodium_memcmp(slot->hash, hash, sizeof(hash)) == 0) {
            *key = slot->key;
            return true;
        }
        store_status status = store_key_find_by_hash(thread->db, hash, key);
        if (status == STORE_OK) {
            memcpy(slot->hash, hash, sizeof(hash));
            slot->key = *key;
            slot->checked_ms = now_ms;
            return true;
        }
        if (status == STORE_ERROR) {
            reelay_error_raise(err, "store_unavailable", NULL, "The key could not be checked; retry later.");
            return false;
        }
        problem = "Invalid API key: it is unknown, revoked or expired.";
    }
    reelay_error_raise(err, "invalid_api_key", NULL, "%s", problem);
    return false;
}

bool api_authenticate(http_exchange *exchange, key_record *key)
{
    reelay_error err;
    if (find_key(exchange->thread_data, http_request_header(exchange->req, "authorization"), key, &err))
        return within_rate_limit(exchange->req, key);
    if (err.status == 401) http_add_header(exchange->req, "www-authenticate", "Bearer");
    if (err.status == 503) http_set_header(exchange->req, "retry-after", API_STORE_RETRY_AFTER);
    http_send_error(exchange->req, &err);
    return false;
}

bool api_screen_key(void *thread_data, const http_request_head *head, reelay_error *err)
{
    key_record key;
    return find_key(thread_data, http_head_field_value(head, "authorization"), &key, err);
}
