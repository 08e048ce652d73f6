/* test_net_webhook_verify.c — provider webhook signatures against the published (or spec's
 * self-generated) test vectors, plus every way a forgery or replay should fail; and the Standard
 * Webhooks signer of our own callbacks, against the official vector and the verifier. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "net/webhook_verify.h"

/* specs/upstream-apis.md §1.7: Ed25519 seed 0x00..0x1f */
static const char fal_jwks[] = "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"A6EHv_"
                               "POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg\",\"kid\":\"k1\"}]}";
static const char fal_body[] = "{\"request_id\":\"123e4567-e89b-12d3-a456-426614174000\",\"gateway_request_"
                               "id\":\"123e4567-e89b-12d3-a456-"
                               "426614174000\",\"status\":\"OK\",\"payload\":{\"video\":{\"url\":\"https://"
                               "v3.fal.media/files/x/out.mp4\"}}}";
static const char fal_signature[] = "30a5b5780a36aa922dd71a4d081d8048404c57ff8e0ea0bf2398c270aa593b07e3cfe0aa"
                                    "f2ae2f4b9387d4f58c2c66beefa70b2a5baece0b8"
                                    "a3e75ceebc9b206";
static const char fal_request[] = "123e4567-e89b-12d3-a456-426614174000";

static void fal_vector_verifies_and_forgeries_do_not(void **state)
{
    (void)state;
    int64_t now = 1700000000;
    assert_true(webhook_verify_fal(fal_jwks, fal_request, "user_test", "1700000000", fal_signature, fal_body,
                                   strlen(fal_body), now));
    /* 300 s either way is fine, 301 s is a replay */
    assert_true(webhook_verify_fal(fal_jwks, fal_request, "user_test", "1700000000", fal_signature, fal_body,
                                   strlen(fal_body), now + 300));
    assert_false(webhook_verify_fal(fal_jwks, fal_request, "user_test", "1700000000", fal_signature, fal_body,
                                    strlen(fal_body), now + 301));
    assert_false(webhook_verify_fal(fal_jwks, fal_request, "user_test", "1700000000", fal_signature, fal_body,
                                    strlen(fal_body), now - 301));
    /* any changed input */
    assert_false(webhook_verify_fal(fal_jwks, fal_request, "user_other", "1700000000", fal_signature,
                                    fal_body, strlen(fal_body), now));
    assert_false(webhook_verify_fal(fal_jwks, "123e4567-e89b-12d3-a456-426614174001", "user_test",
                                    "1700000000", fal_signature, fal_body, strlen(fal_body), now));
    assert_false(webhook_verify_fal(fal_jwks, fal_request, "user_test", "1700000001", fal_signature, fal_body,
                                    strlen(fal_body), now));
    char body[sizeof(fal_body)];
    memcpy(body, fal_body, sizeof(body));
    body[10] ^= 1;
    assert_false(webhook_verify_fal(fal_jwks, fal_request, "user_test", "1700000000", fal_signature, body,
                                    strlen(body), now));
    char signature[sizeof(fal_signature)];
    memcpy(signature, fal_signature, sizeof(signature));
    signature[5] = signature[5] == '0' ? '1' : '0';
    assert_false(webhook_verify_fal(fal_jwks, fal_request, "user_test", "1700000000", signature, fal_body,
                                    strlen(fal_body), now));
    /* another key set, a malformed one, malformed headers */
    const char other_jwks[] = "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_"
                              "7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}";
    assert_false(webhook_verify_fal(other_jwks, fal_request, "user_test", "1700000000", fal_signature,
                                    fal_body, strlen(fal_body), now));
    assert_false(webhook_verify_fal("not json", fal_request, "user_test", "1700000000", fal_signature,
                                    fal_body, strlen(fal_body), now));
    assert_false(webhook_verify_fal("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"short\"}]}",
                                    fal_request, "user_test", "1700000000", fal_signature, fal_body,
                                    strlen(fal_body), now));
    assert_false(webhook_verify_fal(fal_jwks, fal_request, "user_test", "17e8", fal_signature, fal_body,
                                    strlen(fal_body), now));
    assert_false(webhook_verify_fal(fal_jwks, fal_request, "user_test", "1700000000", "zz", fal_body,
                                    strlen(fal_body), now));
    assert_false(webhook_verify_fal(fal_jwks, fal_request, "user_test", NULL, fal_signature, fal_body,
                                    strlen(fal_body), now));
    /* a key set with the right key second still verifies */
    const char two_keys[] =
        "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_"
        "7TyWQHOg7hcvPapiMlrwIaaPcHURo\"},"
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg\"}]}";
    assert_true(webhook_verify_fal(two_keys, fal_request, "user_test", "1700000000", fal_signature, fal_body,
                                   strlen(fal_body), now));
}

static void sync_example_verifies_and_forgeries_do_not(void **state)
{
    (void)state;
    /* specs/upstream-apis.md §2.5 self-generated example */
    const char body[] = "{\"id\":\"gen_1\",\"status\":\"COMPLETED\"}";
    const char header[] = "t=1700000000,v1=31f65cbec6184d4de3ccf9e70b1ebd8d4576782dc04ed67f626f43d84a983626";
    assert_true(webhook_verify_sync("whsec_test", header, body, strlen(body), 1700000000));
    assert_true(webhook_verify_sync(
        "whsec_test", "v1=31f65cbec6184d4de3ccf9e70b1ebd8d4576782dc04ed67f626f43d84a983626, t=1700000000",
        body, strlen(body), 1700000100));
    assert_false(webhook_verify_sync("whsec_other", header, body, strlen(body), 1700000000));
    assert_false(webhook_verify_sync("whsec_test", header, body, strlen(body) - 1, 1700000000));
    assert_false(webhook_verify_sync("whsec_test", header, body, strlen(body), 1700000400));
    assert_false(webhook_verify_sync(
        "whsec_test", "t=1700000001,v1=31f65cbec6184d4de3ccf9e70b1ebd8d4576782dc04ed67f626f43d84a983626",
        body, strlen(body), 1700000000));
    assert_false(webhook_verify_sync("whsec_test", "t=1700000000", body, strlen(body), 1700000000));
    assert_false(webhook_verify_sync("whsec_test", "t=1700000000,v1=zz", body, strlen(body), 1700000000));
    assert_false(webhook_verify_sync("", header, body, strlen(body), 1700000000));
    assert_false(webhook_verify_sync("whsec_test", NULL, body, strlen(body), 1700000000));
}

static void standard_webhooks_official_vector_verifies_and_forgeries_do_not(void **state)
{
    (void)state;
    /* specs/upstream-apis.md §3.6: Kling's published vector (the same algorithm as OpenAI's) */
    const char secret[] = "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI=";
    const char body[] =
        "{\"id\":\"1234567890\",\"status\":\"succeeded\",\"message\":\"\",\"create_time\":1781080778802,"
        "\"update_time\":1781080794151}";
    const char good[] = "v1,UsKlJP00XoQyOn410NM9xv34sP+Gl0jnOO9Lcpr7NJ4=";
    int64_t now = 1781080794;
    assert_true(webhook_verify_standard(secret, "9876543210", "1781080794", good, body, strlen(body), now));
    /* rotation: several entries, the good one last */
    assert_true(webhook_verify_standard(secret, "9876543210", "1781080794",
                                        "v1,AAAAJP00XoQyOn410NM9xv34sP+Gl0jnOO9Lcpr7NJ4= v1a,xyz "
                                        "v1,UsKlJP00XoQyOn410NM9xv34sP+Gl0jnOO9Lcpr7NJ4=",
                                        body, strlen(body), now));
    assert_false(webhook_verify_standard(secret, "9876543211", "1781080794", good, body, strlen(body), now));
    assert_false(webhook_verify_standard(secret, "9876543210", "1781080795", good, body, strlen(body), now));
    assert_false(
        webhook_verify_standard(secret, "9876543210", "1781080794", good, body, strlen(body) - 1, now));
    assert_false(webhook_verify_standard("whsec_b3RoZXJzZWNyZXQ=", "9876543210", "1781080794", good, body,
                                         strlen(body), now));
    assert_false(
        webhook_verify_standard(secret, "9876543210", "1781080794", good, body, strlen(body), now + 301));
    assert_false(webhook_verify_standard(secret, "9876543210", "1781080794",
                                         "v2,UsKlJP00XoQyOn410NM9xv34sP+Gl0jnOO9Lcpr7NJ4=", body,
                                         strlen(body), now));
    assert_false(webhook_verify_standard(secret, "", "1781080794", good, body, strlen(body), now));
    assert_false(
        webhook_verify_standard("whsec_!!!", "9876543210", "1781080794", good, body, strlen(body), now));
}

/* The Standard Webhooks specification's own test vector, signed by us. */
static void standard_signer_reproduces_the_official_vector(void **state)
{
    (void)state;
    const char body[] = "{\"test\": 2432232314}";
    webhook_signed_headers headers;
    assert_int_equal(webhook_sign_standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                           "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body),
                                           &headers),
                     0);
    assert_string_equal(headers.id, "webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek");
    assert_string_equal(headers.timestamp, "webhook-timestamp: 1614265330");
    assert_string_equal(headers.signature,
                        "webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /* Kling's vector (a secret of 32 bytes, as reelay's keys have) from the verifier's test */
    const char kling_body[] =
        "{\"id\":\"1234567890\",\"status\":\"succeeded\",\"message\":\"\",\"create_time\":"
        "1781080778802,\"update_time\":1781080794151}";
    assert_int_equal(webhook_sign_standard("whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI=", "9876543210",
                                           1781080794, kling_body, strlen(kling_body), &headers),
                     0);
    assert_string_equal(headers.signature,
                        "webhook-signature: v1,UsKlJP00XoQyOn410NM9xv34sP+Gl0jnOO9Lcpr7NJ4=");
}

/* The value of a "Name: value" header line. */
static const char *header_value(const char *line)
{
    const char *colon = strchr(line, ':');
    assert_non_null(colon);
    return colon + 2;
}

static void standard_signer_output_verifies_and_tampering_does_not(void **state)
{
    (void)state;
    unsigned char raw[32];
    randombytes_buf(raw, sizeof(raw));
    char encoded[sodium_base64_ENCODED_LEN(sizeof(raw), sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(encoded, sizeof(encoded), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
    char secret[64];
    snprintf(secret, sizeof(secret), "whsec_%s", encoded);
    const char body[] = "{\"id\":\"task-unified-1757165031-uyujaw3d\",\"status\":\"completed\"}";
    const int64_t now = 1757165100;
    webhook_signed_headers headers;
    assert_int_equal(webhook_sign_standard(secret, "msg_task-unified-1757165031-uyujaw3d", now, body,
                                           strlen(body), &headers),
                     0);
    const char *id = header_value(headers.id), *timestamp = header_value(headers.timestamp);
    const char *signature = header_value(headers.signature);
    assert_string_equal(id, "msg_task-unified-1757165031-uyujaw3d");
    assert_true(webhook_verify_standard(secret, id, timestamp, signature, body, strlen(body), now));
    assert_true(webhook_verify_standard(secret, id, timestamp, signature, body, strlen(body), now + 300));
    assert_false(webhook_verify_standard(secret, id, timestamp, signature, body, strlen(body) - 1, now));
    assert_false(webhook_verify_standard(secret, "msg_other", timestamp, signature, body, strlen(body), now));
    assert_false(
        webhook_verify_standard("whsec_b3RoZXJzZWNyZXQ=", id, timestamp, signature, body, strlen(body), now));
    /* a new timestamp signs differently: each retry is signed afresh */
    webhook_signed_headers later;
    assert_int_equal(webhook_sign_standard(secret, id, now + 1, body, strlen(body), &later), 0);
    assert_string_not_equal(later.signature, headers.signature);
    /* an empty body is signed too */
    assert_int_equal(webhook_sign_standard(secret, id, now, "", 0, &later), 0);
    assert_true(webhook_verify_standard(secret, id, header_value(later.timestamp),
                                        header_value(later.signature), "", 0, now));
}

static void standard_signer_refuses_bad_secrets_and_ids(void **state)
{
    (void)state;
    webhook_signed_headers headers;
    const char *secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    assert_int_equal(webhook_sign_standard("", "msg_1", 1, "{}", 2, &headers), -1);
    assert_int_equal(webhook_sign_standard(NULL, "msg_1", 1, "{}", 2, &headers), -1);
    assert_int_equal(webhook_sign_standard("whsec_!!!", "msg_1", 1, "{}", 2, &headers), -1);
    assert_int_equal(webhook_sign_standard("whsec_", "msg_1", 1, "{}", 2, &headers), -1);
    assert_int_equal(webhook_sign_standard(secret, "", 1, "{}", 2, &headers), -1);
    assert_int_equal(webhook_sign_standard(secret, "msg.1", 1, "{}", 2, &headers), -1);
    assert_int_equal(webhook_sign_standard(secret, "msg 1", 1, "{}", 2, &headers), -1);
    assert_int_equal(webhook_sign_standard(secret, "msg_1\r\nX-Evil: 1", 1, "{}", 2, &headers), -1);
    assert_string_equal(headers.signature, "");
    char long_id[WEBHOOK_ID_MAX + 2];
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    assert_int_equal(webhook_sign_standard(secret, long_id, 1, "{}", 2, &headers), -1);
    long_id[WEBHOOK_ID_MAX] = '\0';
    assert_int_equal(webhook_sign_standard(secret, long_id, 1, "{}", 2, &headers), 0);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fal_vector_verifies_and_forgeries_do_not),
        cmocka_unit_test(sync_example_verifies_and_forgeries_do_not),
        cmocka_unit_test(standard_webhooks_official_vector_verifies_and_forgeries_do_not),
        cmocka_unit_test(standard_signer_reproduces_the_official_vector),
        cmocka_unit_test(standard_signer_output_verifies_and_tampering_does_not),
        cmocka_unit_test(standard_signer_refuses_bad_secrets_and_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
