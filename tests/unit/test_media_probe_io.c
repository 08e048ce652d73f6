/* test_media_probe_io.c — probing through caller-supplied reads: the same answers as media_probe for
 * MP4 (index at the end), MOV, MP3, WAV, PNG and JPEG made with the ffmpeg program; only part of a
 * moov-at-end MP4 read; garbage, text, playlists and empty files refused; read failures, the byte budget,
 * the deadline and a lying read function reported as such. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "media/media.h"

static char folder[64];

typedef struct memory_file {
    unsigned char *data;
    int64_t size;
    /* what the probe asked for */
    uint64_t bytes_served;
    unsigned reads;
    int64_t highest_offset;
    /* faults */
    int64_t fail_after; /* read_at fails once this many bytes were served (-1: never) */
    int sleep_ms;       /* per read */
    bool lie;           /* claims more bytes than asked for */
} memory_file;

static void make(const char *args)
{
    char command[1024];
    snprintf(command, sizeof(command), "cd '%s' && ffmpeg -hide_banner -loglevel error -y %s", folder, args);
    if (system(command) != 0) fail_msg("ffmpeg failed: %s", args);
}

static void path_of(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", folder, name);
}

static memory_file load(const char *name)
{
    char path[256];
    path_of(path, sizeof(path), name);
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    assert_int_equal(fseek(file, 0, SEEK_END), 0);
    long size = ftell(file);
    assert_true(size >= 0);
    rewind(file);
    memory_file m = {.size = size, .fail_after = -1, .highest_offset = -1};
    m.data = malloc(size > 0 ? (size_t)size : 1);
    assert_non_null(m.data);
    assert_int_equal(fread(m.data, 1, (size_t)size, file), (size_t)size);
    fclose(file);
    return m;
}

static ssize_t memory_read_at(void *context, int64_t offset, void *buffer, size_t length)
{
    memory_file *m = context;
    m->reads++;
    if (m->sleep_ms > 0) {
        struct timespec pause = {.tv_nsec = (long)m->sleep_ms * 1000000};
        nanosleep(&pause, NULL);
    }
    if (m->fail_after >= 0 && m->bytes_served >= (uint64_t)m->fail_after) return -1;
    if (m->lie) return (ssize_t)length + 1;
    if (offset >= m->size) return 0;
    size_t count = (size_t)(m->size - offset) < length ? (size_t)(m->size - offset) : length;
    memcpy(buffer, m->data + offset, count);
    m->bytes_served += count;
    if (offset + (int64_t)count - 1 > m->highest_offset) m->highest_offset = offset + (int64_t)count - 1;
    return (ssize_t)count;
}

static int probe_memory(memory_file *m, const char *hint, media_info *info, char *err, size_t err_size)
{
    media_source source = {.read_at = memory_read_at, .context = m, .size = m->size};
    return media_probe_io(&source, hint, info, err, err_size);
}

static int make_inputs(void **state)
{
    (void)state;
    snprintf(folder, sizeof(folder), "/tmp/reelay-probe-io-XXXXXX");
    if (mkdtemp(folder) == NULL) return -1;
    /* the muxer's default puts the index (moov) after the media data */
    make("-f lavfi -i testsrc2=size=320x240:rate=25:duration=3 -f lavfi -i sine=frequency=300:duration=3 "
         "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest end.mp4");
    make("-f lavfi -i testsrc2=size=320x240:rate=25:duration=2 -f lavfi -i sine=frequency=300:duration=2 "
         "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest clip.mov");
    make("-f lavfi -i sine=frequency=500:duration=2 -c:a libmp3lame -b:a 64k a.mp3");
    make("-f lavfi -i sine=frequency=500:duration=3 a.wav");
    make("-f lavfi -i testsrc=size=90x120 -frames:v 1 p.png");
    make("-f lavfi -i testsrc=size=64x48 -frames:v 1 p.jpg");
    char path[256];
    path_of(path, sizeof(path), "garbage.bin");
    FILE *f = fopen(path, "w");
    if (f == NULL) return -1;
    for (int i = 0; i < 5000; i++)
        fputc((i * 7919) & 0xff, f);
    fclose(f);
    path_of(path, sizeof(path), "notes.txt");
    f = fopen(path, "w");
    if (f == NULL) return -1;
    for (int i = 0; i < 2000; i++)
        fputs("not a video, just words. ", f);
    fclose(f);
    path_of(path, sizeof(path), "list.m3u8");
    f = fopen(path, "w");
    if (f == NULL) return -1;
    fputs("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXTINF:10,\n"
          "http://127.0.0.1:9/x.ts\n#EXT-X-ENDLIST\n",
          f);
    fclose(f);
    path_of(path, sizeof(path), "empty.mp4");
    f = fopen(path, "w");
    if (f == NULL) return -1;
    fclose(f);
    return 0;
}

static int remove_inputs(void **state)
{
    (void)state;
    char command[128];
    snprintf(command, sizeof(command), "rm -rf '%s'", folder);
    return system(command) == 0 ? 0 : -1;
}

/* The offset of the first top-level MP4 box of that type, or -1. */
static int64_t mp4_box(const memory_file *m, const char *type)
{
    int64_t offset = 0;
    while (offset + 8 <= m->size) {
        const unsigned char *p = m->data + offset;
        uint64_t size = ((uint64_t)p[0] << 24) | ((uint64_t)p[1] << 16) | ((uint64_t)p[2] << 8) | p[3];
        if (memcmp(p + 4, type, 4) == 0) return offset;
        if (size < 8) return -1;
        offset += (int64_t)size;
    }
    return -1;
}

/* ---- cases ---- */

static void same_answers_as_media_probe(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        bool video, audio, image;
    } files[] = {
        {"end.mp4", true, true, false}, {"clip.mov", true, true, false}, {"a.mp3", false, true, false},
        {"a.wav", false, true, false},  {"p.png", false, false, true},   {"p.jpg", false, false, true},
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[256], err[256] = "";
        path_of(path, sizeof(path), files[i].name);
        media_info expected, got;
        assert_int_equal(media_probe(path, &expected, err, sizeof(err)), 0);
        memory_file m = load(files[i].name);
        int rc = probe_memory(&m, files[i].name, &got, err, sizeof(err));
        if (rc != MEDIA_PROBE_OK) fail_msg("%s: %d %s", files[i].name, rc, err);
        assert_string_equal(got.container, expected.container);
        assert_string_equal(got.video_codec, expected.video_codec);
        assert_string_equal(got.audio_codec, expected.audio_codec);
        assert_int_equal(got.has_video, files[i].video);
        assert_int_equal(got.has_audio, files[i].audio);
        assert_int_equal(got.is_image, files[i].image);
        assert_int_equal(got.has_video, expected.has_video);
        assert_int_equal(got.has_audio, expected.has_audio);
        assert_int_equal(got.is_image, expected.is_image);
        assert_int_equal(got.width, expected.width);
        assert_int_equal(got.height, expected.height);
        assert_true(got.duration > expected.duration - 1e-6 && got.duration < expected.duration + 1e-6);
        assert_int_equal(got.size, m.size);
        assert_int_equal(expected.size, m.size);
        free(m.data);
    }
}

static void moov_at_the_end_is_found_by_seeking(void **state)
{
    (void)state;
    memory_file m = load("end.mp4");
    int64_t mdat = mp4_box(&m, "mdat"), moov = mp4_box(&m, "moov");
    assert_true(mdat > 0 && moov > mdat); /* the index really is at the end */
    media_info info;
    char err[256] = "";
    int rc = probe_memory(&m, "end.mp4", &info, err, sizeof(err));
    if (rc != MEDIA_PROBE_OK) fail_msg("%d %s", rc, err);
    assert_true(info.duration > 2.9 && info.duration < 3.1);
    assert_int_equal(info.width, 320);
    assert_true(m.highest_offset >= moov); /* it went to the end for the index … */
    print_message("end.mp4: %lld bytes, %llu read in %u reads\n", (long long)m.size,
                  (unsigned long long)m.bytes_served, m.reads);
    free(m.data);

    /* … and a stream that cannot seek is read forward to the index */
    m = load("end.mp4");
    media_source source = {.read_at = memory_read_at, .context = &m, .size = m.size, .forward_only = true};
    rc = media_probe_io(&source, "end.mp4", &info, err, sizeof(err));
    if (rc != MEDIA_PROBE_OK) fail_msg("forward only: %d %s", rc, err);
    assert_true(info.duration > 2.9 && info.duration < 3.1);
    free(m.data);
}

static void garbage_playlists_and_empty_files_are_not_media(void **state)
{
    (void)state;
    /* libavformat alone would call a .txt file an ANSI-art video */
    const char *names[] = {"garbage.bin", "list.m3u8", "empty.mp4", "notes.txt"};
    const char *hints[] = {"garbage.mp4", "list.m3u8", "empty.mp4", "notes.txt"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        memory_file m = load(names[i]);
        media_info info;
        char err[256] = "";
        int rc = probe_memory(&m, hints[i], &info, err, sizeof(err));
        if (rc != MEDIA_PROBE_NOT_MEDIA) fail_msg("%s: %d %s", names[i], rc, err);
        assert_true(strlen(err) > 0);
        assert_int_equal(info.size, 0);
        assert_false(info.has_audio || info.has_video || info.is_image);
        free(m.data);
        char path[256];
        path_of(path, sizeof(path), names[i]);
        assert_int_equal(media_probe(path, &info, err, sizeof(err)), -1);
    }
    /* a hint that looks like an image sequence or a URL is only a name */
    memory_file m = load("p.png");
    media_info info;
    char err[256] = "";
    const char *odd_hints[] = {
        "img%03d.png", "https://example.com/a/b/*.png?x=%d#y", "", NULL, "../../etc/passwd", ".png"};
    for (size_t i = 0; i < sizeof(odd_hints) / sizeof(odd_hints[0]); i++) {
        m.reads = 0;
        int rc = probe_memory(&m, odd_hints[i], &info, err, sizeof(err));
        if (rc != MEDIA_PROBE_OK) fail_msg("hint %zu: %d %s", i, rc, err);
        assert_true(info.is_image);
    }
    free(m.data);
}

static void failures_and_limits_are_reported_as_such(void **state)
{
    (void)state;
    media_info info;
    char err[256];
    memory_file m = load("end.mp4");
    m.fail_after = 50000;
    assert_int_equal(probe_memory(&m, "end.mp4", &info, err, sizeof(err)), MEDIA_PROBE_READ_FAILED);
    assert_string_equal(err, "the file could not be read");
    assert_int_equal(info.duration, 0);

    m.fail_after = -1;
    m.bytes_served = 0;
    media_source source = {.read_at = memory_read_at, .context = &m, .size = m.size, .max_read_bytes = 4096};
    assert_int_equal(media_probe_io(&source, "end.mp4", &info, err, sizeof(err)), MEDIA_PROBE_TOO_MANY_BYTES);
    assert_string_equal(err, "probing it needed more than 4096 bytes");
    assert_true(m.bytes_served <= 4096);

    m.sleep_ms = 100;
    source = (media_source){.read_at = memory_read_at, .context = &m, .size = m.size, .timeout_ms = 150};
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(media_probe_io(&source, "end.mp4", &info, err, sizeof(err)), MEDIA_PROBE_TIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &end);
    long elapsed_ms = (end.tv_sec - start.tv_sec) * 1000 + (end.tv_nsec - start.tv_nsec) / 1000000;
    assert_true(elapsed_ms >= 140 && elapsed_ms < 2000);
    assert_string_equal(err, "probing it took more than 150 ms");

    m.sleep_ms = 0;
    m.lie = true;
    assert_int_equal(probe_memory(&m, "end.mp4", &info, err, sizeof(err)), MEDIA_PROBE_READ_FAILED);
    free(m.data);

    assert_int_equal(media_probe_io(NULL, "x.mp4", &info, err, sizeof(err)), MEDIA_PROBE_READ_FAILED);
    assert_int_equal(media_probe_io(NULL, "x.mp4", &info, NULL, 0), MEDIA_PROBE_READ_FAILED);
}

static void unknown_size_still_probes(void **state)
{
    (void)state;
    memory_file m = load("a.wav");
    media_source source = {.read_at = memory_read_at, .context = &m, .size = -1};
    media_info info;
    char err[256] = "";
    int rc = media_probe_io(&source, NULL, &info, err, sizeof(err));
    if (rc != MEDIA_PROBE_OK) fail_msg("%d %s", rc, err);
    /* without a size libavformat cannot check the data chunk against the file: the duration may be 0 */
    assert_true(info.has_audio && info.duration >= 0 && info.duration < 3.1);
    assert_string_equal(info.container, "wav");
    assert_int_equal(info.size, 0);
    free(m.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_answers_as_media_probe),
        cmocka_unit_test(moov_at_the_end_is_found_by_seeking),
        cmocka_unit_test(garbage_playlists_and_empty_files_are_not_media),
        cmocka_unit_test(failures_and_limits_are_reported_as_such),
        cmocka_unit_test(unknown_size_still_probes),
    };
    return cmocka_run_group_tests(tests, make_inputs, remove_inputs);
}
