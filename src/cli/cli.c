/* cli.c — what every command shares: reading its settings (and answering --help and misuse the same
 * way everywhere), opening the database and checking that the data folder's secrets are the ones it
 * was set up with, and the `reelay settings` command. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "blob/link.h"
#include "cli/cli.h"
#include "util/secret_box.h"
#include "util/log.h"

/* The log levels in the order of the --log-level choices (settings_table.c). */
static const log_level log_levels[] = {LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR};

int cli_misuse(cli_command command, const char *format, ...)
{
    const cli_command_info *info = cli_command_info_of(command);
    const char *name = info ? info->name : "?";
    va_list args;
    va_start(args, format);
    fprintf(stderr, "reelay %s: ", name);
    vfprintf(stderr, format, args);
    va_end(args);
    fprintf(stderr, "\n\n");
    if (info) {
        const char *line = info->synopsis;
        for (int first = 1; *line; first = 0) {
            size_t length = strcspn(line, "\n");
            fprintf(stderr, "%s%.*s\n", first ? "usage: " : "       ", (int)length, line);
            line += length + (line[length] == '\n');
        }
    }
    fprintf(stderr, "Run `reelay %s --help` for its flags.\n", name);
    return 2;
}

int cli_settings_read(settings *out, cli_command command, int argc, char **argv, int *first_positional)
{
    char err[512];
    switch (settings_parse(out, command, argc, argv, NULL, first_positional, err, sizeof(err))) {
    case SETTINGS_HELP:
        return settings_write_help(stdout, command) == 0 ? 0 : 1;
    case SETTINGS_MISUSE:
        return cli_misuse(command, "%s", err);
    case SETTINGS_OK:
        break;
    }
    if (command & (CLI_DATA_COMMANDS | CLI_MIGRATE_STORE)) {
        long long level = settings_integer(out, SETTING_LOG_LEVEL);
        if (level >= 0 && level < (long long)(sizeof(log_levels) / sizeof(log_levels[0])))
            log_set_level(log_levels[level]);
    }
    return -1;
}

store *cli_store_open_unchecked(const char *database_url, const char *data_dir)
{
    store *db = NULL;
    if (store_open_url(database_url, data_dir, &db) != STORE_OK) {
        bool postgres = database_url != NULL && strncmp(database_url, "postgres", 8) == 0;
        bool sqlite =
            database_url == NULL || database_url[0] == '\0' || strncmp(database_url, "sqlite:", 7) == 0;
        if (!postgres && !sqlite)
            fprintf(stderr, "reelay: --database must be `sqlite:` or `postgres://…` (or `postgresql://…`)\n");
        else if (postgres)
            fprintf(stderr,
                    "reelay: cannot open the PostgreSQL database of --database: is it reachable and the "
                    "user allowed? (the log line above says why)\n");
        else
            fprintf(stderr, "reelay: cannot open the database in %s (run `reelay init --data %s` first?)\n",
                    data_dir, data_dir);
        return NULL;
    }
    return db;
}

_Static_assert(LINK_SECRET_SIZE == 32 && SECRET_BOX_KEY_SIZE == 32,
               "cli.h's fingerprint takes 32-byte secrets");

/* The label each secret keys a hash of: the fingerprint says nothing of the secrets themselves. */
static const char fingerprint_label[] = "reelay shared secrets fingerprint v1";

void cli_secrets_fingerprint(const unsigned char link_secret[LINK_SECRET_SIZE],
                             const unsigned char credentials_key[SECRET_BOX_KEY_SIZE],
                             char out[CLI_SECRETS_FINGERPRINT_SIZE])
{
    unsigned char link_hash[CLI_SECRETS_HASH_BYTES], credentials_hash[CLI_SECRETS_HASH_BYTES];
    crypto_generichash(link_hash, sizeof(link_hash), (const unsigned char *)fingerprint_label,
                       sizeof(fingerprint_label) - 1, link_secret, LINK_SECRET_SIZE);
    crypto_generichash(credentials_hash, sizeof(credentials_hash), (const unsigned char *)fingerprint_label,
                       sizeof(fingerprint_label) - 1, credentials_key, SECRET_BOX_KEY_SIZE);
    char link_hex[2 * CLI_SECRETS_HASH_BYTES + 1], credentials_hex[2 * CLI_SECRETS_HASH_BYTES + 1];
    sodium_bin2hex(link_hex, sizeof(link_hex), link_hash, sizeof(link_hash));
    sodium_bin2hex(credentials_hex, sizeof(credentials_hex), credentials_hash, sizeof(credentials_hash));
    snprintf(out, CLI_SECRETS_FINGERPRINT_SIZE, "v1 link=%s credentials=%s", link_hex, credentials_hex);
}

/* The fingerprint of data_dir's two secret files (each made when absent). 0, or -1 after saying why. */
static int fingerprint_of_folder(const char *data_dir, char out[CLI_SECRETS_FINGERPRINT_SIZE])
{
    link_signer signer;
    secret_box box;
    if (link_signer_load(data_dir, &signer) != 0 || secret_box_load(data_dir, &box) != 0) {
        fprintf(stderr, "reelay: cannot read link.secret and credentials.key in %s\n", data_dir);
        sodium_memzero(&signer, sizeof(signer));
        return -1;
    }
    cli_secrets_fingerprint(signer.secret, box.key, out);
    sodium_memzero(&signer, sizeof(signer));
    sodium_memzero(&box, sizeof(box));
    return 0;
}

/* Which of the two files differ between fingerprints a and b (both well formed or not: then both). */
static const char *differing_files(const char *a, const char *b)
{
    const char *link_a = strstr(a, "link="), *link_b = strstr(b, "link=");
    const char *credentials_a = strstr(a, "credentials="), *credentials_b = strstr(b, "credentials=");
    if (!link_a || !link_b || !credentials_a || !credentials_b) return "link.secret and credentials.key";
    bool link_same = strncmp(link_a, link_b, 5 + 2 * CLI_SECRETS_HASH_BYTES) == 0;
    bool credentials_same = strcmp(credentials_a, credentials_b) == 0;
    if (link_same && !credentials_same) return "credentials.key";
    if (!link_same && credentials_same) return "link.secret";
    return "link.secret and credentials.key";
}

int cli_secrets_check(store *db, const char *data_dir, bool initialising)
{
    char ours[CLI_SECRETS_FINGERPRINT_SIZE], stored[CLI_SECRETS_FINGERPRINT_SIZE];
    if (fingerprint_of_folder(data_dir, ours) != 0) return 1;
    if (store_fact_claim(db, CLI_SECRETS_FACT, ours, stored, sizeof(stored)) != STORE_OK) {
        fprintf(stderr, "reelay: cannot read the secrets' fingerprint from the database\n");
        return 1;
    }
    if (strcmp(ours, stored) == 0) return 0;
    if (initialising)
        fprintf(stderr,
                "reelay: this database was initialised by another node, whose secrets differ from those just "
                "made in %s (%s). Copy link.secret and credentials.key from an existing node's data folder "
                "into %s, then run the command again; nothing was written to the database\n",
                data_dir, differing_files(ours, stored), data_dir);
    else
        fprintf(stderr,
                "reelay: %s in %s does not match the secrets this database was set up with: every node "
                "sharing a database needs the same link.secret and credentials.key. Copy both files from "
                "an existing node's data folder into %s\n",
                differing_files(ours, stored), data_dir, data_dir);
    return 1;
}

store *cli_store_open(const char *database_url, const char *data_dir)
{
    store *db = cli_store_open_unchecked(database_url, data_dir);
    if (db != NULL && cli_secrets_check(db, data_dir, false) != 0) {
        store_close(db);
        return NULL;
    }
    return db;
}

int cli_settings(int argc, char **argv)
{
    settings s;
    int first = 0;
    int status = cli_settings_read(&s, CLI_SETTINGS, argc, argv, &first);
    if (status >= 0) return status;
    if (first < argc) return cli_misuse(CLI_SETTINGS, "unexpected argument '%s'", argv[first]);
    int written =
        settings_bool(&s, SETTING_MARKDOWN) ? settings_write_markdown(stdout) : settings_write_text(stdout);
    return written == 0 ? 0 : 1;
}

int cli_admin_report(cli_command command, const admin_result *result)
{
    const cli_command_info *info = cli_command_info_of(command);
    if (result->outcome != ADMIN_DONE) {
        fprintf(stderr, "reelay %s: %s\n", info ? info->name : "?", result->message);
        return result->outcome == ADMIN_INVALID ? 2 : 1;
    }
    if (result->nodes_not_told)
        fprintf(stderr,
                "reelay: warning: the serving nodes were not told; they see the change within a second\n");
    return 0;
}

int cli_print_json(json_t *value, size_t flags)
{
    char *text = value ? json_dumps(value, flags) : NULL;
    if (text) puts(text);
    free(text);
    json_decref(value);
    return text ? 0 : 1;
}
