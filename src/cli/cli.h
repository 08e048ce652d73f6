/* cli.h — the commands of the command line (main.c only picks one). Each takes the arguments after
 * `reelay` (argv[0] is the command word) and returns the process exit status: 0 done, 1 failed,
 * 2 misused (a message and the usage are printed to stderr). Every option is read through the table of
 * settings.h: a flag beats its REELAY_* environment twin, which beats the default. */
#ifndef REELAY_CLI_CLI_H
#define REELAY_CLI_CLI_H

#include <jansson.h>

#include "admin/admin.h"
#include "blob/blob.h"
#include "cli/settings.h"
#include "store/store.h"

/* The exit status of a node that lost its lease to another node (cli_serve): a supervisor restarts it. */
#define CLI_EXIT_LEASE_LOST 3

/* `reelay init`: the data folder, its secrets and storage, the sandbox channel, the default prices and,
 * on the first run, a first API key (cli/init.c). */
int cli_init(int argc, char **argv);

/* `reelay serve`: the API until SIGINT or SIGTERM (cli/serve.c). */
int cli_serve(int argc, char **argv);

/* `reelay channels add|list|update|disable|enable|remove`: the provider accounts tasks run on.
 * Credentials are sealed with the data folder's key before they are stored and are only ever
 * printed masked. */
int cli_channels(int argc, char **argv);

/* `reelay admin-token rotate [--json]`: a new admin token for the admin API (admin/admin.h), printed once;
 * the old one stops working at once on every node (cli/admin_token.c). */
int cli_admin_token(int argc, char **argv);

/* `reelay keys create|update|list|revoke`: API keys, their group, limits and callback signing secret. */
int cli_keys(int argc, char **argv);
/* `reelay credits grant|show|audit`: a key's credits and the ledger behind them. */
int cli_credits(int argc, char **argv);

/* `reelay migrate-store --from URL --to URL`: copies an installation's whole database into an empty one
 * (store_copy_into), then audits the copy's credits (cli/migrate_store.c). */
int cli_migrate_store(int argc, char **argv);

/* `reelay settings [--markdown]`: every setting with its variable, default and allowed values; with
 * --markdown the README's table (README.md holds exactly that between its settings markers). */
int cli_settings(int argc, char **argv);

/* Reads the settings of command (settings_parse over argv and the environment). On --help prints the
 * command's help to stdout and returns 0; on a misuse prints it (cli_misuse) and returns 2. Otherwise
 * applies what every command shares (the log level) and returns -1: go on, with *first_positional the
 * index in argv of the first argument that is not a flag. */
int cli_settings_read(settings *out, cli_command command, int argc, char **argv, int *first_positional);

/* Prints "reelay <command>: <message>", the command's usage lines and where its help is, to stderr.
 * Returns 2, the exit status of a misuse. */
int cli_misuse(cli_command command, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* Opens the database of --database (database_url; NULL or "sqlite:" = <data_dir>/reelay.db); on failure
 * prints why (and that `reelay init` makes it), never the URL, and returns NULL. The caller closes it
 * with store_close. Only `init` uses this directly (it checks the secrets itself once they exist). */
store *cli_store_open_unchecked(const char *database_url, const char *data_dir);

/* cli_store_open_unchecked, then cli_secrets_check(db, data_dir, false): what every command but `init`
 * opens its database with. NULL (after saying why) on either failure. */
store *cli_store_open(const char *database_url, const char *data_dir);
/* After an admin action (admin/admin.h): a failure is printed as "reelay <command>: <message>" and its exit
 * status returned (2 for refused input, 1 otherwise); done returns 0, after a warning when the serving
 * nodes could not be told (they re-read within a second anyway). */
int cli_admin_report(cli_command command, const admin_result *result);
/* Prints value as JSON text (json_dumps flags) and a newline, and releases it. 0, or 1 when value is
 * NULL or cannot be written. */
int cli_print_json(json_t *value, size_t flags);

/* Every node sharing a database must hold the same link.secret and credentials.key in its data folder.
 * The database records a fingerprint of them as the cluster fact CLI_SECRETS_FACT (the first one
 * recorded wins: a fresh database, or one made before fingerprints existed, gets this folder's).
 * Returns 0 when data_dir's secrets (made when absent) match the recorded ones; otherwise prints which
 * file differs and that both must be copied from an existing node's folder (worded for `init` when
 * initialising) and returns 1. Nothing else is written to the database. */
int cli_secrets_check(store *db, const char *data_dir, bool initialising);

#define CLI_SECRETS_FACT "secrets_fingerprint"
#define CLI_SECRETS_HASH_BYTES 16 /* each secret's keyed hash (crypto_generichash) */
#define CLI_SECRETS_FINGERPRINT_SIZE 96
/* "v1 link=<hex> credentials=<hex>": BLAKE2b (crypto_generichash) of a fixed label keyed by each secret
 * in turn; it reveals nothing of the secrets. Pure. */
void cli_secrets_fingerprint(const unsigned char link_secret[32], const unsigned char credentials_key[32],
                             char out[CLI_SECRETS_FINGERPRINT_SIZE]);

/* Opens the storage of --storage (cli/storage.c): a local folder (by default <data_dir>/blobs) or, for
 * s3://bucket[/prefix], the bucket the S3 settings describe, checked at once. On failure prints why
 * (never the secret) and returns 1; else 0, and the caller closes *out with blob_store_close. */
int cli_storage_open(const settings *s, const char *data_dir, blob_store **out);

#endif
