/* str_map.c — the string-keyed hash map of str_map.h: linear probing over a power-of-two table,
 * backward-shift removal. */
#include "util/str_map.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

enum { STR_MAP_FIRST_CAPACITY = 16 };

void str_map_init(str_map *map)
{
    map->slots = NULL;
    map->capacity = map->count = 0;
}

void str_map_free(str_map *map)
{
    free(map->slots);
    str_map_init(map);
}

uint64_t str_map_hash(const char *text)
{
    uint64_t hash = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        hash = (hash ^ *p) * 1099511628211ULL;
    return hash;
}

/* The slot holding key, or the empty slot where it would go. The table is never full. */
static size_t str_map_probe(const str_map *map, const char *key, uint64_t hash)
{
    size_t mask = map->capacity - 1;
    size_t i = (size_t)hash & mask;
    while (map->slots[i].key != NULL && (map->slots[i].hash != hash || strcmp(map->slots[i].key, key) != 0))
        i = (i + 1) & mask;
    return i;
}

static bool str_map_grow(str_map *map)
{
    size_t capacity = map->capacity ? map->capacity * 2 : STR_MAP_FIRST_CAPACITY;
    if (capacity > SIZE_MAX / sizeof(str_map_slot)) return false;
    str_map_slot *slots = calloc(capacity, sizeof(*slots));
    if (slots == NULL) return false;
    str_map old = *map;
    map->slots = slots;
    map->capacity = capacity;
    for (size_t i = 0; i < old.capacity; i++)
        if (old.slots[i].key != NULL)
            map->slots[str_map_probe(map, old.slots[i].key, old.slots[i].hash)] = old.slots[i];
    free(old.slots);
    return true;
}

void *str_map_get(const str_map *map, const char *key)
{
    if (map->count == 0) return NULL;
    return map->slots[str_map_probe(map, key, str_map_hash(key))].value;
}

bool str_map_put(str_map *map, const char *key, void *value)
{
    assert(key != NULL && value != NULL);
    /* at most 3/4 full after this entry */
    if ((map->count + 1) * 4 > map->capacity * 3 && !str_map_grow(map)) return false;
    uint64_t hash = str_map_hash(key);
    str_map_slot *slot = &map->slots[str_map_probe(map, key, hash)];
    if (slot->key == NULL) map->count++;
    *slot = (str_map_slot){.key = key, .hash = hash, .value = value};
    return true;
}

void *str_map_remove(str_map *map, const char *key)
{
    if (map->count == 0) return NULL;
    size_t mask = map->capacity - 1;
    size_t hole = str_map_probe(map, key, str_map_hash(key));
    if (map->slots[hole].key == NULL) return NULL;
    void *value = map->slots[hole].value;
    /* Backward shift: move up every later entry of the run that may sit at or before the hole. */
    for (size_t next = (hole + 1) & mask; map->slots[next].key != NULL; next = (next + 1) & mask) {
        size_t home = (size_t)map->slots[next].hash & mask;
        /* the entry at next may fill the hole when its home is not cyclically inside (hole, next] */
        bool home_after_hole = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
        if (home_after_hole) continue;
        map->slots[hole] = map->slots[next];
        hole = next;
    }
    map->slots[hole] = (str_map_slot){0};
    map->count--;
    return value;
}

size_t str_map_count(const str_map *map)
{
    return map->count;
}

bool str_map_next(const str_map *map, size_t *cursor, const char **key, void **value)
{
    for (; *cursor < map->capacity; (*cursor)++) {
        const str_map_slot *slot = &map->slots[*cursor];
        if (slot->key == NULL) continue;
        if (key) *key = slot->key;
        if (value) *value = slot->value;
        (*cursor)++;
        return true;
    }
    return false;
}

void *str_map_any(const str_map *map, size_t *hint)
{
    if (map->count == 0) return NULL;
    for (size_t step = 0; step < map->capacity; step++) {
        size_t i = (*hint + step) & (map->capacity - 1);
        if (map->slots[i].key != NULL) {
            *hint = i; /* removing it may shift a later entry into this very slot */
            return map->slots[i].value;
        }
    }
    return NULL; /* unreachable: count > 0 */
}
