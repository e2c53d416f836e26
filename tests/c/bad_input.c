/*
 * bad_input.c — every entry point of include/swiftcompress.h with bad arguments, and with good ones.
 *
 * Each check calls one function and expects a status; for an error it also expects a non-empty
 * message (sc_session_last_error for calls on a live session, sc_last_error otherwise) that
 * contains a given fragment (the argument, key or target the problem is about), so that a stale
 * message of an earlier call cannot pass. Outputs must be left alone on error. Successes must return
 * SC_OK and their results are compared with hand-computed values.
 * Prints one line per failed check and a summary; exit status 0 when every check passed.
 * Built and run by tests/c/run.sh.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swiftcompress.h"

static int checks = 0, failures = 0;

static void fail(int line, const char *what, const char *detail) {
    failures++;
    printf("FAIL bad_input.c:%d: %s: %s\n", line, what, detail);
}

/* The message a failed call left: the session's for a live session, the thread's otherwise. */
static const char *message_of(const sc_session *s) { return s ? sc_session_last_error(s) : sc_last_error(); }

/* Checks `status == want`; for want != SC_OK also that the message is non-empty and contains `part`. */
static void expect_status(int line, const char *what, int status, int want, const sc_session *s, const char *part) {
    char detail[2048];
    checks++;
    if (status != want) {
        snprintf(detail, sizeof detail, "returned %s (%d), expected %s; message: %s", sc_status_name(status), status,
                 sc_status_name(want), message_of(s));
        fail(line, what, detail);
        return;
    }
    if (want != SC_OK) {
        const char *m = message_of(s);
        if (m == NULL || m[0] == '\0') {
            fail(line, what, "empty error message");
        } else if (part != NULL && strstr(m, part) == NULL) {
            snprintf(detail, sizeof detail, "message does not mention '%s': %s", part, m);
            fail(line, what, detail);
        }
    }
}

/* ERR(session, call, status, fragment): the call fails with `status`; the message mentions `fragment`. */
#define ERR(s, call, want, part) expect_status(__LINE__, #call, (call), (want), (s), (part))
/* OK(session, call): the call succeeds. */
#define OK(s, call) expect_status(__LINE__, #call, (call), SC_OK, (s), NULL)
/* TRUE(condition): a plain check. */
#define TRUE(cond)                                                                                \
    do {                                                                                          \
        checks++;                                                                                 \
        if (!(cond)) fail(__LINE__, #cond, "is false");                                           \
    } while (0)

static sc_tensor tensor(void *data, int32_t dtype, int32_t ndim, const int64_t *shape, const int64_t *strides) {
    sc_tensor t;
    t.data = data;
    t.dtype = dtype;
    t.ndim = ndim;
    t.shape = shape;
    t.strides = strides;
    return t;
}

static int all_equal(const float *v, size_t n, float x) {
    size_t i;
    for (i = 0; i < n; i++)
        if (v[i] != x) return 0;
    return 1;
}

static int equal_floats(const float *a, const float *b, size_t n) {
    size_t i;
    for (i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

static const char *kModules =
    "[{\"name\": \"\", \"type\": \"Net\"}, {\"name\": \"fc\", \"type\": \"Linear\"},"
    " {\"name\": \"fc2\", \"type\": \"Linear\"}]";
static const char *kLevelHalf = "[{\"op_names\": [\"fc\"], \"sparse_ratio\": 0.5}]";

/* A pruning session with kModules and `config` (NULL: none). */
static sc_session *pruning_session(const char *config) {
    sc_session *s = NULL;
    OK(NULL, sc_session_create(SC_MODE_PRUNING, &s));
    OK(s, sc_session_add_modules_json(s, kModules, (size_t)-1));
    if (config) OK(s, sc_session_set_config(s, config, (size_t)-1));
    return s;
}

static void versions_and_names(void) {
    TRUE(sc_version_number() == SC_VERSION_NUMBER);
    TRUE(strcmp(sc_version_string(), SC_VERSION_STRING) == 0);
    TRUE(strcmp(sc_status_name(SC_OK), "SC_OK") == 0);
    TRUE(strcmp(sc_status_name(SC_ERROR_NULL_POINTER), "SC_ERROR_NULL_POINTER") == 0);
    TRUE(strcmp(sc_status_name(SC_ERROR_INVALID_ARGUMENT), "SC_ERROR_INVALID_ARGUMENT") == 0);
    TRUE(strcmp(sc_status_name(SC_ERROR_INVALID_JSON), "SC_ERROR_INVALID_JSON") == 0);
    TRUE(strcmp(sc_status_name(SC_ERROR_CONFIG), "SC_ERROR_CONFIG") == 0);
    TRUE(strcmp(sc_status_name(SC_ERROR_UNKNOWN_NAME), "SC_ERROR_UNKNOWN_NAME") == 0);
    TRUE(strcmp(sc_status_name(SC_ERROR_SHAPE), "SC_ERROR_SHAPE") == 0);
    TRUE(strcmp(sc_status_name(SC_ERROR_DTYPE), "SC_ERROR_DTYPE") == 0);
    TRUE(strcmp(sc_status_name(SC_ERROR_STATE), "SC_ERROR_STATE") == 0);
    TRUE(strcmp(sc_status_name(SC_ERROR_PRUNING), "SC_ERROR_PRUNING") == 0);
    TRUE(strcmp(sc_status_name(SC_ERROR_DISTILLATION), "SC_ERROR_DISTILLATION") == 0);
    TRUE(strcmp(sc_status_name(SC_ERROR_QUANTIZATION), "SC_ERROR_QUANTIZATION") == 0);
    TRUE(strcmp(sc_status_name(SC_ERROR_INTERNAL), "SC_ERROR_INTERNAL") == 0);
    TRUE(strcmp(sc_status_name(42), "SC_ERROR_UNKNOWN") == 0);
    TRUE(strcmp(sc_status_name(-1), "SC_ERROR_UNKNOWN") == 0);
    /* Nothing has failed on this thread yet. */
    TRUE(strcmp(sc_last_error(), "") == 0);
    TRUE(sc_session_last_error(NULL) == sc_last_error() || strcmp(sc_session_last_error(NULL), sc_last_error()) == 0);
}

static void create_and_free(void) {
    sc_session *s = (sc_session *)&checks; /* a non-NULL sentinel that must be overwritten */
    ERR(NULL, sc_session_create(SC_MODE_PRUNING, NULL), SC_ERROR_NULL_POINTER, "out");
    ERR(NULL, sc_session_create(3, &s), SC_ERROR_INVALID_ARGUMENT, "mode");
    TRUE(s == NULL);
    s = (sc_session *)&checks;
    ERR(NULL, sc_session_create(-1, &s), SC_ERROR_INVALID_ARGUMENT, "-1");
    TRUE(s == NULL);
    /* A session call with a NULL session puts its message in the thread. */
    ERR(NULL, sc_session_add_module(NULL, "fc", "Linear", NULL, 0), SC_ERROR_NULL_POINTER, "session");
    TRUE(strcmp(sc_session_last_error(NULL), sc_last_error()) == 0);
    sc_session_free(NULL);

    OK(NULL, sc_session_create(SC_MODE_PRUNING, &s));
    TRUE(s != NULL);
    TRUE(strcmp(sc_session_last_error(s), "") == 0);
    TRUE(sc_session_target_count(s) == 0);
    sc_session_free(s);
    OK(NULL, sc_session_create(SC_MODE_QUANTIZATION, &s));
    sc_session_free(s);
    OK(NULL, sc_session_create(SC_MODE_DISTILLATION, &s));
    sc_session_free(s);
}

static void modules(void) {
    sc_session *s = NULL;
    const char *args[2] = {"x", NULL};
    const char *two[2] = {"x", "y"};
    OK(NULL, sc_session_create(SC_MODE_PRUNING, &s));
    ERR(s, sc_session_add_module(s, NULL, "Linear", NULL, 0), SC_ERROR_NULL_POINTER, "name");
    ERR(s, sc_session_add_module(s, "fc", NULL, NULL, 0), SC_ERROR_NULL_POINTER, "type");
    ERR(s, sc_session_add_module(s, "fc", "", NULL, 0), SC_ERROR_INVALID_ARGUMENT, "type");
    ERR(s, sc_session_add_module(s, "fc", "Linear", NULL, 2), SC_ERROR_NULL_POINTER, "forward_args");
    ERR(s, sc_session_add_module(s, "fc", "Linear", args, 2), SC_ERROR_NULL_POINTER, "forward_args[1]");
    ERR(s, sc_session_add_module(s, "fc", "Linear", two, (size_t)-1), SC_ERROR_INVALID_ARGUMENT, "forward_arg_count");
    ERR(s, sc_session_add_module(s, "f\xff", "Linear", NULL, 0), SC_ERROR_INVALID_ARGUMENT, "UTF-8");
    ERR(s, sc_session_add_module(s, "fc", "Line\xc3", NULL, 0), SC_ERROR_INVALID_ARGUMENT, "UTF-8");
    OK(s, sc_session_add_module(s, "", "Net", NULL, 0));
    OK(s, sc_session_add_module(s, "fc", "Linear", two, 2));
    OK(s, sc_session_add_module(s, "act", "ReLU", args, 0)); /* count 0: the pointer is not read */
    ERR(s, sc_session_add_module(s, "fc", "Linear", NULL, 0), SC_ERROR_INVALID_ARGUMENT, "fc");

    ERR(s, sc_session_add_modules_json(s, NULL, (size_t)-1), SC_ERROR_NULL_POINTER, "json");
    ERR(NULL, sc_session_add_modules_json(NULL, "[]", (size_t)-1), SC_ERROR_NULL_POINTER, "session");
    ERR(s, sc_session_add_modules_json(s, "[{\"name\": \"a\", \"type\": ", (size_t)-1), SC_ERROR_INVALID_JSON, "line");
    ERR(s, sc_session_add_modules_json(s, "", (size_t)-1), SC_ERROR_INVALID_JSON, "line");
    ERR(s, sc_session_add_modules_json(s, "[]", 0), SC_ERROR_INVALID_JSON, "line");
    ERR(s, sc_session_add_modules_json(s, "[\"\xff\"]", (size_t)-1), SC_ERROR_INVALID_ARGUMENT, "UTF-8");
    /* Parses, but is not a module list: a bad argument, as for sc_session_add_module. */
    ERR(s, sc_session_add_modules_json(s, "{\"modules\": 3}", (size_t)-1), SC_ERROR_INVALID_ARGUMENT, "modules");
    ERR(s, sc_session_add_modules_json(s, "[{\"name\": \"a\"}]", (size_t)-1), SC_ERROR_INVALID_ARGUMENT, "type");
    /* A duplicate inside one list (and with an earlier module) adds nothing. */
    ERR(s, sc_session_add_modules_json(s, "[{\"name\": \"a\", \"type\": \"Linear\"}, {\"name\": \"a\", \"type\": \"Linear\"}]",
                                       (size_t)-1), SC_ERROR_INVALID_ARGUMENT, "'a'");
    ERR(s, sc_session_add_modules_json(s, "[{\"name\": \"b\", \"type\": \"Linear\"}, {\"name\": \"fc\", \"type\": \"Linear\"}]",
                                       (size_t)-1), SC_ERROR_INVALID_ARGUMENT, "'fc'");
    OK(s, sc_session_add_module(s, "a", "Linear", NULL, 0));
    OK(s, sc_session_add_module(s, "b", "Linear", NULL, 0));
    /* `length` is honoured: what follows the first 33 bytes is not read. */
    OK(s, sc_session_add_modules_json(s, "[{\"name\": \"c\", \"type\": \"Conv2d\"}]  garbage", 33));
    OK(s, sc_session_add_modules_json(s, "{\"modules\": [{\"name\": \"d\", \"type\": \"Linear\", \"forward_args\": [\"input\"]}], \"model\": \"x\"}",
                                      (size_t)-1));
    OK(s, sc_session_set_config(s, "[{\"op_types\": [\"Linear\", \"Conv2d\"], \"sparse_ratio\": 0.5}]", (size_t)-1));
    TRUE(sc_session_target_count(s) == 10); /* fc, a, b, c, d: weight + bias each */
    sc_session_free(s);
}

static void configs(void) {
    sc_session *s = pruning_session(NULL);
    const char *module = "unchanged", *target = "unchanged", *json = "unchanged";
    size_t length = 12345;

    TRUE(sc_session_target_count(NULL) == 0);
    TRUE(sc_session_target_count(s) == 0);
    ERR(s, sc_session_target(s, 0, &module, &target), SC_ERROR_STATE, "config");
    ERR(s, sc_session_target_settings(s, 0, &json, &length), SC_ERROR_STATE, "config");
    ERR(s, sc_session_report(s, 0, &json, &length), SC_ERROR_STATE, "config");
    ERR(NULL, sc_session_target(NULL, 0, &module, &target), SC_ERROR_NULL_POINTER, "session");
    ERR(NULL, sc_session_report(NULL, 0, &json, &length), SC_ERROR_NULL_POINTER, "session");
    ERR(NULL, sc_session_set_config(NULL, kLevelHalf, (size_t)-1), SC_ERROR_NULL_POINTER, "session");
    TRUE(strcmp(module, "unchanged") == 0 && strcmp(json, "unchanged") == 0 && length == 12345);

    ERR(s, sc_session_set_config(s, NULL, (size_t)-1), SC_ERROR_NULL_POINTER, "json");
    ERR(s, sc_session_set_config(s, "[{\"op_names\": [\"fc\"],, }]", (size_t)-1), SC_ERROR_INVALID_JSON, "column");
    ERR(s, sc_session_set_config(s, "[{\"op_names\": [\"fc\"]}] x", (size_t)-1), SC_ERROR_INVALID_JSON, "line");
    ERR(s, sc_session_set_config(s, "", 0), SC_ERROR_INVALID_JSON, "line");
    ERR(s, sc_session_set_config(s, "[{\"op_names\": [\"\xff\"]}]", (size_t)-1), SC_ERROR_INVALID_ARGUMENT, "UTF-8");
    ERR(s, sc_session_set_config(s, "{\"op_names\": [\"fc\"]}", (size_t)-1), SC_ERROR_CONFIG, "config_list");
    ERR(s, sc_session_set_config(s, "[3]", (size_t)-1), SC_ERROR_CONFIG, "config_list[0]");
    ERR(s, sc_session_set_config(s, "[{\"op_names\": [\"fc\"], \"sparse_ratio\": 1.5}]", (size_t)-1), SC_ERROR_CONFIG,
        "sparse_ratio");
    ERR(s, sc_session_set_config(s, "[{\"sparse_ratio\": 0.5}]", (size_t)-1), SC_ERROR_CONFIG, "config_list[0]");
    ERR(s, sc_session_set_config(s, "[{\"op_names\": [\"fc\"], \"sparse_ratio\": 0.5}, {\"op_types\": [\"Linear\"], \"sparsty\": 0.5}]",
                                 (size_t)-1), SC_ERROR_CONFIG, "config_list[1]");
    ERR(s, sc_session_set_config(s, "[{\"op_names_re\": [\"fc(\"], \"sparse_ratio\": 0.5}]", (size_t)-1), SC_ERROR_CONFIG,
        "fc(");
    ERR(s, sc_session_set_config(s, "[{\"op_names\": [\"fc\"], \"quant_dtype\": \"int8\"}]", (size_t)-1), SC_ERROR_CONFIG,
        "quant_dtype");
    TRUE(sc_session_target_count(s) == 0);

    /* Names that match nothing are warnings, not errors. */
    OK(s, sc_session_set_config(s, "[{\"op_names\": [\"fc9\"], \"sparse_ratio\": 0.5}]", (size_t)-1));
    TRUE(sc_session_target_count(s) == 0);
    OK(s, sc_session_report(s, 0, &json, &length));
    TRUE(strstr(json, "fc9") != NULL && length == strlen(json));

    OK(s, sc_session_set_config(s, kLevelHalf, (size_t)-1));
    TRUE(sc_session_target_count(s) == 2);
    /* A failing config keeps the previous one. */
    ERR(s, sc_session_set_config(s, "[{\"op_names\": [\"fc\"], \"sparse_ratio\": -1}]", (size_t)-1), SC_ERROR_CONFIG,
        "sparse_ratio");
    TRUE(sc_session_target_count(s) == 2);

    module = target = "unchanged";
    ERR(s, sc_session_target(s, 2, &module, &target), SC_ERROR_INVALID_ARGUMENT, "2");
    ERR(s, sc_session_target(s, (size_t)-1, &module, &target), SC_ERROR_INVALID_ARGUMENT, "index");
    TRUE(strcmp(module, "unchanged") == 0 && strcmp(target, "unchanged") == 0);
    OK(s, sc_session_target(s, 0, &module, &target));
    TRUE(strcmp(module, "fc") == 0 && strcmp(target, "weight") == 0);
    OK(s, sc_session_target(s, 1, NULL, &target));
    TRUE(strcmp(target, "bias") == 0);
    OK(s, sc_session_target(s, 1, NULL, NULL));

    json = "unchanged";
    ERR(s, sc_session_target_settings(s, 0, NULL, &length), SC_ERROR_NULL_POINTER, "json");
    ERR(s, sc_session_target_settings(s, 5, &json, &length), SC_ERROR_INVALID_ARGUMENT, "5");
    TRUE(strcmp(json, "unchanged") == 0);
    OK(s, sc_session_target_settings(s, 0, &json, &length));
    TRUE(strstr(json, "\"sparse_ratio\": 0.5") != NULL || strstr(json, "\"sparse_ratio\":0.5") != NULL);
    TRUE(length == strlen(json));
    OK(s, sc_session_target_settings(s, 1, &json, NULL));
    TRUE(strstr(json, "align") != NULL);

    ERR(s, sc_session_report(s, 0, NULL, &length), SC_ERROR_NULL_POINTER, "text");
    OK(s, sc_session_report(s, 0, &json, &length));
    TRUE(json[0] == '{' && length == strlen(json) && strstr(json, "\"fc\"") != NULL);
    OK(s, sc_session_report(s, 1, &json, NULL));
    TRUE(strstr(json, "fc") != NULL && strstr(json, "weight") != NULL);

    /* Adding a module discards the resolved targets. */
    OK(s, sc_session_add_module(s, "fc3", "Linear", NULL, 0));
    TRUE(sc_session_target_count(s) == 0);
    ERR(s, sc_session_target(s, 0, &module, &target), SC_ERROR_STATE, "config");
    sc_session_free(s);
}

static void binding(void) {
    static const int64_t w_shape[2] = {2, 4}, b_shape[1] = {2}, other_shape[2] = {4, 2};
    static const int64_t neg_shape[2] = {2, -4}, neg_strides[2] = {4, -1}, zero_strides[2] = {0, 1};
    static const int64_t t_strides[2] = {1, 2}; /* a transposed [4, 2] buffer */
    static const int64_t huge_shape[2] = {INT64_MAX / 2, 4}, huge_strides[2] = {INT64_MAX / 2, 1};
    float w[8] = {0.5f, -0.1f, 0.3f, -0.7f, 0.2f, 0.05f, -0.4f, 0.9f}, wm[8], b[2] = {1, 2}, bm[2];
    double wm64[8];
    float w2[8] = {4, 3, 2, 1, 1, 2, 3, 4};
    sc_tensor wt = tensor(w, SC_DTYPE_FLOAT32, 2, w_shape, NULL), wmt = tensor(wm, SC_DTYPE_FLOAT32, 2, w_shape, NULL);
    sc_tensor bt = tensor(b, SC_DTYPE_FLOAT32, 1, b_shape, NULL), bmt = tensor(bm, SC_DTYPE_FLOAT32, 1, b_shape, NULL);
    sc_tensor bad;
    sc_session *s = pruning_session(NULL), *q = NULL;

    ERR(s, sc_session_bind(s, "fc", "weight", &wt, &wmt), SC_ERROR_STATE, "config");
    OK(s, sc_session_set_config(s, kLevelHalf, (size_t)-1));
    ERR(NULL, sc_session_bind(NULL, "fc", "weight", &wt, &wmt), SC_ERROR_NULL_POINTER, "session");
    ERR(s, sc_session_bind(s, NULL, "weight", &wt, &wmt), SC_ERROR_NULL_POINTER, "module_name");
    ERR(s, sc_session_bind(s, "fc", NULL, &wt, &wmt), SC_ERROR_NULL_POINTER, "target_name");
    ERR(s, sc_session_bind(s, "fc", "weight", NULL, &wmt), SC_ERROR_NULL_POINTER, "tensor");
    ERR(s, sc_session_bind(s, "fc", "weight", &wt, NULL), SC_ERROR_NULL_POINTER, "mask");
    ERR(s, sc_session_bind(s, "fc", "wieght", &wt, &wmt), SC_ERROR_UNKNOWN_NAME, "weight");
    ERR(s, sc_session_bind(s, "fc2", "weight", &wt, &wmt), SC_ERROR_UNKNOWN_NAME, "fc2");
    ERR(s, sc_session_bind(s, "nope", "weight", &wt, &wmt), SC_ERROR_UNKNOWN_NAME, "nope");

    bad = wt, bad.dtype = 4;
    ERR(s, sc_session_bind(s, "fc", "weight", &bad, &wmt), SC_ERROR_DTYPE, "dtype");
    bad = wmt, bad.dtype = -1;
    ERR(s, sc_session_bind(s, "fc", "weight", &wt, &bad), SC_ERROR_DTYPE, "dtype");
    bad = wt, bad.ndim = SC_MAX_NDIM + 1;
    ERR(s, sc_session_bind(s, "fc", "weight", &bad, &wmt), SC_ERROR_SHAPE, "ndim");
    bad = wt, bad.ndim = -1;
    ERR(s, sc_session_bind(s, "fc", "weight", &bad, &wmt), SC_ERROR_SHAPE, "ndim");
    bad = wt, bad.shape = NULL;
    ERR(s, sc_session_bind(s, "fc", "weight", &bad, &wmt), SC_ERROR_NULL_POINTER, "shape");
    bad = wt, bad.shape = neg_shape;
    ERR(s, sc_session_bind(s, "fc", "weight", &bad, &wmt), SC_ERROR_SHAPE, "-4");
    bad = wt, bad.strides = neg_strides;
    ERR(s, sc_session_bind(s, "fc", "weight", &bad, &wmt), SC_ERROR_SHAPE, "strides");
    bad = wt, bad.data = NULL;
    ERR(s, sc_session_bind(s, "fc", "weight", &bad, &wmt), SC_ERROR_NULL_POINTER, "data");
    bad = wmt, bad.data = NULL;
    ERR(s, sc_session_bind(s, "fc", "weight", &wt, &bad), SC_ERROR_NULL_POINTER, "data");
    bad = wmt, bad.shape = other_shape;
    ERR(s, sc_session_bind(s, "fc", "weight", &wt, &bad), SC_ERROR_SHAPE, "shape");
    bad = wmt, bad.ndim = 1;
    ERR(s, sc_session_bind(s, "fc", "weight", &wt, &bad), SC_ERROR_SHAPE, "shape");
    bad = wmt, bad.strides = zero_strides; /* every row of the mask on the same memory */
    ERR(s, sc_session_bind(s, "fc", "weight", &wt, &bad), SC_ERROR_SHAPE, "overlap");
    bad = wt, bad.shape = huge_shape; /* the element count overflows int64 */
    ERR(s, sc_session_bind(s, "fc", "weight", &bad, &wmt), SC_ERROR_SHAPE, "shape");
    bad = wt, bad.strides = huge_strides; /* offsets overflow int64 */
    ERR(s, sc_session_bind(s, "fc", "weight", &bad, &wmt), SC_ERROR_SHAPE, "strides");
    bad = wt, bad.data = (char *)w + 1; /* not aligned to 4 bytes (the header is silent; see tests/c/README.md) */
    ERR(s, sc_session_bind(s, "fc", "weight", &bad, &wmt), SC_ERROR_SHAPE, "align");

    /* Mask buffers untouched until generate; generate before every target is bound is a state error. */
    memset(wm, 0, sizeof wm);
    bm[0] = bm[1] = 7.0f;
    OK(s, sc_session_bind(s, "fc", "weight", &wt, &wmt));
    ERR(s, sc_session_generate_masks(s, SC_METRIC_LEVEL), SC_ERROR_STATE, "fc.bias");
    ERR(s, sc_session_apply_masks(s), SC_ERROR_STATE, "fc.bias");
    TRUE(all_equal(wm, 8, 0.0f));
    OK(s, sc_session_bind(s, "fc", "bias", &bt, &bmt));
    ERR(s, sc_session_generate_masks(s, SC_METRIC_WANDA), SC_ERROR_PRUNING, "no metric tensor");
    ERR(s, sc_session_generate_masks(s, 6), SC_ERROR_INVALID_ARGUMENT, "metric");
    ERR(s, sc_session_generate_masks(s, -1), SC_ERROR_INVALID_ARGUMENT, "metric");
    ERR(NULL, sc_session_generate_masks(NULL, SC_METRIC_LEVEL), SC_ERROR_NULL_POINTER, "session");
    ERR(NULL, sc_session_apply_masks(NULL), SC_ERROR_NULL_POINTER, "session");
    TRUE(all_equal(wm, 8, 0.0f) && bm[0] == 7.0f);

    /* Level 0.5 on |w| = .5 .1 .3 .7 .2 .05 .4 .9: the four smallest go; both rows keep a weight. */
    OK(s, sc_session_generate_masks(s, SC_METRIC_LEVEL));
    {
        static const float want[8] = {1, 0, 0, 1, 0, 0, 1, 1};
        static const float applied[8] = {0.5f, 0, 0, -0.7f, 0, 0, -0.4f, 0.9f};
        TRUE(equal_floats(wm, want, 8));
        TRUE(bm[0] == 1.0f && bm[1] == 1.0f);
        OK(s, sc_session_apply_masks(s));
        TRUE(equal_floats(w, applied, 8));
        TRUE(b[0] == 1.0f && b[1] == 2.0f);
    }

    /* Rebinding replaces: the weight mask as a float64 buffer of the transposed layout. */
    {
        sc_tensor m64 = tensor(wm64, SC_DTYPE_FLOAT64, 2, w_shape, t_strides);
        sc_tensor w2t = tensor(w2, SC_DTYPE_FLOAT32, 2, w_shape, NULL);
        OK(s, sc_session_bind(s, "fc", "weight", &w2t, &m64));
        OK(s, sc_session_generate_masks(s, SC_METRIC_LEVEL));
        /* |w2| row-major 4 3 2 1 / 1 2 3 4: the 1s and 2s go: [1,1,0,0 / 0,0,1,1], stored transposed. */
        TRUE(wm64[0] == 1 && wm64[1] == 0 && wm64[2] == 1 && wm64[3] == 0 && wm64[4] == 0 && wm64[5] == 1 && wm64[6] == 0 &&
             wm64[7] == 1);
    }

    /* A scalar where a vector belongs: generate reports the shape (bias aligned to a [2, 4] weight). */
    {
        float scalar = 1, scalar_mask = 9;
        sc_tensor st = tensor(&scalar, SC_DTYPE_FLOAT32, 0, NULL, NULL), smt = tensor(&scalar_mask, SC_DTYPE_FLOAT32, 0, NULL, NULL);
        OK(s, sc_session_bind(s, "fc", "bias", &st, &smt));
        wm64[0] = 5;
        ERR(s, sc_session_generate_masks(s, SC_METRIC_LEVEL), SC_ERROR_SHAPE, "fc.bias");
        TRUE(scalar_mask == 9 && wm64[0] == 5);
    }

    /* Not a pruning session. */
    OK(NULL, sc_session_create(SC_MODE_QUANTIZATION, &q));
    OK(q, sc_session_add_modules_json(q, kModules, (size_t)-1));
    OK(q, sc_session_set_config(q, "[{\"op_names\": [\"fc\"], \"target_names\": [\"weight\"], \"quant_dtype\": \"int8\"}]",
                                (size_t)-1));
    TRUE(sc_session_target_count(q) == 1);
    ERR(q, sc_session_bind(q, "fc", "weight", &wt, &wmt), SC_ERROR_STATE, "pruning");
    ERR(q, sc_session_generate_masks(q, SC_METRIC_LEVEL), SC_ERROR_STATE, "pruning");
    ERR(q, sc_session_apply_masks(q), SC_ERROR_STATE, "pruning");
    ERR(q, sc_session_bind_metric(q, "fc", "weight", &wt), SC_ERROR_STATE, "pruning");
    sc_session_free(q);
    sc_session_free(s);
}

static void overlapping_tensor(void) {
    /* A broadcast tensor (stride 0) is rejected at bind: apply_masks writes bound tensors
     * (docs/c-abi.md: pass a materialised copy). */
    static const int64_t shape[2] = {2, 4}, broadcast[2] = {0, 1}, b_shape[1] = {2};
    float row[4] = {1, -2, 3, -4}, copy[8] = {1, -2, 3, -4, 1, -2, 3, -4}, wm[8], b[2] = {0, 0}, bm[2];
    sc_tensor wt = tensor(row, SC_DTYPE_FLOAT32, 2, shape, broadcast), wmt = tensor(wm, SC_DTYPE_FLOAT32, 2, shape, NULL);
    sc_tensor bt = tensor(b, SC_DTYPE_FLOAT32, 1, b_shape, NULL), bmt = tensor(bm, SC_DTYPE_FLOAT32, 1, b_shape, NULL);
    sc_session *s = pruning_session(kLevelHalf);
    ERR(s, sc_session_bind(s, "fc", "weight", &wt, &wmt), SC_ERROR_SHAPE, "overlap");
    wt.data = copy;
    wt.strides = NULL;
    OK(s, sc_session_bind(s, "fc", "weight", &wt, &wmt));
    OK(s, sc_session_bind(s, "fc", "bias", &bt, &bmt));
    OK(s, sc_session_generate_masks(s, SC_METRIC_LEVEL));
    {
        static const float want[8] = {0, 0, 1, 1, 0, 0, 1, 1}; /* |w| 1 2 3 4 1 2 3 4: the 1s and 2s go */
        TRUE(equal_floats(wm, want, 8));
    }
    /* The tensor alone overlapping is enough for sc_apply_mask too. */
    wt.data = row;
    wt.strides = broadcast;
    ERR(NULL, sc_apply_mask(&wmt, &wt, 0), SC_ERROR_SHAPE, "overlap");
    TRUE(row[0] == 1 && row[1] == -2);
    sc_session_free(s);
}

/* Targets the model lacks are bound with NULL tensor and mask. */
static void absent_targets(void) {
    static const int64_t w_shape[2] = {2, 4}, b_shape[1] = {2};
    float w[8] = {0.5f, -0.1f, 0.3f, -0.7f, 0.2f, 0.05f, -0.4f, 0.9f}, wm[8], b[2] = {1, 2}, bm[2] = {7, 7};
    sc_tensor wt = tensor(w, SC_DTYPE_FLOAT32, 2, w_shape, NULL), wmt = tensor(wm, SC_DTYPE_FLOAT32, 2, w_shape, NULL);
    sc_tensor bt = tensor(b, SC_DTYPE_FLOAT32, 1, b_shape, NULL), bmt = tensor(bm, SC_DTYPE_FLOAT32, 1, b_shape, NULL);
    sc_session *s = pruning_session(kLevelHalf);
    /* Only one of the two NULL is an error. */
    ERR(s, sc_session_bind(s, "fc", "bias", NULL, &bmt), SC_ERROR_NULL_POINTER, "tensor");
    ERR(s, sc_session_bind(s, "fc", "bias", &bt, NULL), SC_ERROR_NULL_POINTER, "mask");
    /* A Linear(bias=False): the bias is absent, the weight is pruned as usual. */
    OK(s, sc_session_bind(s, "fc", "weight", &wt, &wmt));
    OK(s, sc_session_bind(s, "fc", "bias", NULL, NULL));
    ERR(s, sc_session_bind_metric(s, "fc", "bias", &bt), SC_ERROR_STATE, "fc.bias");
    OK(s, sc_session_generate_masks(s, SC_METRIC_LEVEL));
    OK(s, sc_session_apply_masks(s));
    {
        static const float want[8] = {1, 0, 0, 1, 0, 0, 1, 1};
        TRUE(equal_floats(wm, want, 8));
        TRUE(w[1] == 0 && w[0] == 0.5f);
        TRUE(bm[0] == 7 && b[0] == 1);
    }
    /* An absent target with a sparse_ratio of its own cannot be pruned. */
    OK(s, sc_session_bind(s, "fc", "weight", NULL, NULL));
    OK(s, sc_session_bind(s, "fc", "bias", &bt, &bmt));
    ERR(s, sc_session_generate_masks(s, SC_METRIC_LEVEL), SC_ERROR_STATE, "fc.weight");
    ERR(s, sc_session_apply_masks(s), SC_ERROR_STATE, "fc.weight");
    TRUE(bm[0] == 7);
    sc_session_free(s);
    /* A bias aligned to an absent weight (the weight has no ratio: only the bias needs it). */
    s = pruning_session("[{\"op_names\": [\"fc\"]}]");
    TRUE(sc_session_target_count(s) == 2);
    OK(s, sc_session_bind(s, "fc", "weight", NULL, NULL));
    OK(s, sc_session_bind(s, "fc", "bias", &bt, &bmt));
    ERR(s, sc_session_generate_masks(s, SC_METRIC_LEVEL), SC_ERROR_PRUNING, "fc.weight");
    TRUE(bm[0] == 7);
    sc_session_free(s);
}

static void metrics_and_rules(void) {
    static const int64_t w_shape[2] = {4, 2}, b_shape[1] = {4}, m_shape[1] = {4}, m_bad[1] = {3}, m_keep[2] = {4, 1};
    float w[8] = {1, 1, 1, 1, 1, 1, 1, 1}, wm[8], b[4] = {1, 2, 3, 4}, bm[4], metric[4] = {3, 1, 4, 2};
    float w2[8] = {1, 2, 3, 4, 5, 6, 7, 8}, w2m[8], b2[4] = {0}, b2m[4];
    sc_tensor wt = tensor(w, SC_DTYPE_FLOAT32, 2, w_shape, NULL), wmt = tensor(wm, SC_DTYPE_FLOAT32, 2, w_shape, NULL);
    sc_tensor bt = tensor(b, SC_DTYPE_FLOAT32, 1, b_shape, NULL), bmt = tensor(bm, SC_DTYPE_FLOAT32, 1, b_shape, NULL);
    sc_tensor w2t = tensor(w2, SC_DTYPE_FLOAT32, 2, w_shape, NULL), w2mt = tensor(w2m, SC_DTYPE_FLOAT32, 2, w_shape, NULL);
    sc_tensor b2t = tensor(b2, SC_DTYPE_FLOAT32, 1, b_shape, NULL), b2mt = tensor(b2m, SC_DTYPE_FLOAT32, 1, b_shape, NULL);
    sc_tensor mt = tensor(metric, SC_DTYPE_FLOAT32, 1, m_shape, NULL);
    sc_session *s = pruning_session(kLevelHalf);

    ERR(s, sc_session_bind_metric(s, "fc", "weight", &mt), SC_ERROR_STATE, "bind");
    OK(s, sc_session_bind(s, "fc", "weight", &wt, &wmt));
    OK(s, sc_session_bind(s, "fc", "bias", &bt, &bmt));
    ERR(s, sc_session_bind_metric(s, "fc", "weight", NULL), SC_ERROR_NULL_POINTER, "metric");
    ERR(s, sc_session_bind_metric(s, NULL, "weight", &mt), SC_ERROR_NULL_POINTER, "module_name");
    ERR(s, sc_session_bind_metric(s, "fc", "weigh", &mt), SC_ERROR_UNKNOWN_NAME, "weight");
    ERR(NULL, sc_session_bind_metric(NULL, "fc", "weight", &mt), SC_ERROR_NULL_POINTER, "session");
    {
        sc_tensor bad = mt;
        bad.dtype = 17;
        ERR(s, sc_session_bind_metric(s, "fc", "weight", &bad), SC_ERROR_DTYPE, "dtype");
    }
    /* Supplied metric without one: the message names the target; no mask written. */
    memset(wm, 0, sizeof wm);
    ERR(s, sc_session_generate_masks(s, SC_METRIC_SUPPLIED), SC_ERROR_PRUNING, "fc.weight");
    TRUE(all_equal(wm, 8, 0.0f));
    /* A metric of the wrong shape is reported by generate. */
    {
        sc_tensor bad = mt;
        bad.shape = m_bad;
        OK(s, sc_session_bind_metric(s, "fc", "weight", &bad));
        ERR(s, sc_session_generate_masks(s, SC_METRIC_SUPPLIED), SC_ERROR_SHAPE, "fc.weight");
        TRUE(all_equal(wm, 8, 0.0f));
    }
    /* Supplied [3, 1, 4, 2] per output row (default granularity out_channel): rows 1 and 3 go. */
    OK(s, sc_session_bind_metric(s, "fc", "weight", &mt));
    OK(s, sc_session_generate_masks(s, SC_METRIC_SUPPLIED));
    {
        static const float want[8] = {1, 1, 0, 0, 1, 1, 0, 0};
        static const float want_b[4] = {1, 0, 1, 0};
        TRUE(equal_floats(wm, want, 8));
        TRUE(equal_floats(bm, want_b, 4));
    }
    /* The keepdim shape [4, 1] is accepted too. */
    {
        sc_tensor keep = mt;
        keep.ndim = 2;
        keep.shape = m_keep;
        OK(s, sc_session_bind_metric(s, "fc", "weight", &keep));
        memset(wm, 0, sizeof wm);
        OK(s, sc_session_generate_masks(s, SC_METRIC_SUPPLIED));
        TRUE(wm[0] == 1 && wm[2] == 0);
    }
    /* Rebinding the target drops its metric. */
    OK(s, sc_session_bind(s, "fc", "weight", &wt, &wmt));
    ERR(s, sc_session_generate_masks(s, SC_METRIC_SUPPLIED), SC_ERROR_PRUNING, "fc.weight");
    /* A block size that does not divide the weight's dim 0 (4). */
    OK(s, sc_session_set_config(s, "[{\"op_names\": [\"fc\"], \"sparse_ratio\": 0.5, \"granularity\": [3, 1]}]", (size_t)-1));
    OK(s, sc_session_bind(s, "fc", "weight", &wt, &wmt));
    OK(s, sc_session_bind(s, "fc", "bias", &bt, &bmt));
    ERR(s, sc_session_generate_masks(s, SC_METRIC_L1), SC_ERROR_PRUNING, "fc.weight");
    sc_session_free(s);

    /* A global group with two ratios; the message names the second member. No mask is written. */
    s = pruning_session("[{\"op_names\": [\"fc\"], \"sparse_ratio\": 0.5, \"global_group_id\": 1},"
                        " {\"op_names\": [\"fc2\"], \"sparse_ratio\": 0.25, \"global_group_id\": 1}]");
    memset(wm, 0, sizeof wm);
    memset(w2m, 0, sizeof w2m);
    OK(s, sc_session_bind(s, "fc", "weight", &wt, &wmt));
    OK(s, sc_session_bind(s, "fc", "bias", &bt, &bmt));
    OK(s, sc_session_bind(s, "fc2", "weight", &w2t, &w2mt));
    OK(s, sc_session_bind(s, "fc2", "bias", &b2t, &b2mt));
    ERR(s, sc_session_generate_masks(s, SC_METRIC_L1), SC_ERROR_PRUNING, "fc2.weight");
    TRUE(all_equal(wm, 8, 0.0f) && all_equal(w2m, 8, 0.0f));
    sc_session_free(s);

    /* Dependency members of different metric shapes. */
    {
        static const int64_t shape6[2] = {6, 2};
        float w6[12] = {0}, w6m[12], b6[6] = {0}, b6m[6];
        static const int64_t b6_shape[1] = {6};
        sc_tensor w6t = tensor(w6, SC_DTYPE_FLOAT32, 2, shape6, NULL), w6mt = tensor(w6m, SC_DTYPE_FLOAT32, 2, shape6, NULL);
        sc_tensor b6t = tensor(b6, SC_DTYPE_FLOAT32, 1, b6_shape, NULL), b6mt = tensor(b6m, SC_DTYPE_FLOAT32, 1, b6_shape, NULL);
        s = pruning_session("[{\"op_names\": [\"fc\", \"fc2\"], \"sparse_ratio\": 0.5, \"dependency_group_id\": 1}]");
        OK(s, sc_session_bind(s, "fc", "weight", &wt, &wmt));
        OK(s, sc_session_bind(s, "fc", "bias", &bt, &bmt));
        OK(s, sc_session_bind(s, "fc2", "weight", &w6t, &w6mt));
        OK(s, sc_session_bind(s, "fc2", "bias", &b6t, &b6mt));
        ERR(s, sc_session_generate_masks(s, SC_METRIC_L1), SC_ERROR_PRUNING, "fc2.weight");
        sc_session_free(s);
    }

    /* A bias aligned to a weight that is not a target. */
    s = pruning_session("[{\"op_names\": [\"fc\"], \"target_names\": [\"bias\"]}]");
    TRUE(sc_session_target_count(s) == 1);
    OK(s, sc_session_bind(s, "fc", "bias", &bt, &bmt));
    ERR(s, sc_session_generate_masks(s, SC_METRIC_L1), SC_ERROR_PRUNING, "fc.weight");
    sc_session_free(s);

    /* apply_method 'add': -1000 at pruned positions. L2 out_channel 0.5 on rows (1,2) (3,4) (5,6) (7,8). */
    s = pruning_session("[{\"op_names\": [\"fc2\"], \"sparse_ratio\": 0.5, \"apply_method\": \"add\"}]");
    OK(s, sc_session_bind(s, "fc2", "weight", &w2t, &w2mt));
    OK(s, sc_session_bind(s, "fc2", "bias", &b2t, &b2mt));
    OK(s, sc_session_generate_masks(s, SC_METRIC_L2));
    OK(s, sc_session_apply_masks(s));
    {
        static const float want_w[8] = {-999, -998, -997, -996, 5, 6, 7, 8};
        static const float want_b[4] = {-1000, -1000, 0, 0}; /* the shorthand reaches the bias too */
        static const float want_bm[4] = {0, 0, 1, 1};
        TRUE(equal_floats(w2, want_w, 8));
        TRUE(equal_floats(b2, want_b, 4));
        TRUE(equal_floats(b2m, want_bm, 4));
    }
    sc_session_free(s);

    /* Empty tensors: NULL data is allowed when there are no elements. */
    {
        static const int64_t empty[2] = {0, 4}, empty_b[1] = {0};
        sc_tensor et = tensor(NULL, SC_DTYPE_FLOAT32, 2, empty, NULL), ebt = tensor(NULL, SC_DTYPE_FLOAT32, 1, empty_b, NULL);
        s = pruning_session(kLevelHalf);
        OK(s, sc_session_bind(s, "fc", "weight", &et, &et));
        OK(s, sc_session_bind(s, "fc", "bias", &ebt, &ebt));
        OK(s, sc_session_generate_masks(s, SC_METRIC_LEVEL));
        OK(s, sc_session_apply_masks(s));
        sc_session_free(s);
    }
}

static void apply_mask(void) {
    static const int64_t shape[2] = {2, 3}, other[2] = {3, 2}, t_strides[2] = {1, 2}, neg[2] = {-3, 1};
    float target[6] = {1, 2, 3, 4, 5, 6};
    double mask[6] = {1, 0, 1, 0, 1, 0};
    uint16_t half_mask[6] = {0x3C00, 0x3C00, 0, 0, 0x3C00, 0x3C00}; /* float16 1 1 0 / 0 1 1 */
    sc_tensor mt = tensor(mask, SC_DTYPE_FLOAT64, 2, shape, NULL), tt = tensor(target, SC_DTYPE_FLOAT32, 2, shape, NULL);
    sc_tensor bad;
    ERR(NULL, sc_apply_mask(NULL, &tt, 0), SC_ERROR_NULL_POINTER, "mask");
    ERR(NULL, sc_apply_mask(&mt, NULL, 0), SC_ERROR_NULL_POINTER, "target");
    ERR(NULL, sc_apply_mask(&mt, &tt, 2), SC_ERROR_INVALID_ARGUMENT, "method");
    ERR(NULL, sc_apply_mask(&mt, &tt, -1), SC_ERROR_INVALID_ARGUMENT, "method");
    bad = mt, bad.dtype = 9;
    ERR(NULL, sc_apply_mask(&bad, &tt, 0), SC_ERROR_DTYPE, "dtype");
    bad = tt, bad.dtype = 5;
    ERR(NULL, sc_apply_mask(&mt, &bad, 0), SC_ERROR_DTYPE, "dtype");
    bad = mt, bad.shape = other;
    ERR(NULL, sc_apply_mask(&bad, &tt, 0), SC_ERROR_SHAPE, "shape");
    bad = tt, bad.strides = neg;
    ERR(NULL, sc_apply_mask(&mt, &bad, 0), SC_ERROR_SHAPE, "strides");
    bad = tt, bad.ndim = 40;
    ERR(NULL, sc_apply_mask(&mt, &bad, 0), SC_ERROR_SHAPE, "ndim");
    bad = tt, bad.data = NULL;
    ERR(NULL, sc_apply_mask(&mt, &bad, 0), SC_ERROR_NULL_POINTER, "data");
    TRUE(target[1] == 2.0f);

    OK(NULL, sc_apply_mask(&mt, &tt, 0));
    {
        static const float want[6] = {1, 0, 3, 0, 5, 0};
        TRUE(equal_floats(target, want, 6));
    }
    /* 'add' with a float16 mask over the target read as a transposed [2, 3] view of the buffer. */
    {
        float t2[6] = {1, 2, 3, 4, 5, 6};                       /* logical [[1, 3, 5], [2, 4, 6]] */
        sc_tensor hm = tensor(half_mask, SC_DTYPE_FLOAT16, 2, shape, NULL);
        sc_tensor tv = tensor(t2, SC_DTYPE_FLOAT32, 2, shape, t_strides);
        static const float want[6] = {1, 2 - 1000, 3, 4, 5 - 1000, 6}; /* logical (1, 0) and (0, 2) */
        OK(NULL, sc_apply_mask(&hm, &tv, 1));
        TRUE(equal_floats(t2, want, 6));
    }
}

static void schedules(void) {
    double out = -7;
    ERR(NULL, sc_sparsity_schedule(SC_SCHEDULE_LINEAR, 0.8, 1, 10, NULL), SC_ERROR_NULL_POINTER, "out");
    ERR(NULL, sc_sparsity_schedule(2, 0.8, 1, 10, &out), SC_ERROR_INVALID_ARGUMENT, "schedule");
    ERR(NULL, sc_sparsity_schedule(SC_SCHEDULE_LINEAR, 1.5, 1, 10, &out), SC_ERROR_INVALID_ARGUMENT, "ratio");
    ERR(NULL, sc_sparsity_schedule(SC_SCHEDULE_LINEAR, -0.1, 1, 10, &out), SC_ERROR_INVALID_ARGUMENT, "ratio");
    ERR(NULL, sc_sparsity_schedule(SC_SCHEDULE_AGP, nan(""), 1, 10, &out), SC_ERROR_INVALID_ARGUMENT, "ratio");
    ERR(NULL, sc_sparsity_schedule(SC_SCHEDULE_AGP, 0.8, 11, 10, &out), SC_ERROR_INVALID_ARGUMENT, "11");
    ERR(NULL, sc_sparsity_schedule(SC_SCHEDULE_AGP, 0.8, -1, 10, &out), SC_ERROR_INVALID_ARGUMENT, "-1");
    ERR(NULL, sc_sparsity_schedule(SC_SCHEDULE_LINEAR, 0.8, 0, 0, &out), SC_ERROR_INVALID_ARGUMENT, "0");
    TRUE(out == -7);
    OK(NULL, sc_sparsity_schedule(SC_SCHEDULE_LINEAR, 0.8, 5, 10, &out));
    TRUE(fabs(out - 0.4) < 1e-12);
    OK(NULL, sc_sparsity_schedule(SC_SCHEDULE_AGP, 0.8, 5, 10, &out)); /* 0.8 * (1 - 0.5^3) */
    TRUE(fabs(out - 0.7) < 1e-12);
    OK(NULL, sc_sparsity_schedule(SC_SCHEDULE_AGP, 0.8, 0, 10, &out));
    TRUE(out == 0);
    OK(NULL, sc_sparsity_schedule(SC_SCHEDULE_LINEAR, 0.8, 10, 10, &out));
    TRUE(fabs(out - 0.8) < 1e-12);
}

static void freed_handles(void) {
    sc_session *s = pruning_session(kLevelHalf), *t = NULL;
    const char *module = "unchanged";
    sc_session_free(s);
    /* A freed handle is rejected (never dereferenced); its message is the thread's. */
    ERR(NULL, sc_session_set_config(s, kLevelHalf, (size_t)-1), SC_ERROR_INVALID_ARGUMENT, "session");
    ERR(NULL, sc_session_target(s, 0, &module, NULL), SC_ERROR_INVALID_ARGUMENT, "session");
    ERR(NULL, sc_session_generate_masks(s, SC_METRIC_LEVEL), SC_ERROR_INVALID_ARGUMENT, "session");
    TRUE(sc_session_target_count(s) == 0);
    TRUE(strcmp(module, "unchanged") == 0);
    sc_session_free(s); /* freeing twice does nothing */
    /* A new session starts empty, whatever address it gets. */
    OK(NULL, sc_session_create(SC_MODE_PRUNING, &t));
    TRUE(sc_session_target_count(t) == 0);
    TRUE(strcmp(sc_session_last_error(t), "") == 0);
    ERR(t, sc_session_generate_masks(t, SC_METRIC_LEVEL), SC_ERROR_STATE, "config");
    OK(t, sc_session_add_modules_json(t, kModules, (size_t)-1));
    OK(t, sc_session_set_config(t, kLevelHalf, (size_t)-1));
    TRUE(sc_session_target_count(t) == 2);
    sc_session_free(t);
}

/* Errors of one session do not leak into another, and sessions do not share state. */
static void independent_sessions(void) {
    sc_session *a = pruning_session(kLevelHalf), *b = pruning_session(NULL);
    ERR(a, sc_session_set_config(a, "[{\"op_names\": [\"fc\"], \"sparse_ratio\": 7}]", (size_t)-1), SC_ERROR_CONFIG,
        "sparse_ratio");
    TRUE(strcmp(sc_session_last_error(b), "") == 0);
    TRUE(sc_session_target_count(b) == 0 && sc_session_target_count(a) == 2);
    /* A success does not clear the message. */
    OK(a, sc_session_set_config(a, kLevelHalf, (size_t)-1));
    TRUE(strstr(sc_session_last_error(a), "sparse_ratio") != NULL);
    sc_session_free(a);
    sc_session_free(b);
}

/* ---------------------------------------------------------------------------------------------
 * Distillation
 * ------------------------------------------------------------------------------------------- */

static const char *kMseHalf = "[{\"op_names\": [\"fc\"], \"lambda\": 0.5}]"; /* apply_method defaults to 'mse' */

/* A distillation session with kModules, the teacher modules "", "fc", "fc2" when `teachers` is
 * non-zero, and `config` (NULL: none). */
static sc_session *distill_session(const char *config, int teachers) {
    sc_session *s = NULL;
    OK(NULL, sc_session_create(SC_MODE_DISTILLATION, &s));
    OK(s, sc_session_add_modules_json(s, kModules, (size_t)-1));
    if (teachers) {
        OK(s, sc_session_add_teacher_module(s, ""));
        OK(s, sc_session_add_teacher_module(s, "fc"));
        OK(s, sc_session_add_teacher_module(s, "fc2"));
    }
    if (config) OK(s, sc_session_set_config(s, config, (size_t)-1));
    return s;
}

static int near(double a, double b, double tol) { return fabs(a - b) <= tol; }

static int floats_near(const float *a, const float *b, size_t n, double tol) {
    size_t i;
    for (i = 0; i < n; i++)
        if (!near(a[i], b[i], tol)) return 0;
    return 1;
}

static void distill_arguments(void) {
    static const int64_t shape[1] = {4}, other[1] = {5}, matrix[2] = {2, 2}, neg[1] = {-4}, zero_stride[1] = {0};
    float st[4] = {1, 2, 3, 4}, te[4] = {0, 2, 3, 6}, g[4] = {7, 7, 7, 7}, wide[5] = {0};
    sc_tensor stt = tensor(st, SC_DTYPE_FLOAT32, 1, shape, NULL), tet = tensor(te, SC_DTYPE_FLOAT32, 1, shape, NULL);
    sc_tensor gt = tensor(g, SC_DTYPE_FLOAT32, 1, shape, NULL), bad;
    sc_session *s = distill_session(NULL, 0);
    const char *link = "unchanged";
    size_t count = 12345;
    double total = -7, losses[2] = {-7, -7};

    /* Teacher modules. */
    ERR(NULL, sc_session_add_teacher_module(NULL, "fc"), SC_ERROR_NULL_POINTER, "session");
    ERR(s, sc_session_add_teacher_module(s, NULL), SC_ERROR_NULL_POINTER, "name");
    ERR(s, sc_session_add_teacher_module(s, "f\xff"), SC_ERROR_INVALID_ARGUMENT, "UTF-8");
    OK(s, sc_session_add_teacher_module(s, "fc"));
    ERR(s, sc_session_add_teacher_module(s, "fc"), SC_ERROR_INVALID_ARGUMENT, "'fc'");

    /* Before a config. */
    ERR(s, sc_session_target_link_count(s, 0, &count), SC_ERROR_STATE, "config");
    ERR(s, sc_session_target_link(s, 0, 0, &link), SC_ERROR_STATE, "config");
    ERR(s, sc_session_bind_student(s, "fc", "_output_0", &stt, &gt), SC_ERROR_STATE, "config");
    ERR(s, sc_session_bind_teacher(s, "fc", "_output_0", 0, &tet), SC_ERROR_STATE, "config");
    ERR(s, sc_session_distill(s, &total, NULL, 0), SC_ERROR_STATE, "config");
    TRUE(count == 12345 && strcmp(link, "unchanged") == 0 && total == -7);

    /* Config errors: the config engine's (SC_ERROR_CONFIG, naming the key); the old config stays. */
    ERR(s, sc_session_set_config(s, "[{\"op_names\": [\"fc\"], \"apply_method\": \"l1\"}]", (size_t)-1), SC_ERROR_CONFIG,
        "apply_method");
    ERR(s, sc_session_set_config(s, "[{\"op_names\": [\"fc\"], \"lambda\": \"x\"}]", (size_t)-1), SC_ERROR_CONFIG, "lambda");
    ERR(s, sc_session_set_config(s, "[{\"op_names\": [\"fc\"], \"link\": []}]", (size_t)-1), SC_ERROR_CONFIG, "link");
    ERR(s, sc_session_set_config(s, "[{\"op_names\": [\"fc\"], \"link\": 3}]", (size_t)-1), SC_ERROR_CONFIG, "link");
    ERR(s, sc_session_set_config(s, "[{\"op_names\": [\"fc\"], \"sparse_ratio\": 0.5}]", (size_t)-1), SC_ERROR_CONFIG,
        "sparse_ratio");
    TRUE(sc_session_target_count(s) == 0);

    OK(s, sc_session_set_config(s, kMseHalf, (size_t)-1));
    TRUE(sc_session_target_count(s) == 1);
    {
        const char *module = NULL, *target = NULL;
        OK(s, sc_session_target(s, 0, &module, &target));
        TRUE(module != NULL && strcmp(module, "fc") == 0 && target != NULL && strcmp(target, "_output_0") == 0);
    }

    /* Links. */
    ERR(NULL, sc_session_target_link_count(NULL, 0, &count), SC_ERROR_NULL_POINTER, "session");
    ERR(s, sc_session_target_link_count(s, 0, NULL), SC_ERROR_NULL_POINTER, "count");
    ERR(s, sc_session_target_link_count(s, 1, &count), SC_ERROR_INVALID_ARGUMENT, "index 1");
    ERR(s, sc_session_target_link_count(s, (size_t)-1, &count), SC_ERROR_INVALID_ARGUMENT, "index");
    ERR(NULL, sc_session_target_link(NULL, 0, 0, &link), SC_ERROR_NULL_POINTER, "session");
    ERR(s, sc_session_target_link(s, 0, 0, NULL), SC_ERROR_NULL_POINTER, "teacher_module");
    ERR(s, sc_session_target_link(s, 1, 0, &link), SC_ERROR_INVALID_ARGUMENT, "index 1");
    ERR(s, sc_session_target_link(s, 0, 1, &link), SC_ERROR_INVALID_ARGUMENT, "link 1");
    ERR(s, sc_session_target_link(s, 0, (size_t)-1, &link), SC_ERROR_INVALID_ARGUMENT, "link");
    TRUE(count == 12345 && strcmp(link, "unchanged") == 0);
    OK(s, sc_session_target_link_count(s, 0, &count));
    TRUE(count == 1);
    OK(s, sc_session_target_link(s, 0, 0, &link));
    TRUE(strcmp(link, "fc") == 0); /* 'auto' is the student module's own name */

    /* Binding the student. */
    ERR(NULL, sc_session_bind_student(NULL, "fc", "_output_0", &stt, &gt), SC_ERROR_NULL_POINTER, "session");
    ERR(s, sc_session_bind_student(s, NULL, "_output_0", &stt, &gt), SC_ERROR_NULL_POINTER, "module_name");
    ERR(s, sc_session_bind_student(s, "fc", NULL, &stt, &gt), SC_ERROR_NULL_POINTER, "target_name");
    ERR(s, sc_session_bind_student(s, "fc", "_output_0", NULL, &gt), SC_ERROR_NULL_POINTER, "student");
    ERR(s, sc_session_bind_student(s, "fc", "_output_1", &stt, &gt), SC_ERROR_UNKNOWN_NAME, "_output_1");
    ERR(s, sc_session_bind_student(s, "fc2", "_output_0", &stt, &gt), SC_ERROR_UNKNOWN_NAME, "fc2");
    ERR(s, sc_session_bind_student(s, "fc", "weight", &stt, &gt), SC_ERROR_UNKNOWN_NAME, "weight");
    bad = stt, bad.dtype = 4;
    ERR(s, sc_session_bind_student(s, "fc", "_output_0", &bad, &gt), SC_ERROR_DTYPE, "dtype");
    bad = gt, bad.dtype = -1;
    ERR(s, sc_session_bind_student(s, "fc", "_output_0", &stt, &bad), SC_ERROR_DTYPE, "dtype");
    bad = stt, bad.ndim = SC_MAX_NDIM + 1;
    ERR(s, sc_session_bind_student(s, "fc", "_output_0", &bad, &gt), SC_ERROR_SHAPE, "ndim");
    bad = gt, bad.ndim = -1;
    ERR(s, sc_session_bind_student(s, "fc", "_output_0", &stt, &bad), SC_ERROR_SHAPE, "ndim");
    bad = stt, bad.shape = NULL;
    ERR(s, sc_session_bind_student(s, "fc", "_output_0", &bad, &gt), SC_ERROR_NULL_POINTER, "shape");
    bad = stt, bad.shape = neg;
    ERR(s, sc_session_bind_student(s, "fc", "_output_0", &bad, &gt), SC_ERROR_SHAPE, "-4");
    bad = stt, bad.data = NULL;
    ERR(s, sc_session_bind_student(s, "fc", "_output_0", &bad, &gt), SC_ERROR_NULL_POINTER, "data");
    bad = gt, bad.data = NULL;
    ERR(s, sc_session_bind_student(s, "fc", "_output_0", &stt, &bad), SC_ERROR_NULL_POINTER, "data");
    bad = gt, bad.shape = other;
    ERR(s, sc_session_bind_student(s, "fc", "_output_0", &stt, &bad), SC_ERROR_SHAPE, "gradient");
    bad = gt, bad.ndim = 2, bad.shape = matrix; /* same element count, other shape */
    ERR(s, sc_session_bind_student(s, "fc", "_output_0", &stt, &bad), SC_ERROR_SHAPE, "gradient");
    bad = gt, bad.strides = zero_stride; /* the gradient is written: no overlap */
    ERR(s, sc_session_bind_student(s, "fc", "_output_0", &stt, &bad), SC_ERROR_SHAPE, "overlap");
    bad = gt, bad.data = (char *)g + 2;
    ERR(s, sc_session_bind_student(s, "fc", "_output_0", &stt, &bad), SC_ERROR_SHAPE, "align");

    /* Distill before any student is bound: the unbound target is named. */
    ERR(s, sc_session_distill(s, &total, NULL, 0), SC_ERROR_STATE, "fc._output_0");
    /* A teacher before the student. */
    ERR(s, sc_session_bind_teacher(s, "fc", "_output_0", 0, &tet), SC_ERROR_STATE, "fc._output_0");

    OK(s, sc_session_bind_student(s, "fc", "_output_0", &stt, &gt));

    /* Binding a teacher. */
    ERR(NULL, sc_session_bind_teacher(NULL, "fc", "_output_0", 0, &tet), SC_ERROR_NULL_POINTER, "session");
    ERR(s, sc_session_bind_teacher(s, NULL, "_output_0", 0, &tet), SC_ERROR_NULL_POINTER, "module_name");
    ERR(s, sc_session_bind_teacher(s, "fc", NULL, 0, &tet), SC_ERROR_NULL_POINTER, "target_name");
    ERR(s, sc_session_bind_teacher(s, "fcc", "_output_0", 0, &tet), SC_ERROR_UNKNOWN_NAME, "fcc");
    ERR(s, sc_session_bind_teacher(s, "fc", "_output_0", 1, &tet), SC_ERROR_INVALID_ARGUMENT, "link 1");
    ERR(s, sc_session_bind_teacher(s, "fc", "_output_0", (size_t)-1, &tet), SC_ERROR_INVALID_ARGUMENT, "link");
    bad = tet, bad.dtype = 17;
    ERR(s, sc_session_bind_teacher(s, "fc", "_output_0", 0, &bad), SC_ERROR_DTYPE, "dtype");
    bad = tet, bad.ndim = 99;
    ERR(s, sc_session_bind_teacher(s, "fc", "_output_0", 0, &bad), SC_ERROR_SHAPE, "ndim");
    bad = tet, bad.data = NULL;
    ERR(s, sc_session_bind_teacher(s, "fc", "_output_0", 0, &bad), SC_ERROR_NULL_POINTER, "data");
    bad = tet, bad.data = (char *)te + 1;
    ERR(s, sc_session_bind_teacher(s, "fc", "_output_0", 0, &bad), SC_ERROR_SHAPE, "align");

    /* A teacher of another shape is reported by distill, naming the target and the link; no gradient written. */
    {
        sc_tensor wt = tensor(wide, SC_DTYPE_FLOAT32, 1, other, NULL);
        OK(s, sc_session_bind_teacher(s, "fc", "_output_0", 0, &wt));
        ERR(s, sc_session_distill(s, &total, NULL, 0), SC_ERROR_SHAPE, "fc._output_0");
        TRUE(strstr(sc_session_last_error(s), "'fc'") != NULL); /* the link */
        TRUE(total == -7 && all_equal(g, 4, 7.0f));
    }
    OK(s, sc_session_bind_teacher(s, "fc", "_output_0", 0, &tet));

    /* Distill's own arguments. */
    ERR(NULL, sc_session_distill(NULL, &total, NULL, 0), SC_ERROR_NULL_POINTER, "session");
    ERR(s, sc_session_distill(s, NULL, NULL, 0), SC_ERROR_NULL_POINTER, "total_loss");
    ERR(s, sc_session_distill(s, &total, losses, 2), SC_ERROR_INVALID_ARGUMENT, "target_loss_count");
    ERR(s, sc_session_distill(s, &total, losses, 0), SC_ERROR_INVALID_ARGUMENT, "target_loss_count");
    TRUE(total == -7 && losses[0] == -7 && all_equal(g, 4, 7.0f));

    /* mse([1, 2, 3, 4], [0, 2, 3, 6]) = (1 + 0 + 0 + 4) / 4 = 1.25; lambda 0.5: 0.625.
     * Gradient 0.5 * 2 (s - t) / 4 = 0.25 (s - t) = [0.25, 0, 0, -0.5]. (torch: 0.5 * F.mse_loss, backward.) */
    OK(s, sc_session_distill(s, &total, losses, 1));
    {
        static const float want[4] = {0.25f, 0, 0, -0.5f};
        TRUE(total == 0.625 && losses[0] == 0.625 && losses[1] == -7);
        TRUE(equal_floats(g, want, 4));
        TRUE(st[0] == 1 && te[3] == 6); /* inputs only read */
    }
    /* The loss alone (target_losses NULL with any count). */
    total = -7;
    OK(s, sc_session_distill(s, &total, NULL, 99));
    TRUE(total == 0.625);

    /* The gradient may be the student's own buffer (same layout): it replaces the values. */
    {
        float own[4] = {1, 2, 3, 4};
        sc_tensor ot = tensor(own, SC_DTYPE_FLOAT32, 1, shape, NULL);
        static const float want[4] = {0.25f, 0, 0, -0.5f};
        OK(s, sc_session_bind_student(s, "fc", "_output_0", &ot, &ot));
        OK(s, sc_session_bind_teacher(s, "fc", "_output_0", 0, &tet));
        OK(s, sc_session_distill(s, &total, NULL, 0));
        TRUE(total == 0.625 && equal_floats(own, want, 4));
    }

    /* Binding the student again clears its teachers: no teacher, loss 0 and a zero gradient. */
    memset(g, 0x7f, sizeof g);
    OK(s, sc_session_bind_student(s, "fc", "_output_0", &stt, &gt));
    OK(s, sc_session_distill(s, &total, NULL, 0));
    TRUE(total == 0 && all_equal(g, 4, 0.0f));
    /* NULL gradient: the loss only. */
    OK(s, sc_session_bind_student(s, "fc", "_output_0", &stt, NULL));
    OK(s, sc_session_bind_teacher(s, "fc", "_output_0", 0, &tet));
    OK(s, sc_session_distill(s, &total, NULL, 0));
    TRUE(total == 0.625);

    /* An empty student: the mean over no elements is undefined. */
    {
        static const int64_t empty[2] = {0, 3};
        sc_tensor et = tensor(NULL, SC_DTYPE_FLOAT32, 2, empty, NULL);
        OK(s, sc_session_bind_student(s, "fc", "_output_0", &et, &et));
        OK(s, sc_session_bind_teacher(s, "fc", "_output_0", 0, &et));
        ERR(s, sc_session_distill(s, &total, NULL, 0), SC_ERROR_SHAPE, "fc._output_0");
    }

    /* A new config drops the bindings. */
    OK(s, sc_session_set_config(s, kMseHalf, (size_t)-1));
    ERR(s, sc_session_distill(s, &total, NULL, 0), SC_ERROR_STATE, "fc._output_0");
    sc_session_free(s);
}

static void distill_dtypes_and_layouts(void) {
    /* The student as float16, the teacher as a transposed float64 view, the gradient as float64: mse of
     * [[1, 2], [3, 4]] vs [[0, 2], [3, 6]] (the teacher buffer holds it column-major), lambda 0.5:
     * 0.625 and gradient 0.25 (s - t) = [[0.25, 0], [0, -0.5]]. */
    static const int64_t shape[2] = {2, 2}, transposed[2] = {1, 2};
    uint16_t half[4] = {0x3C00, 0x4000, 0x4200, 0x4400}; /* 1 2 3 4 */
    double teacher[4] = {0, 3, 2, 6}, grad[4] = {9, 9, 9, 9};
    sc_tensor st = tensor(half, SC_DTYPE_FLOAT16, 2, shape, NULL);
    sc_tensor tt = tensor(teacher, SC_DTYPE_FLOAT64, 2, shape, transposed);
    sc_tensor gt = tensor(grad, SC_DTYPE_FLOAT64, 2, shape, NULL);
    sc_session *s = distill_session(kMseHalf, 0);
    double total = -1;
    OK(s, sc_session_bind_student(s, "fc", "_output_0", &st, &gt));
    OK(s, sc_session_bind_teacher(s, "fc", "_output_0", 0, &tt));
    OK(s, sc_session_distill(s, &total, NULL, 0));
    TRUE(total == 0.625);
    TRUE(grad[0] == 0.25 && grad[1] == 0 && grad[2] == 0 && grad[3] == -0.5);
    sc_session_free(s);

    /* kl: student logits [[0, 0], [0, 0]], teacher [[2 ln 3, 0], [2 ln 3, 0]] (float64).
     * softmax(t / 2) = [3/4, 1/4], softmax(s / 2) = [1/2, 1/2] in each row; kl per row
     * 3/4 ln(3/2) + 1/4 ln(1/2); batchmean divides the sum over both rows by 2; times 4:
     * 3 ln(3/2) + ln(1/2) = ln(1.6875) = 0.52324814376454...; gradient 2 (q - p) / 2 = [-0.25, 0.25]
     * per row. torch 2.15 in /work/nnienv: kl_div(log_softmax(s/2,-1), softmax(t/2,-1), 'batchmean') * 4
     * = 0.5232481437645475, s.grad = [[-0.25, 0.25], [-0.25, 0.25]]. */
    {
        double logits[4] = {0, 0, 0, 0}, target[4], g64[4] = {9, 9, 9, 9};
        sc_tensor lt = tensor(logits, SC_DTYPE_FLOAT64, 2, shape, NULL), tg = tensor(target, SC_DTYPE_FLOAT64, 2, shape, NULL);
        sc_tensor gg = tensor(g64, SC_DTYPE_FLOAT64, 2, shape, NULL);
        target[0] = target[2] = 2 * log(3.0);
        target[1] = target[3] = 0;
        s = distill_session("[{\"op_names\": [\"fc2\"], \"apply_method\": \"kl\"}]", 1);
        OK(s, sc_session_bind_student(s, "fc2", "_output_0", &lt, &gg));
        OK(s, sc_session_bind_teacher(s, "fc2", "_output_0", 0, &tg));
        OK(s, sc_session_distill(s, &total, NULL, 0));
        TRUE(near(total, log(1.6875), 1e-12));
        TRUE(near(g64[0], -0.25, 1e-12) && near(g64[1], 0.25, 1e-12) && near(g64[2], -0.25, 1e-12) &&
             near(g64[3], 0.25, 1e-12));
        sc_session_free(s);
    }

    /* kl over a broadcast row (stride 0 over one float) longer than 2^28: refused as a shape error
     * before any work (its softmax work buffers would not fit); 2^20 is computed (uniform rows: 0). */
    {
        static const int64_t huge[2] = {1, ((int64_t)1 << 28) + 1}, big[2] = {2, (int64_t)1 << 20},
                             zeros[2] = {0, 0};
        float one = 1;
        sc_tensor ht = tensor(&one, SC_DTYPE_FLOAT32, 2, huge, zeros), bt = tensor(&one, SC_DTYPE_FLOAT32, 2, big, zeros);
        s = distill_session("[{\"op_names\": [\"fc2\"], \"apply_method\": \"kl\"}]", 1);
        OK(s, sc_session_bind_student(s, "fc2", "_output_0", &ht, NULL));
        OK(s, sc_session_bind_teacher(s, "fc2", "_output_0", 0, &ht));
        total = -1;
        ERR(s, sc_session_distill(s, &total, NULL, 0), SC_ERROR_SHAPE, "at most 268435456");
        TRUE(total == -1);
        OK(s, sc_session_bind_student(s, "fc2", "_output_0", &bt, NULL));
        OK(s, sc_session_bind_teacher(s, "fc2", "_output_0", 0, &bt));
        OK(s, sc_session_distill(s, &total, NULL, 0));
        TRUE(total == 0);
        sc_session_free(s);
    }

    /* A broadcast student of INT64_MAX elements (its chunk count would overflow, its partial sums not
     * fit in memory): refused for mse as a shape error, nothing written. */
    {
        static const int64_t all[1] = {INT64_MAX}, zero[1] = {0};
        float one = 1;
        sc_tensor at = tensor(&one, SC_DTYPE_FLOAT32, 1, all, zero);
        s = distill_session("[{\"op_names\": [\"fc2\"]}]", 1);
        OK(s, sc_session_bind_student(s, "fc2", "_output_0", &at, NULL));
        OK(s, sc_session_bind_teacher(s, "fc2", "_output_0", 0, &at));
        total = -1;
        ERR(s, sc_session_distill(s, &total, NULL, 0), SC_ERROR_SHAPE, "at most 1099511627776 are supported");
        TRUE(total == -1);
        sc_session_free(s);
    }
}

static void distill_links(void) {
    static const int64_t shape[1] = {4};
    float st[4] = {1, 2, 3, 4}, t0[4] = {0, 2, 3, 6}, t1[4] = {1, 2, 3, 5}, g[4];
    float s2[4] = {0, 0, 0, 0}, t2[4] = {1, 1, 1, 1}, g2[4];
    sc_tensor stt = tensor(st, SC_DTYPE_FLOAT32, 1, shape, NULL), gt = tensor(g, SC_DTYPE_FLOAT32, 1, shape, NULL);
    sc_tensor t0t = tensor(t0, SC_DTYPE_FLOAT32, 1, shape, NULL), t1t = tensor(t1, SC_DTYPE_FLOAT32, 1, shape, NULL);
    sc_tensor s2t = tensor(s2, SC_DTYPE_FLOAT32, 1, shape, NULL), t2t = tensor(t2, SC_DTYPE_FLOAT32, 1, shape, NULL);
    sc_tensor g2t = tensor(g2, SC_DTYPE_FLOAT32, 1, shape, NULL);
    double total = -7, losses[2] = {-7, -7};
    const char *link = NULL;
    size_t count = 0;
    /* fc: two links; fc2: lambda 2, linked to the teacher's fc2 ('auto'). */
    sc_session *s = distill_session("[{\"op_names\": [\"fc\"], \"link\": [\"fc\", \"fc2\"]},"
                                    " {\"op_names\": [\"fc2\"], \"lambda\": 2}]", 1);
    TRUE(sc_session_target_count(s) == 2);
    OK(s, sc_session_target_link_count(s, 0, &count));
    TRUE(count == 2);
    OK(s, sc_session_target_link(s, 0, 1, &link));
    TRUE(link != NULL && strcmp(link, "fc2") == 0);
    OK(s, sc_session_target_link(s, 0, 0, &link));
    TRUE(link != NULL && strcmp(link, "fc") == 0);
    OK(s, sc_session_target_link_count(s, 1, &count));
    TRUE(count == 1);
    OK(s, sc_session_target_link(s, 1, 0, &link));
    TRUE(link != NULL && strcmp(link, "fc2") == 0);

    OK(s, sc_session_bind_student(s, "fc", "_output_0", &stt, &gt));
    OK(s, sc_session_bind_teacher(s, "fc", "_output_0", 0, &t0t));
    OK(s, sc_session_bind_teacher(s, "fc", "_output_0", 1, &t1t));
    /* One of two students bound: the other is named. */
    ERR(s, sc_session_distill(s, &total, losses, 2), SC_ERROR_STATE, "fc2._output_0");
    OK(s, sc_session_bind_student(s, "fc2", "_output_0", &s2t, &g2t));
    OK(s, sc_session_bind_teacher(s, "fc2", "_output_0", 0, &t2t));
    /* fc: link 0 mse 1.25, link 1 mse (0 + 0 + 0 + 1) / 4 = 0.25: the smaller, gradient 2 (s - t1) / 4.
     * fc2: 2 * mse([0]*4, [1]*4) = 2, gradient 2 * 2 (0 - 1) / 4 = -1. Total 2.25. */
    OK(s, sc_session_distill(s, &total, losses, 2));
    {
        static const float want[4] = {0, 0, 0, -0.5f}, want2[4] = {-1, -1, -1, -1};
        TRUE(total == 2.25 && losses[0] == 0.25 && losses[1] == 2);
        TRUE(equal_floats(g, want, 4) && equal_floats(g2, want2, 4));
    }
    /* A NULL teacher skips its link: link 0 alone, 1.25, gradient 0.5 (s - t0). */
    OK(s, sc_session_bind_teacher(s, "fc", "_output_0", 1, NULL));
    OK(s, sc_session_distill(s, &total, losses, 2));
    {
        static const float want[4] = {0.5f, 0, 0, -1};
        TRUE(total == 3.25 && losses[0] == 1.25 && losses[1] == 2);
        TRUE(equal_floats(g, want, 4));
    }
    /* No teacher at all: the target adds 0 and its gradient is zeros. */
    OK(s, sc_session_bind_teacher(s, "fc", "_output_0", 0, NULL));
    OK(s, sc_session_distill(s, &total, losses, 2));
    TRUE(total == 2 && losses[0] == 0 && all_equal(g, 4, 0.0f));
    /* Equal losses go to the first link: both teachers t1, the gradient is that of lambda * loss. */
    OK(s, sc_session_bind_teacher(s, "fc", "_output_0", 0, &t1t));
    OK(s, sc_session_bind_teacher(s, "fc", "_output_0", 1, &t1t));
    OK(s, sc_session_distill(s, &total, losses, 2));
    TRUE(total == 2.25 && losses[0] == 0.25);
    TRUE(floats_near(g, (const float[4]){0, 0, 0, -0.5f}, 4, 0));
    sc_session_free(s);

    /* A negative lambda picks the largest raw loss (NNI compares lambda * loss). */
    s = distill_session("[{\"op_names\": [\"fc\"], \"link\": [\"fc\", \"fc2\"], \"lambda\": -1}]", 1);
    OK(s, sc_session_bind_student(s, "fc", "_output_0", &stt, &gt));
    OK(s, sc_session_bind_teacher(s, "fc", "_output_0", 0, &t0t));
    OK(s, sc_session_bind_teacher(s, "fc", "_output_0", 1, &t1t));
    OK(s, sc_session_distill(s, &total, NULL, 0));
    {
        static const float want[4] = {-0.5f, 0, 0, 1}; /* -1 * 2 (s - t0) / 4 */
        TRUE(total == -1.25 && equal_floats(g, want, 4));
    }
    sc_session_free(s);

    /* A link naming no teacher module: SC_ERROR_DISTILLATION naming the target and the link, with a
     * suggestion; no gradient written. Without teacher modules, links are not checked. */
    s = distill_session("[{\"op_names\": [\"fc\"], \"link\": [\"fc\", \"fc3\"]}]", 1);
    OK(s, sc_session_bind_student(s, "fc", "_output_0", &stt, &gt));
    OK(s, sc_session_bind_teacher(s, "fc", "_output_0", 0, &t0t));
    memset(g, 0, sizeof g);
    total = -7;
    ERR(s, sc_session_distill(s, &total, NULL, 0), SC_ERROR_DISTILLATION, "'fc3'");
    TRUE(strstr(sc_session_last_error(s), "fc._output_0") != NULL);
    TRUE(total == -7 && all_equal(g, 4, 0.0f));
    sc_session_free(s);
    s = distill_session("[{\"op_names\": [\"fc\"], \"link\": \"teacher.fc\"}]", 0);
    OK(s, sc_session_target_link(s, 0, 0, &link));
    TRUE(link != NULL && strcmp(link, "teacher.fc") == 0);
    OK(s, sc_session_bind_student(s, "fc", "_output_0", &stt, &gt));
    OK(s, sc_session_bind_teacher(s, "fc", "_output_0", 0, &t0t));
    OK(s, sc_session_distill(s, &total, NULL, 0));
    TRUE(total == 1.25);
    /* Adding teacher modules afterwards turns the check on. */
    OK(s, sc_session_add_teacher_module(s, "fc"));
    ERR(s, sc_session_distill(s, &total, NULL, 0), SC_ERROR_DISTILLATION, "'teacher.fc'");
    sc_session_free(s);

    /* The root module: 'auto' links to the teacher's root "". */
    s = distill_session("[{\"op_names\": [\"\"], \"lambda\": 1}]", 1);
    TRUE(sc_session_target_count(s) == 1);
    link = NULL;
    OK(s, sc_session_target_link(s, 0, 0, &link));
    TRUE(link != NULL && strcmp(link, "") == 0);
    sc_session_free(s);
}

static void distill_wrong_mode_and_freed(void) {
    static const int64_t shape[1] = {4};
    float st[4] = {1, 2, 3, 4}, g[4] = {7, 7, 7, 7};
    sc_tensor stt = tensor(st, SC_DTYPE_FLOAT32, 1, shape, NULL), gt = tensor(g, SC_DTYPE_FLOAT32, 1, shape, NULL);
    sc_session *p = pruning_session(kLevelHalf), *d = distill_session(kMseHalf, 0), *q = NULL;
    const char *link = "unchanged";
    size_t count = 12345;
    double total = -7;

    /* Distillation calls on a pruning session (one with a config: the mode is what fails). */
    ERR(p, sc_session_add_teacher_module(p, "fc"), SC_ERROR_STATE, "distillation");
    ERR(p, sc_session_target_link_count(p, 0, &count), SC_ERROR_STATE, "distillation");
    ERR(p, sc_session_target_link(p, 0, 0, &link), SC_ERROR_STATE, "distillation");
    ERR(p, sc_session_bind_student(p, "fc", "weight", &stt, &gt), SC_ERROR_STATE, "distillation");
    ERR(p, sc_session_bind_teacher(p, "fc", "weight", 0, &stt), SC_ERROR_STATE, "distillation");
    ERR(p, sc_session_distill(p, &total, NULL, 0), SC_ERROR_STATE, "distillation");
    TRUE(count == 12345 && strcmp(link, "unchanged") == 0 && total == -7 && all_equal(g, 4, 7.0f));
    /* And on a quantization session. */
    OK(NULL, sc_session_create(SC_MODE_QUANTIZATION, &q));
    ERR(q, sc_session_add_teacher_module(q, "fc"), SC_ERROR_STATE, "distillation");
    ERR(q, sc_session_distill(q, &total, NULL, 0), SC_ERROR_STATE, "distillation");
    sc_session_free(q);

    /* Pruning calls on a distillation session. */
    ERR(d, sc_session_bind(d, "fc", "_output_0", &stt, &gt), SC_ERROR_STATE, "pruning");
    ERR(d, sc_session_bind_metric(d, "fc", "_output_0", &stt), SC_ERROR_STATE, "pruning");
    ERR(d, sc_session_generate_masks(d, SC_METRIC_LEVEL), SC_ERROR_STATE, "pruning");
    ERR(d, sc_session_apply_masks(d), SC_ERROR_STATE, "pruning");
    TRUE(all_equal(g, 4, 7.0f));
    /* The shared calls work on it: report and settings. */
    {
        const char *json = NULL;
        OK(d, sc_session_target_settings(d, 0, &json, NULL));
        TRUE(json != NULL && strstr(json, "lambda") != NULL && strstr(json, "0.5") != NULL);
        json = NULL;
        OK(d, sc_session_report(d, 0, &json, NULL));
        TRUE(json != NULL && strstr(json, "_output_0") != NULL);
    }
    sc_session_free(p);

    /* A freed distillation session. */
    sc_session_free(d);
    ERR(NULL, sc_session_add_teacher_module(d, "fc"), SC_ERROR_INVALID_ARGUMENT, "session");
    ERR(NULL, sc_session_target_link_count(d, 0, &count), SC_ERROR_INVALID_ARGUMENT, "session");
    ERR(NULL, sc_session_target_link(d, 0, 0, &link), SC_ERROR_INVALID_ARGUMENT, "session");
    ERR(NULL, sc_session_bind_student(d, "fc", "_output_0", &stt, &gt), SC_ERROR_INVALID_ARGUMENT, "session");
    ERR(NULL, sc_session_bind_teacher(d, "fc", "_output_0", 0, &stt), SC_ERROR_INVALID_ARGUMENT, "session");
    ERR(NULL, sc_session_distill(d, &total, NULL, 0), SC_ERROR_INVALID_ARGUMENT, "session");
    TRUE(count == 12345 && strcmp(link, "unchanged") == 0 && total == -7 && all_equal(g, 4, 7.0f));
    sc_session_free(d);
}

/* ---------------------------------------------------------------------------------------------
 * Quantization
 * ------------------------------------------------------------------------------------------- */

/* fc.weight: int8 symmetric per tensor (clamp_round); fc2.weight: uint8 affine per tensor with
 * qat_clamp_round; fc2.bias: int8 per channel (dim 0). */
static const char *kQuantConfig =
    "[{\"op_names\": [\"fc\"], \"target_names\": [\"weight\"], \"quant_dtype\": \"int8\", \"quant_scheme\": \"symmetric\"},"
    " {\"op_names\": [\"fc2\"], \"target_names\": [\"weight\"], \"quant_dtype\": \"uint8\", \"quant_scheme\": \"affine\","
    "  \"apply_method\": \"qat_clamp_round\"},"
    " {\"op_names\": [\"fc2\"], \"target_names\": [\"bias\"], \"quant_dtype\": \"int8\", \"granularity\": \"per_channel\"}]";

static sc_session *quant_session(const char *config) {
    sc_session *s = NULL;
    OK(NULL, sc_session_create(SC_MODE_QUANTIZATION, &s));
    OK(s, sc_session_add_modules_json(s, kModules, (size_t)-1));
    if (config) OK(s, sc_session_set_config(s, config, (size_t)-1));
    return s;
}

static void quant_arguments(void) {
    static const int64_t three[1] = {3}, four[1] = {4}, one[1] = {1}, zero[1] = {0}, m23[2] = {2, 3}, m33[2] = {3, 3};
    float w[3] = {-1.0f, 0.5f, 2.0f}, x[4] = {-0.5f, 0.3f, 2.0f, 3.0f}, out[4] = {9, 9, 9, 9}, mask[4] = {9, 9, 9, 9};
    float sc = 7, zp = 7, tmin = 7, tmax = 7, sc1[1] = {7}, empty_data[1] = {0};
    sc_tensor wt = tensor(w, SC_DTYPE_FLOAT32, 1, three, NULL), xt = tensor(x, SC_DTYPE_FLOAT32, 1, four, NULL);
    sc_tensor ot = tensor(out, SC_DTYPE_FLOAT32, 1, four, NULL), mt = tensor(mask, SC_DTYPE_FLOAT32, 1, four, NULL);
    sc_tensor st = tensor(&sc, SC_DTYPE_FLOAT32, 0, NULL, NULL), zt = tensor(&zp, SC_DTYPE_FLOAT32, 0, NULL, NULL);
    sc_tensor mint = tensor(&tmin, SC_DTYPE_FLOAT32, 0, NULL, NULL), maxt = tensor(&tmax, SC_DTYPE_FLOAT32, 0, NULL, NULL);
    sc_tensor s1 = tensor(sc1, SC_DTYPE_FLOAT32, 1, one, NULL), et = tensor(empty_data, SC_DTYPE_FLOAT32, 1, zero, NULL);
    sc_tensor bad;
    sc_session *s = quant_session(NULL);
    size_t ndim = 99;
    const int64_t *shape = NULL;
    int bits = -1, is_signed = -1;
    int64_t qmin = -1, qmax = -1;
    const float step = 2.0f / 127.0f;

    /* Before a config. */
    ERR(s, sc_session_observe(s, "fc", "weight", &wt, SC_OBSERVER_MINMAX), SC_ERROR_STATE, "config");
    ERR(s, sc_session_quant_params(s, "fc", "weight", &st, &zt, NULL, NULL), SC_ERROR_STATE, "config");
    OK(s, sc_session_set_config(s, kQuantConfig, (size_t)-1));
    TRUE(sc_session_target_count(s) == 3);

    /* NULL pointers. */
    ERR(NULL, sc_session_observe(NULL, "fc", "weight", &wt, SC_OBSERVER_MINMAX), SC_ERROR_NULL_POINTER, "session");
    ERR(s, sc_session_observe(s, NULL, "weight", &wt, SC_OBSERVER_MINMAX), SC_ERROR_NULL_POINTER, "module_name");
    ERR(s, sc_session_observe(s, "fc", NULL, &wt, SC_OBSERVER_MINMAX), SC_ERROR_NULL_POINTER, "target_name");
    ERR(s, sc_session_observe(s, "fc", "weight", NULL, SC_OBSERVER_MINMAX), SC_ERROR_NULL_POINTER, "batch");
    ERR(s, sc_session_scale_shape(s, "fc", "weight", NULL, &shape), SC_ERROR_NULL_POINTER, "ndim");
    ERR(s, sc_session_scale_shape(s, "fc", "weight", &ndim, NULL), SC_ERROR_NULL_POINTER, "shape");
    ERR(s, sc_session_quant_params(s, "fc", "weight", NULL, &zt, NULL, NULL), SC_ERROR_NULL_POINTER, "scale");
    ERR(s, sc_session_quant_params(s, "fc", "weight", &st, NULL, NULL, NULL), SC_ERROR_NULL_POINTER, "zero_point");
    ERR(s, sc_session_fake_quantize(s, "fc", "weight", NULL, &ot, NULL), SC_ERROR_NULL_POINTER, "x");
    ERR(s, sc_session_fake_quantize(s, "fc", "weight", &xt, NULL, NULL), SC_ERROR_NULL_POINTER, "out");
    ERR(NULL, sc_session_quant_range(NULL, "fc", "weight", &bits, NULL, NULL, NULL), SC_ERROR_NULL_POINTER, "session");
    ERR(s, sc_session_quant_range(s, "fc", NULL, &bits, NULL, NULL, NULL), SC_ERROR_NULL_POINTER, "target_name");

    /* Unknown names, a bad observer kind, bad views. */
    ERR(s, sc_session_observe(s, "fc", "bias", &wt, SC_OBSERVER_MINMAX), SC_ERROR_UNKNOWN_NAME, "fc.bias");
    ERR(s, sc_session_observe(s, "fc3", "weight", &wt, SC_OBSERVER_MINMAX), SC_ERROR_UNKNOWN_NAME, "fc3");
    ERR(s, sc_session_quant_range(s, "fc", "f\xff", &bits, NULL, NULL, NULL), SC_ERROR_INVALID_ARGUMENT, "UTF-8");
    ERR(s, sc_session_observe(s, "fc", "weight", &wt, 2), SC_ERROR_INVALID_ARGUMENT, "observer");
    ERR(s, sc_session_observe(s, "fc", "weight", &wt, -1), SC_ERROR_INVALID_ARGUMENT, "SC_OBSERVER_EMA");
    bad = wt;
    bad.dtype = 9;
    ERR(s, sc_session_observe(s, "fc", "weight", &bad, SC_OBSERVER_MINMAX), SC_ERROR_DTYPE, "dtype");
    bad = wt;
    bad.ndim = 17;
    ERR(s, sc_session_observe(s, "fc", "weight", &bad, SC_OBSERVER_MINMAX), SC_ERROR_SHAPE, "ndim");
    ERR(s, sc_session_observe(s, "fc", "weight", &et, SC_OBSERVER_MINMAX), SC_ERROR_SHAPE, "no elements");

    /* Before the first batch: no scale shape, no parameters, no fake quantization. */
    ERR(s, sc_session_scale_shape(s, "fc", "weight", &ndim, &shape), SC_ERROR_STATE, "sc_session_observe");
    ERR(s, sc_session_quant_params(s, "fc", "weight", &st, &zt, NULL, NULL), SC_ERROR_STATE, "fc.weight");
    ERR(s, sc_session_fake_quantize(s, "fc", "weight", &xt, &ot, NULL), SC_ERROR_STATE, "sc_session_observe");
    TRUE(ndim == 99 && shape == NULL && sc == 7 && zp == 7 && all_equal(out, 4, 9.0f));

    /* quant_dtype ranges. */
    OK(s, sc_session_quant_range(s, "fc", "weight", &bits, &is_signed, &qmin, &qmax));
    TRUE(bits == 8 && is_signed == 1 && qmin == -127 && qmax == 127);
    OK(s, sc_session_quant_range(s, "fc2", "weight", &bits, &is_signed, &qmin, &qmax));
    TRUE(bits == 8 && is_signed == 0 && qmin == 0 && qmax == 255);
    OK(s, sc_session_quant_range(s, "fc2", "weight", NULL, NULL, NULL, NULL));

    /* int8 symmetric on [-1, 0.5, 2]: scale = 2 / 127, zero point 0. */
    OK(s, sc_session_observe(s, "fc", "weight", &wt, SC_OBSERVER_MINMAX));
    OK(s, sc_session_scale_shape(s, "fc", "weight", &ndim, &shape));
    TRUE(ndim == 0 && shape != NULL);
    ERR(s, sc_session_observe(s, "fc", "weight", &wt, SC_OBSERVER_EMA), SC_ERROR_STATE, "SC_OBSERVER_MINMAX");
    ERR(s, sc_session_quant_params(s, "fc", "weight", &s1, &zt, NULL, NULL), SC_ERROR_SHAPE, "scale shape");
    ERR(s, sc_session_quant_params(s, "fc", "weight", &st, &zt, &s1, NULL), SC_ERROR_SHAPE, "tracked_min");
    TRUE(sc == 7 && zp == 7 && sc1[0] == 7);
    OK(s, sc_session_quant_params(s, "fc", "weight", &st, &zt, &mint, &maxt));
    TRUE(sc == step && zp == 0.0f && tmin == -1.0f && tmax == 2.0f);
    /* Fake quantization of [-0.5, 0.3, 2, 3]: q = round(x / scale) = -32 (-31.75), 19 (19.05), 127, 127 (clamped). */
    ERR(s, sc_session_fake_quantize(s, "fc", "weight", &xt, &wt, NULL), SC_ERROR_SHAPE, "output");
    ERR(s, sc_session_fake_quantize(s, "fc", "weight", &xt, &ot, &wt), SC_ERROR_SHAPE, "gradient mask");
    TRUE(all_equal(out, 4, 9.0f) && w[0] == -1.0f);
    OK(s, sc_session_fake_quantize(s, "fc", "weight", &xt, &ot, &mt));
    {
        const float want[4] = {-32 * step, 19 * step, 127 * step, 127 * step}, ones[4] = {1, 1, 1, 1};
        TRUE(equal_floats(out, want, 4));
        TRUE(equal_floats(mask, ones, 4)); /* clamp_round: straight through */
        /* sc_session_fake_quantize_as: the method given replaces the target's clamp_round. */
        {
            const float qat_mask[4] = {1, 1, 1, 0}; /* t = -31.75, 19.05, 127 (inside), 190.5 (clamped) */
            float out2[4] = {9, 9, 9, 9}, mask2[4] = {9, 9, 9, 9};
            sc_tensor o2 = tensor(out2, SC_DTYPE_FLOAT32, 1, four, NULL), m2 = tensor(mask2, SC_DTYPE_FLOAT32, 1, four, NULL);
            ERR(s, sc_session_fake_quantize_as(s, "fc", "weight", 3, &xt, &o2, &m2), SC_ERROR_INVALID_ARGUMENT, "apply_method");
            ERR(s, sc_session_fake_quantize_as(s, "fc", "weight", -1, &xt, &o2, &m2), SC_ERROR_INVALID_ARGUMENT, "SC_APPLY_BYPASS");
            ERR(NULL, sc_session_fake_quantize_as(NULL, "fc", "weight", SC_APPLY_BYPASS, &xt, &o2, &m2), SC_ERROR_NULL_POINTER, "session");
            ERR(s, sc_session_fake_quantize_as(s, "fc", "weight", SC_APPLY_CLAMP_ROUND, &xt, NULL, NULL), SC_ERROR_NULL_POINTER, "out");
            TRUE(all_equal(out2, 4, 9.0f) && all_equal(mask2, 4, 9.0f));
            OK(s, sc_session_fake_quantize_as(s, "fc", "weight", SC_APPLY_QAT_CLAMP_ROUND, &xt, &o2, &m2));
            TRUE(equal_floats(out2, want, 4));
            TRUE(equal_floats(mask2, qat_mask, 4));
            OK(s, sc_session_fake_quantize_as(s, "fc", "weight", SC_APPLY_BYPASS, &xt, &o2, &m2));
            TRUE(equal_floats(out2, x, 4));
            TRUE(equal_floats(mask2, ones, 4));
        }
        /* In place, without a mask. */
        OK(s, sc_session_fake_quantize(s, "fc", "weight", &xt, &xt, NULL));
        TRUE(equal_floats(x, want, 4));
    }

    /* uint8 affine on [-1, 3] (two batches, min/max): scale = 4 / 255, zp = 0 - round(-63.75) = 64. */
    {
        float b1[2] = {0.5f, 3.0f}, b2[1] = {-1.0f}, y[5] = {-1, 0, 1, 3, 4}, yo[5], ym[5];
        static const int64_t two[1] = {2}, five[1] = {5};
        sc_tensor b1t = tensor(b1, SC_DTYPE_FLOAT32, 1, two, NULL), b2t = tensor(b2, SC_DTYPE_FLOAT32, 1, one, NULL);
        sc_tensor yt = tensor(y, SC_DTYPE_FLOAT32, 1, five, NULL), yot = tensor(yo, SC_DTYPE_FLOAT32, 1, five, NULL);
        sc_tensor ymt = tensor(ym, SC_DTYPE_FLOAT32, 1, five, NULL);
        double zp64 = -5, sc64 = -5;
        sc_tensor st64 = tensor(&sc64, SC_DTYPE_FLOAT64, 0, NULL, NULL), zt64 = tensor(&zp64, SC_DTYPE_FLOAT64, 0, NULL, NULL);
        const float u = 4.0f / 255.0f;
        OK(s, sc_session_observe(s, "fc2", "weight", &b1t, SC_OBSERVER_MINMAX));
        OK(s, sc_session_observe(s, "fc2", "weight", &b2t, SC_OBSERVER_MINMAX));
        OK(s, sc_session_quant_params(s, "fc2", "weight", &st64, &zt64, NULL, &maxt));
        TRUE(sc64 == (double)u && zp64 == 64.0 && tmax == 3.0f);
        /* qat_clamp_round: t = 64 + y / scale = 0.25, 64, 127.75, 255.25 (clamped), 319 (clamped). */
        OK(s, sc_session_fake_quantize(s, "fc2", "weight", &yt, &yot, &ymt));
        {
            const float want[5] = {-64 * u, 0, 64 * u, 191 * u, 191 * u}, wmask[5] = {1, 1, 1, 0, 0};
            TRUE(equal_floats(yo, want, 5));
            TRUE(equal_floats(ym, wmask, 5));
        }
    }

    /* Per channel (fc2.bias, dim 0): scale shape [2, 1] for a [2, 3] batch. */
    {
        float b[6] = {-1, 0.5f, 2, 0, 1, -4}, scales[2] = {7, 7}, zps[2] = {7, 7}, b9[9] = {0};
        static const int64_t s21[2] = {2, 1}, s2[1] = {2};
        sc_tensor bt = tensor(b, SC_DTYPE_FLOAT32, 2, m23, NULL), b9t = tensor(b9, SC_DTYPE_FLOAT32, 2, m33, NULL);
        sc_tensor sct = tensor(scales, SC_DTYPE_FLOAT32, 2, s21, NULL), zpt = tensor(zps, SC_DTYPE_FLOAT32, 2, s21, NULL);
        sc_tensor flat = tensor(scales, SC_DTYPE_FLOAT32, 1, s2, NULL);
        float scalar = 1;
        sc_tensor scalar_t = tensor(&scalar, SC_DTYPE_FLOAT32, 0, NULL, NULL);
        ERR(s, sc_session_observe(s, "fc2", "bias", &scalar_t, SC_OBSERVER_MINMAX), SC_ERROR_QUANTIZATION, "fc2.bias");
        OK(s, sc_session_observe(s, "fc2", "bias", &bt, SC_OBSERVER_EMA));
        OK(s, sc_session_scale_shape(s, "fc2", "bias", &ndim, &shape));
        TRUE(ndim == 2 && shape[0] == 2 && shape[1] == 1);
        ERR(s, sc_session_observe(s, "fc2", "bias", &b9t, SC_OBSERVER_EMA), SC_ERROR_SHAPE, "scale shape");
        ERR(s, sc_session_quant_params(s, "fc2", "bias", &flat, &zpt, NULL, NULL), SC_ERROR_SHAPE, "[2, 1]");
        OK(s, sc_session_quant_params(s, "fc2", "bias", &sct, &zpt, NULL, NULL));
        TRUE(scales[0] == 2.0f / 127.0f && scales[1] == 4.0f / 127.0f && zps[0] == 0 && zps[1] == 0);
        ERR(s, sc_session_fake_quantize(s, "fc2", "bias", &b9t, &b9t, NULL), SC_ERROR_SHAPE, "block");
        /* EMA: a second batch moves the range by (1 - 0.99) of the difference; products rounded to float32. */
        {
            float c[6] = {-3, 0, 0, 0, 0, 8}, mins[2], maxs[2];
            sc_tensor ct = tensor(c, SC_DTYPE_FLOAT32, 2, m23, NULL);
            sc_tensor mint2 = tensor(mins, SC_DTYPE_FLOAT32, 2, s21, NULL), maxt2 = tensor(maxs, SC_DTYPE_FLOAT32, 2, s21, NULL);
            const float d = 0.99f, r = (float)(1.0 - 0.99);
            float p1, p2;
            OK(s, sc_session_observe(s, "fc2", "bias", &ct, SC_OBSERVER_EMA));
            OK(s, sc_session_quant_params(s, "fc2", "bias", &sct, &zpt, &mint2, &maxt2));
            p1 = -1.0f * d;
            p2 = r * -3.0f;
            TRUE(mins[0] == p1 + p2);
            p1 = 2.0f * d;
            p2 = r * 0.0f;
            TRUE(maxs[0] == p1 + p2);
            p1 = -4.0f * d;
            p2 = r * 0.0f;
            TRUE(mins[1] == p1 + p2);
            p1 = 1.0f * d;
            p2 = r * 8.0f;
            TRUE(maxs[1] == p1 + p2);
        }
    }

    /* A NaN in the range: observing works (NaN tracked, as torch), parameters are refused. */
    {
        float n[2] = {0, 0};
        static const int64_t two[1] = {2};
        sc_tensor nt = tensor(n, SC_DTYPE_FLOAT32, 1, two, NULL);
        sc_session *q = quant_session(kQuantConfig);
        n[1] = (float)NAN;
        OK(q, sc_session_observe(q, "fc", "weight", &nt, SC_OBSERVER_MINMAX));
        sc = 7;
        ERR(q, sc_session_quant_params(q, "fc", "weight", &st, &zt, NULL, NULL), SC_ERROR_QUANTIZATION, "NaN");
        ERR(q, sc_session_fake_quantize(q, "fc", "weight", &nt, &nt, NULL), SC_ERROR_QUANTIZATION, "fc.weight");
        TRUE(sc == 7 && n[0] == 0);
        sc_session_free(q);
    }

    /* Setting the config again drops the observers. */
    OK(s, sc_session_set_config(s, kQuantConfig, (size_t)-1));
    ERR(s, sc_session_quant_params(s, "fc", "weight", &st, &zt, NULL, NULL), SC_ERROR_STATE, "no batch");
    sc_session_free(s);
}

static void quant_bypass_and_modes(void) {
    static const int64_t three[1] = {3};
    float v[3] = {1.25f, -2, 3}, o[3] = {0}, m[3] = {5, 5, 5}, sc = 7, zp = 7;
    double o64[3] = {0};
    size_t ndim = 99;
    const int64_t *shape = NULL;
    int bits = -1;
    sc_tensor vt = tensor(v, SC_DTYPE_FLOAT32, 1, three, NULL), ot = tensor(o, SC_DTYPE_FLOAT32, 1, three, NULL);
    sc_tensor mt = tensor(m, SC_DTYPE_FLOAT32, 1, three, NULL), o64t = tensor(o64, SC_DTYPE_FLOAT64, 1, three, NULL);
    sc_tensor st = tensor(&sc, SC_DTYPE_FLOAT32, 0, NULL, NULL), zt = tensor(&zp, SC_DTYPE_FLOAT32, 0, NULL, NULL);
    sc_session *q = quant_session("[{\"op_names\": [\"fc\"], \"target_names\": [\"weight\"], \"apply_method\": \"bypass\"}]");
    sc_session *p = pruning_session(kLevelHalf), *d = distill_session(kMseHalf, 0);

    /* bypass needs no observer: out = x, mask all 1. */
    OK(q, sc_session_fake_quantize(q, "fc", "weight", &vt, &ot, &mt));
    TRUE(o[0] == 1.25f && o[1] == -2 && o[2] == 3 && all_equal(m, 3, 1.0f));
    OK(q, sc_session_fake_quantize(q, "fc", "weight", &vt, &o64t, NULL));
    TRUE(o64[0] == 1.25 && o64[1] == -2 && o64[2] == 3);
    sc_session_free(q);

    /* Quantization calls on pruning and distillation sessions. */
    ERR(p, sc_session_observe(p, "fc", "weight", &vt, SC_OBSERVER_MINMAX), SC_ERROR_STATE, "quantization");
    ERR(p, sc_session_scale_shape(p, "fc", "weight", &ndim, &shape), SC_ERROR_STATE, "quantization");
    ERR(p, sc_session_quant_params(p, "fc", "weight", &st, &zt, NULL, NULL), SC_ERROR_STATE, "quantization");
    ERR(p, sc_session_fake_quantize(p, "fc", "weight", &vt, &ot, NULL), SC_ERROR_STATE, "quantization");
    ERR(p, sc_session_quant_range(p, "fc", "weight", &bits, NULL, NULL, NULL), SC_ERROR_STATE, "quantization");
    ERR(d, sc_session_observe(d, "fc", "_output_0", &vt, SC_OBSERVER_MINMAX), SC_ERROR_STATE, "quantization");
    ERR(d, sc_session_fake_quantize(d, "fc", "_output_0", &vt, &ot, NULL), SC_ERROR_STATE, "quantization");
    TRUE(ndim == 99 && shape == NULL && sc == 7 && bits == -1);
    sc_session_free(p);
    sc_session_free(d);

    /* A freed quantization session. */
    q = quant_session(kQuantConfig);
    sc_session_free(q);
    ERR(NULL, sc_session_observe(q, "fc", "weight", &vt, SC_OBSERVER_MINMAX), SC_ERROR_INVALID_ARGUMENT, "session");
    ERR(NULL, sc_session_scale_shape(q, "fc", "weight", &ndim, &shape), SC_ERROR_INVALID_ARGUMENT, "session");
    ERR(NULL, sc_session_quant_params(q, "fc", "weight", &st, &zt, NULL, NULL), SC_ERROR_INVALID_ARGUMENT, "session");
    ERR(NULL, sc_session_fake_quantize(q, "fc", "weight", &vt, &ot, NULL), SC_ERROR_INVALID_ARGUMENT, "session");
    ERR(NULL, sc_session_quant_range(q, "fc", "weight", &bits, NULL, NULL, NULL), SC_ERROR_INVALID_ARGUMENT, "session");
}

/* ---------------------------------------------------------------------------------------------
 * Real quantization, dequantization, batch-norm folding
 * ------------------------------------------------------------------------------------------- */

/* fc.weight: int4 symmetric per tensor; fc2.weight: uint8 affine per tensor; fc2.bias: int8
 * symmetric per channel (dim 0). */
static const char *kRealConfig =
    "[{\"op_names\": [\"fc\"], \"target_names\": [\"weight\"], \"quant_dtype\": \"int4\"},"
    " {\"op_names\": [\"fc2\"], \"target_names\": [\"weight\"], \"quant_dtype\": \"uint8\", \"quant_scheme\": \"affine\"},"
    " {\"op_names\": [\"fc2\"], \"target_names\": [\"bias\"], \"quant_dtype\": \"int8\", \"granularity\": \"per_channel\"}]";

static int bytes_equal(const unsigned char *a, const unsigned char *b, size_t n) { return memcmp(a, b, n) == 0; }

static void qstorage_bytes(void) {
    size_t n = 77;
    OK(NULL, sc_qstorage_bytes(SC_QSTORAGE_INT4, 7, &n));
    TRUE(n == 4);
    OK(NULL, sc_qstorage_bytes(SC_QSTORAGE_UINT4, 8, &n));
    TRUE(n == 4);
    OK(NULL, sc_qstorage_bytes(SC_QSTORAGE_INT16, 3, &n));
    TRUE(n == 6);
    OK(NULL, sc_qstorage_bytes(SC_QSTORAGE_UINT8, 0, &n));
    TRUE(n == 0);
    n = 77;
    ERR(NULL, sc_qstorage_bytes(6, 3, &n), SC_ERROR_INVALID_ARGUMENT, "storage");
    ERR(NULL, sc_qstorage_bytes(-1, 3, &n), SC_ERROR_INVALID_ARGUMENT, "SC_QSTORAGE_UINT4");
    ERR(NULL, sc_qstorage_bytes(SC_QSTORAGE_INT16, (size_t)-1, &n), SC_ERROR_INVALID_ARGUMENT, "count");
    ERR(NULL, sc_qstorage_bytes(SC_QSTORAGE_INT8, 3, NULL), SC_ERROR_NULL_POINTER, "bytes");
    TRUE(n == 77);
}

static void real_quant_session(void) {
    static const int64_t three[1] = {3}, seven[1] = {7}, m23[2] = {2, 3}, m33[2] = {3, 3}, broadcast[2] = {0, 1};
    /* int4 symmetric on [-3.5, 1, 7]: scale = 7 / ((7 - -7) / 2) = 1, zero point 0. */
    float w[3] = {-3.5f, 1.0f, 7.0f};
    /* q = round_half_even(clamp(x, -7, 7)): -4, 2, 2, 7, -7, 0, 6; nibbles C 2 2 7 9 0 6. */
    float x4[7] = {-3.5f, 1.5f, 2.5f, 7.9f, -9.0f, 0.4f, 6.0f}, back4[7];
    unsigned char q4[16], want4[5] = {0x2C, 0x72, 0x09, 0x06, 0xFF}, untouched[16];
    sc_tensor wt = tensor(w, SC_DTYPE_FLOAT32, 1, three, NULL), x4t = tensor(x4, SC_DTYPE_FLOAT32, 1, seven, NULL);
    sc_tensor b4t = tensor(back4, SC_DTYPE_FLOAT32, 1, seven, NULL);
    size_t nans = 99;
    sc_session *s = quant_session(NULL);
    sc_session *p = pruning_session(kLevelHalf);

    memset(q4, 0xFF, sizeof q4);
    memset(untouched, 0xFF, sizeof untouched);
    /* Before a config, before a batch, on a pruning session. */
    ERR(s, sc_session_quantize(s, "fc", "weight", &x4t, q4, 5, SC_QSTORAGE_INT4, &nans), SC_ERROR_STATE, "config");
    ERR(p, sc_session_quantize(p, "fc", "weight", &x4t, q4, 5, SC_QSTORAGE_INT4, &nans), SC_ERROR_STATE, "quantization");
    ERR(p, sc_session_dequantize(p, "fc", "weight", q4, 5, SC_QSTORAGE_INT4, &b4t), SC_ERROR_STATE, "quantization");
    OK(s, sc_session_set_config(s, kRealConfig, (size_t)-1));
    ERR(s, sc_session_quantize(s, "fc", "weight", &x4t, q4, 5, SC_QSTORAGE_INT4, &nans), SC_ERROR_STATE, "sc_session_observe");
    ERR(s, sc_session_dequantize(s, "fc", "weight", q4, 5, SC_QSTORAGE_INT4, &b4t), SC_ERROR_STATE, "sc_session_observe");
    OK(s, sc_session_observe(s, "fc", "weight", &wt, SC_OBSERVER_MINMAX));

    /* NULL pointers, bad arguments. */
    ERR(NULL, sc_session_quantize(NULL, "fc", "weight", &x4t, q4, 5, SC_QSTORAGE_INT4, &nans), SC_ERROR_NULL_POINTER, "session");
    ERR(s, sc_session_quantize(s, NULL, "weight", &x4t, q4, 5, SC_QSTORAGE_INT4, &nans), SC_ERROR_NULL_POINTER, "module_name");
    ERR(s, sc_session_quantize(s, "fc", NULL, &x4t, q4, 5, SC_QSTORAGE_INT4, &nans), SC_ERROR_NULL_POINTER, "target_name");
    ERR(s, sc_session_quantize(s, "fc", "weight", NULL, q4, 5, SC_QSTORAGE_INT4, &nans), SC_ERROR_NULL_POINTER, "x");
    ERR(s, sc_session_quantize(s, "fc", "weight", &x4t, NULL, 5, SC_QSTORAGE_INT4, &nans), SC_ERROR_NULL_POINTER, "out");
    ERR(s, sc_session_quantize(s, "fc", "weight", &x4t, q4, 5, 6, &nans), SC_ERROR_INVALID_ARGUMENT, "storage");
    ERR(s, sc_session_quantize(s, "fc", "weight", &x4t, q4, 5, -1, &nans), SC_ERROR_INVALID_ARGUMENT, "SC_QSTORAGE_INT8");
    /* 7 int4 values need 4 bytes; 7 int8 values need 7. */
    ERR(s, sc_session_quantize(s, "fc", "weight", &x4t, q4, 3, SC_QSTORAGE_INT4, &nans), SC_ERROR_INVALID_ARGUMENT, "out_bytes");
    ERR(s, sc_session_quantize(s, "fc", "weight", &x4t, q4, 5, SC_QSTORAGE_INT8, &nans), SC_ERROR_INVALID_ARGUMENT, "need 7 byte");
    ERR(s, sc_session_quantize(s, "fc", "bias", &x4t, q4, 5, SC_QSTORAGE_INT4, &nans), SC_ERROR_UNKNOWN_NAME, "fc.bias");
    {
        sc_tensor bad = x4t;
        bad.dtype = 7;
        ERR(s, sc_session_quantize(s, "fc", "weight", &bad, q4, 5, SC_QSTORAGE_INT4, &nans), SC_ERROR_DTYPE, "dtype");
        bad = x4t;
        bad.ndim = -1;
        ERR(s, sc_session_quantize(s, "fc", "weight", &bad, q4, 5, SC_QSTORAGE_INT4, &nans), SC_ERROR_SHAPE, "ndim");
        ERR(s, sc_session_dequantize(s, "fc", "weight", q4, 5, SC_QSTORAGE_INT4, &bad), SC_ERROR_SHAPE, "ndim");
    }
    /* int4 values fit the 4-bit and wider signed layouts, not the unsigned ones. */
    ERR(s, sc_session_quantize(s, "fc", "weight", &x4t, q4, 5, SC_QSTORAGE_UINT4, &nans), SC_ERROR_DTYPE, "quant_dtype");
    ERR(s, sc_session_quantize(s, "fc", "weight", &x4t, q4, 16, SC_QSTORAGE_UINT8, &nans), SC_ERROR_DTYPE, "int4");
    TRUE(bytes_equal(q4, untouched, 16) && nans == 99);

    /* Packed int4, odd count: the last high nibble is 0, the fifth byte is not touched. */
    OK(s, sc_session_quantize(s, "fc", "weight", &x4t, q4, 5, SC_QSTORAGE_INT4, &nans));
    TRUE(bytes_equal(q4, want4, 5) && nans == 0);
    OK(s, sc_session_quantize(s, "fc", "weight", &x4t, q4, 4, SC_QSTORAGE_INT4, NULL));
    TRUE(bytes_equal(q4, want4, 5));
    /* Dequantize: (q - 0) * 1. */
    ERR(s, sc_session_dequantize(s, "fc", "weight", NULL, 4, SC_QSTORAGE_INT4, &b4t), SC_ERROR_NULL_POINTER, "q");
    ERR(s, sc_session_dequantize(s, "fc", "weight", q4, 4, SC_QSTORAGE_INT4, NULL), SC_ERROR_NULL_POINTER, "out");
    ERR(s, sc_session_dequantize(s, "fc", "weight", q4, 3, SC_QSTORAGE_INT4, &b4t), SC_ERROR_INVALID_ARGUMENT, "q_bytes");
    ERR(s, sc_session_dequantize(s, "fc", "weight", q4, 4, 9, &b4t), SC_ERROR_INVALID_ARGUMENT, "storage");
    ERR(s, sc_session_dequantize(s, "fc", "weight", q4, 4, SC_QSTORAGE_UINT4, &b4t), SC_ERROR_DTYPE, "quant_dtype");
    OK(s, sc_session_dequantize(s, "fc", "weight", q4, 4, SC_QSTORAGE_INT4, &b4t));
    {
        const float want[7] = {-4, 2, 2, 7, -7, 0, 6};
        TRUE(equal_floats(back4, want, 7));
    }
    /* The same values as int8 and int16 (native byte order). */
    {
        signed char q8[7];
        int16_t q16[7];
        const signed char w8[7] = {-4, 2, 2, 7, -7, 0, 6};
        const int16_t w16[7] = {-4, 2, 2, 7, -7, 0, 6};
        OK(s, sc_session_quantize(s, "fc", "weight", &x4t, q8, 7, SC_QSTORAGE_INT8, NULL));
        TRUE(memcmp(q8, w8, 7) == 0);
        OK(s, sc_session_quantize(s, "fc", "weight", &x4t, q16, sizeof q16, SC_QSTORAGE_INT16, NULL));
        TRUE(memcmp(q16, w16, sizeof q16) == 0);
    }

    /* uint8 affine on [-1, 3]: scale = 4 / 255, zero point 64; t = 64 + y / scale = 0.25, 64,
     * 127.75, 255.25, 319, NaN -> 0, 64, 128, 255, 255 and the zero point for NaN. */
    {
        float b1[3] = {0.5f, 3.0f, -1.0f}, y[6] = {-1, 0, 1, 3, 4, 0}, yb[6] = {9, 9, 9, 9, 9, 9};
        double y64[6];
        unsigned char q8[6], w8[6] = {0, 64, 128, 255, 255, 64};
        uint16_t q16[6];
        const uint16_t w16[6] = {0, 64, 128, 255, 255, 64};
        static const int64_t six[1] = {6};
        sc_tensor b1t = tensor(b1, SC_DTYPE_FLOAT32, 1, three, NULL), yt = tensor(y, SC_DTYPE_FLOAT32, 1, six, NULL);
        sc_tensor ybt = tensor(yb, SC_DTYPE_FLOAT32, 1, six, NULL), y64t = tensor(y64, SC_DTYPE_FLOAT64, 1, six, NULL);
        const float u = 4.0f / 255.0f;
        y[5] = (float)NAN;
        OK(s, sc_session_observe(s, "fc2", "weight", &b1t, SC_OBSERVER_MINMAX));
        ERR(s, sc_session_quantize(s, "fc2", "weight", &yt, q8, 6, SC_QSTORAGE_INT8, &nans), SC_ERROR_DTYPE, "uint8");
        ERR(s, sc_session_quantize(s, "fc2", "weight", &yt, q8, 6, SC_QSTORAGE_INT4, &nans), SC_ERROR_DTYPE, "quant_dtype");
        OK(s, sc_session_quantize(s, "fc2", "weight", &yt, q8, 6, SC_QSTORAGE_UINT8, &nans));
        TRUE(bytes_equal(q8, w8, 6) && nans == 1);
        /* uint8 values fit int16 too. */
        OK(s, sc_session_quantize(s, "fc2", "weight", &yt, q16, sizeof q16, SC_QSTORAGE_INT16, &nans));
        TRUE(memcmp(q16, w16, sizeof q16) == 0 && nans == 1);
        OK(s, sc_session_dequantize(s, "fc2", "weight", q8, 6, SC_QSTORAGE_UINT8, &ybt));
        {
            const float want[6] = {-64 * u, 0, 64 * u, 191 * u, 191 * u, 0};
            TRUE(equal_floats(yb, want, 6));
        }
        /* float64 out: (q - zp) * scale in float64 with the float32 scale. */
        OK(s, sc_session_dequantize(s, "fc2", "weight", q16, sizeof q16, SC_QSTORAGE_UINT16, &y64t));
        TRUE(y64[0] == -64.0 * (double)u && y64[1] == 0 && y64[3] == 191.0 * (double)u);
    }

    /* Per channel (fc2.bias, dim 0) on [[-127, 3, 127], [0, 254, -10]]: scales 1 and 2, zero points
     * 0. x = [[-2.5, 3.5, 200], [5, -3, 1000]] given transposed in memory (strides {1, 2}):
     * q = [[-2, 4, 127], [2, -2, 127]] in logical order. */
    {
        float b[6] = {-127, 3, 127, 0, 254, -10}, xt_data[6] = {-2.5f, 5, 3.5f, -3, 200, 1000}, back[6], big[9] = {0};
        signed char q8[6], w8[6] = {-2, 4, 127, 2, -2, 127};
        static const int64_t strides_t[2] = {1, 2};
        sc_tensor bt = tensor(b, SC_DTYPE_FLOAT32, 2, m23, NULL), xt = tensor(xt_data, SC_DTYPE_FLOAT32, 2, m23, strides_t);
        sc_tensor backt = tensor(back, SC_DTYPE_FLOAT32, 2, m23, NULL), bigt = tensor(big, SC_DTYPE_FLOAT32, 2, m33, NULL);
        sc_tensor overlap = tensor(back, SC_DTYPE_FLOAT32, 2, m23, broadcast);
        OK(s, sc_session_observe(s, "fc2", "bias", &bt, SC_OBSERVER_MINMAX));
        ERR(s, sc_session_quantize(s, "fc2", "bias", &bigt, q8, 9, SC_QSTORAGE_INT8, NULL), SC_ERROR_SHAPE, "block");
        OK(s, sc_session_quantize(s, "fc2", "bias", &xt, q8, 6, SC_QSTORAGE_INT8, NULL));
        TRUE(memcmp(q8, w8, 6) == 0);
        ERR(s, sc_session_dequantize(s, "fc2", "bias", q8, 9, SC_QSTORAGE_INT8, &bigt), SC_ERROR_SHAPE, "block");
        ERR(s, sc_session_dequantize(s, "fc2", "bias", q8, 6, SC_QSTORAGE_INT8, &overlap), SC_ERROR_SHAPE, "overlap");
        OK(s, sc_session_dequantize(s, "fc2", "bias", q8, 6, SC_QSTORAGE_INT8, &backt));
        {
            const float want[6] = {-2, 4, 127, 4, -4, 254};
            TRUE(equal_floats(back, want, 6) && all_equal(big, 9, 0.0f));
        }
    }
    sc_session_free(s);

    /* A freed session. */
    ERR(NULL, sc_session_quantize(s, "fc", "weight", &x4t, q4, 5, SC_QSTORAGE_INT4, &nans), SC_ERROR_INVALID_ARGUMENT, "session");
    ERR(NULL, sc_session_dequantize(s, "fc", "weight", q4, 5, SC_QSTORAGE_INT4, &b4t), SC_ERROR_INVALID_ARGUMENT, "session");
    sc_session_free(p);
}

static void real_quant_explicit(void) {
    static const int64_t five[1] = {5}, m23[2] = {2, 3}, s21[2] = {2, 1}, s12[2] = {1, 2}, three[1] = {3}, s31[2] = {3, 1};
    /* uint4 per tensor, scale 0.5, zero point 3: t = 3 + 2x = 1, 3, 5.5, 15.2, 4.5 -> 1, 3, 6, 15, 4. */
    float x[5] = {-1, 0, 1.25f, 6.1f, 0.75f}, back[5] = {9, 9, 9, 9, 9}, scale = 0.5f, zp = 3;
    double scale64 = 0.5, zp64 = 3;
    unsigned char q[4], want[4] = {0x31, 0xF6, 0x04, 0xAA}, untouched[4];
    sc_tensor xt = tensor(x, SC_DTYPE_FLOAT32, 1, five, NULL), bt = tensor(back, SC_DTYPE_FLOAT32, 1, five, NULL);
    sc_tensor st = tensor(&scale, SC_DTYPE_FLOAT32, 0, NULL, NULL), zt = tensor(&zp, SC_DTYPE_FLOAT32, 0, NULL, NULL);
    sc_tensor st64 = tensor(&scale64, SC_DTYPE_FLOAT64, 0, NULL, NULL), zt64 = tensor(&zp64, SC_DTYPE_FLOAT64, 0, NULL, NULL);
    size_t nans = 99;

    memset(q, 0xAA, sizeof q);
    memset(untouched, 0xAA, sizeof untouched);
    ERR(NULL, sc_quantize(NULL, &st, &zt, 4, 0, q, 3, SC_QSTORAGE_UINT4, &nans), SC_ERROR_NULL_POINTER, "x");
    ERR(NULL, sc_quantize(&xt, NULL, &zt, 4, 0, q, 3, SC_QSTORAGE_UINT4, &nans), SC_ERROR_NULL_POINTER, "scale");
    ERR(NULL, sc_quantize(&xt, &st, NULL, 4, 0, q, 3, SC_QSTORAGE_UINT4, &nans), SC_ERROR_NULL_POINTER, "zero_point");
    ERR(NULL, sc_quantize(&xt, &st, &zt, 4, 0, NULL, 3, SC_QSTORAGE_UINT4, &nans), SC_ERROR_NULL_POINTER, "out");
    ERR(NULL, sc_quantize(&xt, &st, &zt, 1, 0, q, 3, SC_QSTORAGE_UINT4, &nans), SC_ERROR_INVALID_ARGUMENT, "bits");
    ERR(NULL, sc_quantize(&xt, &st, &zt, 17, 0, q, 3, SC_QSTORAGE_UINT4, &nans), SC_ERROR_INVALID_ARGUMENT, "2 to 16");
    ERR(NULL, sc_quantize(&xt, &st, &zt, 4, 2, q, 3, SC_QSTORAGE_UINT4, &nans), SC_ERROR_INVALID_ARGUMENT, "is_signed");
    ERR(NULL, sc_quantize(&xt, &st, &zt, 4, 0, q, 3, 17, &nans), SC_ERROR_INVALID_ARGUMENT, "storage");
    ERR(NULL, sc_quantize(&xt, &st, &zt, 4, 0, q, 2, SC_QSTORAGE_UINT4, &nans), SC_ERROR_INVALID_ARGUMENT, "out_bytes");
    ERR(NULL, sc_quantize(&xt, &st, &zt, 8, 0, q, 4, SC_QSTORAGE_UINT4, &nans), SC_ERROR_DTYPE, "uint8");
    ERR(NULL, sc_quantize(&xt, &st, &zt, 4, 0, q, 4, SC_QSTORAGE_INT4, &nans), SC_ERROR_DTYPE, "quant_dtype");
    {
        float bad_scale = 0, bad_zp = 2.5f, big_zp = 16;
        sc_tensor bs = tensor(&bad_scale, SC_DTYPE_FLOAT32, 0, NULL, NULL), bz = tensor(&bad_zp, SC_DTYPE_FLOAT32, 0, NULL, NULL);
        sc_tensor gz = tensor(&big_zp, SC_DTYPE_FLOAT32, 0, NULL, NULL);
        ERR(NULL, sc_quantize(&xt, &bs, &zt, 4, 0, q, 3, SC_QSTORAGE_UINT4, &nans), SC_ERROR_QUANTIZATION, "scale");
        bad_scale = (float)NAN;
        ERR(NULL, sc_quantize(&xt, &bs, &zt, 4, 0, q, 3, SC_QSTORAGE_UINT4, &nans), SC_ERROR_QUANTIZATION, "finite");
        ERR(NULL, sc_quantize(&xt, &st, &bz, 4, 0, q, 3, SC_QSTORAGE_UINT4, &nans), SC_ERROR_QUANTIZATION, "zero point");
        ERR(NULL, sc_quantize(&xt, &st, &gz, 4, 0, q, 3, SC_QSTORAGE_UINT4, &nans), SC_ERROR_QUANTIZATION, "[0, 15]");
        /* The same zero point is fine for uint8 in uint8 storage. */
    }
    TRUE(bytes_equal(q, untouched, 4) && nans == 99);
    OK(NULL, sc_quantize(&xt, &st, &zt, 4, 0, q, 4, SC_QSTORAGE_UINT4, &nans));
    TRUE(bytes_equal(q, want, 4) && nans == 0);
    /* float64 parameters. */
    memset(q, 0xAA, sizeof q);
    OK(NULL, sc_quantize(&xt, &st64, &zt64, 4, 0, q, 3, SC_QSTORAGE_UINT4, NULL));
    TRUE(bytes_equal(q, want, 4));
    ERR(NULL, sc_dequantize(NULL, 3, SC_QSTORAGE_UINT4, &st, &zt, 4, 0, &bt), SC_ERROR_NULL_POINTER, "q");
    ERR(NULL, sc_dequantize(q, 3, SC_QSTORAGE_UINT4, &st, &zt, 4, 0, NULL), SC_ERROR_NULL_POINTER, "out");
    ERR(NULL, sc_dequantize(q, 2, SC_QSTORAGE_UINT4, &st, &zt, 4, 0, &bt), SC_ERROR_INVALID_ARGUMENT, "q_bytes");
    ERR(NULL, sc_dequantize(q, 3, SC_QSTORAGE_UINT4, &st, &zt, 0, 0, &bt), SC_ERROR_INVALID_ARGUMENT, "bits");
    TRUE(all_equal(back, 5, 9.0f));
    OK(NULL, sc_dequantize(q, 3, SC_QSTORAGE_UINT4, &st, &zt, 4, 0, &bt));
    {
        const float w[5] = {-1, 0, 1.5f, 6, 0.5f};
        TRUE(equal_floats(back, w, 5));
    }

    /* Blocks from the scale's shape: [2, 1] per row of a [2, 3] x; [1, 2] does not divide 3. */
    {
        float m[6] = {-2.5f, 3.5f, 200, 5, -3, 1000}, sc2[2] = {1, 2}, zp2[2] = {0, 0}, sc3[3] = {1, 2, 3};
        signed char q8[6], w8[6] = {-2, 4, 127, 2, -2, 127};
        sc_tensor mt = tensor(m, SC_DTYPE_FLOAT32, 2, m23, NULL);
        sc_tensor s2 = tensor(sc2, SC_DTYPE_FLOAT32, 2, s21, NULL), z2 = tensor(zp2, SC_DTYPE_FLOAT32, 2, s21, NULL);
        sc_tensor s2r = tensor(sc2, SC_DTYPE_FLOAT32, 2, s12, NULL), z2flat = tensor(zp2, SC_DTYPE_FLOAT32, 1, s21 + 1, NULL);
        sc_tensor s3 = tensor(sc3, SC_DTYPE_FLOAT32, 1, three, NULL), s3b = tensor(sc3, SC_DTYPE_FLOAT32, 2, s31, NULL);
        ERR(NULL, sc_quantize(&mt, &s2r, &s2r, 8, 1, q8, 6, SC_QSTORAGE_INT8, NULL), SC_ERROR_SHAPE, "scale");
        ERR(NULL, sc_quantize(&mt, &s3, &s3, 8, 1, q8, 6, SC_QSTORAGE_INT8, NULL), SC_ERROR_SHAPE, "[2, 3]");
        ERR(NULL, sc_quantize(&mt, &s3b, &s3b, 8, 1, q8, 6, SC_QSTORAGE_INT8, NULL), SC_ERROR_SHAPE, "divid");
        ERR(NULL, sc_quantize(&mt, &s2, &z2flat, 8, 1, q8, 6, SC_QSTORAGE_INT8, NULL), SC_ERROR_SHAPE, "zero_point");
        OK(NULL, sc_quantize(&mt, &s2, &z2, 8, 1, q8, 6, SC_QSTORAGE_INT8, NULL));
        TRUE(memcmp(q8, w8, 6) == 0);
        OK(NULL, sc_dequantize(q8, 6, SC_QSTORAGE_INT8, &s2, &z2, 8, 1, &mt));
        {
            const float want_m[6] = {-2, 4, 127, 4, -4, 254};
            TRUE(equal_floats(m, want_m, 6));
        }
    }
    /* An empty x: nothing to write, NULL out is fine. */
    {
        static const int64_t zero[1] = {0};
        float e = 0;
        sc_tensor et = tensor(&e, SC_DTYPE_FLOAT32, 1, zero, NULL);
        nans = 5;
        OK(NULL, sc_quantize(&et, &st, &zt, 8, 1, NULL, 0, SC_QSTORAGE_INT8, &nans));
        TRUE(nans == 0);
        /* A [0, 4] x cannot be cut into 2 blocks along dim 0. */
        {
            static const int64_t x04[2] = {0, 4}, s22[2] = {2, 2};
            float s4[4] = {1, 1, 1, 1}, z4[4] = {0, 0, 0, 0};
            sc_tensor x04t = tensor(&e, SC_DTYPE_FLOAT32, 2, x04, NULL), s22t = tensor(s4, SC_DTYPE_FLOAT32, 2, s22, NULL);
            sc_tensor z22t = tensor(z4, SC_DTYPE_FLOAT32, 2, s22, NULL);
            ERR(NULL, sc_quantize(&x04t, &s22t, &z22t, 8, 1, NULL, 0, SC_QSTORAGE_INT8, &nans), SC_ERROR_SHAPE, "[0, 4]");
        }
    }
}

static void fold_batch_norm(void) {
    static const int64_t m22[2] = {2, 2}, two[1] = {2}, three[1] = {3}, four[1] = {4}, z21[2] = {2, 1}, zero_strides[2] = {0, 1};
    /* W = [[1, 2], [3, 4]], b = [0.5, -1], gamma = [2, 0.5], beta = [1, 0], mean = [0.5, 1],
     * var = [3, 15], eps = 1: r = [0.5, 0.25], gamma * r = [1, 0.125];
     * W' = [[1, 2], [0.375, 0.5]]; b' = [1, -0.25] (both orders are exact here). */
    float w[4] = {1, 2, 3, 4}, b[2] = {0.5f, -1}, g[2] = {2, 0.5f}, be[2] = {1, 0}, mean[2] = {0.5f, 1}, var[2] = {3, 15};
    float fw[4] = {9, 9, 9, 9}, fb[2] = {9, 9}, b3[3] = {0, 0, 0};
    double fb64[2] = {9, 9};
    sc_tensor wt = tensor(w, SC_DTYPE_FLOAT32, 2, m22, NULL), bt = tensor(b, SC_DTYPE_FLOAT32, 1, two, NULL);
    sc_tensor gt = tensor(g, SC_DTYPE_FLOAT32, 1, two, NULL), bet = tensor(be, SC_DTYPE_FLOAT32, 1, two, NULL);
    sc_tensor mt = tensor(mean, SC_DTYPE_FLOAT32, 1, two, NULL), vt = tensor(var, SC_DTYPE_FLOAT32, 2, z21, NULL);
    sc_tensor fwt = tensor(fw, SC_DTYPE_FLOAT32, 2, m22, NULL), fbt = tensor(fb, SC_DTYPE_FLOAT32, 1, two, NULL);
    sc_tensor fb64t = tensor(fb64, SC_DTYPE_FLOAT64, 1, two, NULL), b3t = tensor(b3, SC_DTYPE_FLOAT32, 1, three, NULL);
    sc_tensor flat = tensor(fw, SC_DTYPE_FLOAT32, 1, four, NULL), overlap = tensor(fw, SC_DTYPE_FLOAT32, 2, m22, zero_strides);
    sc_tensor scalar = tensor(w, SC_DTYPE_FLOAT32, 0, NULL, NULL), bad;

    ERR(NULL, sc_fold_batch_norm(2, &wt, &bt, &gt, &bet, &mt, &vt, 1.0, &fwt, &fbt), SC_ERROR_INVALID_ARGUMENT, "layer");
    ERR(NULL, sc_fold_batch_norm(-1, &wt, &bt, &gt, &bet, &mt, &vt, 1.0, &fwt, &fbt), SC_ERROR_INVALID_ARGUMENT, "SC_FOLD_LINEAR");
    ERR(NULL, sc_fold_batch_norm(SC_FOLD_CONV, &wt, &bt, &gt, &bet, &mt, &vt, -1.0, &fwt, &fbt), SC_ERROR_INVALID_ARGUMENT, "eps");
    ERR(NULL, sc_fold_batch_norm(SC_FOLD_CONV, &wt, &bt, &gt, &bet, &mt, &vt, (double)NAN, &fwt, &fbt), SC_ERROR_INVALID_ARGUMENT, "nan");
    ERR(NULL, sc_fold_batch_norm(SC_FOLD_CONV, NULL, &bt, &gt, &bet, &mt, &vt, 1.0, &fwt, &fbt), SC_ERROR_NULL_POINTER, "weight");
    ERR(NULL, sc_fold_batch_norm(SC_FOLD_CONV, &wt, &bt, &gt, &bet, NULL, &vt, 1.0, &fwt, &fbt), SC_ERROR_NULL_POINTER, "running_mean");
    ERR(NULL, sc_fold_batch_norm(SC_FOLD_CONV, &wt, &bt, &gt, &bet, &mt, NULL, 1.0, &fwt, &fbt), SC_ERROR_NULL_POINTER, "running_var");
    ERR(NULL, sc_fold_batch_norm(SC_FOLD_CONV, &wt, &bt, &gt, &bet, &mt, &vt, 1.0, NULL, &fbt), SC_ERROR_NULL_POINTER, "folded_weight");
    ERR(NULL, sc_fold_batch_norm(SC_FOLD_CONV, &wt, &bt, &gt, &bet, &mt, &vt, 1.0, &fwt, NULL), SC_ERROR_NULL_POINTER, "folded_bias");
    ERR(NULL, sc_fold_batch_norm(SC_FOLD_CONV, &wt, &b3t, &gt, &bet, &mt, &vt, 1.0, &fwt, &fbt), SC_ERROR_SHAPE, "bias has 3");
    ERR(NULL, sc_fold_batch_norm(SC_FOLD_CONV, &wt, &bt, &b3t, &bet, &mt, &vt, 1.0, &fwt, &fbt), SC_ERROR_SHAPE, "bn_weight");
    ERR(NULL, sc_fold_batch_norm(SC_FOLD_CONV, &wt, &bt, &gt, &bet, &b3t, &vt, 1.0, &fwt, &fbt), SC_ERROR_SHAPE, "running_mean");
    ERR(NULL, sc_fold_batch_norm(SC_FOLD_CONV, &wt, &bt, &gt, &bet, &mt, &vt, 1.0, &fwt, &b3t), SC_ERROR_SHAPE, "folded_bias");
    ERR(NULL, sc_fold_batch_norm(SC_FOLD_CONV, &wt, &bt, &gt, &bet, &mt, &vt, 1.0, &flat, &fbt), SC_ERROR_SHAPE, "folded_weight");
    ERR(NULL, sc_fold_batch_norm(SC_FOLD_CONV, &wt, &bt, &gt, &bet, &mt, &vt, 1.0, &overlap, &fbt), SC_ERROR_SHAPE, "overlap");
    ERR(NULL, sc_fold_batch_norm(SC_FOLD_CONV, &scalar, &bt, &gt, &bet, &mt, &vt, 1.0, &fwt, &fbt), SC_ERROR_SHAPE, "ndim 0");
    bad = gt;
    bad.dtype = 4;
    ERR(NULL, sc_fold_batch_norm(SC_FOLD_CONV, &wt, &bt, &bad, &bet, &mt, &vt, 1.0, &fwt, &fbt), SC_ERROR_DTYPE, "bn_weight");
    TRUE(all_equal(fw, 4, 9.0f) && all_equal(fb, 2, 9.0f));

    OK(NULL, sc_fold_batch_norm(SC_FOLD_CONV, &wt, &bt, &gt, &bet, &mt, &vt, 1.0, &fwt, &fbt));
    {
        const float ww[4] = {1, 2, 0.375f, 0.5f}, wb[2] = {1, -0.25f};
        TRUE(equal_floats(fw, ww, 4) && equal_floats(fb, wb, 2));
    }
    OK(NULL, sc_fold_batch_norm(SC_FOLD_LINEAR, &wt, &bt, &gt, &bet, &mt, &vt, 1.0, &fwt, &fb64t));
    TRUE(fb64[0] == 1.0 && fb64[1] == -0.25);
    /* affine=False and no layer bias: W' = W * r = [[0.5, 1], [0.75, 1]], b' = -mean * r = [-0.25, -0.25]. */
    OK(NULL, sc_fold_batch_norm(SC_FOLD_CONV, &wt, NULL, NULL, NULL, &mt, &vt, 1.0, &fwt, &fbt));
    {
        const float ww[4] = {0.5f, 1, 0.75f, 1}, wb[2] = {-0.25f, -0.25f};
        TRUE(equal_floats(fw, ww, 4) && equal_floats(fb, wb, 2));
    }
    /* Backward with gW' = 1, gb' = 1: grad_w = f = [[1, 1], [0.125, 0.125]], grad_b = g r = [1, 0.125],
     * grad_gamma = sum(W) r + (b - mean) r = [3 * 0.5 + 0, 7 * 0.25 - 0.5] = [1.5, 1.25], grad_beta = [1, 1]. */
    {
        float ones4[4] = {1, 1, 1, 1}, ones2[2] = {1, 1}, gw[4], gb[2], gg[2], gbe[2];
        sc_tensor g4 = tensor(ones4, SC_DTYPE_FLOAT32, 2, m22, NULL), g2 = tensor(ones2, SC_DTYPE_FLOAT32, 1, two, NULL);
        sc_tensor gwt = tensor(gw, SC_DTYPE_FLOAT32, 2, m22, NULL), gbt = tensor(gb, SC_DTYPE_FLOAT32, 1, two, NULL);
        sc_tensor ggt = tensor(gg, SC_DTYPE_FLOAT32, 1, two, NULL), gbet = tensor(gbe, SC_DTYPE_FLOAT32, 1, two, NULL);
        const float ww[4] = {1, 1, 0.125f, 0.125f}, wb[2] = {1, 0.125f}, wg[2] = {1.5f, 1.25f};
        ERR(NULL, sc_fold_batch_norm_backward(2, &wt, &bt, &gt, &mt, &vt, 1.0, &g4, &g2, &gwt, &gbt, &ggt, &gbet),
            SC_ERROR_INVALID_ARGUMENT, "layer");
        ERR(NULL, sc_fold_batch_norm_backward(SC_FOLD_CONV, &wt, &bt, &gt, &mt, &vt, 1.0, &g4, &b3t, &gwt, &gbt, &ggt, &gbet),
            SC_ERROR_SHAPE, "grad_folded_bias");
        ERR(NULL, sc_fold_batch_norm_backward(SC_FOLD_CONV, &wt, &bt, &gt, &mt, &vt, 1.0, &flat, &g2, &gwt, &gbt, &ggt, &gbet),
            SC_ERROR_SHAPE, "grad_folded_weight");
        ERR(NULL, sc_fold_batch_norm_backward(SC_FOLD_CONV, &wt, &bt, &gt, NULL, &vt, 1.0, &g4, &g2, &gwt, &gbt, &ggt, &gbet),
            SC_ERROR_NULL_POINTER, "running_mean");
        OK(NULL, sc_fold_batch_norm_backward(SC_FOLD_CONV, &wt, &bt, &gt, &mt, &vt, 1.0, &g4, &g2, &gwt, &gbt, &ggt, &gbet));
        TRUE(equal_floats(gw, ww, 4) && equal_floats(gb, wb, 2) && equal_floats(gg, wg, 2) && all_equal(gbe, 2, 1.0f));
        OK(NULL, sc_fold_batch_norm_backward(SC_FOLD_LINEAR, &wt, &bt, &gt, &mt, &vt, 1.0, &g4, &g2, &gwt, &gbt, &ggt, &gbet));
        TRUE(equal_floats(gw, ww, 4) && equal_floats(gb, wb, 2) && equal_floats(gg, wg, 2));
    }
    /* In place: the weight and bias buffers themselves. */
    OK(NULL, sc_fold_batch_norm(SC_FOLD_LINEAR, &wt, &bt, &gt, &bet, &mt, &vt, 1.0, &wt, &bt));
    {
        const float ww[4] = {1, 2, 0.375f, 0.5f}, wb[2] = {1, -0.25f};
        TRUE(equal_floats(w, ww, 4) && equal_floats(b, wb, 2));
    }
}

/* Training-aware pruning: Taylor accumulation / average, Slim metric and penalty, session schedules. */
static void training_metrics(void) {
    int64_t shape3[1] = {3}, shape2[1] = {2}, shape1[1] = {1};
    float w[3] = {1, -2, 3}, g[3] = {0.5f, 0.25f, -1}, buf[3] = {-9, -9, -9}, avg[3] = {0};
    sc_tensor tw = tensor(w, SC_DTYPE_FLOAT32, 1, shape3, NULL), tg = tensor(g, SC_DTYPE_FLOAT32, 1, shape3, NULL);
    sc_tensor tb = tensor(buf, SC_DTYPE_FLOAT32, 1, shape3, NULL), ta = tensor(avg, SC_DTYPE_FLOAT32, 1, shape3, NULL);
    float small[2] = {0};
    sc_tensor ts = tensor(small, SC_DTYPE_FLOAT32, 1, shape2, NULL);
    ERR(NULL, sc_taylor_accumulate(NULL, &tw, &tg, 1), SC_ERROR_NULL_POINTER, "buffer");
    ERR(NULL, sc_taylor_accumulate(&tb, &tw, NULL, 1), SC_ERROR_NULL_POINTER, "gradient");
    ERR(NULL, sc_taylor_accumulate(&ts, &tw, &tg, 1), SC_ERROR_SHAPE, "weight");
    ERR(NULL, sc_taylor_average(&tb, 0, &ta), SC_ERROR_INVALID_ARGUMENT, "steps");
    ERR(NULL, sc_taylor_average(&tb, 2, &ts), SC_ERROR_SHAPE, "buffer");
    OK(NULL, sc_taylor_accumulate(&tb, &tw, &tg, 1)); /* (w*g)^2 = 0.25, 0.25, 9 */
    OK(NULL, sc_taylor_accumulate(&tb, &tw, &tg, 0));
    static const float want_buf[3] = {0.5f, 0.5f, 18};
    TRUE(equal_floats(buf, want_buf, 3));
    OK(NULL, sc_taylor_average(&tb, 2, &ta));
    static const float want_avg[3] = {0.25f, 0.25f, 9};
    TRUE(equal_floats(avg, want_avg, 3));

    double f[3] = {1, -2, 0};
    sc_tensor tf = tensor(f, SC_DTYPE_FLOAT64, 1, shape3, NULL);
    float metric[3] = {0};
    sc_tensor tm = tensor(metric, SC_DTYPE_FLOAT32, 1, shape3, NULL);
    OK(NULL, sc_slim_metric(&tf, &tm));
    static const float want_metric[3] = {1, 2, 0};
    TRUE(equal_floats(metric, want_metric, 3));
    ERR(NULL, sc_slim_metric(&tf, &ts), SC_ERROR_SHAPE, "factor");
    float loss = 1, out = 0, gout = 1;
    sc_tensor tl = tensor(&loss, SC_DTYPE_FLOAT32, 1, shape1, NULL), to = tensor(&out, SC_DTYPE_FLOAT32, 1, shape1, NULL);
    sc_tensor tgo = tensor(&gout, SC_DTYPE_FLOAT32, 1, shape1, NULL);
    sc_tensor factors[2] = {tf, tf};
    OK(NULL, sc_slim_penalty(&tl, factors, 2, 0.5, &to)); /* 1 + 0.5 * (3 + 3) / 2 */
    TRUE(out == 2.5f);
    ERR(NULL, sc_slim_penalty(&tl, factors, 2, nan(""), &to), SC_ERROR_INVALID_ARGUMENT, "regular_scale");
    ERR(NULL, sc_slim_penalty(&tl, NULL, 2, 1, &to), SC_ERROR_NULL_POINTER, "factors");
    ERR(NULL, sc_slim_penalty(&tw, factors, 2, 1, &to), SC_ERROR_SHAPE, "loss");
    float g0[3] = {0}, g1[3] = {0};
    sc_tensor grads[2] = {tensor(g0, SC_DTYPE_FLOAT32, 1, shape3, NULL), tensor(g1, SC_DTYPE_FLOAT32, 1, shape3, NULL)};
    OK(NULL, sc_slim_penalty_backward(factors, 2, 0.5, &tgo, grads)); /* sign(f) * (1 / 2) * 0.5 */
    static const float want_grad[3] = {0.25f, -0.25f, 0};
    TRUE(equal_floats(g0, want_grad, 3) && equal_floats(g1, want_grad, 3));
    sc_tensor bad_grads[2] = {grads[0], ts};
    ERR(NULL, sc_slim_penalty_backward(factors, 2, 0.5, &tgo, bad_grads), SC_ERROR_SHAPE, "grads[1]");

    ERR(NULL, sc_session_set_schedule(NULL, SC_SCHEDULE_AGP, 0, 1), SC_ERROR_NULL_POINTER, "session");
    sc_session *s = pruning_session(kLevelHalf);
    if (s) {
        ERR(s, sc_session_set_schedule(s, 5, 0, 1), SC_ERROR_INVALID_ARGUMENT, "schedule");
        ERR(s, sc_session_set_schedule(s, SC_SCHEDULE_AGP, 0, 0), SC_ERROR_INVALID_ARGUMENT, "total_steps");
        ERR(s, sc_session_set_schedule(s, SC_SCHEDULE_LINEAR, 3, 2), SC_ERROR_INVALID_ARGUMENT, "step");
        OK(s, sc_session_set_schedule(s, SC_SCHEDULE_LINEAR, 1, 2));
        OK(s, sc_session_set_schedule(s, SC_SCHEDULE_NONE, 0, 0));
        int64_t wshape[2] = {3, 4}, out_shape[SC_MAX_NDIM] = {0};
        int32_t out_ndim = -1;
        OK(s, sc_session_metric_shape(s, "fc", "weight", wshape, 2, 0, out_shape, &out_ndim)); /* out_channel */
        TRUE(out_ndim == 2 && out_shape[0] == 3 && out_shape[1] == 1);
        OK(s, sc_session_metric_shape(s, "fc", "weight", wshape, 2, 1, out_shape, &out_ndim)); /* fine-grained */
        TRUE(out_ndim == 2 && out_shape[0] == 3 && out_shape[1] == 4);
        ERR(s, sc_session_metric_shape(s, "fc", "weight", wshape, 2, 0, NULL, &out_ndim), SC_ERROR_NULL_POINTER, "out_shape");
        ERR(s, sc_session_metric_shape(s, "fc", "weight", NULL, 2, 0, out_shape, &out_ndim), SC_ERROR_NULL_POINTER, "shape");
        ERR(s, sc_session_metric_shape(s, "fc", "weight", wshape, 17, 0, out_shape, &out_ndim), SC_ERROR_SHAPE, "ndim");
        ERR(s, sc_session_metric_shape(s, "nope", "weight", wshape, 2, 0, out_shape, &out_ndim), SC_ERROR_UNKNOWN_NAME, "nope");
        sc_session_free(s);
    }
}

/* The training-time quantizers (sc_lsq_*, sc_dorefa_*, sc_binarize, sc_clamp_in_place,
 * sc_trainable_initial_params): bad input names the argument and writes nothing; values by hand. */
static void trainable_quantizers(void) {
    static const int64_t five[1] = {5}, three[1] = {3}, one[1] = {1}, two[1] = {2}, zero[1] = {0};
    /* LSQ, s = 0.5, int8 [-127, 127]: x / s = [-300, -1.5, 0.5, 1, 300] -> round half even
     * [-127, -2, 0, 1, 127] -> out = [-63.5, -1, 0, 0.5, 63.5]; with g = 1: grad_x = [0, 1, 1, 1, 0],
     * grad_s = f * (-127 + (1.5 - 2) + (-0.5 + 0) + 0 + 127) = -f, f = 1 / sqrt(127 * 5). */
    float x[5] = {-150, -0.75f, 0.25f, 0.5f, 150}, s[1] = {0.5f}, s2[2] = {0.5f, 0.5f}, s0[1] = {0};
    float out[5] = {9, 9, 9, 9, 9}, g[5] = {1, 1, 1, 1, 1}, gx[5] = {9, 9, 9, 9, 9}, gs[1] = {9}, gz[1] = {9};
    sc_tensor xt = tensor(x, SC_DTYPE_FLOAT32, 1, five, NULL), st = tensor(s, SC_DTYPE_FLOAT32, 1, one, NULL);
    sc_tensor s2t = tensor(s2, SC_DTYPE_FLOAT32, 1, two, NULL), s0t = tensor(s0, SC_DTYPE_FLOAT32, 1, one, NULL);
    sc_tensor ot = tensor(out, SC_DTYPE_FLOAT32, 1, five, NULL), gt = tensor(g, SC_DTYPE_FLOAT32, 1, five, NULL);
    sc_tensor gxt = tensor(gx, SC_DTYPE_FLOAT32, 1, five, NULL), gst = tensor(gs, SC_DTYPE_FLOAT32, 1, one, NULL);
    sc_tensor gzt = tensor(gz, SC_DTYPE_FLOAT32, 1, one, NULL), o3 = tensor(out, SC_DTYPE_FLOAT32, 1, three, NULL);
    sc_tensor empty = tensor(out, SC_DTYPE_FLOAT32, 1, zero, NULL);
    double scale = 0, zp = 0;

    ERR(NULL, sc_lsq_forward(NULL, &st, NULL, -127, 127, &ot), SC_ERROR_NULL_POINTER, "x is NULL");
    ERR(NULL, sc_lsq_forward(&xt, NULL, NULL, -127, 127, &ot), SC_ERROR_NULL_POINTER, "scale is NULL");
    ERR(NULL, sc_lsq_forward(&xt, &s2t, NULL, -127, 127, &ot), SC_ERROR_SHAPE, "scale has 2 element");
    ERR(NULL, sc_lsq_forward(&xt, &s0t, NULL, -127, 127, &ot), SC_ERROR_QUANTIZATION, "scale is 0.0");
    ERR(NULL, sc_lsq_forward(&xt, &st, NULL, 127, -127, &ot), SC_ERROR_INVALID_ARGUMENT, "qmin 127");
    ERR(NULL, sc_lsq_forward(&xt, &st, NULL, -127, 127, &o3), SC_ERROR_SHAPE, "shape [3]");
    ERR(NULL, sc_lsq_backward(&xt, &st, NULL, -127, 127, &gt, &gxt, &gst, &gzt), SC_ERROR_INVALID_ARGUMENT, "zero_point is NULL");
    ERR(NULL, sc_lsq_backward(&xt, &st, NULL, -127, 127, &gt, &gxt, &s2t, NULL), SC_ERROR_SHAPE, "grad_scale");
    ERR(NULL, sc_lsq_backward(&xt, &st, NULL, -127, 127, &o3, &gxt, &gst, NULL), SC_ERROR_SHAPE, "shape [3]");
    TRUE(all_equal(out, 5, 9.0f) && all_equal(gx, 5, 9.0f) && gs[0] == 9.0f);
    OK(NULL, sc_lsq_forward(&xt, &st, NULL, -127, 127, &ot));
    {
        const float want[5] = {-63.5f, -1, 0, 0.5f, 63.5f};
        TRUE(equal_floats(out, want, 5));
    }
    OK(NULL, sc_lsq_backward(&xt, &st, NULL, -127, 127, &gt, &gxt, &gst, NULL));
    {
        const float want[5] = {0, 1, 1, 1, 0};
        TRUE(equal_floats(gx, want, 5) && gs[0] == -(float)(1.0 / sqrt(635.0)));
    }
    /* LSQ+, s = 1, zp = 2, [0, 15]: x = [-5, 0.5, 20] -> t = [-3, 2.5, 22] -> [0, 2, 15] - 2 -> out = [-2, 0, 13];
     * grad_x = [0, 1, 0]; grad_s = f * ((0 - 2) + (-0.5 - 2 + 2) + (15 - 2)), f = 1 / sqrt(15 * 3);
     * grad_zp = -1 - 1 = -2 (the two clamped elements). */
    {
        float px[3] = {-5, 0.5f, 20}, ps[1] = {1}, pz[1] = {2}, po[3], pg[3] = {1, 1, 1}, pgx[3];
        sc_tensor pxt = tensor(px, SC_DTYPE_FLOAT32, 1, three, NULL), pst = tensor(ps, SC_DTYPE_FLOAT32, 1, one, NULL);
        sc_tensor pzt = tensor(pz, SC_DTYPE_FLOAT32, 1, one, NULL), pot = tensor(po, SC_DTYPE_FLOAT32, 1, three, NULL);
        sc_tensor pgt = tensor(pg, SC_DTYPE_FLOAT32, 1, three, NULL), pgxt = tensor(pgx, SC_DTYPE_FLOAT32, 1, three, NULL);
        const float want[3] = {-2, 0, 13}, wantg[3] = {0, 1, 0};
        const float f = (float)(1.0 / sqrt(45.0));
        const float ws = (float)((double)(-2.0f * f) + (double)(-0.5f * f) + (double)(13.0f * f));
        OK(NULL, sc_lsq_forward(&pxt, &pst, &pzt, 0, 15, &pot));
        TRUE(equal_floats(po, want, 3));
        OK(NULL, sc_lsq_backward(&pxt, &pst, &pzt, 0, 15, &pgt, &pgxt, &gst, &gzt));
        TRUE(equal_floats(pgx, wantg, 3) && gs[0] == ws && gz[0] == -2.0f);
    }
    /* Initial parameters: LSQ 0.01f and 0; LSQ+ uint8 0.01f and 127.5; DoReFa uint8 1/255f and 0; BNN 1, 0. */
    ERR(NULL, sc_trainable_initial_params(7, 0, 255, &scale, &zp), SC_ERROR_INVALID_ARGUMENT, "method is 7");
    ERR(NULL, sc_trainable_initial_params(SC_TRAIN_LSQ, 0, 255, NULL, &zp), SC_ERROR_NULL_POINTER, "scale");
    ERR(NULL, sc_trainable_initial_params(SC_TRAIN_LSQ, 3, 3, &scale, &zp), SC_ERROR_INVALID_ARGUMENT, "qmin 3");
    OK(NULL, sc_trainable_initial_params(SC_TRAIN_LSQ, -127, 127, &scale, &zp));
    TRUE(scale == (double)0.01f && zp == 0);
    OK(NULL, sc_trainable_initial_params(SC_TRAIN_LSQ_PLUS, 0, 255, &scale, &zp));
    TRUE(scale == (double)0.01f && zp == 127.5);
    OK(NULL, sc_trainable_initial_params(SC_TRAIN_DOREFA, 0, 255, &scale, &zp));
    TRUE(scale == (double)(1.0f / 255.0f) && zp == 0);
    OK(NULL, sc_trainable_initial_params(SC_TRAIN_BNN, -127, 127, &scale, &zp));
    TRUE(scale == 1 && zp == 0);
    /* BNN: sign with sign(0) = 1; the output mask zeroes |x| > 1. */
    {
        float bx[5] = {-2, -0.5f, 0, 0.5f, 3}, bo[5], bm[5];
        sc_tensor bxt = tensor(bx, SC_DTYPE_FLOAT32, 1, five, NULL), bot = tensor(bo, SC_DTYPE_FLOAT32, 1, five, NULL);
        sc_tensor bmt = tensor(bm, SC_DTYPE_FLOAT32, 1, five, NULL);
        const float want[5] = {-1, -1, 1, 1, 1}, wantm[5] = {0, 1, 1, 1, 0};
        ERR(NULL, sc_binarize(&bxt, 2, &bot, &bmt), SC_ERROR_INVALID_ARGUMENT, "clip_outside");
        ERR(NULL, sc_binarize(&bxt, 1, &o3, &bmt), SC_ERROR_SHAPE, "shape [3]");
        OK(NULL, sc_binarize(&bxt, 1, &bot, &bmt));
        TRUE(equal_floats(bo, want, 5) && equal_floats(bm, wantm, 5));
        OK(NULL, sc_binarize(&bxt, 0, &bot, &bmt));
        TRUE(all_equal(bm, 5, 1.0f));
        ERR(NULL, sc_clamp_in_place(&bxt, 1, -1), SC_ERROR_INVALID_ARGUMENT, "lo 1.0");
        ERR(NULL, sc_clamp_in_place(NULL, -1, 1), SC_ERROR_NULL_POINTER, "x");
        OK(NULL, sc_clamp_in_place(&bxt, -1, 1));
        {
            const float wantc[5] = {-1, -0.5f, 0, 0.5f, 1};
            TRUE(equal_floats(bx, wantc, 5));
        }
    }
    /* DoReFa output, s = 0.25, zp 0, [0, 4]: clamp(x, 0, 1) = [0, 0.5, 1] -> [0, 0.5, 1]; mask [0, 1, 0]. */
    {
        float dx[3] = {-1, 0.5f, 2}, dout[3], dm[3];
        sc_tensor dxt = tensor(dx, SC_DTYPE_FLOAT32, 1, three, NULL), dot = tensor(dout, SC_DTYPE_FLOAT32, 1, three, NULL);
        sc_tensor dmt = tensor(dm, SC_DTYPE_FLOAT32, 1, three, NULL);
        const float want[3] = {0, 0.5f, 1}, wantm[3] = {0, 1, 0};
        ERR(NULL, sc_dorefa_output_forward(&dxt, 0, 0, 0, 4, &dot, &dmt), SC_ERROR_QUANTIZATION, "scale");
        OK(NULL, sc_dorefa_output_forward(&dxt, 0.25, 0, 0, 4, &dot, &dmt));
        TRUE(equal_floats(dout, want, 3) && equal_floats(dm, wantm, 3));
    }
    /* DoReFa weight, w = [-1, 1]: tanh(w) / (2 tanh 1) + 0.5 = [0, 1] -> quantized [0, 1] -> 2y - 1 = [-1, 1]. */
    {
        float w[2] = {-1, 1}, wo[2], wg[2] = {1, 1}, wgx[2];
        sc_tensor wt = tensor(w, SC_DTYPE_FLOAT32, 1, two, NULL), wot = tensor(wo, SC_DTYPE_FLOAT32, 1, two, NULL);
        sc_tensor wgt = tensor(wg, SC_DTYPE_FLOAT32, 1, two, NULL), wgxt = tensor(wgx, SC_DTYPE_FLOAT32, 1, two, NULL);
        const float want[2] = {-1, 1};
        ERR(NULL, sc_dorefa_weight_forward(&empty, 0.25, 0, 0, 4, &empty), SC_ERROR_SHAPE, "no elements");
        OK(NULL, sc_dorefa_weight_forward(&wt, 0.25, 0, 0, 4, &wot));
        TRUE(equal_floats(wo, want, 2));
        ERR(NULL, sc_dorefa_weight_backward(&wt, &o3, &wgxt), SC_ERROR_SHAPE, "shape [3]");
        OK(NULL, sc_dorefa_weight_backward(&wt, &wgt, &wgxt));
        /* g = 1: gu = 2 / d per element; the maximum's share: both |u| are the maximum, sum(-2 u / d^2) = 0. */
        TRUE(wgx[0] == wgx[1] && wgx[0] > 0);
    }
    /* Reported range of a learned scale / zero point: s = 0.5, zp = 2, [0, 15]: max = 0.5 * 13 = 6.5,
     * min = 0.5 * -2 = -1. */
    {
        float rs[1] = {0.5f}, rz[1] = {2}, rlo[1] = {9}, rhi[1] = {9};
        sc_tensor rst = tensor(rs, SC_DTYPE_FLOAT32, 1, one, NULL), rzt = tensor(rz, SC_DTYPE_FLOAT32, 1, one, NULL);
        sc_tensor rlot = tensor(rlo, SC_DTYPE_FLOAT32, 1, one, NULL), rhit = tensor(rhi, SC_DTYPE_FLOAT32, 1, one, NULL);
        ERR(NULL, sc_trainable_tracked_range(NULL, &rzt, 0, 15, &rlot, &rhit), SC_ERROR_NULL_POINTER, "scale");
        ERR(NULL, sc_trainable_tracked_range(&rst, &rzt, 0, 15, &s2t, &rhit), SC_ERROR_SHAPE, "tracked_min has 2");
        ERR(NULL, sc_trainable_tracked_range(&rst, &rzt, 15, 0, &rlot, &rhit), SC_ERROR_INVALID_ARGUMENT, "qmin 15");
        TRUE(rlo[0] == 9 && rhi[0] == 9);
        OK(NULL, sc_trainable_tracked_range(&rst, &rzt, 0, 15, &rlot, &rhit));
        TRUE(rlo[0] == -1.0f && rhi[0] == 6.5f);
    }
    /* DoReFa input, affine [0, 4]: x = [-1, 0, 3] -> range [-1, 3], s = 4 / 4 = 1, zp = 0 - round(-1) = 1;
     * out = (round(clamp(1 + x, 0, 4)) - 1) * 1 = [-1, 0, 3]. Symmetric [-2, 2]: s = 3 / 2 = 1.5,
     * zp = (2 - 2 + 1) div 2 = 0; out = round(clamp(x / 1.5, -2, 2)) * 1.5 = [-1.5, 0, 3]. */
    {
        float ix[3] = {-1, 0, 3}, io[3] = {9, 9, 9};
        sc_tensor ixt = tensor(ix, SC_DTYPE_FLOAT32, 1, three, NULL), iot = tensor(io, SC_DTYPE_FLOAT32, 1, three, NULL);
        const float want[3] = {-1, 0, 3}, wants[3] = {-1.5f, 0, 3};
        ERR(NULL, sc_dorefa_input_forward(&ixt, 0, 4, 2, &iot, &scale, &zp), SC_ERROR_INVALID_ARGUMENT, "symmetric is 2");
        ERR(NULL, sc_dorefa_input_forward(&ixt, 0, 4, 0, &iot, NULL, &zp), SC_ERROR_NULL_POINTER, "scale");
        ERR(NULL, sc_dorefa_input_forward(&ixt, 0, 4, 0, &ot, &scale, &zp), SC_ERROR_SHAPE, "shape");
        ERR(NULL, sc_dorefa_input_forward(&empty, 0, 4, 0, &empty, &scale, &zp), SC_ERROR_SHAPE, "no elements");
        TRUE(all_equal(io, 3, 9.0f));
        OK(NULL, sc_dorefa_input_forward(&ixt, 0, 4, 0, &iot, &scale, &zp));
        TRUE(equal_floats(io, want, 3) && scale == 1 && zp == 1);
        OK(NULL, sc_dorefa_input_forward(&ixt, -2, 2, 1, &iot, &scale, &zp));
        TRUE(equal_floats(io, wants, 3) && scale == 1.5 && zp == 0);
    }
    /* DoReFa gradient, bits 1 (n = 1: range [-0.5, 1.5]) on [qmin, qmax] = [0, 2]:
     * s = (1.5 + 0.5) / 2 = 1, zp = 0 - round(-0.5) = 0 (half to even). g = [[2, -1]], noise 0: m = 2,
     * q = g / 4 + 0.5 = [1, 0.25] -> round(clamp(q, 0, 2)) = [1, 0] -> ((x - 0.5) * 2) * 2 = [2, -2]. */
    {
        static const int64_t row[2] = {1, 2};
        float gg[2] = {2, -1}, gn[1] = {0}, go[2] = {9, 9}, gn2[2] = {0, 0};
        sc_tensor ggt = tensor(gg, SC_DTYPE_FLOAT32, 2, row, NULL), gnt = tensor(gn, SC_DTYPE_FLOAT32, 1, one, NULL);
        sc_tensor got = tensor(go, SC_DTYPE_FLOAT32, 2, row, NULL), gn2t = tensor(gn2, SC_DTYPE_FLOAT32, 1, two, NULL);
        const float want[2] = {2, -2};
        ERR(NULL, sc_dorefa_gradient(&ggt, &gn2t, 1, 0, 2, &got), SC_ERROR_SHAPE, "one per sample");
        ERR(NULL, sc_dorefa_gradient(&ggt, &gnt, 0, 0, 2, &got), SC_ERROR_INVALID_ARGUMENT, "bits is 0");
        ERR(NULL, sc_dorefa_gradient(&ggt, NULL, 1, 0, 2, &got), SC_ERROR_NULL_POINTER, "noise");
        TRUE(all_equal(go, 2, 9.0f));
        OK(NULL, sc_dorefa_gradient(&ggt, &gnt, 1, 0, 2, &got));
        TRUE(equal_floats(go, want, 2));
    }
}

/* Wanda (issue 15): input-norm accumulation and the metric |W_ij| * sqrt(norms[j]). */
static void wanda_calls(void) {
    int64_t shape23[2] = {2, 3}, shape3[1] = {3}, shape2[1] = {2};
    float x[6] = {1, 2, 3, 4, 5, 6}, w[6] = {1, -2, 3, -4, 5, -6}, out[6] = {0};
    double norms[3] = {-1, -1, -1}, n2[2] = {0}, given[3] = {4, 9, 16};
    sc_tensor tx = tensor(x, SC_DTYPE_FLOAT32, 2, shape23, NULL), tn = tensor(norms, SC_DTYPE_FLOAT64, 1, shape3, NULL);
    sc_tensor tn2 = tensor(n2, SC_DTYPE_FLOAT64, 1, shape2, NULL), tw = tensor(w, SC_DTYPE_FLOAT32, 2, shape23, NULL);
    sc_tensor tg = tensor(given, SC_DTYPE_FLOAT64, 1, shape3, NULL), to = tensor(out, SC_DTYPE_FLOAT32, 2, shape23, NULL);
    ERR(NULL, sc_wanda_accumulate(NULL, &tx, -1, 1), SC_ERROR_NULL_POINTER, "norms");
    ERR(NULL, sc_wanda_accumulate(&tn, &tx, 5, 1), SC_ERROR_SHAPE, "channel dim");
    ERR(NULL, sc_wanda_accumulate(&tn2, &tx, -1, 1), SC_ERROR_SHAPE, "norms");
    TRUE(norms[0] == -1 && n2[0] == 0);
    OK(NULL, sc_wanda_accumulate(&tn, &tx, -1, 1)); /* columns (1, 4), (2, 5), (3, 6) */
    TRUE(norms[0] == 17 && norms[1] == 29 && norms[2] == 45);
    OK(NULL, sc_wanda_accumulate(&tn, &tx, 1, 0));
    TRUE(norms[0] == 34 && norms[1] == 58 && norms[2] == 90);
    ERR(NULL, sc_wanda_metric(&tw, &tn2, &to), SC_ERROR_SHAPE, "norms");
    ERR(NULL, sc_wanda_metric(&tw, &tg, NULL), SC_ERROR_NULL_POINTER, "out");
    OK(NULL, sc_wanda_metric(&tw, &tg, &to));
    static const float want[6] = {2, 6, 12, 8, 15, 24};
    TRUE(equal_floats(out, want, 6));
}

int main(void) {
    versions_and_names();
    create_and_free();
    modules();
    configs();
    binding();
    overlapping_tensor();
    absent_targets();
    metrics_and_rules();
    apply_mask();
    schedules();
    freed_handles();
    independent_sessions();
    distill_arguments();
    distill_dtypes_and_layouts();
    distill_links();
    distill_wrong_mode_and_freed();
    quant_arguments();
    quant_bypass_and_modes();
    qstorage_bytes();
    real_quant_session();
    real_quant_explicit();
    fold_batch_norm();
    training_metrics();
    wanda_calls();
    trainable_quantizers();
    printf("bad_input: %d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
