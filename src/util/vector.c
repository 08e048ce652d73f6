/* vector.c — the growable array of vector.h. */
#include "util/vector.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { VECTOR_FIRST_CAPACITY = 8 };

void vector_init(vector *v, size_t item_size)
{
    assert(item_size > 0);
    v->items = NULL;
    v->count = v->capacity = 0;
    v->item_size = item_size;
}

void vector_free(vector *v)
{
    free(v->items);
    vector_init(v, v->item_size);
}

bool vector_reserve(vector *v, size_t capacity)
{
    if (capacity <= v->capacity) return true;
    if (capacity > SIZE_MAX / v->item_size) return false;
    void *grown = realloc(v->items, capacity * v->item_size);
    if (grown == NULL) return false;
    v->items = grown;
    v->capacity = capacity;
    return true;
}

void *vector_push(vector *v, const void *item)
{
    if (v->count == v->capacity) {
        size_t capacity = v->capacity ? v->capacity * 2 : VECTOR_FIRST_CAPACITY;
        if (capacity < v->capacity || !vector_reserve(v, capacity)) return NULL;
    }
    void *slot = (char *)v->items + v->count * v->item_size;
    if (item != NULL)
        memcpy(slot, item, v->item_size);
    else
        memset(slot, 0, v->item_size);
    v->count++;
    return slot;
}

void *vector_at(const vector *v, size_t index)
{
    assert(index < v->count);
    return (char *)v->items + index * v->item_size;
}

bool vector_pop(vector *v, void *out)
{
    if (v->count == 0) return false;
    v->count--;
    if (out != NULL) memcpy(out, (char *)v->items + v->count * v->item_size, v->item_size);
    return true;
}

void vector_clear(vector *v)
{
    v->count = 0;
}

void *vector_release(vector *v, size_t *count)
{
    void *items = v->count > 0 ? v->items : NULL;
    *count = v->count;
    if (items == NULL) free(v->items);
    vector_init(v, v->item_size);
    return items;
}
