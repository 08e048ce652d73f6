/* fuzz_media_probe_io.c — hostile files (the input after two option bytes) through media_probe_io's custom
 * I/O: libavformat reads them with the positional-read callback, with or without a known size, seekable
 * or forward-only, under a name hint, and with reads that may start failing. Asserts that every read asked
 * for lies inside the file and within what is left of the byte budget, that a failed read always wins as
 * READ_FAILED, that a refusal says why and leaves the info zeroed, and that an accepted file's info is sane.
 * (libavformat itself is Debian's, not instrumented: what is checked is reelay's side of the I/O.) */
#include <math.h>
#include <string.h>

#include "fuzz_common.h"
#include "media/media.h"

enum { BUDGET = 24 << 10 }; /* smaller than many inputs: the limit is exercised too */

static const char *const hints[] = {
    NULL,       "clip.mp4",  "voice.wav", "face.png",
    "song.mp3", "list.m3u8", "photo.jpg", "https://x.example/a/in.webm?sig=1#t"};

typedef struct file_reader {
    const uint8_t *bytes;
    size_t size;
    int64_t declared_size; /* what the source says (-1: unknown) */
    int reads, fail_after; /* fail_after < 0: never */
    bool failed;
    uint64_t received; /* bytes handed to the probe so far */
} file_reader;

static ssize_t read_at(void *context, int64_t offset, void *buffer, size_t length)
{
    file_reader *reader = context;
    FUZZ_CHECK(offset >= 0 && length > 0);
    if (reader->declared_size >= 0) FUZZ_CHECK(offset < reader->declared_size);
    FUZZ_CHECK(length <= BUDGET - reader->received); /* never asks past what is left of the budget */
    if (reader->fail_after >= 0 && reader->reads++ >= reader->fail_after) {
        reader->failed = true;
        return -1;
    }
    if ((uint64_t)offset >= reader->size) return 0;
    size_t available = reader->size - (size_t)offset;
    size_t copied = length < available ? length : available;
    memcpy(buffer, reader->bytes + offset, copied);
    reader->received += copied;
    return (ssize_t)copied;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    uint8_t options = fuzz_take_byte(&in);
    uint8_t fail_after = fuzz_take_byte(&in);
    file_reader reader = {
        .bytes = in.data,
        .size = in.size,
        .declared_size = (options & 2) ? -1 : (int64_t)in.size,
        .fail_after = (options & 4) ? fail_after % 16 : -1,
    };
    media_source source = {
        .read_at = read_at,
        .context = &reader,
        .size = reader.declared_size,
        .max_read_bytes = BUDGET,
        .timeout_ms = 5000,
        .forward_only = (options & 1) != 0,
    };
    media_info info;
    char err[200];
    memset(err, 0x55, sizeof(err));
    int result = media_probe_io(&source, hints[(options >> 3) % (sizeof(hints) / sizeof(hints[0]))], &info,
                                err, sizeof(err));
    FUZZ_CHECK(fuzz_terminated(err, sizeof(err)));
    if (reader.failed) FUZZ_CHECK(result == MEDIA_PROBE_READ_FAILED);
    if (result != MEDIA_PROBE_OK) {
        FUZZ_CHECK(result == MEDIA_PROBE_NOT_MEDIA || result == MEDIA_PROBE_READ_FAILED ||
                   result == MEDIA_PROBE_TIMEOUT || result == MEDIA_PROBE_TOO_MANY_BYTES);
        FUZZ_CHECK(err[0] != '\0');
        media_info zero;
        memset(&zero, 0, sizeof(zero));
        FUZZ_CHECK(memcmp(&info, &zero, sizeof(info)) == 0);
        return 0;
    }
    FUZZ_CHECK(!reader.failed);
    FUZZ_CHECK(info.has_video || info.has_audio || info.is_image);
    FUZZ_CHECK(isfinite(info.duration) && info.duration >= 0);
    FUZZ_CHECK(info.width >= 0 && info.height >= 0);
    FUZZ_CHECK(fuzz_terminated(info.container, sizeof(info.container)) && info.container[0] != '\0');
    FUZZ_CHECK(fuzz_terminated(info.video_codec, sizeof(info.video_codec)));
    FUZZ_CHECK(fuzz_terminated(info.audio_codec, sizeof(info.audio_codec)));
    FUZZ_CHECK(info.size == (reader.declared_size > 0 ? reader.declared_size : 0));
    return 0;
}
