/* keys.c — `reelay keys …` (API keys, their limits and callback signing secrets) and
 * `reelay credits …` (grants, balances, the ledger and its audit).
 *
 * A key is printed once, at creation; only its SHA-256 is stored. Its callback signing secret
 * (whsec_…, Standard Webhooks) is sealed with the data folder's key (util/secret_box.h) and also
 * printed once. Credits are whole numbers; every change is a ledger entry (store/store.h). */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "cli/cli.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/ids.h"
#include "util/secret_box.h"

static const char usage_keys[] =
    "usage: reelay keys create [--name NAME] [--credits N] [--group G] [--rpm N] [--max-concurrent N] [--json]\n"
    "       reelay keys update KEY_ID [--group G] [--rpm N] [--max-concurrent N]\n"
    "       reelay keys list [--json]\n"
    "       reelay keys revoke KEY_ID\n"
    "  every command takes --data DIR (REELAY_DATA, default ./var)\n"
    "\n"
    "  A key is shown once, at creation; only its hash is stored. --credits grants its first credits\n"
    "  (default 0); --group is its pricing group (default \"default\"); --rpm limits its requests per\n"
    "  minute and --max-concurrent its unfinished tasks (0 = unlimited, the default). --json prints\n"
    "  {\"id\", \"key\", \"webhook_secret\"}: the whsec_… secret its task callbacks are signed with.\n";

static const char usage_credits[] = "usage: reelay credits grant KEY_ID AMOUNT [--note TEXT]\n"
                                    "       reelay credits show KEY_ID [--json] [--limit N]\n"
                                    "       reelay credits audit\n"
                                    "  every command takes --data DIR (REELAY_DATA, default ./var)\n"
                                    "\n"
                                    "  grant adds whole credits to a key (a negative AMOUNT takes them back,\n"
                                    "  never below zero). show prints the balance and the newest ledger entries\n"
                                    "  (default 20). audit checks that every balance equals its ledger and every\n"
                                    "  reservation was released exactly once; it exits 1 when something is off.\n";

typedef struct key_flags {
    const char *data_dir, *name, *group, *note;
    long long credits, rpm, max_concurrent, limit;
    bool json;
} key_flags;

enum { K_DATA = 3000, K_NAME, K_CREDITS, K_GROUP, K_RPM, K_MAX, K_NOTE, K_LIMIT, K_JSON, K_HELP };

static const struct option key_options[] = {
    {"data", required_argument, NULL, K_DATA},
    {"name", required_argument, NULL, K_NAME},
    {"credits", required_argument, NULL, K_CREDITS},
    {"group", required_argument, NULL, K_GROUP},
    {"rpm", required_argument, NULL, K_RPM},
    {"max-concurrent", required_argument, NULL, K_MAX},
    {"note", required_argument, NULL, K_NOTE},
    {"limit", required_argument, NULL, K_LIMIT},
    {"json", no_argument, NULL, K_JSON},
    {"help", no_argument, NULL, K_HELP},
    {NULL, 0, NULL, 0},
};

static int misuse(const char *usage, const char *format, ...) __attribute__((format(printf, 2, 3)));
static int misuse(const char *usage, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fprintf(stderr, "reelay: ");
    vfprintf(stderr, format, args);
    fprintf(stderr, "\n\n%s", usage);
    va_end(args);
    return 2;
}

static bool parse_whole(const char *text, long long minimum, long long maximum, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < minimum || value > maximum) return false;
    *out = value;
    return true;
}

/* Parses flags after the command words; returns the index of the first positional argument, or -1
 * after printing a misuse. */
static int parse_key_flags(int argc, char **argv, key_flags *f, const char *usage)
{
    memset(f, 0, sizeof(*f));
    const char *env = getenv("REELAY_DATA");
    f->data_dir = env && *env ? env : "./var";
    f->rpm = f->max_concurrent = -1;
    f->limit = 20;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", key_options, NULL)) != -1) {
        const char *what = NULL;
        long long *number = NULL, maximum = 0;
        switch (c) {
        case K_DATA: f->data_dir = optarg; break;
        case K_NAME: f->name = optarg; break;
        case K_GROUP: f->group = optarg; break;
        case K_NOTE: f->note = optarg; break;
        case K_JSON: f->json = true; break;
        case K_CREDITS: what = "--credits", number = &f->credits, maximum = 1000000000000000LL; break;
        case K_RPM: what = "--rpm", number = &f->rpm, maximum = 1000000; break;
        case K_MAX: what = "--max-concurrent", number = &f->max_concurrent, maximum = 1000000; break;
        case K_LIMIT: what = "--limit", number = &f->limit, maximum = 1000000; break;
        case K_HELP: fputs(usage, stdout); exit(0);
        default: misuse(usage, "unknown or incomplete flag '%s'", argv[optind - 1]); return -1;
        }
        if (number && !parse_whole(optarg, 0, maximum, number)) {
            misuse(usage, "%s must be a whole number from 0 to %lld (got '%s')", what, maximum, optarg);
            return -1;
        }
    }
    if (f->group && (f->group[0] == '\0' || strlen(f->group) > 31 || strspn(f->group,
                                                                            "abcdefghijklmnopqrstuvwxyz"
                                                                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
                                                                         strlen(f->group))) {
        misuse(usage, "--group must be 1 to 31 letters, digits, '-' or '_' (got '%s')", f->group);
        return -1;
    }
    if (f->name && strlen(f->name) > 63) {
        misuse(usage, "--name must be at most 63 characters");
        return -1;
    }
    return optind;
}

static store *open_store(const char *data_dir)
{
    store *db = NULL;
    if (store_open(data_dir, &db) != STORE_OK) {
        fprintf(stderr, "reelay: cannot open the database in %s (run `reelay init --data %s` first?)\n", data_dir,
                data_dir);
        return NULL;
    }
    return db;
}

int cli_keys_create(const char *data_dir, const key_spec *spec, const char *json_id_field)
{
    store *db = open_store(data_dir);
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
    } else if (spec->credits > 0 &&
               store_credits_grant(db, key.id, spec->credits, "granted at creation", key.created_at) != STORE_OK) {
        /* nobody has seen the key: it is revoked rather than left stored with nothing to use it by */
        bool revoked = store_key_revoke(db, key.id, key.created_at) == STORE_OK;
        fprintf(stderr, "reelay: the credits of the new key %s could not be granted; the key was %s\n", key.id,
                revoked ? "revoked, create another" : "left without credits and could not be revoked");
    } else {
        if (json_id_field)
            printf("{\"%s\": \"%s\", \"key\": \"%s\", \"webhook_secret\": \"%s\", \"credits\": %lld, \"user_group\": "
                   "\"%s\"}\n",
                   json_id_field, key.id, secret, webhook_secret, spec->credits, key.user_group);
        else
            printf("API key %s (shown once): %s\ncallback signing secret (shown once): %s\ncredits: %lld\n", key.id,
                   secret, webhook_secret, spec->credits);
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
        printf("%-22s %-10s %-8s %12s %10s %6s %6s  %s\n", "ID", "GROUP", "STATE", "AVAILABLE", "RESERVED", "RPM",
               "TASKS", "NAME");
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
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage_keys, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *action = argv[1];
    key_flags f;
    int first = parse_key_flags(argc - 1, argv + 1, &f, usage_keys);
    if (first < 0) return 2;
    first += 1;
    int positional = argc - first;
    if (strcmp(action, "create") == 0) {
        if (positional != 0) return misuse(usage_keys, "keys create takes no arguments");
        key_spec spec = {.name = f.name,
                         .group = f.group,
                         .credits = f.credits,
                         .rpm_limit = f.rpm > 0 ? (int)f.rpm : 0,
                         .max_concurrent = f.max_concurrent > 0 ? (int)f.max_concurrent : 0};
        return cli_keys_create(f.data_dir, &spec, f.json ? "id" : NULL);
    }
    bool needs_id = strcmp(action, "update") == 0 || strcmp(action, "revoke") == 0;
    if (strcmp(action, "list") != 0 && !needs_id)
        return misuse(usage_keys, "unknown keys command '%s'", action);
    if (positional != (needs_id ? 1 : 0))
        return misuse(usage_keys, needs_id ? "keys %s takes one KEY_ID" : "keys %s takes no arguments", action);
    store *db = open_store(f.data_dir);
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
    if (status != STORE_OK || store_credits_ledger(db, key_id, (size_t)f->limit, &entries, &count) != STORE_OK)
        return 1;
    if (f->json) {
        json_t *ledger = json_array();
        for (size_t i = 0; i < count; i++)
            json_array_append_new(
                ledger, json_pack("{s:I, s:s, s:s?, s:I, s:I, s:s, s:I}", "seq", (json_int_t)entries[i].seq, "kind",
                                  ledger_kind_name(entries[i].kind),
                                  "task_id", entries[i].task_id[0] ? entries[i].task_id : NULL, "amount",
                                  (json_int_t)entries[i].amount, "released", (json_int_t)entries[i].released, "note",
                                  entries[i].note, "created", (json_int_t)entries[i].created_at));
        json_t *view = json_pack("{s:s, s:I, s:I, s:s, s:o}", "key_id", key_id, "credits_available",
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
                   ledger_kind_name(entries[i].kind), (long long)entries[i].amount, (long long)entries[i].released,
                   entries[i].task_id, entries[i].note);
    }
    free(entries);
    return 0;
}

int cli_credits(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage_credits, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *action = argv[1];
    int wanted = strcmp(action, "grant") == 0   ? 2
                 : strcmp(action, "show") == 0  ? 1
                 : strcmp(action, "audit") == 0 ? 0
                                                : -1;
    if (wanted < 0) return misuse(usage_credits, "unknown credits command '%s'", action);
    /* The positional words come right after the command (a negative AMOUNT would look like a flag to
     * getopt): take them first, then parse the flags that follow. */
    int words = 0;
    while (words < wanted && 2 + words < argc && strncmp(argv[2 + words], "--", 2) != 0) words++;
    if (words != wanted) return misuse(usage_credits, "credits %s takes %d argument(s)", action, wanted);
    char **flags = calloc((size_t)argc, sizeof(*flags));
    if (flags == NULL) return 1;
    flags[0] = argv[1];
    for (int i = 2 + words; i < argc; i++) flags[i - 1 - words] = argv[i];
    key_flags f;
    int first = parse_key_flags(argc - 1 - words, flags, &f, usage_credits);
    int extra = first < 0 ? 0 : argc - 1 - words - first;
    free(flags);
    if (first < 0) return 2;
    if (extra != 0) return misuse(usage_credits, "credits %s takes %d argument(s)", action, wanted);
    first = 2;
    long long amount = 0;
    if (wanted == 2 && (!parse_whole(argv[first + 1], -1000000000000000LL, 1000000000000000LL, &amount) || amount == 0))
        return misuse(usage_credits, "AMOUNT must be a non-zero whole number (got '%s')", argv[first + 1]);
    store *db = open_store(f.data_dir);
    if (db == NULL) return 1;
    int result = 1;
    if (wanted == 2) {
        store_status status = store_credits_grant(db, argv[first], amount, f.note ? f.note : "", clock_unix_seconds());
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
