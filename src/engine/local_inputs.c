/* local_inputs.c — maps this server's own signed file links back to the stored objects (see
 * local_inputs.h): a prefix comparison, the query's expires and signature, link_verify; then a stat
 * (local storage), or the object read from the bucket (S3). */
#include "engine/local_inputs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/url_scheme.h"

/* Copies the value of query parameter `name` (no decoding: our links need none) into out. */
static bool query_value(const char *query, const char *name, char *out, size_t out_size)
{
    size_t name_length = strlen(name);
    for (const char *p = query; p && *p;) {
        const char *end = strchr(p, '&');
        size_t length = end ? (size_t)(end - p) : strlen(p);
        if (length > name_length && strncmp(p, name, name_length) == 0 && p[name_length] == '=') {
            size_t value_length = length - name_length - 1;
            if (value_length == 0 || value_length >= out_size) return false;
            memcpy(out, p + name_length + 1, value_length);
            out[value_length] = '\0';
            return true;
        }
        p = end ? end + 1 : NULL;
    }
    return false;
}

/* The object a URL names when it is a valid, unexpired link of this server (the name in out). */
static bool link_object(const local_inputs *cfg, const char *url, char *name, size_t name_size)
{
    if (cfg == NULL || cfg->public_url == NULL || cfg->public_url[0] == '\0' || cfg->signer == NULL ||
        cfg->blobs == NULL || url == NULL)
        return false;
    size_t base_length = strlen(cfg->public_url);
    static const char files[] = "/v1/files/";
    if (!url_scheme_has_prefix(url, cfg->public_url) ||
        strncmp(url + base_length, files, sizeof(files) - 1) != 0)
        return false;
    const char *name_start = url + base_length + sizeof(files) - 1;
    const char *query = strchr(name_start, '?');
    if (query == NULL || strchr(name_start, '#') != NULL) return false;
    char expires[32], signature[80];
    size_t name_length = (size_t)(query - name_start);
    if (name_length == 0 || name_length >= name_size) return false;
    memcpy(name, name_start, name_length);
    name[name_length] = '\0';
    if (!blob_name_is_valid(name) || !query_value(query + 1, "expires", expires, sizeof(expires)) ||
        !query_value(query + 1, "signature", signature, sizeof(signature)))
        return false;
    return link_verify(cfg->signer, name, expires, signature, clock_unix_seconds()) == LINK_VALID;
}

bool local_input_resolve(const local_inputs *cfg, const char *url, char *path, size_t path_size)
{
    if (path_size) path[0] = '\0';
    char name[600], local[4096];
    struct stat st;
    if (cfg == NULL || cfg->blobs == NULL || !blob_store_is_local(cfg->blobs) ||
        !link_object(cfg, url, name, sizeof(name)) ||
        blob_local_path(cfg->blobs, name, local, sizeof(local)) != 0 || stat(local, &st) != 0 ||
        !S_ISREG(st.st_mode))
        return false;
    if ((size_t)snprintf(path, path_size, "%s", local) >= path_size) {
        if (path_size) path[0] = '\0';
        return false;
    }
    return true;
}

/* A hard link when from and to share a file system, else a copy. 0 or -1 (to is then removed). */
static int link_or_copy(const char *from, const char *to)
{
    if (link(from, to) == 0) return 0;
    FILE *in = fopen(from, "rbe"), *out = in ? fopen(to, "wbe") : NULL;
    char buffer[65536];
    size_t n;
    int result = in && out ? 0 : -1;
    while (result == 0 && (n = fread(buffer, 1, sizeof(buffer), in)) > 0)
        if (fwrite(buffer, 1, n, out) != n) result = -1;
    if (in && ferror(in)) result = -1;
    if (in) fclose(in);
    if (out && fclose(out) != 0) result = -1;
    if (result != 0) unlink(to);
    return result;
}

local_input_status local_input_copy(const local_inputs *cfg, const char *url, const char *dst_path)
{
    char local[4096];
    if (local_input_resolve(cfg, url, local, sizeof(local)))
        return link_or_copy(local, dst_path) == 0 ? LOCAL_INPUT_COPIED : LOCAL_INPUT_FAILED;
    char name[600];
    if (cfg == NULL || cfg->blobs == NULL || blob_store_is_local(cfg->blobs) ||
        !link_object(cfg, url, name, sizeof(name)))
        return LOCAL_INPUT_NOT_OURS;
    int status = blob_get_file(cfg->blobs, name, dst_path);
    return status == BLOB_OK          ? LOCAL_INPUT_COPIED
           : status == BLOB_NOT_FOUND ? LOCAL_INPUT_NOT_OURS
                                      : LOCAL_INPUT_FAILED;
}

/* ---- probing an object in place (S3) ---- */

enum { PROBE_WINDOW = 256 << 10 };

/* The bytes a probe reads, PROBE_WINDOW at a time (the demuxer asks for small pieces). */
typedef struct object_reader {
    blob_store *blobs;
    const char *name;
    uint64_t size;
    uint64_t window_start;
    size_t window_length;
    bool failed;
    unsigned char window[PROBE_WINDOW];
} object_reader;

static int window_sink(void *context, const void *data, size_t size)
{
    object_reader *r = context;
    if (size > sizeof(r->window) - r->window_length) return -1;
    memcpy(r->window + r->window_length, data, size);
    r->window_length += size;
    return 0;
}

static ssize_t object_read_at(void *context, int64_t offset, void *buffer, size_t length)
{
    object_reader *r = context;
    if (offset < 0 || r->failed) return -1;
    uint64_t at = (uint64_t)offset;
    if (at >= r->size) return 0;
    if (at < r->window_start || at >= r->window_start + r->window_length) {
        uint64_t want = r->size - at < sizeof(r->window) ? r->size - at : sizeof(r->window);
        r->window_start = at;
        r->window_length = 0;
        if (blob_read(r->blobs, r->name, at, want, window_sink, r) != BLOB_OK || r->window_length != want) {
            r->failed = true;
            r->window_length = 0;
            return -1;
        }
    }
    size_t available = r->window_length - (size_t)(at - r->window_start);
    size_t n = length < available ? length : available;
    memcpy(buffer, r->window + (at - r->window_start), n);
    return (ssize_t)n;
}

static int probe_failed(input_probe_error *err, input_probe_kind kind, const char *message)
{
    err->kind = kind;
    err->fetch = FETCH_OK;
    snprintf(err->message, sizeof(err->message), "%s", message);
    return -1;
}

bool local_input_probe(const local_inputs *cfg, const char *url, media_info *out, input_probe_error *err,
                       int *rc)
{
    char name[600];
    if (cfg == NULL || cfg->blobs == NULL || blob_store_is_local(cfg->blobs) ||
        !link_object(cfg, url, name, sizeof(name)))
        return false;
    memset(out, 0, sizeof(*out));
    blob_object_info info;
    int status = blob_head(cfg->blobs, name, &info);
    if (status == BLOB_NOT_FOUND) return false; /* probed as any other URL, and fails on its own terms */
    if (status != BLOB_OK) {
        *rc = probe_failed(err, INPUT_PROBE_UNREACHABLE, "the stored file could not be read from storage");
        return true;
    }
    object_reader *reader = malloc(sizeof(*reader));
    if (reader == NULL) {
        *rc = probe_failed(err, INPUT_PROBE_UNREACHABLE, "out of memory");
        return true;
    }
    *reader = (object_reader){.blobs = cfg->blobs, .name = name, .size = info.size};
    media_source source = {.read_at = object_read_at, .context = reader, .size = (int64_t)info.size};
    char message[256] = "";
    status = media_probe_io(&source, name, out, message, sizeof(message));
    bool failed = reader->failed;
    free(reader);
    if (status == MEDIA_PROBE_OK) {
        out->size = (int64_t)info.size;
        *rc = 0;
    } else {
        memset(out, 0, sizeof(*out));
        *rc = failed ? probe_failed(err, INPUT_PROBE_UNREACHABLE,
                                    "the stored file could not be read from storage")
                     : probe_failed(err, INPUT_PROBE_NOT_MEDIA, message[0] ? message : "not a media file");
    }
    return true;
}
