/* test_engine_input_probe.c — probing inputs by URL against a loopback server (tests/unit/range_server.h)
 * serving real media made with the ffmpeg program: a moov-at-end MP4 probed from a fraction of its
 * bytes, WAV, MP3, MOV, PNG, JPEG, a non-media file; every failure kind; the cache (hits, failures,
 * expiry, eviction), one shared probe for concurrent callers, and the local-file hook. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>

#include "engine/input_probe.h"
#include "range_server.h"

static char folder[64];
static range_server server;

static void make(const char *args)
{
    char command[1024];
    snprintf(command, sizeof(command), "cd '%s' && ffmpeg -hide_banner -loglevel error -y %s", folder, args);
    if (system(command) != 0) fail_msg("ffmpeg failed: %s", args);
}

/* The whole file, or NULL; *size set. */
static unsigned char *load(const char *name, size_t *size)
{
    if (strchr(name, '/') != NULL || strstr(name, "..") != NULL) return NULL;
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", folder, name);
    FILE *file = fopen(path, "rb");
    if (file == NULL) return NULL;
    unsigned char *data = NULL;
    long length = -1;
    if (fseek(file, 0, SEEK_END) == 0 && (length = ftell(file)) >= 0 && fseek(file, 0, SEEK_SET) == 0) {
        data = malloc(length > 0 ? (size_t)length : 1);
        if (data != NULL && fread(data, 1, (size_t)length, file) != (size_t)length) {
            free(data);
            data = NULL;
        }
    }
    fclose(file);
    *size = length > 0 ? (size_t)length : 0;
    return data;
}

/* /m/<file> with ranges, /norange/<file> without, /slow/<file> after 300 ms, /stall answers nothing,
 * /redirect-ip/<file> to the same file by address, anything else 404. */
static bool answer(int fd, const range_server_request *request, void *context)
{
    (void)context;
    const char *path = request->path;
    static const char *const prefixes[] = {"/m/", "/norange/", "/slow/"};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t length = strlen(prefixes[i]);
        if (strncmp(path, prefixes[i], length) != 0) continue;
        size_t size = 0;
        unsigned char *data = load(path + length, &size);
        if (data == NULL) break;
        if (i == 2) {
            struct timespec pause = {.tv_nsec = 300 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
        range_server_send_body(&server, fd, request, data, size, "application/octet-stream", i != 1);
        free(data);
        return true;
    }
    if (strcmp(path, "/stall") == 0) {
        range_server_wait_for_close(fd, 5000);
        return false;
    }
    if (strncmp(path, "/redirect-ip/", 13) == 0) {
        char head[512];
        snprintf(head, sizeof(head),
                 "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%d/m/%s\r\nContent-Length: 0\r\n\r\n",
                 server.port, path + 13);
        range_server_send_text(fd, head);
        return true;
    }
    range_server_send_text(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    return true;
}

static int setup(void **state)
{
    (void)state;
    unsetenv("REELAY_FETCH_ALLOW");
    snprintf(folder, sizeof(folder), "/tmp/reelay-input-probe-XXXXXX");
    if (mkdtemp(folder) == NULL) return -1;
    /* big enough that the fraction read means something; the muxer's default puts moov at the end */
    make("-f lavfi -i testsrc2=size=1280x720:rate=30:duration=3 -f lavfi -i sine=frequency=300:duration=3 "
         "-c:v libx264 -preset ultrafast -crf 12 -pix_fmt yuv420p -c:a aac -shortest big.mp4");
    make("-f lavfi -i testsrc2=size=320x240:rate=25:duration=2 -c:v libx264 -preset ultrafast -pix_fmt "
         "yuv420p "
         "clip.mov");
    make("-f lavfi -i sine=frequency=500:duration=3 a.wav");
    make("-f lavfi -i sine=frequency=500:duration=2 -c:a libmp3lame -b:a 64k a.mp3");
    make("-f lavfi -i testsrc=size=90x120 -frames:v 1 p.png");
    make("-f lavfi -i testsrc=size=64x48 -frames:v 1 p.jpg");
    char path[256];
    snprintf(path, sizeof(path), "%s/notes.txt", folder);
    FILE *file = fopen(path, "w");
    if (file == NULL) return -1;
    for (int i = 0; i < 2000; i++)
        fputs("not a video, just words. ", file);
    fclose(file);
    return range_server_start(&server, answer, NULL);
}

static int teardown(void **state)
{
    (void)state;
    range_server_stop(&server);
    char command[128];
    snprintf(command, sizeof(command), "rm -rf '%s'", folder);
    return system(command) == 0 ? 0 : -1;
}

static fetch_policy allow_loopback;

static input_probe_config test_config(input_probe_cache *cache)
{
    fetch_policy_init(&allow_loopback);
    allow_loopback.allow_list = "127.0.0.1";
    return (input_probe_config){.policy = &allow_loopback, .timeout_ms = 10000, .cache = cache};
}

static void url_for(char *out, size_t size, const char *path)
{
    snprintf(out, size, "http://127.0.0.1:%d%s", server.port, path);
}

static int probe_path(const input_probe_config *cfg, const char *path, media_info *info,
                      input_probe_error *err)
{
    char url[256];
    url_for(url, sizeof(url), path);
    return input_probe(cfg, url, info, err);
}

static void expect_ok(const input_probe_config *cfg, const char *path, media_info *info)
{
    input_probe_error err;
    if (probe_path(cfg, path, info, &err) != 0)
        fail_msg("%s: %s: %s", path, input_probe_kind_name(err.kind), err.message);
}

static void expect_failure(const input_probe_config *cfg, const char *path, input_probe_kind kind,
                           fetch_result fetch)
{
    media_info info;
    input_probe_error err;
    assert_int_equal(probe_path(cfg, path, &info, &err), -1);
    if (err.kind != kind || err.fetch != fetch)
        fail_msg("%s: %s (%s): %s", path, input_probe_kind_name(err.kind), fetch_result_name(err.fetch),
                 err.message);
    assert_true(err.message[0] != '\0');
    assert_null(strstr(err.message, "http://"));
    assert_int_equal(info.size, 0);
    assert_false(info.has_video || info.has_audio || info.is_image);
}

/* ---- cases ---- */

static void moov_at_end_mp4_is_probed_from_a_fraction_of_its_bytes(void **state)
{
    (void)state;
    size_t size = 0;
    unsigned char *data = load("big.mp4", &size);
    assert_non_null(data);
    free(data);
    input_probe_config cfg = test_config(NULL);
    range_server_reset_counters(&server);
    media_info info;
    expect_ok(&cfg, "/m/big.mp4", &info);
    assert_true(info.has_video && info.has_audio && !info.is_image);
    assert_int_equal(info.width, 1280);
    assert_int_equal(info.height, 720);
    assert_string_equal(info.video_codec, "h264");
    assert_string_equal(info.audio_codec, "aac");
    assert_true(info.duration > 2.9 && info.duration < 3.1);
    assert_int_equal(info.size, (int64_t)size);
    long long sent = atomic_load(&server.bytes_sent);
    print_message("moov-at-end MP4: %zu bytes, %lld read (%.1f%%) in %d requests on %d connection(s)\n", size,
                  sent, 100.0 * (double)sent / (double)size, atomic_load(&server.requests),
                  atomic_load(&server.connections));
    assert_true(sent * 4 < (long long)size);
    assert_int_equal(atomic_load(&server.connections), 1);
}

static void formats_are_recognised(void **state)
{
    (void)state;
    input_probe_config cfg = test_config(NULL);
    media_info info;
    expect_ok(&cfg, "/m/a.wav", &info);
    assert_true(info.has_audio && !info.has_video && info.duration > 2.9 && info.duration < 3.1);
    assert_string_equal(info.container, "wav");
    expect_ok(&cfg, "/m/a.mp3", &info);
    assert_true(info.has_audio && !info.has_video && info.duration > 1.9 && info.duration < 2.2);
    assert_string_equal(info.audio_codec, "mp3");
    expect_ok(&cfg, "/m/clip.mov", &info);
    assert_true(info.has_video && info.duration > 1.9 && info.duration < 2.1 && info.width == 320);
    expect_ok(&cfg, "/m/p.png", &info);
    assert_true(info.is_image && !info.has_video && info.width == 90 && info.height == 120 &&
                info.duration == 0);
    expect_ok(&cfg, "/m/p.jpg", &info);
    assert_true(info.is_image && info.width == 64 && info.height == 48);
    /* a server without ranges: a small file is read whole */
    expect_ok(&cfg, "/norange/a.wav", &info);
    assert_true(info.has_audio && info.duration > 2.9);
    expect_ok(&cfg, "/norange/big.mp4", &info); /* under the 16 MiB it may read */
    assert_true(info.has_video && info.duration > 2.9);
    expect_failure(&cfg, "/m/notes.txt", INPUT_PROBE_NOT_MEDIA, FETCH_OK);
}

static void failures_have_kinds(void **state)
{
    (void)state;
    input_probe_config cfg = test_config(NULL);
    expect_failure(&cfg, "/m/nothing.mp4", INPUT_PROBE_UNREACHABLE, FETCH_HTTP_STATUS);

    fetch_policy strict;
    fetch_policy_init(&strict);
    strict.allow_list = NULL;
    input_probe_config blocked = cfg;
    blocked.policy = &strict;
    expect_failure(&blocked, "/m/a.wav", INPUT_PROBE_BLOCKED, FETCH_BLOCKED);
    fetch_policy by_name = allow_loopback;
    by_name.allow_list = "localhost";
    blocked.policy = &by_name;
    media_info info;
    input_probe_error err;
    char url[256];
    snprintf(url, sizeof(url), "http://localhost:%d/redirect-ip/a.wav", server.port);
    assert_int_equal(input_probe(&blocked, url, &info, &err), -1);
    assert_int_equal(err.kind, INPUT_PROBE_BLOCKED);

    assert_int_equal(input_probe(&cfg, "ftp://127.0.0.1/a.wav", &info, &err), -1);
    assert_int_equal(err.kind, INPUT_PROBE_INVALID_URL);
    assert_int_equal(input_probe(&cfg, "", &info, &err), -1);
    assert_int_equal(err.kind, INPUT_PROBE_INVALID_URL);
    int port = 0;
    int closed = range_server_listener(&port);
    assert_true(closed >= 0);
    close(closed);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/a.wav", port);
    assert_int_equal(input_probe(&cfg, url, &info, &err), -1);
    assert_int_equal(err.kind, INPUT_PROBE_UNREACHABLE);
    assert_int_equal(err.fetch, FETCH_UNREACHABLE);

    /* too large: over the policy's size, or more to read than the budget allows */
    fetch_policy small = allow_loopback;
    small.max_bytes = 100000;
    input_probe_config limited = cfg;
    limited.policy = &small;
    expect_failure(&limited, "/m/big.mp4", INPUT_PROBE_TOO_LARGE, FETCH_TOO_LARGE);
    limited = cfg;
    limited.max_read_bytes = 200000; /* moov past what a server without ranges may send */
    expect_failure(&limited, "/norange/big.mp4", INPUT_PROBE_TOO_LARGE, FETCH_TOO_LARGE);

    input_probe_config hurried = cfg;
    hurried.timeout_ms = 300;
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    expect_failure(&hurried, "/stall", INPUT_PROBE_TIMEOUT, FETCH_TIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &end);
    long elapsed_ms = (end.tv_sec - start.tv_sec) * 1000 + (end.tv_nsec - start.tv_nsec) / 1000000;
    assert_true(elapsed_ms < 3000);

    assert_string_equal(input_probe_kind_name(INPUT_PROBE_NOT_MEDIA), "not_media");
    assert_string_equal(input_probe_kind_name(INPUT_PROBE_TOO_LARGE), "too_large");
}

static void cache_answers_repeats_without_asking_the_server(void **state)
{
    (void)state;
    input_probe_cache *cache = input_probe_cache_create(0, 0, 0);
    assert_non_null(cache);
    input_probe_config cfg = test_config(cache);
    media_info first, again;
    range_server_reset_counters(&server);
    expect_ok(&cfg, "/m/big.mp4", &first);
    int requests = atomic_load(&server.requests);
    assert_true(requests > 0);
    expect_ok(&cfg, "/m/big.mp4", &again);
    assert_int_equal(atomic_load(&server.requests), requests);
    assert_memory_equal(&first, &again, sizeof(first));

    /* failures are remembered too */
    expect_failure(&cfg, "/m/nothing.mp4", INPUT_PROBE_UNREACHABLE, FETCH_HTTP_STATUS);
    requests = atomic_load(&server.requests);
    expect_failure(&cfg, "/m/nothing.mp4", INPUT_PROBE_UNREACHABLE, FETCH_HTTP_STATUS);
    expect_failure(&cfg, "/m/notes.txt", INPUT_PROBE_NOT_MEDIA, FETCH_OK);
    expect_failure(&cfg, "/m/notes.txt", INPUT_PROBE_NOT_MEDIA, FETCH_OK);
    assert_int_equal(atomic_load(&server.requests), requests + 1);
    assert_int_equal(input_probe_cache_count(cache), 3);
    input_probe_cache_destroy(cache);
}

static void cache_entries_expire_and_are_evicted(void **state)
{
    (void)state;
    input_probe_cache *cache = input_probe_cache_create(2, 150, 150);
    assert_non_null(cache);
    input_probe_config cfg = test_config(cache);
    media_info info;
    range_server_reset_counters(&server);
    expect_ok(&cfg, "/m/a.wav", &info);
    expect_ok(&cfg, "/m/a.wav", &info);
    assert_int_equal(atomic_load(&server.connections), 1); /* one connection per probe */
    struct timespec pause = {.tv_nsec = 200 * 1000 * 1000};
    nanosleep(&pause, NULL);
    expect_ok(&cfg, "/m/a.wav", &info); /* expired: asked again */
    assert_int_equal(atomic_load(&server.connections), 2);
    input_probe_cache_destroy(cache);

    cache = input_probe_cache_create(2, 0, 0);
    assert_non_null(cache);
    cfg.cache = cache;
    expect_ok(&cfg, "/m/a.wav", &info);
    expect_ok(&cfg, "/m/p.png", &info);
    expect_ok(&cfg, "/m/a.wav", &info); /* a.wav is now the most recent */
    expect_ok(&cfg, "/m/p.jpg", &info); /* evicts p.png, the least recent */
    assert_int_equal(input_probe_cache_count(cache), 2);
    int connections = atomic_load(&server.connections);
    expect_ok(&cfg, "/m/a.wav", &info);
    assert_int_equal(atomic_load(&server.connections), connections);
    expect_ok(&cfg, "/m/p.png", &info);
    assert_int_equal(atomic_load(&server.connections), connections + 1);
    assert_true(info.is_image);
    input_probe_cache_destroy(cache);
    input_probe_cache_destroy(NULL);
}

typedef struct probe_thread {
    const input_probe_config *cfg;
    int rc;
    media_info info;
} probe_thread;

static void *probe_in_thread(void *argument)
{
    probe_thread *t = argument;
    char url[256];
    url_for(url, sizeof(url), "/slow/a.wav");
    input_probe_error err;
    t->rc = input_probe(t->cfg, url, &t->info, &err);
    return NULL;
}

static void concurrent_probes_of_one_url_share_one_probe(void **state)
{
    (void)state;
    input_probe_cache *cache = input_probe_cache_create(0, 0, 0);
    assert_non_null(cache);
    input_probe_config cfg = test_config(cache);
    range_server_reset_counters(&server);
    enum { THREADS = 6 };
    pthread_t threads[THREADS];
    probe_thread probes[THREADS];
    for (int i = 0; i < THREADS; i++) {
        probes[i] = (probe_thread){.cfg = &cfg, .rc = 99};
        assert_int_equal(pthread_create(&threads[i], NULL, probe_in_thread, &probes[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_int_equal(probes[i].rc, 0);
        assert_true(probes[i].info.has_audio && probes[i].info.duration > 2.9);
    }
    assert_int_equal(atomic_load(&server.connections), 1);
    input_probe_cache_destroy(cache);
}

static bool resolve_uploads(void *context, const char *url, char *path, size_t path_size)
{
    const char *prefix = context;
    size_t length = strlen(prefix);
    if (strncmp(url, prefix, length) != 0) return false;
    return snprintf(path, path_size, "%s/%s", folder, url + length) < (int)path_size;
}

static void local_files_are_probed_where_they_lie(void **state)
{
    (void)state;
    input_probe_cache *cache = input_probe_cache_create(0, 0, 0);
    assert_non_null(cache);
    input_probe_config cfg = test_config(cache);
    cfg.policy = NULL; /* the guard would refuse 127.0.0.1: local files never meet it */
    cfg.resolve_local = resolve_uploads;
    char prefix[128];
    snprintf(prefix, sizeof(prefix), "http://127.0.0.1:%d/v1/files/uploads/", server.port);
    cfg.resolve_context = prefix;
    range_server_reset_counters(&server);
    media_info info;
    expect_ok(&cfg, "/v1/files/uploads/a.wav", &info);
    assert_true(info.has_audio && info.duration > 2.9 && info.size > 0);
    expect_ok(&cfg, "/v1/files/uploads/big.mp4", &info);
    assert_true(info.has_video && info.width == 1280);
    expect_failure(&cfg, "/v1/files/uploads/notes.txt", INPUT_PROBE_NOT_MEDIA, FETCH_OK);
    expect_failure(&cfg, "/v1/files/uploads/gone.mp4", INPUT_PROBE_UNREACHABLE, FETCH_OK);
    assert_int_equal(atomic_load(&server.connections), 0);
    assert_int_equal(input_probe_cache_count(cache), 0);
    /* other URLs still go through the guard */
    expect_failure(&cfg, "/m/a.wav", INPUT_PROBE_BLOCKED, FETCH_BLOCKED);
    input_probe_cache_destroy(cache);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(moov_at_end_mp4_is_probed_from_a_fraction_of_its_bytes),
        cmocka_unit_test(formats_are_recognised),
        cmocka_unit_test(failures_have_kinds),
        cmocka_unit_test(cache_answers_repeats_without_asking_the_server),
        cmocka_unit_test(cache_entries_expire_and_are_evicted),
        cmocka_unit_test(concurrent_probes_of_one_url_share_one_probe),
        cmocka_unit_test(local_files_are_probed_where_they_lie),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
