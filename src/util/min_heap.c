/* min_heap.c — the intrusive binary min-heap of min_heap.h: an array of node pointers, each node
 * holding its own index so that removal and re-keying start where the node is. */
#include "util/min_heap.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>

void min_heap_init(min_heap *heap)
{
    heap->nodes = NULL;
    heap->count = heap->capacity = 0;
}

void min_heap_free(min_heap *heap)
{
    for (size_t i = 0; i < heap->count; i++)
        heap->nodes[i]->index = MIN_HEAP_ABSENT;
    free(heap->nodes);
    min_heap_init(heap);
}

void min_heap_node_init(min_heap_node *node)
{
    node->key = 0;
    node->index = MIN_HEAP_ABSENT;
}

bool min_heap_node_queued(const min_heap_node *node)
{
    return node->index != MIN_HEAP_ABSENT;
}

static void place(min_heap *heap, size_t i, min_heap_node *node)
{
    heap->nodes[i] = node;
    node->index = i;
}

static void sift_up(min_heap *heap, size_t i)
{
    min_heap_node *node = heap->nodes[i];
    while (i > 0 && heap->nodes[(i - 1) / 2]->key > node->key) {
        place(heap, i, heap->nodes[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    place(heap, i, node);
}

static void sift_down(min_heap *heap, size_t i)
{
    min_heap_node *node = heap->nodes[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= heap->count) break;
        if (child + 1 < heap->count && heap->nodes[child + 1]->key < heap->nodes[child]->key) child++;
        if (heap->nodes[child]->key >= node->key) break;
        place(heap, i, heap->nodes[child]);
        i = child;
    }
    place(heap, i, node);
}

bool min_heap_reserve(min_heap *heap, size_t capacity)
{
    if (capacity <= heap->capacity) return true;
    if (capacity > SIZE_MAX / sizeof(min_heap_node *)) return false;
    min_heap_node **grown = realloc(heap->nodes, capacity * sizeof(*grown));
    if (grown == NULL) return false;
    heap->nodes = grown;
    heap->capacity = capacity;
    return true;
}

bool min_heap_push(min_heap *heap, min_heap_node *node, int64_t key)
{
    assert(node->index == MIN_HEAP_ABSENT); /* a node is in one heap at most, once */
    if (heap->count == heap->capacity && !min_heap_reserve(heap, heap->capacity ? heap->capacity * 2 : 64))
        return false;
    node->key = key;
    heap->nodes[heap->count] = node;
    sift_up(heap, heap->count++);
    return true;
}

void min_heap_update(min_heap *heap, min_heap_node *node, int64_t key)
{
    assert(node->index < heap->count && heap->nodes[node->index] == node);
    int64_t old = node->key;
    node->key = key;
    if (key < old)
        sift_up(heap, node->index);
    else if (key > old)
        sift_down(heap, node->index);
}

void min_heap_remove(min_heap *heap, min_heap_node *node)
{
    if (node->index == MIN_HEAP_ABSENT) return;
    size_t i = node->index;
    assert(i < heap->count && heap->nodes[i] == node); /* the node is in this heap */
    node->index = MIN_HEAP_ABSENT;
    if (i == --heap->count) return;
    min_heap_node *last = heap->nodes[heap->count];
    place(heap, i, last);
    if (i > 0 && heap->nodes[(i - 1) / 2]->key > last->key)
        sift_up(heap, i);
    else
        sift_down(heap, i);
}

min_heap_node *min_heap_peek(const min_heap *heap)
{
    return heap->count > 0 ? heap->nodes[0] : NULL;
}

min_heap_node *min_heap_pop(min_heap *heap)
{
    min_heap_node *top = min_heap_peek(heap);
    if (top != NULL) min_heap_remove(heap, top);
    return top;
}

size_t min_heap_count(const min_heap *heap)
{
    return heap->count;
}
