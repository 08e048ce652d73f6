/* channels.c — `reelay channels …`: add, list, update, disable, enable and remove channels.
 *
 * A channel is a provider account: provider, credential (sealed at rest, see util/secret_box.h),
 * base URL (the provider's real one unless given), the models it serves, priority (higher is tried
 * first), weight (share among equal priorities) and a cap on tasks in flight. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "cli/cli.h"
#include "engine/cluster_signals.h"
#include "store/store.h"
#include "upstream/upstream.h"
#include "util/clock.h"
#include "util/secret_box.h"

typedef struct channel_flags {
    const char *data_dir;
    const char *database_url;
    const char *provider, *name, *base_url, *credential, *models, *webhook_secret; /* NULL = not given */
    int priority, weight, max_concurrent;
    bool has_priority, has_weight, has_max_concurrent;
    bool disabled, json;
} channel_flags;

/* Reads the flags after the command word. Returns -1 to go on, with *first the index of the first
 * positional argument, or the exit status (0 after --help, 2 misuse). */
static int read_channel_flags(int argc, char **argv, channel_flags *f, int *first)
{
    settings s;
    int status = cli_settings_read(&s, CLI_CHANNELS, argc, argv, first);
    if (status >= 0) return status;
    *f = (channel_flags){.data_dir = settings_text(&s, SETTING_DATA),
                         .database_url = settings_text(&s, SETTING_DATABASE),
                         .provider = settings_text(&s, SETTING_PROVIDER),
                         .name = settings_text(&s, SETTING_CHANNEL_NAME),
                         .base_url = settings_text(&s, SETTING_BASE_URL_FLAG),
                         .credential = settings_text(&s, SETTING_CREDENTIAL),
                         .models = settings_text(&s, SETTING_MODELS),
                         .webhook_secret = settings_text(&s, SETTING_WEBHOOK_SECRET),
                         .priority = (int)settings_integer(&s, SETTING_PRIORITY),
                         .weight = (int)settings_integer(&s, SETTING_WEIGHT),
                         .max_concurrent = (int)settings_integer(&s, SETTING_CHANNEL_MAX_CONCURRENT),
                         .has_priority = settings_given(&s, SETTING_PRIORITY),
                         .has_weight = settings_given(&s, SETTING_WEIGHT),
                         .has_max_concurrent = settings_given(&s, SETTING_CHANNEL_MAX_CONCURRENT),
                         .disabled = settings_bool(&s, SETTING_DISABLED),
                         .json = settings_bool(&s, SETTING_JSON)};
    return -1;
}

/* The base URL (its form checked by the settings table) without trailing slashes; false when too long. */
static bool base_url_normalise(const char *url, char *out, size_t out_size)
{
    size_t length = strlen(url);
    while (length > 0 && url[length - 1] == '/')
        length--;
    if (length >= out_size) return false;
    memcpy(out, url, length);
    out[length] = '\0';
    return true;
}

/* "all", or a comma-separated list of models the provider serves, normalised (no spaces). */
static bool models_normalise(const upstream_provider *provider, const char *models, char *out,
                             size_t out_size)
{
    if (strcmp(models, "all") == 0) {
        snprintf(out, out_size, "all");
        return true;
    }
    char copy[512];
    if (snprintf(copy, sizeof(copy), "%s", models) >= (int)sizeof(copy)) return false;
    out[0] = '\0';
    size_t used = 0;
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ')
            item++;
        char *end = item + strlen(item);
        while (end > item && end[-1] == ' ')
            *--end = '\0';
        if (catalog_model_find(item) == NULL) {
            fprintf(stderr, "reelay channels: unknown model '%s'\n", item);
            return false;
        }
        if (!upstream_provider_serves(provider, item)) {
            fprintf(stderr, "reelay channels: provider %s does not serve %s\n", provider->name, item);
            return false;
        }
        int n = snprintf(out + used, out_size - used, "%s%s", used ? "," : "", item);
        if (n < 0 || (size_t)n >= out_size - used) return false;
        used += (size_t)n;
    }
    return used > 0;
}

/* Reads a credential: the flag's value, or the first line of standard input for "-". */
static bool read_credential(const char *flag, char *out, size_t out_size)
{
    if (strcmp(flag, "-") != 0) {
        if (strlen(flag) >= out_size) return false;
        snprintf(out, out_size, "%s", flag);
        return true;
    }
    if (fgets(out, (int)out_size, stdin) == NULL) return false;
    out[strcspn(out, "\r\n")] = '\0';
    return true;
}

/* Validates and seals the credential into the channel. Returns 0, 1 (failure) or 2 (misuse). */
static int seal_credential(const char *data_dir, const upstream_provider *provider, const char *flag,
                           channel_record *channel)
{
    char credential[SECRET_BOX_MAX_PLAIN + 2] = "";
    if (flag != NULL && !read_credential(flag, credential, sizeof(credential))) {
        sodium_memzero(credential, sizeof(credential));
        return cli_misuse(CLI_CHANNELS, "the credential is missing or longer than %d characters",
                          SECRET_BOX_MAX_PLAIN);
    }
    if (provider->credential_valid == NULL || !provider->credential_valid(credential)) {
        sodium_memzero(credential, sizeof(credential));
        if (provider->runs_locally)
            return cli_misuse(CLI_CHANNELS, "%s", "the sandbox takes no --credential");
        fprintf(stderr, "reelay channels: a %s credential has the form %s (printable, no spaces)\n",
                provider->name, provider->credential_form);
        return 2;
    }
    channel->credential_sealed[0] = '\0';
    int result = 0;
    if (credential[0] != '\0') {
        secret_box box;
        if (secret_box_load(data_dir, &box) != 0 ||
            secret_box_seal(&box, credential, channel->credential_sealed,
                            sizeof(channel->credential_sealed)) != 0) {
            fprintf(stderr, "reelay channels: cannot seal the credential with %s/credentials.key\n",
                    data_dir);
            result = 1;
        }
        sodium_memzero(&box, sizeof(box));
    }
    sodium_memzero(credential, sizeof(credential));
    return result;
}

/* Seals an optional webhook secret ("" clears it). Returns 0, 1 or 2. */
static int seal_webhook_secret(const char *data_dir, const char *flag, channel_record *channel)
{
    char secret[SECRET_BOX_MAX_PLAIN + 2] = "";
    if (!read_credential(flag, secret, sizeof(secret)) ||
        (secret[0] && !upstream_credential_shape(secret, '\0'))) {
        sodium_memzero(secret, sizeof(secret));
        return cli_misuse(CLI_CHANNELS, "%s",
                          "--webhook-secret must be printable, without spaces, at most 512 characters");
    }
    channel->webhook_secret_sealed[0] = '\0';
    int result = 0;
    if (secret[0] != '\0') {
        secret_box box;
        if (secret_box_load(data_dir, &box) != 0 ||
            secret_box_seal(&box, secret, channel->webhook_secret_sealed,
                            sizeof(channel->webhook_secret_sealed)) != 0)
            result = 1;
        sodium_memzero(&box, sizeof(box));
    }
    sodium_memzero(secret, sizeof(secret));
    return result;
}

/* Applies the optional flags shared by add and update. Returns 0 or 2. */
static int apply_settings(const channel_flags *f, const upstream_provider *provider, channel_record *channel)
{
    if (f->base_url != NULL) {
        if (provider->runs_locally) return cli_misuse(CLI_CHANNELS, "%s", "the sandbox has no --base-url");
        if (!base_url_normalise(f->base_url, channel->base_url, sizeof(channel->base_url)))
            return cli_misuse(CLI_CHANNELS, "--base-url must be at most %zu characters",
                              sizeof(channel->base_url) - 1);
    }
    if (f->models != NULL &&
        !models_normalise(provider, f->models, channel->models, sizeof(channel->models))) {
        fprintf(stderr, "reelay channels: --models must be 'all' or models %s serves\n", provider->name);
        return 2;
    }
    if (f->has_priority) channel->priority = f->priority;
    if (f->has_weight) channel->weight = f->weight;
    if (f->has_max_concurrent) channel->max_concurrent = f->max_concurrent;
    return 0;
}

static int channels_add(const channel_flags *f)
{
    if (f->provider == NULL || f->name == NULL || f->models == NULL)
        return cli_misuse(CLI_CHANNELS, "%s",
                          "add needs --provider, --name and --models (and --credential for a provider)");
    const upstream_provider *provider = upstream_provider_find(f->provider);
    if (provider == NULL) return cli_misuse(CLI_CHANNELS, "unknown provider '%s'", f->provider);
    if (f->credential == NULL && !provider->runs_locally)
        return cli_misuse(CLI_CHANNELS, "a %s channel needs --credential", provider->name);
    channel_record channel;
    memset(&channel, 0, sizeof(channel));
    snprintf(channel.name, sizeof(channel.name), "%s", f->name);
    snprintf(channel.provider, sizeof(channel.provider), "%s", provider->name);
    snprintf(channel.base_url, sizeof(channel.base_url), "%s", provider->default_base_url);
    channel.weight = 1;
    channel.enabled = !f->disabled;
    channel.created_at = clock_unix_seconds();
    int status = apply_settings(f, provider, &channel);
    if (status == 0) status = seal_credential(f->data_dir, provider, f->credential, &channel);
    if (status == 0 && f->webhook_secret != NULL)
        status = seal_webhook_secret(f->data_dir, f->webhook_secret, &channel);
    if (status != 0) return status;
    store *db = cli_store_open(f->database_url, f->data_dir);
    if (db == NULL) return 1;
    store_status stored = store_channel_insert(db, &channel);
    if (stored == STORE_OK) cli_tell_nodes(db, CLUSTER_SIGNAL_CHANNEL, channel.name);
    store_close(db);
    if (stored == STORE_CONFLICT) {
        fprintf(stderr, "reelay channels: a channel named %s exists (use `channels update`)\n", channel.name);
        return 1;
    }
    if (stored != STORE_OK) return 1;
    printf("added channel %s (%s, %s)\n", channel.name, channel.provider, channel.models);
    return 0;
}

/* Finds the channel called name; prints why not. */
static bool find_channel(store *db, const char *name, channel_record *out)
{
    channel_record *channels = NULL;
    size_t count = 0;
    bool found = false;
    if (store_channel_list(db, &channels, &count) == STORE_OK) {
        for (size_t i = 0; i < count && !found; i++)
            if (strcmp(channels[i].name, name) == 0) *out = channels[i], found = true;
        if (!found) fprintf(stderr, "reelay channels: no channel named %s\n", name);
    }
    free(channels);
    return found;
}

static void masked_credential(const char *data_dir, const channel_record *channel, char *out, size_t out_size)
{
    if (channel->credential_sealed[0] == '\0') {
        snprintf(out, out_size, "(none)");
        return;
    }
    secret_box box;
    char plain[SECRET_BOX_MAX_PLAIN + 1];
    if (secret_box_load(data_dir, &box) == 0 &&
        secret_box_open(&box, channel->credential_sealed, plain, sizeof(plain)) == 0)
        secret_box_mask(plain, out, out_size);
    else
        snprintf(out, out_size, "(cannot be opened with this data folder's key)");
    sodium_memzero(plain, sizeof(plain));
    sodium_memzero(&box, sizeof(box));
}

static int channels_list(const channel_flags *f)
{
    store *db = cli_store_open(f->database_url, f->data_dir);
    if (db == NULL) return 1;
    channel_record *channels = NULL;
    size_t count = 0;
    store_status status = store_channel_list(db, &channels, &count);
    store_close(db);
    if (status != STORE_OK) return 1;
    json_t *list = f->json ? json_array() : NULL;
    if (!f->json)
        printf("%-16s %-9s %-8s %8s %6s %8s  %-22s %s\n", "NAME", "PROVIDER", "STATE", "PRIORITY", "WEIGHT",
               "MAX", "CREDENTIAL", "MODELS / BASE URL");
    for (size_t i = 0; i < count; i++) {
        const channel_record *c = &channels[i];
        char masked[96];
        masked_credential(f->data_dir, c, masked, sizeof(masked));
        if (f->json) {
            json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:b, s:s, s:b, s:I}",
                                                  "name", c->name, "provider", c->provider, "base_url",
                                                  c->base_url, "models", c->models, "priority", c->priority,
                                                  "weight", c->weight, "max_concurrent", c->max_concurrent,
                                                  "enabled", c->enabled, "credential", masked,
                                                  "webhook_secret", c->webhook_secret_sealed[0] != '\0',
                                                  "created", (json_int_t)c->created_at));
        } else {
            printf("%-16s %-9s %-8s %8d %6d %8d  %-22s %s%s%s\n", c->name, c->provider,
                   c->enabled ? "enabled" : "disabled", c->priority, c->weight, c->max_concurrent, masked,
                   c->models, c->base_url[0] ? " " : "", c->base_url);
        }
    }
    if (f->json) {
        char *text = json_dumps(list, JSON_INDENT(2));
        puts(text ? text : "[]");
        free(text);
        json_decref(list);
    }
    free(channels);
    return 0;
}

/* update / disable / enable: read, change, write back. */
static int channels_change(const channel_flags *f, const char *action, const char *name)
{
    store *db = cli_store_open(f->database_url, f->data_dir);
    if (db == NULL) return 1;
    channel_record channel;
    int status = 1;
    if (!find_channel(db, name, &channel)) goto done;
    const upstream_provider *provider = upstream_provider_find(channel.provider);
    if (provider == NULL) {
        fprintf(stderr, "reelay channels: channel %s has an unknown provider %s\n", name, channel.provider);
        goto done;
    }
    if (strcmp(action, "update") == 0) {
        if (f->provider != NULL || f->name != NULL) {
            status = cli_misuse(CLI_CHANNELS, "%s",
                                "a channel's provider and name cannot change: remove it and add it again");
            goto done;
        }
        status = apply_settings(f, provider, &channel);
        if (status == 0 && f->credential != NULL)
            status = seal_credential(f->data_dir, provider, f->credential, &channel);
        if (status == 0 && f->webhook_secret != NULL)
            status = seal_webhook_secret(f->data_dir, f->webhook_secret, &channel);
        if (status != 0) goto done;
    } else {
        channel.enabled = strcmp(action, "enable") == 0;
    }
    status = store_channel_update(db, &channel) == STORE_OK ? 0 : 1;
    if (status == 0) cli_tell_nodes(db, CLUSTER_SIGNAL_CHANNEL, name);
    if (status == 0)
        printf("%s channel %s\n",
               strcmp(action, "update") == 0 ? "updated"
               : action[0] == 'e'            ? "enabled"
                                             : "disabled",
               name);
done:
    store_close(db);
    sodium_memzero(&channel, sizeof(channel));
    return status;
}

static int channels_remove(const channel_flags *f, const char *name)
{
    store *db = cli_store_open(f->database_url, f->data_dir);
    if (db == NULL) return 1;
    store_status status = store_channel_remove(db, name);
    if (status == STORE_OK) cli_tell_nodes(db, CLUSTER_SIGNAL_CHANNEL, name);
    store_close(db);
    if (status == STORE_NOT_FOUND) fprintf(stderr, "reelay channels: no channel named %s\n", name);
    if (status != STORE_OK) return 1;
    printf("removed channel %s (its unfinished tasks fail over or time out)\n", name);
    return 0;
}

int cli_channels(int argc, char **argv)
{
    if (argc < 2) return cli_misuse(CLI_CHANNELS, "which channels command?");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return settings_write_help(stdout, CLI_CHANNELS) == 0 ? 0 : 1;
    const char *action = argv[1];
    channel_flags f;
    int first = 0;
    int status = read_channel_flags(argc - 1, argv + 1, &f, &first);
    if (status >= 0) return status;
    first += 1; /* index into argv */
    int positional = argc - first;
    if (strcmp(action, "add") == 0 || strcmp(action, "list") == 0) {
        if (positional != 0) return cli_misuse(CLI_CHANNELS, "unexpected argument '%s'", argv[first]);
        return action[0] == 'a' ? channels_add(&f) : channels_list(&f);
    }
    if (strcmp(action, "update") == 0 || strcmp(action, "disable") == 0 || strcmp(action, "enable") == 0 ||
        strcmp(action, "remove") == 0) {
        if (positional != 1) return cli_misuse(CLI_CHANNELS, "%s needs exactly one channel NAME", action);
        if (strcmp(action, "remove") == 0) return channels_remove(&f, argv[first]);
        return channels_change(&f, action, argv[first]);
    }
    return cli_misuse(CLI_CHANNELS, "unknown channels command '%s'", action);
}
