/* str_map.h — a hash map from NUL-terminated strings to pointers: open addressing with linear probing,
 * grown by doubling (at most 3/4 full), removal by backward shift (no tombstones, so lookups stay short
 * however many entries come and go).
 *
 * The map borrows its keys: a key must stay unchanged and alive while its entry is in the map — the
 * usual case is a key that lives inside the value (a task's id in the task's own struct). Values are
 * never NULL (NULL means "absent"). Not thread-safe: one owner, or the owner's lock. */
#ifndef REELAY_UTIL_STR_MAP_H
#define REELAY_UTIL_STR_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct str_map_slot {
    const char *key; /* NULL = empty slot */
    uint64_t hash;
    void *value;
} str_map_slot;

typedef struct str_map {
    str_map_slot *slots;
    size_t capacity; /* 0 or a power of two */
    size_t count;
} str_map;

/* An empty map (or zero-initialise it); nothing is allocated until the first put. */
void str_map_init(str_map *map);
/* Frees the map's own table; keys and values are the caller's. */
void str_map_free(str_map *map);

/* The value stored under key, or NULL. */
void *str_map_get(const str_map *map, const char *key);
/* Stores value (not NULL) under key, replacing any value already there (the new key pointer is kept).
 * False when out of memory (the map is unchanged). */
bool str_map_put(str_map *map, const char *key, void *value);
/* Removes key's entry and returns its value, or NULL when there was none. */
void *str_map_remove(str_map *map, const char *key);
/* Entries in the map. */
size_t str_map_count(const str_map *map);

/* Iteration: start with *cursor = 0; each call gives the next entry (key and value may be NULL when
 * not wanted) and returns false after the last. The map must not change during an iteration. */
bool str_map_next(const str_map *map, size_t *cursor, const char **key, void **value);

/* Any entry's value, or NULL when the map is empty: for taking every entry out one by one (the caller
 * removes each before asking again). The search starts at *hint (0 at first, wrapping around), which
 * is left where the entry was found, so emptying a map this way costs about one pass over the table. */
void *str_map_any(const str_map *map, size_t *hint);

/* The hash the map uses (64-bit FNV-1a), for callers that want one too. */
uint64_t str_map_hash(const char *text);

#endif
