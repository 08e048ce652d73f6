/* bench_report.h — what reelay-bench-engine prints (bench/engine/README.md): per phase and in total,
 * transitions, seconds, transitions/s, tasks/s, the writing calls' p50/p99/max latency, the calls and the
 * reads per task; the machine (nproc) and the database's durability; and the checks' outcome. As a table
 * for people, or as one JSON object (--json). */
#ifndef REELAY_BENCH_ENGINE_REPORT_H
#define REELAY_BENCH_ENGINE_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "bench_engine.h"

typedef struct bench_environment {
    long nproc;           /* processors online */
    char durability[200]; /* how commits reach the disk, e.g. "fsync=on synchronous_commit=on" */
    char database[16];    /* "sqlite" or "postgres" */
} bench_environment;

/* nproc, and the database's durability: SQLite's as store_open sets it; PostgreSQL's read from the
 * server (fsync, synchronous_commit, full_page_writes) over a connection of its own ("unknown" when
 * they cannot be read). */
void bench_environment_read(const bench *b, bench_environment *env);

/* b->all_writes must be sorted (latency_sort). verdict: the checks' outcome (problem "" when passed). */
void bench_report_text(FILE *out, const bench *b, const bench_environment *env, const bench_verdict *verdict);
/* One JSON object on one line; false when out of memory (nothing printed). */
bool bench_report_json(FILE *out, const bench *b, const bench_environment *env, const bench_verdict *verdict);

#endif
