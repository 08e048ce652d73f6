/* task_changes.c — the hub's subscribers, its relay thread and the relay's wire format (see
 * task_changes.h). */
#include "engine/task_changes.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/ids.h"
#include "util/log.h"
#include "util/str_map.h"

/* The relay keeps at most this many distinct ids waiting; beyond, news is dropped (and logged): the
 * other nodes' periodic re-reads find those changes a little later. */
enum { RELAY_PENDING_MAX = 100000 };

typedef struct subscriber {
    task_changes_fn on_change;
    void *context;
} subscriber;

struct task_changes {
    pthread_mutex_t lock; /* the subscribers; held while they are called */
    subscriber subscribers[TASK_CHANGES_SUBSCRIBERS_MAX];
    size_t subscriber_count;

    pthread_mutex_t relay_lock; /* what follows */
    pthread_cond_t relay_wake;
    str_map pending; /* id → the same malloc'd id */
    bool relay_running, relay_stopping, dropped_logged;
    pthread_t relay_thread;
    task_changes_send_fn send;
    void *send_context;
    size_t body_max;
};

task_changes *task_changes_create(void)
{
    task_changes *hub = calloc(1, sizeof(*hub));
    if (hub == NULL) return NULL;
    pthread_mutex_init(&hub->lock, NULL);
    pthread_mutex_init(&hub->relay_lock, NULL);
    pthread_cond_init(&hub->relay_wake, NULL);
    str_map_init(&hub->pending);
    return hub;
}

static void free_pending(str_map *pending)
{
    size_t cursor = 0;
    void *id;
    while (str_map_next(pending, &cursor, NULL, &id))
        free(id);
    str_map_free(pending);
    str_map_init(pending);
}

void task_changes_destroy(task_changes *hub)
{
    if (hub == NULL) return;
    task_changes_stop_relay(hub);
    free_pending(&hub->pending);
    pthread_cond_destroy(&hub->relay_wake);
    pthread_mutex_destroy(&hub->relay_lock);
    pthread_mutex_destroy(&hub->lock);
    free(hub);
}

bool task_changes_subscribe(task_changes *hub, task_changes_fn on_change, void *context)
{
    pthread_mutex_lock(&hub->lock);
    bool room = hub->subscriber_count < TASK_CHANGES_SUBSCRIBERS_MAX;
    if (room) hub->subscribers[hub->subscriber_count++] = (subscriber){on_change, context};
    pthread_mutex_unlock(&hub->lock);
    return room;
}

void task_changes_unsubscribe(task_changes *hub, task_changes_fn on_change, void *context)
{
    pthread_mutex_lock(&hub->lock);
    for (size_t i = 0; i < hub->subscriber_count; i++) {
        if (hub->subscribers[i].on_change == on_change && hub->subscribers[i].context == context) {
            hub->subscribers[i] = hub->subscribers[--hub->subscriber_count];
            break;
        }
    }
    pthread_mutex_unlock(&hub->lock);
}

void task_changes_publish_local(task_changes *hub, const char *task_id)
{
    pthread_mutex_lock(&hub->lock);
    for (size_t i = 0; i < hub->subscriber_count; i++)
        hub->subscribers[i].on_change(hub->subscribers[i].context, task_id);
    pthread_mutex_unlock(&hub->lock);
}

/* Queues the id for the relay (relay_lock held). */
static void relay_queue(task_changes *hub, const char *task_id)
{
    if (str_map_get(&hub->pending, task_id) != NULL) return;
    char *copy = NULL;
    if (str_map_count(&hub->pending) < RELAY_PENDING_MAX && (copy = strdup(task_id)) != NULL &&
        str_map_put(&hub->pending, copy, copy)) {
        pthread_cond_signal(&hub->relay_wake);
        return;
    }
    free(copy);
    if (!hub->dropped_logged) {
        hub->dropped_logged = true;
        log_warn("task changes not told to the other nodes: too many waiting", "task=%s", task_id);
    }
}

void task_changes_publish(task_changes *hub, const char *task_id)
{
    task_changes_publish_local(hub, task_id);
    pthread_mutex_lock(&hub->relay_lock);
    if (hub->relay_running && !hub->relay_stopping) relay_queue(hub, task_id);
    pthread_mutex_unlock(&hub->relay_lock);
}

/* Sends every id of `batch` (then frees them), as few bodies as fit. */
static void relay_send(task_changes *hub, str_map *batch)
{
    size_t count = str_map_count(batch);
    const char **ids = malloc((count ? count : 1) * sizeof(*ids));
    char *body = malloc(hub->body_max + 1);
    if (ids != NULL && body != NULL) {
        size_t cursor = 0, n = 0;
        void *id;
        while (str_map_next(batch, &cursor, NULL, &id))
            ids[n++] = id;
        for (size_t next = 0; next < n;) {
            if (task_changes_pack(ids, n, &next, body, hub->body_max + 1, hub->body_max) == 0) break;
            hub->send(hub->send_context, body);
        }
    }
    free(body);
    free(ids);
    free_pending(batch);
}

static void *relay_main(void *argument)
{
    task_changes *hub = argument;
    pthread_mutex_lock(&hub->relay_lock);
    while (!hub->relay_stopping) {
        if (str_map_count(&hub->pending) == 0) {
            pthread_cond_wait(&hub->relay_wake, &hub->relay_lock);
            continue;
        }
        str_map batch = hub->pending;
        str_map_init(&hub->pending);
        hub->dropped_logged = false;
        pthread_mutex_unlock(&hub->relay_lock);
        relay_send(hub, &batch);
        pthread_mutex_lock(&hub->relay_lock);
    }
    pthread_mutex_unlock(&hub->relay_lock);
    return NULL;
}

bool task_changes_start_relay(task_changes *hub, task_changes_send_fn send, void *context, size_t body_max)
{
    if (body_max < IDS_TASK_ID_SIZE) return false;
    pthread_mutex_lock(&hub->relay_lock);
    bool started = false;
    if (!hub->relay_running) {
        hub->send = send, hub->send_context = context, hub->body_max = body_max;
        hub->relay_stopping = false;
        started = pthread_create(&hub->relay_thread, NULL, relay_main, hub) == 0;
        hub->relay_running = started;
    }
    pthread_mutex_unlock(&hub->relay_lock);
    return started;
}

void task_changes_stop_relay(task_changes *hub)
{
    pthread_mutex_lock(&hub->relay_lock);
    bool running = hub->relay_running;
    hub->relay_stopping = true;
    pthread_cond_broadcast(&hub->relay_wake);
    pthread_mutex_unlock(&hub->relay_lock);
    if (!running) return;
    pthread_join(hub->relay_thread, NULL);
    pthread_mutex_lock(&hub->relay_lock);
    hub->relay_running = false;
    free_pending(&hub->pending);
    pthread_mutex_unlock(&hub->relay_lock);
}

size_t task_changes_pack(const char *const *ids, size_t count, size_t *next, char *out, size_t out_size,
                         size_t body_max)
{
    size_t length = 0;
    if (out_size == 0) return 0;
    out[0] = '\0';
    if (body_max >= out_size) body_max = out_size - 1;
    while (*next < count) {
        size_t id_length = strlen(ids[*next]);
        size_t needed = id_length + (length ? 1 : 0);
        if (id_length == 0 || id_length > body_max) { /* empty, or can never fit: skipped */
            (*next)++;
            continue;
        }
        if (length + needed > body_max) break;
        if (length) out[length++] = ' ';
        memcpy(out + length, ids[*next], id_length);
        length += id_length;
        out[length] = '\0';
        (*next)++;
    }
    return length;
}

size_t task_changes_each_id(const char *body, void (*on_id)(void *context, const char *task_id),
                            void *context)
{
    size_t found = 0;
    while (body != NULL && *body) {
        size_t length = strcspn(body, " ");
        if (length > 0 && length < IDS_TASK_ID_SIZE) {
            char id[IDS_TASK_ID_SIZE];
            memcpy(id, body, length);
            id[length] = '\0';
            if (ids_task_is_valid(id)) {
                on_id(context, id);
                found++;
            }
        }
        body += length;
        if (*body == ' ') body++;
    }
    return found;
}
