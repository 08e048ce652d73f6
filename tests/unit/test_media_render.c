/* test_media_render.c — probing real and hostile files, and the sandbox renderer: lengths per sync
 * mode, sizes, the silent track, hostile prompt text, progress, cancel and timeout. Inputs are tiny
 * files made with the ffmpeg program. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "media/media.h"

static char folder[64];
static char video[128], audio3[128], audio1[128], portrait[128], garbage[128], empty[128], truncated[128];

static void make(const char *args)
{
    char command[1024];
    snprintf(command, sizeof(command), "cd '%s' && ffmpeg -hide_banner -loglevel error -y %s", folder, args);
    if (system(command) != 0) fail_msg("ffmpeg failed: %s", args);
}

static int make_inputs(void **state)
{
    (void)state;
    snprintf(folder, sizeof(folder), "/tmp/reelay-media-XXXXXX");
    if (mkdtemp(folder) == NULL) return -1;
    make("-f lavfi -i testsrc=size=160x120:rate=25:duration=2 -f lavfi -i sine=frequency=300:duration=2 "
         "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest v.mp4");
    make("-f lavfi -i sine=frequency=500:duration=3 a3.wav");
    make("-f lavfi -i sine=frequency=500:duration=1 a1.wav");
    make("-f lavfi -i testsrc=size=90x120 -frames:v 1 p.png");
    snprintf(video, sizeof(video), "%s/v.mp4", folder);
    snprintf(audio3, sizeof(audio3), "%s/a3.wav", folder);
    snprintf(audio1, sizeof(audio1), "%s/a1.wav", folder);
    snprintf(portrait, sizeof(portrait), "%s/p.png", folder);
    snprintf(garbage, sizeof(garbage), "%s/garbage.bin", folder);
    snprintf(empty, sizeof(empty), "%s/empty.mp4", folder);
    snprintf(truncated, sizeof(truncated), "%s/truncated.mp4", folder);
    FILE *f = fopen(garbage, "w");
    for (int i = 0; i < 5000; i++)
        fputc((i * 7919) & 0xff, f);
    fclose(f);
    fclose(fopen(empty, "w"));
    char command[512];
    snprintf(command, sizeof(command), "head -c 2000 '%s' > '%s'", video, truncated);
    return system(command) == 0 ? 0 : -1;
}

static int remove_inputs(void **state)
{
    (void)state;
    char command[128];
    snprintf(command, sizeof(command), "rm -rf '%s'", folder);
    return system(command) == 0 ? 0 : -1;
}

static void probe_reads_streams_and_refuses_garbage(void **state)
{
    (void)state;
    media_info info;
    char err[256];
    assert_int_equal(media_probe(video, &info, err, sizeof(err)), 0);
    assert_true(info.has_video && info.has_audio && !info.is_image);
    assert_int_equal(info.width, 160);
    assert_string_equal(info.video_codec, "h264");
    assert_true(info.duration > 1.9 && info.duration < 2.1);
    assert_int_equal(media_probe(audio3, &info, err, sizeof(err)), 0);
    assert_true(info.has_audio && !info.has_video && info.duration > 2.9 && info.duration < 3.1);
    assert_int_equal(media_probe(portrait, &info, err, sizeof(err)), 0);
    assert_true(info.is_image && !info.has_video && info.width == 90 && info.height == 120);
    assert_int_equal(media_probe(garbage, &info, err, sizeof(err)), -1);
    assert_true(strlen(err) > 0);
    assert_int_equal(media_probe(empty, &info, err, sizeof(err)), -1);
    int truncated_result = media_probe(truncated, &info, err, sizeof(err)); /* must neither crash nor hang */
    assert_true(truncated_result == 0 || truncated_result == -1);
    assert_true(truncated_result == -1 || info.duration >= 0);
    assert_int_equal(media_probe("/nonexistent/file.mp4", &info, err, sizeof(err)), -1);
}

typedef struct progress_log {
    int calls, last;
    bool monotonic;
} progress_log;

static void record_progress(void *context, int percent)
{
    progress_log *log = context;
    if (percent < log->last || percent > 99) log->monotonic = false;
    log->last = percent;
    log->calls++;
}

static int render(media_render_job *job, media_info *out, char *err, size_t err_size)
{
    char work[128], output[160];
    snprintf(work, sizeof(work), "%s/work-XXXXXX", folder);
    if (mkdtemp(work) == NULL) return -2;
    snprintf(output, sizeof(output), "%s/out.mp4", work);
    job->work_dir = work;
    job->output_path = output;
    job->model = "test-model";
    return media_render(job, out, err, err_size);
}

static void lipsync_lengths_follow_sync_mode(void **state)
{
    (void)state;
    struct {
        const char *mode, *audio;
        double expected;
    } cases[] = {{"loop", audio3, 3.0},    {"bounce", audio3, 3.0},  {"remap", audio3, 3.0},
                 {"cut_off", audio3, 2.0}, {"silence", audio3, 2.0}, {"cut_off", audio1, 1.0},
                 {"silence", audio1, 2.0}, {"remap", audio1, 1.0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        media_render_job job = {.kind = MEDIA_RENDER_LIPSYNC,
                                .video_path = video,
                                .audio_path = cases[i].audio,
                                .sync_mode = cases[i].mode};
        media_info out;
        char err[512] = "";
        if (render(&job, &out, err, sizeof(err)) != 0) fail_msg("%s: %s", cases[i].mode, err);
        if (out.duration < cases[i].expected - 0.15 || out.duration > cases[i].expected + 0.15)
            fail_msg("%s with %s: %.3f s, expected %.1f", cases[i].mode, cases[i].audio, out.duration,
                     cases[i].expected);
        assert_true(out.has_audio && out.has_video);
        assert_int_equal(out.width, 160);
    }
}

static void talking_head_and_test_card_sizes(void **state)
{
    (void)state;
    media_render_job head = {
        .kind = MEDIA_RENDER_TALKING_HEAD, .image_path = portrait, .audio_path = audio1, .short_side = 480};
    media_info out;
    char err[512] = "";
    if (render(&head, &out, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_int_equal(out.width, 480);
    assert_int_equal(out.height, 640);
    assert_true(out.duration > 0.85 && out.duration < 1.15);

    media_render_job card = {
        .kind = MEDIA_RENDER_TEST_CARD,
        .width = 320,
        .height = 180,
        .duration = 1,
        .text = "hostile: %{pts} %{eif:1:d} 'quote' \\ back [x];y=1,z \n new line "
                "and a very long run of words that must wrap across several lines of the card",
        .image_path = portrait};
    if (render(&card, &out, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_int_equal(out.width, 320);
    assert_int_equal(out.height, 180);
    assert_true(out.duration > 0.85 && out.duration < 1.15);
    media_render_job odd = {
        .kind = MEDIA_RENDER_TEST_CARD, .width = 321, .height = 180, .duration = 1, .text = "x"};
    assert_int_equal(render(&odd, &out, err, sizeof(err)), -1);
}

static void motion_control_keeps_length_and_sound_choice(void **state)
{
    (void)state;
    media_render_job job = {.kind = MEDIA_RENDER_MOTION_CONTROL,
                            .image_path = portrait,
                            .video_path = video,
                            .keep_original_sound = false};
    media_info out;
    char err[512] = "";
    if (render(&job, &out, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_true(out.duration > 1.85 && out.duration < 2.15);
    assert_true(out.has_audio); /* a silent track, as documented */
    assert_int_equal(out.width, 160);
}

static void wrong_inputs_fail_with_a_reason(void **state)
{
    (void)state;
    media_render_job job = {
        .kind = MEDIA_RENDER_LIPSYNC, .video_path = video, .audio_path = garbage, .sync_mode = "loop"};
    media_info out;
    char err[512] = "";
    assert_int_equal(render(&job, &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "audio"));
    media_render_job no_video = {
        .kind = MEDIA_RENDER_LIPSYNC, .video_path = audio3, .audio_path = audio3, .sync_mode = "loop"};
    assert_int_equal(render(&no_video, &out, err, sizeof(err)), -1);
    media_render_job missing = {
        .kind = MEDIA_RENDER_LIPSYNC, .video_path = "/nonexistent.mp4", .audio_path = audio3};
    assert_int_equal(render(&missing, &out, err, sizeof(err)), -1);
}

typedef struct canceller {
    atomic_bool *flag;
} canceller;

static void *cancel_soon(void *arg)
{
    usleep(300 * 1000);
    atomic_store(((canceller *)arg)->flag, true);
    return NULL;
}

static void cancel_and_timeout_stop_the_render(void **state)
{
    (void)state;
    atomic_bool cancel = false;
    progress_log log = {.last = -1, .monotonic = true};
    media_render_job job = {.kind = MEDIA_RENDER_TEST_CARD,
                            .width = 1920,
                            .height = 1080,
                            .duration = 60,
                            .text = "long",
                            .cancel = &cancel,
                            .on_progress = record_progress,
                            .progress_context = &log};
    canceller c = {.flag = &cancel};
    pthread_t thread;
    pthread_create(&thread, NULL, cancel_soon, &c);
    media_info out;
    char err[512] = "";
    assert_int_equal(render(&job, &out, err, sizeof(err)), 1);
    pthread_join(thread, NULL);
    assert_int_not_equal(access(job.output_path, F_OK), 0);
    assert_true(log.monotonic);

    media_render_job slow = {.kind = MEDIA_RENDER_TEST_CARD,
                             .width = 1920,
                             .height = 1080,
                             .duration = 60,
                             .text = "slow",
                             .timeout_seconds = 1};
    assert_int_equal(render(&slow, &out, err, sizeof(err)), 2);
    assert_non_null(strstr(err, "longer"));
    assert_int_not_equal(access(slow.output_path, F_OK), 0);
}

static void progress_rises_to_completion(void **state)
{
    (void)state;
    progress_log log = {.last = -1, .monotonic = true};
    media_render_job job = {.kind = MEDIA_RENDER_TEST_CARD,
                            .width = 640,
                            .height = 360,
                            .duration = 4,
                            .text = "p",
                            .on_progress = record_progress,
                            .progress_context = &log};
    media_info out;
    char err[512] = "";
    if (render(&job, &out, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_true(log.calls >= 1);
    assert_true(log.monotonic);
    assert_true(log.last >= 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(probe_reads_streams_and_refuses_garbage),
        cmocka_unit_test(lipsync_lengths_follow_sync_mode),
        cmocka_unit_test(talking_head_and_test_card_sizes),
        cmocka_unit_test(motion_control_keeps_length_and_sound_choice),
        cmocka_unit_test(wrong_inputs_fail_with_a_reason),
        cmocka_unit_test(cancel_and_timeout_stop_the_render),
        cmocka_unit_test(progress_rises_to_completion),
    };
    return cmocka_run_group_tests(tests, make_inputs, remove_inputs);
}
