/* fuzz_util_base64_stream.c — upload text (any bytes) through the streaming base64 decoder, whole and cut
 * into fuzz-chosen pieces, and bytes encoded by libsodium (either alphabet, padded or not, with
 * whitespace) back through it. Asserts that the split never changes the outcome (bytes, status, error
 * and its offset), that decoded text is canonical (re-encoding the bytes gives the text back, without
 * whitespace and padding), that the sink sees pieces of 1..BASE64_STREAM_OUT_MAX bytes summing to
 * `decoded`, that encoded bytes always decode to themselves, and that a failing sink stops everything. */
#include <sodium.h>
#include <string.h>

#include "fuzz_common.h"
#include "util/base64_stream.h"

typedef struct collected {
    unsigned char *bytes;
    size_t length, capacity;
    int calls, fail_at; /* fail_at < 0: never */
} collected;

static int collect(void *ctx, const unsigned char *data, size_t length)
{
    collected *sink = ctx;
    FUZZ_CHECK(length >= 1 && length <= BASE64_STREAM_OUT_MAX);
    if (sink->fail_at >= 0 && sink->calls++ >= sink->fail_at) return 1;
    if (sink->length + length > sink->capacity) {
        sink->capacity = (sink->length + length) * 2;
        sink->bytes = realloc(sink->bytes, sink->capacity);
        if (sink->bytes == NULL) abort();
    }
    memcpy(sink->bytes + sink->length, data, length);
    sink->length += length;
    return 0;
}

/* Decodes text in pieces whose lengths come from `cuts` (0 = all at once). */
static base64_stream_status decode(base64_stream *stream, collected *sink, const char *text, size_t length,
                                   const uint8_t *cuts, size_t cut_count)
{
    base64_stream_init(stream, collect, sink);
    size_t done = 0;
    for (size_t i = 0; i < cut_count && done < length; i++) {
        size_t piece = (size_t)cuts[i] * 67 % (length - done + 1);
        base64_stream_feed(stream, text + done, piece);
        done += piece;
    }
    base64_stream_feed(stream, text + done, length - done);
    base64_stream_status status = base64_stream_finish(stream);
    FUZZ_CHECK(status == stream->status);
    if (status == BASE64_STREAM_OK) FUZZ_CHECK(stream->decoded == sink->length);
    if (status == BASE64_STREAM_INVALID) {
        FUZZ_CHECK(stream->error != NULL && stream->error[0] != '\0');
        FUZZ_CHECK(stream->error_offset <= length);
    }
    /* once stopped, every later call answers the same and feeds nothing */
    if (status != BASE64_STREAM_OK) {
        size_t before = sink->length;
        FUZZ_CHECK(base64_stream_feed(stream, "QUJD", 4) == status);
        FUZZ_CHECK(sink->length == before);
    }
    return status;
}

/* text without whitespace and '=' — what the decoded bytes must encode back to */
static char *canonical_text(const char *text, size_t length, size_t *out_length)
{
    char *out = malloc(length + 1);
    if (out == NULL) abort();
    size_t used = 0;
    for (size_t i = 0; i < length; i++)
        if (!strchr(" \t\r\n=", text[i]) || text[i] == '\0') out[used++] = text[i];
    out[used] = '\0';
    *out_length = used;
    return out;
}

static void check_arbitrary_text(const char *text, size_t length, const uint8_t *cuts, size_t cut_count)
{
    base64_stream whole, pieces;
    collected a = {.fail_at = -1}, b = {.fail_at = -1};
    base64_stream_status status = decode(&whole, &a, text, length, NULL, 0);
    FUZZ_CHECK(decode(&pieces, &b, text, length, cuts, cut_count) == status);
    FUZZ_CHECK(whole.error == pieces.error && whole.error_offset == pieces.error_offset);
    if (status == BASE64_STREAM_OK) {
        FUZZ_CHECK(a.length == b.length && (a.length == 0 || memcmp(a.bytes, b.bytes, a.length) == 0));
        size_t expected_length = 0;
        char *expected = canonical_text(text, length, &expected_length);
        bool url_safe = strpbrk(expected, "-_") != NULL;
        int variant =
            url_safe ? sodium_base64_VARIANT_URLSAFE_NO_PADDING : sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
        size_t encoded_size = sodium_base64_ENCODED_LEN(a.length, variant);
        char *encoded = malloc(encoded_size);
        if (encoded == NULL) abort();
        sodium_bin2base64(encoded, encoded_size, a.bytes ? a.bytes : (const unsigned char *)"", a.length,
                          variant);
        FUZZ_CHECK(strlen(encoded) == expected_length && strcmp(encoded, expected) == 0);
        free(encoded);
        free(expected);
    }
    free(a.bytes);
    free(b.bytes);
}

/* Bytes encoded by libsodium, dressed as clients send them, decode to themselves. */
static void check_encoded_bytes(const uint8_t *bytes, size_t size, uint8_t style, const uint8_t *cuts,
                                size_t cut_count)
{
    static const int variants[] = {sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
                                   sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING};
    int variant = variants[style % 4];
    size_t encoded_size = sodium_base64_ENCODED_LEN(size, variant);
    char *encoded = malloc(encoded_size);
    char *dressed = malloc(encoded_size * 2 + 4);
    if (encoded == NULL || dressed == NULL) abort();
    sodium_bin2base64(encoded, encoded_size, size ? bytes : (const uint8_t *)"", size, variant);
    size_t used = 0, line = 4 + (style >> 2) * 4; /* a line break every `line` characters, MIME-like */
    for (size_t i = 0; encoded[i]; i++) {
        if ((style & 0x80) && i > 0 && i % line == 0) dressed[used++] = (style & 0x40) ? '\n' : ' ';
        dressed[used++] = encoded[i];
    }
    if (style & 0x20) dressed[used++] = '\r', dressed[used++] = '\n';
    base64_stream stream;
    collected sink = {.fail_at = -1};
    FUZZ_CHECK(decode(&stream, &sink, dressed, used, cuts, cut_count) == BASE64_STREAM_OK);
    FUZZ_CHECK(sink.length == size && (size == 0 || memcmp(sink.bytes, bytes, size) == 0));
    free(sink.bytes);

    /* a sink that fails stops the decoding for good */
    if (size > 0) {
        collected failing = {.fail_at = style % 3};
        base64_stream_status status = decode(&stream, &failing, dressed, used, cuts, cut_count);
        size_t pieces_needed = (size + BASE64_STREAM_OUT_MAX - 1) / BASE64_STREAM_OUT_MAX;
        if ((size_t)failing.fail_at < pieces_needed) FUZZ_CHECK(status == BASE64_STREAM_SINK_FAILED);
        free(failing.bytes);
    }
    free(encoded);
    free(dressed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    uint8_t mode = fuzz_take_byte(&in);
    uint8_t cuts[8];
    for (size_t i = 0; i < sizeof(cuts); i++)
        cuts[i] = fuzz_take_byte(&in);
    if (mode & 1)
        check_encoded_bytes(in.data, in.size, mode >> 1 | (mode & 0x80), cuts, sizeof(cuts));
    else
        check_arbitrary_text((const char *)in.data, in.size, cuts, sizeof(cuts));
    return 0;
}
