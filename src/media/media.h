/* media.h — what reelay knows about media files: probing (FFmpeg's libavformat), the sandbox
 * renderer (the `ffmpeg` program), which turns local input files into a real, clearly labelled MP4,
 * and the previews of a video result (a poster and a spritesheet, also made by the `ffmpeg` program).
 *
 * Nothing here touches the network or the database; inputs and outputs are local paths, or bytes the
 * caller reads for it (media_probe_io: the engine hands it a guarded range reader). */
#ifndef REELAY_MEDIA_MEDIA_H
#define REELAY_MEDIA_MEDIA_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct media_info {
    double duration; /* seconds (container duration, else the longest stream); 0 if unknown */
    bool has_video;  /* a real video stream (an attached cover picture does not count) */
    bool has_audio;
    bool is_image;      /* a still image (png, jpeg, webp …) */
    int width, height;  /* of the first video stream / image, else 0 */
    char container[64]; /* libavformat's short name: "mov,mp4,m4a,3gp,3g2,mj2", "mp3", "wav", "png_pipe" … */
    char video_codec[32]; /* "h264", "png", "" … */
    char audio_codec[32]; /* "aac", "mp3", "" … */
    int64_t size;         /* bytes of the whole file; 0 if unknown */
} media_info;

/* Probes a local file. Returns 0 and fills *out; -1 when it is not media libavformat can read
 * (err says why). Reads only the headers it needs. */
int media_probe(const char *path, media_info *out, char *err, size_t err_size);

/* A file media_probe_io reads through the caller: read_at copies up to length bytes at offset into
 * buffer and returns how many (> 0; fewer is fine), 0 at the end, -1 on failure (the probe then stops
 * and answers MEDIA_PROBE_READ_FAILED; the caller knows why). The bytes are treated as hostile. */
typedef ssize_t (*media_read_at_fn)(void *context, int64_t offset, void *buffer, size_t length);

typedef struct media_source {
    media_read_at_fn read_at;
    void *context;
    int64_t size;            /* of the whole file, -1 if unknown (seeking from the end is then refused) */
    uint64_t max_read_bytes; /* bytes the probe may ask read_at for in total; 0 = 64 MiB */
    int timeout_ms;          /* wall time for the whole probe; 0 = 20 s */
    bool forward_only;       /* seeking is costly or impossible (a server without ranges): libavformat is
                                told the stream is not seekable and reads forward */
} media_source;

enum {
    MEDIA_PROBE_OK = 0,
    MEDIA_PROBE_NOT_MEDIA = -1,      /* not media libavformat can read, or no audio/video/image in it */
    MEDIA_PROBE_READ_FAILED = -2,    /* read_at failed */
    MEDIA_PROBE_TIMEOUT = -3,        /* timeout_ms ran out */
    MEDIA_PROBE_TOO_MANY_BYTES = -4, /* reading it needed more than max_read_bytes */
};

/* Probes a file through source (libavformat over a custom AVIOContext with read and seek callbacks,
 * so media/ never touches the network), with the semantics of media_probe; out->size is source->size.
 * name_hint (may be NULL) is a file name such as "clip.mp4" that helps recognise formats by extension;
 * only its last path segment's letters, digits, '.', '-' and '_' are used. Bounded: probe size 4 MiB,
 * analysis 5 s of media, the byte budget and the deadline (also checked between libavformat's
 * reads); demuxers may not open anything else (playlists, references, image sequences). Returns
 * MEDIA_PROBE_OK and fills *out, or one of the negative MEDIA_PROBE_* values with err; a read failure
 * or an exhausted limit wins over "not media", since the file may be fine. */
int media_probe_io(const media_source *source, const char *name_hint, media_info *out, char *err,
                   size_t err_size);

typedef enum {
    MEDIA_RENDER_LIPSYNC,        /* video + audio, timed by sync_mode */
    MEDIA_RENDER_TALKING_HEAD,   /* image + audio */
    MEDIA_RENDER_MOTION_CONTROL, /* image over a reference video */
    MEDIA_RENDER_TEST_CARD,      /* text (+ optional opening image) for a fixed duration */
} media_render_kind;

typedef void (*media_progress_fn)(void *context, int percent /* 0..99 */);

typedef struct media_render_job {
    media_render_kind kind;
    const char *model;       /* shown on every frame next to "reelay sandbox" */
    const char *output_path; /* where the MP4 (H.264 + AAC, yuv420p, faststart) is written */
    const char *work_dir;    /* scratch folder the renderer may use; exists */

    const char *video_path; /* LIPSYNC, MOTION_CONTROL */
    const char *audio_path; /* LIPSYNC, TALKING_HEAD */
    const char *image_path; /* TALKING_HEAD, MOTION_CONTROL; TEST_CARD: optional opening image */

    /* LIPSYNC: "loop" (video looped to the audio's length), "bounce" (forwards then backwards to the
     * audio's length), "cut_off" (the shorter of the two), "silence" (the video's length, audio padded
     * with silence), "remap" (video stretched to the audio's length). The audio track is the input audio. */
    const char *sync_mode;
    /* TALKING_HEAD: the short side of the output (480 or 720), aspect ratio of the portrait kept,
     * dimensions even; length = the audio's. TEST_CARD: exact width and height (1280x720, 720x1280,
     * 1920x1080, 1080x1920). Ignored otherwise (LIPSYNC and MOTION_CONTROL keep the input video's size,
     * scaled down to fit 1920x1920 if larger, dimensions even). */
    int width, height;
    int short_side;
    /* MOTION_CONTROL: keep the reference video's audio (silent track otherwise). */
    bool keep_original_sound;
    /* TEST_CARD: length in seconds and the text shown (the prompt, wrapped and truncated to fit). */
    double duration;
    const char *text;

    media_progress_fn on_progress; /* may be NULL; called from the rendering thread as output advances */
    void *progress_context;
    atomic_bool *cancel; /* may be NULL; when it becomes true the render stops and returns 1 */
    int timeout_seconds; /* 0 = no limit; past it the render is killed and fails */
} media_render_job;

/* Sets the ffmpeg program media_render runs: a path, or a name looked up on PATH (NULL = "ffmpeg", the
 * default). The string is borrowed for the life of the process. Call before any render starts (main
 * does, from the --ffmpeg setting); not synchronised with renders in flight. */
void media_render_set_ffmpeg(const char *program);

/* Renders one job with the ffmpeg program (media_render_set_ffmpeg). Blocks the calling
 * thread until done. Returns 0 on success (and fills *out_info by probing the output), 1 when cancelled,
 * 2 when timeout_seconds ran out, -1 on failure (err says why; the output file is removed in every
 * case but success). Every frame carries the visible text
 * "reelay sandbox" and the model name. */
int media_render(const media_render_job *job, media_info *out_info, char *err, size_t err_size);

/* ---- previews of a video result ----
 * The poster is one frame, MEDIA_POSTER_SECONDS into the video (or at its middle when it is shorter
 * than twice that), at the video's own size scaled down to fit MEDIA_POSTER_MAX_SIDE on its long side.
 * The spritesheet is a grid of MEDIA_SPRITESHEET_COLUMNS x MEDIA_SPRITESHEET_ROWS frames evenly spaced
 * over the video's length (the first at its start), left to right then top to bottom, each
 * MEDIA_SPRITESHEET_TILE_WIDTH pixels wide and as high as the video's aspect ratio makes it (even,
 * between 2 and MEDIA_SPRITESHEET_TILE_MAX_HEIGHT); a 1280x720 video gives an 800x450 sheet of 160x90
 * tiles. Both are baseline JPEGs (4:2:0), sizes even. Frames are taken as stored (no rotation applied). */
enum {
    MEDIA_POSTER_MAX_SIDE = 1280,
    MEDIA_SPRITESHEET_COLUMNS = 5,
    MEDIA_SPRITESHEET_ROWS = 5,
    MEDIA_SPRITESHEET_TILE_WIDTH = 160,
    MEDIA_SPRITESHEET_TILE_MAX_HEIGHT = 640,
};
#define MEDIA_POSTER_SECONDS 1.0

typedef struct media_preview_sizes {
    int poster_width, poster_height;
    int tile_width, tile_height;
    int sheet_width, sheet_height; /* the tiles times the grid */
} media_preview_sizes;

/* The previews' sizes for a video of width x height (as probed). Returns 0 and fills *out; -1 when a
 * side is not positive or over 16384. Pure. */
int media_preview_measure(int width, int height, media_preview_sizes *out);

typedef struct media_preview_job {
    const char *video_path;       /* the video, already probed as one (media_probe: has_video) */
    const media_info *info;       /* what the probe said: size, duration and container are used */
    double duration;              /* seconds to spread the spritesheet over: info's, else the caller's
                                     word (> 0 required) */
    const char *poster_path;      /* where the poster JPEG is written */
    const char *spritesheet_path; /* where the spritesheet JPEG is written */
    const char *work_dir;         /* an existing folder ffmpeg runs in */
    int timeout_seconds;          /* for each of the two ffmpeg runs; 0 = no limit */
} media_preview_job;

/* Writes the poster and the spritesheet of job->video_path with the ffmpeg program
 * (media_render_set_ffmpeg) — two runs, each reading only that local file with its probed demuxer,
 * so a crafted file can neither reach another file nor crash or hang the caller — then probes each
 * JPEG and checks its size against media_preview_measure. Blocking: call off the event loop. Returns
 * 0 when both are written; -1 otherwise (err says which and why: no duration, a container not known
 * to hold a video, frames that do not decode, ffmpeg missing or past its time), each output that
 * failed removed. *made (may be NULL) tells which exist: bit 1 the poster, bit 2 the spritesheet. */
enum { MEDIA_PREVIEW_POSTER = 1, MEDIA_PREVIEW_SPRITESHEET = 2 };
int media_make_previews(const media_preview_job *job, int *made, char *err, size_t err_size);

#endif
