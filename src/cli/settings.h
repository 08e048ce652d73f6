/* settings.h — every option of the command line as one table (as Redis's config.c does): each
 * setting's flag, its REELAY_* environment twin, default, type and bounds, the commands that take it
 * and its help text, written once in settings_table.c. Parsing (a flag beats the environment, which
 * beats the default), validation, every command's --help and the README's table of settings
 * (`reelay settings --markdown`) all read that table.
 *
 * This is the only code that reads the environment: library code gets its settings from the caller
 * (log_set_level, fetch_policy fields, media_render_set_ffmpeg, engine_config …). */
#ifndef REELAY_CLI_SETTINGS_H
#define REELAY_CLI_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The commands, as bits: a setting lists the commands that take it. */
typedef enum {
    CLI_INIT = 1u << 0,
    CLI_SERVE = 1u << 1,
    CLI_KEYS = 1u << 2,
    CLI_CREDITS = 1u << 3,
    CLI_CHANNELS = 1u << 4,
    CLI_SETTINGS = 1u << 5,
    CLI_MIGRATE_STORE = 1u << 6,
    CLI_ADMIN_TOKEN = 1u << 7,
} cli_command;

/* The commands that work on a data folder. */
#define CLI_DATA_COMMANDS (CLI_INIT | CLI_SERVE | CLI_KEYS | CLI_CREDITS | CLI_CHANNELS | CLI_ADMIN_TOKEN)

/* What a value must look like. Every type but BOOL takes a value after its flag (`--flag VALUE` or
 * `--flag=VALUE`); an empty environment variable counts as not set. */
typedef enum {
    SETTING_TEXT,         /* any text of minimum to maximum bytes (maximum 0 = no limit) */
    SETTING_NAME,         /* 1 to maximum letters, digits, '-' or '_' */
    SETTING_PATH,         /* a file or folder path: not empty, shorter than SETTING_PATH_MAX */
    SETTING_URL,          /* an absolute http(s) URL with a host, without credentials or white space */
    SETTING_BASE_URL,     /* a SETTING_URL without a query or fragment (paths are appended to it) */
    SETTING_HOST_PORT,    /* HOST:PORT or [IPv6]:PORT, the port from 0 to 65535 */
    SETTING_INTEGER,      /* a whole number from minimum to maximum */
    SETTING_SECONDS,      /* a duration in whole seconds, from minimum to maximum */
    SETTING_MILLISECONDS, /* a duration in whole milliseconds, from minimum to maximum */
    SETTING_NUMBER,       /* a decimal number from number_minimum to number_maximum */
    SETTING_ENUM,         /* one of choices, in any letter case */
    SETTING_BOOL,         /* the flag alone is on; a value is 1/true/yes/on or 0/false/no/off */
} setting_type;

enum { SETTING_PATH_MAX = 4000, SETTING_HOST_MAX = 255 };

/* Every setting, in the order of the table (and of help and the README). */
typedef enum {
    SETTING_DATA,
    SETTING_DATABASE,
    SETTING_LOG_LEVEL,
    SETTING_STORAGE,
    SETTING_S3_ENDPOINT,
    SETTING_S3_REGION,
    SETTING_S3_ADDRESSING,
    SETTING_S3_ACCESS_KEY_ID,
    SETTING_S3_SECRET_ACCESS_KEY,
    SETTING_LISTEN,
    SETTING_PUBLIC_URL,
    SETTING_THREADS,
    SETTING_RENDER_CONCURRENCY,
    SETTING_TASK_TIMEOUT,
    SETTING_LINK_TTL,
    SETTING_ENGINE_PAUSED,
    SETTING_POLL_SCALE,
    SETTING_SUBMIT_TIMEOUT_MS,
    SETTING_UNKNOWN_GRACE,
    SETTING_PRICES,
    SETTING_MAX_UPLOAD_MB,
    SETTING_UPLOAD_QUOTA_MB,
    SETTING_UPLOAD_TTL,
    SETTING_MAINTENANCE_INTERVAL_MS,
    SETTING_EVENTS_KEEPALIVE_MS,
    SETTING_NODE_LEASE_MS,
    SETTING_FAL_JWKS_URL,
    SETTING_FETCH_ALLOW,
    SETTING_FETCH_MAX_BYTES,
    SETTING_FETCH_TIMEOUT_MS,
    SETTING_FFMPEG,
    SETTING_ACCESS_LOG,
    SETTING_JSON,
    SETTING_KEY_NAME,
    SETTING_CREDITS,
    SETTING_GROUP,
    SETTING_RPM,
    SETTING_KEY_MAX_CONCURRENT,
    SETTING_NOTE,
    SETTING_LIMIT,
    SETTING_PROVIDER,
    SETTING_CHANNEL_NAME,
    SETTING_BASE_URL_FLAG,
    SETTING_CREDENTIAL,
    SETTING_MODELS,
    SETTING_PRIORITY,
    SETTING_WEIGHT,
    SETTING_CHANNEL_MAX_CONCURRENT,
    SETTING_WEBHOOK_SECRET,
    SETTING_DISABLED,
    SETTING_MARKDOWN,
    SETTING_FROM,
    SETTING_TO,
    SETTING_COUNT
} setting_id;

/* One row of the table. */
typedef struct setting_definition {
    const char *flag;       /* without the leading "--"; unique within each command */
    const char *env;        /* REELAY_…, or NULL when only the flag sets it */
    const char *value_name; /* what help calls the value: DIR, N, SECONDS … (NULL for BOOL) */
    setting_type type;
    const char *default_value;  /* read like any value; NULL = not set unless given */
    const char *default_note;   /* how help and the README describe the default when the value alone
                                 * would mislead ("one per core"); NULL = the value itself */
    long long minimum, maximum; /* INTEGER and durations: the range; TEXT and NAME: the length */
    double number_minimum, number_maximum; /* NUMBER */
    const char *const *choices;            /* ENUM: NULL-terminated, lower case */
    unsigned commands;                     /* cli_command bits */
    const char *help;                      /* one sentence or two, no trailing period; `code` in backquotes */
} setting_definition;

/* The row of id (id < SETTING_COUNT). */
const setting_definition *setting_definition_of(setting_id id);

/* One command's help: what `reelay --help` lists and `reelay <command> --help` shows. */
typedef struct cli_command_info {
    cli_command command;
    const char *name;        /* "serve", "keys" … */
    const char *actions;     /* the words that may follow the name ("create|list"), or NULL */
    const char *summary;     /* one line, for `reelay --help` */
    const char *synopsis;    /* the usage lines after "usage: ", newline-separated */
    const char *description; /* paragraphs of prose, lines already broken; may be NULL */
} cli_command_info;

/* The commands in the order `reelay --help` lists them; *count is set. */
const cli_command_info *cli_commands(size_t *count);
/* The info of one command (a single bit), or NULL. */
const cli_command_info *cli_command_info_of(cli_command command);

/* Where a value came from. */
typedef enum { SETTING_UNSET, SETTING_FROM_DEFAULT, SETTING_FROM_ENV, SETTING_FROM_FLAG } setting_source;

typedef struct setting_value {
    setting_source source;
    const char *text;  /* the value as given, borrowed from argv, the environment or the table; NULL
                        * when unset; "1" for a BOOL flag given alone */
    long long integer; /* INTEGER and durations: the number; HOST_PORT: the port; ENUM: the index into
                        * choices; BOOL: 0 or 1 */
    double number;     /* NUMBER */
} setting_value;

/* The settings of one command, read once. Values borrow from argv and the environment: they live as
 * long as those do (the process, for main's). */
typedef struct settings {
    cli_command command;
    setting_value values[SETTING_COUNT]; /* values of settings the command does not take stay unset */
} settings;

/* Looks up an environment variable: NULL when it is not set. getenv is the one settings_parse uses
 * when given NULL; tests pass their own. */
typedef const char *(*settings_env_fn)(const char *name);

typedef enum {
    SETTINGS_OK,     /* *out is filled; *first_positional is the index of the first non-flag argument */
    SETTINGS_HELP,   /* --help was given: print the command's help and stop */
    SETTINGS_MISUSE, /* err says what is wrong, naming the flag or variable and what is allowed */
} settings_status;

/* Reads the settings of command (one bit) from argv (argv[0] is the command word; GNU getopt order,
 * flags and other arguments may mix and argv is permuted so that the others come last), then the
 * environment for those no flag gave, then the defaults. A value that does not fit its type is a
 * misuse: "--threads must be a whole number from 0 to 256 (got 'x')", or the same with REELAY_THREADS
 * when the value came from there. An unknown flag, or one the command does not take, is a misuse too.
 * err is always terminated (truncated to err_size). Uses getopt's global state: not thread-safe. */
settings_status settings_parse(settings *out, cli_command command, int argc, char **argv, settings_env_fn env,
                               int *first_positional, char *err, size_t err_size);

/* Reads one value of the type of definition into *out (its source untouched). False when text does
 * not fit; then allowed (if not NULL) gets what would ("a whole number from 0 to 256"). */
bool setting_value_read(const setting_definition *definition, const char *text, setting_value *out,
                        char *allowed, size_t allowed_size);

/* What values of definition's type are allowed, as the error messages and help say it. */
void setting_allowed_text(const setting_definition *definition, char *out, size_t out_size);

/* Splits HOST:PORT (or [IPv6]:PORT) into host (without brackets) and port. False when text has no
 * port, an empty or too long host (host_size bytes with its terminator), or a port outside 0..65535. */
bool settings_split_host_port(const char *text, char *host, size_t host_size, int *port);

/* The accessors assert that the command of s takes id. */
/* True when a flag or an environment variable gave the value. */
bool settings_given(const settings *s, setting_id id);
/* The value's text; NULL when unset. */
const char *settings_text(const settings *s, setting_id id);
/* INTEGER, durations, HOST_PORT's port, ENUM's index; 0 when unset. */
long long settings_integer(const settings *s, setting_id id);
/* NUMBER; 0 when unset. */
double settings_number(const settings *s, setting_id id);
/* BOOL; false when unset. */
bool settings_bool(const settings *s, setting_id id);

/* `reelay <command> --help`: the usage, the command's prose and each of its flags with its variable,
 * default and allowed values. Returns 0, or -1 when writing failed. */
int settings_write_help(FILE *out, cli_command command);
/* `reelay --help`: the commands and the flags every data command takes. 0 or -1. */
int settings_write_overview(FILE *out);
/* The README's table of every setting with an environment variable (`reelay settings --markdown`):
 * exactly the text between the README's settings markers. 0 or -1. */
int settings_write_markdown(FILE *out);
/* The same settings as plain text, one block each (`reelay settings`). 0 or -1. */
int settings_write_text(FILE *out);

#endif
