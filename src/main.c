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
#include "blob/blob.h"
#include "blob/link.h"
#include "cli/cli.h"
#include "engine/engine.h"
#include "http/http.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/ids.h"
#include "util/log.h"

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
    bool json;
    bool quiet;
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
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = (int)parse_number(env_or("REELAY_THREADS", "0"), "REELAY_THREADS", 0, 256);
    if (o->threads == 0) o->threads = cores > 0 ? (int)cores : 1;
    o->render_concurrency =
        (int)parse_number(env_or("REELAY_RENDER_CONCURRENCY", "2"), "REELAY_RENDER_CONCURRENCY", 1, 256);
    o->task_timeout =
        parse_number(env_or("REELAY_TASK_TIMEOUT", "3600"), "REELAY_TASK_TIMEOUT", 1, 30LL * 86400);
    o->link_ttl = parse_number(env_or("REELAY_LINK_TTL", "86400"), "REELAY_LINK_TTL", 1, 365LL * 86400);
    o->poll_scale = parse_scale(env_or("REELAY_POLL_SCALE", "1"), "REELAY_POLL_SCALE");
    o->submit_timeout_ms = parse_number(env_or("REELAY_SUBMIT_TIMEOUT_MS", "30000"), "REELAY_SUBMIT_TIMEOUT_MS",
                                        100, 600000);
    o->unknown_grace = parse_number(env_or("REELAY_UNKNOWN_GRACE", "600"), "REELAY_UNKNOWN_GRACE", 1, 86400);
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
    OPT_JSON,
    OPT_NAME,
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
    {"json", no_argument, NULL, OPT_JSON},
    {"name", required_argument, NULL, OPT_NAME},
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
    "  keys create|list|revoke   manage API keys\n"
    "  channels add|list|update|disable|enable|remove   manage provider channels\n"
    "\n"
    "common flags:\n"
    "  --data DIR           data folder (REELAY_DATA, default ./var)\n"
    "\n"
    "Run `reelay <command> --help` for a command's flags.\n";

static const char usage_init[] =
    "usage: reelay init [--data DIR] [--json]\n"
    "  Creates DIR, its database, the link-signing secret, result storage and a\n"
    "  channel named 'sandbox' serving all models. On the first run only, creates\n"
    "  a first API key and prints it once. --json prints {\"key_id\",\"key\"} ({} later).\n";

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
    "  With --public-url set, providers are asked to call POST <url>/v1/upstream/<channel>/webhook;\n"
    "  polling stays the fallback. REELAY_FAL_JWKS_URL overrides where fal's webhook keys are read.\n"
    "  Input URLs are fetched only from public addresses; REELAY_FETCH_ALLOW lists hosts or CIDRs\n"
    "  that may be private (e.g. 127.0.0.1 for local tests).\n";

static const char usage_keys[] = "usage: reelay keys create [--name NAME] [--json] [--data DIR]\n"
                                 "       reelay keys list [--json] [--data DIR]\n"
                                 "       reelay keys revoke KEY_ID [--data DIR]\n"
                                 "  A key is shown once, at creation; only its hash is stored.\n";

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
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_NAME:
            o->name = optarg;
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

/* Creates a key and prints it, once: as text, or as JSON {"<json_id_field>": id, "key": key} when
 * json_id_field is not NULL. */
static int create_key(store *db, const char *name, const char *json_id_field)
{
    key_record key;
    memset(&key, 0, sizeof(key));
    ids_random_alnum(key.id, sizeof(key.id), "key_", 16);
    snprintf(key.name, sizeof(key.name), "%s", name ? name : "");
    snprintf(key.user_group, sizeof(key.user_group), "default");
    key.created_at = clock_unix_seconds();
    char secret[64];
    ids_random_token(secret, sizeof(secret), "sk-", 32);
    unsigned char hash[32];
    api_key_hash(secret, hash);
    if (store_key_insert(db, &key, hash, NULL) != STORE_OK) {
        fprintf(stderr, "reelay: the key could not be stored\n");
        return 1;
    }
    if (json_id_field)
        printf("{\"%s\": \"%s\", \"key\": \"%s\"}\n", json_id_field, key.id, secret);
    else
        printf("API key %s (shown once): %s\n", key.id, secret);
    sodium_memzero(secret, sizeof(secret));
    return 0;
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
        result = create_key(db, "first", o.json ? "key_id" : NULL);

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

static int command_keys(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage_keys, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *action = argv[1];
    options o;
    options_defaults(&o);
    int first = parse_flags(argc - 1, argv + 1, &o, usage_keys) + 1;
    store *db = NULL;
    int result = 0;
    if (strcmp(action, "create") == 0) {
        db = open_store_or_exit(o.data_dir);
        result = create_key(db, o.name, o.json ? "id" : NULL);
    } else if (strcmp(action, "list") == 0) {
        db = open_store_or_exit(o.data_dir);
        key_record *keys = NULL;
        size_t count = 0;
        if (store_key_list(db, &keys, &count) != STORE_OK) {
            result = 1;
        } else if (o.json) {
            json_t *list = json_array();
            for (size_t i = 0; i < count; i++)
                json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:I, s:b}", "id", keys[i].id, "name",
                                                      keys[i].name, "user_group", keys[i].user_group,
                                                      "created", (json_int_t)keys[i].created_at, "revoked",
                                                      keys[i].revoked_at != 0));
            char *text = json_dumps(list, JSON_COMPACT);
            if (text) puts(text);
            free(text);
            json_decref(list);
        } else {
            printf("%-22s %-10s %-8s %s\n", "ID", "GROUP", "STATE", "NAME");
            for (size_t i = 0; i < count; i++)
                printf("%-22s %-10s %-8s %s\n", keys[i].id, keys[i].user_group,
                       keys[i].revoked_at ? "revoked" : "active", keys[i].name);
        }
        free(keys);
    } else if (strcmp(action, "revoke") == 0) {
        if (first >= argc) {
            fputs(usage_keys, stderr);
            return 2;
        }
        db = open_store_or_exit(o.data_dir);
        store_status status = store_key_revoke(db, argv[first], clock_unix_seconds());
        if (status == STORE_NOT_FOUND)
            fprintf(stderr, "reelay: no key %s\n", argv[first]);
        else if (status == STORE_OK)
            printf("revoked %s\n", argv[first]);
        result = status == STORE_OK ? 0 : 1;
    } else {
        fprintf(stderr, "reelay: unknown keys command '%s'\n\n%s", action, usage_keys);
        return 2;
    }
    store_close(db);
    return result;
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

    store *db = open_store_or_exit(o.data_dir); /* migrates once, before threads open their own */
    store_close(db);
    static api_app app;
    app.data_dir = o.data_dir;
    app.link_ttl_seconds = o.link_ttl;
    app.task_timeout_seconds = o.task_timeout;
    app.max_json_bytes = 1 << 20;
    char blobs_dir[4096];
    snprintf(blobs_dir, sizeof(blobs_dir), "%s/blobs", o.data_dir);
    if (link_signer_load(o.data_dir, &app.signer) != 0 || blob_store_open(blobs_dir, &app.blobs) != 0) {
        fprintf(stderr, "reelay: cannot read the secret or storage in %s (run `reelay init`)\n", o.data_dir);
        return 1;
    }
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
    app.engine = engine_start(&engine_settings);
    if (app.engine == NULL) return 1;

    http_file_mount files = {.prefix = "/v1/files", .directory = blobs_dir, .name = "files.get",
                             .authorize = api_files_authorize};
    http_server_config http = {.file_mount = &files, .host = host,
                               .port = port,
                               .threads = o.threads,
                               .max_body_bytes = 8u << 20,
                               .request_timeout_ms = 10000,
                               .idle_timeout_ms = 60000,
                               .routes = api_routes,
                               .route_count = api_route_count,
                               .thread_init = api_thread_init,
                               .thread_done = api_thread_done,
                               .app = &app,
                               .access_log = true};
    const char *no_log = getenv("REELAY_ACCESS_LOG");
    if (no_log && strcmp(no_log, "0") == 0) http.access_log = false;
    /* Signals are taken by sigwait below, so every thread started from here on blocks them. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    http_server *server = http_server_start(&http);
    if (server == NULL) {
        engine_stop(app.engine);
        return 1;
    }
    app.server = server;
    char public_url[512];
    if (o.public_url) {
        snprintf(public_url, sizeof(public_url), "%s", o.public_url);
    } else {
        snprintf(public_url, sizeof(public_url), "http://%s%s%s:%d", strchr(host, ':') ? "[" : "", host,
                 strchr(host, ':') ? "]" : "", http_server_port(server));
    }
    size_t url_length = strlen(public_url);
    while (url_length > 0 && public_url[url_length - 1] == '/')
        public_url[--url_length] = '\0';
    app.public_url = public_url;
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
    if (strcmp(command, "keys") == 0) return command_keys(argc - 1, argv + 1);
    if (strcmp(command, "channels") == 0) return cli_channels(argc - 1, argv + 1);
    fprintf(stderr, "reelay: unknown command '%s'\n\n%s", command, usage_main);
    return 2;
}
