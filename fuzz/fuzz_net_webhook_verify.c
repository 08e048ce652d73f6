/* fuzz_net_webhook_verify.c — provider webhook signatures: fuzzed secrets, ids, timestamps, signature
 * headers, JWKS documents and bodies through webhook_verify_standard, _sync and _fal. Asserts that a
 * signature the verifier accepts never passes with a mutated body, that correctly signed deliveries
 * (webhook_sign_standard, Sync's HMAC, an Ed25519 key published in the JWKS) always pass, and that
 * they stop passing with a changed id or a timestamp outside the tolerance. */
#include <sodium.h>
#include <string.h>

#include "fuzz_common.h"
#include "net/webhook_verify.h"

#define NOW INT64_C(1700000000)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    FUZZ_CHECK(sodium_init() >= 0);
    return 0;
}

/* The body with its last byte changed, or one byte added when it is empty: malloc'd. */
static char *mutated(const char *body, size_t size, size_t *mutated_size)
{
    char *copy = malloc(size + 1);
    if (copy == NULL) abort();
    memcpy(copy, body, size);
    if (size == 0)
        copy[0] = 'x', *mutated_size = 1;
    else
        copy[size - 1] ^= 0x20, *mutated_size = size;
    return copy;
}

static void fuzz_standard(const char *secret, const char *id, const char *timestamp, const char *header,
                          const char *body, size_t body_size)
{
    size_t other_size;
    char *other = mutated(body, body_size, &other_size);
    if (webhook_verify_standard(secret, id, timestamp, header, body, body_size, NOW))
        FUZZ_CHECK(!webhook_verify_standard(secret, id, timestamp, header, other, other_size, NOW));

    webhook_signed_headers signed_headers;
    if (webhook_sign_standard(secret, id, NOW, body, body_size, &signed_headers) == 0) {
        FUZZ_CHECK(strncmp(signed_headers.signature, "webhook-signature: ", 19) == 0);
        const char *signature = signed_headers.signature + 19;
        char now_text[24], late[24];
        snprintf(now_text, sizeof(now_text), "%lld", (long long)NOW);
        snprintf(late, sizeof(late), "%lld", (long long)(NOW + WEBHOOK_TOLERANCE_SECONDS + 1));
        FUZZ_CHECK(webhook_verify_standard(secret, id, now_text, signature, body, body_size, NOW));
        FUZZ_CHECK(!webhook_verify_standard(secret, id, now_text, signature, other, other_size, NOW));
        FUZZ_CHECK(!webhook_verify_standard(secret, id, late, signature, body, body_size, NOW));
        char changed_id[WEBHOOK_ID_MAX + 1];
        snprintf(changed_id, sizeof(changed_id), "%s", id);
        changed_id[0] = changed_id[0] == 'a' ? 'b' : 'a';
        FUZZ_CHECK(!webhook_verify_standard(secret, changed_id, now_text, signature, body, body_size, NOW));
        /* ids the signer refuses could shift the signed text or break a header */
        FUZZ_CHECK(strchr(id, '.') == NULL && strlen(id) <= WEBHOOK_ID_MAX);
    }
    free(other);
}

static void fuzz_sync(const char *secret, const char *header, const char *body, size_t body_size)
{
    size_t other_size;
    char *other = mutated(body, body_size, &other_size);
    if (webhook_verify_sync(secret, header, body, body_size, NOW))
        FUZZ_CHECK(!webhook_verify_sync(secret, header, other, other_size, NOW));
    if (secret[0] != '\0') { /* Sync-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>." body)> */
        unsigned char mac[crypto_auth_hmacsha256_BYTES];
        crypto_auth_hmacsha256_state state;
        char prefix[32], hex[2 * sizeof(mac) + 1], good[128];
        snprintf(prefix, sizeof(prefix), "%lld.", (long long)NOW);
        crypto_auth_hmacsha256_init(&state, (const unsigned char *)secret, strlen(secret));
        crypto_auth_hmacsha256_update(&state, (const unsigned char *)prefix, strlen(prefix));
        crypto_auth_hmacsha256_update(&state, (const unsigned char *)body, body_size);
        crypto_auth_hmacsha256_final(&state, mac);
        sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
        snprintf(good, sizeof(good), "t=%lld,v1=%s", (long long)NOW, hex);
        FUZZ_CHECK(webhook_verify_sync(secret, good, body, body_size, NOW));
        FUZZ_CHECK(!webhook_verify_sync(secret, good, other, other_size, NOW));
        FUZZ_CHECK(!webhook_verify_sync(secret, good, body, body_size, NOW + WEBHOOK_TOLERANCE_SECONDS + 1));
    }
    free(other);
}

/* jwks_or_seed: a JWKS document as given, and the seed of a key pair that signs properly. */
static void fuzz_fal(const char *jwks_or_seed, const char *request_id, const char *user_id,
                     const char *timestamp, const char *signature_hex, const char *body, size_t body_size)
{
    size_t other_size;
    char *other = mutated(body, body_size, &other_size);
    if (webhook_verify_fal(jwks_or_seed, request_id, user_id, timestamp, signature_hex, body, body_size, NOW))
        FUZZ_CHECK(!webhook_verify_fal(jwks_or_seed, request_id, user_id, timestamp, signature_hex, other,
                                       other_size, NOW));

    unsigned char seed[crypto_sign_SEEDBYTES], public_key[crypto_sign_PUBLICKEYBYTES],
        secret_key[crypto_sign_SECRETKEYBYTES];
    crypto_generichash(seed, sizeof(seed), (const unsigned char *)jwks_or_seed, strlen(jwks_or_seed), NULL,
                       0);
    crypto_sign_seed_keypair(public_key, secret_key, seed);
    char x[sodium_base64_ENCODED_LEN(crypto_sign_PUBLICKEYBYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(x, sizeof(x), public_key, sizeof(public_key), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char jwks[256];
    snprintf(jwks, sizeof(jwks),
             "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"},"
             "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}]}",
             x);
    /* the signed text: request_id \n user_id \n timestamp \n hex(sha256(body)) */
    unsigned char digest[crypto_hash_sha256_BYTES];
    char digest_hex[2 * sizeof(digest) + 1], now_text[24];
    crypto_hash_sha256(digest, (const unsigned char *)body, body_size);
    sodium_bin2hex(digest_hex, sizeof(digest_hex), digest, sizeof(digest));
    snprintf(now_text, sizeof(now_text), "%lld", (long long)NOW);
    size_t message_size = strlen(request_id) + strlen(user_id) + strlen(now_text) + strlen(digest_hex) + 4;
    char *message = malloc(message_size);
    if (message == NULL) abort();
    snprintf(message, message_size, "%s\n%s\n%s\n%s", request_id, user_id, now_text, digest_hex);
    unsigned char signature[crypto_sign_BYTES];
    crypto_sign_detached(signature, NULL, (const unsigned char *)message, strlen(message), secret_key);
    char signature_text[2 * sizeof(signature) + 1];
    sodium_bin2hex(signature_text, sizeof(signature_text), signature, sizeof(signature));
    FUZZ_CHECK(webhook_verify_fal(jwks, request_id, user_id, now_text, signature_text, body, body_size, NOW));
    FUZZ_CHECK(
        !webhook_verify_fal(jwks, request_id, user_id, now_text, signature_text, other, other_size, NOW));
    FUZZ_CHECK(!webhook_verify_fal(jwks, request_id, user_id, now_text, signature_text, body, body_size,
                                   NOW - WEBHOOK_TOLERANCE_SECONDS - 1));
    free(message);
    free(other);
    sodium_memzero(secret_key, sizeof(secret_key));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    uint8_t scheme = fuzz_take_byte(&in) % 3;
    char *first = fuzz_take_field(&in, '\n', NULL);  /* secret, or the JWKS (fal) */
    char *second = fuzz_take_field(&in, '\n', NULL); /* webhook id / request id */
    char *third = fuzz_take_field(&in, '\n', NULL);  /* timestamp / user id (fal) */
    char *fourth = fuzz_take_field(&in, '\n', NULL); /* signature header / timestamp (fal) */
    char *fifth = scheme == 2 ? fuzz_take_field(&in, '\n', NULL) : NULL; /* fal: signature hex */
    size_t body_size = 0;
    char *body = fuzz_take_rest(&in, &body_size);
    if (scheme == 0)
        fuzz_standard(first, second, third, fourth, body, body_size);
    else if (scheme == 1)
        fuzz_sync(first, fourth, body, body_size);
    else
        fuzz_fal(first, second, third, fourth, fifth, body, body_size);
    free(first), free(second), free(third), free(fourth), free(fifth), free(body);
    return 0;
}
