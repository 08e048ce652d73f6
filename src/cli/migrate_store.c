/* migrate_store.c — `reelay migrate-store --from URL --to URL`: moves an installation to another
 * database (SQLite to PostgreSQL when it grows to several nodes, or back). The copy itself is
 * store_copy_into (store.h); this checks the data folder's secrets against the source (so the sealed
 * credentials copied are ones the folder opens), prints the counts, audits the copy's credits and checks
 * the target now knows the same secrets. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "store/store.h"

static bool is_sqlite_url(const char *url)
{
    return strcmp(url, "sqlite:") == 0;
}

/* The settings as given, checked: 0 with both URLs, or 2 after a misuse. */
static int read_urls(const settings *s, const char **from, const char **to)
{
    *from = settings_text(s, SETTING_FROM);
    *to = settings_text(s, SETTING_TO);
    if (*from == NULL || *to == NULL) return cli_misuse(CLI_MIGRATE_STORE, "needs --from URL and --to URL");
    if (strcmp(*from, *to) == 0 || (is_sqlite_url(*from) && is_sqlite_url(*to)))
        return cli_misuse(CLI_MIGRATE_STORE, "--from and --to name the same database");
    return 0;
}

static void print_report(const store_copy_report *r)
{
    printf("Copied into the target database:\n");
    printf("  %-17s %lld\n", "keys", (long long)r->keys);
    printf("  %-17s %lld\n", "channels", (long long)r->channels);
    printf("  %-17s %lld (%lld unfinished, owned by no node until one claims them)\n", "tasks",
           (long long)r->tasks, (long long)r->unfinished_tasks);
    printf("  %-17s %lld\n", "ledger entries", (long long)r->ledger_entries);
    printf("  %-17s %lld\n", "idempotency keys", (long long)r->idempotency_keys);
    printf("  %-17s %lld\n", "callbacks", (long long)r->callbacks);
    printf("  %-17s %lld\n", "uploads", (long long)r->uploads);
    printf("  %-17s %lld\n", "cluster facts", (long long)r->facts);
}

/* The credit audit of the copy and the secrets' check against it: 0, or 1 after saying why. */
static int check_copy(store *target, const char *data_dir)
{
    credit_audit audit;
    if (store_credits_audit(target, &audit) != STORE_OK) {
        fprintf(stderr, "reelay: cannot run the credit audit on the copy\n");
        return 1;
    }
    if (audit.problems > 0) {
        fprintf(stderr, "reelay: the copy's credit audit found %lld problem%s; the first: %s\n",
                (long long)audit.problems, audit.problems == 1 ? "" : "s", audit.first_problem);
        return 1;
    }
    printf("Credit audit of the copy: ok (%lld keys, %lld tasks checked).\n", (long long)audit.keys_checked,
           (long long)audit.tasks_checked);
    return cli_secrets_check(target, data_dir, false);
}

int cli_migrate_store(int argc, char **argv)
{
    settings s;
    int first = 0;
    int status = cli_settings_read(&s, CLI_MIGRATE_STORE, argc, argv, &first);
    if (status >= 0) return status;
    if (first < argc) return cli_misuse(CLI_MIGRATE_STORE, "unexpected argument '%s'", argv[first]);
    const char *from = NULL, *to = NULL;
    if ((status = read_urls(&s, &from, &to)) != 0) return status;
    const char *data_dir = settings_text(&s, SETTING_DATA);
    char path[4200];
    snprintf(path, sizeof(path), "%s/reelay.db", data_dir);
    if (is_sqlite_url(from) && access(path, F_OK) != 0) { /* opening would make an empty one */
        fprintf(stderr, "reelay: there is no database in %s to copy\n", data_dir);
        return 1;
    }
    store *source = cli_store_open(from, data_dir); /* the folder's secrets must be the source's */
    if (source == NULL) return 1;
    store *target = cli_store_open_unchecked(to, data_dir);
    if (target == NULL) {
        store_close(source);
        return 1;
    }
    store_copy_report report;
    int result = 0;
    if (store_copy_into(source, target, &report) != STORE_OK) {
        fprintf(stderr, "reelay: nothing was copied: %s\n", report.problem);
        result = 1;
    } else {
        print_report(&report);
        result = check_copy(target, data_dir);
    }
    store_close(target);
    store_close(source);
    return result;
}
