/* blob_s3_upload.c — blob_put_file on S3: a file up to the part size goes in one streamed PUT; a larger
 * one in a multipart upload (initiate, one PUT per part streamed from the file, complete; aborted on
 * any failure so no parts are left billed), so no file is ever held in memory whole. */
#include "blob/blob_s3_request.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

enum { S3_MAX_PARTS = 10000, S3_UPLOAD_ID_SIZE = 1024 };

static int put_single(blob_s3 *s3, const char *key, int fd, uint64_t size)
{
    s3_request request = {.method = "PUT", .key = key, .upload = true, .upload_fd = fd, .upload_size = size};
    s3_response response = {0};
    int result = -1;
    if (s3_perform(s3, "put", &request, &response) == 0) {
        if (response.status == 200)
            result = 0;
        else
            s3_log_status(s3, "put", key, &response);
    }
    s3_response_free(&response);
    return result;
}

/* POST ?uploads= → the UploadId, in canonical query form ("uploadId=<encoded>") in query. */
static int initiate(blob_s3 *s3, const char *key, char *query, size_t query_size)
{
    s3_request request = {.method = "POST", .key = key, .query = "uploads="};
    s3_response response = {0};
    char upload_id[S3_UPLOAD_ID_SIZE];
    int result = -1;
    if (s3_perform(s3, "initiate multipart upload", &request, &response) == 0) {
        size_t length = strlen("uploadId=");
        if (response.status == 200 && response.text != NULL &&
            s3_xml_text(response.text, response.text_length, NULL, "UploadId", upload_id,
                        sizeof(upload_id)) &&
            upload_id[0] != '\0' && snprintf(query, query_size, "uploadId=") > 0 &&
            s3_query_append(query, query_size, &length, upload_id) == 0)
            result = 0;
        else
            s3_log_status(s3, "initiate multipart upload", key, &response);
    }
    s3_response_free(&response);
    return result;
}

static void abort_upload(blob_s3 *s3, const char *key, const char *upload_query)
{
    s3_request request = {.method = "DELETE", .key = key, .query = upload_query};
    s3_response response = {0};
    if (s3_perform(s3, "abort multipart upload", &request, &response) == 0 && response.status != 204 &&
        response.status != 200)
        s3_log_status(s3, "abort multipart upload", key, &response);
    s3_response_free(&response);
}

/* PUT ?partNumber=N&uploadId=… with bytes [offset, offset+size) of fd; appends its <Part> to body. */
static int put_part(blob_s3 *s3, const char *key, const char *upload_query, int number, int fd,
                    uint64_t offset, uint64_t size, char *body, size_t body_size, size_t *body_length)
{
    char query[S3_UPLOAD_ID_SIZE * 3 + 64];
    snprintf(query, sizeof(query), "partNumber=%d&%s", number, upload_query);
    s3_request request = {.method = "PUT",
                          .key = key,
                          .query = query,
                          .upload = true,
                          .upload_fd = fd,
                          .upload_offset = offset,
                          .upload_size = size};
    s3_response response = {0};
    int result = -1;
    if (s3_perform(s3, "put part", &request, &response) == 0) {
        if (response.status == 200 && response.info.etag[0] != '\0') {
            int n = snprintf(body + *body_length, body_size - *body_length,
                             "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", number,
                             response.info.etag);
            if (n > 0 && (size_t)n < body_size - *body_length) {
                *body_length += (size_t)n;
                result = 0;
            }
        } else {
            s3_log_status(s3, "put part", key, &response);
        }
    }
    s3_response_free(&response);
    return result;
}

/* POST ?uploadId=… with the parts list. S3 may answer 200 and still fail (an <Error> body). */
static int complete(blob_s3 *s3, const char *key, const char *upload_query, const char *body, size_t length)
{
    s3_request request = {
        .method = "POST", .key = key, .query = upload_query, .body = body, .body_size = length};
    s3_response response = {0};
    int result = -1;
    if (s3_perform(s3, "complete multipart upload", &request, &response) == 0) {
        bool failed_inside = response.text != NULL && strstr(response.text, "<Error>") != NULL;
        if (response.status == 200 && !failed_inside && response.text != NULL &&
            strstr(response.text, "CompleteMultipartUploadResult") != NULL)
            result = 0;
        else
            s3_log_status(s3, "complete multipart upload", key, &response);
    }
    s3_response_free(&response);
    return result;
}

static int put_multipart(blob_s3 *s3, const char *key, int fd, uint64_t size)
{
    uint64_t part = s3_part_size(s3);
    if ((size + part - 1) / part > S3_MAX_PARTS) part = (size + S3_MAX_PARTS - 1) / S3_MAX_PARTS;
    int parts = (int)((size + part - 1) / part);
    size_t body_size = 128 + (size_t)parts * 160, length = 0;
    char *body = malloc(body_size);
    char upload_query[S3_UPLOAD_ID_SIZE * 3 + 16];
    if (body == NULL || initiate(s3, key, upload_query, sizeof(upload_query)) != 0) {
        free(body);
        return -1;
    }
    length = (size_t)snprintf(body, body_size, "<CompleteMultipartUpload>");
    int result = 0;
    for (int number = 1; number <= parts && result == 0; number++) {
        uint64_t offset = (uint64_t)(number - 1) * part;
        uint64_t this_size = size - offset < part ? size - offset : part;
        result = put_part(s3, key, upload_query, number, fd, offset, this_size, body, body_size, &length);
    }
    int n = snprintf(body + length, body_size - length, "</CompleteMultipartUpload>");
    if (result == 0 && (n < 0 || (size_t)n >= body_size - length)) result = -1;
    if (result == 0) result = complete(s3, key, upload_query, body, length + (size_t)n);
    if (result != 0) abort_upload(s3, key, upload_query);
    free(body);
    return result;
}

int blob_s3_put_file(blob_s3 *s3, const char *name, const char *src_path)
{
    char key[S3_KEY_SIZE];
    if (s3_object_key(s3, name, key, sizeof(key)) != 0) return -1;
    int fd = open(src_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    int result = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        uint64_t size = (uint64_t)st.st_size;
        result = size > s3_part_size(s3) ? put_multipart(s3, key, fd, size) : put_single(s3, key, fd, size);
    }
    close(fd);
    if (result == 0 && unlink(src_path) != 0)
        log_warn("could not remove an uploaded file", "path=\"%s\"", src_path);
    return result;
}
