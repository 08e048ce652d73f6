/* fuzz_util_json_scan.c — a body (any bytes) through the streaming JSON object scan, whole and cut into
 * fuzz-chosen pieces, streaming "file_data". Asserts that the split never changes the outcome (status,
 * error and its offset, streamed bytes, members), that the sink sees pieces of 1..JSON_SCAN_OUT bytes
 * summing to streamed_length, that the scan accepts exactly the objects json_loadb(JSON_REJECT_DUPLICATES)
 * accepts (but for a member name over JSON_SCAN_MAX_KEY bytes as sent: TOO_LARGE), giving file_data's string
 * and the other members as jansson parses them, that NOT_OBJECT is "the first non-space byte is not '{'",
 * that a smaller max_small_bytes only ever turns an outcome into TOO_LARGE, and that a stopped scan stays so.
 */
#include <jansson.h>

#include "fuzz_common.h"
#include "util/json_scan.h"

typedef struct collected {
    char *bytes;
    size_t length, capacity;
    int calls, fail_at; /* fail_at < 0: never */
} collected;

static int collect(void *ctx, const char *data, size_t length)
{
    collected *sink = ctx;
    FUZZ_CHECK(length >= 1 && length <= JSON_SCAN_OUT);
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

/* Scans body in pieces whose lengths come from `cuts` (NULL = all at once); the caller frees the scan. */
static json_scan_status scan_body(json_scan *scan, collected *sink, const char *body, size_t length,
                                  const uint8_t *cuts, size_t cut_count, size_t max_small)
{
    FUZZ_CHECK(json_scan_init(scan, "file_data", collect, sink, max_small) == JSON_SCAN_OK);
    size_t done = 0;
    for (size_t i = 0; cuts && i < cut_count && done < length; i++) {
        size_t piece = (size_t)cuts[i] * 37 % (length - done + 1);
        json_scan_feed(scan, body + done, piece);
        done += piece;
    }
    json_scan_feed(scan, body + done, length - done);
    json_scan_status status = json_scan_finish(scan);
    FUZZ_CHECK(status == scan->status && scan->fed == length);
    if (status == JSON_SCAN_INVALID || status == JSON_SCAN_NOT_OBJECT || status == JSON_SCAN_TOO_LARGE) {
        FUZZ_CHECK(scan->error != NULL && scan->error[0] != '\0');
        FUZZ_CHECK(scan->error_offset <= length);
    }
    if (status == JSON_SCAN_OK) FUZZ_CHECK(scan->streamed_length == sink->length);
    if (status != JSON_SCAN_OK) { /* once stopped, it stays so and reads nothing more */
        size_t before = sink->length;
        FUZZ_CHECK(json_scan_feed(scan, "{}", 2) == status && json_scan_finish(scan) == status);
        FUZZ_CHECK(sink->length == before);
    }
    return status;
}

static bool same_outcome(const json_scan *a, const collected *sa, const json_scan *b, const collected *sb)
{
    if (a->status != b->status || a->error_offset != b->error_offset) return false;
    if ((a->error == NULL) != (b->error == NULL) || (a->error && strcmp(a->error, b->error) != 0))
        return false;
    if (a->status != JSON_SCAN_OK) return true; /* what was streamed before an error is discarded */
    return a->streamed == b->streamed && sa->length == sb->length &&
           (sa->length == 0 || memcmp(sa->bytes, sb->bytes, sa->length) == 0) &&
           json_equal(a->members, b->members);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_scan whole, pieces, small; /* ~4 KiB each: off the stack */
    fuzz_input in = {data, size};
    uint8_t options = fuzz_take_byte(&in);
    uint8_t cuts[8];
    for (size_t i = 0; i < sizeof(cuts); i++)
        cuts[i] = fuzz_take_byte(&in);
    const char *body = (const char *)in.data;
    size_t length = in.size;

    collected a = {.fail_at = -1}, b = {.fail_at = -1};
    json_scan_status status = scan_body(&whole, &a, body, length, NULL, 0, 1 << 20);
    FUZZ_CHECK(scan_body(&pieces, &b, body, length, cuts, sizeof(cuts), 1 << 20) == status);
    FUZZ_CHECK(same_outcome(&whole, &a, &pieces, &b));

    size_t skip = 0;
    while (skip < length && strchr(" \t\r\n", body[skip]) && body[skip] != '\0')
        skip++;
    FUZZ_CHECK((status == JSON_SCAN_NOT_OBJECT) == (skip < length && body[skip] != '{'));

    json_error_t error;
    json_t *parsed = json_loadb(body, length, JSON_REJECT_DUPLICATES, &error);
    bool jansson_accepts = parsed != NULL && json_is_object(parsed);
    if (status == JSON_SCAN_OK) FUZZ_CHECK(jansson_accepts);
    if (jansson_accepts) {
        FUZZ_CHECK(status == JSON_SCAN_OK || status == JSON_SCAN_TOO_LARGE);
        /* at this limit only a member name (its raw text) may be too long */
        if (status == JSON_SCAN_TOO_LARGE) FUZZ_CHECK(strcmp(whole.error, "a member name is too long") == 0);
    } else {
        FUZZ_CHECK(status == JSON_SCAN_INVALID || status == JSON_SCAN_NOT_OBJECT ||
                   status == JSON_SCAN_TOO_LARGE);
    }
    if (status == JSON_SCAN_OK) {
        json_t *file_data = json_object_get(parsed, "file_data");
        FUZZ_CHECK(whole.streamed == json_is_string(file_data));
        if (json_is_string(file_data)) {
            FUZZ_CHECK(a.length == json_string_length(file_data));
            FUZZ_CHECK(a.length == 0 || memcmp(a.bytes, json_string_value(file_data), a.length) == 0);
            json_object_del(parsed, "file_data");
        } else {
            FUZZ_CHECK(a.length == 0);
        }
        FUZZ_CHECK(json_equal(parsed, whole.members));
    }

    /* a smaller limit on the other members: the same outcome, or TOO_LARGE */
    collected c = {.fail_at = -1};
    json_scan_status limited = scan_body(&small, &c, body, length, cuts, sizeof(cuts), options >> 1);
    FUZZ_CHECK(limited == status || limited == JSON_SCAN_TOO_LARGE);
    /* (two TOO_LARGE may have different reasons: a long name, or these members) */
    if (limited == status && status != JSON_SCAN_TOO_LARGE) FUZZ_CHECK(same_outcome(&whole, &a, &small, &c));
    json_scan_free(&small);
    free(c.bytes);

    /* a sink that fails stops the scan at that call */
    if ((options & 1) && status == JSON_SCAN_OK && a.length > 0) {
        collected failing = {.fail_at = 0};
        FUZZ_CHECK(scan_body(&small, &failing, body, length, cuts, sizeof(cuts), 1 << 20) ==
                   JSON_SCAN_SINK_FAILED);
        FUZZ_CHECK(failing.calls == 1 && failing.length == 0);
        json_scan_free(&small);
    }

    json_decref(parsed);
    json_scan_free(&whole);
    json_scan_free(&pieces);
    free(a.bytes);
    free(b.bytes);
    return 0;
}
