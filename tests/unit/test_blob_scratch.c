/* test_blob_scratch.c — the scratch area's sweep across processes: a dead process's folder (its lock
 * released by the kernel, as after kill -9) is removed at once, a live process's never, this process's
 * own entries and lockless strays only once older than the age given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blob/blob.h"

static char folder[64];

static int make_folder(void **state)
{
    (void)state;
    snprintf(folder, sizeof(folder), "/tmp/reelay-scratch-XXXXXX");
    return mkdtemp(folder) ? 0 : -1;
}

static int remove_folder(void **state)
{
    (void)state;
    char command[128];
    snprintf(command, sizeof(command), "rm -rf '%s'", folder);
    return system(command) == 0 ? 0 : -1;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void make_old(const char *path)
{
    struct timeval two_hours_ago[2];
    gettimeofday(&two_hours_ago[0], NULL);
    two_hours_ago[0].tv_sec -= 2 * 3600;
    two_hours_ago[1] = two_hours_ago[0];
    assert_int_equal(utimes(path, two_hours_ago), 0);
}

/* A child process that opens the store, makes a scratch folder, reports its path on `report`, then
 * waits for a byte on `hold` (or its end) and exits without closing anything. */
static pid_t start_child(char *path, size_t path_size, int *hold_write)
{
    int report[2], hold[2];
    assert_int_equal(pipe(report), 0);
    assert_int_equal(pipe(hold), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(report[0]);
        close(hold[1]);
        blob_store *store;
        char made[512] = "";
        if (blob_store_open(folder, &store) != 0 || blob_scratch_create(store, made, sizeof(made)) != 0)
            _exit(1);
        if (write(report[1], made, strlen(made) + 1) < 0) _exit(1);
        char byte;
        if (read(hold[0], &byte, 1) < 0) _exit(1);
        _exit(0); /* no blob_store_close: the lock goes with the process, as after kill -9 */
    }
    close(report[1]);
    close(hold[0]);
    ssize_t n = read(report[0], path, path_size - 1);
    close(report[0]);
    assert_true(n > 1);
    path[n] = '\0';
    *hold_write = hold[1];
    return child;
}

static void end_child(pid_t child, int hold_write)
{
    close(hold_write);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void a_live_processs_scratch_is_kept_and_a_dead_ones_removed(void **state)
{
    (void)state;
    blob_store *store;
    assert_int_equal(blob_store_open(folder, &store), 0);
    char child_path[512];
    int hold;
    pid_t child = start_child(child_path, sizeof(child_path), &hold);
    assert_true(exists(child_path));
    make_old(child_path);
    assert_int_equal(blob_scratch_sweep(store, 0), 0); /* alive: never touched, whatever its age */
    assert_true(exists(child_path));

    end_child(child, hold);
    assert_true(blob_scratch_sweep(store, 3600) >= 1); /* dead: removed at once, however young */
    assert_false(exists(child_path));
    char *slash = strrchr(child_path, '/');
    *slash = '\0'; /* the child's process folder, and its lock file beside it */
    assert_false(exists(child_path));
    char lock[600];
    snprintf(lock, sizeof(lock), "%s.lock", child_path);
    assert_false(exists(lock));
    blob_store_close(store);
}

static void own_entries_and_strays_go_only_when_old(void **state)
{
    (void)state;
    blob_store *store;
    assert_int_equal(blob_store_open(folder, &store), 0);
    char mine[512], stray[600];
    assert_int_equal(blob_scratch_create(store, mine, sizeof(mine)), 0);
    snprintf(stray, sizeof(stray), "%s/.scratch/left-by-an-older-version", folder);
    assert_int_equal(mkdir(stray, 0700), 0);

    assert_int_equal(blob_scratch_sweep(store, 3600), 0);
    assert_true(exists(mine) && exists(stray));

    make_old(mine);
    make_old(stray);
    assert_int_equal(blob_scratch_sweep(store, 3600), 2);
    assert_false(exists(mine));
    assert_false(exists(stray));
    char process_dir[512];
    assert_int_equal(blob_scratch_process_dir(store, process_dir, sizeof(process_dir)), 0);
    assert_true(exists(process_dir)); /* this process's own folder stays while it lives */

    blob_store_close(store); /* and goes with it */
    assert_false(exists(process_dir));
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_live_processs_scratch_is_kept_and_a_dead_ones_removed, make_folder,
                                        remove_folder),
        cmocka_unit_test_setup_teardown(own_entries_and_strays_go_only_when_old, make_folder, remove_folder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
