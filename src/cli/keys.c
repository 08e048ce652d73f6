/* keys.c — `reelay keys …` (API keys, their limits and callback signing secrets) and
 * `reelay credits …` (grants, balances, the ledger and its audit): the flags and the printing; the
 * actions are admin/admin.h's, which the admin API runs too.
 *
 * A key is printed once, at creation; only its SHA-256 is stored. Its callback signing secret
 * (whsec_…, Standard Webhooks) is sealed with the data folder's key and also printed once. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "cli/cli.h"
#include "store/store.h"

typedef struct key_flags {
    const char *data_dir, *database_url, *name, *group, *note;
    long long credits, rpm, max_concurrent, limit; /* rpm, max_concurrent: -1 when not given */
    bool json;
} key_flags;

static bool parse_whole(const char *text, long long minimum, long long maximum, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < minimum || value > maximum) return false;
    *out = value;
    return true;
}

/* Reads the flags of keys or credits (command) after the command words. Returns -1 to go on, with
 * *first the index of the first positional argument, or the exit status (0 after --help, 2 misuse). */
static int read_key_flags(cli_command command, int argc, char **argv, key_flags *f, int *first)
{
    settings s;
    int status = cli_settings_read(&s, command, argc, argv, first);
    if (status >= 0) return status;
    *f = (key_flags){.data_dir = settings_text(&s, SETTING_DATA),
                     .database_url = settings_text(&s, SETTING_DATABASE),
                     .json = settings_bool(&s, SETTING_JSON)};
    if (command == CLI_KEYS) {
        f->name = settings_text(&s, SETTING_KEY_NAME);
        f->group = settings_text(&s, SETTING_GROUP);
        f->credits = settings_integer(&s, SETTING_CREDITS);
        f->rpm = settings_given(&s, SETTING_RPM) ? settings_integer(&s, SETTING_RPM) : -1;
        f->max_concurrent = settings_given(&s, SETTING_KEY_MAX_CONCURRENT)
                                ? settings_integer(&s, SETTING_KEY_MAX_CONCURRENT)
                                : -1;
    } else {
        f->note = settings_text(&s, SETTING_NOTE);
        f->limit = settings_integer(&s, SETTING_LIMIT);
    }
    return -1;
}

/* Creates a key and prints it once: as text, or as the JSON of admin_new_key_json. 0, 1 or 2. */
static int keys_create(const admin_context *ctx, const admin_key_fields *fields, bool json)
{
    admin_new_key key;
    admin_result result;
    admin_key_create(ctx, fields, &key, &result);
    if (result.outcome != ADMIN_DONE) return cli_admin_report(CLI_KEYS, &result);
    int status = 0;
    if (json)
        status = cli_print_json(admin_new_key_json(&key, "id"), 0);
    else
        printf("API key %s (shown once): %s\ncallback signing secret (shown once): %s\ncredits: %lld\n",
               key.key.id, key.secret, key.webhook_secret, (long long)key.credits);
    admin_new_key_forget(&key);
    return status;
}

static int keys_list(const admin_context *ctx, bool json)
{
    admin_result result;
    json_t *list = admin_keys_list(ctx, &result);
    if (list == NULL) return cli_admin_report(CLI_KEYS, &result);
    if (json) return cli_print_json(list, JSON_COMPACT);
    printf("%-22s %-10s %-8s %12s %10s %6s %6s  %s\n", "ID", "GROUP", "STATE", "AVAILABLE", "RESERVED", "RPM",
           "TASKS", "NAME");
    size_t i;
    json_t *k;
    json_array_foreach(list, i, k)
    {
        printf("%-22s %-10s %-8s %12lld %10lld %6d %6d  %s\n", json_string_value(json_object_get(k, "id")),
               json_string_value(json_object_get(k, "user_group")),
               json_is_true(json_object_get(k, "revoked")) ? "revoked" : "active",
               (long long)json_integer_value(json_object_get(k, "credits_available")),
               (long long)json_integer_value(json_object_get(k, "credits_reserved")),
               (int)json_integer_value(json_object_get(k, "rpm")),
               (int)json_integer_value(json_object_get(k, "max_concurrent")),
               json_string_value(json_object_get(k, "name")));
    }
    json_decref(list);
    return 0;
}

int cli_keys(int argc, char **argv)
{
    if (argc < 2) return cli_misuse(CLI_KEYS, "which keys command?");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return settings_write_help(stdout, CLI_KEYS) == 0 ? 0 : 1;
    const char *action = argv[1];
    key_flags f;
    int first = 0;
    int done = read_key_flags(CLI_KEYS, argc - 1, argv + 1, &f, &first);
    if (done >= 0) return done;
    first += 1;
    int positional = argc - first;
    bool needs_id = strcmp(action, "update") == 0 || strcmp(action, "revoke") == 0;
    bool creating = strcmp(action, "create") == 0;
    if (strcmp(action, "list") != 0 && !needs_id && !creating)
        return cli_misuse(CLI_KEYS, "unknown keys command '%s'", action);
    if (positional != (needs_id ? 1 : 0))
        return cli_misuse(CLI_KEYS, needs_id ? "keys %s takes one KEY_ID" : "keys %s takes no arguments",
                          action);
    store *db = cli_store_open(f.database_url, f.data_dir);
    if (db == NULL) return 1;
    admin_context ctx = {.db = db, .data_dir = f.data_dir, .flag_names = true};
    admin_key_fields fields = {.name = f.name,
                               .group = f.group,
                               .credits = f.credits,
                               .rpm = f.rpm,
                               .max_concurrent = f.max_concurrent};
    int result = 1;
    if (creating) {
        result = keys_create(&ctx, &fields, f.json);
    } else if (strcmp(action, "list") == 0) {
        result = keys_list(&ctx, f.json);
    } else {
        const char *id = argv[first];
        bool revoking = strcmp(action, "revoke") == 0;
        admin_result changed;
        if (revoking)
            admin_key_revoke(&ctx, id, &changed);
        else
            admin_key_update(
                &ctx, id,
                &(admin_key_fields){.group = f.group, .rpm = f.rpm, .max_concurrent = f.max_concurrent},
                &changed);
        result = cli_admin_report(CLI_KEYS, &changed);
        if (result == 0) printf("%s %s\n", revoking ? "revoked" : "updated", id);
    }
    store_close(db);
    return result;
}

static int credits_show(const admin_context *ctx, const char *key_id, size_t limit, bool json)
{
    admin_result result;
    json_t *view = admin_credits_view(ctx, key_id, limit, &result);
    if (view == NULL) return cli_admin_report(CLI_CREDITS, &result);
    if (json) return cli_print_json(view, JSON_COMPACT);
    printf("%s: %lld available, %lld reserved (group %s)\n", key_id,
           (long long)json_integer_value(json_object_get(view, "credits_available")),
           (long long)json_integer_value(json_object_get(view, "credits_reserved")),
           json_string_value(json_object_get(view, "user_group")));
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(view, "ledger"), i, e)
    {
        const char *task_id = json_string_value(json_object_get(e, "task_id"));
        printf("  #%-8lld %-8s %10lld %10lld  %s %s\n",
               (long long)json_integer_value(json_object_get(e, "seq")),
               json_string_value(json_object_get(e, "kind")),
               (long long)json_integer_value(json_object_get(e, "amount")),
               (long long)json_integer_value(json_object_get(e, "released")), task_id ? task_id : "",
               json_string_value(json_object_get(e, "note")));
    }
    json_decref(view);
    return 0;
}

static int credits_audit(const admin_context *ctx)
{
    admin_result result;
    json_t *audit = admin_credits_audit(ctx, &result);
    if (audit == NULL) return cli_admin_report(CLI_CREDITS, &result);
    bool ok = json_is_true(json_object_get(audit, "ok"));
    if (ok)
        printf("ledger consistent: %lld keys, %lld tasks (%lld older than the ledger, not checked)\n",
               (long long)json_integer_value(json_object_get(audit, "keys_checked")),
               (long long)json_integer_value(json_object_get(audit, "tasks_checked")),
               (long long)json_integer_value(json_object_get(audit, "tasks_before_ledger")));
    else
        printf("ledger INCONSISTENT: %lld problem(s); first: %s\n",
               (long long)json_integer_value(json_object_get(audit, "problems")),
               json_string_value(json_object_get(audit, "first_problem")));
    json_decref(audit);
    return ok ? 0 : 1;
}

int cli_credits(int argc, char **argv)
{
    if (argc < 2) return cli_misuse(CLI_CREDITS, "which credits command?");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return settings_write_help(stdout, CLI_CREDITS) == 0 ? 0 : 1;
    const char *action = argv[1];
    int wanted = strcmp(action, "grant") == 0   ? 2
                 : strcmp(action, "show") == 0  ? 1
                 : strcmp(action, "audit") == 0 ? 0
                                                : -1;
    if (wanted < 0) return cli_misuse(CLI_CREDITS, "unknown credits command '%s'", action);
    /* The positional words come right after the command (a negative AMOUNT would look like a flag to
     * getopt): take them first, then parse the flags that follow. */
    int words = 0;
    while (words < wanted && 2 + words < argc && strncmp(argv[2 + words], "--", 2) != 0)
        words++;
    if (words != wanted) return cli_misuse(CLI_CREDITS, "credits %s takes %d argument(s)", action, wanted);
    char **flags = calloc((size_t)argc, sizeof(*flags));
    if (flags == NULL) return 1;
    flags[0] = argv[1];
    for (int i = 2 + words; i < argc; i++)
        flags[i - 1 - words] = argv[i];
    key_flags f;
    int first = 0;
    int done = read_key_flags(CLI_CREDITS, argc - 1 - words, flags, &f, &first);
    int extra = argc - 1 - words - first;
    free(flags);
    if (done >= 0) return done;
    if (extra != 0) return cli_misuse(CLI_CREDITS, "credits %s takes %d argument(s)", action, wanted);
    first = 2;
    long long amount = 0;
    if (wanted == 2 &&
        (!parse_whole(argv[first + 1], -1000000000000000LL, 1000000000000000LL, &amount) || amount == 0))
        return cli_misuse(CLI_CREDITS, "AMOUNT must be a non-zero whole number (got '%s')", argv[first + 1]);
    store *db = cli_store_open(f.database_url, f.data_dir);
    if (db == NULL) return 1;
    admin_context ctx = {.db = db, .data_dir = f.data_dir, .flag_names = true};
    int result = 1;
    if (wanted == 2) {
        admin_result granted;
        admin_credits_grant(&ctx, argv[first], amount, f.note, &granted);
        result = cli_admin_report(CLI_CREDITS, &granted);
        if (result == 0) result = credits_show(&ctx, argv[first], 1, f.json);
    } else if (wanted == 1) {
        result = credits_show(&ctx, argv[first], (size_t)f.limit, f.json);
    } else {
        result = credits_audit(&ctx);
    }
    store_close(db);
    return result;
}
