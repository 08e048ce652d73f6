/* fuzz_net_callback_url.c — client-given callback URLs (the input's first line) through
 * callback_url_acceptable, without and with an allow-list (the rest). Asserts that a refusal always
 * says why, that an accepted URL is at most 2048 characters, parses as an absolute http(s) URL without
 * user info, and — unless its host is allow-listed — is https, not localhost and not a non-public
 * address literal; and that an allow-list only ever adds acceptances. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "fuzz_common.h"
#include "net/callback_url.h"
#include "net/fetch.h"

/* What an accepted URL must be, checked with libcurl's parser as the sender will use it. */
static void check_accepted(const char *url, bool allow_listed)
{
    FUZZ_CHECK(strlen(url) <= CALLBACK_URL_MAX_LENGTH);
    CURLU *parsed = curl_url();
    FUZZ_CHECK(parsed != NULL);
    char *scheme = NULL, *host = NULL, *user = NULL;
    FUZZ_CHECK(curl_url_set(parsed, CURLUPART_URL, url, 0) == CURLUE_OK);
    FUZZ_CHECK(curl_url_get(parsed, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK);
    FUZZ_CHECK(curl_url_get(parsed, CURLUPART_HOST, &host, 0) == CURLUE_OK && host[0] != '\0');
    FUZZ_CHECK(curl_url_get(parsed, CURLUPART_USER, &user, 0) != CURLUE_OK);
    FUZZ_CHECK(strcasecmp(scheme, "https") == 0 || strcasecmp(scheme, "http") == 0);
    if (!allow_listed) {
        FUZZ_CHECK(strcasecmp(scheme, "https") == 0);
        FUZZ_CHECK(strcasecmp(host, "localhost") != 0 && strcasecmp(host, "localhost.") != 0);
        char bare[64] = "";
        size_t length = strlen(host);
        if (length >= 2 && host[0] == '[' && host[length - 1] == ']' && length - 2 < sizeof(bare)) {
            memcpy(bare, host + 1, length - 2);
            bare[length - 2] = '\0';
            char *zone = strchr(bare, '%');
            if (zone) *zone = '\0';
        }
        struct sockaddr_in in4 = {.sin_family = AF_INET};
        struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
        if (inet_pton(AF_INET, host, &in4.sin_addr) == 1)
            FUZZ_CHECK(net_address_is_public((struct sockaddr *)&in4));
        if (bare[0] && inet_pton(AF_INET6, bare, &in6.sin6_addr) == 1)
            FUZZ_CHECK(net_address_is_public((struct sockaddr *)&in6));
    }
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(parsed);
}

static bool acceptable(const char *url, const char *allow_list)
{
    char why[200];
    memset(why, 0x55, sizeof(why));
    bool ok = callback_url_acceptable(url, allow_list, why, sizeof(why));
    if (!ok) FUZZ_CHECK(fuzz_terminated(why, sizeof(why)) && why[0] != '\0');
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    char *url = fuzz_take_field(&in, '\n', NULL);
    char *allow_list = fuzz_take_rest(&in, NULL);

    bool plain = acceptable(url, NULL);
    FUZZ_CHECK(acceptable(url, "") == plain);
    if (plain) check_accepted(url, false);
    bool listed = acceptable(url, allow_list);
    if (plain) FUZZ_CHECK(listed);
    if (listed) check_accepted(url, allow_list[0] != '\0');
    free(url);
    free(allow_list);
    return 0;
}
