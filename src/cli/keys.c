/* keys.c — `reelay keys …` (API keys, their limits and callback signing secrets) and
 * `reelay credits …` (grants, balances, the ledger and its audit).
 *
 * A key is printed once, at creation; only its SHA-256 is stored. Its callback signing secret
 * (whsec_…, Standard Webhooks) is sealed with the data folder's key (util/secret_box.h) and also
 * printed once. Credits are whole numbers; every change is a ledger entry (store/store.h). */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "cli/cli.h"
#include "engine/cluster_signals.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/ids.h"
#include "util/secret_box.h"

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

int cli_keys_create(const char *database_url, const char *data_dir, const key_spec *spec,
                    const char *json_id_field)
{
    store *db = cli_store_open(database_url, data_dir);
    if (db == NULL) return 1;
    secret_box box;
    if (secret_box_load(data_dir, &box) != 0) {
        fprintf(stderr, "reelay: cannot read or create %s/credentials.key\n", data_dir);
        store_close(db);
        return 1;
    }
    key_record key;
    memset(&key, 0, sizeof(key));
    ids_random_alnum(key.id, sizeof(key.id), "key_", 16);
    snprintf(key.name, sizeof(key.name), "%s", spec->name ? spec->name : "");
    snprintf(key.user_group, sizeof(key.user_group), "%s", spec->group ? spec->group : "default");
    key.created_at = clock_unix_seconds();
    key.rpm_limit = spec->rpm_limit;
    key.max_concurrent = spec->max_concurrent;
    char secret[64], webhook_secret[64], sealed[STORE_SEALED_SECRET_SIZE];
    ids_random_token(secret, sizeof(secret), "sk-", 32);
    unsigned char hash[32], signing_key[32];
    api_key_hash(secret, hash);
    /* Standard Webhooks: whsec_ + base64 of the HMAC key */
    randombytes_buf(signing_key, sizeof(signing_key));
    memcpy(webhook_secret, "whsec_", 6);
    sodium_bin2base64(webhook_secret + 6, sizeof(webhook_secret) - 6, signing_key, sizeof(signing_key),
                      sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(signing_key, sizeof(signing_key));
    int result = 1;
    if (secret_box_seal(&box, webhook_secret, sealed, sizeof(sealed)) != 0) {
        fprintf(stderr, "reelay: the key's signing secret could not be sealed\n");
    } else if (store_key_insert(db, &key, hash, sealed) != STORE_OK) {
        fprintf(stderr, "reelay: the key could not be stored\n");
    } else if (spec->credits > 0 && store_credits_grant(db, key.id, spec->credits, "granted at creation",
                                                        key.created_at) != STORE_OK) {
        /* nobody has seen the key: it is revoked rather than left stored with nothing to use it by */
        bool revoked = store_key_revoke(db, key.id, key.created_at) == STORE_OK;
        fprintf(stderr, "reelay: the credits of the new key %s could not be granted; the key was %s\n",
                key.id,
                revoked ? "revoked, create another" : "left without credits and could not be revoked");
    } else {
        if (json_id_field)
            printf("{\"%s\": \"%s\", \"key\": \"%s\", \"webhook_secret\": \"%s\", \"credits\": %lld, "
                   "\"user_group\": "
                   "\"%s\"}\n",
                   json_id_field, key.id, secret, webhook_secret, spec->credits, key.user_group);
        else
            printf("API key %s (shown once): %s\ncallback signing secret (shown once): %s\ncredits: %lld\n",
                   key.id, secret, webhook_secret, spec->credits);
        result = 0;
    }
    sodium_memzero(secret, sizeof(secret));
    sodium_memzero(webhook_secret, sizeof(webhook_secret));
    sodium_memzero(&box, sizeof(box));
    store_close(db);
    return result;
}

static int keys_list(store *db, bool json)
{
    key_record *keys = NULL;
    size_t count = 0;
    if (store_key_list(db, &keys, &count) != STORE_OK) return 1;
    json_t *list = json ? json_array() : NULL;
    if (!json)
        printf("%-22s %-10s %-8s %12s %10s %6s %6s  %s\n", "ID", "GROUP", "STATE", "AVAILABLE", "RESERVED",
               "RPM", "TASKS", "NAME");
    for (size_t i = 0; i < count; i++) {
        credit_balance balance = {0};
        store_credits_balance(db, keys[i].id, &balance);
        if (json)
            json_array_append_new(
                list, json_pack("{s:s, s:s, s:s, s:I, s:b, s:I, s:I, s:i, s:i}", "id", keys[i].id, "name",
                                keys[i].name, "user_group", keys[i].user_group, "created",
                                (json_int_t)keys[i].created_at, "revoked", keys[i].revoked_at != 0,
                                "credits_available", (json_int_t)balance.available, "credits_reserved",
                                (json_int_t)balance.reserved, "rpm", keys[i].rpm_limit, "max_concurrent",
                                keys[i].max_concurrent));
        else
            printf("%-22s %-10s %-8s %12lld %10lld %6d %6d  %s\n", keys[i].id, keys[i].user_group,
                   keys[i].revoked_at ? "revoked" : "active", (long long)balance.available,
                   (long long)balance.reserved, keys[i].rpm_limit, keys[i].max_concurrent, keys[i].name);
    }
    if (json) {
        char *text = json_dumps(list, JSON_COMPACT);
        if (text) puts(text);
        free(text);
        json_decref(list);
    }
    free(keys);
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
    if (strcmp(action, "create") == 0) {
        if (positional != 0) return cli_misuse(CLI_KEYS, "keys create takes no arguments");
        key_spec spec = {.name = f.name,
                         .group = f.group,
                         .credits = f.credits,
                         .rpm_limit = f.rpm > 0 ? (int)f.rpm : 0,
                         .max_concurrent = f.max_concurrent > 0 ? (int)f.max_concurrent : 0};
        return cli_keys_create(f.database_url, f.data_dir, &spec, f.json ? "id" : NULL);
    }
    bool needs_id = strcmp(action, "update") == 0 || strcmp(action, "revoke") == 0;
    if (strcmp(action, "list") != 0 && !needs_id)
        return cli_misuse(CLI_KEYS, "unknown keys command '%s'", action);
    if (positional != (needs_id ? 1 : 0))
        return cli_misuse(CLI_KEYS, needs_id ? "keys %s takes one KEY_ID" : "keys %s takes no arguments",
                          action);
    store *db = cli_store_open(f.database_url, f.data_dir);
    if (db == NULL) return 1;
    int result = 1;
    if (strcmp(action, "list") == 0) {
        result = keys_list(db, f.json);
    } else {
        const char *id = argv[first];
        store_status status =
            strcmp(action, "revoke") == 0
                ? store_key_revoke(db, id, clock_unix_seconds())
                : store_key_update_limits(db, id, f.group, (int)f.rpm, (int)f.max_concurrent);
        if (status == STORE_OK) cli_tell_nodes(db, CLUSTER_SIGNAL_KEY, id);
        if (status == STORE_NOT_FOUND)
            fprintf(stderr, "reelay: no key %s\n", id);
        else if (status == STORE_OK)
            printf("%s %s\n", strcmp(action, "revoke") == 0 ? "revoked" : "updated", id);
        result = status == STORE_OK ? 0 : 1;
    }
    store_close(db);
    return result;
}

static int credits_show(store *db, const char *key_id, const key_flags *f)
{
    credit_balance balance;
    store_status status = store_credits_balance(db, key_id, &balance);
    if (status == STORE_NOT_FOUND) {
        fprintf(stderr, "reelay: no key %s\n", key_id);
        return 1;
    }
    ledger_entry *entries = NULL;
    size_t count = 0;
    if (status != STORE_OK ||
        store_credits_ledger(db, key_id, (size_t)f->limit, &entries, &count) != STORE_OK)
        return 1;
    if (f->json) {
        json_t *ledger = json_array();
        for (size_t i = 0; i < count; i++)
            json_array_append_new(
                ledger, json_pack("{s:I, s:s, s:s?, s:I, s:I, s:s, s:I}", "seq", (json_int_t)entries[i].seq,
                                  "kind", ledger_kind_name(entries[i].kind), "task_id",
                                  entries[i].task_id[0] ? entries[i].task_id : NULL, "amount",
                                  (json_int_t)entries[i].amount, "released", (json_int_t)entries[i].released,
                                  "note", entries[i].note, "created", (json_int_t)entries[i].created_at));
        json_t *view =
            json_pack("{s:s, s:I, s:I, s:s, s:o}", "key_id", key_id, "credits_available",
                      (json_int_t)balance.available, "credits_reserved", (json_int_t)balance.reserved,
                      "user_group", balance.user_group, "ledger", ledger);
        char *text = view ? json_dumps(view, JSON_COMPACT) : NULL;
        if (text) puts(text);
        free(text);
        json_decref(view);
    } else {
        printf("%s: %lld available, %lld reserved (group %s)\n", key_id, (long long)balance.available,
               (long long)balance.reserved, balance.user_group);
        for (size_t i = 0; i < count; i++)
            printf("  #%-8lld %-8s %10lld %10lld  %s %s\n", (long long)entries[i].seq,
                   ledger_kind_name(entries[i].kind), (long long)entries[i].amount,
                   (long long)entries[i].released, entries[i].task_id, entries[i].note);
    }
    free(entries);
    return 0;
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
    int result = 1;
    if (wanted == 2) {
        store_status status =
            store_credits_grant(db, argv[first], amount, f.note ? f.note : "", clock_unix_seconds());
        if (status == STORE_NOT_FOUND)
            fprintf(stderr, "reelay: no key %s\n", argv[first]);
        else if (status == STORE_CONFLICT)
            fprintf(stderr, "reelay: %s has fewer than %lld credits available\n", argv[first], -amount);
        else if (status == STORE_OK)
            result = credits_show(db, argv[first], &(key_flags){.limit = 1, .json = f.json});
    } else if (wanted == 1) {
        result = credits_show(db, argv[first], &f);
    } else {
        credit_audit audit;
        if (store_credits_audit(db, &audit) == STORE_OK) {
            if (audit.problems == 0)
                printf("ledger consistent: %lld keys, %lld tasks (%lld older than the ledger, not checked)\n",
                       (long long)audit.keys_checked, (long long)audit.tasks_checked,
                       (long long)audit.tasks_before_ledger);
            else
                printf("ledger INCONSISTENT: %lld problem(s); first: %s\n", (long long)audit.problems,
                       audit.first_problem);
            result = audit.problems == 0 ? 0 : 1;
        }
    }
    store_close(db);
    return result;
}
