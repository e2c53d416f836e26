/*
 * fuzz_pruning.c — target (b): the pruning flow with fuzzed models, configs and buffers.
 *
 * The input is read with the structured reader (fuzz_common.h):
 *   - 1 to 5 modules (Linear, Conv1d/2d/3d, ConvTranspose2d, BatchNorm1d/2d, Embedding, ReLU), named
 *     m0.. (some nested: blk.m1), with a channel count shared by neighbours so that dependency
 *     groups and align have matching shapes;
 *   - a config list of 1 to 3 configs in the current or the legacy format, written as JSON from
 *     choices: selection (op_types / op_names / op_names_re / exclude), sparse_ratio /
 *     sparse_threshold / max / min, granularity (default, out_channel, in_channel, per_channel,
 *     block lists), internal_metric_block, global and dependency group ids, apply_method,
 *     target_names, target_settings with align (module_name, target_name, dims);
 *   - for every resolved target a weight and a mask view (fuzzed dtypes, shapes near the module's
 *     own, strides: contiguous, permuted, padded, zero, negative, huge, raw), sometimes absent
 *     (NULL, NULL), sometimes a caller metric;
 *   - sc_session_generate_masks with every metric (SC_METRIC_SUPPLIED included, and bad ones), then
 *     sc_session_apply_masks.
 * A quarter of the inputs go to the session-free calls instead: sc_apply_mask, sc_sparsity_schedule.
 * Invariants, besides fuzz_common.h's: a failed bind / generate / apply leaves every caller buffer
 * unchanged; generated masks hold only 0 and 1; views the header says must be rejected (negative
 * strides, too many dims, misaligned or NULL data, overlapping written buffers) are rejected.
 */
#include "fuzz_common.h"

#define MAX_MODULES 5
#define MAX_TARGETS 16

typedef struct module {
    char name[32];
    const char *type;
    int64_t out, in, k; /* channels / features, kernel */
} module;

static const char *const types[] = {"Linear", "Conv2d", "Conv1d", "Conv3d", "ConvTranspose2d", "BatchNorm2d",
                                    "BatchNorm1d", "Embedding", "ReLU", "Linear", "Conv2d"};

/* The natural shape of a module's target. */
static int32_t natural_shape(const module *m, const char *target, int64_t *shape) {
    const char *t = m->type;
    if (strcmp(target, "bias") == 0 || strncmp(t, "BatchNorm", 9) == 0) { shape[0] = m->out; return 1; }
    if (strcmp(t, "Linear") == 0 || strcmp(t, "Embedding") == 0) { shape[0] = m->out; shape[1] = m->in; return 2; }
    if (strcmp(t, "Conv1d") == 0) { shape[0] = m->out; shape[1] = m->in; shape[2] = m->k; return 3; }
    if (strcmp(t, "Conv3d") == 0) { shape[0] = m->out; shape[1] = m->in; shape[2] = shape[3] = shape[4] = m->k; return 5; }
    if (strcmp(t, "ConvTranspose2d") == 0) { shape[0] = m->in; shape[1] = m->out; shape[2] = shape[3] = m->k; return 4; }
    shape[0] = m->out; shape[1] = m->in; shape[2] = shape[3] = m->k;
    return 4;
}

static void add_ratio(fz_str *c, fdp *p, const char *key) {
    static const char *const ratios[] = {"0.5", "0", "1", "0.25", "0.75", "0.9", "0.1", "0.3333", "1e-9", "0.999999",
                                         "1.5", "-0.5", "2", "\"0.5\"", "null", "1e400", "true", "0.0"};
    fz_str_add(c, "\"%s\": %s", key, FDP_PICK(p, ratios));
}

static void add_settings(fz_str *c, fdp *p, const module *mods, int nmods, int legacy) {
    int first = 1;
#define SEP() (first ? (first = 0, "") : ", ")
    if (legacy) {
        static const char *const keys[] = {"sparsity", "sparsity_per_layer", "total_sparsity", "max_sparsity_per_layer"};
        fz_str_add(c, "%s", SEP());
        add_ratio(c, p, FDP_PICK(p, keys));
        if (fdp_one_in(p, 3)) {
            fz_str_add(c, ", ");
            add_ratio(c, p, FDP_PICK(p, keys));
        }
        return;
    }
    int nkeys = (int)fdp_range(p, 0, 5);
    for (int i = 0; i < nkeys; i++) {
        switch (fdp_range(p, 0, 11)) {
            case 0: case 1: fz_str_add(c, "%s", SEP()); add_ratio(c, p, "sparse_ratio"); break;
            case 2: {
                static const char *const th[] = {"0", "0.1", "1", "10", "-1", "1e30", "0.5"};
                fz_str_add(c, "%s\"sparse_threshold\": %s", SEP(), FDP_PICK(p, th));
                break;
            }
            case 3: fz_str_add(c, "%s", SEP()); add_ratio(c, p, "max_sparse_ratio"); break;
            case 4: fz_str_add(c, "%s", SEP()); add_ratio(c, p, "min_sparse_ratio"); break;
            case 5: {
                static const char *const g[] = {"\"default\"", "\"out_channel\"", "\"in_channel\"", "\"per_channel\"",
                                                "[1, 1]", "[2, 1]", "[-1, 2]", "[1, -1]", "[2, 2, 1, 1]", "[1]", "[0]",
                                                "[3, -1, 1, 1]", "[-1, -1]", "\"bad\"", "[]", "[1, 1, 1, 1, 1, 1]"};
                fz_str_add(c, "%s\"granularity\": %s", SEP(), FDP_PICK(p, g));
                break;
            }
            case 6: {
                static const char *const b[] = {"1", "2", "3", "0", "-1", "null", "1.5"};
                fz_str_add(c, "%s\"internal_metric_block\": %s", SEP(), FDP_PICK(p, b));
                break;
            }
            case 7: {
                static const char *const g[] = {"\"g0\"", "\"g1\"", "0", "1", "null", "[1]"};
                fz_str_add(c, "%s\"global_group_id\": %s", SEP(), FDP_PICK(p, g));
                break;
            }
            case 8: {
                static const char *const g[] = {"\"d0\"", "\"d1\"", "0", "null", "2.5"};
                fz_str_add(c, "%s\"dependency_group_id\": %s", SEP(), FDP_PICK(p, g));
                break;
            }
            case 9: {
                static const char *const a[] = {"\"mul\"", "\"add\"", "\"bypass\"", "null"};
                fz_str_add(c, "%s\"apply_method\": %s", SEP(), FDP_PICK(p, a));
                break;
            }
            case 10: {
                static const char *const t[] = {"[\"weight\"]", "[\"bias\"]", "[\"weight\", \"bias\"]", "[]",
                                                "[\"_input_\"]", "[\"_output_\"]", "\"weight\""};
                fz_str_add(c, "%s\"target_names\": %s", SEP(), FDP_PICK(p, t));
                break;
            }
            default: {
                /* target_settings with align */
                static const char *const tn[] = {"weight", "bias"};
                static const char *const dims[] = {"[0]", "[1]", "[0, 1]", "[]", "[-1]", "[5]", "[0, 0]"};
                const char *mod = "null";
                char buf[48];
                if (fdp_bool(p)) {
                    snprintf(buf, sizeof buf, "\"%s\"", mods[fdp_range(p, 0, nmods - 1)].name);
                    mod = buf;
                }
                fz_str_add(c, "%s\"target_settings\": {\"%s\": {", SEP(), FDP_PICK(p, tn));
                int inner = 0;
                if (fdp_bool(p)) {
                    fz_str_add(c, "\"align\": {\"module_name\": %s, \"target_name\": \"%s\", \"dims\": %s}", mod,
                               FDP_PICK(p, tn), FDP_PICK(p, dims));
                    inner = 1;
                }
                if (fdp_bool(p)) { fz_str_add(c, "%s", inner ? ", " : ""); add_ratio(c, p, "sparse_ratio"); inner = 1; }
                if (fdp_bool(p)) {
                    static const char *const g[] = {"\"default\"", "\"out_channel\"", "[1, -1]", "[2]"};
                    fz_str_add(c, "%s\"granularity\": %s", inner ? ", " : "", FDP_PICK(p, g));
                }
                fz_str_add(c, "}}");
                break;
            }
        }
    }
#undef SEP
}

static void make_config(fz_str *c, fdp *p, const module *mods, int nmods) {
    int legacy = fdp_one_in(p, 5);
    int n = (int)fdp_range(p, 1, 3);
    fz_str_add(c, "[");
    for (int i = 0; i < n; i++) {
        fz_str_add(c, "%s{", i ? ", " : "");
        const module *m = &mods[fdp_range(p, 0, nmods - 1)];
        switch (fdp_range(p, 0, 4)) {
            case 0: fz_str_add(c, "\"op_types\": [\"%s\"]", m->type); break;
            case 1: fz_str_add(c, "\"op_names\": [\"%s\"]", m->name); break;
            case 2: fz_str_add(c, "\"op_names_re\": [\"%s\"]", fdp_bool(p) ? ".*" : "m[0-2]"); break;
            case 3: fz_str_add(c, "\"op_types\": [\"Linear\", \"Conv2d\", \"Conv1d\", \"BatchNorm2d\", \"Embedding\"]"); break;
            default: fz_str_add(c, "\"op_names\": [\"%s\", \"%s\"]", m->name, mods[0].name); break;
        }
        if (i > 0 && fdp_one_in(p, 6)) {
            fz_str_add(c, ", \"exclude%s\": true", legacy ? "" : "");
            if (!legacy) fz_str_add(c, ", \"sparse_ratio\": 0.5");
        } else {
            fz_str_add(c, ", ");
            size_t before = c->n;
            add_settings(c, p, mods, nmods, legacy);
            if (c->n == before) c->n -= 2, c->s[c->n] = 0; /* no key: drop the ", " */
        }
        fz_str_add(c, "}");
    }
    fz_str_add(c, "]");
}

typedef struct binding {
    ft w, mask, metric;
    int bound, absent, has_metric, live; /* live: w/mask/metric are the buffers bound now */
} binding;

static void session_free_calls(fdp *p) {
    if (fdp_bool(p)) {
        int schedule = (int)fdp_range(p, -1, 2);
        double ratio = fdp_double(p);
        int64_t total = fdp_range(p, -1, 20), step = fdp_range(p, -1, 21);
        if (fdp_one_in(p, 16)) total = INT64_MAX;
        double out = -42.0;
        int st = CHECK_STATUS(NULL, sc_sparsity_schedule(schedule, ratio, step, total, fdp_bool(p) ? &out : NULL));
        if (st == SC_OK) {
            FZ_ASSERT(out >= 0.0 && out <= ratio + 1e-12 && out <= 1.0, "schedule %d gave %g for ratio %g step %lld/%lld",
                      schedule, out, ratio, (long long)step, (long long)total);
        } else {
            FZ_ASSERT(out == -42.0, "sc_sparsity_schedule wrote its output on failure");
        }
        return;
    }
    int64_t shape[SC_MAX_NDIM + 2], mshape[SC_MAX_NDIM + 2];
    int32_t ndim = fz_shape(p, shape, 4, 6);
    memcpy(mshape, shape, sizeof shape);
    int32_t mndim = ndim;
    if (fdp_one_in(p, 8)) mndim = fz_shape(p, mshape, 4, 6);
    ft target, mask;
    ft_make(&target, p, fz_dtype(p), ndim, shape);
    ft_make(&mask, p, fz_dtype(p), mndim, mshape);
    ft_fill(&target, p);
    ft_fill(&mask, p);
    int method = (int)fdp_range(p, -1, 2);
    ft_snapshot(&target);
    ft_snapshot(&mask);
    int st = CHECK_STATUS(NULL, sc_apply_mask(fdp_one_in(p, 64) ? NULL : &mask.t, fdp_one_in(p, 64) ? NULL : &target.t, method));
    FZ_ASSERT(ft_unchanged(&mask), "sc_apply_mask wrote the mask");
    if (st != SC_OK) FZ_ASSERT(ft_unchanged(&target), "a failed sc_apply_mask wrote the target");
    else {
        FZ_ASSERT(!target.bad_view && !mask.bad_view, "sc_apply_mask accepted a view the header rejects (target layout %d, mask layout %d)",
                  target.layout, mask.layout);
        FZ_ASSERT(!target.overlapping, "sc_apply_mask accepted an overlapping target");
    }
    ft_free(&target);
    ft_free(&mask);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fdp p = {data, size};
    if (fdp_one_in(&p, 4)) {
        session_free_calls(&p);
        return 0;
    }
    module mods[MAX_MODULES];
    int nmods = (int)fdp_range(&p, 1, MAX_MODULES);
    int64_t channels = fdp_range(&p, 1, 8);
    sc_session *s = NULL;
    int st = CHECK_STATUS(NULL, sc_session_create(SC_MODE_PRUNING, &s));
    FZ_ASSERT(st == SC_OK, "sc_session_create");
    for (int i = 0; i < nmods; i++) {
        module *m = &mods[i];
        snprintf(m->name, sizeof m->name, "%sm%d", fdp_one_in(&p, 4) ? "blk." : "", i);
        m->type = FDP_PICK(&p, types);
        m->in = channels;
        if (!fdp_one_in(&p, 3)) channels = fdp_range(&p, 1, 8);
        m->out = channels;
        m->k = fdp_range(&p, 1, 3);
        const char *args[1] = {"input"};
        CHECK_STATUS(s, sc_session_add_module(s, m->name, m->type, args, fdp_bool(&p) ? 1 : 0));
    }
    fz_str cfg = {0};
    make_config(&cfg, &p, mods, nmods);
    st = fz_set_config(s, &cfg);
    if (st != SC_OK) return 0;

    size_t ntargets = sc_session_target_count(s);
    if (ntargets > MAX_TARGETS) ntargets = MAX_TARGETS;
    binding b[MAX_TARGETS];
    memset(b, 0, sizeof b);
    static ft retired[MAX_TARGETS * 3 * 3];
    int nretired = 0;
    const char *mname[MAX_TARGETS], *tname[MAX_TARGETS];
    for (size_t i = 0; i < ntargets; i++) {
        st = CHECK_STATUS(s, sc_session_target(s, i, &mname[i], &tname[i]));
        FZ_ASSERT(st == SC_OK, "sc_session_target");
    }
    int rounds = (int)fdp_range(&p, 1, 3);
    for (int round = 0; round < rounds; round++) {
        for (size_t i = 0; i < ntargets; i++) {
            binding *bi = &b[i];
            if (round > 0 && !fdp_one_in(&p, 3)) continue; /* rebind some */
            /* The library may still hold the earlier buffers (a failed bind changes nothing): keep
             * them alive until the session is freed. */
            retired[nretired++] = bi->w;
            retired[nretired++] = bi->mask;
            retired[nretired++] = bi->metric;
            memset(&bi->w, 0, sizeof bi->w);
            memset(&bi->mask, 0, sizeof bi->mask);
            memset(&bi->metric, 0, sizeof bi->metric);
            bi->live = 0;
            if (fdp_one_in(&p, 16)) continue; /* left as it was (unbound in round 0) */
            if (fdp_one_in(&p, 12)) {
                st = CHECK_STATUS(s, sc_session_bind(s, mname[i], tname[i], NULL, NULL));
                FZ_ASSERT(st == SC_OK, "binding an absent target failed: %s", sc_session_last_error(s));
                bi->bound = bi->absent = 1;
                bi->has_metric = 0;
                continue;
            }
            const module *m = &mods[0];
            for (int k = 0; k < nmods; k++)
                if (strcmp(mods[k].name, mname[i]) == 0) m = &mods[k];
            int64_t shape[SC_MAX_NDIM + 2], mshape[SC_MAX_NDIM + 2];
            int32_t ndim = fdp_one_in(&p, 10) ? fz_shape(&p, shape, 5, 6) : natural_shape(m, tname[i], shape);
            memcpy(mshape, shape, sizeof shape);
            int32_t mndim = ndim;
            if (fdp_one_in(&p, 16)) mndim = fz_shape(&p, mshape, 5, 6);
            int32_t wdtype = fdp_one_in(&p, 3) ? fz_dtype(&p) : SC_DTYPE_FLOAT32;
            ft_make(&bi->w, &p, wdtype, ndim, shape);
            ft_make(&bi->mask, &p, fdp_one_in(&p, 2) ? fz_dtype(&p) : SC_DTYPE_FLOAT32, mndim, mshape);
            ft_fill(&bi->w, &p);
            ft_fill(&bi->mask, &p);
            ft_snapshot(&bi->w);
            ft_snapshot(&bi->mask);
            int which = fdp_one_in(&p, 48) ? (int)fdp_range(&p, 1, 2) : 0; /* one NULL view */
            const char *tn = fdp_one_in(&p, 64) ? "nosuch" : tname[i];
            st = CHECK_STATUS(s, sc_session_bind(s, mname[i], tn, which == 1 ? NULL : &bi->w.t, which == 2 ? NULL : &bi->mask.t));
            FZ_ASSERT(ft_unchanged(&bi->w) && ft_unchanged(&bi->mask), "sc_session_bind wrote a buffer");
            if (st == SC_OK) {
                FZ_ASSERT(which == 0 && tn == tname[i], "sc_session_bind accepted a NULL view or an unknown target");
                FZ_ASSERT(!bi->w.bad_view && !bi->mask.bad_view,
                          "sc_session_bind accepted a view the header rejects (tensor layout %d, mask layout %d)",
                          bi->w.layout, bi->mask.layout);
                FZ_ASSERT(!bi->w.overlapping && !bi->mask.overlapping, "sc_session_bind accepted overlapping strides");
                bi->bound = 1;
                bi->absent = bi->has_metric = 0;
                bi->live = 1;
            }
            if (st == SC_OK && fdp_one_in(&p, 3)) {
                int64_t msh[SC_MAX_NDIM + 2];
                int32_t n;
                switch (fdp_range(&p, 0, 3)) {
                    case 0: n = ndim; memcpy(msh, shape, sizeof msh); break;
                    case 1: n = 1; msh[0] = shape[0]; break;
                    case 2: n = ndim; memcpy(msh, shape, sizeof msh); for (int d = 1; d < n; d++) msh[d] = 1; break;
                    default: n = fz_shape(&p, msh, 4, 6); break;
                }
                if (n < 0 || n > SC_MAX_NDIM) n = 1, msh[0] = 1;
                ft_make(&bi->metric, &p, fdp_one_in(&p, 4) ? fz_dtype(&p) : SC_DTYPE_FLOAT32, n, msh);
                ft_fill(&bi->metric, &p);
                ft_snapshot(&bi->metric);
                st = CHECK_STATUS(s, sc_session_bind_metric(s, mname[i], tname[i], &bi->metric.t));
                FZ_ASSERT(ft_unchanged(&bi->metric), "sc_session_bind_metric wrote the metric");
                if (st == SC_OK) {
                    FZ_ASSERT(!bi->metric.bad_view, "sc_session_bind_metric accepted a view the header rejects (layout %d)",
                              bi->metric.layout);
                    bi->has_metric = 1;
                }
            }
        }
        int metric = fdp_one_in(&p, 32) ? (int)fdp_range(&p, -2, 7) : (int)fdp_range(&p, 0, 4);
        for (size_t i = 0; i < ntargets; i++) {
            ft_snapshot(&b[i].w);
            ft_snapshot(&b[i].mask);
        }
        st = CHECK_STATUS(s, sc_session_generate_masks(s, metric));
        for (size_t i = 0; i < ntargets; i++) {
            binding *bi = &b[i];
            FZ_ASSERT(ft_unchanged(&bi->w), "sc_session_generate_masks wrote target %s/%s's tensor", mname[i], tname[i]);
            if (st != SC_OK) {
                FZ_ASSERT(ft_unchanged(&bi->mask), "a failed sc_session_generate_masks (%s: %s) wrote the mask of %s/%s",
                          sc_status_name(st), sc_session_last_error(s), mname[i], tname[i]);
            } else if (bi->live && !bi->absent) {
                for (int64_t e = 0; e < bi->mask.count; e++) {
                    double v = ft_get(&bi->mask, e);
                    FZ_ASSERT(fz_is01(v), "mask of %s/%s has %g at element %lld (metric %d)", mname[i], tname[i], v,
                              (long long)e, metric);
                }
            }
        }
        if (st == SC_OK) {
            int all_bound = 1;
            for (size_t i = 0; i < ntargets; i++) all_bound &= b[i].bound;
            FZ_ASSERT(all_bound || ntargets < sc_session_target_count(s), "masks generated with an unbound target");
            if (metric == SC_METRIC_SUPPLIED) {
                /* every target with its own ratio/threshold needs a metric; not checked here */
            }
        }
        if (fdp_bool(&p)) {
            for (size_t i = 0; i < ntargets; i++) ft_snapshot(&b[i].w), ft_snapshot(&b[i].mask);
            st = CHECK_STATUS(s, sc_session_apply_masks(s));
            for (size_t i = 0; i < ntargets; i++) {
                FZ_ASSERT(ft_unchanged(&b[i].mask), "sc_session_apply_masks wrote a mask");
                if (st != SC_OK) FZ_ASSERT(ft_unchanged(&b[i].w), "a failed sc_session_apply_masks wrote a tensor");
            }
        }
    }
    if (fdp_one_in(&p, 4)) {
        /* a module added after the config drops the targets and bindings */
        st = CHECK_STATUS(s, sc_session_add_module(s, "late", "Linear", NULL, 0));
        if (st == SC_OK) {
            st = CHECK_STATUS(s, sc_session_generate_masks(s, SC_METRIC_L1));
            FZ_ASSERT(st != SC_OK || sc_session_target_count(s) == 0, "masks after the modules changed");
        }
    }
    sc_session_free(s);
    for (size_t i = 0; i < ntargets; i++) {
        ft_free(&b[i].w);
        ft_free(&b[i].mask);
        ft_free(&b[i].metric);
    }
    for (int i = 0; i < nretired; i++) ft_free(&retired[i]);
    return 0;
}
