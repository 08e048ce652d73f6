/* task_info.c — three cheap reads the web console shows beside a task (api_internal.h): its callback's
 * delivery state (GET /v1/tasks/{id}/callback), what was submitted (GET /v1/tasks/{id}/request) and the
 * key's credits charged per UTC day (GET /v1/usage/daily). Each authenticates like every /v1 route and
 * makes one or two indexed store reads; none touches the poll path of GET /v1/tasks/{id}. Nothing secret
 * is shown: the callback URL and the parameters are the caller's own, the signing secret never. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api_internal.h"
#include "util/clock.h"

enum { SECONDS_PER_DAY = 86400 };

/* Authenticates and reads the caller's task the path names into *task (the caller clears it); false after
 * answering 401 (or 429), 404 task_not_found or 503. */
static bool read_own_task(http_exchange *exchange, task_record *task)
{
    key_record key;
    return api_authenticate(exchange, &key) && api_read_own_task(exchange, &key, task);
}

/* The public name of a delivery state: due (also while an attempt is under way) is "pending". */
static const char *callback_public_state(callback_state state)
{
    switch (state) {
    case CALLBACK_DUE:
        return "pending";
    case CALLBACK_DELIVERED:
        return "delivered";
    case CALLBACK_GIVEN_UP:
        return "failed";
    }
    return "pending";
}

void api_task_callback_write(const char *task_id, const callback_delivery *delivery, json_text *out)
{
    json_text_raw(out, "{");
    json_text_key(out, "task_id", true);
    json_text_string(out, task_id);
    if (delivery == NULL) {
        json_text_raw(out, ",\"url\":null,\"state\":\"none\",\"attempts\":0,\"last_status\":null,"
                           "\"last_error\":null,\"next_attempt_at\":null,\"updated_at\":null}");
        return;
    }
    json_text_key(out, "url", false);
    json_text_string(out, delivery->record.url);
    json_text_key(out, "state", false);
    json_text_string(out, callback_public_state(delivery->state));
    json_text_key(out, "attempts", false);
    json_text_integer(out, delivery->record.attempts);
    json_text_key(out, "last_status", false);
    if (delivery->last_status > 0)
        json_text_integer(out, delivery->last_status);
    else
        json_text_raw(out, "null"); /* no attempt yet, or no answer */
    json_text_key(out, "last_error", false);
    json_text_string(out, delivery->last_error[0] ? delivery->last_error : NULL);
    json_text_key(out, "next_attempt_at", false);
    if (delivery->state == CALLBACK_DUE) /* the second it is due (or its attempt's lease ends), rounded up */
        json_text_integer(out, delivery->record.next_at_ms / 1000 + (delivery->record.next_at_ms % 1000 > 0));
    else
        json_text_raw(out, "null");
    json_text_key(out, "updated_at", false);
    json_text_integer(out, delivery->updated_at);
    json_text_raw(out, "}");
}

void api_task_callback_get(http_exchange *exchange)
{
    api_thread *thread = exchange->thread_data;
    task_record task;
    if (!read_own_task(exchange, &task)) return;
    callback_delivery delivery;
    store_status status = store_callback_get(thread->db, task.id, &delivery);
    if (status == STORE_ERROR) {
        api_send_store_unavailable(exchange->req, "The callback could not be read; retry later.");
    } else {
        /* NOT_FOUND: no callback_url, or the task is unfinished (its row is queued when it finishes) */
        json_text text = {0};
        api_task_callback_write(task.id, status == STORE_OK ? &delivery : NULL, &text);
        api_send_json_text(exchange->req, 200, &text);
    }
    task_record_clear(&task);
}

void api_task_request_get(http_exchange *exchange)
{
    task_record task;
    if (!read_own_task(exchange, &task)) return;
    /* re-encoded from a parse rather than copied: what is sent is always one JSON object */
    json_t *params = task.params_json ? json_loads(task.params_json, 0, NULL) : json_object();
    char *params_text = json_is_object(params) ? json_dumps(params, JSON_COMPACT) : NULL;
    json_decref(params);
    if (params_text == NULL) {
        http_send_error_code(exchange->req, "internal_error", NULL,
                             "The task's parameters could not be read.");
        task_record_clear(&task);
        return;
    }
    json_text text = {0};
    json_text_raw(&text, "{");
    json_text_key(&text, "task_id", true);
    json_text_string(&text, task.id);
    json_text_key(&text, "model", false);
    json_text_string(&text, task.model);
    json_text_key(&text, "params", false);
    json_text_raw(&text, params_text);
    json_text_raw(&text, "}");
    free(params_text);
    task_record_clear(&task);
    api_send_json_text(exchange->req, 200, &text);
}

bool api_usage_daily_write(int64_t first_day, int days, const usage_day *rows, size_t count, json_text *out)
{
    json_text_raw(out, "{\"object\":\"list\",\"days\":");
    json_text_integer(out, days);
    json_text_raw(out, ",\"data\":[");
    size_t next = 0;
    for (int i = 0; i < days; i++) {
        int64_t day = first_day + (int64_t)i * SECONDS_PER_DAY;
        while (next < count && rows[next].day < day) /* before the window (rows are oldest first) */
            next++;
        int64_t credits = 0, tasks = 0;
        if (next < count && rows[next].day == day) {
            credits = rows[next].credits;
            tasks = rows[next].tasks;
            next++;
        }
        time_t seconds = (time_t)day;
        struct tm calendar;
        char date[32];
        if (gmtime_r(&seconds, &calendar) == NULL || strftime(date, sizeof(date), "%Y-%m-%d", &calendar) == 0)
            return false;
        json_text_raw(out, i ? ",{" : "{");
        json_text_key(out, "date", true);
        json_text_string(out, date);
        json_text_key(out, "credits", false);
        json_text_integer(out, credits);
        json_text_key(out, "tasks", false);
        json_text_integer(out, tasks);
        json_text_raw(out, "}");
    }
    json_text_raw(out, "]}");
    return true;
}

enum { USAGE_DAYS_DEFAULT = 30, USAGE_DAYS_MAX = 90 };

void api_usage_daily(http_exchange *exchange)
{
    api_thread *thread = exchange->thread_data;
    h2o_req_t *req = exchange->req;
    key_record key;
    if (!api_authenticate(exchange, &key)) return;
    char days_text[16];
    long days = USAGE_DAYS_DEFAULT;
    int has = http_query_param(req, "days", days_text, sizeof(days_text));
    if (has != 0) {
        char *end = NULL;
        days = has > 0 ? strtol(days_text, &end, 10) : 0;
        if (has < 0 || end == days_text || *end != '\0' || days < 1 || days > USAGE_DAYS_MAX) {
            http_send_error_code(req, "out_of_range", "days", "days must be an integer from 1 to %d.",
                                 USAGE_DAYS_MAX);
            return;
        }
    }
    int64_t now = clock_unix_seconds();
    int64_t today = now - now % SECONDS_PER_DAY;
    int64_t first_day = today - (int64_t)(days - 1) * SECONDS_PER_DAY;
    usage_day *rows = NULL;
    size_t count = 0;
    if (store_usage_daily(thread->db, key.id, first_day, today + SECONDS_PER_DAY, &rows, &count) !=
        STORE_OK) {
        api_send_store_unavailable(req, "The usage could not be read; retry later.");
        return;
    }
    json_text text = {0};
    bool written = api_usage_daily_write(first_day, (int)days, rows, count, &text);
    free(rows);
    if (!written) text.failed = true; /* a date out of the calendar's range: answered as a 500 */
    api_send_json_text(req, 200, &text);
}
