/* test_blob_s3.c — the S3 backend of blob.h against s3rver (tests/s3, pinned; `make clients` installs it)
 * behind tests/s3/sigv4_proxy.py, which recomputes every request's SigV4 with botocore and refuses a
 * mismatch: puts (one PUT, and a multipart upload of three parts), whole and ranged reads, HEAD, listings
 * and folder removal, a prefix in the storage URL, virtual-host addressing, what AWS's official client
 * reads back, a wrong secret refused, an unreachable endpoint and hostile answers reported as errors.
 * Everything on 127.0.0.1; the test starts and stops its servers itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include "blob/blob.h"

extern char **environ;

#define ACCESS_KEY "S3RVER" /* s3rver itself only knows this key id; the proxy checks the secret */
#define SECRET "reelay-test-secret-key"
#define BUCKET "reelay-test"

static pid_t servers = -1;
static int servers_stdin = -1;
static int proxy_port;
static char scratch[64], endpoint[64];
static blob_store *store;

/* Starts sigv4_proxy.py (which starts s3rver) and reads its port; it stops when its stdin closes. */
static int start_servers(void **state)
{
    (void)state;
    int to_child[2], from_child[2];
    if (pipe(to_child) != 0 || pipe(from_child) != 0) return -1;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, to_child[0], 0);
    posix_spawn_file_actions_adddup2(&actions, from_child[1], 1);
    posix_spawn_file_actions_addclose(&actions, to_child[1]);
    posix_spawn_file_actions_addclose(&actions, from_child[0]);
    char *argv[] = {
        "/usr/bin/python3", "tests/s3/sigv4_proxy.py", ACCESS_KEY, SECRET, "us-east-1", BUCKET, NULL};
    int spawned = posix_spawn(&servers, argv[0], &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(to_child[0]);
    close(from_child[1]);
    if (spawned != 0) return -1;
    servers_stdin = to_child[1];
    FILE *out = fdopen(from_child[0], "r");
    char line[64] = "";
    if (out == NULL || fgets(line, sizeof(line), out) == NULL || sscanf(line, "READY %d", &proxy_port) != 1) {
        fprintf(stderr, "the S3 test servers did not start: run `make clients` (npm ci in tests/s3) and "
                        "install python3-botocore (scripts/install-deps.sh)\n");
        return -1;
    }
    fclose(out);
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", proxy_port);
    snprintf(scratch, sizeof(scratch), "/tmp/reelay-s3-XXXXXX");
    if (mkdtemp(scratch) == NULL) return -1;
    return 0;
}

static int stop_servers(void **state)
{
    (void)state;
    if (servers_stdin >= 0) close(servers_stdin);
    int status = 0;
    if (servers > 0) waitpid(servers, &status, 0);
    char command[128];
    snprintf(command, sizeof(command), "rm -rf '%s'", scratch);
    return system(command) == 0 ? 0 : -1;
}

static blob_s3_config config_for(const char *url)
{
    return (blob_s3_config){.url = url,
                            .endpoint = endpoint,
                            .region = "us-east-1",
                            .access_key_id = ACCESS_KEY,
                            .secret_access_key = SECRET,
                            .path_style = true,
                            .part_size = BLOB_S3_MIN_PART_SIZE};
}

static int open_store(void **state)
{
    (void)state;
    blob_s3_config config = config_for("s3://" BUCKET);
    char err[256] = "";
    if (blob_store_open_s3(&config, scratch, &store, err, sizeof(err)) != 0) {
        fprintf(stderr, "open: %s\n", err);
        return -1;
    }
    return 0;
}

static int close_store(void **state)
{
    (void)state;
    blob_store_close(store);
    store = NULL;
    return 0;
}

/* A scratch file of size bytes of a pattern that differs at every offset modulo 251. */
static void make_file(const char *path, size_t size)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < size; i++)
        fputc((int)((i * 7 + i / 251) & 0xff), f);
    assert_int_equal(fclose(f), 0);
}

static unsigned char pattern_byte(size_t i)
{
    return (unsigned char)((i * 7 + i / 251) & 0xff);
}

static void put_pattern(blob_store *where, const char *name, size_t size)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/upload", scratch);
    make_file(path, size);
    assert_int_equal(blob_put_file(where, name, path), 0);
    assert_int_not_equal(access(path, F_OK), 0); /* moved in: the source is gone */
}

typedef struct collected {
    unsigned char *data;
    size_t length, capacity;
} collected;

static int collect(void *context, const void *data, size_t size)
{
    collected *c = context;
    if (c->length + size > c->capacity) return -1;
    memcpy(c->data + c->length, data, size);
    c->length += size;
    return 0;
}

/* "<size> <sha256>" of the key as AWS's official client (@aws-sdk/client-s3) reads it. */
static void read_back(const char *key, char *out, size_t out_size)
{
    char command[512];
    snprintf(command, sizeof(command),
             "NODE_NO_WARNINGS=1 node tests/s3/read_back.mjs %s us-east-1 " ACCESS_KEY " " SECRET " " BUCKET
             " %s",
             endpoint, key);
    FILE *p = popen(command, "r");
    assert_non_null(p);
    out[0] = '\0';
    if (fgets(out, (int)out_size, p) == NULL) out[0] = '\0';
    assert_int_equal(pclose(p), 0);
    out[strcspn(out, "\n")] = '\0';
}

static void expected_digest(size_t size, char *out, size_t out_size)
{
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init(&state);
    for (size_t i = 0; i < size; i++) {
        unsigned char b = pattern_byte(i);
        crypto_hash_sha256_update(&state, &b, 1);
    }
    unsigned char digest[32];
    crypto_hash_sha256_final(&state, digest);
    char hex[65];
    sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
    snprintf(out, out_size, "%zu %s", size, hex);
}

static void check_range(const char *name, uint64_t offset, uint64_t length)
{
    collected c = {.data = malloc(length), .capacity = length};
    assert_int_equal(blob_read(store, name, offset, length, collect, &c), BLOB_OK);
    assert_int_equal(c.length, length);
    for (uint64_t i = 0; i < length; i++)
        assert_int_equal(c.data[i], pattern_byte((size_t)(offset + i)));
    free(c.data);
}

static void small_put_head_get_and_range(void **state)
{
    (void)state;
    put_pattern(store, "results/task-1/output.mp4", 1000);
    blob_object_info info;
    assert_int_equal(blob_head(store, "results/task-1/output.mp4", &info), BLOB_OK);
    assert_int_equal(info.size, 1000);
    assert_true(info.etag[0] == '"');
    assert_true(info.modified_unix > 1700000000);
    check_range("results/task-1/output.mp4", 100, 50);
    check_range("results/task-1/output.mp4", 999, 1);
    char path[128], got[128], want[128];
    snprintf(path, sizeof(path), "%s/copy", scratch);
    assert_int_equal(blob_get_file(store, "results/task-1/output.mp4", path), BLOB_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 1000);
    read_back("results/task-1/output.mp4", got, sizeof(got));
    expected_digest(1000, want, sizeof(want));
    assert_string_equal(got, want);
    char local[256];
    assert_int_equal(blob_local_path(store, "results/task-1/output.mp4", local, sizeof(local)), -1);
    assert_false(blob_store_is_local(store));
}

static void multipart_put_of_three_parts(void **state)
{
    (void)state;
    size_t size = 2 * (size_t)BLOB_S3_MIN_PART_SIZE + 12345;
    put_pattern(store, "results/task-2/big.mp4", size);
    blob_object_info info;
    assert_int_equal(blob_head(store, "results/task-2/big.mp4", &info), BLOB_OK);
    assert_int_equal(info.size, size);
    check_range("results/task-2/big.mp4", BLOB_S3_MIN_PART_SIZE - 10, 20); /* across a part boundary */
    check_range("results/task-2/big.mp4", size - 5, 5);
    char got[128], want[128];
    read_back("results/task-2/big.mp4", got, sizeof(got));
    expected_digest(size, want, sizeof(want));
    assert_string_equal(got, want);
}

static int count_visit(void *context, const char *name, const blob_object_info *info)
{
    (void)info;
    int *count = context;
    (*count)++;
    return strncmp(name, "folder/", 7) == 0 || strncmp(name, "many/item-", 10) == 0 ? 0 : -7;
}

static int stop_at_first(void *context, const char *name, const blob_object_info *info)
{
    (void)name, (void)info;
    (*(int *)context)++;
    return -7;
}

static void list_and_remove_prefix(void **state)
{
    (void)state;
    put_pattern(store, "folder/a", 10);
    put_pattern(store, "folder/b", 20);
    put_pattern(store, "folder/deeper/c", 30);
    put_pattern(store, "other/d", 40);
    int count = 0;
    assert_int_equal(blob_list(store, "folder", count_visit, &count), BLOB_OK);
    assert_int_equal(count, 3);
    assert_int_equal(blob_remove_prefix(store, "folder"), 0);
    count = 0;
    assert_int_equal(blob_list(store, "folder", count_visit, &count), BLOB_OK);
    assert_int_equal(count, 0);
    blob_object_info info;
    assert_int_equal(blob_head(store, "folder/a", &info), BLOB_NOT_FOUND);
    assert_int_equal(blob_head(store, "other/d", &info), BLOB_OK);
    assert_int_equal(blob_remove(store, "other/d"), BLOB_OK);
    assert_int_equal(blob_remove(store, "other/d"), BLOB_OK); /* already gone is fine */
    assert_int_equal(blob_head(store, "other/d", &info), BLOB_NOT_FOUND);
    collected c = {.data = malloc(16), .capacity = 16};
    assert_int_equal(blob_read(store, "other/d", 0, 0, collect, &c), BLOB_NOT_FOUND);
    free(c.data);
}

/* More than one page of a listing (s3rver pages at 1000 keys, as S3 does). */
static void listing_follows_continuation(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/tiny", scratch);
    for (int i = 0; i < 1003; i++) {
        char name[64];
        snprintf(name, sizeof(name), "many/item-%04d", i);
        make_file(path, 1);
        assert_int_equal(blob_put_file(store, name, path), 0);
    }
    int count = 0;
    assert_int_equal(blob_list(store, "many", count_visit, &count), BLOB_OK);
    assert_int_equal(count, 1003);
    count = 0;
    assert_int_equal(blob_list(store, NULL, stop_at_first, &count), -7); /* a visitor stops it */
    assert_int_equal(count, 1);
    int visited = 0;
    assert_int_equal(blob_remove_prefix(store, "many"), 0);
    assert_int_equal(blob_list(store, "many", count_visit, &visited), BLOB_OK);
    assert_int_equal(visited, 0);
}

static int visit_expect_in_png(void *context, const char *name, const blob_object_info *info)
{
    (void)context;
    assert_string_equal(name, "uploads/u1/in.png");
    assert_int_equal(info->size, 300);
    return 0;
}

static void prefix_and_virtual_host(void **state)
{
    (void)state;
    char virtual_endpoint[64], err[256] = "";
    snprintf(virtual_endpoint, sizeof(virtual_endpoint), "http://s3.localhost:%d", proxy_port);
    blob_s3_config config = config_for("s3://" BUCKET "/tenant-1/");
    config.endpoint = virtual_endpoint; /* reelay-test.s3.localhost: libcurl resolves *.localhost itself */
    config.path_style = false;
    blob_store *other = NULL;
    assert_int_equal(blob_store_open_s3(&config, scratch, &other, err, sizeof(err)), 0);
    put_pattern(other, "uploads/u1/in.png", 300);
    char got[128], want[128];
    read_back("tenant-1/uploads/u1/in.png", got, sizeof(got));
    expected_digest(300, want, sizeof(want));
    assert_string_equal(got, want);
    int count = 0;
    assert_int_equal(blob_list(other, "uploads", stop_at_first, &count), -7);
    assert_int_equal(count, 1);
    assert_int_equal(blob_list(other, "uploads", visit_expect_in_png, NULL),
                     BLOB_OK); /* without the prefix */
    assert_int_equal(blob_remove_prefix(other, "uploads"), 0);
    blob_object_info info;
    assert_int_equal(blob_head(other, "uploads/u1/in.png", &info), BLOB_NOT_FOUND);
    blob_store_close(other);
}

static void wrong_secret_and_unreachable_endpoint(void **state)
{
    (void)state;
    blob_s3_config config = config_for("s3://" BUCKET);
    config.secret_access_key = "not-the-secret";
    blob_store *other = NULL;
    char err[256] = "";
    assert_int_equal(blob_store_open_s3(&config, scratch, &other, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "HTTP 403 SignatureDoesNotMatch"));
    assert_null(strstr(err, "not-the-secret"));
    /* a closed port of 127.0.0.1: a socket bound and never listened on */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof(address);
    assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof(address)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&address, &length), 0);
    char closed[64];
    snprintf(closed, sizeof(closed), "http://127.0.0.1:%d", ntohs(address.sin_port));
    config = config_for("s3://" BUCKET);
    config.endpoint = closed;
    assert_int_equal(blob_store_open_s3(&config, scratch, &other, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "did not answer"));
    close(fd);
    config = config_for("s3://Bad_Bucket");
    assert_int_equal(blob_store_open_s3(&config, scratch, &other, err, sizeof(err)), -1);
    config = config_for("s3://" BUCKET "/../x");
    assert_int_equal(blob_store_open_s3(&config, scratch, &other, err, sizeof(err)), -1);
    config = config_for("s3://" BUCKET);
    config.endpoint = "http://user:pw@127.0.0.1:1/path";
    assert_int_equal(blob_store_open_s3(&config, scratch, &other, err, sizeof(err)), -1);
}

static void hostile_answers_are_errors(void **state)
{
    (void)state;
    collected c = {.data = malloc(2000), .capacity = 2000};
    /* a body cut short of its Content-Length, and an unreadable 500 (retried, then refused) */
    assert_int_equal(blob_read(store, "x/fault-truncate", 0, 0, collect, &c), BLOB_ERROR);
    blob_object_info info;
    assert_int_equal(blob_head(store, "x/fault-garbage", &info), BLOB_ERROR);
    c.length = 0;
    assert_int_equal(blob_read(store, "x/fault-garbage", 0, 0, collect, &c), BLOB_ERROR);
    assert_int_equal(c.length, 0);
    free(c.data);
    char path[128];
    snprintf(path, sizeof(path), "%s/kept", scratch);
    make_file(path, 10);
    assert_int_equal(blob_put_file(store, "x/fault-garbage", path), -1);
    assert_int_equal(access(path, F_OK), 0); /* a failed put keeps its source */
    assert_int_equal(blob_put_file(store, "../escape", path), -1);
}

int main(void)
{
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return 1;
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(small_put_head_get_and_range, open_store, close_store),
        cmocka_unit_test_setup_teardown(multipart_put_of_three_parts, open_store, close_store),
        cmocka_unit_test_setup_teardown(list_and_remove_prefix, open_store, close_store),
        cmocka_unit_test_setup_teardown(listing_follows_continuation, open_store, close_store),
        cmocka_unit_test(prefix_and_virtual_host),
        cmocka_unit_test(wrong_secret_and_unreachable_endpoint),
        cmocka_unit_test_setup_teardown(hostile_answers_are_errors, open_store, close_store),
    };
    int failed = cmocka_run_group_tests(tests, start_servers, stop_servers);
    curl_global_cleanup();
    return failed;
}
