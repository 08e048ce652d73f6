/* min_heap.h — a binary min-heap of timers (or anything ordered by a 64-bit key), intrusive: each
 * entry is a min_heap_node embedded in the caller's own struct, which the heap never allocates or
 * frees. The node remembers its position, so an entry can be removed or re-keyed in O(log n) without
 * a search; MIN_HEAP_ENTRY gets back from a node to its struct.
 *
 * Ties are broken by nothing: entries with equal keys come out in no particular order.
 * Not thread-safe: one owner, or the owner's lock. */
#ifndef REELAY_UTIL_MIN_HEAP_H
#define REELAY_UTIL_MIN_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIN_HEAP_ABSENT SIZE_MAX

typedef struct min_heap_node {
    int64_t key;  /* read it, never write it while the node is in a heap (use min_heap_update) */
    size_t index; /* position in its heap, MIN_HEAP_ABSENT when in none */
} min_heap_node;

typedef struct min_heap {
    min_heap_node **nodes;
    size_t count, capacity;
} min_heap;

/* The struct of type `type` whose member `member` is the node at `node`. */
#define MIN_HEAP_ENTRY(node, type, member) ((type *)((char *)(node)-offsetof(type, member)))

/* An empty heap (or zero-initialise it). */
void min_heap_init(min_heap *heap);
/* Frees the heap's own array; the entries are the caller's. */
void min_heap_free(min_heap *heap);

/* Marks a node as in no heap; call once before its first push. */
void min_heap_node_init(min_heap_node *node);
/* True while node is in a heap. */
bool min_heap_node_queued(const min_heap_node *node);

/* Makes room for capacity entries in all, so that pushes up to that count cannot fail. False when out
 * of memory (the heap is unchanged). */
bool min_heap_reserve(min_heap *heap, size_t capacity);
/* Adds node (which must be in no heap) with key. False when out of memory (node then stays out). */
bool min_heap_push(min_heap *heap, min_heap_node *node, int64_t key);
/* Gives node (which must be in this heap) a new key and restores the order. */
void min_heap_update(min_heap *heap, min_heap_node *node, int64_t key);
/* Takes node out of this heap; a node in no heap is ignored. */
void min_heap_remove(min_heap *heap, min_heap_node *node);

/* The node with the smallest key, or NULL when empty. */
min_heap_node *min_heap_peek(const min_heap *heap);
/* Takes the node with the smallest key out and returns it, or NULL when empty. */
min_heap_node *min_heap_pop(min_heap *heap);
/* Entries in the heap. */
size_t min_heap_count(const min_heap *heap);

#endif
