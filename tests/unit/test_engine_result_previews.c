/* test_engine_result_previews.c — previews made after completion (engine/result_previews.h): a completed
 * result marked pending gets its poster and spritesheet stored next to it and named, the mark gone; one
 * whose frames do not decode loses the mark and gets no preview; a task deleted meanwhile, or one that
 * waits for nothing, keeps nothing and is left as it was; giving up clears the mark alone. Against a real
 * store and blob folder, with the ffmpeg program. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/result_previews.h"

static char folder[64], blobs_dir[96];
static store *db;
static blob_store *blobs;

static int open_fresh(void **state)
{
    (void)state;
    snprintf(folder, sizeof(folder), "/tmp/reelay-previews-XXXXXX");
    if (mkdtemp(folder) == NULL) return -1;
    snprintf(blobs_dir, sizeof(blobs_dir), "%s/blobs", folder);
    return store_open(folder, &db) == STORE_OK && blob_store_open(blobs_dir, &blobs) == 0 ? 0 : -1;
}

static int close_and_remove(void **state)
{
    (void)state;
    store_close(db);
    blob_store_close(blobs);
    char command[128];
    snprintf(command, sizeof(command), "rm -rf '%s'", folder);
    return system(command) == 0 ? 0 : -1;
}

static bool blob_exists(const char *id, const char *file)
{
    char path[256];
    struct stat info;
    snprintf(path, sizeof(path), "%s/results/%s/%s", blobs_dir, id, file);
    return stat(path, &info) == 0 && info.st_size > 0;
}

/* A task completed with results (a JSON array) and, when video is not NULL, that file stored as its
 * results/<id>/output.mp4 and probed into *info. */
static void completed_task(const char *id, const char *results, const char *video, media_info *info)
{
    task_record t;
    memset(&t, 0, sizeof(t));
    snprintf(t.id, sizeof(t.id), "%s", id);
    snprintf(t.key_id, sizeof(t.key_id), "key_a");
    snprintf(t.model, sizeof(t.model), "sora-2");
    snprintf(t.user_group, sizeof(t.user_group), "default");
    t.state = TASK_FINALIZING;
    t.created_at = t.updated_at = 100;
    t.deadline_at = 100 + 3600;
    assert_int_equal(store_task_insert(db, &t), STORE_OK);
    assert_int_equal(store_task_complete(db, id, TASK_FINALIZING, results, -1, 101), STORE_OK);
    if (video == NULL) return;
    char err[256] = "", name[128];
    assert_int_equal(media_probe(video, info, err, sizeof(err)), 0);
    snprintf(name, sizeof(name), "results/%s/output.mp4", id);
    assert_int_equal(blob_put_file(blobs, name, video), 0);
}

/* A fresh file at folder/<file> made by ffmpeg from a 2 s test pattern. */
static const char *test_video(const char *file, char *path, size_t size)
{
    char command[512];
    snprintf(path, size, "%s/%s", folder, file);
    snprintf(command, sizeof(command),
             "ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc=size=320x240:rate=25:duration=2 "
             "-c:v libx264 -preset ultrafast -pix_fmt yuv420p '%s'",
             path);
    assert_int_equal(system(command), 0);
    return path;
}

/* The first result of id's task (the caller decrefs *results). */
static json_t *first_result(const char *id, json_t **results)
{
    task_record task;
    assert_int_equal(store_task_get(db, id, &task), STORE_OK);
    json_error_t error;
    *results = json_loads(task.results_json, 0, &error);
    task_record_clear(&task);
    assert_non_null(*results);
    return json_array_get(*results, 0);
}

static const char PENDING[] = "[{\"object\":\"results/%s/output.mp4\",\"content_type\":\"video/mp4\","
                              "\"duration\":2.0,\"width\":320,\"height\":240,\"previews\":\"pending\"}]";

static void a_pending_result_gets_both_previews_and_loses_its_mark(void **state)
{
    (void)state;
    const char *id = "task-unified-200-aaaaaaaa";
    char results[512], path[128];
    snprintf(results, sizeof(results), PENDING, id);
    media_info info;
    completed_task(id, results, test_video("a.mp4", path, sizeof(path)), &info);
    assert_int_equal(result_previews_make(db, blobs, id, &info, info.duration), RESULT_PREVIEWS_MADE);
    json_t *all = NULL, *first = first_result(id, &all);
    assert_false(result_previews_pending(first));
    assert_null(json_object_get(first, RESULT_PREVIEWS_MEMBER));
    assert_string_equal(json_string_value(json_object_get(first, "thumbnail")),
                        "results/task-unified-200-aaaaaaaa/poster.jpg");
    assert_string_equal(json_string_value(json_object_get(first, "spritesheet")),
                        "results/task-unified-200-aaaaaaaa/spritesheet.jpg");
    assert_int_equal(json_integer_value(json_object_get(first, "width")), 320); /* the rest is kept */
    assert_string_equal(json_string_value(json_object_get(first, "content_type")), "video/mp4");
    json_decref(all);
    assert_true(blob_exists(id, "output.mp4"));
    assert_true(blob_exists(id, "poster.jpg"));
    assert_true(blob_exists(id, "spritesheet.jpg"));
    /* done once: asked again, nothing waits */
    assert_int_equal(result_previews_make(db, blobs, id, &info, info.duration), RESULT_PREVIEWS_GONE);
}

static void frames_that_do_not_decode_leave_no_preview_and_no_mark(void **state)
{
    (void)state;
    const char *id = "task-unified-200-bbbbbbbb";
    char results[512], path[128];
    snprintf(results, sizeof(results), PENDING, id);
    media_info info;
    completed_task(id, results, test_video("b.mp4", path, sizeof(path)), &info);
    char stored[256];
    snprintf(stored, sizeof(stored), "%s/results/%s/output.mp4", blobs_dir, id);
    FILE *garbage = fopen(stored, "w"); /* the probe said MP4; the stored bytes are noise */
    assert_non_null(garbage);
    for (int i = 0; i < 4096; i++)
        fputc((i * 7919 + 13) & 0xff, garbage);
    fclose(garbage);
    assert_int_equal(result_previews_make(db, blobs, id, &info, info.duration), RESULT_PREVIEWS_PARTIAL);
    json_t *all = NULL, *first = first_result(id, &all);
    assert_false(result_previews_pending(first));
    assert_null(json_object_get(first, "thumbnail"));
    assert_null(json_object_get(first, "spritesheet"));
    json_decref(all);
    assert_false(blob_exists(id, "poster.jpg"));
    assert_false(blob_exists(id, "spritesheet.jpg"));
}

static void a_task_gone_or_not_waiting_keeps_nothing(void **state)
{
    (void)state;
    media_info info = {.has_video = true, .width = 320, .height = 240, .duration = 2};
    snprintf(info.container, sizeof(info.container), "mov,mp4,m4a,3gp,3g2,mj2");
    assert_int_equal(result_previews_make(db, blobs, "task-unified-200-missing0", &info, 2),
                     RESULT_PREVIEWS_GONE);
    assert_false(blob_exists("task-unified-200-missing0", "poster.jpg"));

    const char *id = "task-unified-200-cccccccc", *plain = "[{\"object\":\"x\",\"width\":320}]";
    completed_task(id, plain, NULL, NULL);
    assert_int_equal(result_previews_make(db, blobs, id, &info, 2), RESULT_PREVIEWS_GONE);
    task_record task;
    assert_int_equal(store_task_get(db, id, &task), STORE_OK);
    assert_string_equal(task.results_json, plain); /* left as it was */
    assert_int_equal(task.updated_at, 101);
    task_record_clear(&task);
    assert_false(blob_exists(id, "poster.jpg"));
}

static void giving_up_clears_the_mark_alone(void **state)
{
    (void)state;
    const char *id = "task-unified-200-dddddddd";
    char results[512];
    snprintf(results, sizeof(results), PENDING, id);
    completed_task(id, results, NULL, NULL);
    result_previews_give_up(db, id);
    json_t *all = NULL, *first = first_result(id, &all);
    assert_false(result_previews_pending(first));
    assert_null(json_object_get(first, "thumbnail"));
    assert_int_equal(json_integer_value(json_object_get(first, "height")), 240);
    assert_int_equal(json_object_size(first), 5); /* object, content_type, duration, width, height */
    json_decref(all);
}

static void only_the_pending_value_counts_as_pending(void **state)
{
    (void)state;
    json_t *pending = json_pack("{s:s}", "previews", "pending"),
           *other = json_pack("{s:s}", "previews", "done"), *number = json_pack("{s:i}", "previews", 1),
           *none = json_object();
    assert_true(result_previews_pending(pending));
    assert_false(result_previews_pending(other));
    assert_false(result_previews_pending(number));
    assert_false(result_previews_pending(none));
    assert_false(result_previews_pending(NULL));
    json_decref(pending), json_decref(other), json_decref(number), json_decref(none);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_pending_result_gets_both_previews_and_loses_its_mark),
        cmocka_unit_test(frames_that_do_not_decode_leave_no_preview_and_no_mark),
        cmocka_unit_test(a_task_gone_or_not_waiting_keeps_nothing),
        cmocka_unit_test(giving_up_clears_the_mark_alone),
        cmocka_unit_test(only_the_pending_value_counts_as_pending),
    };
    return cmocka_run_group_tests(tests, open_fresh, close_and_remove);
}
