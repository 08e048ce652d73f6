/* cli.h — command-line commands that live outside main.c. Each takes the arguments after its own
 * name (argv[0] is the command word) and returns the process exit status: 0 done, 1 failed,
 * 2 misused (a message and the usage are printed to stderr). */
#ifndef REELAY_CLI_CLI_H
#define REELAY_CLI_CLI_H

/* `reelay channels add|list|update|disable|enable|remove`: the provider accounts tasks run on.
 * Credentials are sealed with the data folder's key before they are stored and are only ever
 * printed masked. */
int cli_channels(int argc, char **argv);

/* `reelay keys create|update|list|revoke`: API keys, their group, limits and callback signing secret. */
int cli_keys(int argc, char **argv);
/* `reelay credits grant|show|audit`: a key's credits and the ledger behind them. */
int cli_credits(int argc, char **argv);

/* What a new key gets. */
typedef struct key_spec {
    const char *name;  /* may be NULL */
    const char *group; /* NULL = "default" */
    long long credits; /* granted at creation (0 = none) */
    int rpm_limit;     /* 0 = unlimited */
    int max_concurrent;
} key_spec;

/* Creates a key in data_dir and prints it once: as text, or as one JSON object whose id field is named
 * json_id_field ("id", "key_id") with "key", "webhook_secret", "credits" and "user_group". 0 or 1. */
int cli_keys_create(const char *data_dir, const key_spec *spec, const char *json_id_field);

#endif
