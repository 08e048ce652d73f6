/* serve.c — `reelay serve`: turns the settings into the API's, the engine's and the HTTP server's
 * configuration (library code reads no environment: everything it is told comes from here), starts
 * them in order, and stops them cleanly on SIGINT or SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/admission_writer.h"
#include "api/api.h"
#include "api/input_checks.h"
#include "api/rate_limit.h"
#include "blob/blob.h"
#include "blob/link.h"
#include "catalog/prices.h"
#include "cli/cli.h"
#include "engine/engine.h"
#include "http/http.h"
#include "media/media.h"
#include "net/fetch.h"
#include "store/store.h"
#include "util/log.h"

/* Everything the server's threads may read while it runs; one per process (static in cli_serve). */
typedef struct serve_state {
    settings settings;
    char host[SETTING_HOST_MAX + 1]; /* what it listens on */
    int port;                        /* 0 = any free port */
    int threads;                     /* HTTP event loops, resolved (one per core for 0) */
    store *admission_db;
    api_app app;
    engine_config engine;
    api_input_checks input_checks;
    char blobs_dir[4096];
    char spill_template[4200];
    char own_url[512];     /* the base of this server's links for the sandbox, when known before listening */
    char public_url[512];  /* settled once the port is known, before any HTTP thread reads it */
    http_file_mount files; /* the server reads it for every /v1/files request */
    http_server *server;
} serve_state;

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
    serve_state *st = context;
    format_public_url(st->public_url, sizeof(st->public_url),
                      settings_text(&st->settings, SETTING_PUBLIC_URL), st->host, port);
    st->app.public_url = st->public_url;
    st->input_checks.local.public_url = st->public_url;
}

/* Loads the price table: --prices, else <data>/prices.json when present, else the defaults. */
static price_table *load_prices(const char *configured, const char *data_dir)
{
    char path[4096], err[512];
    const char *file = configured;
    if (file == NULL) {
        snprintf(path, sizeof(path), "%s/prices.json", data_dir);
        if (access(path, F_OK) == 0) file = path;
    }
    price_table *table = price_table_load(file, err, sizeof(err));
    if (table == NULL) fprintf(stderr, "reelay: the price table cannot be used: %s\n", err);
    return table;
}

/* The API's settings, prices, link secret and storage. 0, or 1 after saying why. */
static int serve_prepare_app(serve_state *st)
{
    const settings *s = &st->settings;
    const char *data_dir = settings_text(s, SETTING_DATA);
    api_app *app = &st->app;
    app->data_dir = data_dir;
    app->database_url = settings_text(s, SETTING_DATABASE);
    app->link_ttl_seconds = settings_integer(s, SETTING_LINK_TTL);
    app->task_timeout_seconds = settings_integer(s, SETTING_TASK_TIMEOUT);
    app->events_keepalive_ms = settings_integer(s, SETTING_EVENTS_KEEPALIVE_MS);
    app->max_json_bytes = 1 << 20;
    /* SQLite: every HTTP thread admits through one connection (under the store's writer lock); PostgreSQL:
     * each through its own, in parallel (a libpq connection must never be shared by threads) */
    app->admission_db = store_connection_shareable(st->admission_db) ? st->admission_db : NULL;
    app->max_upload_bytes = settings_integer(s, SETTING_MAX_UPLOAD_MB) << 20;
    app->upload_quota_bytes = settings_integer(s, SETTING_UPLOAD_QUOTA_MB) << 20;
    app->upload_ttl_seconds = settings_integer(s, SETTING_UPLOAD_TTL);
    app->prices = load_prices(settings_text(s, SETTING_PRICES), data_dir);
    if (app->prices == NULL) return 1;
    app->fetch_allow = settings_text(s, SETTING_FETCH_ALLOW);
    const char *storage = settings_text(s, SETTING_STORAGE);
    snprintf(st->blobs_dir, sizeof(st->blobs_dir), "%s%s", storage ? storage : data_dir,
             storage ? "" : "/blobs");
    if (link_signer_load(data_dir, &app->signer) != 0) {
        fprintf(stderr, "reelay: cannot read the secret in %s (run `reelay init`)\n", data_dir);
        return 1;
    }
    if (cli_storage_open(s, data_dir, &app->blobs) != 0) return 1;
    /* what a killed process left in the scratch area goes before anything new is written there (a
     * live process's folder stays: see blob.h); the maintenance sweep repeats this */
    blob_scratch_sweep(app->blobs, BLOB_SCRATCH_MAX_AGE_SECONDS);
    return 0;
}

/* Another node took this one over (it was paused or cut off from the database past its lease): its
 * tasks are someone else's now and every write it would make to them is refused. Stop at once, without
 * the clean stop's hand-back; a supervisor restarts the node as a new one. */
static void stop_after_lease_lost(void *context, int64_t epoch)
{
    (void)context;
    log_error("exiting: this node's lease was lost and its tasks were taken over by another node",
              "epoch=%lld exit_status=%d", (long long)epoch, CLI_EXIT_LEASE_LOST);
    _exit(CLI_EXIT_LEASE_LOST);
}

/* The engine's configuration, with the fetch guard's limits and the sandbox's ffmpeg. */
static void serve_configure_engine(serve_state *st)
{
    const settings *s = &st->settings;
    const char *public_url = settings_text(s, SETTING_PUBLIC_URL);
    st->engine =
        (engine_config){.data_dir = settings_text(s, SETTING_DATA),
                        .database_url = settings_text(s, SETTING_DATABASE),
                        .blobs = st->app.blobs,
                        .render_concurrency = (int)settings_integer(s, SETTING_RENDER_CONCURRENCY),
                        .paused = settings_bool(s, SETTING_ENGINE_PAUSED),
                        .poll_scale = settings_number(s, SETTING_POLL_SCALE),
                        .submit_timeout_ms = settings_integer(s, SETTING_SUBMIT_TIMEOUT_MS),
                        .unknown_grace_ms = settings_integer(s, SETTING_UNKNOWN_GRACE) * 1000,
                        /* webhooks only when the operator says where we can be reached */
                        .public_url = public_url,
                        .webhook_keys_url = settings_text(s, SETTING_FAL_JWKS_URL),
                        .maintenance_interval_ms = settings_integer(s, SETTING_MAINTENANCE_INTERVAL_MS),
                        .link_ttl_seconds = settings_integer(s, SETTING_LINK_TTL),
                        .lease_ms = settings_integer(s, SETTING_NODE_LEASE_MS),
                        .on_lease_lost = stop_after_lease_lost};
    fetch_policy_init(&st->engine.fetch);
    st->engine.fetch.max_bytes = (size_t)settings_integer(s, SETTING_FETCH_MAX_BYTES);
    st->engine.fetch.total_timeout_ms = (long)settings_integer(s, SETTING_FETCH_TIMEOUT_MS);
    st->engine.fetch.allow_list = settings_text(s, SETTING_FETCH_ALLOW);
    st->app.upload_fetch = &st->engine.fetch;
    /* The sandbox reads this server's own links from storage; with an ephemeral port and no
     * --public-url the base is not known yet, and inputs are fetched like any others. */
    if (public_url || st->port != 0)
        format_public_url(st->own_url, sizeof(st->own_url), public_url, st->host, st->port);
    st->engine.inputs =
        (local_inputs){.public_url = st->own_url, .signer = &st->app.signer, .blobs = st->app.blobs};
    media_render_set_ffmpeg(settings_text(s, SETTING_FFMPEG));
}

/* The HTTP server over the API, listening. 0, or 1 after saying why. */
static int serve_start_http(serve_state *st)
{
    /* h2o's spilled bodies go in this process's scratch folder: a kill -9 leaves them to the sweep */
    if (blob_scratch_process_dir(st->app.blobs, st->spill_template, 4096) != 0) {
        fprintf(stderr, "reelay: cannot create a scratch folder under %s/.scratch\n", st->blobs_dir);
        return 1;
    }
    strcat(st->spill_template, "/h2o.b.XXXXXX");
    /* objects on S3 are streamed from there; local files by h2o's file handler */
    http_handler_fn serve_objects = blob_store_is_local(st->app.blobs) ? NULL : api_files_serve_object;
    st->files = (http_file_mount){.prefix = "/v1/files",
                                  .directory = st->blobs_dir,
                                  .name = "files.get",
                                  .authorize = api_files_authorize,
                                  .types = api_file_types,
                                  .serve = serve_objects};
    http_server_config http = {.file_mount = &st->files,
                               .host = st->host,
                               .port = st->port,
                               .threads = st->threads,
                               /* uploads: the file limit plus base64's third and the form around it;
                                * every other route keeps the JSON limit; large bodies wait in a
                                * mapped file in the data folder, not on the heap */
                               .max_body_bytes = (size_t)st->app.max_upload_bytes / 3 * 4 + (1u << 20),
                               .route_body_bytes = st->app.max_json_bytes,
                               .spill_threshold = 1u << 20,
                               .spill_template = st->spill_template,
                               .request_timeout_ms = 10000,
                               .idle_timeout_ms = 60000,
                               .routes = api_routes,
                               .route_count = api_route_count,
                               .unmatched = api_unmatched,
                               .thread_init = api_thread_init,
                               .thread_done = api_thread_done,
                               .thread_stopping = api_thread_stopping,
                               .listening = on_listening,
                               .listening_context = st,
                               .app = &st->app,
                               .access_log = settings_bool(&st->settings, SETTING_ACCESS_LOG)};
    st->server = http_server_start(&http);
    return st->server != NULL ? 0 : 1;
}

/* Starts everything after the settings are read: storage, engine, HTTP, callbacks. 0, or 1 after
 * saying why (what was started is left to the process's exit, as before any request was served). */
static int serve_start(serve_state *st)
{
    if (!fetch_library_ready()) { /* libcurl's global setup, before any thread could use it */
        fprintf(stderr, "reelay: the HTTP client library could not start\n");
        return 1;
    }
    /* migrates once, before threads open their own; then serves every HTTP thread's admissions */
    st->admission_db = cli_store_open(settings_text(&st->settings, SETTING_DATABASE),
                                      settings_text(&st->settings, SETTING_DATA));
    if (st->admission_db == NULL || serve_prepare_app(st) != 0) return 1;
    serve_configure_engine(st);
    /* media inputs are probed at submit through the same guard; uploads are read where they lie */
    local_inputs own_files = {.signer = &st->app.signer, .blobs = st->app.blobs};
    if (api_input_checks_init(&st->input_checks, &st->engine.fetch, &own_files) != 0) return 1;
    st->app.probe_input = api_input_probe;
    st->app.probe_context = &st->input_checks;
    char engine_error[256];
    st->app.engine = engine_start(&st->engine, engine_error, sizeof(engine_error));
    if (st->app.engine == NULL) {
        fprintf(stderr, "reelay: the engine could not start: %s\n", engine_error);
        return 1;
    }
    store_set_lease_epoch(st->admission_db, engine_node_epoch(st->app.engine)); /* admitted tasks are ours */
    /* from now on the connection is the admission writer's alone (without it, the HTTP threads commit) */
    st->app.admission_writer = admission_writer_start(st->admission_db);
    api_follow_signals(&st->app);
    /* keys' per-minute limits count every node's requests (nothing to share on SQLite) */
    if (!rate_limit_start_exchange(settings_text(&st->settings, SETTING_DATABASE),
                                   settings_text(&st->settings, SETTING_DATA),
                                   engine_node_epoch(st->app.engine), RATE_LIMIT_EXCHANGE_INTERVAL_MS)) {
        fprintf(stderr, "reelay: the rate limit cannot share its counts through the database\n");
        engine_stop(st->app.engine);
        return 1;
    }
    if (serve_start_http(st) != 0) {
        rate_limit_stop_exchange();
        engine_stop(st->app.engine);
        return 1;
    }
    st->app.server = st->server;
    task_view_links links = {.signer = &st->app.signer,
                             .public_url = st->public_url,
                             .link_ttl_seconds = settings_integer(&st->settings, SETTING_LINK_TTL)};
    if (!engine_start_callbacks(st->app.engine, &links)) {
        http_server_stop(st->server);
        rate_limit_stop_exchange();
        engine_stop(st->app.engine);
        return 1;
    }
    return 0;
}

int cli_serve(int argc, char **argv)
{
    static serve_state state;
    serve_state *st = &state;
    int first = 0;
    int status = cli_settings_read(&st->settings, CLI_SERVE, argc, argv, &first);
    if (status >= 0) return status;
    if (first < argc) return cli_misuse(CLI_SERVE, "unexpected argument '%s'", argv[first]);
    /* the table checked the form; this only splits it */
    if (!settings_split_host_port(settings_text(&st->settings, SETTING_LISTEN), st->host, sizeof(st->host),
                                  &st->port))
        return cli_misuse(CLI_SERVE, "--listen must be HOST:PORT");
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    st->threads = (int)settings_integer(&st->settings, SETTING_THREADS);
    if (st->threads == 0) st->threads = cores > 0 ? (int)cores : 1;

    /* SIGINT and SIGTERM are taken by sigwait at the end, so they are blocked before any thread starts
     * (every thread inherits the mask): a thread that did not block them could take one and end the
     * process without a clean stop. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    if (serve_start(st) != 0) return 1;
    log_info("serving", "listen=%s:%d public_url=%s threads=%d renders=%d paused=%s", st->host,
             http_server_port(st->server), st->public_url, st->threads, st->engine.render_concurrency,
             st->engine.paused ? "yes" : "no");
    printf("reelay listening on http://%s:%d\n", st->host, http_server_port(st->server));
    fflush(stdout);

    int received = 0;
    sigwait(&signals, &received);
    log_info("stopping", "signal=%d", received);
    http_server_stop(st->server);
    admission_writer_stop(st->app.admission_writer); /* every loop has had its batches back */
    rate_limit_stop_exchange();
    engine_stop(st->app.engine);
    blob_store_close(st->app.blobs);
    price_table_free(st->app.prices);
    store_close(st->admission_db);
    api_input_checks_done(&st->input_checks);
    return 0;
}
