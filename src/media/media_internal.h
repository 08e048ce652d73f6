/* media_internal.h — what the files of media/ share; not part of the module's contract
 * (that is media.h). */
#ifndef REELAY_MEDIA_MEDIA_INTERNAL_H
#define REELAY_MEDIA_MEDIA_INTERNAL_H

#include <libavformat/avformat.h>
#include <stddef.h>

#include "media/media.h"

/* Opens format — allocated and prepared by the caller (probe limits, custom I/O, interrupt callback) —
 * on url, reads its stream information and fills *out as media_probe documents (size from the I/O
 * context when it can tell). Frees format in every case; a custom pb stays the caller's to free.
 * Returns 0, or -1 with err. */
int media_probe_format(AVFormatContext *format, const char *url, AVDictionary **options, media_info *out,
                       char *err, size_t err_size);

/* Runs the ffmpeg program (media_render_set_ffmpeg) with `-hide_banner -nostdin -loglevel error` and then
 * args (count strings, copied), in work_dir (an absolute path), stopping it after timeout_seconds (0 = no
 * limit). Returns 0 when it exits with status 0, 2 when killed for its time, -1 otherwise (err has the
 * end of what it said on stderr). */
int media_ffmpeg_run(const char *const *args, int count, const char *work_dir, int timeout_seconds, char *err,
                     size_t err_size);

/* Formats a message into err (err_size bytes, truncated) and returns -1: the media functions' failures. */
int media_set_error(char *err, size_t err_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
