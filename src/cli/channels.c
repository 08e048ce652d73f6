/* channels.c — `reelay channels …`: add, list, update, disable, enable and remove channels.
 *
 * A channel is a provider account: provider, credential (sealed at rest, see util/secret_box.h),
 * base URL (the provider's real one unless given), the models it serves, priority (higher is tried
 * first), weight (share among equal priorities) and a cap on tasks in flight. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog/catalog.h"
#include "cli/cli.h"
#include "store/store.h"
#include "upstream/upstream.h"
#include "util/clock.h"
#include "util/secret_box.h"
#include "util/url_scheme.h"

static const char usage_channels[] =
    "usage: reelay channels add --provider fal|sync|kling|openai|creatify|sandbox --name NAME\n"
    "                           [--base-url URL] --credential SECRET --models all|m1,m2\n"
    "                           [--priority N] [--weight N] [--max-concurrent N] [--disabled]\n"
    "                           [--webhook-secret SECRET]\n"
    "       reelay channels list [--json]\n"
    "       reelay channels update NAME [--base-url URL] [--credential SECRET] [--models …]\n"
    "                           [--priority N] [--weight N] [--max-concurrent N]\n"
    "       reelay channels disable|enable|remove NAME\n"
    "  every command takes --data DIR (REELAY_DATA, default ./var)\n"
    "\n"
    "  Credentials: fal KEY, sync KEY, kling ACCESS_KEY:SECRET_KEY, openai KEY, creatify API_ID:API_KEY;\n"
    "  none for the sandbox. --credential - reads it from the first line of standard input (keeps it\n"
    "  out of the process list). It is encrypted at rest with <data>/credentials.key and only ever\n"
    "  printed masked. --base-url defaults to the provider's real API. A higher --priority is tried\n"
    "  first; --weight shares tasks among channels of equal priority; --max-concurrent 0 = no cap.\n"
    "  --webhook-secret is the secret the provider signs its webhooks with (Sync's signing secret,\n"
    "  Kling's or OpenAI's whsec_… secret), sealed like the credential; \"\" removes it. fal webhooks\n"
    "  are checked against fal's published keys instead, Creatify's are unsigned and only prompt a poll.\n";

typedef struct channel_flags {
    const char *data_dir;
    const char *provider, *name, *base_url, *credential, *models, *webhook_secret;
    const char *priority, *weight, *max_concurrent;
    bool disabled, json;
} channel_flags;

enum {
    F_DATA = 2000,
    F_PROVIDER,
    F_NAME,
    F_BASE_URL,
    F_CREDENTIAL,
    F_MODELS,
    F_PRIORITY,
    F_WEIGHT,
    F_MAX,
    F_WEBHOOK_SECRET,
    F_DISABLED,
    F_JSON,
    F_HELP
};

static const struct option channel_options[] = {
    {"data", required_argument, NULL, F_DATA},
    {"provider", required_argument, NULL, F_PROVIDER},
    {"name", required_argument, NULL, F_NAME},
    {"base-url", required_argument, NULL, F_BASE_URL},
    {"credential", required_argument, NULL, F_CREDENTIAL},
    {"models", required_argument, NULL, F_MODELS},
    {"priority", required_argument, NULL, F_PRIORITY},
    {"weight", required_argument, NULL, F_WEIGHT},
    {"max-concurrent", required_argument, NULL, F_MAX},
    {"webhook-secret", required_argument, NULL, F_WEBHOOK_SECRET},
    {"disabled", no_argument, NULL, F_DISABLED},
    {"json", no_argument, NULL, F_JSON},
    {"help", no_argument, NULL, F_HELP},
    {NULL, 0, NULL, 0},
};

static int misuse(const char *format, ...) __attribute__((format(printf, 1, 2)));
static int misuse(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fprintf(stderr, "reelay channels: ");
    vfprintf(stderr, format, args);
    fprintf(stderr, "\n\n%s", usage_channels);
    va_end(args);
    return 2;
}

/* Parses flags; returns the index of the first positional argument, or -1 after printing a misuse. */
static int parse_channel_flags(int argc, char **argv, channel_flags *f)
{
    memset(f, 0, sizeof(*f));
    const char *env = getenv("REELAY_DATA");
    f->data_dir = env && *env ? env : "./var";
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", channel_options, NULL)) != -1) {
        switch (c) {
        case F_DATA:
            f->data_dir = optarg;
            break;
        case F_PROVIDER:
            f->provider = optarg;
            break;
        case F_NAME:
            f->name = optarg;
            break;
        case F_BASE_URL:
            f->base_url = optarg;
            break;
        case F_CREDENTIAL:
            f->credential = optarg;
            break;
        case F_MODELS:
            f->models = optarg;
            break;
        case F_PRIORITY:
            f->priority = optarg;
            break;
        case F_WEIGHT:
            f->weight = optarg;
            break;
        case F_MAX:
            f->max_concurrent = optarg;
            break;
        case F_WEBHOOK_SECRET:
            f->webhook_secret = optarg;
            break;
        case F_DISABLED:
            f->disabled = true;
            break;
        case F_JSON:
            f->json = true;
            break;
        case F_HELP:
            fputs(usage_channels, stdout);
            exit(0);
        default:
            misuse("unknown or incomplete flag '%s'", argv[optind - 1]);
            return -1;
        }
    }
    return optind;
}

static bool parse_int(const char *text, const char *what, long minimum, long maximum, int *out)
{
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < minimum || value > maximum) {
        fprintf(stderr, "reelay channels: %s must be a whole number from %ld to %ld (got '%s')\n", what,
                minimum, maximum, text);
        return false;
    }
    *out = (int)value;
    return true;
}

/* Names go into webhook URLs and log lines: letters, digits, '-' and '_' only. */
static bool name_is_valid(const char *name)
{
    size_t length = strlen(name);
    if (length == 0 || length > 63) return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
              *p == '_'))
            return false;
    return true;
}

/* An absolute http(s) URL without credentials, spaces or a query; stored without trailing slashes. */
static bool base_url_normalise(const char *url, char *out, size_t out_size)
{
    if (url_scheme_http_length(url) == 0) return false;
    const char *authority = strstr(url, "://") + 3;
    size_t authority_len = strcspn(authority, "/");
    if (authority_len == 0 || memchr(authority, '@', authority_len) != NULL) return false;
    if (strpbrk(url, " \t\r\n?#") != NULL) return false;
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
        return misuse("the credential is missing or longer than %d characters", SECRET_BOX_MAX_PLAIN);
    }
    if (provider->credential_valid == NULL || !provider->credential_valid(credential)) {
        sodium_memzero(credential, sizeof(credential));
        if (strcmp(provider->name, "sandbox") == 0) return misuse("%s", "the sandbox takes no --credential");
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
        return misuse("%s", "--webhook-secret must be printable, without spaces, at most 512 characters");
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
        if (strcmp(provider->name, "sandbox") == 0) return misuse("%s", "the sandbox has no --base-url");
        if (!base_url_normalise(f->base_url, channel->base_url, sizeof(channel->base_url)))
            return misuse(
                "--base-url must be an absolute http(s) URL without credentials or query (got '%s')",
                f->base_url);
    }
    if (f->models != NULL &&
        !models_normalise(provider, f->models, channel->models, sizeof(channel->models))) {
        fprintf(stderr, "reelay channels: --models must be 'all' or models %s serves\n", provider->name);
        return 2;
    }
    if (f->priority != NULL && !parse_int(f->priority, "--priority", -1000, 1000, &channel->priority))
        return 2;
    if (f->weight != NULL && !parse_int(f->weight, "--weight", 1, 1000, &channel->weight)) return 2;
    if (f->max_concurrent != NULL &&
        !parse_int(f->max_concurrent, "--max-concurrent", 0, 1000000, &channel->max_concurrent))
        return 2;
    return 0;
}

static store *open_store(const char *data_dir)
{
    store *db = NULL;
    if (store_open(data_dir, &db) != STORE_OK) {
        fprintf(stderr, "reelay: cannot open the database in %s (run `reelay init --data %s` first?)\n",
                data_dir, data_dir);
        return NULL;
    }
    return db;
}

static int channels_add(const channel_flags *f)
{
    if (f->provider == NULL || f->name == NULL || f->models == NULL)
        return misuse("%s", "add needs --provider, --name and --models (and --credential for a provider)");
    const upstream_provider *provider = upstream_provider_find(f->provider);
    if (provider == NULL) return misuse("unknown provider '%s'", f->provider);
    if (!name_is_valid(f->name))
        return misuse("--name must be 1-63 letters, digits, '-' or '_' (got '%s')", f->name);
    if (f->credential == NULL && strcmp(provider->name, "sandbox") != 0)
        return misuse("a %s channel needs --credential", provider->name);
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
    store *db = open_store(f->data_dir);
    if (db == NULL) return 1;
    store_status stored = store_channel_insert(db, &channel);
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
    store *db = open_store(f->data_dir);
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
    store *db = open_store(f->data_dir);
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
            status = misuse("%s", "a channel's provider and name cannot change: remove it and add it again");
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
    store *db = open_store(f->data_dir);
    if (db == NULL) return 1;
    store_status status = store_channel_remove(db, name);
    store_close(db);
    if (status == STORE_NOT_FOUND) fprintf(stderr, "reelay channels: no channel named %s\n", name);
    if (status != STORE_OK) return 1;
    printf("removed channel %s (its unfinished tasks fail over or time out)\n", name);
    return 0;
}

int cli_channels(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage_channels, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *action = argv[1];
    channel_flags f;
    int first = parse_channel_flags(argc - 1, argv + 1, &f);
    if (first < 0) return 2;
    first += 1; /* index into argv */
    int positional = argc - first;
    if (strcmp(action, "add") == 0 || strcmp(action, "list") == 0) {
        if (positional != 0) return misuse("unexpected argument '%s'", argv[first]);
        return action[0] == 'a' ? channels_add(&f) : channels_list(&f);
    }
    if (strcmp(action, "update") == 0 || strcmp(action, "disable") == 0 || strcmp(action, "enable") == 0 ||
        strcmp(action, "remove") == 0) {
        if (positional != 1) return misuse("%s needs exactly one channel NAME", action);
        if (strcmp(action, "remove") == 0) return channels_remove(&f, argv[first]);
        return channels_change(&f, action, argv[first]);
    }
    return misuse("unknown channels command '%s'", action);
}
