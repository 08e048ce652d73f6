/* test_engine_task_completion.c — the one way a task completes with a video file: from processing or
 * finalizing it is stored under results/<id>/output.mp4, described (the file's duration, else the
 * stated one), charged on the real length at the admitted rate with the rest returned, and completed;
 * a task finished meanwhile keeps nothing; a file that is not a video (when probed here) is refused and
 * the task left as it was; without a previews pool a real video gets its poster and spritesheet stored
 * next to it and named in its description before it completes, one whose frames cannot be read completes
 * without them; with a pool it completes at once, marked pending, and gets them afterwards
 * (engine/result_previews.h). Against a real store and blob folder. */
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
#include <time.h>

#include "engine/task_completion.h"

static char folder[64], blobs_dir[96], file_path[128];
static store *db;
static blob_store *blobs;

/* The key's terms: 2 credits a second, 12 reserved. */
static const char BILLING[] = "{\"unit\":\"second\",\"rate\":2,\"seconds\":6,\"credits\":12}";

static int open_fresh(void **state)
{
    (void)state;
    snprintf(folder, sizeof(folder), "/tmp/reelay-completion-XXXXXX");
    if (mkdtemp(folder) == NULL) return -1;
    snprintf(blobs_dir, sizeof(blobs_dir), "%s/blobs", folder);
    if (store_open(folder, &db) != STORE_OK || blob_store_open(blobs_dir, &blobs) != 0) return -1;
    unsigned char hash[32] = {1};
    key_record key = {.id = "key_a", .user_group = "default", .created_at = 1};
    if (store_key_insert(db, &key, hash, NULL) != STORE_OK) return -1;
    return store_credits_grant(db, "key_a", 100, "test", 1) == STORE_OK ? 0 : -1;
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

/* A task admitted with BILLING's reservation and moved on to `state` (processing or finalizing). */
static void admit_task(const char *id, task_state state)
{
    task_record t;
    memset(&t, 0, sizeof(t));
    snprintf(t.id, sizeof(t.id), "%s", id);
    snprintf(t.key_id, sizeof(t.key_id), "key_a");
    snprintf(t.model, sizeof(t.model), "sora-2");
    snprintf(t.user_group, sizeof(t.user_group), "default");
    t.state = TASK_PENDING;
    t.created_at = t.updated_at = 100;
    t.deadline_at = 100 + 3600;
    t.credits_reserved = 12;
    t.params_json = (char *)"{\"model\":\"sora-2\",\"prompt\":\"x\"}";
    t.billing_json = (char *)BILLING;
    task_admission item = {.task = &t};
    assert_int_equal(store_task_admit(db, &item, 1, true), STORE_OK);
    assert_int_equal(item.outcome, ADMIT_CREATED);
    assert_int_equal(store_task_transition(db, id, TASK_PENDING, TASK_SUBMITTING, "ch", 101), STORE_OK);
    assert_int_equal(store_task_transition(db, id, TASK_SUBMITTING, TASK_PROCESSING, NULL, 101), STORE_OK);
    if (state == TASK_FINALIZING)
        assert_int_equal(store_task_transition(db, id, TASK_PROCESSING, TASK_FINALIZING, NULL, 101),
                         STORE_OK);
}

/* A file to complete with (its bytes do not matter when the caller says what it is). */
static const char *scratch_file(const char *text)
{
    snprintf(file_path, sizeof(file_path), "%s/blobs/output.mp4", folder);
    FILE *out = fopen(file_path, "w");
    assert_non_null(out);
    fputs(text, out);
    fclose(out);
    return file_path;
}

static bool result_exists(const char *id)
{
    char path[256];
    struct stat info;
    snprintf(path, sizeof(path), "%s/results/%s/output.mp4", blobs_dir, id);
    return stat(path, &info) == 0;
}

static int64_t charged(const char *task_id)
{
    ledger_entry *entries = NULL;
    size_t count = 0;
    assert_int_equal(store_credits_ledger(db, "key_a", 0, &entries, &count), STORE_OK);
    int64_t amount = -1;
    for (size_t i = 0; i < count; i++)
        if (entries[i].kind == LEDGER_SETTLE && strcmp(entries[i].task_id, task_id) == 0)
            amount = entries[i].amount;
    free(entries);
    return amount;
}

static void a_render_completes_its_task_charged_on_its_real_length(void **state)
{
    (void)state;
    const char *id = "task-unified-100-aaaaaaaa";
    admit_task(id, TASK_PROCESSING);
    media_info info = {.duration = 3.2, .has_video = true, .width = 1280, .height = 720};
    task_completion what = {.task_id = id,
                            .from = TASK_PROCESSING,
                            .path = scratch_file("video"),
                            .info = &info,
                            .stated_duration = 9,
                            .billing_json = BILLING};
    char code[48] = "", message[512] = "";
    assert_int_equal(task_complete_with_file(db, blobs, &what, code, sizeof(code), message, sizeof(message)),
                     TASK_COMPLETION_DONE);
    task_record task;
    assert_int_equal(store_task_get(db, id, &task), STORE_OK);
    assert_int_equal(task.state, TASK_COMPLETED);
    json_error_t error;
    json_t *results = json_loads(task.results_json, 0, &error);
    json_t *first = json_array_get(results, 0);
    assert_string_equal(json_string_value(json_object_get(first, "object")),
                        "results/task-unified-100-aaaaaaaa/output.mp4");
    assert_string_equal(json_string_value(json_object_get(first, "content_type")), "video/mp4");
    assert_true(json_real_value(json_object_get(first, "duration")) == 3.2); /* the file's, not the stated */
    assert_int_equal(json_integer_value(json_object_get(first, "width")), 1280);
    /* "video" is no video ffmpeg can read: completed all the same, without previews */
    assert_null(json_object_get(first, "thumbnail"));
    assert_null(json_object_get(first, "spritesheet"));
    assert_null(json_object_get(first, RESULT_PREVIEWS_MEMBER)); /* nothing is pending either */
    json_decref(results);
    task_record_clear(&task);
    assert_true(result_exists(id));
    assert_int_equal(charged(id), 7); /* ceil(2 × 3.2) of the 12 reserved */
}

static void a_downloaded_result_is_probed_and_a_non_video_refused(void **state)
{
    (void)state;
    const char *id = "task-unified-100-bbbbbbbb";
    admit_task(id, TASK_FINALIZING);
    task_completion what = {.task_id = id,
                            .from = TASK_FINALIZING,
                            .path = scratch_file("not a video at all"),
                            .stated_duration = 5};
    char code[48] = "", message[512] = "";
    assert_int_equal(task_complete_with_file(db, blobs, &what, code, sizeof(code), message, sizeof(message)),
                     TASK_COMPLETION_FAILED);
    assert_string_equal(code, "generation_failed");
    assert_string_equal(message, "The provider's result is not a playable video.");
    task_record task;
    assert_int_equal(store_task_get(db, id, &task), STORE_OK);
    assert_int_equal(task.state, TASK_FINALIZING); /* the caller fails it */
    task_record_clear(&task);
    assert_false(result_exists(id));
}

static void a_task_finished_meanwhile_keeps_nothing(void **state)
{
    (void)state;
    const char *id = "task-unified-100-cccccccc";
    admit_task(id, TASK_FINALIZING);
    assert_int_equal(store_task_fail(db, id, "timeout", "late", 200), STORE_OK);
    media_info info = {.duration = 2, .has_video = true};
    task_completion what = {
        .task_id = id, .from = TASK_FINALIZING, .path = scratch_file("video"), .info = &info};
    char code[48] = "", message[512] = "";
    assert_int_equal(task_complete_with_file(db, blobs, &what, code, sizeof(code), message, sizeof(message)),
                     TASK_COMPLETION_GONE);
    assert_false(result_exists(id)); /* stored, then removed again */
    task_record task;
    assert_int_equal(store_task_get(db, id, &task), STORE_OK);
    assert_int_equal(task.state, TASK_FAILED);
    task_record_clear(&task);
    assert_int_equal(charged(id), -1); /* refunded, never settled */
}

static void the_stated_duration_stands_in_for_an_unknown_one_and_terms_come_from_the_store(void **state)
{
    (void)state;
    const char *id = "task-unified-100-dddddddd";
    admit_task(id, TASK_FINALIZING);
    media_info info = {.duration = 0, .has_video = true};
    task_completion what = {.task_id = id,
                            .from = TASK_FINALIZING,
                            .path = scratch_file("video"),
                            .info = &info,
                            .stated_duration = 4.5}; /* billing_json NULL: read from the task */
    char code[48] = "", message[512] = "";
    assert_int_equal(task_complete_with_file(db, blobs, &what, code, sizeof(code), message, sizeof(message)),
                     TASK_COMPLETION_DONE);
    task_record task;
    assert_int_equal(store_task_get(db, id, &task), STORE_OK);
    json_error_t error;
    json_t *results = json_loads(task.results_json, 0, &error);
    assert_true(json_real_value(json_object_get(json_array_get(results, 0), "duration")) == 4.5);
    json_decref(results);
    task_record_clear(&task);
    assert_int_equal(charged(id), 12); /* length unknown to the file: the reservation is charged */
}

static bool blob_exists(const char *id, const char *file)
{
    char path[256];
    struct stat info;
    snprintf(path, sizeof(path), "%s/results/%s/%s", blobs_dir, id, file);
    return stat(path, &info) == 0 && info.st_size > 0;
}

static void a_real_video_gets_its_previews_stored_next_to_it(void **state)
{
    (void)state;
    const char *id = "task-unified-100-eeeeeeee";
    admit_task(id, TASK_FINALIZING);
    char scratch[128], video[160], command[512];
    snprintf(scratch, sizeof(scratch), "%s/scratch-XXXXXX", folder);
    assert_non_null(mkdtemp(scratch));
    snprintf(video, sizeof(video), "%s/output.mp4", scratch);
    snprintf(command, sizeof(command),
             "ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc=size=320x180:rate=25:duration=2 "
             "-c:v libx264 -preset ultrafast -pix_fmt yuv420p '%s'",
             video);
    assert_int_equal(system(command), 0);
    task_completion what = {.task_id = id, .from = TASK_FINALIZING, .path = video}; /* probed here */
    char code[48] = "", message[512] = "";
    assert_int_equal(task_complete_with_file(db, blobs, &what, code, sizeof(code), message, sizeof(message)),
                     TASK_COMPLETION_DONE);
    task_record task;
    assert_int_equal(store_task_get(db, id, &task), STORE_OK);
    json_error_t error;
    json_t *results = json_loads(task.results_json, 0, &error);
    json_t *first = json_array_get(results, 0);
    assert_string_equal(json_string_value(json_object_get(first, "thumbnail")),
                        "results/task-unified-100-eeeeeeee/poster.jpg");
    assert_string_equal(json_string_value(json_object_get(first, "spritesheet")),
                        "results/task-unified-100-eeeeeeee/spritesheet.jpg");
    assert_null(json_object_get(first, RESULT_PREVIEWS_MEMBER));
    json_decref(results);
    task_record_clear(&task);
    assert_true(blob_exists(id, "output.mp4"));
    assert_true(blob_exists(id, "poster.jpg"));
    assert_true(blob_exists(id, "spritesheet.jpg"));
}

/* Reads the first result of id's task (the caller decrefs *results). */
static json_t *first_result(const char *id, json_t **results)
{
    task_record task;
    assert_int_equal(store_task_get(db, id, &task), STORE_OK);
    assert_int_equal(task.state, TASK_COMPLETED);
    json_error_t error;
    *results = json_loads(task.results_json, 0, &error);
    task_record_clear(&task);
    assert_non_null(*results);
    return json_array_get(*results, 0);
}

static void a_real_video_completes_at_once_and_gets_its_previews_after(void **state)
{
    (void)state;
    const char *id = "task-unified-100-ffffffff";
    admit_task(id, TASK_FINALIZING);
    char scratch[128], video[160], command[512];
    snprintf(scratch, sizeof(scratch), "%s/scratch-XXXXXX", folder);
    assert_non_null(mkdtemp(scratch));
    snprintf(video, sizeof(video), "%s/output.mp4", scratch);
    snprintf(command, sizeof(command),
             "ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc=size=320x180:rate=25:duration=2 "
             "-c:v libx264 -preset ultrafast -pix_fmt yuv420p '%s'",
             video);
    assert_int_equal(system(command), 0);
    result_previews_config config = {.data_dir = folder, .workers = 1};
    result_previews *previews = result_previews_start(&config, blobs);
    assert_non_null(previews);
    task_completion what = {.task_id = id, .from = TASK_FINALIZING, .path = video, .previews = previews};
    char code[48] = "", message[512] = "";
    assert_int_equal(task_complete_with_file(db, blobs, &what, code, sizeof(code), message, sizeof(message)),
                     TASK_COMPLETION_DONE);
    /* completed before its previews: they are pending, or (a quick worker) already named, never absent */
    json_t *results = NULL, *first = first_result(id, &results);
    assert_true(result_previews_pending(first) || json_object_get(first, "thumbnail") != NULL);
    json_decref(results);
    for (int waited = 0; waited < 300; waited++) { /* 30 s at most */
        first = first_result(id, &results);
        bool pending = result_previews_pending(first);
        json_decref(results);
        if (!pending) break;
        struct timespec tenth = {.tv_nsec = 100 * 1000 * 1000};
        nanosleep(&tenth, NULL);
    }
    result_previews_stop(previews);
    first = first_result(id, &results);
    assert_false(result_previews_pending(first));
    assert_null(json_object_get(first, RESULT_PREVIEWS_MEMBER));
    assert_string_equal(json_string_value(json_object_get(first, "thumbnail")),
                        "results/task-unified-100-ffffffff/poster.jpg");
    assert_string_equal(json_string_value(json_object_get(first, "spritesheet")),
                        "results/task-unified-100-ffffffff/spritesheet.jpg");
    assert_string_equal(json_string_value(json_object_get(first, "object")),
                        "results/task-unified-100-ffffffff/output.mp4");
    json_decref(results);
    assert_true(blob_exists(id, "output.mp4"));
    assert_true(blob_exists(id, "poster.jpg"));
    assert_true(blob_exists(id, "spritesheet.jpg"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_render_completes_its_task_charged_on_its_real_length),
        cmocka_unit_test(a_downloaded_result_is_probed_and_a_non_video_refused),
        cmocka_unit_test(a_task_finished_meanwhile_keeps_nothing),
        cmocka_unit_test(the_stated_duration_stands_in_for_an_unknown_one_and_terms_come_from_the_store),
        cmocka_unit_test(a_real_video_gets_its_previews_stored_next_to_it),
        cmocka_unit_test(a_real_video_completes_at_once_and_gets_its_previews_after),
    };
    return cmocka_run_group_tests(tests, open_fresh, close_and_remove);
}
