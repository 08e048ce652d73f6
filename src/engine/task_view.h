/* task_view.h — a task as clients see it: the JSON of GET /v1/tasks/{id}, written straight to text.
 *
 * One writer for every place a task is shown — the API's answers (api/tasks.c) and the body of the
 * task's callback (engine/callback_sender.h) — so that a callback and a GET of the same task state
 * are byte-identical. Shape: {id, object, type, model, status, progress, created, task_info{can_cancel,
 * estimated_time}, results, error, usage{credits_reserved, user_group}}; internal states collapse onto
 * the five public ones (submitting shows as pending, finalizing as processing); results (signed links
 * to the stored files, expiring link_ttl_seconds after completion: {url, content_type, duration, width,
 * height} and, when the result's previews were stored, thumbnail_url and spritesheet_url, signed the
 * same way) only when completed; error
 * {code, message, type: "task_error"} only when failed or cancelled. A finished task's view depends
 * on nothing but the record and the links settings (its estimated_time is 0). */
#ifndef REELAY_ENGINE_TASK_VIEW_H
#define REELAY_ENGINE_TASK_VIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "blob/link.h"
#include "store/store.h"
#include "util/json_text.h"

/* How result links are made: the same settings as the files mount that serves them. */
typedef struct task_view_links {
    const link_signer *signer;
    const char *public_url;   /* this server's public base, without a trailing slash */
    int64_t link_ttl_seconds; /* links expire this long after the task completed */
} task_view_links;

/* The public status name of a state: "pending", "processing", "completed", "failed", "cancelled". */
const char *task_view_status(task_state state);

/* Appends the task's view to out (out->failed tells of an allocation failure). */
void task_view_write(const task_view_links *links, const task_record *task, json_text *out);

/* The phase of the upstream record of a task handed to a channel that runs locally (the sandbox). */
#define TASK_PHASE_LOCAL "local"

/* Whether a provider can be asked for this task's fresh state (GET /v1/tasks/{id}?sync_upstream=true):
 * it is unfinished, routed to a channel, and the engine's upstream record of it is a provider job's (the
 * sandbox has no upstream: its stored state is always current). Reads only the record; no I/O. */
bool task_view_on_provider(const task_record *task);

#endif
