/* bench_stats.c — the clock and latency samples of reelay-bench-engine (see bench_stats.h). */
#include "bench_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t bench_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

int64_t bench_process_cpu_ns(void)
{
    struct timespec used;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &used);
    return (int64_t)used.tv_sec * 1000000000 + used.tv_nsec;
}

bool latency_reserve(latency_samples *samples, size_t capacity)
{
    if (capacity <= samples->capacity) return true;
    int64_t *grown = realloc(samples->ns, capacity * sizeof(*grown));
    if (grown == NULL) return false;
    samples->ns = grown;
    samples->capacity = capacity;
    return true;
}

bool latency_add(latency_samples *samples, int64_t ns)
{
    if (samples->count == samples->capacity &&
        !latency_reserve(samples, samples->capacity ? samples->capacity * 2 : 1024))
        return false;
    samples->ns[samples->count++] = ns;
    return true;
}

bool latency_merge(latency_samples *into, const latency_samples *from)
{
    if (from->count == 0) return true;
    if (!latency_reserve(into, into->count + from->count)) return false;
    memcpy(into->ns + into->count, from->ns, from->count * sizeof(*from->ns));
    into->count += from->count;
    return true;
}

static int compare_ns(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void latency_sort(latency_samples *samples)
{
    if (samples->count > 1) qsort(samples->ns, samples->count, sizeof(*samples->ns), compare_ns);
}

int64_t latency_percentile(const latency_samples *sorted, double p)
{
    if (sorted->count == 0) return 0;
    size_t rank = (size_t)ceil(p / 100.0 * (double)sorted->count); /* nearest rank: 1 … count */
    if (rank < 1) rank = 1;
    if (rank > sorted->count) rank = sorted->count;
    return sorted->ns[rank - 1];
}

void latency_clear(latency_samples *samples)
{
    free(samples->ns);
    memset(samples, 0, sizeof(*samples));
}
