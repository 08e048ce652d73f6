/* blob_s3_list.c — listings of a bucket's prefix (ListObjectsV2, page by page) and the little XML reading
 * the S3 backend needs: the text of one element, entities decoded. Every byte of an answer is treated
 * as hostile: an element that does not close, holds markup or does not fit is "not there", and a
 * listed key that is not a valid object name below our prefix is skipped. */
#include "blob/blob_s3_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"

int s3_query_append(char *out, size_t out_size, size_t *length, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = *length;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                     *p == '-' || *p == '_' || *p == '.' || *p == '~';
        if (n + (plain ? 1 : 3) >= out_size) return -1;
        if (plain) {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    out[n] = '\0';
    *length = n;
    return 0;
}

/* Decodes text[0..length) (no '<' inside) into out. False when an entity is unknown or out is small. */
static bool decode_entities(const char *text, size_t length, char *out, size_t out_size)
{
    static const struct {
        const char *entity;
        char c;
    } entities[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    size_t n = 0;
    for (size_t i = 0; i < length;) {
        char c = text[i];
        size_t used = 1;
        if (c == '&') {
            used = 0;
            for (size_t e = 0; e < sizeof(entities) / sizeof(entities[0]) && used == 0; e++) {
                size_t entity_length = strlen(entities[e].entity);
                if (length - i >= entity_length && memcmp(text + i, entities[e].entity, entity_length) == 0)
                    c = entities[e].c, used = entity_length;
            }
            if (used == 0) return false;
        }
        if (c == '\0' || n + 1 >= out_size) return false;
        out[n++] = c;
        i += used;
    }
    out[n] = '\0';
    return true;
}

const char *s3_xml_text(const char *xml, size_t length, const char *from, const char *tag, char *out,
                        size_t out_size)
{
    char open[72], close[72];
    if (out_size == 0 || snprintf(open, sizeof(open), "<%s>", tag) >= (int)sizeof(open)) return NULL;
    snprintf(close, sizeof(close), "</%s>", tag);
    const char *end = xml + length;
    const char *start = memmem(from ? from : xml, (size_t)(end - (from ? from : xml)), open, strlen(open));
    if (start == NULL) return NULL;
    start += strlen(open);
    const char *stop = memmem(start, (size_t)(end - start), close, strlen(close));
    if (stop == NULL || memchr(start, '<', (size_t)(stop - start)) != NULL ||
        !decode_entities(start, (size_t)(stop - start), out, out_size))
        return NULL;
    return stop + strlen(close);
}

int64_t s3_parse_iso_time(const char *text)
{
    struct tm tm = {0};
    int year, month, day, hour, minute, second;
    if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d", &year, &month, &day, &hour, &minute, &second) != 6) return 0;
    tm.tm_year = year - 1900, tm.tm_mon = month - 1, tm.tm_mday = day;
    tm.tm_hour = hour, tm.tm_min = minute, tm.tm_sec = second;
    time_t when = timegm(&tm);
    return when > 0 ? (int64_t)when : 0;
}

/* Visits the <Contents> of one page whose keys start with key_prefix, named without strip (the bucket's
 * prefix). Returns 0, the visitor's value,
 * or BLOB_ERROR for a page that cannot be read. */
static int visit_page(const s3_response *page, const char *key_prefix, const char *strip, blob_visitor visit,
                      void *context)
{
    const char *cursor = page->text, *end = page->text + page->text_length;
    size_t skip = strlen(strip);
    for (;;) {
        const char *contents = memmem(cursor, (size_t)(end - cursor), "<Contents>", 10);
        if (contents == NULL) return 0;
        const char *contents_end = memmem(contents, (size_t)(end - contents), "</Contents>", 11);
        if (contents_end == NULL) return BLOB_ERROR;
        size_t span = (size_t)(contents_end - contents);
        char key[S3_KEY_SIZE], size[32], modified[64];
        blob_object_info info = {0};
        if (!s3_xml_text(contents, span, NULL, "Key", key, sizeof(key)) ||
            !s3_xml_text(contents, span, NULL, "Size", size, sizeof(size)))
            return BLOB_ERROR;
        char *size_end = NULL;
        info.size = strtoull(size, &size_end, 10);
        if (size_end == size || *size_end != '\0') return BLOB_ERROR;
        if (s3_xml_text(contents, span, NULL, "LastModified", modified, sizeof(modified)))
            info.modified_unix = s3_parse_iso_time(modified);
        if (!s3_xml_text(contents, span, NULL, "ETag", info.etag, sizeof(info.etag))) info.etag[0] = '\0';
        cursor = contents_end + 11;
        if (strncmp(key, key_prefix, strlen(key_prefix)) != 0 || !blob_name_is_valid(key + skip) ||
            strncmp(key + skip, ".scratch/", 9) == 0) {
            log_warn("S3 listing: key skipped", "reason=\"not a valid object name under the prefix\"%s", "");
            continue;
        }
        int verdict = visit(context, key + skip, &info);
        if (verdict != 0) return verdict;
    }
}

/* The query of one page: continuation-token (when going on), list-type=2, prefix (sorted, encoded). */
static int page_query(char *query, size_t size, const char *token, const char *key_prefix)
{
    size_t length = 0;
    query[0] = '\0';
    if (token[0] != '\0') {
        length = (size_t)snprintf(query, size, "continuation-token=");
        if (s3_query_append(query, size, &length, token) != 0 || length + 1 >= size) return -1;
        query[length++] = '&';
        query[length] = '\0';
    }
    int n = snprintf(query + length, size - length, "list-type=2&prefix=");
    if (n < 0 || (size_t)n >= size - length) return -1;
    length += (size_t)n;
    return s3_query_append(query, size, &length, key_prefix);
}

int blob_s3_list(blob_s3 *s3, const char *prefix, blob_visitor visit, void *context)
{
    bool all = prefix == NULL || prefix[0] == '\0';
    if (!all && !blob_name_is_valid(prefix)) return BLOB_ERROR;
    char key_prefix[S3_KEY_SIZE], token[2048] = "", query[8192];
    const char *bucket_prefix = s3_prefix(s3);
    int n = snprintf(key_prefix, sizeof(key_prefix), "%s%s%s%s", bucket_prefix, bucket_prefix[0] ? "/" : "",
                     all ? "" : prefix, all ? "" : "/");
    if (n < 0 || (size_t)n >= sizeof(key_prefix)) return BLOB_ERROR;
    /* what is visited is named relative to the store: strip the bucket's prefix only */
    char strip[S3_KEY_SIZE];
    snprintf(strip, sizeof(strip), "%s%s", bucket_prefix, bucket_prefix[0] ? "/" : "");
    for (int pages = 0; pages < 1000000; pages++) {
        if (page_query(query, sizeof(query), token, key_prefix) != 0) return BLOB_ERROR;
        s3_request request = {.method = "GET", .key = "", .query = query};
        s3_response page = {0};
        int result = BLOB_ERROR;
        if (s3_perform(s3, "list", &request, &page) == 0) {
            if (page.status == 200 && page.text != NULL && strstr(page.text, "</ListBucketResult>") != NULL)
                result = visit_page(&page, key_prefix, strip, visit, context);
            else
                s3_log_status(s3, "list", key_prefix, &page);
        }
        bool more = result == 0 &&
                    s3_xml_text(page.text, page.text_length, NULL, "IsTruncated", token, sizeof(token)) &&
                    strcmp(token, "true") == 0;
        if (more &&
            (!s3_xml_text(page.text, page.text_length, NULL, "NextContinuationToken", token, sizeof(token)) ||
             token[0] == '\0'))
            result = BLOB_ERROR; /* truncated without a way on */
        s3_response_free(&page);
        if (result != 0 || !more) return result;
    }
    return BLOB_ERROR;
}
