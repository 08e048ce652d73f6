/* test_util_min_heap.c — the intrusive min-heap: pops come out in key order, removal and re-keying
 * from any position keep the order (checked against a plain array after every step of a long random
 * run), nodes know whether they are queued, reserved room is used, and an emptied heap is reusable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "util/min_heap.h"

typedef struct timer {
    int id;
    min_heap_node node;
} timer;

/* Every parent's key is at most its children's, and every node's index is its position. */
static void assert_heap_shape(const min_heap *heap)
{
    for (size_t i = 0; i < heap->count; i++) {
        assert_int_equal(heap->nodes[i]->index, i);
        if (i > 0) assert_true(heap->nodes[(i - 1) / 2]->key <= heap->nodes[i]->key);
    }
}

static void pops_come_out_in_key_order(void **state)
{
    (void)state;
    enum { COUNT = 1000 };
    static timer timers[COUNT];
    min_heap heap;
    min_heap_init(&heap);
    for (int i = 0; i < COUNT; i++) {
        timers[i].id = i;
        min_heap_node_init(&timers[i].node);
        assert_false(min_heap_node_queued(&timers[i].node));
        assert_true(min_heap_push(&heap, &timers[i].node, (int64_t)((i * 7919) % COUNT) - 300));
        assert_true(min_heap_node_queued(&timers[i].node));
    }
    assert_int_equal(min_heap_count(&heap), COUNT);
    assert_heap_shape(&heap);
    int64_t last = INT64_MIN;
    for (int i = 0; i < COUNT; i++) {
        min_heap_node *top = min_heap_peek(&heap);
        assert_ptr_equal(min_heap_pop(&heap), top);
        timer *t = MIN_HEAP_ENTRY(top, timer, node);
        assert_int_equal(t->node.key, (int64_t)((t->id * 7919) % COUNT) - 300);
        assert_true(top->key >= last);
        assert_false(min_heap_node_queued(top));
        last = top->key;
    }
    assert_null(min_heap_pop(&heap));
    assert_null(min_heap_peek(&heap));
    /* room reserved up front: pushes up to it do not move the array */
    assert_true(min_heap_reserve(&heap, 4096));
    min_heap_node **nodes = heap.nodes;
    for (int i = 0; i < COUNT; i++)
        assert_true(min_heap_push(&heap, &timers[i].node, i));
    assert_ptr_equal(heap.nodes, nodes);
    for (int i = 0; i < COUNT; i++)
        min_heap_remove(&heap, &timers[i].node);
    /* reusable after emptying */
    assert_true(min_heap_push(&heap, &timers[5].node, 42));
    assert_ptr_equal(min_heap_peek(&heap), &timers[5].node);
    min_heap_free(&heap);
    assert_false(min_heap_node_queued(&timers[5].node)); /* freeing the heap leaves its nodes out */
}

static void removal_and_rekeying_keep_the_order_in_a_random_run(void **state)
{
    (void)state;
    enum { COUNT = 300, STEPS = 20000 };
    static timer timers[COUNT];
    min_heap heap;
    min_heap_init(&heap);
    for (int i = 0; i < COUNT; i++) {
        timers[i].id = i;
        min_heap_node_init(&timers[i].node);
    }
    srand(12345);
    for (int step = 0; step < STEPS; step++) {
        timer *t = &timers[rand() % COUNT];
        int64_t key = rand() % 500;
        switch (rand() % 4) {
        case 0: /* push or re-key */
            if (min_heap_node_queued(&t->node))
                min_heap_update(&heap, &t->node, key);
            else
                assert_true(min_heap_push(&heap, &t->node, key));
            assert_int_equal(t->node.key, key);
            break;
        case 1:
            min_heap_remove(&heap, &t->node); /* also when not queued: ignored */
            assert_false(min_heap_node_queued(&t->node));
            break;
        case 2: {
            min_heap_node *top = min_heap_pop(&heap);
            if (top == NULL) break;
            for (int i = 0; i < COUNT; i++) /* nothing left is smaller than what came out */
                if (min_heap_node_queued(&timers[i].node)) assert_true(timers[i].node.key >= top->key);
            break;
        }
        default:
            if (min_heap_node_queued(&t->node)) min_heap_update(&heap, &t->node, t->node.key - 250);
            break;
        }
        assert_heap_shape(&heap);
        size_t queued = 0;
        for (int i = 0; i < COUNT; i++)
            queued += min_heap_node_queued(&timers[i].node);
        assert_int_equal(queued, min_heap_count(&heap));
    }
    min_heap_free(&heap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pops_come_out_in_key_order),
        cmocka_unit_test(removal_and_rekeying_keep_the_order_in_a_random_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
