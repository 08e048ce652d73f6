/* test_util_base64_stream.c — the streaming base64 decoder: any split of the text gives the bytes of a
 * whole-buffer decode (libsodium's), both alphabets, padding optional, whitespace ignored, and every
 * malformed text refused with the same error and offset whatever the split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/base64_stream.h"

typedef struct collected {
    unsigned char *data;
    size_t length, capacity;
    size_t calls, fail_after; /* fail_after: the sink fails on that call (0 = never) */
} collected;

static int collect(void *ctx, const unsigned char *data, size_t length)
{
    collected *c = ctx;
    assert_true(length >= 1 && length <= BASE64_STREAM_OUT_MAX);
    if (++c->calls == c->fail_after) return -1;
    if (c->length + length > c->capacity) {
        c->capacity = (c->length + length) * 2;
        c->data = realloc(c->data, c->capacity);
        assert_non_null(c->data);
    }
    memcpy(c->data + c->length, data, length);
    c->length += length;
    return 0;
}

typedef struct outcome {
    base64_stream_status status;
    const char *error;
    uint64_t error_offset, decoded;
} outcome;

/* Decodes text fed in pieces cut at the given offsets (ascending, within the text). */
static outcome decode_split(const char *text, size_t length, const size_t *cuts, size_t cut_count,
                            collected *out)
{
    static base64_stream stream; /* ~14 KiB: off the stack */
    memset(out, 0, sizeof(*out));
    base64_stream_init(&stream, collect, out);
    size_t at = 0;
    for (size_t i = 0; i <= cut_count; i++) {
        size_t end = i < cut_count ? cuts[i] : length;
        base64_stream_feed(&stream, text + at, end - at);
        at = end;
    }
    base64_stream_finish(&stream);
    assert_int_equal(stream.decoded, out->length);
    return (outcome){stream.status, stream.error, stream.error_offset, stream.decoded};
}

static void check_same(const outcome *a, const collected *ca, const outcome *b, const collected *cb)
{
    assert_int_equal(a->status, b->status);
    if (a->status == BASE64_STREAM_INVALID) {
        assert_string_equal(a->error, b->error);
        assert_int_equal(a->error_offset, b->error_offset);
    } else {
        assert_int_equal(ca->length, cb->length);
        if (ca->length) assert_memory_equal(ca->data, cb->data, ca->length);
    }
}

/* Whole, then cut at every offset, then byte by byte: all the same outcome. */
static outcome check_every_split(const char *text, size_t length, collected *whole)
{
    outcome reference = decode_split(text, length, NULL, 0, whole);
    collected other;
    for (size_t cut = 0; cut <= length; cut++) {
        outcome o = decode_split(text, length, &cut, 1, &other);
        check_same(&reference, whole, &o, &other);
        free(other.data);
    }
    size_t *cuts = malloc((length + 1) * sizeof(*cuts));
    assert_non_null(cuts);
    for (size_t i = 0; i < length; i++)
        cuts[i] = i;
    outcome o = decode_split(text, length, cuts, length, &other);
    check_same(&reference, whole, &o, &other);
    free(other.data);
    free(cuts);
    return reference;
}

static char *encode(const unsigned char *data, size_t length, int variant)
{
    size_t size = sodium_base64_encoded_len(length, variant);
    char *text = malloc(size);
    assert_non_null(text);
    sodium_bin2base64(text, size, data, length, variant);
    return text;
}

/* Adds whitespace every `every` characters (a space, a CRLF, a tab in turn). */
static char *with_whitespace(const char *text, size_t every)
{
    size_t length = strlen(text);
    char *out = malloc(length * 3 + 3);
    assert_non_null(out);
    size_t n = 0;
    static const char *spaces[] = {" ", "\r\n", "\t"};
    for (size_t i = 0; i < length; i++) {
        if (i % every == 0) {
            strcpy(out + n, spaces[(i / every) % 3]);
            n += strlen(spaces[(i / every) % 3]);
        }
        out[n++] = text[i];
    }
    strcpy(out + n, "\n");
    return out;
}

static void every_variant_and_split_decodes_to_the_bytes(void **state)
{
    (void)state;
    static const int variants[] = {sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
                                   sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING};
    unsigned char data[200];
    for (size_t length = 0; length <= 70; length += (length < 12 ? 1 : 7)) {
        randombytes_buf(data, length);
        for (size_t v = 0; v < 4; v++) {
            char *text = encode(data, length, variants[v]);
            char *spaced = with_whitespace(text, 5);
            const char *texts[] = {text, spaced};
            for (size_t t = 0; t < 2; t++) {
                collected whole;
                outcome o = check_every_split(texts[t], strlen(texts[t]), &whole);
                assert_int_equal(o.status, BASE64_STREAM_OK);
                assert_int_equal(whole.length, length);
                if (length) assert_memory_equal(whole.data, data, length);
                free(whole.data);
            }
            free(text);
            free(spaced);
        }
    }
}

/* A text several staging blocks long, cut around each block boundary and at a stride elsewhere. */
static void long_text_across_staging_blocks(void **state)
{
    (void)state;
    enum { LENGTH = BASE64_STREAM_STAGE / 4 * 3 * 3 + 1000 };
    unsigned char *data = malloc(LENGTH);
    assert_non_null(data);
    randombytes_buf(data, LENGTH);
    for (int urlsafe = 0; urlsafe < 2; urlsafe++) {
        char *text =
            encode(data, LENGTH, urlsafe ? sodium_base64_VARIANT_URLSAFE : sodium_base64_VARIANT_ORIGINAL);
        char *spaced = with_whitespace(text, 76);
        const char *texts[] = {text, spaced};
        for (size_t t = 0; t < 2; t++) {
            size_t length = strlen(texts[t]);
            collected whole, other;
            outcome reference = decode_split(texts[t], length, NULL, 0, &whole);
            assert_int_equal(reference.status, BASE64_STREAM_OK);
            assert_int_equal(whole.length, LENGTH);
            assert_memory_equal(whole.data, data, LENGTH);
            assert_true(whole.calls >= 3);
            for (size_t cut = 0; cut <= length;
                 cut +=
                 1 + (cut % BASE64_STREAM_STAGE < 8 || cut % BASE64_STREAM_STAGE > BASE64_STREAM_STAGE - 8
                          ? 0
                          : 97)) {
                size_t cuts[2] = {cut, cut + (length - cut) / 2};
                outcome o = decode_split(texts[t], length, cuts, 2, &other);
                check_same(&reference, &whole, &o, &other);
                free(other.data);
            }
            free(whole.data);
        }
        free(text);
        free(spaced);
    }
    free(data);
}

static void malformed_texts_are_refused_at_the_same_place_for_any_split(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *reason; /* a word of the reason */
        uint64_t offset;
    } cases[] = {
        {"!!!not base64!!!", "outside", 0},
        {"QUJD=QUJD", "after the padding", 5},
        {"QUJD = \n QUJD", "after the padding", 9},
        {"QQ===", "more than two", 4},
        {"Q", "lone", 1},
        {"QUJDQ \n", "lone", 7},
        {"QQ=", "does not complete", 3},
        {"QUJD=", "does not complete", 5},
        {"QUJD==", "does not complete", 6},
        {"ab+c_d", "both", 4},
        {"ab-c/d", "both", 4},
        {"QR==", "unused bits", 1},
        {"QUJDQR", "unused bits", 5},
        {"QUJ\xc3\xa9", "outside", 3},
        {"QU\0J", "outside", 2},
        {"QUJD.", "outside", 4},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t length = strlen(cases[i].text);
        if (i == 14) length = 4; /* the NUL one */
        collected whole;
        outcome o = check_every_split(cases[i].text, length, &whole);
        free(whole.data);
        if (o.status != BASE64_STREAM_INVALID || strstr(o.error, cases[i].reason) == NULL ||
            o.error_offset != cases[i].offset)
            fail_msg("case %zu (%s): status %d, error %s at %llu", i, cases[i].text, o.status,
                     o.error ? o.error : "-", (unsigned long long)o.error_offset);
    }
}

static void valid_edge_cases(void **state)
{
    (void)state;
    static const struct {
        const char *text, *bytes;
    } cases[] = {
        {"", ""},           {" \r\n\t", ""},     {"QUJD", "ABC"},      {"QUI", "AB"},
        {"QUI=", "AB"},     {"QQ", "A"},         {"QQ==", "A"},        {"QQ= =\n", "A"},
        {"Q U J D", "ABC"}, {"_-8", "\xff\xef"}, {"/+8=", "\xff\xef"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        collected whole;
        outcome o = check_every_split(cases[i].text, strlen(cases[i].text), &whole);
        assert_int_equal(o.status, BASE64_STREAM_OK);
        assert_int_equal(whole.length, strlen(cases[i].bytes));
        if (whole.length) assert_memory_equal(whole.data, cases[i].bytes, whole.length);
        free(whole.data);
    }
}

static void a_failing_sink_stops_the_stream(void **state)
{
    (void)state;
    enum { LENGTH = BASE64_STREAM_OUT_MAX * 3 };
    static unsigned char data[LENGTH];
    randombytes_buf(data, LENGTH);
    char *text = encode(data, LENGTH, sodium_base64_VARIANT_ORIGINAL);
    static base64_stream stream;
    collected out;
    memset(&out, 0, sizeof(out));
    out.fail_after = 2;
    base64_stream_init(&stream, collect, &out);
    assert_int_equal(base64_stream_feed(&stream, text, strlen(text)), BASE64_STREAM_SINK_FAILED);
    assert_int_equal(base64_stream_feed(&stream, "QUJD", 4), BASE64_STREAM_SINK_FAILED);
    assert_int_equal(base64_stream_finish(&stream), BASE64_STREAM_SINK_FAILED);
    assert_int_equal(out.calls, 2);
    assert_int_equal(stream.decoded, BASE64_STREAM_OUT_MAX);
    /* and an error stays: nothing more reaches the sink */
    free(out.data);
    memset(&out, 0, sizeof(out));
    base64_stream_init(&stream, collect, &out);
    assert_int_equal(base64_stream_feed(&stream, "QU!", 3), BASE64_STREAM_INVALID);
    assert_int_equal(base64_stream_feed(&stream, text, strlen(text)), BASE64_STREAM_INVALID);
    assert_int_equal(base64_stream_finish(&stream), BASE64_STREAM_INVALID);
    assert_int_equal(out.calls, 0);
    assert_int_equal(stream.error_offset, 2);
    free(text);
    free(out.data);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_variant_and_split_decodes_to_the_bytes),
        cmocka_unit_test(long_text_across_staging_blocks),
        cmocka_unit_test(malformed_texts_are_refused_at_the_same_place_for_any_split),
        cmocka_unit_test(valid_edge_cases),
        cmocka_unit_test(a_failing_sink_stops_the_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
