/* main.c — the command line: `reelay init`, `reelay serve`, `reelay keys create|list|revoke`, and
 * `reelay channels …` (src/cli/channels.c).
 * Every flag has a REELAY_* environment twin; flags win. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "api/input_checks.h"
#include "blob/blob.h"
#include "blob/link.h"
#include "catalog/prices.h"
#include "cli/cli.h"
#include "engine/engine.h"
#include "http/http.h"
#include "net/fetch.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/ids.h"
#include "util/log.h"

/* What `reelay init` grants the first key, so that the first run just works. */
#define INIT_KEY_CREDITS 10000000LL

typedef struct options {
    const char *data_dir;
    const char *listen;
    const char *public_url;
    const char *name;
    int threads;
    int render_concurrency;
    long long task_timeout;
    long long link_ttl;
    bool engine_paused;
    double poll_scale;
    long long submit_timeout_ms;
    long long unknown_grace;
    long long max_upload_mb, upload_quota_mb, upload_ttl;
    bool json;
    bool quiet;
    const char *prices; /* price file; NULL = <data>/prices.json when it exists, else the defaults */
} options;

static const char *env_or(const char *name, const char *fallback)
{
    const char *value = getenv(name);
    return value && value[0] ? value : fallback;
}

static long long parse_number(const char *text, const char *what, long long minimum, long long maximum)
{
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < minimum || value > maximum) {
        fprintf(stderr, "reelay: %s must be a whole number from %lld to %lld (got '%s')\n", what, minimum,
                maximum, text);
        exit(2);
    }
    return value;
}

static double parse_scale(const char *text, const char *what)
{
    char *end = NULL;
    errno = 0;
    double value = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(value >= 0.001 && value <= 100)) {
        fprintf(stderr, "reelay: %s must be a number from 0.001 to 100 (got '%s')\n", what, text);
        exit(2);
    }
    return value;
}

static void options_defaults(options *o)
{
    memset(o, 0, sizeof(*o));
    o->data_dir = env_or("REELAY_DATA", "./var");
    o->listen = env_or("REELAY_LISTEN", "127.0.0.1:8080");
    o->public_url = env_or("REELAY_PUBLIC_URL", NULL);
    o->prices = env_or("REELAY_PRICES", NULL);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = (int)parse_number(env_or("REELAY_THREADS", "0"), "REELAY_THREADS", 0, 256);
    if (o->threads == 0) o->threads = cores > 0 ? (int)cores : 1;
    o->render_concurrency =
        (int)parse_number(env_or("REELAY_RENDER_CONCURRENCY", "2"), "REELAY_RENDER_CONCURRENCY", 1, 256);
    o->task_timeout =
        parse_number(env_or("REELAY_TASK_TIMEOUT", "3600"), "REELAY_TASK_TIMEOUT", 1, 30LL * 86400);
    o->link_ttl = parse_number(env_or("REELAY_LINK_TTL", "86400"), "REELAY_LINK_TTL", 1, 365LL * 86400);
    o->poll_scale = parse_scale(env_or("REELAY_POLL_SCALE", "1"), "REELAY_POLL_SCALE");
    o->submit_timeout_ms =
        parse_number(env_or("REELAY_SUBMIT_TIMEOUT_MS", "30000"), "REELAY_SUBMIT_TIMEOUT_MS", 100, 600000);
    o->unknown_grace = parse_number(env_or("REELAY_UNKNOWN_GRACE", "600"), "REELAY_UNKNOWN_GRACE", 1, 86400);
    o->max_upload_mb = parse_number(env_or("REELAY_MAX_UPLOAD_MB", "100"), "REELAY_MAX_UPLOAD_MB", 1, 4096);
    o->upload_quota_mb =
        parse_number(env_or("REELAY_UPLOAD_QUOTA_MB", "1024"), "REELAY_UPLOAD_QUOTA_MB", 1, 1LL << 30);
    o->upload_ttl =
        parse_number(env_or("REELAY_UPLOAD_TTL", "259200"), "REELAY_UPLOAD_TTL", 1, 365LL * 86400);
    const char *paused = env_or("REELAY_ENGINE_PAUSED", "0");
    o->engine_paused = strcmp(paused, "0") != 0 && strcmp(paused, "false") != 0;
}

enum {
    OPT_DATA = 1000,
    OPT_LISTEN,
    OPT_PUBLIC_URL,
    OPT_THREADS,
    OPT_RENDER,
    OPT_TIMEOUT,
    OPT_TTL,
    OPT_PAUSED,
    OPT_POLL_SCALE,
    OPT_SUBMIT_TIMEOUT,
    OPT_UNKNOWN_GRACE,
    OPT_MAX_UPLOAD,
    OPT_UPLOAD_QUOTA,
    OPT_UPLOAD_TTL,
    OPT_JSON,
    OPT_NAME,
    OPT_PRICES,
    OPT_HELP
};

static const struct option long_options[] = {
    {"data", required_argument, NULL, OPT_DATA},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"public-url", required_argument, NULL, OPT_PUBLIC_URL},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"render-concurrency", required_argument, NULL, OPT_RENDER},
    {"task-timeout", required_argument, NULL, OPT_TIMEOUT},
    {"link-ttl", required_argument, NULL, OPT_TTL},
    {"engine-paused", no_argument, NULL, OPT_PAUSED},
    {"poll-scale", required_argument, NULL, OPT_POLL_SCALE},
    {"submit-timeout-ms", required_argument, NULL, OPT_SUBMIT_TIMEOUT},
    {"unknown-grace", required_argument, NULL, OPT_UNKNOWN_GRACE},
    {"max-upload-mb", required_argument, NULL, OPT_MAX_UPLOAD},
    {"upload-quota-mb", required_argument, NULL, OPT_UPLOAD_QUOTA},
    {"upload-ttl", required_argument, NULL, OPT_UPLOAD_TTL},
    {"json", no_argument, NULL, OPT_JSON},
    {"name", required_argument, NULL, OPT_NAME},
    {"prices", required_argument, NULL, OPT_PRICES},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static const char usage_main[] =
    "reelay — a self-hosted gateway for asynchronous AI video generation\n"
    "\n"
    "usage: reelay <command> [flags]\n"
    "\n"
    "commands:\n"
    "  init                 create the data folder, the sandbox channel and a first API key (idempotent)\n"
    "  serve                serve the API\n"
    "  keys create|update|list|revoke   manage API keys, their limits and callback secrets\n"
    "  credits grant|show|audit   manage a key's credits\n"
    "  channels add|list|update|disable|enable|remove   manage provider channels\n"
    "\n"
    "common flags:\n"
    "  --data DIR           data folder (REELAY_DATA, default ./var)\n"
    "\n"
    "Run `reelay <command> --help` for a command's flags.\n";

static const char usage_init[] =
    "usage: reelay init [--data DIR] [--json]\n"
    "  Creates DIR, its database, the link-signing secret, result storage and a\n"
    "  channel named 'sandbox' serving all models, and <data>/prices.json with the default\n"
    "  prices (kept if it exists). On the first run only, creates a first API key with\n"
    "  10,000,000 credits and prints it once. --json prints {\"key_id\",\"key\",\"webhook_secret\",…}\n"
    "  ({} later).\n";

static const char usage_serve[] =
    "usage: reelay serve [flags]\n"
    "  --data DIR                 data folder (REELAY_DATA, default ./var)\n"
    "  --listen HOST:PORT         listen address (REELAY_LISTEN, default 127.0.0.1:8080)\n"
    "  --public-url URL           base of result links (REELAY_PUBLIC_URL, default http://HOST:PORT)\n"
    "  --threads N                HTTP event loops (REELAY_THREADS, default: one per core)\n"
    "  --render-concurrency N     sandbox renders at once (REELAY_RENDER_CONCURRENCY, default 2)\n"
    "  --task-timeout SECONDS     a task unfinished after this fails with code timeout\n"
    "                             (REELAY_TASK_TIMEOUT, default 3600)\n"
    "  --link-ttl SECONDS         result links expire this long after completion (REELAY_LINK_TTL, default "
    "86400)\n"
    "  --engine-paused            accept and store tasks but start none (REELAY_ENGINE_PAUSED=1)\n"
    "  --poll-scale X             multiplies every provider poll delay (REELAY_POLL_SCALE, default 1)\n"
    "  --submit-timeout-ms MS     a provider submit unanswered this long is \"submission unknown\"\n"
    "                             (REELAY_SUBMIT_TIMEOUT_MS, default 30000)\n"
    "  --unknown-grace SECONDS    an unknown submission that cannot be looked up fails after this\n"
    "                             (REELAY_UNKNOWN_GRACE, default 600)\n"
    "  --max-upload-mb N          largest uploaded file in MiB (REELAY_MAX_UPLOAD_MB, default 100)\n"
    "  --upload-quota-mb N        uploads one key may keep, in MiB (REELAY_UPLOAD_QUOTA_MB, default 1024)\n"
    "  --upload-ttl SECONDS       uploads and their links expire this long after upload\n"
    "                             (REELAY_UPLOAD_TTL, default 259200 = 72 h)\n"
    "  --prices FILE              the price table (REELAY_PRICES, default <data>/prices.json if it\n"
    "                             exists, else the built-in defaults; see the README)\n"
    "  With --public-url set, providers are asked to call POST <url>/v1/upstream/<channel>/webhook;\n"
    "  polling stays the fallback. REELAY_FAL_JWKS_URL overrides where fal's webhook keys are read.\n"
    "  Input URLs are fetched only from public addresses; REELAY_FETCH_ALLOW lists hosts or CIDRs\n"
    "  that may be private (e.g. 127.0.0.1 for local tests).\n";

/* Parses flags after the command words; returns the index of the first positional argument. */
static int parse_flags(int argc, char **argv, options *o, const char *usage)
{
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        switch (c) {
        case OPT_DATA:
            o->data_dir = optarg;
            break;
        case OPT_LISTEN:
            o->listen = optarg;
            break;
        case OPT_PUBLIC_URL:
            o->public_url = optarg;
            break;
        case OPT_THREADS:
            o->threads = (int)parse_number(optarg, "--threads", 1, 256);
            break;
        case OPT_RENDER:
            o->render_concurrency = (int)parse_number(optarg, "--render-concurrency", 1, 256);
            break;
        case OPT_TIMEOUT:
            o->task_timeout = parse_number(optarg, "--task-timeout", 1, 30LL * 86400);
            break;
        case OPT_TTL:
            o->link_ttl = parse_number(optarg, "--link-ttl", 1, 365LL * 86400);
            break;
        case OPT_PAUSED:
            o->engine_paused = true;
            break;
        case OPT_POLL_SCALE:
            o->poll_scale = parse_scale(optarg, "--poll-scale");
            break;
        case OPT_SUBMIT_TIMEOUT:
            o->submit_timeout_ms = parse_number(optarg, "--submit-timeout-ms", 100, 600000);
            break;
        case OPT_UNKNOWN_GRACE:
            o->unknown_grace = parse_number(optarg, "--unknown-grace", 1, 86400);
            break;
        case OPT_MAX_UPLOAD:
            o->max_upload_mb = parse_number(optarg, "--max-upload-mb", 1, 4096);
            break;
        case OPT_UPLOAD_QUOTA:
            o->upload_quota_mb = parse_number(optarg, "--upload-quota-mb", 1, 1LL << 30);
            break;
        case OPT_UPLOAD_TTL:
            o->upload_ttl = parse_number(optarg, "--upload-ttl", 1, 365LL * 86400);
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_NAME:
            o->name = optarg;
            break;
        case OPT_PRICES:
            o->prices = optarg;
            break;
        case OPT_HELP:
            fputs(usage, stdout);
            exit(0);
        default:
            fprintf(stderr, "reelay: unknown or incomplete flag '%s'\n\n%s", argv[optind - 1], usage);
            exit(2);
        }
    }
    return optind;
}

static store *open_store_or_exit(const char *data_dir)
{
    store *db = NULL;
    if (store_open(data_dir, &db) != STORE_OK) {
        fprintf(stderr, "reelay: cannot open the database in %s (run `reelay init --data %s` first?)\n",
                data_dir, data_dir);
        exit(1);
    }
    return db;
}

/* mkdir -p */
static int make_folder_and_parents(const char *path)
{
    char buffer[4096];
    if (snprintf(buffer, sizeof(buffer), "%s", path) >= (int)sizeof(buffer)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buffer + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buffer, 0750) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(buffer, 0750) != 0 && errno != EEXIST ? -1 : 0;
}

/* Writes <data>/prices.json with the default prices unless it exists (an operator's edits are kept). */
static int write_default_prices(const char *data_dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/prices.json", data_dir);
    FILE *file = fopen(path, "wxe");
    if (file == NULL) return errno == EEXIST ? 0 : -1;
    char *text = price_table_default_json();
    int ok = text != NULL && fputs(text, file) >= 0;
    free(text);
    if (fclose(file) != 0) ok = 0;
    return ok ? 0 : -1;
}

/* Loads the price table for serve: --prices, else <data>/prices.json when present, else the defaults. */
static price_table *load_prices(const options *o)
{
    char path[4096], err[512];
    const char *file = o->prices;
    if (file == NULL) {
        snprintf(path, sizeof(path), "%s/prices.json", o->data_dir);
        if (access(path, F_OK) == 0) file = path;
    }
    price_table *table = price_table_load(file, err, sizeof(err));
    if (table == NULL) fprintf(stderr, "reelay: the price table cannot be used: %s\n", err);
    return table;
}

static int command_init(int argc, char **argv)
{
    options o;
    options_defaults(&o);
    parse_flags(argc, argv, &o, usage_init);
    if (make_folder_and_parents(o.data_dir) != 0) {
        fprintf(stderr, "reelay: cannot create %s: %s\n", o.data_dir, strerror(errno));
        return 1;
    }
    store *db = open_store_or_exit(o.data_dir);
    link_signer signer;
    char blobs_dir[4096];
    blob_store *blobs = NULL;
    snprintf(blobs_dir, sizeof(blobs_dir), "%s/blobs", o.data_dir);
    if (link_signer_load(o.data_dir, &signer) != 0 || blob_store_open(blobs_dir, &blobs) != 0) {
        fprintf(stderr, "reelay: cannot create the secret or storage in %s\n", o.data_dir);
        store_close(db);
        return 1;
    }
    blob_store_close(blobs);
    sodium_memzero(&signer, sizeof(signer));
    if (write_default_prices(o.data_dir) != 0) {
        fprintf(stderr, "reelay: cannot write %s/prices.json: %s\n", o.data_dir, strerror(errno));
        store_close(db);
        return 1;
    }
    channel_record sandbox = {.name = "sandbox",
                              .provider = "sandbox",
                              .models = "all",
                              .priority = 0,
                              .weight = 1,
                              .enabled = true,
                              .created_at = clock_unix_seconds()};
    store_status channel_status = store_channel_insert(db, &sandbox);
    key_record *keys = NULL;
    size_t key_count = 0;
    int result = 0;
    if ((channel_status != STORE_OK && channel_status != STORE_CONFLICT) ||
        store_key_list(db, &keys, &key_count) != STORE_OK) {
        fprintf(stderr, "reelay: cannot initialise %s\n", o.data_dir);
        result = 1;
    } else if (key_count == 0) {
        if (!o.json) printf("Initialised %s with a sandbox channel serving every model.\n", o.data_dir);
        /* the first key can run tasks at once: a generous grant, no limits */
        key_spec first = {.name = "first", .credits = INIT_KEY_CREDITS};
        result = cli_keys_create(o.data_dir, &first, o.json ? "key_id" : NULL);

    } else {
        if (o.json)
            puts("{}");
        else
            printf("%s is already initialised (%zu key%s); `reelay keys create` makes another key.\n",
                   o.data_dir, key_count, key_count == 1 ? "" : "s");
    }
    free(keys);
    store_close(db);
    return result;
}

/* The server's public URL, settled once its port is known and before any HTTP thread reads it. */
typedef struct serve_addresses {
    const char *host;       /* what it listens on */
    const char *configured; /* --public-url, or NULL */
    api_app *app;
    local_inputs *local;
    char public_url[512];
} serve_addresses;

/* The base URL of this server: --public-url as given, else http://host:port; no trailing slash. */
static void format_public_url(char *url, size_t size, const char *configured, const char *host, int port)
{
    if (configured)
        snprintf(url, size, "%s", configured);
    else
        snprintf(url, size, "http://%s%s%s:%d", strchr(host, ':') ? "[" : "", host,
                 strchr(host, ':') ? "]" : "", port);
    for (size_t length = strlen(url); length > 0 && url[length - 1] == '/';)
        url[--length] = '\0';
}

static void on_listening(void *context, int port)
{
    serve_addresses *addresses = context;
    format_public_url(addresses->public_url, sizeof(addresses->public_url), addresses->configured,
                      addresses->host, port);
    addresses->app->public_url = addresses->public_url;
    addresses->local->public_url = addresses->public_url;
}

static int command_serve(int argc, char **argv)
{
    options o;
    options_defaults(&o);
    parse_flags(argc, argv, &o, usage_serve);
    char host[256];
    const char *colon = strrchr(o.listen, ':');
    if (colon == NULL || colon == o.listen || (size_t)(colon - o.listen) >= sizeof(host)) {
        fprintf(stderr, "reelay: --listen must be HOST:PORT (got '%s')\n", o.listen);
        return 2;
    }
    int port = (int)parse_number(colon + 1, "the --listen port", 0, 65535);
    const char *host_start = o.listen, *host_end = colon;
    if (*host_start == '[' && host_end[-1] == ']') host_start++, host_end--; /* [::1]:8080 */
    snprintf(host, sizeof(host), "%.*s", (int)(host_end - host_start), host_start);

    /* SIGINT and SIGTERM are taken by sigwait at the end, so they are blocked before any thread starts
     * (every thread inherits the mask): a thread that did not block them could take one and end the
     * process without a clean stop. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    if (!fetch_library_ready()) { /* libcurl's global setup, before any thread could use it */
        fprintf(stderr, "reelay: the HTTP client library could not start\n");
        return 1;
    }
    /* migrates once, before threads open their own; then serves every HTTP thread's admissions */
    store *admission_db = open_store_or_exit(o.data_dir);
    static api_app app;
    app.data_dir = o.data_dir;
    app.link_ttl_seconds = o.link_ttl;
    app.task_timeout_seconds = o.task_timeout;
    app.max_json_bytes = 1 << 20;
    app.admission_db = admission_db;
    app.max_upload_bytes = o.max_upload_mb << 20;
    app.upload_quota_bytes = o.upload_quota_mb << 20;
    app.upload_ttl_seconds = o.upload_ttl;
    app.prices = load_prices(&o);
    if (app.prices == NULL) return 1;
    app.fetch_allow = env_or("REELAY_FETCH_ALLOW", NULL);
    char blobs_dir[4096];
    snprintf(blobs_dir, sizeof(blobs_dir), "%s/blobs", o.data_dir);
    if (link_signer_load(o.data_dir, &app.signer) != 0 || blob_store_open(blobs_dir, &app.blobs) != 0) {
        fprintf(stderr, "reelay: cannot read the secret or storage in %s (run `reelay init`)\n", o.data_dir);
        return 1;
    }
    /* what a killed process left in the scratch area goes before anything new is written there (a
     * live process's folder stays: see blob.h); the maintenance sweep repeats this */
    blob_scratch_sweep(app.blobs, BLOB_SCRATCH_MAX_AGE_SECONDS);
    engine_config engine_settings = {.data_dir = o.data_dir,
                                     .blobs = app.blobs,
                                     .render_concurrency = o.render_concurrency,
                                     .paused = o.engine_paused,
                                     .poll_scale = o.poll_scale,
                                     .submit_timeout_ms = o.submit_timeout_ms,
                                     .unknown_grace_ms = o.unknown_grace * 1000,
                                     /* webhooks only when the operator says where we can be reached */
                                     .public_url = o.public_url,
                                     .fal_jwks_url = env_or("REELAY_FAL_JWKS_URL", NULL)};
    fetch_policy_init(&engine_settings.fetch);
    app.upload_fetch = &engine_settings.fetch;
    /* The sandbox reads this server's own links from storage; with an ephemeral port and no
     * --public-url the base is not known yet, and inputs are fetched like any others. */
    static char own_url[512];
    if (o.public_url || port != 0) format_public_url(own_url, sizeof(own_url), o.public_url, host, port);
    engine_settings.inputs = (local_inputs){.public_url = own_url, .signer = &app.signer, .blobs = app.blobs};
    const char *sweep = env_or("REELAY_MAINTENANCE_INTERVAL_MS", NULL); /* tests: expiry without waiting */
    if (sweep)
        engine_settings.maintenance_interval_ms =
            parse_number(sweep, "REELAY_MAINTENANCE_INTERVAL_MS", 100, 3600000);
    /* media inputs are probed at submit through the same guard; uploads are read where they lie */
    static api_input_checks input_checks;
    local_inputs own_files = {.signer = &app.signer, .blobs = app.blobs};
    if (api_input_checks_init(&input_checks, &engine_settings.fetch, &own_files) != 0) return 1;
    app.probe_input = api_input_probe;
    app.probe_context = &input_checks;
    char engine_error[256];
    app.engine = engine_start(&engine_settings, engine_error, sizeof(engine_error));
    if (app.engine == NULL) {
        fprintf(stderr, "reelay: the engine could not start: %s\n", engine_error);
        return 1;
    }

    /* h2o's spilled bodies go in this process's scratch folder: a kill -9 leaves them to the sweep */
    char spill_template[4200];
    if (blob_scratch_process_dir(app.blobs, spill_template, 4096) != 0) {
        fprintf(stderr, "reelay: cannot create a scratch folder under %s/.scratch\n", blobs_dir);
        return 1;
    }
    strcat(spill_template, "/h2o.b.XXXXXX");
    static serve_addresses addresses;
    addresses = (serve_addresses){
        .host = host, .configured = o.public_url, .app = &app, .local = &input_checks.local};
    http_file_mount files = {.prefix = "/v1/files",
                             .directory = blobs_dir,
                             .name = "files.get",
                             .authorize = api_files_authorize,
                             .types = api_file_types};
    http_server_config http = {.file_mount = &files,
                               .host = host,
                               .port = port,
                               .threads = o.threads,
                               /* uploads: the file limit plus base64's third and the form around it;
                                * every other route keeps the JSON limit; large bodies wait in a
                                * mapped file in the data folder, not on the heap */
                               .max_body_bytes = (size_t)app.max_upload_bytes / 3 * 4 + (1u << 20),
                               .route_body_bytes = app.max_json_bytes,
                               .large_body_prefix = "/v1/files/upload/",
                               .spill_threshold = 1u << 20,
                               .spill_template = spill_template,
                               .request_timeout_ms = 10000,
                               .idle_timeout_ms = 60000,
                               .routes = api_routes,
                               .route_count = api_route_count,
                               .thread_init = api_thread_init,
                               .thread_done = api_thread_done,
                               .thread_stopping = api_thread_stopping,
                               .listening = on_listening,
                               .listening_context = &addresses,
                               .app = &app,
                               .access_log = true};
    const char *no_log = getenv("REELAY_ACCESS_LOG");
    if (no_log && strcmp(no_log, "0") == 0) http.access_log = false;
    http_server *server = http_server_start(&http);
    if (server == NULL) {
        engine_stop(app.engine);
        return 1;
    }
    app.server = server;
    const char *public_url = addresses.public_url;
    task_view_links links = {.signer = &app.signer, .public_url = public_url, .link_ttl_seconds = o.link_ttl};
    if (!engine_start_callbacks(app.engine, &links)) {
        http_server_stop(server);
        engine_stop(app.engine);
        return 1;
    }
    log_info("serving", "listen=%s:%d public_url=%s threads=%d renders=%d paused=%s", host,
             http_server_port(server), public_url, o.threads, o.render_concurrency,
             o.engine_paused ? "yes" : "no");
    printf("reelay listening on http://%s:%d\n", host, http_server_port(server));
    fflush(stdout);

    int received = 0;
    sigwait(&signals, &received);
    log_info("stopping", "signal=%d", received);
    http_server_stop(server);
    engine_stop(app.engine);
    blob_store_close(app.blobs);
    price_table_free(app.prices);
    store_close(admission_db);
    api_input_checks_done(&input_checks);
    return 0;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "reelay: libsodium could not start\n");
        return 1;
    }
    log_init_from_env();
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        fputs(usage_main, stderr);
        return 2;
    }
    const char *command = argv[1];
    if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0 || strcmp(command, "help") == 0) {
        fputs(usage_main, stdout);
        return 0;
    }
    if (strcmp(command, "init") == 0) return command_init(argc - 1, argv + 1);
    if (strcmp(command, "serve") == 0) return command_serve(argc - 1, argv + 1);
    if (strcmp(command, "keys") == 0) return cli_keys(argc - 1, argv + 1);
    if (strcmp(command, "credits") == 0) return cli_credits(argc - 1, argv + 1);
    if (strcmp(command, "channels") == 0) return cli_channels(argc - 1, argv + 1);
    fprintf(stderr, "reelay: unknown command '%s'\n\n%s", command, usage_main);
    return 2;
}
