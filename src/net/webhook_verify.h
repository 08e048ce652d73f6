/* webhook_verify.h — checking that a provider's webhook really comes from the provider.
 *
 * Pure functions over the raw request (headers and body bytes exactly as received) and the time; no
 * I/O. Every comparison of a signature is constant-time; every timestamp must be within
 * WEBHOOK_TOLERANCE_SECONDS of now, in either direction (replays of old deliveries are refused).
 *
 *   fal      Ed25519 over  request_id "\n" user_id "\n" timestamp "\n" hex(sha256(body)), signature in
 *            hex; the public keys come from fal's JWKS ({"keys":[{"kty":"OKP","crv":"Ed25519","x":…}]}),
 *            and any one of them may verify.
 *   Sync     Sync-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret as bytes, "<t>." body)>.
 *   Kling, OpenAI — Standard Webhooks: webhook-id, webhook-timestamp and webhook-signature
 *            ("v1,<base64>" entries separated by spaces), HMAC-SHA256 keyed with the base64-decoded
 *            secret after "whsec_" (the raw bytes when there is no prefix) over "<id>.<timestamp>.<body>".
 *
 * The same Standard Webhooks scheme signs reelay's own deliveries (task callbacks): webhook_sign_standard
 * below is the exact inverse of webhook_verify_standard. */
#ifndef REELAY_NET_WEBHOOK_VERIFY_H
#define REELAY_NET_WEBHOOK_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEBHOOK_TOLERANCE_SECONDS 300

bool webhook_verify_fal(const char *jwks_json, const char *request_id, const char *user_id,
                        const char *timestamp, const char *signature_hex, const char *body, size_t body_size,
                        int64_t now);

bool webhook_verify_sync(const char *secret, const char *signature_header, const char *body, size_t body_size,
                         int64_t now);

bool webhook_verify_standard(const char *secret, const char *webhook_id, const char *timestamp,
                             const char *signature_header, const char *body, size_t body_size, int64_t now);

/* ---- signing (Standard Webhooks) ---- */

#define WEBHOOK_ID_MAX 256 /* longest webhook id signed or verified */

/* The three request headers of one signed delivery, each a whole "Name: value" line (no CR LF), ready
 * for libcurl's header list. The signature is derived from the secret: never log it. */
typedef struct webhook_signed_headers {
    char id[WEBHOOK_ID_MAX + 16]; /* "webhook-id: <id>" */
    char timestamp[48];           /* "webhook-timestamp: <unix seconds>" */
    char signature[96];           /* "webhook-signature: v1,<base64 HMAC-SHA256>" */
} webhook_signed_headers;

/* Signs body for delivery at `timestamp` (Unix seconds) under secret ("whsec_<base64 key>", or raw key
 * bytes without the prefix, as webhook_verify_standard reads it): HMAC-SHA256 of
 * "<webhook_id>.<timestamp>.<body>". Returns 0, or -1 (out zeroed) when the secret is empty or does not
 * decode, or webhook_id is empty, longer than WEBHOOK_ID_MAX or holds characters other than printable
 * ASCII without '.' (ids must not be able to shift the signed text or break a header). */
int webhook_sign_standard(const char *secret, const char *webhook_id, int64_t timestamp, const char *body,
                          size_t body_size, webhook_signed_headers *out);

#endif
