/* media_internal.h — what the probing files of media/ share; not part of the module's contract
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

#endif
