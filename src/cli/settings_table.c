/* settings_table.c — the table itself: every setting of every command, and each command's usage and
 * prose. Adding an option is adding a row here (and its id in settings.h); parsing, validation,
 * --help and the README's table follow from the row. */
#include <assert.h>

#include "cli/settings.h"

#define DAY_SECONDS (24LL * 60 * 60)

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const s3_addressings[] = {"auto", "path", "virtual", NULL};

/* clang-format off */
static const setting_definition table[SETTING_COUNT] = {
    /* every command with a data folder */
    [SETTING_DATA] = {
        .flag = "data", .env = "REELAY_DATA", .value_name = "DIR", .type = SETTING_PATH,
        .default_value = "./var", .commands = CLI_DATA_COMMANDS | CLI_MIGRATE_STORE,
        .help = "data folder: `reelay.db` (SQLite, WAL), `link.secret`, `credentials.key`, `blobs/`"},
    [SETTING_DATABASE] = {
        .flag = "database", .env = "REELAY_DATABASE_URL", .value_name = "URL", .type = SETTING_TEXT,
        .minimum = 1, .maximum = SETTING_PATH_MAX, .default_note = "`sqlite:` (`<data>/reelay.db`)",
        .commands = CLI_DATA_COMMANDS,
        .help = "the database: `sqlite:` (one node) or `postgres://user:password@host/db` (libpq; several "
                "nodes share it); the URL is never logged"},
    [SETTING_LOG_LEVEL] = {
        .flag = "log-level", .env = "REELAY_LOG_LEVEL", .value_name = "LEVEL", .type = SETTING_ENUM,
        .default_value = "info", .choices = log_levels, .commands = CLI_DATA_COMMANDS | CLI_MIGRATE_STORE,
        .help = "log lines below this level are left out"},
    [SETTING_STORAGE] = {
        .flag = "storage", .env = "REELAY_STORAGE_URL", .value_name = "URL", .type = SETTING_TEXT,
        .minimum = 1, .maximum = SETTING_PATH_MAX, .default_note = "`<data>/blobs`", .commands = CLI_DATA_COMMANDS,
        .help = "where result and upload files are kept: a local folder, or `s3://bucket[/prefix]` on "
                "S3-compatible storage (the `REELAY_S3_*` and `AWS_*` settings)"},
    [SETTING_S3_ENDPOINT] = {
        .flag = "s3-endpoint", .env = "REELAY_S3_ENDPOINT", .value_name = "URL", .type = SETTING_BASE_URL,
        .default_note = "`https://s3.<region>.amazonaws.com`", .commands = CLI_DATA_COMMANDS,
        .help = "the S3-compatible service of an `s3://` storage URL"},
    [SETTING_S3_REGION] = {
        .flag = "s3-region", .env = "REELAY_S3_REGION", .value_name = "REGION", .type = SETTING_NAME,
        .maximum = 63, .default_value = "us-east-1", .commands = CLI_DATA_COMMANDS,
        .help = "the region requests are signed for (SigV4)"},
    [SETTING_S3_ADDRESSING] = {
        .flag = "s3-addressing", .env = "REELAY_S3_ADDRESSING", .value_name = "STYLE", .type = SETTING_ENUM,
        .default_value = "auto", .choices = s3_addressings, .commands = CLI_DATA_COMMANDS,
        .help = "`path` (endpoint/bucket/key) or `virtual` (bucket.endpoint/key); `auto` is virtual on AWS "
                "and path with `--s3-endpoint`"},
    [SETTING_S3_ACCESS_KEY_ID] = {
        .flag = "s3-access-key-id", .env = "AWS_ACCESS_KEY_ID", .value_name = "ID", .type = SETTING_TEXT,
        .minimum = 1, .maximum = 256, .commands = CLI_DATA_COMMANDS,
        .help = "the access key of an `s3://` storage URL"},
    [SETTING_S3_SECRET_ACCESS_KEY] = {
        .flag = "s3-secret-access-key", .env = "AWS_SECRET_ACCESS_KEY", .value_name = "SECRET",
        .type = SETTING_TEXT, .minimum = 1, .maximum = 256, .commands = CLI_DATA_COMMANDS,
        .help = "its secret; prefer the variable (a flag shows in the process list)"},

    /* serve */
    [SETTING_LISTEN] = {
        .flag = "listen", .env = "REELAY_LISTEN", .value_name = "HOST:PORT", .type = SETTING_HOST_PORT,
        .default_value = "127.0.0.1:8080", .commands = CLI_SERVE,
        .help = "listen address; port 0 takes a free one"},
    [SETTING_PUBLIC_URL] = {
        .flag = "public-url", .env = "REELAY_PUBLIC_URL", .value_name = "URL", .type = SETTING_BASE_URL,
        .default_note = "http://HOST:PORT", .commands = CLI_SERVE,
        .help = "base of result links; when set, providers are asked to call "
                "`POST <url>/v1/upstream/<channel>/webhook` (polling stays the fallback)"},
    [SETTING_THREADS] = {
        .flag = "threads", .env = "REELAY_THREADS", .value_name = "N", .type = SETTING_INTEGER,
        .default_value = "0", .default_note = "0 = one per core", .minimum = 0, .maximum = 256,
        .commands = CLI_SERVE, .help = "HTTP event loops"},
    [SETTING_RENDER_CONCURRENCY] = {
        .flag = "render-concurrency", .env = "REELAY_RENDER_CONCURRENCY", .value_name = "N",
        .type = SETTING_INTEGER, .default_value = "2", .minimum = 1, .maximum = 256, .commands = CLI_SERVE,
        .help = "sandbox renders at once"},
    [SETTING_TASK_TIMEOUT] = {
        .flag = "task-timeout", .env = "REELAY_TASK_TIMEOUT", .value_name = "SECONDS", .type = SETTING_SECONDS,
        .default_value = "3600", .minimum = 1, .maximum = 30 * DAY_SECONDS, .commands = CLI_SERVE,
        .help = "a task unfinished after this long fails with code `timeout`"},
    [SETTING_LINK_TTL] = {
        .flag = "link-ttl", .env = "REELAY_LINK_TTL", .value_name = "SECONDS", .type = SETTING_SECONDS,
        .default_value = "86400", .minimum = 1, .maximum = 365 * DAY_SECONDS, .commands = CLI_SERVE,
        .help = "result links expire this long after completion"},
    [SETTING_ENGINE_PAUSED] = {
        .flag = "engine-paused", .env = "REELAY_ENGINE_PAUSED", .type = SETTING_BOOL, .default_value = "0",
        .commands = CLI_SERVE, .help = "accept and store tasks but start none"},
    [SETTING_POLL_SCALE] = {
        .flag = "poll-scale", .env = "REELAY_POLL_SCALE", .value_name = "X", .type = SETTING_NUMBER,
        .default_value = "1", .number_minimum = 0.001, .number_maximum = 100, .commands = CLI_SERVE,
        .help = "multiplies every provider poll delay; tests use 0.01"},
    [SETTING_SUBMIT_TIMEOUT_MS] = {
        .flag = "submit-timeout-ms", .env = "REELAY_SUBMIT_TIMEOUT_MS", .value_name = "MS",
        .type = SETTING_MILLISECONDS, .default_value = "30000", .minimum = 100, .maximum = 600000,
        .commands = CLI_SERVE, .help = "a provider submit unanswered this long is \"submission unknown\""},
    [SETTING_UNKNOWN_GRACE] = {
        .flag = "unknown-grace", .env = "REELAY_UNKNOWN_GRACE", .value_name = "SECONDS", .type = SETTING_SECONDS,
        .default_value = "600", .minimum = 1, .maximum = DAY_SECONDS, .commands = CLI_SERVE,
        .help = "an unknown submission that cannot be looked up fails after this long"},
    [SETTING_PRICES] = {
        .flag = "prices", .env = "REELAY_PRICES", .value_name = "FILE", .type = SETTING_PATH,
        .default_note = "`<data>/prices.json` if it exists, else the built-in prices", .commands = CLI_SERVE,
        .help = "the price table (described under Credits in the README)"},
    [SETTING_MAX_UPLOAD_MB] = {
        .flag = "max-upload-mb", .env = "REELAY_MAX_UPLOAD_MB", .value_name = "N", .type = SETTING_INTEGER,
        .default_value = "100", .minimum = 1, .maximum = 4096, .commands = CLI_SERVE,
        .help = "largest uploaded file, in MiB"},
    [SETTING_UPLOAD_QUOTA_MB] = {
        .flag = "upload-quota-mb", .env = "REELAY_UPLOAD_QUOTA_MB", .value_name = "N", .type = SETTING_INTEGER,
        .default_value = "1024", .minimum = 1, .maximum = 1LL << 30, .commands = CLI_SERVE,
        .help = "unexpired uploads one key may keep, in MiB"},
    [SETTING_UPLOAD_TTL] = {
        .flag = "upload-ttl", .env = "REELAY_UPLOAD_TTL", .value_name = "SECONDS", .type = SETTING_SECONDS,
        .default_value = "259200", .default_note = "259200 = 72 h", .minimum = 1, .maximum = 365 * DAY_SECONDS,
        .commands = CLI_SERVE, .help = "uploads and their links expire this long after upload"},
    [SETTING_MAINTENANCE_INTERVAL_MS] = {
        .flag = "maintenance-interval-ms", .env = "REELAY_MAINTENANCE_INTERVAL_MS", .value_name = "MS",
        .type = SETTING_MILLISECONDS, .default_value = "60000", .minimum = 100, .maximum = 3600000,
        .commands = CLI_SERVE,
        .help = "how often expired uploads and dead processes' scratch files are swept; tests use less"},
    [SETTING_EVENTS_KEEPALIVE_MS] = {
        .flag = "events-keepalive-ms", .env = "REELAY_EVENTS_KEEPALIVE_MS", .value_name = "MS",
        .type = SETTING_MILLISECONDS, .default_value = "15000", .minimum = 250, .maximum = 300000,
        .commands = CLI_SERVE,
        .help = "a live event stream without news gets a keep-alive comment this often; tests use less"},
    [SETTING_NODE_LEASE_MS] = {
        .flag = "node-lease-ms", .env = "REELAY_NODE_LEASE_MS", .value_name = "MS",
        .type = SETTING_MILLISECONDS, .default_value = "10000", .minimum = 3000, .maximum = 600000,
        .commands = CLI_SERVE,
        .help = "this node's lease on its tasks, renewed every third of it (at most every 2 s): when a node "
                "dies, another takes its tasks over once the lease has passed (plus at most 1 s); a node that "
                "finds its lease taken (it was paused or cut off longer) exits with status 3"},
    [SETTING_FAL_JWKS_URL] = {
        .flag = "fal-jwks-url", .env = "REELAY_FAL_JWKS_URL", .value_name = "URL", .type = SETTING_URL,
        .default_note = "fal's published keys", .commands = CLI_SERVE,
        .help = "where fal's webhook-signing keys are read"},
    [SETTING_FETCH_ALLOW] = {
        .flag = "fetch-allow", .env = "REELAY_FETCH_ALLOW", .value_name = "LIST", .type = SETTING_TEXT,
        .default_note = "none", .minimum = 0, .maximum = 4096, .commands = CLI_SERVE,
        .help = "comma-separated hosts, IP addresses or CIDRs that input and callback URLs may reach although "
                "they are not public (e.g. 127.0.0.1 for local tests); those may also use http"},
    [SETTING_FETCH_MAX_BYTES] = {
        .flag = "fetch-max-bytes", .env = "REELAY_FETCH_MAX_BYTES", .value_name = "BYTES", .type = SETTING_INTEGER,
        .default_value = "536870912", .default_note = "536870912 = 512 MiB", .minimum = 1,
        .maximum = 1LL << 40, .commands = CLI_SERVE, .help = "largest input download"},
    [SETTING_FETCH_TIMEOUT_MS] = {
        .flag = "fetch-timeout-ms", .env = "REELAY_FETCH_TIMEOUT_MS", .value_name = "MS",
        .type = SETTING_MILLISECONDS, .default_value = "300000", .minimum = 1, .maximum = DAY_SECONDS * 1000,
        .commands = CLI_SERVE, .help = "longest input download"},
    [SETTING_FFMPEG] = {
        .flag = "ffmpeg", .env = "REELAY_FFMPEG", .value_name = "PROGRAM", .type = SETTING_PATH,
        .default_value = "ffmpeg", .commands = CLI_SERVE,
        .help = "the ffmpeg program for sandbox renders and result previews; a name is looked up on PATH"},
    [SETTING_ACCESS_LOG] = {
        .flag = "access-log", .env = "REELAY_ACCESS_LOG", .type = SETTING_BOOL, .default_value = "1",
        .commands = CLI_SERVE, .help = "one log line per request; `--access-log=0` turns it off"},

    /* the administration commands */
    [SETTING_JSON] = {
        .flag = "json", .type = SETTING_BOOL,
        .commands = CLI_INIT | CLI_KEYS | CLI_CREDITS | CLI_CHANNELS | CLI_ADMIN_TOKEN,
        .help = "print JSON instead of text"},
    [SETTING_KEY_NAME] = {
        .flag = "name", .value_name = "NAME", .type = SETTING_TEXT, .minimum = 0, .maximum = 63,
        .commands = CLI_KEYS, .help = "the new key's name, for people"},
    [SETTING_CREDITS] = {
        .flag = "credits", .value_name = "N", .type = SETTING_INTEGER, .default_value = "0", .minimum = 0,
        .maximum = 1000000000000000LL, .commands = CLI_KEYS, .help = "credits the new key is granted"},
    [SETTING_GROUP] = {
        .flag = "group", .value_name = "GROUP", .type = SETTING_NAME, .default_note = "\"default\"", .maximum = 31,
        .commands = CLI_KEYS, .help = "the key's pricing group"},
    [SETTING_RPM] = {
        .flag = "rpm", .value_name = "N", .type = SETTING_INTEGER, .default_note = "0 = unlimited", .minimum = 0,
        .maximum = 1000000, .commands = CLI_KEYS, .help = "requests per minute the key may make"},
    [SETTING_KEY_MAX_CONCURRENT] = {
        .flag = "max-concurrent", .value_name = "N", .type = SETTING_INTEGER, .default_note = "0 = unlimited",
        .minimum = 0, .maximum = 1000000, .commands = CLI_KEYS, .help = "unfinished tasks the key may have"},
    [SETTING_NOTE] = {
        .flag = "note", .value_name = "TEXT", .type = SETTING_TEXT, .minimum = 0, .maximum = 0,
        .commands = CLI_CREDITS, .help = "why, kept with the ledger entry of a grant"},
    [SETTING_LIMIT] = {
        .flag = "limit", .value_name = "N", .type = SETTING_INTEGER, .default_value = "20", .minimum = 0,
        .maximum = 1000000, .commands = CLI_CREDITS, .help = "newest ledger entries `show` prints"},
    [SETTING_PROVIDER] = {
        .flag = "provider", .value_name = "PROVIDER", .type = SETTING_NAME, .maximum = 31, .commands = CLI_CHANNELS,
        .help = "the channel's provider: fal, sync, kling, openai, creatify or sandbox"},
    [SETTING_CHANNEL_NAME] = {
        .flag = "name", .value_name = "NAME", .type = SETTING_NAME, .maximum = 63, .commands = CLI_CHANNELS,
        .help = "the channel's name (in webhook URLs and logs)"},
    [SETTING_BASE_URL_FLAG] = {
        .flag = "base-url", .value_name = "URL", .type = SETTING_BASE_URL, .default_note = "the provider's API",
        .commands = CLI_CHANNELS, .help = "where the provider's API is reached"},
    [SETTING_CREDENTIAL] = {
        .flag = "credential", .value_name = "SECRET", .type = SETTING_TEXT, .minimum = 0, .maximum = 0,
        .commands = CLI_CHANNELS, .help = "the provider account's credential; `-` reads the first line of "
                                          "standard input"},
    [SETTING_MODELS] = {
        .flag = "models", .value_name = "LIST", .type = SETTING_TEXT, .minimum = 1, .maximum = 511,
        .commands = CLI_CHANNELS, .help = "`all`, or comma-separated models the provider serves"},
    [SETTING_PRIORITY] = {
        .flag = "priority", .value_name = "N", .type = SETTING_INTEGER, .default_note = "0", .minimum = -1000,
        .maximum = 1000, .commands = CLI_CHANNELS, .help = "a higher priority is tried first"},
    [SETTING_WEIGHT] = {
        .flag = "weight", .value_name = "N", .type = SETTING_INTEGER, .default_note = "1", .minimum = 1,
        .maximum = 1000, .commands = CLI_CHANNELS, .help = "share of tasks among channels of equal priority"},
    [SETTING_CHANNEL_MAX_CONCURRENT] = {
        .flag = "max-concurrent", .value_name = "N", .type = SETTING_INTEGER, .default_note = "0 = no cap",
        .minimum = 0, .maximum = 1000000, .commands = CLI_CHANNELS, .help = "tasks in flight on the channel"},
    [SETTING_WEBHOOK_SECRET] = {
        .flag = "webhook-secret", .value_name = "SECRET", .type = SETTING_TEXT, .minimum = 0, .maximum = 0,
        .commands = CLI_CHANNELS, .help = "the secret the provider signs its webhooks with; \"\" removes it"},
    [SETTING_DISABLED] = {
        .flag = "disabled", .type = SETTING_BOOL, .commands = CLI_CHANNELS, .help = "add the channel disabled"},

    /* settings */
    [SETTING_MARKDOWN] = {
        .flag = "markdown", .type = SETTING_BOOL, .commands = CLI_SETTINGS,
        .help = "print the README's table of settings"},

    /* migrate-store */
    [SETTING_FROM] = {
        .flag = "from", .value_name = "URL", .type = SETTING_TEXT, .minimum = 1, .maximum = SETTING_PATH_MAX,
        .commands = CLI_MIGRATE_STORE,
        .help = "the database to copy: `sqlite:` (`<data>/reelay.db`) or `postgres://…`"},
    [SETTING_TO] = {
        .flag = "to", .value_name = "URL", .type = SETTING_TEXT, .minimum = 1, .maximum = SETTING_PATH_MAX,
        .commands = CLI_MIGRATE_STORE,
        .help = "the empty database to copy it into: `sqlite:` or `postgres://…`"},
};

static const cli_command_info commands[] = {
    {.command = CLI_INIT, .name = "init",
     .summary = "create the data folder, the sandbox channel and a first API key (idempotent)",
     .synopsis = "reelay init [--data DIR] [--json]",
     .description =
         "Creates DIR, its database, the link-signing secret, result storage, a channel named 'sandbox'\n"
         "serving all models, and <data>/prices.json with the default prices (kept if it exists). On the\n"
         "first run only, creates a first API key with 10,000,000 credits and the admin token (for\n"
         "/admin/v1/) and prints them once. --json prints {\"key_id\",\"key\",\"webhook_secret\",…,\n"
         "\"admin_token\"} ({} later).\n"},
    {.command = CLI_SERVE, .name = "serve", .summary = "serve the API",
     .synopsis = "reelay serve [flags]",
     .description =
         "Input URLs are fetched only from public addresses unless --fetch-allow lists them. Every flag\n"
         "may be given by its environment variable instead; a flag wins.\n"},
    {.command = CLI_KEYS, .name = "keys", .actions = "create|update|list|revoke",
     .summary = "manage API keys, their limits and callback secrets",
     .synopsis = "reelay keys create [--name NAME] [--credits N] [--group GROUP] [--rpm N] [--max-concurrent N]\n"
                 "                   [--json]\n"
                 "reelay keys update KEY_ID [--group GROUP] [--rpm N] [--max-concurrent N]\n"
                 "reelay keys list [--json]\n"
                 "reelay keys revoke KEY_ID",
     .description =
         "A key is shown once, at creation; only its hash is stored. --json prints {\"id\", \"key\",\n"
         "\"webhook_secret\"}: the whsec_… secret its task callbacks are signed with.\n"},
    {.command = CLI_CREDITS, .name = "credits", .actions = "grant|show|audit",
     .summary = "manage a key's credits",
     .synopsis = "reelay credits grant KEY_ID AMOUNT [--note TEXT] [--json]\n"
                 "reelay credits show KEY_ID [--json] [--limit N]\n"
                 "reelay credits audit",
     .description =
         "grant adds whole credits to a key (a negative AMOUNT takes them back, never below zero). show\n"
         "prints the balance and the newest ledger entries. audit checks that every balance equals its\n"
         "ledger and every reservation was released exactly once; it exits 1 when something is off.\n"},
    {.command = CLI_CHANNELS, .name = "channels",
     .actions = "add|list|update|disable|enable|remove",
     .summary = "manage provider channels",
     .synopsis = "reelay channels add --provider PROVIDER --name NAME [--base-url URL] --credential SECRET\n"
                 "                    --models all|m1,m2 [--priority N] [--weight N] [--max-concurrent N]\n"
                 "                    [--disabled] [--webhook-secret SECRET]\n"
                 "reelay channels list [--json]\n"
                 "reelay channels update NAME [--base-url URL] [--credential SECRET] [--models …]\n"
                 "                    [--priority N] [--weight N] [--max-concurrent N] [--webhook-secret SECRET]\n"
                 "reelay channels disable|enable|remove NAME",
     .description =
         "Credentials: fal KEY, sync KEY, kling ACCESS_KEY:SECRET_KEY, openai KEY, creatify API_ID:API_KEY;\n"
         "none for the sandbox. --credential - keeps it out of the process list. It is encrypted at rest\n"
         "with <data>/credentials.key and only ever printed masked. --webhook-secret is Sync's signing\n"
         "secret, or Kling's or OpenAI's whsec_… secret, sealed like the credential. fal webhooks are\n"
         "checked against fal's published keys instead, Creatify's are unsigned and only prompt a poll.\n"},
    {.command = CLI_ADMIN_TOKEN, .name = "admin-token", .actions = "rotate",
     .summary = "replace the admin token of the admin API",
     .synopsis = "reelay admin-token rotate [--json]",
     .description =
         "Makes a new admin token (rla_…) and prints it once (--json: {\"admin_token\"}); the previous one\n"
         "stops working at once on every node. Only its hash is kept, in the database.\n"},
    {.command = CLI_MIGRATE_STORE, .name = "migrate-store",
     .summary = "copy an installation's whole database into an empty one (SQLite to PostgreSQL, or back)",
     .synopsis = "reelay migrate-store --from URL --to URL [--data DIR]",
     .description =
         "Copies keys (hashes, limits, balances, revocations), channels (credentials stay sealed with\n"
         "<data>/credentials.key), every task (unfinished ones owned by no node, so the first node to start\n"
         "takes them), the credit ledger, idempotency keys, the callback outbox, uploads and cluster facts,\n"
         "all in one transaction, then runs the credit audit on the copy and prints the counts. The target\n"
         "must hold no keys, channels or tasks. Stop every node first; then start them with --database set\n"
         "to the target and the same data folder's secrets (link.secret, credentials.key). Result and upload\n"
         "files are not moved: --storage must still reach them.\n"},
    {.command = CLI_SETTINGS, .name = "settings", .summary = "list every setting, its variable and default",
     .synopsis = "reelay settings [--markdown]",
     .description = "--markdown prints the table the README's Configuration section holds.\n"},
};
/* clang-format on */

const setting_definition *setting_definition_of(setting_id id)
{
    assert(id < SETTING_COUNT);
    return &table[id];
}

const cli_command_info *cli_commands(size_t *count)
{
    *count = sizeof(commands) / sizeof(commands[0]);
    return commands;
}

const cli_command_info *cli_command_info_of(cli_command command)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (commands[i].command == command) return &commands[i];
    return NULL;
}
