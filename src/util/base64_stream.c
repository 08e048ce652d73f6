/* base64_stream.c — base64 text fed in pieces, decoded by libsodium in staging blocks of
 * BASE64_STREAM_STAGE characters (a multiple of four, so every block but the last decodes alone).
 * This file only sorts characters (alphabet, whitespace, padding) and checks the final group. */
#include "util/base64_stream.h"

#include <sodium.h>
#include <string.h>

enum { ALPHABET_UNKNOWN = 0, ALPHABET_STANDARD = 1, ALPHABET_URL_SAFE = 2 };

static base64_stream_status stream_fail(base64_stream *stream, const char *reason, uint64_t offset)
{
    stream->status = BASE64_STREAM_INVALID;
    stream->error = reason;
    stream->error_offset = offset;
    return stream->status;
}

void base64_stream_init(base64_stream *stream, base64_stream_sink sink, void *sink_ctx)
{
    memset(stream, 0, offsetof(base64_stream, staged));
    stream->sink = sink;
    stream->sink_ctx = sink_ctx;
}

/* Decodes the staged characters (a multiple of four unless final) and hands the bytes to the sink. */
static base64_stream_status stream_flush(base64_stream *stream)
{
    if (stream->staged_length == 0) return BASE64_STREAM_OK;
    int variant = stream->alphabet == ALPHABET_URL_SAFE ? sodium_base64_VARIANT_URLSAFE_NO_PADDING
                                                        : sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
    size_t length = 0;
    if (sodium_base642bin(stream->out, sizeof(stream->out), stream->staged, stream->staged_length, NULL,
                          &length, NULL, variant) != 0)
        return stream_fail(stream, "the last group of characters has non-zero unused bits",
                           stream->last_symbol_offset);
    stream->staged_length = 0;
    if (length == 0) return BASE64_STREAM_OK;
    if (stream->sink(stream->sink_ctx, stream->out, length) != 0)
        return stream->status = BASE64_STREAM_SINK_FAILED;
    stream->decoded += length;
    return BASE64_STREAM_OK;
}

/* 0 for a character of neither alphabet-specific set (letters, digits), else the alphabet it implies;
 * -1 for a character of no alphabet. */
static int alphabet_of(unsigned char c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return ALPHABET_UNKNOWN;
    if (c == '+' || c == '/') return ALPHABET_STANDARD;
    if (c == '-' || c == '_') return ALPHABET_URL_SAFE;
    return -1;
}

base64_stream_status base64_stream_feed(base64_stream *stream, const char *text, size_t length)
{
    if (stream->status != BASE64_STREAM_OK) return stream->status;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];
        uint64_t offset = stream->fed + i;
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
        if (c == '=') {
            if (++stream->padding > 2) return stream_fail(stream, "more than two padding characters", offset);
            continue;
        }
        int alphabet = alphabet_of(c);
        if (alphabet < 0) return stream_fail(stream, "a character outside the base64 alphabets", offset);
        if (stream->padding) return stream_fail(stream, "data after the padding", offset);
        if (alphabet != ALPHABET_UNKNOWN) {
            if (stream->alphabet == ALPHABET_UNKNOWN)
                stream->alphabet = alphabet;
            else if (stream->alphabet != alphabet)
                return stream_fail(stream, "characters of both the standard and the URL-safe alphabets",
                                   offset);
        }
        stream->symbols++;
        stream->last_symbol_offset = offset;
        stream->staged[stream->staged_length++] = (char)c;
        if (stream->staged_length == sizeof(stream->staged) && stream_flush(stream) != BASE64_STREAM_OK) {
            stream->fed += i + 1;
            return stream->status;
        }
    }
    stream->fed += length;
    return stream->status;
}

base64_stream_status base64_stream_finish(base64_stream *stream)
{
    if (stream->status != BASE64_STREAM_OK) return stream->status;
    if (stream->symbols % 4 == 1)
        return stream_fail(stream, "the text ends in a lone character", stream->fed);
    if (stream->padding && (stream->symbols + stream->padding) % 4 != 0)
        return stream_fail(stream, "padding that does not complete the last group", stream->fed);
    return stream_flush(stream);
}
