/* fuzz_net_fetch_url.c — URLs given for download (any bytes) through the guarded client's entry,
 * fetch_transfer_begin, up to the point where it would connect, then fetch_transfer_end as after a
 * refused connection. Asserts that only absolute http(s) URLs with a host are taken, that the download
 * file exists exactly while a transfer is open and never after a failure, and that no message ever
 * quotes the password of the URL's user info. */
#include <curl/curl.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "net/fetch.h"

#define SECRET "Pw-fuzz-S3cret"

static char scratch_folder[64], scratch_path[96];

static void remove_scratch(void)
{
    unlink(scratch_path);
    rmdir(scratch_folder);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    snprintf(scratch_folder, sizeof(scratch_folder), "/tmp/reelay-fuzz-fetch.XXXXXX");
    if (mkdtemp(scratch_folder) == NULL) abort();
    snprintf(scratch_path, sizeof(scratch_path), "%s/download", scratch_folder);
    atexit(remove_scratch);
    FUZZ_CHECK(fetch_library_ready());
    return 0;
}

static bool url_is_http(const char *url)
{
    CURLU *parsed = curl_url();
    char *scheme = NULL, *host = NULL;
    bool ok = parsed && curl_url_set(parsed, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(parsed, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
              curl_url_get(parsed, CURLUPART_HOST, &host, 0) == CURLUE_OK && host[0] != '\0' &&
              (strcasecmp(scheme, "http") == 0 || strcasecmp(scheme, "https") == 0);
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(parsed);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    bool with_secret = fuzz_take_byte(&in) & 1;
    size_t length = 0;
    char *given = fuzz_take_rest(&in, &length);
    /* a user:password inserted after the scheme, to see that no message repeats the password */
    char *url = malloc(length + sizeof(SECRET) + 8);
    if (url == NULL) abort();
    const char *separator = with_secret ? strstr(given, "://") : NULL;
    if (separator != NULL) {
        size_t head = (size_t)(separator - given) + 3;
        snprintf(url, length + sizeof(SECRET) + 8, "%.*su:" SECRET "@%s", (int)head, given, given + head);
    } else {
        snprintf(url, length + sizeof(SECRET) + 8, "%s", given);
    }
    bool secret_given = strstr(given, SECRET) != NULL;

    fetch_policy policy;
    fetch_policy_init(&policy);
    policy.allow_list = NULL;
    fetch_result result = FETCH_OK;
    char err[256];
    fetch_transfer *transfer =
        fetch_transfer_begin(url, NULL, scratch_path, &policy, &result, err, sizeof(err));
    if (transfer == NULL) {
        FUZZ_CHECK(result == FETCH_INVALID_URL);
        FUZZ_CHECK(fuzz_terminated(err, sizeof(err)) && err[0] != '\0');
        FUZZ_CHECK(access(scratch_path, F_OK) != 0);
    } else {
        FUZZ_CHECK(result == FETCH_OK);
        FUZZ_CHECK(url_is_http(url));
        FUZZ_CHECK(fetch_transfer_easy(transfer) != NULL);
        FUZZ_CHECK(access(scratch_path, F_OK) == 0);
        fetch_response response;
        result = fetch_transfer_end(transfer, CURLE_COULDNT_CONNECT, &response, err, sizeof(err));
        FUZZ_CHECK(result == FETCH_UNREACHABLE);
        FUZZ_CHECK(fuzz_terminated(err, sizeof(err)) && err[0] != '\0');
        FUZZ_CHECK(access(scratch_path, F_OK) != 0);
    }
    if (!secret_given) FUZZ_CHECK(strstr(err, SECRET) == NULL);
    free(given);
    free(url);
    return 0;
}
