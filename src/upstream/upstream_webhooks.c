/* upstream_webhooks.c — what every provider's webhook entries share (see upstream.h): whether to ask
 * for a webhook, where a body names the job, header look-up and the Standard Webhooks check. */
#include <stdio.h>
#include <string.h>

#include "net/webhook_verify.h"
#include "upstream/upstream.h"

bool upstream_webhook_wanted(const upstream_provider *provider, bool channel_has_secret)
{
    if (provider == NULL || provider->verify_webhook == NULL) return false;
    switch (provider->webhook_ask) {
    case UPSTREAM_WEBHOOK_ALWAYS:
        return true;
    case UPSTREAM_WEBHOOK_WITH_SECRET:
        return channel_has_secret;
    case UPSTREAM_WEBHOOK_NEVER:
        break;
    }
    return false;
}

void upstream_webhook_job_id(const upstream_provider *provider, const char *body, size_t size, char *out,
                             size_t out_size)
{
    if (out_size == 0) return;
    out[0] = '\0';
    const char *field = provider ? provider->webhook_job_id_field : NULL;
    if (field == NULL || body == NULL) return;
    json_error_t error;
    json_t *root = json_loadb(body, size, 0, &error);
    const json_t *value = root;
    /* "outer.inner": each segment is a member of the object before it */
    for (const char *segment = field; value != NULL && *segment;) {
        size_t length = strcspn(segment, ".");
        char name[64];
        if (length == 0 || length >= sizeof(name)) {
            value = NULL;
            break;
        }
        memcpy(name, segment, length);
        name[length] = '\0';
        value = json_is_object(value) ? json_object_get(value, name) : NULL;
        segment += length + (segment[length] == '.');
    }
    if (json_is_string(value) && strlen(json_string_value(value)) < out_size)
        snprintf(out, out_size, "%s", json_string_value(value));
    json_decref(root);
}

const char *upstream_webhook_header(const upstream_webhook *hook, const char *name)
{
    for (size_t i = 0; i < hook->header_count; i++)
        if (hook->headers[i].name != NULL && strcmp(hook->headers[i].name, name) == 0)
            return hook->headers[i].value ? hook->headers[i].value : "";
    return "";
}

upstream_webhook_verdict upstream_webhook_verify_standard(const upstream_webhook *hook, const char **reason)
{
    if (hook->secret == NULL) {
        *reason = "no webhook secret set";
        return UPSTREAM_WEBHOOK_REFUSED;
    }
    if (webhook_verify_standard(hook->secret, upstream_webhook_header(hook, "webhook-id"),
                                upstream_webhook_header(hook, "webhook-timestamp"),
                                upstream_webhook_header(hook, "webhook-signature"), hook->body,
                                hook->body_size, hook->now))
        return UPSTREAM_WEBHOOK_VERIFIED;
    *reason = "bad signature";
    return UPSTREAM_WEBHOOK_REFUSED;
}
