/* bench_verify.c — reelay-bench-engine's checks of what the store holds after a run (see bench_verify.h). */
#include "bench_verify.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_stats.h"

enum { SAMPLE_TARGET = 1000, LEDGER_TAIL = 2 };

static bool wrong(bench_verdict *out, const char *format, ...) __attribute__((format(printf, 2, 3)));
static bool wrong(bench_verdict *out, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(out->problem, sizeof(out->problem), format, args);
    va_end(args);
    return false;
}

size_t bench_tasks_of_key(size_t task_count, size_t key_count, size_t k)
{
    return task_count / key_count + (k < task_count % key_count ? 1 : 0);
}

static bool all_completed(store *db, size_t task_count, bench_verdict *out)
{
    int64_t counts[TASK_STATE_COUNT];
    if (store_task_count_by_state(db, counts) != STORE_OK)
        return wrong(out, "the tasks could not be counted");
    for (int state = 0; state < TASK_STATE_COUNT; state++) {
        int64_t expected = state == TASK_COMPLETED ? (int64_t)task_count : 0;
        if (counts[state] != expected)
            return wrong(out, "%lld tasks are %s, expected %lld", (long long)counts[state],
                         task_state_name((task_state)state), (long long)expected);
    }
    return true;
}

/* The task's upstream record is the engine's "accepted" one, naming the task's fal job. */
static bool upstream_names_job(const task_record *task)
{
    bench_job job;
    bench_job_of(task->id, &job);
    json_t *record = task->upstream_json ? json_loads(task->upstream_json, 0, NULL) : NULL;
    const char *phase = json_string_value(json_object_get(record, "phase"));
    const char *job_id = json_string_value(json_object_get(json_object_get(record, "job"), "id"));
    bool named = phase && job_id && strcmp(phase, "accepted") == 0 && strcmp(job_id, job.id) == 0;
    json_decref(record);
    return named;
}

static bool task_is_finished_right(store *db, const bench_expectations *expect, size_t i, bench_verdict *out)
{
    const char *id = expect->task_ids[i];
    const char *key_id = expect->key_ids[i % expect->key_count];
    task_record task;
    memset(&task, 0, sizeof(task));
    if (store_task_get(db, id, &task) != STORE_OK) return wrong(out, "task %s could not be read", id);
    char *results = bench_results_json(id);
    const char *bad = task.state != TASK_COMPLETED                     ? "it is not completed"
                      : task.progress != 100                           ? "its progress is not 100"
                      : task.completed_at <= 0                         ? "it has no completed_at"
                      : strcmp(task.key_id, key_id) != 0               ? "it is another key's"
                      : strcmp(task.channel, BENCH_CHANNEL) != 0       ? "it is not on the channel"
                      : task.credits_reserved != expect->tmpl->reserve ? "its reservation is wrong"
                      : !results || !task.results_json                 ? "it has no results"
                      : strcmp(results, task.results_json) != 0        ? "its results are not the engine's"
                      : !upstream_names_job(&task)                     ? "its upstream record is wrong"
                                                                       : NULL;
    free(results);
    task_record_clear(&task);
    if (bad) return wrong(out, "task %s: %s", id, bad);
    callback_delivery callback;
    if (store_callback_get(db, id, &callback) != STORE_OK) return wrong(out, "task %s has no callback", id);
    if (callback.state != CALLBACK_DUE || callback.record.attempts != 0 ||
        strcmp(callback.record.url, BENCH_CALLBACK_URL) != 0 || strcmp(callback.record.key_id, key_id) != 0)
        return wrong(out, "task %s: its callback is not the one queued at completion", id);
    return true;
}

static bool sample_is_right(store *db, const bench_expectations *expect, bench_verdict *out)
{
    size_t stride = expect->task_count / SAMPLE_TARGET;
    if (stride == 0) stride = 1;
    for (size_t i = 0; i < expect->task_count; i += stride) {
        if (!task_is_finished_right(db, expect, i, out)) return false;
        out->sampled_tasks++;
    }
    size_t last = expect->task_count - 1;
    if (last % stride != 0) {
        if (!task_is_finished_right(db, expect, last, out)) return false;
        out->sampled_tasks++;
    }
    return true;
}

static bool key_is_settled(store *db, const bench_expectations *expect, size_t k, bench_verdict *out)
{
    const char *key_id = expect->key_ids[k];
    int64_t tasks = (int64_t)bench_tasks_of_key(expect->task_count, expect->key_count, k);
    int64_t available = expect->key_grants[k] - tasks * expect->tmpl->charge;
    credit_balance balance;
    if (store_credits_balance(db, key_id, &balance) != STORE_OK)
        return wrong(out, "key %s: its balance could not be read", key_id);
    if (balance.available != available || balance.reserved != 0 || balance.unfinished_tasks != 0)
        return wrong(out, "key %s: available %lld reserved %lld unfinished %lld, expected %lld 0 0", key_id,
                     (long long)balance.available, (long long)balance.reserved,
                     (long long)balance.unfinished_tasks, (long long)available);
    ledger_entry *entries = NULL;
    size_t count = 0;
    if (store_credits_ledger(db, key_id, LEDGER_TAIL, &entries, &count) != STORE_OK)
        return wrong(out, "key %s: its ledger could not be read", key_id);
    bool settled = tasks < LEDGER_TAIL || count == LEDGER_TAIL;
    for (size_t i = 0; settled && tasks >= LEDGER_TAIL && i < count; i++)
        settled = entries[i].kind == LEDGER_SETTLE && entries[i].amount == expect->tmpl->charge &&
                  entries[i].released == expect->tmpl->reserve;
    free(entries);
    if (!settled)
        return wrong(out, "key %s: its newest ledger entries are not settlements of %lld of %lld", key_id,
                     (long long)expect->tmpl->charge, (long long)expect->tmpl->reserve);
    return true;
}

static bool audit_is_clean(store *db, const bench_expectations *expect, bench_verdict *out)
{
    int64_t started = bench_now_ns();
    if (store_credits_audit(db, &out->audit) != STORE_OK)
        return wrong(out, "the credits audit failed to run");
    out->audit_ns = bench_now_ns() - started;
    if (out->audit.problems != 0)
        return wrong(out, "the credits audit found %lld problems, the first: %s",
                     (long long)out->audit.problems, out->audit.first_problem);
    if (out->audit.tasks_checked != (int64_t)expect->task_count ||
        out->audit.keys_checked != (int64_t)expect->key_count)
        return wrong(out, "the credits audit checked %lld tasks and %lld keys, expected %zu and %zu",
                     (long long)out->audit.tasks_checked, (long long)out->audit.keys_checked,
                     expect->task_count, expect->key_count);
    return true;
}

bool bench_verify(store *db, const bench_expectations *expect, bench_verdict *out)
{
    memset(out, 0, sizeof(*out));
    if (expect->task_count == 0 || expect->key_count == 0) return wrong(out, "nothing was run");
    if (!all_completed(db, expect->task_count, out) || !sample_is_right(db, expect, out)) return false;
    for (size_t k = 0; k < expect->key_count; k++)
        if (!key_is_settled(db, expect, k, out)) return false;
    return audit_is_clean(db, expect, out);
}
