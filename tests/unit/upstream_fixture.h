/* upstream_fixture.h — what the provider adapter tests (tests/unit/test_upstream_<provider>.c) share: a
 * context for one task on a channel of the provider under test, JSON helpers for the requests it builds,
 * answers and webhooks to feed it.
 *
 * Define before including it:
 *   PROVIDER    the provider's name in the table ("fal", …)
 *   BASE        the channel's base URL
 *   CREDENTIAL  a credential of the provider's form
 * It defines TASK_ID (our task id, also the provider's external id / idempotency key) and NOW (the
 * context's clock, Unix seconds). Everything here is static inline: a test uses what it needs. */
#ifndef REELAY_TESTS_UPSTREAM_FIXTURE_H
#define REELAY_TESTS_UPSTREAM_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/webhook_verify.h"
#include "upstream/upstream.h"

#if !defined(PROVIDER) || !defined(BASE) || !defined(CREDENTIAL)
#error "define PROVIDER, BASE and CREDENTIAL before including upstream_fixture.h"
#endif

#define TASK_ID "task-unified-1757165031-uyujaw3d"
#define NOW 1700000000

/* The provider under test, from the registry. */
static inline const upstream_provider *provider(void)
{
    const upstream_provider *found = upstream_provider_find(PROVIDER);
    assert_non_null(found);
    return found;
}

/* A task's context: the channel (BASE, CREDENTIAL), TASK_ID, the model, its canonical parameters given
 * as JSON text, the webhook URL (or NULL), NOW, and a fresh auth cache. */
typedef struct fixture {
    upstream_auth_cache auth;
    upstream_context ctx;
    json_t *params;
} fixture;

static inline void fixture_init(fixture *f, const char *model, const char *params_json, const char *webhook)
{
    memset(f, 0, sizeof(*f));
    json_error_t error;
    f->params = json_loads(params_json, 0, &error);
    assert_non_null(f->params);
    f->ctx.base_url = BASE;
    f->ctx.credential = CREDENTIAL;
    f->ctx.task_id = TASK_ID;
    f->ctx.model = model;
    f->ctx.params = f->params;
    f->ctx.webhook_url = webhook;
    f->ctx.now = NOW;
    f->ctx.auth = &f->auth;
}

static inline void fixture_done(fixture *f)
{
    json_decref(f->params);
}

/* An answer with this status and body (NULL = none) and no headers. */
static inline upstream_response answer(long status, const char *body)
{
    upstream_response response = {.status = status, .body = body, .body_size = body ? strlen(body) : 0};
    return response;
}

/* The request's JSON body, parsed (it must be an object whose size is body_size). Caller decrefs. */
static inline json_t *request_body(const upstream_request *request)
{
    assert_non_null(request->body);
    assert_int_equal(request->body_size, strlen(request->body));
    json_error_t error;
    json_t *body = json_loads(request->body, 0, &error);
    assert_true(json_is_object(body));
    return body;
}

/* The string member key of object (it must be one). */
static inline const char *string_at(const json_t *object, const char *key)
{
    const json_t *value = json_object_get(object, key);
    assert_true(json_is_string(value));
    return json_string_value(value);
}

/* A body with a 10 KB string of 'a' where "%s" stands in the template. Caller frees. */
static inline char *with_huge_string(const char *template)
{
    enum { HUGE = 10 * 1024 };
    const char *marker = strstr(template, "%s");
    assert_non_null(marker);
    size_t prefix = (size_t)(marker - template), suffix = strlen(marker + 2);
    char *text = malloc(prefix + HUGE + suffix + 1);
    assert_non_null(text);
    memcpy(text, template, prefix);
    memset(text + prefix, 'a', HUGE);
    memcpy(text + prefix + HUGE, marker + 2, suffix + 1);
    return text;
}

/* ---- webhooks ---- */

/* A webhook as the route hands it to verify_webhook: up to four headers, the body, the channel's secret
 * and the provider's keys (each NULL when absent), at NOW. */
typedef struct webhook_fixture {
    upstream_header headers[4];
    upstream_webhook hook;
} webhook_fixture;

static inline void webhook_init(webhook_fixture *w, const char *body, const char *secret, const char *keys)
{
    memset(w, 0, sizeof(*w));
    w->hook.headers = w->headers;
    w->hook.body = body;
    w->hook.body_size = strlen(body);
    w->hook.secret = secret;
    w->hook.keys = keys;
    w->hook.now = NOW;
}

static inline void webhook_header(webhook_fixture *w, const char *name, const char *value)
{
    assert_true(w->hook.header_count < sizeof(w->headers) / sizeof(w->headers[0]));
    w->headers[w->hook.header_count++] = (upstream_header){.name = name, .value = value};
}

/* The provider's verdict on the webhook; *reason is checked to be set exactly when REFUSED. */
static inline upstream_webhook_verdict webhook_verdict(const webhook_fixture *w, const char **reason)
{
    *reason = NULL;
    assert_non_null(provider()->verify_webhook);
    upstream_webhook_verdict verdict = provider()->verify_webhook(&w->hook, reason);
    if (verdict == UPSTREAM_WEBHOOK_REFUSED)
        assert_non_null(*reason);
    else
        assert_null(*reason);
    return verdict;
}

/* Adds the three Standard Webhooks headers, signed under secret with webhook_sign_standard at NOW; the
 * header values live in signed_out. */
static inline void webhook_sign_standard_into(webhook_fixture *w, const char *secret, const char *webhook_id,
                                              webhook_signed_headers *signed_out)
{
    assert_int_equal(
        webhook_sign_standard(secret, webhook_id, NOW, w->hook.body, w->hook.body_size, signed_out), 0);
    webhook_header(w, "webhook-id", strchr(signed_out->id, ' ') + 1);
    webhook_header(w, "webhook-timestamp", strchr(signed_out->timestamp, ' ') + 1);
    webhook_header(w, "webhook-signature", strchr(signed_out->signature, ' ') + 1);
}

#define STANDARD_WEBHOOK_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

/* For a provider that signs Standard Webhooks under the channel's secret: with STANDARD_WEBHOOK_SECRET on
 * the channel, a delivery of body signed with it verifies, and forgeries are refused as bad signatures
 * (signed under another secret, a changed webhook-id, a replay from outside the tolerance, no headers). */
static inline void assert_standard_webhooks_verified(const char *body)
{
    static const char other_secret[] = "whsec_QW5vdGhlciBzZWNyZXQgYWx0b2dldGhlcg==";
    webhook_signed_headers signed_headers;
    const char *reason;
    webhook_fixture w;
    webhook_init(&w, body, STANDARD_WEBHOOK_SECRET, NULL);
    webhook_sign_standard_into(&w, STANDARD_WEBHOOK_SECRET, "msg_1", &signed_headers);
    assert_int_equal(webhook_verdict(&w, &reason), UPSTREAM_WEBHOOK_VERIFIED);

    webhook_init(&w, body, STANDARD_WEBHOOK_SECRET, NULL);
    webhook_sign_standard_into(&w, other_secret, "msg_1", &signed_headers);
    assert_int_equal(webhook_verdict(&w, &reason), UPSTREAM_WEBHOOK_REFUSED);
    assert_string_equal(reason, "bad signature");
    webhook_init(&w, body, STANDARD_WEBHOOK_SECRET, NULL);
    webhook_sign_standard_into(&w, STANDARD_WEBHOOK_SECRET, "msg_1", &signed_headers);
    w.headers[0].value = "msg_2"; /* webhook-id */
    assert_int_equal(webhook_verdict(&w, &reason), UPSTREAM_WEBHOOK_REFUSED);
    webhook_init(&w, body, STANDARD_WEBHOOK_SECRET, NULL);
    webhook_sign_standard_into(&w, STANDARD_WEBHOOK_SECRET, "msg_1", &signed_headers);
    w.hook.now = NOW + WEBHOOK_TOLERANCE_SECONDS + 1;
    assert_int_equal(webhook_verdict(&w, &reason), UPSTREAM_WEBHOOK_REFUSED);
    webhook_init(&w, body, STANDARD_WEBHOOK_SECRET, NULL);
    assert_int_equal(webhook_verdict(&w, &reason), UPSTREAM_WEBHOOK_REFUSED);
    assert_string_equal(reason, "bad signature");
}

/* The provider's wish for webhooks (on a channel without and with a webhook secret) and where it
 * publishes webhook keys (NULL = nowhere). */
static inline void assert_webhook_entry(bool wanted_without_secret, bool wanted_with_secret,
                                        const char *keys_url)
{
    const upstream_provider *p = provider();
    assert_true(upstream_webhook_wanted(p, false) == wanted_without_secret);
    assert_true(upstream_webhook_wanted(p, true) == wanted_with_secret);
    if (keys_url == NULL)
        assert_null(p->webhook_keys_url);
    else
        assert_string_equal(p->webhook_keys_url, keys_url);
}

/* The job id the provider reads from a webhook body. */
static inline void assert_webhook_job_id(const char *body, const char *expected)
{
    char found[128];
    upstream_webhook_job_id(provider(), body, strlen(body), found, sizeof(found));
    assert_string_equal(found, expected);
}

#endif
