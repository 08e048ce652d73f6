/* test_util_data_url.c — the data: URL head of base64 upload text: which texts are base64 data URLs,
 * which are plain base64 and which are refused, the media type taken (parameters dropped, cut to the
 * caller's buffer and at a NUL byte) and where the payload starts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "util/data_url.h"

/* Parses text[0..length) into a 128-byte media type buffer (as uploads do). */
static data_url_kind parse(const char *text, size_t length, char media_type[128], size_t *payload)
{
    memset(media_type, 'x', 128); /* whatever was there must be overwritten */
    *payload = 12345;
    return data_url_parse_base64(text, length, media_type, 128, payload);
}

static void check_base64(const char *text, const char *media_type, size_t payload_offset)
{
    char type[128];
    size_t payload;
    if (parse(text, strlen(text), type, &payload) != DATA_URL_BASE64)
        fail_msg("not a base64 data URL: %s", text);
    assert_string_equal(type, media_type);
    assert_int_equal(payload, payload_offset);
}

static void check_kind(const char *text, size_t length, data_url_kind expected)
{
    char type[128];
    size_t payload;
    data_url_kind kind = parse(text, length, type, &payload);
    if (kind != expected) fail_msg("%.*s: kind %d, expected %d", (int)length, text, kind, expected);
    assert_int_equal(payload, 0);
    assert_string_equal(type, "");
}

static void base64_data_urls_give_their_media_type_and_payload(void **state)
{
    (void)state;
    check_base64("data:image/png;base64,QUJD", "image/png", 22);
    check_base64("DATA:Image/PNG;BASE64,QUJD", "Image/PNG", 22); /* any case; the type is kept as sent */
    check_base64("dAtA:video/mp4;BaSe64,", "video/mp4", 22);     /* an empty payload */
    check_base64("data:audio/wav;charset=utf-8;name=a.wav;base64,QUJD", "audio/wav", 47);
    check_base64("data:;base64,QUJD", "", 13); /* no media type */
    check_base64("data:;x;base64,QUJD", "", 15);
    check_base64("data:../x y\"<>;base64,QUJD", "../x y\"<>", 22); /* not validated here */
    check_base64("data:image/png;base64,QU,JD", "image/png", 22);  /* the first comma decides */
}

static void plain_text_is_not_a_data_url(void **state)
{
    (void)state;
    check_kind("QUJD", 4, DATA_URL_NONE);
    check_kind("", 0, DATA_URL_NONE);
    check_kind("data", 4, DATA_URL_NONE);
    check_kind("data:", 5, DATA_URL_NONE); /* too short to be one: left to the decoder, which refuses ':' */
    check_kind("data;image/png;base64,QUJD", 26, DATA_URL_NONE);
    check_kind(" data:image/png;base64,QUJD", 27, DATA_URL_NONE);
    check_kind("dat\0:image/png;base64,QUJD", 26, DATA_URL_NONE);
}

static void malformed_or_other_data_urls_are_refused(void **state)
{
    (void)state;
    static const char *refused[] = {
        "data:image/png,QUJD",          /* not base64 */
        "data:image/png;base64QUJD",    /* no comma */
        "data:x",                       /* no comma */
        "data:base64,QUJD",             /* no ';' before base64 */
        "data:;base6,QUJD",             /* the comma too early for ";base64" */
        "data:a,b;base64,QUJD",         /* the first comma is not after ";base64" */
        "data:image/png;base64;x,QUJD", /* ";base64" must end at the comma */
        "data:image/png;base65,QUJD",
        "data:image/png; base64,QUJD",
        "data:image/png;base64 ,QUJD",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        check_kind(refused[i], strlen(refused[i]), DATA_URL_INVALID);
    check_kind("data:image/png;bas\0e64,QUJD", 27, DATA_URL_INVALID); /* a NUL byte is no letter */
    /* only the given bytes count: the comma past length is not seen */
    check_kind("data:image/png;base64,QUJD", 21, DATA_URL_INVALID);
}

static void the_media_type_is_cut_to_the_buffer_and_at_a_nul_byte(void **state)
{
    (void)state;
    char text[300] = "data:";
    memset(text + 5, 't', 200);
    strcpy(text + 205, ";base64,QUJD");
    char type[128];
    size_t payload;
    assert_int_equal(parse(text, strlen(text), type, &payload), DATA_URL_BASE64);
    assert_int_equal(strlen(type), 127);
    assert_int_equal(payload, 213);

    char small[4];
    assert_int_equal(data_url_parse_base64("data:image/png;base64,QUJD", 26, small, sizeof(small), &payload),
                     DATA_URL_BASE64);
    assert_string_equal(small, "ima");
    assert_int_equal(data_url_parse_base64("data:image/png;base64,QUJD", 26, small, 1, &payload),
                     DATA_URL_BASE64);
    assert_string_equal(small, "");
    assert_int_equal(data_url_parse_base64("data:image/png;base64,QUJD", 26, NULL, 0, &payload),
                     DATA_URL_BASE64);
    assert_int_equal(payload, 22);

    static const char with_nul[] = "data:ima\0ge/png;base64,QUJD";
    assert_int_equal(parse(with_nul, sizeof(with_nul) - 1, type, &payload), DATA_URL_BASE64);
    assert_string_equal(type, "ima");
    assert_int_equal(payload, 23);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(base64_data_urls_give_their_media_type_and_payload),
        cmocka_unit_test(plain_text_is_not_a_data_url),
        cmocka_unit_test(malformed_or_other_data_urls_are_refused),
        cmocka_unit_test(the_media_type_is_cut_to_the_buffer_and_at_a_nul_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
