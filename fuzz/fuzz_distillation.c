/*
 * fuzz_distillation.c — target (d): distillation sessions.
 *
 * The structured reader builds 1 to 4 student modules (any type: distillation knows them all), an
 * optional teacher module list, and a config list (op_names / op_types / op_names_re selection,
 * lambda, link as 'auto', a name, a list of names, an unknown name or a wrong type, apply_method
 * mse / kl / bad, target_names _output_ / _output_0 / _input_0 / weight). Then up to 3 steps: bind
 * every target's student (fuzzed shape, dtype, strides) with a gradient buffer (none, a separate
 * one, or the student's own buffer), bind the teacher of each link (same shape, another dtype or
 * layout, a wrong shape, NULL to unbind, a bad link index), and sc_session_distill with or without
 * per-target losses (right or wrong count).
 * Invariants, besides fuzz_common.h's: failed calls write nothing (gradients, *total_loss,
 * target_losses); on success the total is the sum of the per-target losses; teachers and students
 * are never written (except a gradient that is the student's own buffer); views the header rejects
 * are rejected.
 */
#include "fuzz_common.h"

#define MAX_TARGETS 8
#define MAX_LINKS 4

static const char *const types[] = {"Linear", "Conv2d", "ReLU", "Sequential", "LayerNorm", "Embedding", "MyBlock"};

typedef struct target {
    ft student, grad, teacher[MAX_LINKS];
    int grad_is_student, bound;
    size_t nlinks;
} target;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fdp p = {data, size};
    sc_session *s = NULL;
    int st = CHECK_STATUS(NULL, sc_session_create(SC_MODE_DISTILLATION, &s));
    FZ_ASSERT(st == SC_OK, "sc_session_create");
    int nmods = (int)fdp_range(&p, 1, 4);
    char names[4][16];
    for (int i = 0; i < nmods; i++) {
        if (i == 0 && fdp_one_in(&p, 4)) names[i][0] = 0; /* the root */
        else snprintf(names[i], sizeof names[i], "%sd%d", fdp_one_in(&p, 3) ? "enc." : "", i);
        CHECK_STATUS(s, sc_session_add_module(s, names[i], FDP_PICK(&p, types), NULL, 0));
    }
    if (fdp_bool(&p)) {
        int nt = (int)fdp_range(&p, 0, 4);
        for (int i = 0; i < nt; i++) {
            char t[16];
            if (fdp_bool(&p)) snprintf(t, sizeof t, "%s", names[fdp_range(&p, 0, nmods - 1)]);
            else snprintf(t, sizeof t, "t%d", i);
            CHECK_STATUS(s, sc_session_add_teacher_module(s, t));
        }
    }
    fz_str cfg = {0};
    int nconf = (int)fdp_range(&p, 1, 2);
    fz_str_add(&cfg, "[");
    for (int c = 0; c < nconf; c++) {
        const char *name = names[fdp_range(&p, 0, nmods - 1)];
        switch (fdp_range(&p, 0, 2)) {
            case 0: fz_str_add(&cfg, "%s{\"op_names\": [\"%s\"]", c ? ", " : "", name); break;
            case 1: fz_str_add(&cfg, "%s{\"op_types\": [\"%s\"]", c ? ", " : "", FDP_PICK(&p, types)); break;
            default: fz_str_add(&cfg, "%s{\"op_names_re\": [\"%s\"]", c ? ", " : "", fdp_bool(&p) ? ".*" : "enc\\\\..*"); break;
        }
        int nkeys = (int)fdp_range(&p, 0, 4);
        for (int k = 0; k < nkeys; k++) {
            switch (fdp_range(&p, 0, 3)) {
                case 0: {
                    static const char *const l[] = {"0.3", "1", "0", "-1", "1e300", "2", "\"1\"", "null", "1e400"};
                    fz_str_add(&cfg, ", \"lambda\": %s", FDP_PICK(&p, l));
                    break;
                }
                case 1: {
                    int kind = (int)fdp_range(&p, 0, 5);
                    if (kind == 0) fz_str_add(&cfg, ", \"link\": \"auto\"");
                    else if (kind == 1) fz_str_add(&cfg, ", \"link\": \"%s\"", names[fdp_range(&p, 0, nmods - 1)]);
                    else if (kind == 2)
                        fz_str_add(&cfg, ", \"link\": [\"%s\", \"t%d\"]", names[fdp_range(&p, 0, nmods - 1)], (int)fdp_range(&p, 0, 3));
                    else if (kind == 3) fz_str_add(&cfg, ", \"link\": \"t%d\"", (int)fdp_range(&p, 0, 3));
                    else if (kind == 4) fz_str_add(&cfg, ", \"link\": []");
                    else fz_str_add(&cfg, ", \"link\": 3");
                    break;
                }
                case 2: {
                    static const char *const a[] = {"\"mse\"", "\"kl\"", "null", "\"l1\"", "\"MSE\""};
                    fz_str_add(&cfg, ", \"apply_method\": %s", FDP_PICK(&p, a));
                    break;
                }
                default: {
                    static const char *const t[] = {"[\"_output_\"]", "[\"_output_0\"]", "[\"_input_0\"]", "[\"weight\"]",
                                                    "[\"_output_\", \"_output_1\"]"};
                    fz_str_add(&cfg, ", \"target_names\": %s", FDP_PICK(&p, t));
                    break;
                }
            }
        }
        fz_str_add(&cfg, "}");
    }
    fz_str_add(&cfg, "]");
    st = fz_set_config(s, &cfg);
    if (st != SC_OK) return 0;
    size_t n = sc_session_target_count(s);
    if (n > MAX_TARGETS) n = MAX_TARGETS;
    target t[MAX_TARGETS];
    memset(t, 0, sizeof t);
    static ft retired[MAX_TARGETS * (MAX_LINKS + 2) * 3];
    int nretired = 0;
    const char *mname[MAX_TARGETS], *tname[MAX_TARGETS];
    for (size_t i = 0; i < n; i++) {
        st = CHECK_STATUS(s, sc_session_target(s, i, &mname[i], &tname[i]));
        FZ_ASSERT(st == SC_OK, "sc_session_target");
        size_t count = 555;
        st = CHECK_STATUS(s, sc_session_target_link_count(s, i, &count));
        if (st == SC_OK) FZ_ASSERT(count >= 1, "a target with no link");
        else FZ_ASSERT(count == 555, "a failed link count wrote its output");
        t[i].nlinks = st == SC_OK ? (count > MAX_LINKS ? MAX_LINKS : count) : 1;
    }
    int steps = (int)fdp_range(&p, 1, 3);
    for (int step = 0; step < steps; step++) {
        for (size_t i = 0; i < n; i++) {
            target *ti = &t[i];
            if (step > 0 && fdp_bool(&p)) continue; /* keep the earlier binding */
            if (fdp_one_in(&p, 20)) continue;      /* not bound (in step 0) */
            /* earlier buffers may still be bound (a failed bind changes nothing) */
            retired[nretired++] = ti->student;
            retired[nretired++] = ti->grad;
            for (size_t l = 0; l < MAX_LINKS; l++) retired[nretired++] = ti->teacher[l];
            memset(ti->teacher, 0, sizeof ti->teacher);
            int64_t shape[SC_MAX_NDIM + 2];
            int32_t ndim = fdp_one_in(&p, 8) ? fz_shape(&p, shape, 3, 5) : (int32_t)fdp_range(&p, 1, 3);
            if (ndim > 0 && ndim <= 3 && shape[0] >= 0)
                for (int d = 0; d < ndim; d++)
                    if (!(shape[d] >= 0 && shape[d] <= 5)) shape[d] = fdp_range(&p, 1, 5);
            ft_make(&ti->student, &p, fdp_one_in(&p, 3) ? fz_dtype(&p) : SC_DTYPE_FLOAT32, ndim, shape);
            ft_fill(&ti->student, &p);
            int gmode = (int)fdp_range(&p, 0, 3); /* 0 none, 1 own buffer, else separate */
            ti->grad_is_student = gmode == 1;
            if (gmode >= 2) {
                int64_t gs[SC_MAX_NDIM + 2];
                memcpy(gs, shape, sizeof gs);
                int32_t gn = ndim;
                if (fdp_one_in(&p, 16)) gn = fz_shape(&p, gs, 3, 5);
                ft_make(&ti->grad, &p, fdp_one_in(&p, 3) ? fz_dtype(&p) : SC_DTYPE_FLOAT32, gn, gs);
            } else {
                memset(&ti->grad, 0, sizeof ti->grad);
            }
            ft_snapshot(&ti->student);
            ft_snapshot(&ti->grad);
            const sc_tensor *g = gmode == 0 ? NULL : gmode == 1 ? &ti->student.t : &ti->grad.t;
            st = CHECK_STATUS(s, sc_session_bind_student(s, mname[i], tname[i], &ti->student.t, g));
            FZ_ASSERT(ft_unchanged(&ti->student) && ft_unchanged(&ti->grad), "sc_session_bind_student wrote a buffer");
            if (st == SC_OK) {
                FZ_ASSERT(!ti->student.bad_view && !(gmode >= 2 && (ti->grad.bad_view || ti->grad.overlapping)) &&
                              !(gmode == 1 && ti->student.overlapping),
                          "sc_session_bind_student accepted a view the header rejects (student layout %d)", ti->student.layout);
                ti->bound = 1;
            } else {
                ti->grad_is_student = 0;
                continue;
            }
            for (size_t l = 0; l < ti->nlinks + (fdp_one_in(&p, 16) ? 1 : 0); l++) {
                if (l >= MAX_LINKS) break;
                int kind = (int)fdp_range(&p, 0, 7);
                if (kind == 0) {
                    st = CHECK_STATUS(s, sc_session_bind_teacher(s, mname[i], tname[i], l, NULL));
                    continue;
                }
                int64_t ts[SC_MAX_NDIM + 2];
                memcpy(ts, shape, sizeof ts);
                int32_t tn = ndim;
                if (kind == 1) tn = fz_shape(&p, ts, 3, 5);
                ft *te = &ti->teacher[l];
                ft_make(te, &p, fdp_one_in(&p, 3) ? fz_dtype(&p) : SC_DTYPE_FLOAT32, tn, ts);
                ft_fill(te, &p);
                ft_snapshot(te);
                st = CHECK_STATUS(s, sc_session_bind_teacher(s, mname[i], tname[i], l, &te->t));
                FZ_ASSERT(ft_unchanged(te), "sc_session_bind_teacher wrote the teacher");
                if (st == SC_OK) FZ_ASSERT(!te->bad_view, "sc_session_bind_teacher accepted a view the header rejects");
            }
        }
        double total = -777.0, losses[MAX_TARGETS + 1];
        for (size_t i = 0; i <= MAX_TARGETS; i++) losses[i] = -555.0;
        int with_losses = fdp_bool(&p);
        size_t nloss = sc_session_target_count(s);
        if (fdp_one_in(&p, 8)) nloss = nloss + 1;
        if (nloss > MAX_TARGETS + 1) with_losses = 0;
        for (size_t i = 0; i < n; i++) {
            ft_snapshot(&t[i].student);
            ft_snapshot(&t[i].grad);
            for (size_t l = 0; l < MAX_LINKS; l++) ft_snapshot(&t[i].teacher[l]);
        }
        st = CHECK_STATUS(s, sc_session_distill(s, fdp_one_in(&p, 64) ? NULL : &total, with_losses ? losses : NULL,
                                                with_losses ? nloss : 0));
        for (size_t i = 0; i < n; i++) {
            for (size_t l = 0; l < MAX_LINKS; l++) FZ_ASSERT(ft_unchanged(&t[i].teacher[l]), "sc_session_distill wrote a teacher");
            if (!t[i].grad_is_student) FZ_ASSERT(ft_unchanged(&t[i].student), "sc_session_distill wrote a student");
            if (st != SC_OK) {
                FZ_ASSERT(ft_unchanged(&t[i].grad) && ft_unchanged(&t[i].student),
                          "a failed sc_session_distill (%s: %s) wrote a gradient", sc_status_name(st), sc_session_last_error(s));
            }
        }
        if (st != SC_OK) {
            FZ_ASSERT(total == -777.0, "a failed sc_session_distill wrote *total_loss");
            for (size_t i = 0; i <= MAX_TARGETS; i++) FZ_ASSERT(losses[i] == -555.0, "a failed sc_session_distill wrote target_losses");
        } else {
            if (with_losses) {
                FZ_ASSERT(nloss == sc_session_target_count(s), "sc_session_distill accepted %zu losses for %zu targets", nloss,
                          sc_session_target_count(s));
                double sum = 0;
                for (size_t i = 0; i < nloss; i++) sum += losses[i];
                if (isfinite(sum) && isfinite(total))
                    FZ_ASSERT(fabs(sum - total) <= 1e-9 * (1 + fabs(sum)), "total loss %.17g, the target losses sum to %.17g", total, sum);
            }
            for (size_t i = 0; i < n; i++) FZ_ASSERT(t[i].bound, "sc_session_distill succeeded with target %zu unbound", i);
        }
    }
    sc_session_free(s);
    for (size_t i = 0; i < n; i++) {
        ft_free(&t[i].student);
        ft_free(&t[i].grad);
        for (size_t l = 0; l < MAX_LINKS; l++) ft_free(&t[i].teacher[l]);
    }
    for (int i = 0; i < nretired; i++) ft_free(&retired[i]);
    return 0;
}
