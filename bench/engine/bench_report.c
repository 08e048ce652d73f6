/* bench_report.c — reelay-bench-engine's table and JSON (see bench_report.h). */
#include "bench_report.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A PostgreSQL setting read over conn into out ("unknown" when it cannot be). */
static void pg_setting(PGconn *conn, const char *name, char *out, size_t out_size)
{
    snprintf(out, out_size, "unknown");
    const char *values[] = {name};
    PGresult *result = PQexecParams(conn, "SELECT current_setting($1)", 1, NULL, values, NULL, NULL, 0);
    if (PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) == 1)
        snprintf(out, out_size, "%s", PQgetvalue(result, 0, 0));
    PQclear(result);
}

void bench_environment_read(const bench *b, bench_environment *env)
{
    memset(env, 0, sizeof(*env));
    env->nproc = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(env->database, sizeof(env->database), "%s", b->opt.postgres ? "postgres" : "sqlite");
    if (!b->opt.postgres) {
        snprintf(env->durability, sizeof(env->durability),
                 "journal_mode=wal synchronous=normal (store_open; checkpoints every second)");
        return;
    }
    snprintf(env->durability, sizeof(env->durability), "unknown");
    PGconn *conn = PQconnectdb(b->opt.database_url);
    if (PQstatus(conn) == CONNECTION_OK) {
        char fsync[16], commit[16], pages[16];
        pg_setting(conn, "fsync", fsync, sizeof(fsync));
        pg_setting(conn, "synchronous_commit", commit, sizeof(commit));
        pg_setting(conn, "full_page_writes", pages, sizeof(pages));
        snprintf(env->durability, sizeof(env->durability),
                 "fsync=%s synchronous_commit=%s full_page_writes=%s", fsync, commit, pages);
    }
    PQfinish(conn);
}

static double per_second(int64_t count, int64_t ns)
{
    return ns > 0 ? (double)count * 1e9 / (double)ns : 0;
}

/* Every phase together: their times added, the latencies of every writing call. */
static phase_result total_of(const bench *b)
{
    phase_result total = {.tasks = (int64_t)b->opt.tasks};
    for (int p = 0; p < PHASE_COUNT; p++) {
        total.transitions += b->results[p].transitions;
        total.wall_ns += b->results[p].wall_ns;
        total.cpu_ns += b->results[p].cpu_ns;
    }
    total.calls = (int64_t)b->all_writes.count;
    total.p50_ns = latency_percentile(&b->all_writes, 50);
    total.p99_ns = latency_percentile(&b->all_writes, 99);
    total.max_ns = latency_percentile(&b->all_writes, 100);
    return total;
}

static void text_row(FILE *out, const char *name, const phase_result *r, int reads)
{
    fprintf(out, "%-9s %11lld %8.3f %8.3f %13.0f %10.0f %8.1f %8.1f %9.1f %9lld %5d\n", name,
            (long long)r->transitions, (double)r->wall_ns / 1e9, (double)r->cpu_ns / 1e9,
            per_second(r->transitions, r->wall_ns), per_second(r->tasks, r->wall_ns), (double)r->p50_ns / 1e3,
            (double)r->p99_ns / 1e3, (double)r->max_ns / 1e3, (long long)r->calls, reads);
}

void bench_report_text(FILE *out, const bench *b, const bench_environment *env, const bench_verdict *verdict)
{
    const bench_options *o = &b->opt;
    fprintf(out,
            "reelay-bench-engine: %s (%s); %zu %s tasks on a fal channel; %d thread%s; %d keys; admission "
            "batches of %d; %d polls per task; nproc %ld; load average %.2f before, %.2f after\n",
            env->database, env->durability, o->tasks, BENCH_MODEL, o->threads, o->threads == 1 ? "" : "s",
            o->keys, o->batch, o->polls, env->nproc, b->load_at_start, b->load_at_end);
    fprintf(out, "%-9s %11s %8s %8s %13s %10s %8s %8s %9s %9s %5s\n", "phase", "transitions", "seconds",
            "cpu s", "transitions/s", "tasks/s", "p50 us", "p99 us", "max us", "calls", "reads");
    int reads = 0;
    for (int p = 0; p < PHASE_COUNT; p++) {
        text_row(out, bench_phase_names[p], &b->results[p], bench_phase_reads[p]);
        reads += bench_phase_reads[p];
    }
    phase_result total = total_of(b);
    text_row(out, "total", &total, reads);
    fprintf(out,
            "(latency: of each writing store call; an admission call admits %d tasks; reads: store reads per "
            "task, counted in the seconds only; cpu s: the whole process's CPU time, every thread)\n",
            o->batch);
    if (verdict->problem[0]) {
        fprintf(out, "CHECK FAILED: %s\n", verdict->problem);
        return;
    }
    fprintf(
        out,
        "checked: all %zu tasks completed; %zu read back with their results, upstream record, reservation "
        "and queued callback; %d keys charged %lld of %lld credits per task, nothing left reserved; credits "
        "audit of %lld tasks and %lld keys: %lld problems (%.2f s)\n",
        o->tasks, verdict->sampled_tasks, o->keys, (long long)b->tmpl.charge, (long long)b->tmpl.reserve,
        (long long)verdict->audit.tasks_checked, (long long)verdict->audit.keys_checked,
        (long long)verdict->audit.problems, (double)verdict->audit_ns / 1e9);
}

static json_t *phase_json(const char *name, const phase_result *r, int reads)
{
    return json_pack("{s:s, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:i}", "phase", name,
                     "transitions", (json_int_t)r->transitions, "tasks", (json_int_t)r->tasks, "calls",
                     (json_int_t)r->calls, "seconds", (double)r->wall_ns / 1e9, "cpu_seconds",
                     (double)r->cpu_ns / 1e9, "transitions_per_second",
                     per_second(r->transitions, r->wall_ns), "tasks_per_second",
                     per_second(r->tasks, r->wall_ns), "p50_us", (double)r->p50_ns / 1e3, "p99_us",
                     (double)r->p99_ns / 1e3, "max_us", (double)r->max_ns / 1e3, "reads_per_task", reads);
}

bool bench_report_json(FILE *out, const bench *b, const bench_environment *env, const bench_verdict *verdict)
{
    const bench_options *o = &b->opt;
    json_t *phases = json_array();
    int reads = 0;
    for (int p = 0; phases && p < PHASE_COUNT; p++) {
        json_array_append_new(phases, phase_json(bench_phase_names[p], &b->results[p], bench_phase_reads[p]));
        reads += bench_phase_reads[p];
    }
    phase_result total = total_of(b);
    json_t *report = json_pack(
        "{s:s, s:s, s:s, s:I, s:[f, f], s:I, s:i, s:i, s:i, s:i, s:I, s:I, s:o, s:o, s:{s:b, s:s, s:I, s:I, "
        "s:I, s:I, s:f}}",
        "bench", "reelay-bench-engine", "backend", env->database, "durability", env->durability, "nproc",
        (json_int_t)env->nproc, "load_average", b->load_at_start, b->load_at_end, "tasks",
        (json_int_t)o->tasks, "threads", o->threads, "keys", o->keys, "admission_batch", o->batch,
        "polls_per_task", o->polls, "credits_reserved_per_task", (json_int_t)b->tmpl.reserve,
        "credits_charged_per_task", (json_int_t)b->tmpl.charge, "phases", phases, "total",
        phase_json("total", &total, reads), "check", "passed", verdict->problem[0] == '\0', "problem",
        verdict->problem, "sampled_tasks", (json_int_t)verdict->sampled_tasks, "audit_tasks",
        (json_int_t)verdict->audit.tasks_checked, "audit_keys", (json_int_t)verdict->audit.keys_checked,
        "audit_problems", (json_int_t)verdict->audit.problems, "audit_seconds",
        (double)verdict->audit_ns / 1e9);
    char *text = report ? json_dumps(report, JSON_COMPACT) : NULL;
    json_decref(report);
    if (text == NULL) return false;
    fprintf(out, "%s\n", text);
    free(text);
    return true;
}
