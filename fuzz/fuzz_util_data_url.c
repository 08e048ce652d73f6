/* fuzz_util_data_url.c — upload text (any bytes, no terminator) through data_url_parse_base64 with a
 * fuzz-chosen media type buffer size. Asserts that the answer is the one of the whole-string rule uploads
 * applied before the parse had its own module (kept here verbatim as the reference), that the payload
 * offset lies within the text, that a refused or plain text leaves offset 0 and "", that an accepted one
 * begins with "data:", has its first comma right before the payload and ";base64" (any case) before that,
 * and that the media type is terminated in its buffer, taken from the text after "data:" up to the
 * first ';' (cut at a NUL byte and to the buffer), the same prefix whatever the buffer size. */
#include <stdio.h>
#include <strings.h>

#include "fuzz_common.h"
#include "util/data_url.h"

enum { REFERENCE_TYPE = 128 };

/* base64_upload_head of src/api/uploads.c before data_url.c: -1 refused, 0 plain, 1 data URL. */
static int reference_parse(const char *text, size_t length, char media_type[REFERENCE_TYPE], size_t *payload)
{
    media_type[0] = '\0';
    *payload = 0;
    if (length > 5 && strncasecmp(text, "data:", 5) == 0) {
        const char *comma = memchr(text, ',', length);
        const char *marker = comma && comma - text >= 12 ? comma - 7 : NULL;
        if (marker == NULL || strncasecmp(marker, ";base64", 7) != 0) return -1;
        const char *type = text + 5;
        size_t type_length = (size_t)(marker - type);
        const char *parameters = memchr(type, ';', type_length);
        if (parameters) type_length = (size_t)(parameters - type);
        snprintf(media_type, REFERENCE_TYPE, "%.*s", (int)type_length, type);
        *payload = (size_t)(comma + 1 - text);
        return 1;
    }
    return 0;
}

static bool equal_ignoring_case(const char *bytes, const char *lowercase, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((bytes[i] >= 'A' && bytes[i] <= 'Z' ? bytes[i] + 32 : bytes[i]) != lowercase[i]) return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    size_t type_size = fuzz_take_byte(&in); /* 0..255: 0 passes a NULL buffer */
    /* an exact-size copy, so that a read past the text is an ASan report */
    char *text = malloc(in.size ? in.size : 1);
    if (text == NULL) abort();
    if (in.size) memcpy(text, in.data, in.size);
    size_t length = in.size;

    char *type = type_size ? malloc(type_size) : NULL;
    if (type_size && type == NULL) abort();
    if (type) memset(type, 0x5A, type_size);
    size_t payload = (size_t)-1;
    data_url_kind kind = data_url_parse_base64(text, length, type, type_size, &payload);
    FUZZ_CHECK(kind == DATA_URL_NONE || kind == DATA_URL_BASE64 || kind == DATA_URL_INVALID);
    FUZZ_CHECK(payload <= length);
    if (type) FUZZ_CHECK(fuzz_terminated(type, type_size));

    char reference_type[REFERENCE_TYPE];
    size_t reference_payload;
    int reference = reference_parse(text, length, reference_type, &reference_payload);
    FUZZ_CHECK((int)kind == reference);
    FUZZ_CHECK(payload == reference_payload);

    char full_type[REFERENCE_TYPE];
    size_t again;
    FUZZ_CHECK(data_url_parse_base64(text, length, full_type, sizeof(full_type), &again) == kind);
    FUZZ_CHECK(again == payload && strcmp(full_type, reference_type) == 0);

    if (kind != DATA_URL_BASE64) {
        FUZZ_CHECK(payload == 0);
        if (type) FUZZ_CHECK(type[0] == '\0');
        FUZZ_CHECK((kind == DATA_URL_NONE) == (length <= 5 || !equal_ignoring_case(text, "data:", 5)));
    } else {
        FUZZ_CHECK(length > 5 && equal_ignoring_case(text, "data:", 5));
        FUZZ_CHECK(payload >= 13 && text[payload - 1] == ',');
        FUZZ_CHECK(memchr(text, ',', payload - 1) == NULL);
        FUZZ_CHECK(equal_ignoring_case(text + payload - 8, ";base64", 7));
        /* the media type: text after "data:", up to the first ';' (there is one), cut at NUL and to size */
        const char *semicolon = memchr(text + 5, ';', payload - 5);
        FUZZ_CHECK(semicolon != NULL);
        size_t whole = (size_t)(semicolon - (text + 5));
        const char *nul = memchr(text + 5, '\0', whole);
        if (nul) whole = (size_t)(nul - (text + 5));
        FUZZ_CHECK(memchr(text + 5, ',', whole) == NULL);
        size_t full = strlen(full_type);
        FUZZ_CHECK(full == (whole < sizeof(full_type) - 1 ? whole : sizeof(full_type) - 1));
        FUZZ_CHECK(memcmp(full_type, text + 5, full) == 0);
        if (type) {
            size_t cut = strlen(type);
            FUZZ_CHECK(cut == (whole < type_size - 1 ? whole : type_size - 1) &&
                       memcmp(type, text + 5, cut) == 0);
        }
    }
    free(type);
    free(text);
    return 0;
}
