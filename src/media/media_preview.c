/* media_preview.c — the poster and the spritesheet of a video result (see media.h): sizes computed here,
 * frames decoded and encoded by the ffmpeg program, in a child process, so that hostile bytes from a
 * provider are decoded where a crash or a hang costs a killed process, not the gateway; the scaling,
 * tiling and JPEG encoding come with it. */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "media/media.h"
#include "media/media_internal.h"

enum { MAX_VIDEO_SIDE = 16384, PREVIEW_ARGS = 40 };

/* A side rounded to the nearest even number, at least 2. */
static int even_side(double side)
{
    int rounded = (int)lround(side / 2.0) * 2;
    return rounded < 2 ? 2 : rounded;
}

int media_preview_measure(int width, int height, media_preview_sizes *out)
{
    if (width <= 0 || height <= 0 || width > MAX_VIDEO_SIDE || height > MAX_VIDEO_SIDE) return -1;
    int long_side = width > height ? width : height;
    double scale = long_side > MEDIA_POSTER_MAX_SIDE ? (double)MEDIA_POSTER_MAX_SIDE / long_side : 1.0;
    out->poster_width = even_side(width * scale);
    out->poster_height = even_side(height * scale);
    if (out->poster_width > MEDIA_POSTER_MAX_SIDE) out->poster_width = MEDIA_POSTER_MAX_SIDE;
    if (out->poster_height > MEDIA_POSTER_MAX_SIDE) out->poster_height = MEDIA_POSTER_MAX_SIDE;
    out->tile_width = MEDIA_SPRITESHEET_TILE_WIDTH;
    out->tile_height = even_side((double)MEDIA_SPRITESHEET_TILE_WIDTH * height / width);
    if (out->tile_height > MEDIA_SPRITESHEET_TILE_MAX_HEIGHT)
        out->tile_height = MEDIA_SPRITESHEET_TILE_MAX_HEIGHT;
    out->sheet_width = out->tile_width * MEDIA_SPRITESHEET_COLUMNS;
    out->sheet_height = out->tile_height * MEDIA_SPRITESHEET_ROWS;
    return 0;
}

/* The demuxer ffmpeg is told to use: the probed one, when it is a container that holds video (never a
 * playlist, a concat list or an image sequence, which would open other files). NULL otherwise. */
static const char *video_demuxer(const char *container)
{
    static const char *const allowed[][2] = {{"mov,mp4,m4a,3gp,3g2,mj2", "mov"},
                                             {"matroska,webm", "matroska"},
                                             {"avi", "avi"},
                                             {"flv", "flv"},
                                             {"mpegts", "mpegts"}};
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
        if (strcmp(container, allowed[i][0]) == 0) return allowed[i][1];
    return NULL;
}

/* An argument vector of fixed strings and formatted numbers; the texts live in the builder. */
typedef struct preview_args {
    const char *args[PREVIEW_ARGS];
    char texts[4][256];
    int count, texts_used;
    bool overflow;
} preview_args;

/* Appends text (borrowed; NULL marks the vector broken). */
static void add(preview_args *a, const char *text)
{
    if (text == NULL || a->count >= PREVIEW_ARGS)
        a->overflow = true;
    else
        a->args[a->count++] = text;
}

/* A formatted argument kept in the builder, or NULL (overflow set) when it does not fit. */
static const char *text(preview_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *text(preview_args *a, const char *fmt, ...)
{
    if (a->texts_used >= (int)(sizeof(a->texts) / sizeof(a->texts[0]))) {
        a->overflow = true;
        return NULL;
    }
    char *kept = a->texts[a->texts_used++];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(kept, sizeof(a->texts[0]), fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof(a->texts[0])) return kept;
    a->overflow = true;
    return NULL;
}
/* The input options both runs share: the one local file, with its demuxer, frames as stored. */
static void add_input(preview_args *a, const char *demuxer, const char *video)
{
    add(a, "-noautorotate");
    add(a, "-protocol_whitelist");
    add(a, "file");
    add(a, "-f");
    add(a, demuxer);
    add(a, "-i");
    add(a, video);
}

/* One JPEG frame of filter's output at output. */
static void add_output(preview_args *a, const char *filter, const char *output)
{
    add(a, "-map");
    add(a, "0:v:0");
    add(a, "-an");
    add(a, "-sn");
    add(a, "-dn");
    add(a, "-vf");
    add(a, filter);
    add(a, "-frames:v");
    add(a, "1");
    add(a, "-q:v");
    add(a, "4");
    add(a, "-f");
    add(a, "mjpeg");
    add(a, "-y");
    add(a, output);
}

/* Runs a, then checks that output is a JPEG of width x height; removes it on any failure. */
static int run_and_check(preview_args *a, const char *what, const char *output, int width, int height,
                         const media_preview_job *job, char *err, size_t err_size)
{
    char reason[512] = "";
    int ran = a->overflow ? media_set_error(reason, sizeof(reason), "the command is too long")
                          : media_ffmpeg_run(a->args, a->count, job->work_dir, job->timeout_seconds, reason,
                                             sizeof(reason));
    media_info made;
    if (ran == 2) {
        media_set_error(err, err_size, "the %s took longer than %d s", what, job->timeout_seconds);
    } else if (ran != 0) {
        media_set_error(err, err_size, "the %s could not be made: %s", what, reason);
    } else if (media_probe(output, &made, reason, sizeof(reason)) != 0) {
        ran = media_set_error(err, err_size, "the %s is unreadable (no frame decoded?): %s", what, reason);
    } else if (!made.is_image || strcmp(made.video_codec, "mjpeg") != 0 || made.width != width ||
               made.height != height) {
        ran = media_set_error(err, err_size, "the %s came out as %s %dx%d, not a %dx%d JPEG", what,
                              made.video_codec, made.width, made.height, width, height);
    }
    if (ran != 0) unlink(output);
    return ran == 0 ? 0 : -1;
}

static int make_poster(const media_preview_job *job, const char *demuxer, const char *video,
                       const media_preview_sizes *sizes, char *err, size_t err_size)
{
    double at = job->duration >= 2 * MEDIA_POSTER_SECONDS ? MEDIA_POSTER_SECONDS : job->duration / 2;
    preview_args a = {.count = 0};
    add(&a, "-ss");
    add(&a, text(&a, "%.3f", at));
    add_input(&a, demuxer, video);
    add_output(&a,
               text(&a, "scale=%d:%d,setsar=1,format=yuvj420p", sizes->poster_width, sizes->poster_height),
               job->poster_path);
    return run_and_check(&a, "poster", job->poster_path, sizes->poster_width, sizes->poster_height, job, err,
                         err_size);
}

/* MEDIA_SPRITESHEET_COLUMNS x ROWS frames at an even rate over the whole length (the fps filter picks the
 * frame nearest each instant), scaled and tiled; a short last row is padded black. */
static int make_spritesheet(const media_preview_job *job, const char *demuxer, const char *video,
                            const media_preview_sizes *sizes, char *err, size_t err_size)
{
    long long duration_ms = llround(job->duration * 1000);
    if (duration_ms < 1) duration_ms = 1;
    preview_args a = {.count = 0};
    add_input(&a, demuxer, video);
    add_output(&a,
               text(&a, "fps=fps=%d/%.3f,scale=%d:%d,setsar=1,tile=%dx%d,format=yuvj420p",
                    MEDIA_SPRITESHEET_COLUMNS * MEDIA_SPRITESHEET_ROWS, (double)duration_ms / 1000,
                    sizes->tile_width, sizes->tile_height, MEDIA_SPRITESHEET_COLUMNS, MEDIA_SPRITESHEET_ROWS),
               job->spritesheet_path);
    return run_and_check(&a, "spritesheet", job->spritesheet_path, sizes->sheet_width, sizes->sheet_height,
                         job, err, err_size);
}

/* An absolute form of path (ffmpeg runs in the work folder): the folder resolved, the name kept. */
static int absolute_output(const char *path, char *out, size_t out_size)
{
    const char *slash = strrchr(path, '/');
    char folder[PATH_MAX], parent[PATH_MAX];
    if (slash == NULL) {
        if (getcwd(folder, sizeof(folder)) == NULL) return -1;
    } else {
        if (snprintf(parent, sizeof(parent), "%.*s", (int)(slash - path), path) >= (int)sizeof(parent))
            return -1;
        if (realpath(parent[0] ? parent : "/", folder) == NULL) return -1;
    }
    int n = snprintf(out, out_size, "%s/%s", folder, slash ? slash + 1 : path);
    return n >= 0 && (size_t)n < out_size ? 0 : -1;
}

int media_make_previews(const media_preview_job *job, int *made, char *err, size_t err_size)
{
    if (made != NULL) *made = 0;
    media_preview_sizes sizes;
    if (media_preview_measure(job->info->width, job->info->height, &sizes) != 0)
        return media_set_error(err, err_size, "the video's size %dx%d is not usable", job->info->width,
                               job->info->height);
    if (!(job->duration > 0) || job->duration > 24 * 3600)
        return media_set_error(err, err_size, "the video's length is unknown");
    const char *demuxer = video_demuxer(job->info->container);
    if (demuxer == NULL)
        return media_set_error(err, err_size, "the container %s is not one previews are made of",
                               job->info->container);
    char video[PATH_MAX], work[PATH_MAX], poster[PATH_MAX], sheet[PATH_MAX];
    if (realpath(job->video_path, video) == NULL || realpath(job->work_dir, work) == NULL ||
        absolute_output(job->poster_path, poster, sizeof(poster)) != 0 ||
        absolute_output(job->spritesheet_path, sheet, sizeof(sheet)) != 0)
        return media_set_error(err, err_size, "a path of the previews is missing or too long");
    media_preview_job resolved = *job;
    resolved.work_dir = work;
    resolved.poster_path = poster;
    resolved.spritesheet_path = sheet;
    char poster_err[512] = "", sheet_err[512] = "";
    bool poster_made = make_poster(&resolved, demuxer, video, &sizes, poster_err, sizeof(poster_err)) == 0;
    bool sheet_made = make_spritesheet(&resolved, demuxer, video, &sizes, sheet_err, sizeof(sheet_err)) == 0;
    if (made != NULL)
        *made = (poster_made ? MEDIA_PREVIEW_POSTER : 0) | (sheet_made ? MEDIA_PREVIEW_SPRITESHEET : 0);
    if (poster_made && sheet_made) return 0;
    return media_set_error(err, err_size, "%s%s%s", poster_err, poster_err[0] && sheet_err[0] ? "; " : "",
                           sheet_err);
}
