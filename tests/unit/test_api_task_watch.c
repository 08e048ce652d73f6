/* test_api_task_watch.c — the event id of a task's state (api/task_watch.h, task_watch_mark): it grows
 * with every change a client can see — public status or progress — and never goes back, so that a
 * Last-Event-ID can be compared with the task's mark now. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "api/task_watch.h"

static int64_t mark_of(task_state state, int progress)
{
    task_record task;
    memset(&task, 0, sizeof(task));
    task.state = state;
    task.progress = progress;
    return task_watch_mark(&task);
}

static void internal_states_share_their_public_status(void **state)
{
    (void)state;
    assert_int_equal(mark_of(TASK_PENDING, 0), mark_of(TASK_SUBMITTING, 0)); /* both show as pending */
    assert_int_equal(mark_of(TASK_PROCESSING, 40), mark_of(TASK_FINALIZING, 40));
    assert_int_equal(mark_of(TASK_PROCESSING, 35), 1035);
    assert_int_equal(mark_of(TASK_COMPLETED, 100), 2100);
}

static void every_visible_move_raises_the_mark(void **state)
{
    (void)state;
    int64_t path[] = {mark_of(TASK_PENDING, 0),     mark_of(TASK_PROCESSING, 0),
                      mark_of(TASK_PROCESSING, 1),  mark_of(TASK_PROCESSING, 99),
                      mark_of(TASK_FINALIZING, 99), mark_of(TASK_COMPLETED, 100)};
    for (size_t i = 1; i < sizeof(path) / sizeof(path[0]); i++)
        assert_true(path[i] >= path[i - 1]);
    assert_true(mark_of(TASK_PROCESSING, 0) > mark_of(TASK_PENDING, 0));
    /* a task failing or cancelled at any progress is past every unfinished state */
    assert_true(mark_of(TASK_FAILED, 0) > mark_of(TASK_PROCESSING, 99));
    assert_true(mark_of(TASK_CANCELLED, 0) > mark_of(TASK_FINALIZING, 99));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(internal_states_share_their_public_status),
        cmocka_unit_test(every_visible_move_raises_the_mark),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
