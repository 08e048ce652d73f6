/* test_api_task_info.c — the answers of the console's task reads (task_info.c): a callback's delivery
 * state (none, pending with its next attempt, delivered, failed; no status or error shown as null) and
 * the daily usage list (every day present, zeros filled, oldest first, rows outside the window skipped,
 * UTC dates). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"

#define TASK "task-unified-1757165031-uyujaw3d"

/* The text api_task_callback_write gives for delivery (NULL = none); the caller frees it. */
static char *callback_text(const callback_delivery *delivery)
{
    json_text text = {0};
    api_task_callback_write(TASK, delivery, &text);
    assert_false(text.failed);
    return text.data;
}

static callback_delivery a_delivery(callback_state state, int attempts, int last_status, const char *error)
{
    callback_delivery delivery;
    memset(&delivery, 0, sizeof(delivery));
    snprintf(delivery.record.task_id, sizeof(delivery.record.task_id), "%s", TASK);
    snprintf(delivery.record.url, sizeof(delivery.record.url), "https://hooks.example/\"x\"");
    delivery.record.attempts = attempts;
    delivery.record.next_at_ms = 1700000001500;
    delivery.state = state;
    delivery.last_status = last_status;
    snprintf(delivery.last_error, sizeof(delivery.last_error), "%s", error);
    delivery.updated_at = 1700000000;
    return delivery;
}

static void no_callback_yet_is_state_none_with_nulls(void **state)
{
    (void)state;
    char *text = callback_text(NULL);
    assert_string_equal(text, "{\"task_id\":\"" TASK "\",\"url\":null,\"state\":\"none\",\"attempts\":0,"
                              "\"last_status\":null,\"last_error\":null,\"next_attempt_at\":null,"
                              "\"updated_at\":null}");
    free(text);
}

static void a_due_callback_is_pending_with_its_next_attempt(void **state)
{
    (void)state;
    callback_delivery fresh = a_delivery(CALLBACK_DUE, 0, 0, "");
    char *text = callback_text(&fresh);
    assert_string_equal(text, "{\"task_id\":\"" TASK "\",\"url\":\"https://hooks.example/\\\"x\\\"\","
                              "\"state\":\"pending\",\"attempts\":0,\"last_status\":null,\"last_error\":null,"
                              "\"next_attempt_at\":1700000002,\"updated_at\":1700000000}");
    free(text);
    callback_delivery retried = a_delivery(CALLBACK_DUE, 2, 500, "answered 500");
    retried.record.next_at_ms = 1700000003000; /* a whole second stays as it is */
    text = callback_text(&retried);
    assert_non_null(strstr(text, "\"attempts\":2,\"last_status\":500,\"last_error\":\"answered 500\","
                                 "\"next_attempt_at\":1700000003,"));
    free(text);
}

static void finished_deliveries_have_no_next_attempt(void **state)
{
    (void)state;
    callback_delivery delivered = a_delivery(CALLBACK_DELIVERED, 1, 204, "");
    char *text = callback_text(&delivered);
    assert_non_null(strstr(text, "\"state\":\"delivered\",\"attempts\":1,\"last_status\":204,"
                                 "\"last_error\":null,\"next_attempt_at\":null,\"updated_at\":1700000000}"));
    free(text);
    callback_delivery given_up = a_delivery(CALLBACK_GIVEN_UP, 4, 0, "timed out");
    text = callback_text(&given_up);
    assert_non_null(strstr(text, "\"state\":\"failed\",\"attempts\":4,\"last_status\":null,"
                                 "\"last_error\":\"timed out\",\"next_attempt_at\":null,"));
    free(text);
}

static void every_day_is_listed_oldest_first_with_zeros(void **state)
{
    (void)state;
    const int64_t first = 20785 * 86400LL; /* 2026-11-28 */
    const usage_day rows[] = {
        {.day = first - 86400, .credits = 99, .tasks = 9}, /* before the window */
        {.day = first + 86400, .credits = 123, .tasks = 4},
        {.day = first + 3 * 86400, .credits = 0, .tasks = 1},
        {.day = first + 4 * 86400, .credits = 5, .tasks = 1}, /* after it */
    };
    json_text text = {0};
    assert_true(api_usage_daily_write(first, 4, rows, 4, &text));
    assert_false(text.failed);
    assert_string_equal(text.data, "{\"object\":\"list\",\"days\":4,\"data\":["
                                   "{\"date\":\"2026-11-28\",\"credits\":0,\"tasks\":0},"
                                   "{\"date\":\"2026-11-29\",\"credits\":123,\"tasks\":4},"
                                   "{\"date\":\"2026-11-30\",\"credits\":0,\"tasks\":0},"
                                   "{\"date\":\"2026-12-01\",\"credits\":0,\"tasks\":1}]}");
    json_text_free(&text);
}

static void no_rows_give_a_day_of_zeros(void **state)
{
    (void)state;
    json_text text = {0};
    assert_true(api_usage_daily_write(0, 1, NULL, 0, &text));
    assert_string_equal(text.data,
                        "{\"object\":\"list\",\"days\":1,\"data\":[{\"date\":\"1970-01-01\",\"credits\":0,"
                        "\"tasks\":0}]}");
    json_text_free(&text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_callback_yet_is_state_none_with_nulls),
        cmocka_unit_test(a_due_callback_is_pending_with_its_next_attempt),
        cmocka_unit_test(finished_deliveries_have_no_next_attempt),
        cmocka_unit_test(every_day_is_listed_oldest_first_with_zeros),
        cmocka_unit_test(no_rows_give_a_day_of_zeros),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
