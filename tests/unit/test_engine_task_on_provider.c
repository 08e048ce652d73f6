/* test_engine_task_on_provider.c — task_view_on_provider, what GET /v1/tasks/{id}?sync_upstream=true
 * asks before waking the provider: only an unfinished task whose upstream record is a provider job's,
 * never one handed to the sandbox (whose stored state is always current). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "engine/task_view.h"

static bool on_provider(task_state state, const char *channel, const char *record)
{
    task_record task;
    memset(&task, 0, sizeof(task));
    task.state = state;
    snprintf(task.channel, sizeof(task.channel), "%s", channel);
    task.upstream_json = (char *)record;
    return task_view_on_provider(&task);
}

static void a_provider_job_can_be_asked(void **state)
{
    (void)state;
    const char *sending = "{\"phase\":\"sending\",\"channel\":\"fal-1\",\"tried\":[]}";
    const char *polling = "{\"phase\":\"polling\",\"channel\":\"fal-1\",\"job\":{\"id\":\"j\"},\"tried\":[]}";
    assert_true(on_provider(TASK_SUBMITTING, "fal-1", sending));
    assert_true(on_provider(TASK_PROCESSING, "fal-1", polling));
    assert_true(on_provider(TASK_FINALIZING, "fal-1", polling));
    /* a record without a phase (or unreadable) is not the sandbox's: the provider is asked, as before */
    assert_true(on_provider(TASK_PROCESSING, "fal-1", "{\"channel\":\"fal-1\"}"));
    assert_true(on_provider(TASK_PROCESSING, "fal-1", "not json"));
}

static void the_sandbox_and_finished_tasks_are_not(void **state)
{
    (void)state;
    const char *local = "{\"phase\":\"" TASK_PHASE_LOCAL "\"}";
    const char *legacy = "{\"phase\":\"sandbox\"}"; /* written by versions before TASK_PHASE_LOCAL */
    const char *polling = "{\"phase\":\"polling\",\"channel\":\"fal-1\"}";
    assert_false(on_provider(TASK_PROCESSING, "sandbox", local));
    assert_false(on_provider(TASK_SUBMITTING, "sandbox", local));
    assert_false(on_provider(TASK_PROCESSING, "sandbox", legacy));
    assert_true(on_provider(TASK_PROCESSING, "fal-1", "{\"phase\":\"fal\"}")); /* a provider on the wire */
    assert_false(on_provider(TASK_COMPLETED, "fal-1", polling));
    assert_false(on_provider(TASK_FAILED, "fal-1", polling));
    assert_false(on_provider(TASK_CANCELLED, "fal-1", polling));
    assert_false(on_provider(TASK_PENDING, "", NULL)); /* not routed yet */
    assert_false(on_provider(TASK_PROCESSING, "fal-1", NULL));
    assert_false(on_provider(TASK_PROCESSING, "", polling));
    /* the phase is read as a field, not searched for as text */
    assert_true(
        on_provider(TASK_PROCESSING, "fal-1", "{\"phase\":\"polling\",\"job\":{\"phase\":\"sandbox\"}}"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_provider_job_can_be_asked),
        cmocka_unit_test(the_sandbox_and_finished_tasks_are_not),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
