/* task_events.c — live progress: GET /v1/tasks/{id}/events and GET /v1/tasks/events (Server-Sent
 * Events) and GET /v1/tasks/{id}?wait=N, on top of the thread's watchers (api/task_watch.h).
 *
 * A task stream sends one `task` event (data: the task exactly as GET /v1/tasks/{id} shows it) at
 * every change of public status or progress, with `id:` the task's mark (task_watch_mark: 1000 × status
 * rank + progress, which only grows), and ends after the terminal event. A client reconnecting with
 * Last-Event-ID gets the task's current state at once when its mark is past that id — the states in
 * between are gone, but nothing newer is missed and the terminal event always comes; one whose id is
 * the terminal mark already gets 204 (EventSource stops reconnecting). A key stream sends the key's
 * unfinished tasks at once, then every change of any task of the key (new ones included), each event's
 * `id:` being the task's updated_at (Unix seconds): a reconnect with Last-Event-ID T replays the key's
 * tasks changed at T or later (among its newest STREAM_KEY_LIST, and every unfinished one it had sent).
 * Both send a comment line every app->events_keepalive_ms without news.
 *
 * A stream's memory is its watcher (in the request's pool) and the text not yet written; it writes
 * one buffer at a time (h2o's proceed asks for the next). A client that goes away — its connection
 * closed (checked with each fallback re-read) or a write failing — ends the response, and h2o's
 * disposal of the request unlinks and frees everything. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/task_watch.h"
#include "util/clock.h"
#include "util/log.h"

enum {
    STREAM_KEY_LIST = 100, /* a key stream's re-read looks at the key's newest tasks */
    WAIT_MAX_SECONDS = 60,
    /* a watcher with no news re-reads after this: quickly where another node's notice may be lost
     * (PostgreSQL), rarely on SQLite, where every writer is in this process and none is ever lost */
    FALLBACK_SIGNALS_MS = 1500,
    FALLBACK_LOCAL_MS = 15000,
};

typedef struct sent_mark {
    char id[IDS_TASK_ID_SIZE];
    int64_t mark, updated_at;
} sent_mark;

typedef struct task_stream {
    task_watcher watcher; /* first */
    h2o_generator_t generator;
    h2o_req_t *req; /* NULL once h2o disposed of the request */
    int64_t mark;   /* task stream: the last mark sent (-1 = none); wait: the mark it waits past */
    str_map sent;   /* key stream: task id → sent_mark (malloc'd) */
    int64_t since;  /* key stream: tasks changed at or after this Unix second are news */
    int64_t fallback_ms, next_check_ms, last_write_ms, deadline_ms;
    json_text pending, sending;
    bool in_flight, closing, ended;
} task_stream;

static int64_t fallback_interval(api_thread *thread)
{
    return store_signals_supported(thread->db) ? FALLBACK_SIGNALS_MS : FALLBACK_LOCAL_MS;
}

/* ---- writing ---- */

static void stream_flush(task_stream *s)
{
    if (s->req == NULL || s->in_flight || s->ended) return;
    if (s->pending.failed) { /* out of memory: cut the stream short, the client reconnects */
        s->ended = true;
        h2o_send(s->req, NULL, 0, H2O_SEND_STATE_ERROR);
        return;
    }
    if (s->pending.length == 0 && !s->closing) return;
    json_text_free(&s->sending);
    s->sending = s->pending;
    s->pending = (json_text){0};
    h2o_iovec_t buffer = h2o_iovec_init(s->sending.data, s->sending.length);
    s->in_flight = !s->closing;
    s->ended = s->closing;
    s->last_write_ms = clock_monotonic_ms();
    h2o_send(s->req, &buffer, buffer.len ? 1 : 0,
             s->closing ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

static void on_proceed(h2o_generator_t *generator, h2o_req_t *req)
{
    (void)req;
    task_stream *s = H2O_STRUCT_FROM_MEMBER(task_stream, generator, generator);
    s->in_flight = false;
    stream_flush(s);
}

static void on_stop(h2o_generator_t *generator, h2o_req_t *req)
{
    (void)generator, (void)req; /* the request's disposal does the cleaning up */
}

/* Appends one `task` event. */
static void stream_event(task_stream *s, int64_t id, const task_record *task)
{
    json_text_raw(&s->pending, "id: ");
    json_text_integer(&s->pending, id);
    json_text_raw(&s->pending, "\nevent: task\ndata: ");
    api_task_write(s->watcher.thread->app, task, &s->pending);
    json_text_raw(&s->pending, "\n\n");
}

/* The stream ends once what is pending is written. */
static void stream_close(task_stream *s)
{
    s->closing = true;
    task_watch_remove(&s->watcher);
}

/* ---- a task's stream and ?wait ---- */

static void answer_wait(task_stream *s, const task_record *task)
{
    task_watch_remove(&s->watcher);
    h2o_req_t *req = s->req;
    s->req = NULL;
    json_text text = {0};
    api_task_write(s->watcher.thread->app, task, &text);
    api_send_json_text(req, 200, &text);
}

static void task_seen(task_watcher *watcher, const task_record *task)
{
    task_stream *s = (task_stream *)watcher;
    int64_t mark = task_watch_mark(task);
    s->next_check_ms = clock_monotonic_ms() + s->fallback_ms;
    if (s->req == NULL) return;
    if (watcher->kind == WATCH_WAIT) {
        if (mark != s->mark) answer_wait(s, task);
        return;
    }
    if (mark <= s->mark) return;
    stream_event(s, mark, task);
    s->mark = mark;
    if (task_state_is_terminal(task->state)) stream_close(s);
    stream_flush(s);
}

/* Re-reads the watched task (the fallback) and hands it over. */
static void reread_task(task_stream *s)
{
    task_record task;
    store_status status = store_task_get(s->watcher.thread->db, s->watcher.task_id, &task);
    if (status == STORE_OK) {
        task_seen(&s->watcher, &task);
        task_record_clear(&task);
    }
    s->next_check_ms = clock_monotonic_ms() + s->fallback_ms;
}

/* ?wait's time is up: the task as it is now. */
static void wait_expired(task_stream *s)
{
    task_watch_remove(&s->watcher);
    task_record task;
    store_status status = store_task_get(s->watcher.thread->db, s->watcher.task_id, &task);
    if (status == STORE_OK) {
        answer_wait(s, &task);
        task_record_clear(&task);
        return;
    }
    h2o_req_t *req = s->req;
    s->req = NULL;
    api_send_store_unavailable(req, "The task could not be read; retry later.");
}

/* ---- a key's stream ---- */

/* Whether the key stream should show the task, and remembers it as shown. */
static bool key_news(task_stream *s, const task_record *task)
{
    sent_mark *seen = str_map_get(&s->sent, task->id);
    int64_t mark = task_watch_mark(task);
    if (seen != NULL && seen->mark >= mark) return false;
    if (seen == NULL && task->updated_at < s->since && task_state_is_terminal(task->state)) return false;
    if (seen == NULL) {
        if ((seen = calloc(1, sizeof(*seen))) == NULL) return true;
        snprintf(seen->id, sizeof(seen->id), "%s", task->id);
        if (!str_map_put(&s->sent, seen->id, seen)) {
            free(seen);
            return true;
        }
    }
    seen->mark = mark;
    seen->updated_at = task->updated_at;
    return true;
}

static void key_task_seen(task_watcher *watcher, const task_record *task)
{
    task_stream *s = (task_stream *)watcher;
    if (s->req == NULL || !key_news(s, task)) return;
    stream_event(s, task->updated_at, task);
    stream_flush(s);
}

/* Forgets finished tasks changed before `since`: they can never be news again. */
static void key_forget_old(task_stream *s)
{
    size_t cursor = 0;
    const char *id;
    void *value;
    sent_mark *drop[64];
    size_t dropped = 0;
    while (dropped < 64 && str_map_next(&s->sent, &cursor, &id, &value)) {
        sent_mark *seen = value;
        if (seen->mark >= 2000 && seen->updated_at < s->since) drop[dropped++] = seen;
    }
    for (size_t i = 0; i < dropped; i++) {
        str_map_remove(&s->sent, drop[i]->id);
        free(drop[i]);
    }
}

/* The fallback of a key stream: the key's newest tasks, and every unfinished one it showed. */
static void reread_key(task_stream *s)
{
    api_thread *thread = s->watcher.thread;
    int64_t started = clock_unix_seconds();
    task_list_query query = {.key_id = s->watcher.key_id, .limit = STREAM_KEY_LIST, .state = -1};
    task_record *tasks = NULL;
    size_t count = 0;
    bool has_more = false;
    if (store_task_list(thread->db, &query, &tasks, &count, &has_more) == STORE_OK) {
        for (size_t i = 0; i < count && s->req != NULL; i++)
            if (!task_state_is_terminal(tasks[i].state) || tasks[i].updated_at >= s->since)
                key_task_seen(&s->watcher, &tasks[i]);
        task_records_free(tasks, count);
        /* a change older than the pass just made was seen by it (or by a notice) */
        if (started - 5 > s->since) s->since = started - 5;
        key_forget_old(s);
    }
    s->next_check_ms = clock_monotonic_ms() + s->fallback_ms;
}

/* ---- the tick: keep-alive, fallback, a departed client, ?wait's deadline ---- */

static void stream_tick(task_watcher *watcher, int64_t now)
{
    task_stream *s = (task_stream *)watcher;
    if (s->req == NULL) return;
    if (watcher->kind == WATCH_WAIT && now != INT64_MAX && now >= s->deadline_ms) {
        wait_expired(s);
        return;
    }
    if (now < s->next_check_ms) {
        int64_t keepalive =
            watcher->thread->app->events_keepalive_ms ? watcher->thread->app->events_keepalive_ms : 15000;
        if (watcher->kind != WATCH_WAIT && !s->in_flight && now - s->last_write_ms >= keepalive) {
            json_text_raw(&s->pending, ": keep-alive\n\n");
            stream_flush(s);
        }
        return;
    }
    if (watcher->kind != WATCH_WAIT && http_client_closed(s->req)) {
        task_watch_remove(watcher);
        if (!s->in_flight && !s->ended) {
            s->ended = true;
            h2o_send(s->req, NULL, 0, H2O_SEND_STATE_ERROR);
        }
        return;
    }
    if (watcher->kind == WATCH_KEY_STREAM)
        reread_key(s);
    else
        reread_task(s);
}

static const task_watcher_ops task_ops = {task_seen, stream_tick};
static const task_watcher_ops key_ops = {key_task_seen, stream_tick};

/* ---- starting ---- */

/* Lives in the request's pool: h2o disposes of it with the request, whatever state it is in. */
static void stream_disposed(void *object)
{
    task_stream *s = object;
    task_watch_remove(&s->watcher);
    s->req = NULL;
    json_text_free(&s->pending);
    json_text_free(&s->sending);
    size_t cursor = 0;
    void *value;
    while (str_map_next(&s->sent, &cursor, NULL, &value))
        free(value);
    str_map_free(&s->sent);
}

static task_stream *stream_new(http_exchange *exchange, task_watch_kind kind)
{
    h2o_req_t *req = exchange->req;
    task_stream *s = h2o_mem_alloc_shared(&req->pool, sizeof(*s), stream_disposed);
    memset(s, 0, sizeof(*s));
    s->watcher.kind = kind;
    s->watcher.ops = kind == WATCH_KEY_STREAM ? &key_ops : &task_ops;
    s->watcher.thread = exchange->thread_data;
    s->req = req;
    s->mark = -1;
    str_map_init(&s->sent);
    s->fallback_ms = fallback_interval(exchange->thread_data);
    s->next_check_ms = s->last_write_ms = clock_monotonic_ms();
    s->next_check_ms += s->fallback_ms;
    return s;
}

static void start_event_stream(task_stream *s)
{
    h2o_req_t *req = s->req;
    req->res.status = 200;
    req->res.reason = "OK";
    http_add_header(req, "content-type", "text/event-stream; charset=utf-8");
    http_add_header(req, "cache-control", "no-cache");
    http_add_header(req, "x-accel-buffering", "no");
    s->generator = (h2o_generator_t){.proceed = on_proceed, .stop = on_stop};
    h2o_start_response(req, &s->generator);
    json_text_raw(&s->pending, "retry: 2000\n\n");
}

/* Last-Event-ID as a non-negative integer, or -1 (absent or not one). */
static int64_t last_event_id(h2o_req_t *req)
{
    h2o_iovec_t value = http_request_header(req, "last-event-id");
    if (value.base == NULL || value.len == 0 || value.len > 18) return -1;
    int64_t id = 0;
    for (size_t i = 0; i < value.len; i++) {
        if (value.base[i] < '0' || value.base[i] > '9') return -1;
        id = id * 10 + (value.base[i] - '0');
    }
    return id;
}

static bool watch_or_fail(task_stream *s, h2o_req_t *req)
{
    if (task_watch_add(&s->watcher, req->conn->ctx)) return true;
    s->closing = true; /* out of memory: end what was started; the client reconnects */
    stream_flush(s);
    return false;
}

bool api_read_own_task(http_exchange *exchange, const key_record *key, task_record *task)
{
    char id[IDS_TASK_ID_SIZE];
    if (http_path_param(exchange, 0, id, sizeof(id)) != 0 || !ids_task_is_valid(id)) {
        http_send_error_code(exchange->req, "task_not_found", "task_id", "Task ID does not exist.");
        return false;
    }
    api_thread *thread = exchange->thread_data;
    store_status status = store_task_get(thread->db, id, task);
    if (status == STORE_OK && strcmp(task->key_id, key->id) == 0) return true;
    if (status == STORE_OK) task_record_clear(task);
    if (status == STORE_ERROR)
        api_send_store_unavailable(exchange->req, "The task could not be read; retry later.");
    else
        http_send_error_code(exchange->req, "task_not_found", "task_id", "Task ID does not exist.");
    return false;
}

void api_task_events(http_exchange *exchange)
{
    key_record key;
    if (!api_authenticate(exchange, &key)) return;
    task_record task;
    if (!api_read_own_task(exchange, &key, &task)) return;
    h2o_req_t *req = exchange->req;
    int64_t last = last_event_id(req), mark = task_watch_mark(&task);
    if (last >= mark && task_state_is_terminal(task.state)) { /* the client has seen the end */
        task_record_clear(&task);
        req->res.status = 204;
        req->res.reason = "No Content";
        h2o_send_inline(req, "", 0);
        return;
    }
    task_stream *s = stream_new(exchange, WATCH_TASK_STREAM);
    snprintf(s->watcher.task_id, sizeof(s->watcher.task_id), "%s", task.id);
    s->mark = last;
    start_event_stream(s);
    task_seen(&s->watcher, &task); /* the state now, unless the client has it already */
    bool finished = task_state_is_terminal(task.state);
    task_record_clear(&task);
    /* once watching, read again: a change published before the watcher was linked is not lost */
    if (!finished && watch_or_fail(s, req)) {
        reread_task(s);
        stream_flush(s); /* the head and the retry line at least */
    }
}

void api_key_events(http_exchange *exchange)
{
    key_record key;
    if (!api_authenticate(exchange, &key)) return;
    task_stream *s = stream_new(exchange, WATCH_KEY_STREAM);
    snprintf(s->watcher.key_id, sizeof(s->watcher.key_id), "%s", key.id);
    int64_t last = last_event_id(exchange->req);
    s->since = last >= 0 ? last : clock_unix_seconds();
    start_event_stream(s);
    /* watching first, then its unfinished tasks now (and, after a reconnect, what changed since) */
    if (watch_or_fail(s, exchange->req)) {
        reread_key(s);
        stream_flush(s); /* the head and the retry line at least */
    }
}

int api_task_wait_seconds(h2o_req_t *req)
{
    char text[8];
    int has = http_query_param(req, "wait", text, sizeof(text));
    if (has == 0) return 0;
    char *end = NULL;
    long seconds = has > 0 ? strtol(text, &end, 10) : -1;
    if (has < 0 || end == text || *end != '\0' || text[0] == '-' || text[0] == '+' || seconds < 0 ||
        seconds > WAIT_MAX_SECONDS) {
        http_send_error_code(req, "out_of_range", "wait",
                             "wait must be a whole number of seconds from 0 to %d.", WAIT_MAX_SECONDS);
        return -1;
    }
    return (int)seconds;
}

void api_task_wait(http_exchange *exchange, const task_record *task, int seconds)
{
    task_stream *s = stream_new(exchange, WATCH_WAIT);
    snprintf(s->watcher.task_id, sizeof(s->watcher.task_id), "%s", task->id);
    s->mark = task_watch_mark(task);
    s->deadline_ms = clock_monotonic_ms() + (int64_t)seconds * 1000;
    if (s->deadline_ms < s->next_check_ms) s->next_check_ms = s->deadline_ms;
    if (!task_watch_add(&s->watcher, exchange->req->conn->ctx)) {
        s->req = NULL;
        json_text text = {0};
        api_task_write(((api_thread *)exchange->thread_data)->app, task, &text);
        api_send_json_text(exchange->req, 200, &text);
        return;
    }
    reread_task(s); /* a change published before the watcher was linked answers at once */
}

static void stop_one(task_watcher *watcher)
{
    task_stream *s = (task_stream *)watcher;
    task_watch_remove(watcher);
    if (s->req == NULL) return;
    if (watcher->kind == WATCH_WAIT) {
        http_send_error_code(s->req, "server_stopping", NULL, "The server is stopping; retry.");
        s->req = NULL;
        return;
    }
    s->closing = true;
    stream_flush(s);
}

void api_task_events_stopping(api_thread *thread)
{
    task_watch_thread_stop(thread, stop_one);
}
