/* channels.c — `reelay channels …`: add, list, update, disable, enable and remove channels: the flags,
 * the credential from standard input and the printing; the actions are admin/admin.h's, which the admin
 * API runs too.
 *
 * A channel is a provider account: provider, credential (sealed at rest, see util/secret_box.h),
 * base URL (the provider's real one unless given), the models it serves, priority (higher is tried
 * first), weight (share among equal priorities) and a cap on tasks in flight. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "cli/cli.h"
#include "store/store.h"
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

/* The admin fields of the flags; credential and webhook_secret, when "-", are read into the buffers
 * (first line of standard input). 0, or 2 after a misuse. */
static int channel_fields(const channel_flags *f, admin_channel_fields *out, char *credential,
                          char *webhook_secret, size_t secret_size)
{
    *out = (admin_channel_fields){.provider = f->provider,
                                  .name = f->name,
                                  .base_url = f->base_url,
                                  .credential = f->credential,
                                  .models = f->models,
                                  .webhook_secret = f->webhook_secret,
                                  .priority = f->priority,
                                  .weight = f->weight,
                                  .max_concurrent = f->max_concurrent,
                                  .has_priority = f->has_priority,
                                  .has_weight = f->has_weight,
                                  .has_max_concurrent = f->has_max_concurrent,
                                  .disabled = f->disabled};
    if (f->credential != NULL) {
        if (!read_credential(f->credential, credential, secret_size))
            return cli_misuse(CLI_CHANNELS, "the credential is missing or longer than %d characters",
                              SECRET_BOX_MAX_PLAIN);
        out->credential = credential;
    }
    if (f->webhook_secret != NULL) {
        if (!read_credential(f->webhook_secret, webhook_secret, secret_size))
            return cli_misuse(CLI_CHANNELS, "%s",
                              "--webhook-secret must be printable, without spaces, at most 512 characters");
        out->webhook_secret = webhook_secret;
    }
    return 0;
}

static int channels_list(const admin_context *ctx, bool json)
{
    admin_result result;
    json_t *list = admin_channels_list(ctx, &result);
    if (list == NULL) return cli_admin_report(CLI_CHANNELS, &result);
    if (json) return cli_print_json(list, JSON_INDENT(2));
    printf("%-16s %-9s %-8s %8s %6s %8s  %-22s %s\n", "NAME", "PROVIDER", "STATE", "PRIORITY", "WEIGHT",
           "MAX", "CREDENTIAL", "MODELS / BASE URL");
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c)
    {
        const char *base_url = json_string_value(json_object_get(c, "base_url"));
        printf("%-16s %-9s %-8s %8d %6d %8d  %-22s %s%s%s\n", json_string_value(json_object_get(c, "name")),
               json_string_value(json_object_get(c, "provider")),
               json_is_true(json_object_get(c, "enabled")) ? "enabled" : "disabled",
               (int)json_integer_value(json_object_get(c, "priority")),
               (int)json_integer_value(json_object_get(c, "weight")),
               (int)json_integer_value(json_object_get(c, "max_concurrent")),
               json_string_value(json_object_get(c, "credential")),
               json_string_value(json_object_get(c, "models")), base_url && base_url[0] ? " " : "",
               base_url ? base_url : "");
    }
    json_decref(list);
    return 0;
}

/* add, update, disable, enable, remove (name: the channel's, NULL for add). */
static int channels_change(const admin_context *ctx, const channel_flags *f, const char *action,
                           const char *name)
{
    char credential[SECRET_BOX_MAX_PLAIN + 2] = "", webhook_secret[SECRET_BOX_MAX_PLAIN + 2] = "";
    admin_channel_fields fields;
    admin_result result;
    int status = channel_fields(f, &fields, credential, webhook_secret, sizeof(credential));
    if (status == 0) {
        if (strcmp(action, "add") == 0)
            admin_channel_add(ctx, &fields, &result);
        else if (strcmp(action, "update") == 0)
            admin_channel_update(ctx, name, &fields, &result);
        else if (strcmp(action, "remove") == 0)
            admin_channel_remove(ctx, name, &result);
        else
            admin_channel_set_enabled(ctx, name, strcmp(action, "enable") == 0, &result);
        status = cli_admin_report(CLI_CHANNELS, &result);
    }
    sodium_memzero(credential, sizeof(credential));
    sodium_memzero(webhook_secret, sizeof(webhook_secret));
    if (status != 0) return status;
    if (strcmp(action, "add") == 0)
        printf("added channel %s (%s, %s)\n", f->name, f->provider, f->models);
    else if (strcmp(action, "remove") == 0)
        printf("removed channel %s (its unfinished tasks fail over or time out)\n", name);
    else
        printf("%s channel %s\n",
               strcmp(action, "update") == 0 ? "updated"
               : action[0] == 'e'            ? "enabled"
                                             : "disabled",
               name);
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
    bool named = strcmp(action, "update") == 0 || strcmp(action, "disable") == 0 ||
                 strcmp(action, "enable") == 0 || strcmp(action, "remove") == 0;
    if (strcmp(action, "add") == 0 || strcmp(action, "list") == 0) {
        if (positional != 0) return cli_misuse(CLI_CHANNELS, "unexpected argument '%s'", argv[first]);
    } else if (!named) {
        return cli_misuse(CLI_CHANNELS, "unknown channels command '%s'", action);
    } else if (positional != 1) {
        return cli_misuse(CLI_CHANNELS, "%s needs exactly one channel NAME", action);
    }
    if (strcmp(action, "add") == 0 && (f.provider == NULL || f.name == NULL || f.models == NULL))
        return cli_misuse(CLI_CHANNELS, "%s",
                          "add needs --provider, --name and --models (and --credential for a provider)");
    store *db = cli_store_open(f.database_url, f.data_dir);
    if (db == NULL) return 1;
    admin_context ctx = {.db = db, .data_dir = f.data_dir, .flag_names = true};
    status = strcmp(action, "list") == 0 ? channels_list(&ctx, f.json)
                                         : channels_change(&ctx, &f, action, named ? argv[first] : NULL);
    store_close(db);
    return status;
}
