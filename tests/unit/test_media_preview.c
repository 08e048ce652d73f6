/* test_media_preview.c — the previews of a video result: their sizes for common and hostile shapes, a
 * real small video turned into a poster and a spritesheet that ffprobe reads as JPEGs of those sizes,
 * and files that cannot give previews (frames that do not decode, a container that is not a video's). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "media/media.h"

static char folder[64];
static char video[128], portrait[128], broken[128], poster[128], sheet[128];

static void make(const char *args)
{
    char command[1024];
    snprintf(command, sizeof(command), "cd '%s' && ffmpeg -hide_banner -loglevel error -y %s", folder, args);
    if (system(command) != 0) fail_msg("ffmpeg failed: %s", args);
}

/* A copy of source whose bytes after the first `mdat` box header are all replaced by noise: the header
 * (moov first, faststart) still probes as a video, the frames do not decode. */
static int break_frames(const char *source, const char *target)
{
    FILE *in = fopen(source, "rb");
    if (in == NULL) return -1;
    static unsigned char bytes[1 << 20];
    size_t length = fread(bytes, 1, sizeof(bytes), in);
    fclose(in);
    size_t at = 0;
    while (at + 4 <= length && memcmp(bytes + at, "mdat", 4) != 0)
        at++;
    if (at + 4 > length) return -1;
    for (size_t i = at + 4; i < length; i++)
        bytes[i] = (unsigned char)((i * 7919 + 13) >> 3);
    FILE *out = fopen(target, "wb");
    if (out == NULL) return -1;
    bool written = fwrite(bytes, 1, length, out) == length;
    return fclose(out) == 0 && written ? 0 : -1;
}

static int make_inputs(void **state)
{
    (void)state;
    snprintf(folder, sizeof(folder), "/tmp/reelay-preview-XXXXXX");
    if (mkdtemp(folder) == NULL) return -1;
    make(
        "-f lavfi -i testsrc=size=320x240:rate=25:duration=3 -c:v libx264 -preset ultrafast -pix_fmt yuv420p "
        "-movflags +faststart v.mp4");
    make("-f lavfi -i testsrc=size=180x320:rate=25:duration=0.4 -c:v libx264 -preset ultrafast "
         "-pix_fmt yuv420p -movflags +faststart p.mp4");
    snprintf(video, sizeof(video), "%s/v.mp4", folder);
    snprintf(portrait, sizeof(portrait), "%s/p.mp4", folder);
    snprintf(broken, sizeof(broken), "%s/broken.mp4", folder);
    snprintf(poster, sizeof(poster), "%s/poster.jpg", folder);
    snprintf(sheet, sizeof(sheet), "%s/spritesheet.jpg", folder);
    return break_frames(video, broken);
}

static int remove_inputs(void **state)
{
    (void)state;
    char command[128];
    snprintf(command, sizeof(command), "rm -rf '%s'", folder);
    return system(command) == 0 ? 0 : -1;
}

static void sizes_follow_the_documented_grid(void **state)
{
    (void)state;
    media_preview_sizes s;
    assert_int_equal(media_preview_measure(1280, 720, &s), 0);
    assert_int_equal(s.poster_width, 1280);
    assert_int_equal(s.poster_height, 720);
    assert_int_equal(s.tile_width, 160);
    assert_int_equal(s.tile_height, 90);
    assert_int_equal(s.sheet_width, 800);
    assert_int_equal(s.sheet_height, 450);
    assert_int_equal(media_preview_measure(720, 1280, &s), 0);
    assert_int_equal(s.poster_width, 720);
    assert_int_equal(s.tile_height, 284);
    assert_int_equal(s.sheet_height, 1420);
    assert_int_equal(media_preview_measure(1920, 1080, &s), 0); /* scaled down to 1280 on the long side */
    assert_int_equal(s.poster_width, 1280);
    assert_int_equal(s.poster_height, 720);
    assert_int_equal(media_preview_measure(1080, 1920, &s), 0);
    assert_int_equal(s.poster_width, 720);
    assert_int_equal(s.poster_height, 1280);
    assert_int_equal(media_preview_measure(161, 91, &s), 0); /* odd sides come out even */
    assert_int_equal(s.poster_width, 162);
    assert_int_equal(s.poster_height, 92);
    /* hostile shapes stay bounded */
    assert_int_equal(media_preview_measure(16384, 2, &s), 0);
    assert_int_equal(s.tile_height, 2);
    assert_int_equal(s.poster_height, 2);
    assert_int_equal(media_preview_measure(2, 16384, &s), 0);
    assert_int_equal(s.tile_height, MEDIA_SPRITESHEET_TILE_MAX_HEIGHT);
    assert_int_equal(s.poster_width, 2);
    assert_int_equal(s.poster_height, 1280);
    assert_int_equal(media_preview_measure(0, 720, &s), -1);
    assert_int_equal(media_preview_measure(1280, -1, &s), -1);
    assert_int_equal(media_preview_measure(16385, 720, &s), -1);
}

/* What ffprobe says of path's first stream: "codec,width,height". */
static void ffprobe(const char *path, char *out, size_t out_size)
{
    char command[512];
    snprintf(command, sizeof(command),
             "ffprobe -v error -select_streams v:0 -show_entries stream=codec_name,width,height -of csv=p=0 "
             "'%s'",
             path);
    FILE *pipe = popen(command, "r");
    assert_non_null(pipe);
    out[0] = '\0';
    if (fgets(out, (int)out_size, pipe) == NULL) out[0] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    pclose(pipe);
}

static int previews_of(const char *path, int *made, char *err, size_t err_size)
{
    media_info info;
    char reason[256];
    if (media_probe(path, &info, reason, sizeof(reason)) != 0 || !info.has_video)
        fail_msg("%s does not probe as a video: %s", path, reason);
    unlink(poster);
    unlink(sheet);
    media_preview_job job = {.video_path = path,
                             .info = &info,
                             .duration = info.duration,
                             .poster_path = poster,
                             .spritesheet_path = sheet,
                             .work_dir = folder,
                             .timeout_seconds = 60};
    return media_make_previews(&job, made, err, err_size);
}

static void a_real_video_gives_two_jpegs(void **state)
{
    (void)state;
    int made = -1;
    char err[1024] = "", seen[128];
    if (previews_of(video, &made, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_int_equal(made, MEDIA_PREVIEW_POSTER | MEDIA_PREVIEW_SPRITESHEET);
    ffprobe(poster, seen, sizeof(seen));
    assert_string_equal(seen, "mjpeg,320,240");
    ffprobe(sheet, seen, sizeof(seen));
    assert_string_equal(seen, "mjpeg,800,600"); /* 5x5 tiles of 160x120 */

    /* a clip of 10 frames, portrait: the grid keeps its shape (padded) and the poster its middle frame */
    if (previews_of(portrait, &made, err, sizeof(err)) != 0) fail_msg("%s", err);
    ffprobe(poster, seen, sizeof(seen));
    assert_string_equal(seen, "mjpeg,180,320");
    ffprobe(sheet, seen, sizeof(seen));
    assert_string_equal(seen, "mjpeg,800,1420"); /* 5x5 tiles of 160x284 */
}

static void frames_that_do_not_decode_give_no_previews(void **state)
{
    (void)state;
    int made = -1;
    char err[1024] = "";
    assert_int_equal(previews_of(broken, &made, err, sizeof(err)), -1);
    assert_int_equal(made, 0);
    assert_true(strlen(err) > 0);
    struct stat st;
    assert_int_not_equal(stat(poster, &st), 0); /* nothing half-made is left behind */
    assert_int_not_equal(stat(sheet, &st), 0);
}

static void refuses_what_is_not_a_video_container(void **state)
{
    (void)state;
    media_info info;
    char err[512] = "";
    assert_int_equal(media_probe(video, &info, err, sizeof(err)), 0);
    media_preview_job job = {.video_path = video,
                             .info = &info,
                             .duration = info.duration,
                             .poster_path = poster,
                             .spritesheet_path = sheet,
                             .work_dir = folder};
    snprintf(info.container, sizeof(info.container), "hls");
    int made = -1;
    assert_int_equal(media_make_previews(&job, &made, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "hls"));
    assert_int_equal(made, 0);
    assert_int_equal(media_probe(video, &info, err, sizeof(err)), 0);
    job.duration = 0; /* no length: no spritesheet to spread */
    assert_int_equal(media_make_previews(&job, &made, err, sizeof(err)), -1);
    job.duration = info.duration;
    job.video_path = "/nonexistent/video.mp4";
    assert_int_equal(media_make_previews(&job, &made, err, sizeof(err)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sizes_follow_the_documented_grid),
        cmocka_unit_test(a_real_video_gives_two_jpegs),
        cmocka_unit_test(frames_that_do_not_decode_give_no_previews),
        cmocka_unit_test(refuses_what_is_not_a_video_container),
    };
    return cmocka_run_group_tests(tests, make_inputs, remove_inputs);
}
