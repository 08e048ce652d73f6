/* The job table of the fal stand-in: see jobs.h. */
#include "jobs.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { INITIAL_BUCKETS = 1024 };

/* FNV-1a over the id: ids are our own, so no attacker picks the collisions that matter. */
static uint64_t hash_id(const char *id, size_t length)
{
    uint64_t hash = 14695981039346656037ull;
    for (size_t i = 0; i < length; i++) {
        hash ^= (unsigned char)id[i];
        hash *= 1099511628211ull;
    }
    return hash;
}

bool standin_jobs_init(standin_job_table *table)
{
    memset(table, 0, sizeof(*table));
    if (sodium_init() < 0) return false;
    randombytes_buf(&table->id_prefix, sizeof(table->id_prefix));
    table->buckets = calloc(INITIAL_BUCKETS, sizeof(*table->buckets));
    if (!table->buckets) return false;
    table->bucket_count = INITIAL_BUCKETS;
    return true;
}

void standin_jobs_dispose(standin_job_table *table)
{
    for (size_t i = 0; i < table->bucket_count; i++) {
        standin_job *job = table->buckets[i];
        while (job) {
            standin_job *next = job->next_in_bucket;
            free(job->webhook_url);
            free(job);
            job = next;
        }
    }
    free(table->buckets);
    memset(table, 0, sizeof(*table));
}

/* Doubles the bucket array; on allocation failure the table keeps its current (longer) chains. */
static void grow(standin_job_table *table)
{
    size_t count = table->bucket_count * 2;
    standin_job **buckets = calloc(count, sizeof(*buckets));
    if (!buckets) return;
    for (size_t i = 0; i < table->bucket_count; i++) {
        standin_job *job = table->buckets[i];
        while (job) {
            standin_job *next = job->next_in_bucket;
            size_t slot = hash_id(job->request_id, STANDIN_REQUEST_ID_LENGTH) & (count - 1);
            job->next_in_bucket = buckets[slot];
            buckets[slot] = job;
            job = next;
        }
    }
    free(table->buckets);
    table->buckets = buckets;
    table->bucket_count = count;
}

standin_job *standin_jobs_add(standin_job_table *table, unsigned app_index, uint64_t submitted_ms,
                              const char *webhook_url)
{
    standin_job *job = calloc(1, sizeof(*job));
    if (!job) return NULL;
    if (webhook_url && !(job->webhook_url = strdup(webhook_url))) {
        free(job);
        return NULL;
    }
    uint64_t serial = table->next_serial++;
    uint64_t prefix = table->id_prefix;
    /* version 4 layout; the last 12 digits count, so ids are unique within the process */
    int written =
        snprintf(job->request_id, sizeof(job->request_id), "%08x-%04x-4%03x-8%03x-%012llx",
                 (unsigned)(prefix >> 32), (unsigned)(prefix >> 16) & 0xffffu, (unsigned)prefix & 0xfffu,
                 (unsigned)(serial >> 48) & 0xfffu, (unsigned long long)(serial & 0xffffffffffffull));
    if (written != STANDIN_REQUEST_ID_LENGTH) {
        free(job->webhook_url);
        free(job);
        return NULL;
    }
    job->app_index = app_index;
    job->submitted_ms = submitted_ms;
    if (table->job_count + 1 > table->bucket_count / 4 * 3) grow(table);
    size_t slot = hash_id(job->request_id, STANDIN_REQUEST_ID_LENGTH) & (table->bucket_count - 1);
    job->next_in_bucket = table->buckets[slot];
    table->buckets[slot] = job;
    table->job_count++;
    return job;
}

standin_job *standin_jobs_find(const standin_job_table *table, const char *id, size_t length)
{
    if (length != STANDIN_REQUEST_ID_LENGTH) return NULL;
    size_t slot = hash_id(id, length) & (table->bucket_count - 1);
    for (standin_job *job = table->buckets[slot]; job; job = job->next_in_bucket)
        if (memcmp(job->request_id, id, length) == 0) return job;
    return NULL;
}

bool standin_jobs_report(const standin_job_table *table, FILE *out)
{
    for (size_t i = 0; i < table->bucket_count; i++)
        for (const standin_job *job = table->buckets[i]; job; job = job->next_in_bucket)
            if (fprintf(out, "%s %llu %llu %llu\n", job->request_id, (unsigned long long)job->submitted_ms,
                        (unsigned long long)job->webhook_sent_ms,
                        (unsigned long long)job->completed_answered_ms) < 0)
                return false;
    return true;
}
