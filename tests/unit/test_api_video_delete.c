/* test_api_video_delete.c — which stored objects a deleted video takes with it (api_video_result_objects):
 * each result's video, thumbnail and spritesheet, in order; never a name outside the task's own folder,
 * an invalid name or one that is not a string; nothing from text that is not an array of results. */
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

static void a_result_gives_its_video_and_previews_in_order(void **state)
{
    (void)state;
    size_t count = 99;
    api_object_name *names = api_video_result_objects(
        TASK,
        "[{\"object\":\"results/" TASK "/output.mp4\",\"content_type\":\"video/mp4\",\"duration\":4,"
        "\"thumbnail\":\"results/" TASK "/poster.jpg\",\"spritesheet\":\"results/" TASK "/spritesheet.jpg\"},"
        "{\"object\":\"results/" TASK "/second.mp4\"}]",
        &count);
    assert_non_null(names);
    assert_int_equal(count, 4);
    assert_string_equal(names[0].text, "results/" TASK "/output.mp4");
    assert_string_equal(names[1].text, "results/" TASK "/poster.jpg");
    assert_string_equal(names[2].text, "results/" TASK "/spritesheet.jpg");
    assert_string_equal(names[3].text, "results/" TASK "/second.mp4");
    free(names);
}

static void names_outside_the_tasks_folder_are_left_alone(void **state)
{
    (void)state;
    size_t count = 99;
    api_object_name *names = api_video_result_objects(
        TASK,
        "[{\"object\":\"results/task-unified-1757165031-other000/output.mp4\"," /* another task's */
        "\"thumbnail\":\"results/" TASK "x/poster.jpg\","                       /* a longer id's folder */
        "\"spritesheet\":\"uploads/file-1-abc/spritesheet.jpg\"},"
        "{\"object\":\"results/" TASK "/../../uploads/x.mp4\"," /* escapes: not a valid name */
        "\"thumbnail\":\"results/" TASK "/\","                  /* the folder itself */
        "\"spritesheet\":42},"                                  /* not a string */
        "{\"object\":\"results/" TASK "/kept.mp4\"},"
        "\"results/" TASK "/not-an-object.mp4\"]",
        &count);
    assert_non_null(names);
    assert_int_equal(count, 1);
    assert_string_equal(names[0].text, "results/" TASK "/kept.mp4");
    free(names);
}

static void no_results_give_no_names(void **state)
{
    (void)state;
    const char *texts[] = {NULL,
                           "",
                           "[]",
                           "{\"object\":\"results/" TASK "/output.mp4\"}",
                           "[{}]",
                           "[1,",
                           "[{\"url\":\"https://example.test/x.mp4\"}]"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        size_t count = 99;
        assert_null(api_video_result_objects(TASK, texts[i], &count));
        assert_int_equal(count, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_result_gives_its_video_and_previews_in_order),
        cmocka_unit_test(names_outside_the_tasks_folder_are_left_alone),
        cmocka_unit_test(no_results_give_no_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
