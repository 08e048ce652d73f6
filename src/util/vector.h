/* vector.h — a growable array of fixed-size items (any struct), grown by doubling. Items are copied in
 * and out by value; a pointer to an item is valid until the next push or reserve.
 *
 * Typical use: rows collected one by one and handed to a caller as a plain malloc'd array
 * (vector_release), or a queue filled under a lock and taken whole by its consumer (copy the struct,
 * then vector_init the original). Not thread-safe: one owner, or the owner's lock. */
#ifndef REELAY_UTIL_VECTOR_H
#define REELAY_UTIL_VECTOR_H

#include <stdbool.h>
#include <stddef.h>

typedef struct vector {
    void *items; /* count items of item_size bytes, malloc'd (NULL while capacity is 0) */
    size_t count, capacity, item_size;
} vector;

/* An empty vector of items of item_size bytes (> 0); nothing is allocated until the first push. */
void vector_init(vector *v, size_t item_size);
/* Frees the items; the vector is then empty (and may be used again). */
void vector_free(vector *v);

/* Makes room for at least capacity items in all. False when out of memory or the size overflows
 * (the vector is unchanged). */
bool vector_reserve(vector *v, size_t capacity);
/* Appends a copy of item (item_size bytes), or a zeroed item when item is NULL. Returns the new item
 * in place, or NULL when out of memory (the vector is unchanged). */
void *vector_push(vector *v, const void *item);
/* The item at index (< count). */
void *vector_at(const vector *v, size_t index);
/* Removes the last item, copying it to out (may be NULL). False when empty. */
bool vector_pop(vector *v, void *out);
/* Forgets every item but keeps the memory. */
void vector_clear(vector *v);
/* Hands the items over as a malloc'd array the caller frees (NULL when there are none) with their
 * number in *count; the vector is then empty. */
void *vector_release(vector *v, size_t *count);

#endif
