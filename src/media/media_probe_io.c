/* media_probe_io.c — media_probe over bytes the caller reads for us (a remote input through the
 * engine's guarded range reader): libavformat on a custom AVIOContext whose read and seek callbacks
 * map to positional reads, so that an MP4 with its index at the end costs a few ranges, not a download.
 * A byte budget and a deadline (checked on every read and by libavformat's interrupt callback) keep a
 * hostile file or server from stalling a worker; demuxers may not open anything of their own. */
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/mem.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "media/media.h"
#include "media/media_internal.h"
#include "util/clock.h"

enum {
    MEDIA_IO_BUFFER_SIZE = 64 * 1024,
    MEDIA_IO_PROBE_SIZE = 4 << 20,
    MEDIA_IO_DEFAULT_MAX_READ = 64 << 20,
    MEDIA_IO_DEFAULT_TIMEOUT_MS = 20 * 1000,
    MEDIA_IO_NAME_SIZE = 64,
};

typedef struct media_io_state {
    const media_source *source;
    int64_t position;
    uint64_t bytes_read;
    uint64_t max_read_bytes;
    int64_t deadline_ms;
    bool read_failed, timed_out, over_budget;
} media_io_state;

static bool media_io_stopped(media_io_state *state)
{
    if (state->read_failed || state->timed_out || state->over_budget) return true;
    if (clock_monotonic_ms() >= state->deadline_ms) state->timed_out = true;
    return state->timed_out;
}

/* libavformat polls this in its own loops (stream analysis, packet reading). */
static int media_io_interrupt(void *opaque)
{
    return media_io_stopped(opaque) ? 1 : 0;
}

static int media_io_read(void *opaque, uint8_t *buffer, int size)
{
    media_io_state *state = opaque;
    if (media_io_stopped(state)) return AVERROR_EXIT;
    if (size <= 0) return AVERROR(EINVAL);
    int64_t file_size = state->source->size;
    if (file_size >= 0 && state->position >= file_size) return AVERROR_EOF;
    uint64_t left = state->max_read_bytes - state->bytes_read;
    if (left == 0) {
        state->over_budget = true;
        return AVERROR_EXIT;
    }
    size_t length = (uint64_t)size < left ? (size_t)size : (size_t)left;
    ssize_t got = state->source->read_at(state->source->context, state->position, buffer, length);
    if (got < 0 || (size_t)got > length) {
        state->read_failed = true;
        return AVERROR(EIO);
    }
    if (got == 0) return AVERROR_EOF;
    state->position += got;
    state->bytes_read += (uint64_t)got;
    return (int)got;
}

static int64_t media_io_seek(void *opaque, int64_t offset, int whence)
{
    media_io_state *state = opaque;
    int64_t file_size = state->source->size;
    whence &= ~AVSEEK_FORCE;
    if (whence == AVSEEK_SIZE) return file_size >= 0 ? file_size : AVERROR(ENOSYS);
    if (media_io_stopped(state)) return AVERROR_EXIT;
    int64_t base;
    switch (whence) {
    case SEEK_SET:
        base = 0;
        break;
    case SEEK_CUR:
        base = state->position;
        break;
    case SEEK_END:
        if (file_size < 0) return AVERROR(ENOSYS);
        base = file_size;
        break;
    default:
        return AVERROR(EINVAL);
    }
    /* Offsets come from the file: no overflow, nothing before the start. */
    if ((offset > 0 && base > INT64_MAX - offset) || (offset < 0 && base + offset < 0))
        return AVERROR(EINVAL);
    state->position = base + offset;
    return state->position;
}

/* Demuxers that would open other resources (playlists, references, image sequences) get nothing. */
static int media_io_refuse_open(struct AVFormatContext *format, AVIOContext **pb, const char *url, int flags,
                                AVDictionary **options)
{
    (void)format, (void)pb, (void)url, (void)flags, (void)options;
    return AVERROR(EPERM);
}

/* The last path segment of hint, without query or fragment, reduced to [A-Za-z0-9._-]: enough for
 * recognising an extension, nothing a demuxer could take for a pattern ("%d", globs) or a URL. */
static void media_io_name(const char *hint, char *out, size_t out_size)
{
    const char *start = hint != NULL ? hint : "";
    size_t end = strcspn(start, "?#");
    for (size_t i = end; i > 0; i--) {
        if (start[i - 1] == '/' || start[i - 1] == '\\') {
            start += i;
            end -= i;
            break;
        }
    }
    char kept[MEDIA_IO_NAME_SIZE];
    size_t used = 0;
    for (size_t i = 0; i < end && used + 1 < sizeof(kept); i++) {
        char c = start[i];
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == '_';
        if (keep) kept[used++] = c;
    }
    kept[used] = '\0';
    snprintf(out, out_size, "%s%s", used == 0 || kept[0] == '.' ? "input" : "", kept);
}

int media_probe_io(const media_source *source, const char *name_hint, media_info *out, char *err,
                   size_t err_size)
{
    char scratch_err[8];
    if (err == NULL || err_size == 0) err = scratch_err, err_size = sizeof(scratch_err);
    err[0] = '\0';
    memset(out, 0, sizeof(*out));
    if (source == NULL || source->read_at == NULL) {
        snprintf(err, err_size, "nothing to read");
        return MEDIA_PROBE_READ_FAILED;
    }
    av_log_set_level(AV_LOG_QUIET);
    int timeout_ms = source->timeout_ms > 0 ? source->timeout_ms : MEDIA_IO_DEFAULT_TIMEOUT_MS;
    media_io_state state = {
        .source = source,
        .max_read_bytes = source->max_read_bytes > 0 ? source->max_read_bytes : MEDIA_IO_DEFAULT_MAX_READ,
        .deadline_ms = clock_monotonic_ms() + timeout_ms,
    };
    unsigned char *buffer = av_malloc(MEDIA_IO_BUFFER_SIZE);
    AVIOContext *avio = buffer != NULL ? avio_alloc_context(buffer, MEDIA_IO_BUFFER_SIZE, 0, &state,
                                                            media_io_read, NULL, media_io_seek)
                                       : NULL;
    AVFormatContext *format = avio != NULL ? avformat_alloc_context() : NULL;
    if (format == NULL) {
        if (avio != NULL)
            av_freep(&avio->buffer);
        else
            av_free(buffer);
        avio_context_free(&avio);
        snprintf(err, err_size, "out of memory");
        return MEDIA_PROBE_READ_FAILED;
    }
    avio->seekable = source->forward_only ? 0 : AVIO_SEEKABLE_NORMAL;
    format->pb = avio;
    format->probesize = MEDIA_IO_PROBE_SIZE;
    format->max_analyze_duration = 5 * AV_TIME_BASE;
    format->interrupt_callback = (AVIOInterruptCB){.callback = media_io_interrupt, .opaque = &state};
    format->io_open = media_io_refuse_open;

    char name[MEDIA_IO_NAME_SIZE];
    media_io_name(name_hint, name, sizeof(name));
    int result = media_probe_format(format, name, NULL, out, err, err_size) == 0 ? MEDIA_PROBE_OK
                                                                                 : MEDIA_PROBE_NOT_MEDIA;
    /* A read that failed or a limit that ran out means the bytes seen were not the file: say so rather
     * than "not media", even when libavformat made something of them. */
    if (state.read_failed) {
        result = MEDIA_PROBE_READ_FAILED;
        snprintf(err, err_size, "the file could not be read");
    } else if (state.over_budget) {
        result = MEDIA_PROBE_TOO_MANY_BYTES;
        snprintf(err, err_size, "probing it needed more than %llu bytes",
                 (unsigned long long)state.max_read_bytes);
    } else if (state.timed_out) {
        result = MEDIA_PROBE_TIMEOUT;
        snprintf(err, err_size, "probing it took more than %d ms", timeout_ms);
    }
    if (result == MEDIA_PROBE_OK)
        out->size = source->size > 0 ? source->size : 0;
    else
        memset(out, 0, sizeof(*out));
    av_freep(&avio->buffer);
    avio_context_free(&avio);
    return result;
}
