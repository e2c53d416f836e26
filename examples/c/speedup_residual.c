/* speedup_residual.c: a residual block described through the C ABI's graph section, its dependency
 * groups and its shrink plan (docs/speedup.md).
 *
 *     x [1,3,8,8] -> conv a (3->4) -> bn -> relu --+-- add -> conv c (4->2) -> output
 *     x           -> conv b (3->4) ---------------+
 *
 * Masks: a prunes output channels 1 and 3, b prunes 1 and 2 (weight masks [4,3,1,1], no bias).
 * a and b are tied by the add: only channel 1, pruned by both, is removed. */
#include <stdio.h>
#include <stdlib.h>

#include "swiftcompress.h"

#define CHECK(call)                                                                  \
    do {                                                                             \
        if ((call) != SC_OK) {                                                       \
            fprintf(stderr, "%s failed: %s\n", #call, sc_last_error());               \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

static void print_plan(sc_graph *g, size_t node, int which, const char *label) {
    int64_t kept[8], count = 0;
    CHECK(sc_graph_shrink_plan(g, node, which, kept, 8, &count));
    printf("%s:", label);
    if (count < 0) printf(" (untracked: all kept)");
    for (int64_t i = 0; i < count; i++) printf(" %lld", (long long)kept[i]);
    printf("\n");
}

int main(void) {
    sc_graph *g = NULL;
    CHECK(sc_graph_create(&g));
    int64_t s_x[] = {1, 3, 8, 8}, s_4[] = {1, 4, 8, 8}, s_2[] = {1, 2, 8, 8};
    int64_t conv34[] = {3, 4, 1, 0}, conv42[] = {4, 2, 1, 0}, bn[] = {1, 0};
    size_t x, a, n, r, b, add, c, out;
    CHECK(sc_graph_add_node(g, "x", SC_GRAPH_OP_INPUT, NULL, 0, s_x, 4, NULL, 0, &x));
    CHECK(sc_graph_add_node(g, "a", SC_GRAPH_OP_CONV, &x, 1, s_4, 4, conv34, 4, &a));
    CHECK(sc_graph_add_node(g, "bn", SC_GRAPH_OP_NORM, &a, 1, s_4, 4, bn, 2, &n));
    CHECK(sc_graph_add_node(g, "relu", SC_GRAPH_OP_PASS, &n, 1, s_4, 4, NULL, 0, &r));
    CHECK(sc_graph_add_node(g, "b", SC_GRAPH_OP_CONV, &x, 1, s_4, 4, conv34, 4, &b));
    size_t add_inputs[] = {r, b};
    CHECK(sc_graph_add_node(g, "add", SC_GRAPH_OP_ELEMENTWISE, add_inputs, 2, s_4, 4, NULL, 0, &add));
    CHECK(sc_graph_add_node(g, "c", SC_GRAPH_OP_CONV, &add, 1, s_2, 4, conv42, 4, &c));
    CHECK(sc_graph_add_node(g, "output", SC_GRAPH_OP_OUTPUT, &c, 1, NULL, 0, NULL, 0, &out));

    float mask_a[12], mask_b[12];
    for (int o = 0; o < 4; o++)
        for (int i = 0; i < 3; i++) {
            mask_a[o * 3 + i] = (o == 1 || o == 3) ? 0.0f : 1.0f;
            mask_b[o * 3 + i] = (o == 1 || o == 2) ? 0.0f : 1.0f;
        }
    int64_t w_shape[] = {4, 3, 1, 1};
    sc_tensor ta = {mask_a, SC_DTYPE_FLOAT32, 4, w_shape, NULL}, tb = {mask_b, SC_DTYPE_FLOAT32, 4, w_shape, NULL};
    CHECK(sc_graph_set_mask(g, a, &ta, NULL));
    CHECK(sc_graph_set_mask(g, b, &tb, NULL));

    size_t groups = 0;
    CHECK(sc_graph_dependency_groups(g, &groups));
    printf("dependency groups: %zu\n", groups);
    for (size_t k = 0; k < groups; k++) {
        size_t members[8], count = 0;
        CHECK(sc_graph_group_members(g, k, members, 8, &count));
        printf("group %zu:", k);
        for (size_t i = 0; i < count; i++) printf(" node %zu", members[i]);
        printf("\n");
    }
    print_plan(g, a, SC_GRAPH_OUTPUT, "a kept outputs");
    print_plan(g, b, SC_GRAPH_OUTPUT, "b kept outputs");
    print_plan(g, n, SC_GRAPH_OUTPUT, "bn kept channels");
    print_plan(g, c, SC_GRAPH_INPUT, "c kept inputs");
    print_plan(g, a, SC_GRAPH_INPUT, "a kept inputs");
    int64_t attrs[8];
    size_t na = 0;
    CHECK(sc_graph_shrunk_attrs(g, c, attrs, 8, &na));
    printf("c shrunk attrs: in %lld out %lld groups %lld\n", (long long)attrs[0], (long long)attrs[1], (long long)attrs[2]);
    int64_t flops = 0, params = 0;
    CHECK(sc_graph_cost(g, NULL, NULL, 0, &flops, &params));
    printf("FLOPs %lld params %lld\n", (long long)flops, (long long)params);
    sc_graph_free(g);
    return 0;
}
