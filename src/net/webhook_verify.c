/* webhook_verify.c — provider webhook signatures (see webhook_verify.h). */
#include "net/webhook_verify.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A Unix timestamp in decimal, within the tolerance of now. */
static bool timestamp_fresh(const char *text, int64_t now, int64_t *out)
{
    if (text == NULL || *text == '\0' || strlen(text) > 12) return false;
    int64_t value = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        value = value * 10 + (*p - '0');
    }
    if (out) *out = value;
    int64_t skew = value > now ? value - now : now - value;
    return skew <= WEBHOOK_TOLERANCE_SECONDS;
}

bool webhook_verify_fal(const char *jwks_json, const char *request_id, const char *user_id,
                        const char *timestamp, const char *signature_hex, const char *body, size_t body_size,
                        int64_t now)
{
    if (jwks_json == NULL || request_id == NULL || user_id == NULL || signature_hex == NULL || body == NULL)
        return false;
    if (!timestamp_fresh(timestamp, now, NULL)) return false;
    unsigned char signature[crypto_sign_BYTES];
    size_t signature_len = 0;
    if (strlen(signature_hex) != 2 * crypto_sign_BYTES ||
        sodium_hex2bin(signature, sizeof(signature), signature_hex, strlen(signature_hex), NULL,
                       &signature_len, NULL) != 0 ||
        signature_len != sizeof(signature))
        return false;
    unsigned char digest[crypto_hash_sha256_BYTES];
    char digest_hex[2 * crypto_hash_sha256_BYTES + 1];
    crypto_hash_sha256(digest, (const unsigned char *)body, body_size);
    sodium_bin2hex(digest_hex, sizeof(digest_hex), digest, sizeof(digest));
    size_t message_len = strlen(request_id) + strlen(user_id) + strlen(timestamp) + strlen(digest_hex) + 3;
    char *message = malloc(message_len + 1);
    if (message == NULL) return false;
    snprintf(message, message_len + 1, "%s\n%s\n%s\n%s", request_id, user_id, timestamp, digest_hex);

    bool verified = false;
    json_error_t error;
    json_t *jwks = json_loads(jwks_json, JSON_REJECT_DUPLICATES, &error);
    size_t i;
    json_t *key;
    json_array_foreach(json_object_get(jwks, "keys"), i, key)
    {
        const char *kty = json_string_value(json_object_get(key, "kty"));
        const char *crv = json_string_value(json_object_get(key, "crv"));
        const char *x = json_string_value(json_object_get(key, "x"));
        if (kty == NULL || crv == NULL || x == NULL || strcmp(kty, "OKP") != 0 || strcmp(crv, "Ed25519") != 0)
            continue;
        unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
        size_t key_len = 0;
        if (sodium_base642bin(public_key, sizeof(public_key), x, strlen(x), NULL, &key_len, NULL,
                              sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
            key_len != sizeof(public_key))
            continue;
        if (crypto_sign_verify_detached(signature, (const unsigned char *)message, strlen(message),
                                        public_key) == 0) {
            verified = true;
            break;
        }
    }
    json_decref(jwks);
    free(message);
    return verified;
}

/* HMAC-SHA256(key, prefix ‖ body) into mac. */
static void hmac_compute(const unsigned char *key, size_t key_len, const char *prefix, const char *body,
                         size_t body_size, unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init(&state, key, key_len);
    crypto_auth_hmacsha256_update(&state, (const unsigned char *)prefix, strlen(prefix));
    crypto_auth_hmacsha256_update(&state, (const unsigned char *)body, body_size);
    crypto_auth_hmacsha256_final(&state, mac);
    sodium_memzero(&state, sizeof(state));
}

/* HMAC-SHA256(key, prefix ‖ body) compared in constant time with an expected MAC. */
static bool hmac_matches(const unsigned char *key, size_t key_len, const char *prefix, const char *body,
                         size_t body_size, const unsigned char *expected)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    hmac_compute(key, key_len, prefix, body, body_size, mac);
    return sodium_memcmp(mac, expected, sizeof(mac)) == 0;
}

bool webhook_verify_sync(const char *secret, const char *signature_header, const char *body, size_t body_size,
                         int64_t now)
{
    if (secret == NULL || *secret == '\0' || signature_header == NULL || body == NULL) return false;
    char t[16] = "", v1[2 * crypto_auth_hmacsha256_BYTES + 1] = "";
    /* "t=<unix>,v1=<hex>" — the parts in any order, each once */
    char copy[256];
    if (strlen(signature_header) >= sizeof(copy)) return false;
    snprintf(copy, sizeof(copy), "%s", signature_header);
    char *save = NULL;
    for (char *part = strtok_r(copy, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
        while (*part == ' ')
            part++;
        if (strncmp(part, "t=", 2) == 0 && t[0] == '\0' && strlen(part + 2) < sizeof(t))
            snprintf(t, sizeof(t), "%s", part + 2);
        else if (strncmp(part, "v1=", 3) == 0 && v1[0] == '\0' && strlen(part + 3) < sizeof(v1))
            snprintf(v1, sizeof(v1), "%s", part + 3);
    }
    if (!timestamp_fresh(t, now, NULL)) return false;
    unsigned char expected[crypto_auth_hmacsha256_BYTES];
    size_t expected_len = 0;
    if (strlen(v1) != 2 * sizeof(expected) ||
        sodium_hex2bin(expected, sizeof(expected), v1, strlen(v1), NULL, &expected_len, NULL) != 0 ||
        expected_len != sizeof(expected))
        return false;
    char prefix[24];
    snprintf(prefix, sizeof(prefix), "%s.", t);
    return hmac_matches((const unsigned char *)secret, strlen(secret), prefix, body, body_size, expected);
}

enum { STANDARD_KEY_MAX = 256 };

/* The HMAC key of a Standard Webhooks secret: the base64-decoded part after "whsec_", or the secret's
 * own bytes when it has no prefix. False when it is empty or does not decode. */
static bool standard_key(const char *secret, unsigned char key[STANDARD_KEY_MAX], size_t *key_len)
{
    *key_len = 0;
    if (strncmp(secret, "whsec_", 6) == 0) {
        const char *encoded = secret + 6;
        return sodium_base642bin(key, STANDARD_KEY_MAX, encoded, strlen(encoded), NULL, key_len, NULL,
                                 sodium_base64_VARIANT_ORIGINAL) == 0 &&
               *key_len > 0;
    }
    size_t length = strlen(secret);
    if (length == 0 || length > STANDARD_KEY_MAX) return false;
    memcpy(key, secret, length);
    *key_len = length;
    return true;
}

bool webhook_verify_standard(const char *secret, const char *webhook_id, const char *timestamp,
                             const char *signature_header, const char *body, size_t body_size, int64_t now)
{
    if (secret == NULL || *secret == '\0' || webhook_id == NULL || *webhook_id == '\0' ||
        signature_header == NULL || body == NULL || strlen(webhook_id) > WEBHOOK_ID_MAX)
        return false;
    if (!timestamp_fresh(timestamp, now, NULL)) return false;
    unsigned char key[STANDARD_KEY_MAX];
    size_t key_len = 0;
    if (!standard_key(secret, key, &key_len)) return false;
    char prefix[300];
    snprintf(prefix, sizeof(prefix), "%s.%s.", webhook_id, timestamp);
    /* several "v1,<base64>" entries may be present (secret rotation): any one may match */
    char copy[1024];
    if (strlen(signature_header) >= sizeof(copy)) return false;
    snprintf(copy, sizeof(copy), "%s", signature_header);
    bool verified = false;
    char *save = NULL;
    for (char *entry = strtok_r(copy, " ", &save); entry && !verified; entry = strtok_r(NULL, " ", &save)) {
        if (strncmp(entry, "v1,", 3) != 0) continue;
        unsigned char expected[crypto_auth_hmacsha256_BYTES];
        size_t expected_len = 0;
        if (sodium_base642bin(expected, sizeof(expected), entry + 3, strlen(entry + 3), NULL, &expected_len,
                              NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
            expected_len != sizeof(expected))
            continue;
        verified = hmac_matches(key, key_len, prefix, body, body_size, expected);
    }
    sodium_memzero(key, sizeof(key));
    return verified;
}

int webhook_sign_standard(const char *secret, const char *webhook_id, int64_t timestamp, const char *body,
                          size_t body_size, webhook_signed_headers *out)
{
    memset(out, 0, sizeof(*out));
    if (secret == NULL || *secret == '\0' || webhook_id == NULL || *webhook_id == '\0' ||
        strlen(webhook_id) > WEBHOOK_ID_MAX || (body == NULL && body_size > 0) || timestamp < 0)
        return -1;
    for (const char *p = webhook_id; *p; p++)
        if (*p <= ' ' || *p > '~' || *p == '.') return -1;
    unsigned char key[STANDARD_KEY_MAX];
    size_t key_len = 0;
    if (!standard_key(secret, key, &key_len)) {
        sodium_memzero(key, sizeof(key));
        return -1;
    }
    char prefix[WEBHOOK_ID_MAX + 32];
    snprintf(prefix, sizeof(prefix), "%s.%lld.", webhook_id, (long long)timestamp);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    hmac_compute(key, key_len, prefix, body ? body : "", body_size, mac);
    sodium_memzero(key, sizeof(key));
    char encoded[sodium_base64_ENCODED_LEN(crypto_auth_hmacsha256_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(encoded, sizeof(encoded), mac, sizeof(mac), sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(mac, sizeof(mac));
    snprintf(out->id, sizeof(out->id), "webhook-id: %s", webhook_id);
    snprintf(out->timestamp, sizeof(out->timestamp), "webhook-timestamp: %lld", (long long)timestamp);
    snprintf(out->signature, sizeof(out->signature), "webhook-signature: v1,%s", encoded);
    sodium_memzero(encoded, sizeof(encoded));
    return 0;
}
