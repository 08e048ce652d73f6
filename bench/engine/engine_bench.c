/* reelay-bench-engine: task state transitions per second through the store, on SQLite or PostgreSQL
 * (issue 14, point 5; bench/engine/README.md). What each phase calls is in bench_engine.h.
 *
 * Connections are opened as `reelay serve` opens them: store_open_url on the data folder (SQLite: WAL,
 * synchronous=NORMAL, no automatic checkpoints, so a thread checkpoints every second as the engine's
 * does) or on the PostgreSQL URL; a node is registered and its lease epoch set on every connection, so
 * every engine write is fenced as in the server. The database must hold no task: the bench refuses to
 * run on one in use. Afterwards it checks its own work (bench_verify.h): exit status 1 when anything is
 * off (or a store call failed), 2 for a usage error, 0 otherwise.
 *
 * Usage: reelay-bench-engine [--backend sqlite|postgres] [--data DIR] [--database-url URL] [--tasks N]
 *                            [--threads T] [--batch B] [--polls P] [--keys K] [--json] [--keep] */
#include <getopt.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_engine.h"
#include "bench_report.h"
#include "util/clock.h"
#include "util/ids.h"
#include "util/log.h"

enum { NODE_LEASE_MS = 3600 * 1000 }; /* longer than any run: the node never has to renew */

static const char USAGE[] =
    "usage: reelay-bench-engine [--backend sqlite|postgres] [--data DIR] [--database-url URL]\n"
    "                           [--tasks N (100000)] [--threads T (1)] [--batch B (16)] [--polls P (3)]\n"
    "                           [--keys K (8)] [--json] [--keep]\n"
    "  --data DIR          SQLite: an existing folder whose reelay.db holds no task (default: a fresh\n"
    "                      temporary folder, removed afterwards unless --keep)\n"
    "  --database-url URL  PostgreSQL (default $REELAY_TEST_DATABASE_URL); its database must hold no task\n"
    "  --threads T         writer threads, each with its own connection, sharing every phase's tasks\n"
    "  --batch B           tasks per admission call (the HTTP threads' group commit)\n"
    "  --polls P           progress updates per task\n"
    "  --keys K            API keys the tasks are spread over (task i is key i mod K's)\n";

/* ---- options ---- */

static bool parse_count(const char *text, long minimum, long maximum, long *out)
{
    char *end = NULL;
    long value = strtol(text, &end, 10);
    if (end == text || *end != '\0' || value < minimum || value > maximum) return false;
    *out = value;
    return true;
}

/* 0 when the options are usable, 2 otherwise (said on stderr), -1 for --help. */
static int parse_options(int argc, char **argv, bench_options *opt)
{
    static const struct option options[] = {{"backend", required_argument, NULL, 'b'},
                                            {"data", required_argument, NULL, 'd'},
                                            {"database-url", required_argument, NULL, 'u'},
                                            {"tasks", required_argument, NULL, 'n'},
                                            {"threads", required_argument, NULL, 't'},
                                            {"batch", required_argument, NULL, 'B'},
                                            {"polls", required_argument, NULL, 'p'},
                                            {"keys", required_argument, NULL, 'k'},
                                            {"json", no_argument, NULL, 'j'},
                                            {"keep", no_argument, NULL, 'K'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    *opt = (bench_options){.tasks = 100000, .threads = 1, .batch = 16, .polls = 3, .keys = 8};
    long value = 0;
    bool usable = true;
    for (int option; usable && (option = getopt_long(argc, argv, "", options, NULL)) != -1;) {
        switch (option) {
        case 'b':
            usable = strcmp(optarg, "sqlite") == 0 || strcmp(optarg, "postgres") == 0;
            opt->postgres = strcmp(optarg, "postgres") == 0;
            break;
        case 'd':
            opt->data_dir = optarg;
            break;
        case 'u':
            opt->database_url = optarg;
            break;
        case 'n':
            usable = parse_count(optarg, 1, 100000000, &value), opt->tasks = (size_t)value;
            break;
        case 't':
            usable = parse_count(optarg, 1, BENCH_MAX_THREADS, &value), opt->threads = (int)value;
            break;
        case 'B':
            usable = parse_count(optarg, 1, BENCH_MAX_BATCH, &value), opt->batch = (int)value;
            break;
        case 'p':
            usable = parse_count(optarg, 0, BENCH_MAX_POLLS, &value), opt->polls = (int)value;
            break;
        case 'k':
            usable = parse_count(optarg, 1, BENCH_MAX_KEYS, &value), opt->keys = (int)value;
            break;
        case 'j':
            opt->json = true;
            break;
        case 'K':
            opt->keep = true;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return -1;
        default:
            usable = false;
            break;
        }
    }
    if (usable && optind < argc) usable = false;
    if (usable && opt->postgres && opt->database_url == NULL)
        opt->database_url = getenv("REELAY_TEST_DATABASE_URL");
    if (usable && opt->postgres && (opt->database_url == NULL || opt->database_url[0] == '\0')) {
        fputs("reelay-bench-engine: --backend postgres needs --database-url or REELAY_TEST_DATABASE_URL\n",
              stderr);
        return 2;
    }
    if (usable && (size_t)opt->keys > opt->tasks) opt->keys = (int)opt->tasks;
    if (!usable) fputs(USAGE, stderr);
    return usable ? 0 : 2;
}

/* ---- setup ---- */

static bool data_folder_ready(bench *b)
{
    if (b->opt.postgres) return true;
    if (b->opt.data_dir) {
        snprintf(b->data_dir, sizeof(b->data_dir), "%s", b->opt.data_dir);
        return true;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(b->data_dir, sizeof(b->data_dir), "%s/reelay-bench-engine.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    b->data_made = mkdtemp(b->data_dir) != NULL;
    if (!b->data_made) perror("reelay-bench-engine: mkdtemp");
    return b->data_made;
}

static void data_folder_remove(bench *b)
{
    if (!b->data_made || b->opt.keep) return;
    static const char *const files[] = {"reelay.db", "reelay.db-wal", "reelay.db-shm"};
    char path[PATH_MAX + 32];
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", b->data_dir, files[i]);
        unlink(path);
    }
    if (rmdir(b->data_dir) != 0) fprintf(stderr, "reelay-bench-engine: %s was not removed\n", b->data_dir);
}

/* A connection as the server's threads open theirs, fenced by the run's node. NULL on failure. */
static store *connection_open(bench *b)
{
    store *s = NULL;
    if (store_open_url(b->opt.postgres ? b->opt.database_url : NULL, b->data_dir, &s) != STORE_OK)
        return NULL;
    store_set_lease_epoch(s, b->epoch);
    return s;
}

/* The keys (each granted exactly what its tasks reserve), the fal channel and the node. */
static bool database_ready(bench *b)
{
    b->setup_db = connection_open(b);
    if (b->setup_db == NULL) return false;
    int64_t counts[TASK_STATE_COUNT], total = 0;
    if (store_task_count_by_state(b->setup_db, counts) != STORE_OK) return false;
    for (int i = 0; i < TASK_STATE_COUNT; i++)
        total += counts[i];
    if (total != 0) {
        fprintf(stderr, "reelay-bench-engine: the database holds %lld tasks; give it an empty one\n",
                (long long)total);
        return false;
    }
    char node[128];
    snprintf(node, sizeof(node), "reelay-bench-engine pid %d", (int)getpid());
    if (store_node_register(b->setup_db, node, NODE_LEASE_MS, &b->epoch) != STORE_OK) return false;
    channel_record channel = {
        .priority = 0, .weight = 1, .enabled = true, .created_at = clock_unix_seconds()};
    snprintf(channel.name, sizeof(channel.name), "%s", BENCH_CHANNEL);
    snprintf(channel.provider, sizeof(channel.provider), "fal");
    snprintf(channel.base_url, sizeof(channel.base_url), "https://queue.fal.run");
    snprintf(channel.models, sizeof(channel.models), "all");
    if (store_channel_insert(b->setup_db, &channel) != STORE_OK) return false;
    for (int k = 0; k < b->opt.keys; k++) {
        key_record key = {.created_at = clock_unix_seconds()};
        snprintf(key.id, sizeof(key.id), "key_bench%04d", k);
        snprintf(key.name, sizeof(key.name), "reelay-bench-engine %d", k);
        snprintf(key.user_group, sizeof(key.user_group), "%s", b->tmpl.user_group);
        char secret[64];
        unsigned char hash[STORE_KEY_HASH_SIZE];
        snprintf(secret, sizeof(secret), "rl-bench-%d-%u", k, randombytes_random());
        store_secret_hash(secret, hash);
        size_t tasks = bench_tasks_of_key(b->opt.tasks, (size_t)b->opt.keys, (size_t)k);
        b->key_grants[k] = (int64_t)tasks * b->tmpl.reserve;
        snprintf(b->key_ids[k], sizeof(b->key_ids[k]), "%s", key.id);
        if (store_key_insert(b->setup_db, &key, hash, NULL) != STORE_OK ||
            store_credits_grant(b->setup_db, key.id, b->key_grants[k], "reelay-bench-engine",
                                clock_unix_seconds()) != STORE_OK)
            return false;
    }
    return true;
}

/* Every worker's connection and share; SQLite's shared admission connection; the checkpointer's. */
static bool connections_ready(bench *b)
{
    size_t tasks = b->opt.tasks, threads = (size_t)b->opt.threads;
    for (size_t t = 0; t < threads; t++) {
        worker *w = &b->workers[t];
        *w = (worker){.b = b, .first = tasks * t / threads, .end = tasks * (t + 1) / threads};
        w->db = connection_open(b);
        if (w->db == NULL || !latency_reserve(&w->samples, (w->end - w->first) * (size_t)(b->opt.polls + 1)))
            return false;
    }
    b->checkpoint_db = connection_open(b);
    if (b->checkpoint_db == NULL) return false;
    if (store_connection_shareable(b->checkpoint_db)) {
        b->admission_db = connection_open(b);
        if (b->admission_db == NULL) return false;
    }
    return true;
}

/* The tasks as the HTTP threads fill them, before the admit phase (their building is not timed). */
static int compare_ids(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A task id is its second and 8 random characters (util/ids.h): of 100,000 made in one second, two are
 * alike in about one run of 550, and the duplicate fails its whole admission batch (as it would fail an
 * HTTP group commit). The bench measures the store, not that: a duplicate draws its id again. */
static bool ids_made_unique(bench *b, int64_t now)
{
    size_t tasks = b->opt.tasks, redrawn = 1;
    char **sorted = malloc(tasks * sizeof(*sorted));
    if (sorted == NULL) return false;
    while (redrawn > 0) {
        for (size_t i = 0; i < tasks; i++)
            sorted[i] = b->admitting[i].id;
        qsort(sorted, tasks, sizeof(*sorted), compare_ids);
        redrawn = 0;
        for (size_t i = 1; i < tasks; i++)
            if (strcmp(sorted[i - 1], sorted[i]) == 0) {
                ids_task_new(sorted[i], now);
                redrawn++;
            }
    }
    free(sorted);
    return true;
}

static bool admissions_ready(bench *b)
{
    size_t tasks = b->opt.tasks;
    b->task_ids = calloc(tasks, sizeof(*b->task_ids));
    b->admitting = calloc(tasks, sizeof(*b->admitting));
    if (b->task_ids == NULL || b->admitting == NULL) return false;
    int64_t now = clock_unix_seconds();
    for (size_t i = 0; i < tasks; i++)
        if (!bench_task_fill(&b->admitting[i], &b->tmpl, b->key_ids[i % (size_t)b->opt.keys], i, now))
            return false;
    if (!ids_made_unique(b, now)) return false;
    for (size_t i = 0; i < tasks; i++)
        memcpy(b->task_ids[i], b->admitting[i].id, sizeof(b->task_ids[i]));
    return true;
}

/* ---- the run ---- */

/* The phases in order, the checkpointer running beside them. */
static bool phases_run(bench *b)
{
    if (getloadavg(&b->load_at_start, 1) != 1) b->load_at_start = -1;
    if (!bench_checkpointer_start(b)) return false;
    bool fine = true;
    for (int p = 0; fine && p < PHASE_COUNT; p++) {
        fine = bench_run_phase(b, (phase_id)p);
        if (p == PHASE_ADMIT) {
            task_records_free(b->admitting, b->opt.tasks);
            b->admitting = NULL;
        }
    }
    bench_checkpointer_stop(b);
    if (getloadavg(&b->load_at_end, 1) != 1) b->load_at_end = -1;
    int errors = atomic_load(&b->checkpoint_errors);
    if (errors > 0) fprintf(stderr, "reelay-bench-engine: %d checkpoints failed\n", errors);
    latency_sort(&b->all_writes);
    return fine && errors == 0;
}

static void bench_free(bench *b)
{
    bench_checkpointer_stop(b);
    if (b->setup_db && b->epoch > 0) store_node_leave(b->setup_db, b->epoch);
    for (int t = 0; t < BENCH_MAX_THREADS; t++) {
        store_close(b->workers[t].db);
        latency_clear(&b->workers[t].samples);
    }
    store_close(b->admission_db);
    store_close(b->checkpoint_db);
    store_close(b->setup_db);
    if (b->admitting) task_records_free(b->admitting, b->opt.tasks);
    free(b->task_ids);
    free(b->key_ids);
    free(b->key_grants);
    latency_clear(&b->all_writes);
    bench_template_clear(&b->tmpl);
    data_folder_remove(b);
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->stop);
}

/* Setup, phases, checks and report; the exit status. */
static int bench_main(bench *b)
{
    char err[256] = "";
    if (!bench_template_init(&b->tmpl, err, sizeof(err))) {
        fprintf(stderr, "reelay-bench-engine: %s\n", err);
        return 1;
    }
    b->key_ids = calloc((size_t)b->opt.keys, sizeof(*b->key_ids));
    b->key_grants = calloc((size_t)b->opt.keys, sizeof(*b->key_grants));
    if (b->key_ids == NULL || b->key_grants == NULL || !data_folder_ready(b) || !database_ready(b) ||
        !connections_ready(b) || !admissions_ready(b)) {
        fprintf(stderr, "reelay-bench-engine: setup failed (see the log above)\n");
        return 1;
    }
    if (!phases_run(b)) return 1;
    bench_expectations expect = {.task_ids = b->task_ids,
                                 .task_count = b->opt.tasks,
                                 .key_ids = b->key_ids,
                                 .key_count = (size_t)b->opt.keys,
                                 .key_grants = b->key_grants,
                                 .tmpl = &b->tmpl};
    bench_verdict verdict;
    bool passed = bench_verify(b->setup_db, &expect, &verdict);
    bench_environment env;
    bench_environment_read(b, &env);
    if (b->opt.json) {
        if (!bench_report_json(stdout, b, &env, &verdict)) return 1;
    } else {
        bench_report_text(stdout, b, &env, &verdict);
    }
    if (!passed) fprintf(stderr, "reelay-bench-engine: check failed: %s\n", verdict.problem);
    if (b->opt.keep && b->data_made) fprintf(stderr, "reelay-bench-engine: kept %s\n", b->data_dir);
    return passed ? 0 : 1;
}

int main(int argc, char **argv)
{
    static bench b; /* large (every worker's state): not on the stack */
    int usable = parse_options(argc, argv, &b.opt);
    if (usable != 0) return usable < 0 ? 0 : usable;
    if (sodium_init() < 0) {
        fputs("reelay-bench-engine: libsodium did not initialise\n", stderr);
        return 1;
    }
    log_set_level(LOG_WARN);
    pthread_mutex_init(&b.lock, NULL);
    pthread_cond_init(&b.stop, NULL);
    int status = bench_main(&b);
    bench_free(&b);
    return status;
}
