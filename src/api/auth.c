/* auth.c — Bearer key authentication. The key is hashed (SHA-256) and looked up by its hash; the
 * key itself is never stored, logged or compared as text. */
#include <sodium.h>
#include <string.h>
#include <strings.h>

#include "api/api_internal.h"
#include "util/clock.h"

enum { MAX_KEY_LENGTH = 200 };

bool api_authenticate(http_exchange *exchange, key_record *key)
{
    api_thread *thread = exchange->thread_data;
    h2o_iovec_t header = http_request_header(exchange->req, "authorization");
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
        api_key_hash(text, hash);
        sodium_memzero(text, sizeof(text));
        /* The slot is chosen by the hash's first byte; comparing the whole hash is constant-time. */
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
            http_send_error_fields(exchange->req, 500, ERR_TYPE_SERVER, "internal_error", NULL,
                                   "The key could not be checked; retry later.");
            return false;
        }
        problem = "Invalid API key: it is unknown, revoked or expired.";
    }
    http_add_header(exchange->req, "www-authenticate", "Bearer");
    http_send_error_fields(exchange->req, 401, ERR_TYPE_AUTHENTICATION, "invalid_api_key", NULL, problem);
    return false;
}
