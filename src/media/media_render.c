/* media_render.c — the sandbox renderer: builds an argument vector for the `ffmpeg` program (never a
 * shell, never user text inside a filter graph), runs it in the job's work folder, follows its
 * -progress output, and stops it on cancel or timeout. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "media/media.h"
#include "media/media_internal.h"
#include "util/log.h"

extern char **environ;

/* The ffmpeg program; set once before renders start (media_render_set_ffmpeg). */
static const char *ffmpeg_program = "ffmpeg";

void media_render_set_ffmpeg(const char *program)
{
    ffmpeg_program = program != NULL ? program : "ffmpeg";
}

#define FONT_FILE "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
enum {
    MAX_ARGS = 96,
    ARG_TEXT = 1024,
    FPS = 25,
    BOUNCE_MAX_SECONDS = 10,
    CARD_COLUMNS = 48,
    CARD_LINES = 12
};

/* The argument vector under construction; every string is owned by the builder. */
typedef struct argv_builder {
    char *args[MAX_ARGS + 1];
    int count;
    bool overflow;
} argv_builder;

static void arg(argv_builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void arg(argv_builder *b, const char *fmt, ...)
{
    if (b->count >= MAX_ARGS) {
        b->overflow = true;
        return;
    }
    char text[ARG_TEXT * 2];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(text)) {
        b->overflow = true;
        return;
    }
    b->args[b->count] = strdup(text);
    if (b->args[b->count] == NULL)
        b->overflow = true;
    else
        b->count++;
}

static void builder_free(argv_builder *b)
{
    for (int i = 0; i < b->count; i++)
        free(b->args[i]);
    b->count = 0;
}

int media_set_error(char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
    return -1;
}

/* Writes text into work_dir/name (the renderer's own file: its name is safe inside a filter graph). */
static int write_text_file(const char *work_dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/%s", work_dir, name) >= (int)sizeof(path)) return -1;
    FILE *file = fopen(path, "we");
    if (file == NULL) return -1;
    size_t length = strlen(text);
    bool ok = fwrite(text, 1, length, file) == length;
    return fclose(file) == 0 && ok ? 0 : -1;
}

/* Wraps text into at most CARD_LINES lines of about CARD_COLUMNS code points, control characters
 * turned into spaces, an ellipsis when cut. */
static void wrap_prompt(const char *text, char *out, size_t out_size)
{
    size_t used = 0, column = 0, lines = 1;
    bool truncated = false;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        unsigned char c = *p < 0x20 || *p == 0x7f ? ' ' : *p;
        bool starts_code_point = (c & 0xC0) != 0x80;
        if (starts_code_point && column >= CARD_COLUMNS && (c == ' ' || column >= CARD_COLUMNS + 12)) {
            if (lines == CARD_LINES) {
                truncated = true;
                break;
            }
            if (used + 1 >= out_size) break;
            out[used++] = '\n';
            lines++;
            column = 0;
            if (c == ' ') continue;
        }
        if (used + 1 >= out_size - 4) {
            truncated = true;
            break;
        }
        out[used++] = (char)c;
        if (starts_code_point) column++;
    }
    /* never end inside a multi-byte character */
    while (used > 0 && ((unsigned char)out[used - 1] & 0xC0) == 0x80)
        used--;
    if (used > 0 && ((unsigned char)out[used - 1] & 0x80)) used--;
    if (truncated && used + 4 < out_size) {
        memcpy(out + used, "\xE2\x80\xA6", 3);
        used += 3;
    }
    out[used] = '\0';
}

static int absolute_path(const char *path, char *out)
{
    return realpath(path, out) ? 0 : -1;
}

/* The label every frame carries, drawn from label.txt in the work folder. */
static const char label_filter[] =
    "drawtext=fontfile=" FONT_FILE ":textfile=label.txt:expansion=none:fontcolor=white:"
    "fontsize=max(12\\,h/20):box=1:boxcolor=black@0.6:boxborderw=6:"
    "x=(w-text_w)/2:y=h-text_h-h/24";
/* Scale down to fit 1920x1920, even dimensions, square pixels, constant frame rate. */
static const char fit_filter[] =
    "scale=w=min(iw\\,1920):h=min(ih\\,1920):force_original_aspect_ratio=decrease:"
    "force_divisible_by=2,setsar=1";

static void output_args(argv_builder *b, const char *output, double duration)
{
    arg(b, "-t");
    arg(b, "%.3f", duration);
    arg(b, "-r");
    arg(b, "%d", FPS);
    arg(b, "-c:v");
    arg(b, "libx264");
    arg(b, "-preset");
    arg(b, "veryfast");
    arg(b, "-pix_fmt");
    arg(b, "yuv420p");
    arg(b, "-c:a");
    arg(b, "aac");
    arg(b, "-b:a");
    arg(b, "128k");
    arg(b, "-ar");
    arg(b, "44100");
    arg(b, "-ac");
    arg(b, "2");
    arg(b, "-movflags");
    arg(b, "+faststart");
    arg(b, "-progress");
    arg(b, "pipe:1");
    arg(b, "-nostats");
    arg(b, "-y");
    arg(b, "%s", output);
}

static void common_head(argv_builder *b, const char *ffmpeg)
{
    arg(b, "%s", ffmpeg);
    arg(b, "-hide_banner");
    arg(b, "-nostdin");
    arg(b, "-loglevel");
    arg(b, "error");
}

/* Only local files: a crafted input (a playlist, a concat list) must not reach the network. */
static void input(argv_builder *b, const char *path)
{
    arg(b, "-protocol_whitelist");
    arg(b, "file");
    arg(b, "-i");
    arg(b, "%s", path);
}

static void silent_audio_input(argv_builder *b)
{
    arg(b, "-f");
    arg(b, "lavfi");
    arg(b, "-i");
    arg(b, "anullsrc=r=44100:cl=stereo");
}

/* ---- running ffmpeg ---- */

typedef struct run_context {
    const media_render_job *job;
    double expected_seconds;
    int last_percent;
} run_context;

static void handle_progress_line(run_context *run, const char *line)
{
    long long microseconds;
    if (sscanf(line, "out_time_us=%lld", &microseconds) != 1 &&
        sscanf(line, "out_time_ms=%lld", &microseconds) != 1)
        return;
    if (run->expected_seconds <= 0 || microseconds < 0) return;
    int percent = (int)((double)microseconds / (run->expected_seconds * 1e6) * 100.0);
    if (percent > 99) percent = 99;
    if (percent > run->last_percent) {
        run->last_percent = percent;
        if (run->job->on_progress) run->job->on_progress(run->job->progress_context, percent);
    }
}

/* Runs argv with cwd = work_dir; 0 on success, 1 cancelled, 2 timed out, -1 failure (err says why). */
/* Starts ffmpeg with stdin from /dev/null, stdout (its -progress lines) and stderr on two new pipes whose
 * read ends it returns in fds, in the job's folder and with no other descriptor of ours. 0, or an error
 * (set_error) with nothing left open. */
static int spawn_ffmpeg(argv_builder *b, const media_render_job *job, pid_t *child, int fds[2], char *err,
                        size_t err_size)
{
    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0) return media_set_error(err, err_size, "pipe: %s", strerror(errno));
    if (pipe2(err_pipe, O_CLOEXEC) != 0) {
        close(out_pipe[0]);
        close(out_pipe[1]);
        return media_set_error(err, err_size, "pipe: %s", strerror(errno));
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
    posix_spawn_file_actions_addchdir_np(&actions, job->work_dir);
    /* Nothing else of the server reaches ffmpeg: our own descriptors are close-on-exec, but h2o makes
     * some that are not (its epoll descriptor, the files a large request body spills into). */
    posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
    int spawned = posix_spawnp(child, b->args[0], &actions, NULL, b->args, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(out_pipe[1]);
    close(err_pipe[1]);
    if (spawned != 0) {
        close(out_pipe[0]);
        close(err_pipe[0]);
        return media_set_error(err, err_size, "cannot run %s: %s", b->args[0], strerror(spawned));
    }
    fds[0] = out_pipe[0], fds[1] = err_pipe[0];
    return 0;
}

/* What is read from ffmpeg's two pipes: whole progress lines are handed on; of stderr the last part is
 * kept for the error message. */
typedef struct ffmpeg_output {
    char progress[4096];
    size_t progress_used;
    char errors[4096];
    size_t errors_used;
} ffmpeg_output;

/* Reads what the progress pipe has and hands every whole line to handle_progress_line; false at its end. */
static bool read_progress(run_context *run, int fd, ffmpeg_output *out)
{
    ssize_t n = read(fd, out->progress + out->progress_used, sizeof(out->progress) - 1 - out->progress_used);
    if (n <= 0) return false;
    out->progress_used += (size_t)n;
    out->progress[out->progress_used] = '\0';
    char *line = out->progress, *newline;
    while ((newline = strchr(line, '\n')) != NULL) {
        *newline = '\0';
        handle_progress_line(run, line);
        line = newline + 1;
    }
    out->progress_used = strlen(line);
    memmove(out->progress, line, out->progress_used + 1);
    if (out->progress_used == sizeof(out->progress) - 1)
        out->progress_used = 0; /* a line this long is noise */
    return true;
}

/* Reads what the stderr pipe has, keeping the last part of what ffmpeg said; false at its end. */
static bool read_errors(int fd, ffmpeg_output *out)
{
    char chunk[1024];
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n <= 0) return false;
    if (out->errors_used + (size_t)n >= sizeof(out->errors)) {
        size_t drop = out->errors_used + (size_t)n - sizeof(out->errors) + 1;
        if (drop > out->errors_used) drop = out->errors_used;
        memmove(out->errors, out->errors + drop, out->errors_used - drop);
        out->errors_used -= drop;
    }
    memcpy(out->errors + out->errors_used, chunk, (size_t)n);
    out->errors_used += (size_t)n;
    out->errors[out->errors_used] = '\0';
    return true;
}

static int run_ffmpeg(argv_builder *b, run_context *run, char *err, size_t err_size)
{
    const media_render_job *job = run->job;
    if (b->overflow) return media_set_error(err, err_size, "the render command is too long");
    b->args[b->count] = NULL;
    pid_t child = 0;
    int fds[2] = {-1, -1};
    if (spawn_ffmpeg(b, job, &child, fds, err, err_size) != 0) return -1;

    ffmpeg_output output, *out = &output;
    out->progress_used = out->errors_used = 0;
    out->errors[0] = '\0';
    struct timespec started;
    clock_gettime(CLOCK_MONOTONIC, &started);
    int result = 0;
    bool out_open = true, err_open = true;
    while (out_open || err_open) {
        struct pollfd polled[2] = {{.fd = out_open ? fds[0] : -1, .events = POLLIN},
                                   {.fd = err_open ? fds[1] : -1, .events = POLLIN}};
        int ready = poll(polled, 2, 200);
        if (ready < 0 && errno != EINTR) break;
        if (job->cancel && atomic_load(job->cancel)) {
            result = 1;
            break;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t elapsed_ms =
            (int64_t)(now.tv_sec - started.tv_sec) * 1000 + (now.tv_nsec - started.tv_nsec) / 1000000;
        if (job->timeout_seconds > 0 && elapsed_ms >= (int64_t)job->timeout_seconds * 1000) {
            media_set_error(err, err_size, "the render took longer than %d s", job->timeout_seconds);
            result = 2;
            break;
        }
        if (out_open && (polled[0].revents & (POLLIN | POLLHUP))) out_open = read_progress(run, fds[0], out);
        if (err_open && (polled[1].revents & (POLLIN | POLLHUP))) err_open = read_errors(fds[1], out);
    }
    if (result != 0) kill(child, SIGKILL);
    close(fds[0]);
    close(fds[1]);
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (result == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
        for (char *p = out->errors; *p; p++)
            if (*p == '\n' || *p == '"') *p = ' ';
        result = media_set_error(err, err_size, "ffmpeg failed (%s%d): %s",
                                 WIFEXITED(status) ? "exit " : "signal ",
                                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                                 out->errors[0] ? out->errors : "no message");
    }
    return result;
}

int media_ffmpeg_run(const char *const *args, int count, const char *work_dir, int timeout_seconds, char *err,
                     size_t err_size)
{
    argv_builder b = {0};
    common_head(&b, ffmpeg_program);
    for (int i = 0; i < count; i++)
        arg(&b, "%s", args[i]);
    media_render_job job = {.work_dir = work_dir, .timeout_seconds = timeout_seconds};
    run_context run = {.job = &job, .last_percent = -1};
    int result = run_ffmpeg(&b, &run, err, err_size);
    builder_free(&b);
    return result;
}

/* ---- the four kinds ---- */

static int probe_input(const char *path, const char *what, bool need_video, bool need_audio, bool need_image,
                       media_info *info, char *err, size_t err_size)
{
    char reason[256];
    if (path == NULL) return media_set_error(err, err_size, "the %s input is missing", what);
    if (media_probe(path, info, reason, sizeof(reason)) != 0)
        return media_set_error(err, err_size, "the %s input is unreadable: %s", what, reason);
    if (need_video && !info->has_video)
        return media_set_error(err, err_size, "the %s input has no video stream", what);
    if (need_audio && !info->has_audio)
        return media_set_error(err, err_size, "the %s input has no audio stream", what);
    if (need_image && !info->is_image && !info->has_video)
        return media_set_error(err, err_size, "the %s input is not an image", what);
    if ((need_video || need_audio) && !(info->duration > 0))
        return media_set_error(err, err_size, "the %s input has no duration", what);
    return 0;
}

/* Forward then backward copy of (at most the first BOUNCE_MAX_SECONDS of) the video, without audio. */
static int render_bounce_clip(const media_render_job *job, const char *video, double video_seconds,
                              char *out_path, size_t out_size, char *err, size_t err_size)
{
    if (snprintf(out_path, out_size, "%s/bounce.mp4", job->work_dir) >= (int)out_size)
        return media_set_error(err, err_size, "path too long");
    double clip = video_seconds < BOUNCE_MAX_SECONDS ? video_seconds : BOUNCE_MAX_SECONDS;
    argv_builder b = {0};
    common_head(&b, ffmpeg_program);
    input(&b, video);
    arg(&b, "-filter_complex");
    arg(&b,
        "[0:v]trim=duration=%.3f,setpts=PTS-STARTPTS,%s,fps=%d,split[f][b];[b]reverse[r];[f][r]concat=n=2:v="
        "1:a=0[v]",
        clip, fit_filter, FPS);
    arg(&b, "-map");
    arg(&b, "[v]");
    arg(&b, "-an");
    arg(&b, "-c:v");
    arg(&b, "libx264");
    arg(&b, "-preset");
    arg(&b, "ultrafast");
    arg(&b, "-crf");
    arg(&b, "18");
    arg(&b, "-pix_fmt");
    arg(&b, "yuv420p");
    arg(&b, "-y");
    arg(&b, "%s", out_path);
    media_render_job silent = *job;
    silent.on_progress = NULL;
    run_context run = {.job = &silent, .expected_seconds = 2 * clip};
    int result = run_ffmpeg(&b, &run, err, err_size);
    builder_free(&b);
    return result;
}

static int build_lipsync(const media_render_job *job, argv_builder *b, const char *video, const char *audio,
                         double *expected, char *err, size_t err_size)
{
    media_info v, a;
    if (probe_input(video, "video", true, false, false, &v, err, err_size) ||
        probe_input(audio, "audio", false, true, false, &a, err, err_size))
        return -1;
    const char *mode = job->sync_mode ? job->sync_mode : "loop";
    char bounce[PATH_MAX];
    const char *video_source = video;
    if (strcmp(mode, "bounce") == 0) {
        int made = render_bounce_clip(job, video, v.duration, bounce, sizeof(bounce), err, err_size);
        if (made != 0) return made;
        video_source = bounce;
    }
    bool loops = strcmp(mode, "loop") == 0 || strcmp(mode, "bounce") == 0;
    if (loops) {
        arg(b, "-stream_loop");
        arg(b, "-1");
    }
    input(b, video_source);
    input(b, audio);
    char video_chain[512];
    if (strcmp(mode, "remap") == 0) {
        snprintf(video_chain, sizeof(video_chain), "[0:v]setpts=PTS*%.6f,%s,fps=%d,%s[v]",
                 a.duration / v.duration, fit_filter, FPS, label_filter);
        *expected = a.duration;
    } else if (strcmp(mode, "cut_off") == 0) {
        snprintf(video_chain, sizeof(video_chain), "[0:v]%s,fps=%d,%s[v]", fit_filter, FPS, label_filter);
        *expected = fmin(v.duration, a.duration);
    } else if (strcmp(mode, "silence") == 0) {
        snprintf(video_chain, sizeof(video_chain), "[0:v]%s,fps=%d,%s[v]", fit_filter, FPS, label_filter);
        *expected = v.duration;
    } else if (loops) {
        snprintf(video_chain, sizeof(video_chain), "[0:v]%s,fps=%d,%s[v]", fit_filter, FPS, label_filter);
        *expected = a.duration;
    } else {
        return media_set_error(err, err_size, "unknown sync_mode %s", mode);
    }
    arg(b, "-filter_complex");
    arg(b, "%s;[1:a]apad[a]", video_chain); /* apad: silence pads audio shorter than the output */
    arg(b, "-map");
    arg(b, "[v]");
    arg(b, "-map");
    arg(b, "[a]");
    return 0;
}

static int build_talking_head(const media_render_job *job, argv_builder *b, const char *image,
                              const char *audio, double *expected, char *err, size_t err_size)
{
    media_info i, a;
    if (probe_input(image, "image", false, false, true, &i, err, err_size) ||
        probe_input(audio, "audio", false, true, false, &a, err, err_size))
        return -1;
    int side = job->short_side > 0 ? job->short_side : 720;
    arg(b, "-loop");
    arg(b, "1");
    arg(b, "-framerate");
    arg(b, "%d", FPS);
    input(b, image);
    input(b, audio);
    arg(b, "-filter_complex");
    arg(b, "[0:v]scale=w='if(lt(iw,ih),%d,-2)':h='if(lt(iw,ih),-2,%d)',setsar=1,format=yuv420p,%s[v]", side,
        side, label_filter);
    arg(b, "-map");
    arg(b, "[v]");
    arg(b, "-map");
    arg(b, "1:a");
    *expected = a.duration;
    return 0;
}

static int build_motion_control(const media_render_job *job, argv_builder *b, const char *image,
                                const char *video, double *expected, char *err, size_t err_size)
{
    media_info i, v;
    if (probe_input(image, "image", false, false, true, &i, err, err_size) ||
        probe_input(video, "video", true, false, false, &v, err, err_size))
        return -1;
    input(b, video);
    arg(b, "-loop");
    arg(b, "1");
    input(b, image);
    bool original_sound = job->keep_original_sound && v.has_audio;
    if (!original_sound) silent_audio_input(b);
    arg(b, "-filter_complex");
    /* the character, a third of the frame's height, in the top-right corner of the reference motion */
    arg(b,
        "[0:v]%s,fps=%d[bg];[1:v][bg]scale2ref=w=oh*mdar:h=main_h/3[img][base];"
        "[base][img]overlay=x=main_w-overlay_w-16:y=16:shortest=1,%s[v]",
        fit_filter, FPS, label_filter);
    arg(b, "-map");
    arg(b, "[v]");
    arg(b, "-map");
    arg(b, original_sound ? "0:a" : "2:a");
    *expected = v.duration;
    return 0;
}

static int build_test_card(const media_render_job *job, argv_builder *b, const char *image, double *expected,
                           char *err, size_t err_size)
{
    if (job->width <= 0 || job->height <= 0 || job->width > 4096 || job->height > 4096 || job->width % 2 ||
        job->height % 2)
        return media_set_error(err, err_size, "invalid test card size %dx%d", job->width, job->height);
    if (!(job->duration > 0) || job->duration > 600)
        return media_set_error(err, err_size, "invalid duration");
    char wrapped[CARD_COLUMNS * 4 * CARD_LINES + CARD_LINES + 8];
    wrap_prompt(job->text ? job->text : "", wrapped, sizeof(wrapped));
    if (write_text_file(job->work_dir, "prompt.txt", wrapped) != 0)
        return media_set_error(err, err_size, "cannot write the prompt file");
    media_info i;
    if (image && probe_input(image, "image", false, false, true, &i, err, err_size)) return -1;
    arg(b, "-f");
    arg(b, "lavfi");
    arg(b, "-i");
    arg(b, "color=c=0x1d3557:s=%dx%d:r=%d:d=%.3f", job->width, job->height, FPS, job->duration);
    arg(b, "-f");
    arg(b, "lavfi");
    arg(b, "-i");
    arg(b, "sine=frequency=440:sample_rate=44100:duration=%.3f", job->duration);
    char card[1024];
    snprintf(card, sizeof(card),
             "[0:v]drawtext=fontfile=" FONT_FILE ":textfile=prompt.txt:expansion=none:fontcolor=white:"
             "fontsize=h/28:line_spacing=8:x=(w-text_w)/2:y=(h-text_h)/2,%s",
             label_filter);
    if (image) {
        arg(b, "-loop");
        arg(b, "1");
        input(b, image);
        double opening = fmin(1.0, job->duration / 4);
        arg(b, "-filter_complex");
        arg(b,
            "%s[card];[2:v]scale=%d:%d:force_original_aspect_ratio=decrease,pad=%d:%d:(ow-iw)/2:(oh-ih)/"
            "2,setsar=1[img];"
            "[card][img]overlay=0:0:shortest=1:enable='lt(t,%.3f)'[v]",
            card, job->width, job->height, job->width, job->height, opening);
    } else {
        arg(b, "-filter_complex");
        arg(b, "%s[v]", card);
    }
    arg(b, "-map");
    arg(b, "[v]");
    arg(b, "-map");
    arg(b, "1:a");
    *expected = job->duration;
    return 0;
}

int media_render(const media_render_job *job, media_info *out_info, char *err, size_t err_size)
{
    if (job->output_path == NULL || job->work_dir == NULL)
        return media_set_error(err, err_size, "no output or work folder");
    /* ffmpeg runs inside work_dir, so every path it gets must be absolute */
    char video[PATH_MAX], audio[PATH_MAX], image[PATH_MAX], output[PATH_MAX], folder[PATH_MAX],
        work[PATH_MAX];
    if (absolute_path(job->work_dir, work) != 0)
        return media_set_error(err, err_size, "the work folder is missing");
    media_render_job resolved = *job;
    resolved.work_dir = work;
    job = &resolved;
    if ((job->video_path && absolute_path(job->video_path, video) != 0) ||
        (job->audio_path && absolute_path(job->audio_path, audio) != 0) ||
        (job->image_path && absolute_path(job->image_path, image) != 0))
        return media_set_error(err, err_size, "an input file is missing");
    char *slash = strrchr(job->output_path, '/');
    if (slash == NULL) {
        if (getcwd(folder, sizeof(folder)) == NULL)
            return media_set_error(err, err_size, "no working folder");
    } else {
        char parent[PATH_MAX];
        snprintf(parent, sizeof(parent), "%.*s", (int)(slash - job->output_path), job->output_path);
        if (absolute_path(parent[0] ? parent : "/", folder) != 0)
            return media_set_error(err, err_size, "no output folder");
    }
    if (snprintf(output, sizeof(output), "%s/%s", folder, slash ? slash + 1 : job->output_path) >=
        (int)sizeof(output))
        return media_set_error(err, err_size, "output path too long");
    char label[160];
    snprintf(label, sizeof(label), "reelay sandbox \xC2\xB7 %s", job->model ? job->model : "");
    if (write_text_file(job->work_dir, "label.txt", label) != 0)
        return media_set_error(err, err_size, "cannot write in the work folder");

    const char *video_in = job->video_path ? video : NULL, *audio_in = job->audio_path ? audio : NULL,
               *image_in = job->image_path ? image : NULL;
    argv_builder b = {0};
    common_head(&b, ffmpeg_program);
    double expected = 0;
    int built;
    switch (job->kind) {
    case MEDIA_RENDER_LIPSYNC:
        built = build_lipsync(job, &b, video_in, audio_in, &expected, err, err_size);
        break;
    case MEDIA_RENDER_TALKING_HEAD:
        built = build_talking_head(job, &b, image_in, audio_in, &expected, err, err_size);
        break;
    case MEDIA_RENDER_MOTION_CONTROL:
        built = build_motion_control(job, &b, image_in, video_in, &expected, err, err_size);
        break;
    case MEDIA_RENDER_TEST_CARD:
        built = build_test_card(job, &b, image_in, &expected, err, err_size);
        break;
    default:
        built = media_set_error(err, err_size, "unknown render kind");
    }
    if (built != 0) {
        builder_free(&b);
        return built;
    }
    output_args(&b, output, expected);
    run_context run = {.job = job, .expected_seconds = expected, .last_percent = -1};
    int result = run_ffmpeg(&b, &run, err, err_size);
    builder_free(&b);
    if (result == 0) {
        char reason[256];
        if (media_probe(output, out_info, reason, sizeof(reason)) != 0 || !out_info->has_video)
            result = media_set_error(err, err_size, "the rendered file is unreadable: %s", reason);
    }
    if (result != 0) unlink(output);
    return result;
}
