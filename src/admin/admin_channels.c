/* admin_channels.c — channels (admin.h). A channel is a provider account: provider, credential (sealed
 * at rest, util/secret_box.h), base URL (the provider's real one unless given), the models it serves,
 * priority (higher is tried first), weight (share among equal priorities) and a cap on tasks in flight. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_internal.h"
#include "catalog/catalog.h"
#include "engine/cluster_signals.h"
#include "upstream/upstream.h"
#include "util/clock.h"
#include "util/ids.h"
#include "util/secret_box.h"
#include "util/url_scheme.h"

/* "all", or a comma-separated list of models the provider serves, normalised (no spaces). */
static bool models_normalise(const admin_context *ctx, const upstream_provider *provider, const char *models,
                             char *out, size_t out_size, admin_result *result)
{
    if (strcmp(models, "all") == 0) {
        snprintf(out, out_size, "all");
        return true;
    }
    char copy[512];
    if (snprintf(copy, sizeof(copy), "%s", models) >= (int)sizeof(copy)) {
        admin_fail(ctx, result, ADMIN_INVALID, "too_long", "models", "{F} must be at most 511 characters");
        return false;
    }
    out[0] = '\0';
    size_t used = 0;
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ')
            item++;
        char *end = item + strlen(item);
        while (end > item && end[-1] == ' ')
            *--end = '\0';
        if (catalog_model_find(item) == NULL || !upstream_provider_serves(provider, item)) {
            admin_fail(ctx, result, ADMIN_INVALID, "invalid_value", "models",
                       catalog_model_find(item) == NULL
                           ? "unknown model '%.64s'; {F} must be 'all' or models %s serves"
                           : "provider %2$s does not serve %1$.64s",
                       item, provider->name);
            return false;
        }
        int n = snprintf(out + used, out_size - used, "%s%s", used ? "," : "", item);
        if (n < 0 || (size_t)n >= out_size - used) break;
        used += (size_t)n;
    }
    if (used > 0 && used < out_size) return true;
    admin_fail(ctx, result, ADMIN_INVALID, "invalid_value", "models", "{F} must be 'all' or models %s serves",
               provider->name);
    return false;
}

/* Seals text (not "") into out with the data folder's key. */
static bool seal(const admin_context *ctx, const char *text, char *out, size_t out_size)
{
    secret_box box;
    bool sealed =
        secret_box_load(ctx->data_dir, &box) == 0 && secret_box_seal(&box, text, out, out_size) == 0;
    sodium_memzero(&box, sizeof(box));
    return sealed;
}

/* Validates and seals the credential into the channel (none: NULL, or "" for an update that keeps none). */
static bool apply_credential(const admin_context *ctx, const upstream_provider *provider,
                             const char *credential, channel_record *channel, admin_result *result)
{
    const char *given = credential ? credential : "";
    if (strlen(given) > SECRET_BOX_MAX_PLAIN) {
        admin_fail(ctx, result, ADMIN_INVALID, "too_long", "credential",
                   "the credential is longer than %d characters", SECRET_BOX_MAX_PLAIN);
        return false;
    }
    if (provider->credential_valid == NULL || !provider->credential_valid(given)) {
        if (provider->runs_locally)
            admin_fail(ctx, result, ADMIN_INVALID, "invalid_value", "credential", "the sandbox takes no {F}");
        else
            admin_fail(ctx, result, ADMIN_INVALID, "invalid_value", "credential",
                       "a %s credential has the form %s (printable, no spaces)", provider->name,
                       provider->credential_form);
        return false;
    }
    channel->credential_sealed[0] = '\0';
    if (given[0] != '\0' &&
        !seal(ctx, given, channel->credential_sealed, sizeof(channel->credential_sealed))) {
        admin_fail(ctx, result, ADMIN_FAILED, "internal_error", NULL,
                   "the credential could not be sealed with the data folder's credentials.key");
        return false;
    }
    return true;
}

/* Seals an optional webhook secret ("" clears it). */
static bool apply_webhook_secret(const admin_context *ctx, const char *secret, channel_record *channel,
                                 admin_result *result)
{
    if (strlen(secret) > SECRET_BOX_MAX_PLAIN || (secret[0] && !upstream_credential_shape(secret, '\0'))) {
        admin_fail(ctx, result, ADMIN_INVALID, "invalid_value", "webhook_secret",
                   "{F} must be printable, without spaces, at most 512 characters");
        return false;
    }
    channel->webhook_secret_sealed[0] = '\0';
    if (secret[0] != '\0' &&
        !seal(ctx, secret, channel->webhook_secret_sealed, sizeof(channel->webhook_secret_sealed))) {
        admin_fail(ctx, result, ADMIN_FAILED, "internal_error", NULL,
                   "the webhook secret could not be sealed with the data folder's credentials.key");
        return false;
    }
    return true;
}

/* Applies the fields shared by add and update (checked as from outside), noting what changed. */
static bool apply_fields(const admin_context *ctx, const admin_channel_fields *f,
                         const upstream_provider *provider, channel_record *channel, admin_result *result)
{
    if (f->base_url != NULL) {
        size_t length = strlen(f->base_url);
        while (length > 0 && f->base_url[length - 1] == '/')
            length--;
        if (provider->runs_locally) {
            admin_fail(ctx, result, ADMIN_INVALID, "unsupported_field", "base_url", "the sandbox has no {F}");
            return false;
        }
        if (!url_is_plain_http(f->base_url, true) || length >= sizeof(channel->base_url)) {
            admin_fail(
                ctx, result, ADMIN_INVALID, "invalid_url", "base_url",
                "{F} must be an absolute http(s) URL without credentials, spaces, query or fragment, at "
                "most %zu characters",
                sizeof(channel->base_url) - 1);
            return false;
        }
        snprintf(channel->base_url, sizeof(channel->base_url), "%.*s", (int)length, f->base_url);
    }
    if (f->models != NULL &&
        !models_normalise(ctx, provider, f->models, channel->models, sizeof(channel->models), result))
        return false;
    if ((f->has_priority && (f->priority < -1000 || f->priority > 1000)) ||
        (f->has_weight && (f->weight < 1 || f->weight > 1000)) ||
        (f->has_max_concurrent && (f->max_concurrent < 0 || f->max_concurrent > 1000000))) {
        const char *field = f->has_priority && (f->priority < -1000 || f->priority > 1000) ? "priority"
                            : f->has_weight && (f->weight < 1 || f->weight > 1000)         ? "weight"
                                                                                           : "max_concurrent";
        admin_fail(
            ctx, result, ADMIN_INVALID, "out_of_range", field,
            "{F} is out of range (priority -1000 to 1000, weight 1 to 1000, max_concurrent 0 to 1000000)");
        return false;
    }
    if (f->has_priority) channel->priority = f->priority;
    if (f->has_weight) channel->weight = f->weight;
    if (f->has_max_concurrent) channel->max_concurrent = f->max_concurrent;
    if (f->credential != NULL && !apply_credential(ctx, provider, f->credential, channel, result))
        return false;
    if (f->webhook_secret != NULL && !apply_webhook_secret(ctx, f->webhook_secret, channel, result))
        return false;
    admin_done(result);
    admin_changed(result, "channel", "%s", channel->name);
    if (f->base_url) admin_changed(result, "base_url", "%s", channel->base_url);
    if (f->models) admin_changed(result, "models", "%s", channel->models);
    if (f->has_priority) admin_changed(result, "priority", "%d", channel->priority);
    if (f->has_weight) admin_changed(result, "weight", "%d", channel->weight);
    if (f->has_max_concurrent) admin_changed(result, "max_concurrent", "%d", channel->max_concurrent);
    if (f->credential) admin_changed(result, "credential", "%s", "(set)");
    if (f->webhook_secret)
        admin_changed(result, "webhook_secret", "%s", f->webhook_secret[0] ? "(set)" : "(removed)");
    return true;
}

void admin_channel_add(const admin_context *ctx, const admin_channel_fields *f, admin_result *result)
{
    const upstream_provider *provider = f->provider ? upstream_provider_find(f->provider) : NULL;
    if (f->provider == NULL || f->name == NULL || f->models == NULL) {
        admin_fail(ctx, result, ADMIN_INVALID, "missing_required_field",
                   f->provider == NULL ? "provider"
                   : f->name == NULL   ? "name"
                                       : "models",
                   "a channel needs a provider, a name and models (and a credential for a provider)");
        return;
    }
    if (provider == NULL) {
        admin_fail(ctx, result, ADMIN_INVALID, "invalid_value", "provider", "unknown provider '%.32s'",
                   f->provider);
        return;
    }
    if (!ids_is_plain_name(f->name, sizeof(((channel_record *)0)->name) - 1)) {
        admin_fail(ctx, result, ADMIN_INVALID, "invalid_value", "name",
                   "{F} must be 1 to 63 letters, digits, '-' or '_'");
        return;
    }
    if (f->credential == NULL && !provider->runs_locally) {
        admin_fail(ctx, result, ADMIN_INVALID, "missing_required_field", "credential",
                   "a %s channel needs {F}", provider->name);
        return;
    }
    channel_record channel;
    memset(&channel, 0, sizeof(channel));
    snprintf(channel.name, sizeof(channel.name), "%s", f->name);
    snprintf(channel.provider, sizeof(channel.provider), "%s", provider->name);
    snprintf(channel.base_url, sizeof(channel.base_url), "%s", provider->default_base_url);
    channel.weight = 1;
    channel.enabled = !f->disabled;
    channel.created_at = clock_unix_seconds();
    if (f->credential == NULL && !apply_credential(ctx, provider, NULL, &channel, result)) return;
    if (!apply_fields(ctx, f, provider, &channel, result)) {
        sodium_memzero(&channel, sizeof(channel));
        return;
    }
    store_status stored = store_channel_insert(ctx->db, &channel);
    sodium_memzero(channel.credential_sealed, sizeof(channel.credential_sealed));
    if (stored == STORE_CONFLICT) {
        admin_fail(ctx, result, ADMIN_CONFLICT, "channel_exists", "name",
                   "a channel named %s exists (update it instead)", channel.name);
    } else if (stored != STORE_OK) {
        admin_fail_store(ctx, result, "the channel could not be stored");
    } else {
        admin_changed(result, "provider", "%s", channel.provider);
        admin_changed(result, "enabled", "%s", channel.enabled ? "true" : "false");
        admin_tell_nodes(ctx, result, CLUSTER_SIGNAL_CHANNEL, channel.name);
    }
}

/* Reads the channel called name into *out; false after filling *result. */
static bool channel_find(const admin_context *ctx, const char *name, channel_record *out,
                         admin_result *result)
{
    channel_record *channels = NULL;
    size_t count = 0;
    if (store_channel_list(ctx->db, &channels, &count) != STORE_OK) {
        admin_fail_store(ctx, result, "the channels could not be read");
        return false;
    }
    bool found = false;
    for (size_t i = 0; i < count && !found; i++)
        if (strcmp(channels[i].name, name) == 0) *out = channels[i], found = true;
    if (channels) sodium_memzero(channels, count * sizeof(*channels));
    free(channels);
    if (!found)
        admin_fail(ctx, result, ADMIN_NOT_FOUND, "channel_not_found", NULL, "no channel named %.64s", name);
    return found;
}

/* Writes the changed channel back and tells the nodes. */
static void channel_store(const admin_context *ctx, channel_record *channel, admin_result *result)
{
    store_status status = store_channel_update(ctx->db, channel);
    if (status == STORE_NOT_FOUND)
        admin_fail(ctx, result, ADMIN_NOT_FOUND, "channel_not_found", NULL, "no channel named %s",
                   channel->name);
    else if (status != STORE_OK)
        admin_fail_store(ctx, result, "the channel could not be changed");
    else
        admin_tell_nodes(ctx, result, CLUSTER_SIGNAL_CHANNEL, channel->name);
    sodium_memzero(channel, sizeof(*channel));
}

void admin_channel_update(const admin_context *ctx, const char *name, const admin_channel_fields *f,
                          admin_result *result)
{
    channel_record channel;
    if (!channel_find(ctx, name, &channel, result)) return;
    const upstream_provider *provider = upstream_provider_find(channel.provider);
    if (f->provider != NULL || f->name != NULL) {
        admin_fail(ctx, result, ADMIN_INVALID, "unsupported_field",
                   f->provider ? "provider"
                   : f->name   ? "name"
                               : NULL,
                   "a channel's provider and name cannot change: remove it and add it again");
    } else if (provider == NULL) {
        admin_fail(ctx, result, ADMIN_FAILED, "internal_error", NULL, "channel %s has an unknown provider %s",
                   name, channel.provider);
    } else if (apply_fields(ctx, f, provider, &channel, result)) {
        channel_store(ctx, &channel, result);
        return;
    }
    sodium_memzero(&channel, sizeof(channel));
}

void admin_channel_set_enabled(const admin_context *ctx, const char *name, bool enabled, admin_result *result)
{
    channel_record channel;
    if (!channel_find(ctx, name, &channel, result)) return;
    channel.enabled = enabled;
    admin_done(result);
    admin_changed(result, "channel", "%s", channel.name);
    admin_changed(result, "enabled", "%s", enabled ? "true" : "false");
    channel_store(ctx, &channel, result);
}

void admin_channel_remove(const admin_context *ctx, const char *name, admin_result *result)
{
    store_status status = store_channel_remove(ctx->db, name);
    if (status == STORE_NOT_FOUND) {
        admin_fail(ctx, result, ADMIN_NOT_FOUND, "channel_not_found", NULL, "no channel named %.64s", name);
    } else if (status != STORE_OK) {
        admin_fail_store(ctx, result, "the channel could not be removed");
    } else {
        admin_done(result);
        admin_changed(result, "channel", "%s", name);
        admin_changed(result, "removed", "true");
        admin_tell_nodes(ctx, result, CLUSTER_SIGNAL_CHANNEL, name);
    }
}

/* The credential as `channels list` shows it: masked, "(none)", or why it cannot be opened. */
static void masked_credential(const secret_box *box, bool have_box, const channel_record *channel, char *out,
                              size_t out_size)
{
    if (channel->credential_sealed[0] == '\0') {
        snprintf(out, out_size, "(none)");
        return;
    }
    char plain[SECRET_BOX_MAX_PLAIN + 1];
    if (have_box && secret_box_open(box, channel->credential_sealed, plain, sizeof(plain)) == 0)
        secret_box_mask(plain, out, out_size);
    else
        snprintf(out, out_size, "(cannot be opened with this data folder's key)");
    sodium_memzero(plain, sizeof(plain));
}

json_t *admin_channels_list(const admin_context *ctx, admin_result *result)
{
    channel_record *channels = NULL;
    size_t count = 0;
    if (store_channel_list(ctx->db, &channels, &count) != STORE_OK) {
        admin_fail_store(ctx, result, "the channels could not be read");
        return NULL;
    }
    secret_box box;
    bool have_box = secret_box_load(ctx->data_dir, &box) == 0;
    json_t *list = json_array();
    for (size_t i = 0; list && i < count; i++) {
        const channel_record *c = &channels[i];
        char masked[96];
        masked_credential(&box, have_box, c, masked, sizeof(masked));
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:b, s:s, s:b, s:I}", "name", c->name,
                            "provider", c->provider, "base_url", c->base_url, "models", c->models, "priority",
                            c->priority, "weight", c->weight, "max_concurrent", c->max_concurrent, "enabled",
                            c->enabled, "credential", masked, "webhook_secret",
                            c->webhook_secret_sealed[0] != '\0', "created", (json_int_t)c->created_at));
    }
    sodium_memzero(&box, sizeof(box));
    if (channels) sodium_memzero(channels, count * sizeof(*channels));
    free(channels);
    if (list == NULL)
        admin_fail_store(ctx, result, "out of memory");
    else
        admin_done(result);
    return list;
}
