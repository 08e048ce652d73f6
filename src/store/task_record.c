/* task_record.c — task states by name, the task record's memory (store.h) and the tasks summary's
 * rows: the same for every backend. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_common.h"
#include "store/store.h"

static char *dup_or_null(const char *text)
{
    return text ? strdup(text) : NULL;
}

/* Deep copy; false when out of memory (out is then cleared). */
bool task_record_copy(task_record *out, const task_record *in)
{
    *out = *in;
    out->params_json = dup_or_null(in->params_json);
    out->results_json = dup_or_null(in->results_json);
    out->error_message = dup_or_null(in->error_message);
    out->upstream_json = dup_or_null(in->upstream_json);
    out->billing_json = dup_or_null(in->billing_json);
    if ((in->params_json && !out->params_json) || (in->results_json && !out->results_json) ||
        (in->error_message && !out->error_message) || (in->upstream_json && !out->upstream_json) ||
        (in->billing_json && !out->billing_json)) {
        task_record_clear(out);
        return false;
    }
    return true;
}

/* ---- task states ---- */

static const char *const state_names[TASK_STATE_COUNT] = {
    "pending", "submitting", "processing", "finalizing", "completed", "failed", "cancelled"};

const char *task_state_name(task_state state)
{
    return (unsigned)state < TASK_STATE_COUNT ? state_names[state] : "unknown";
}

bool task_state_parse(const char *name, task_state *out)
{
    for (int i = 0; i < TASK_STATE_COUNT; i++)
        if (name && strcmp(name, state_names[i]) == 0) {
            *out = (task_state)i;
            return true;
        }
    return false;
}

bool task_state_is_terminal(task_state state)
{
    return state == TASK_COMPLETED || state == TASK_FAILED || state == TASK_CANCELLED;
}

void task_record_clear(task_record *task)
{
    free(task->params_json);
    free(task->results_json);
    free(task->error_message);
    free(task->upstream_json);
    free(task->billing_json);
    task->params_json = task->results_json = task->error_message = task->upstream_json = task->billing_json =
        NULL;
}

void task_records_free(task_record *tasks, size_t count)
{
    for (size_t i = 0; tasks && i < count; i++)
        task_record_clear(&tasks[i]);
    free(tasks);
}

bool task_summary_add(task_summary *out, const char *model, int state, int64_t count)
{
    if (out->model_count == 0 || strcmp(out->models[out->model_count - 1].model, model) != 0) {
        task_model_counts *grown = realloc(out->models, (out->model_count + 1) * sizeof(*grown));
        if (grown == NULL) return false;
        out->models = grown;
        memset(&grown[out->model_count], 0, sizeof(*grown));
        snprintf(grown[out->model_count].model, sizeof(grown->model), "%s", model);
        out->model_count++;
    }
    if (state >= 0 && state < TASK_STATE_COUNT) {
        out->models[out->model_count - 1].by_state[state] += count;
        out->by_state[state] += count;
    }
    return true;
}
