/* bench_stats.h — the clock and the latency figures of reelay-bench-engine (bench/engine/README.md):
 * one sample per timed store call, kept per thread and merged per phase, then sorted for percentiles.
 * Nothing here touches the store. Not thread-safe: one latency_samples per thread. */
#ifndef REELAY_BENCH_ENGINE_STATS_H
#define REELAY_BENCH_ENGINE_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t bench_now_ns(void);
/* CPU time of the whole process (every thread, user and system) in nanoseconds. */
int64_t bench_process_cpu_ns(void);

typedef struct latency_samples {
    int64_t *ns; /* malloc'd; NULL when empty */
    size_t count, capacity;
} latency_samples;

/* Room for `capacity` samples (0 is allowed); false when out of memory (samples is then empty). */
bool latency_reserve(latency_samples *samples, size_t capacity);
/* Appends one duration; false when out of memory (the sample is lost, the others kept). */
bool latency_add(latency_samples *samples, int64_t ns);
/* Appends every sample of `from` to `into`; false when out of memory (`into` is left as it was). */
bool latency_merge(latency_samples *into, const latency_samples *from);
/* Sorts the samples in place (ascending). */
void latency_sort(latency_samples *samples);
/* The p-th percentile (0 < p <= 100, nearest rank) of sorted samples, in nanoseconds; 0 when empty. */
int64_t latency_percentile(const latency_samples *sorted, double p);
/* Frees the samples and empties the struct. */
void latency_clear(latency_samples *samples);

#endif
