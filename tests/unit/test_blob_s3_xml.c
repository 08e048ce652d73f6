/* test_blob_s3_xml.c — the S3 backend's reading of outside bytes (blob/blob_s3_request.h): the text of
 * an XML element with its entities decoded, and refused when it does not close, holds markup, has an
 * unknown entity or does not fit; query values encoded as SigV4 wants them; S3's listing times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "blob/blob_s3_request.h"

static const char *text_of(const char *xml, const char *tag, char *out, size_t out_size)
{
    return s3_xml_text(xml, strlen(xml), NULL, tag, out, out_size);
}

static void element_text_and_entities(void **state)
{
    (void)state;
    char out[64];
    assert_non_null(text_of("<R><UploadId>abc-1</UploadId></R>", "UploadId", out, sizeof(out)));
    assert_string_equal(out, "abc-1");
    assert_non_null(text_of("<E>&quot;a&amp;b&lt;&gt;&apos;&quot;</E>", "E", out, sizeof(out)));
    assert_string_equal(out, "\"a&b<>'\"");
    assert_non_null(text_of("<E></E>", "E", out, sizeof(out)));
    assert_string_equal(out, "");
    /* the pointer past the element walks repeated elements */
    const char *xml = "<K>one</K><K>two</K>";
    const char *next = s3_xml_text(xml, strlen(xml), NULL, "K", out, sizeof(out));
    assert_non_null(next);
    assert_non_null(s3_xml_text(xml, strlen(xml), next, "K", out, sizeof(out)));
    assert_string_equal(out, "two");
    assert_null(s3_xml_text(xml, strlen(xml), xml + strlen(xml), "K", out, sizeof(out)));
}

static void hostile_elements_are_absent(void **state)
{
    (void)state;
    char out[8];
    assert_null(text_of("<Code>NoSuchKey", "Code", out, sizeof(out)));          /* never closes */
    assert_null(text_of("<Code>a<b/>c</Code>", "Code", out, sizeof(out)));      /* markup inside */
    assert_null(text_of("<Code>&bogus;</Code>", "Code", out, sizeof(out)));     /* unknown entity */
    assert_null(text_of("<Code>&amp</Code>", "Code", out, sizeof(out)));        /* cut entity */
    assert_null(text_of("<Code>12345678</Code>", "Code", out, sizeof(out)));    /* does not fit */
    assert_null(text_of("<Other>x</Other>", "Code", out, sizeof(out)));         /* not there */
    assert_non_null(text_of("<Code>1234567</Code>", "Code", out, sizeof(out))); /* just fits */
    const char with_nul[] = "<Code>a\0b</Code>";
    assert_null(s3_xml_text(with_nul, sizeof(with_nul) - 1, NULL, "Code", out, sizeof(out)));
    /* the length bounds the search: a closing tag past it is not seen */
    const char *cut = "<Code>abc</Code>";
    assert_null(s3_xml_text(cut, 10, NULL, "Code", out, sizeof(out)));
}

static void query_values_are_encoded(void **state)
{
    (void)state;
    char out[32] = "prefix=";
    size_t length = strlen(out);
    assert_int_equal(s3_query_append(out, sizeof(out), &length, "a/b c~_.-+="), 0);
    assert_string_equal(out, "prefix=a%2Fb%20c~_.-%2B%3D");
    assert_int_equal(length, strlen(out));
    char small[8] = "";
    size_t small_length = 0;
    assert_int_equal(s3_query_append(small, sizeof(small), &small_length, "abcdefgh"), -1);
    small_length = 0;
    assert_int_equal(s3_query_append(small, sizeof(small), &small_length, "ab//"), -1); /* %2F%2F: 8 bytes */
}

static void listing_times(void **state)
{
    (void)state;
    assert_int_equal(s3_parse_iso_time("2026-11-27T18:19:02.000Z"), 1795803542);
    assert_int_equal(s3_parse_iso_time("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(s3_parse_iso_time("yesterday"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(element_text_and_entities),
        cmocka_unit_test(hostile_elements_are_absent),
        cmocka_unit_test(query_values_are_encoded),
        cmocka_unit_test(listing_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
