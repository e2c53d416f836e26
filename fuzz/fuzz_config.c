/*
 * fuzz_config.c — target (a): config lists, module lists and the explain report.
 *
 * Input: byte 0 = flags, the rest = text.
 *   flags & 3        mode: 0 pruning, 1 quantization, 2 distillation (3: pruning)
 *   (flags >> 2) & 3 module list: 0 a small built-in list, 1 resnet50, 2 mobilenet_v2,
 *                    3 transformer_encoder (examples/models, read once at start-up from
 *                    $SC_FUZZ_MODELS or the folder compiled in)
 *   flags & 0x10     the text is "<module list JSON>\0<config JSON>": the modules are added with
 *                    sc_session_add_modules_json on top of the chosen list
 *   flags & 0x20     the config is also set a second time, cut in half (must fail or succeed cleanly;
 *                    a failure must keep the first config's targets and report)
 *   flags & 0x40     teacher modules (distillation) are added: the model's own names
 * Every resolved target is read back (sc_session_target, _target_settings, the distillation links,
 * the quantization range) and the report is produced as JSON and as a table.
 * Invariants: statuses are the header's; failures have messages and leave outputs alone; returned
 * strings are non-NULL and their lengths are right; a failed set_config changes nothing.
 */
#include "fuzz_common.h"

#ifndef SC_FUZZ_MODELS_DIR
#define SC_FUZZ_MODELS_DIR "examples/models"
#endif

static char *models[4];
static size_t model_len[4];
static const char builtin_modules[] =
    "[{\"name\": \"\", \"type\": \"Net\", \"forward_args\": [\"x\"]},"
    "{\"name\": \"conv1\", \"type\": \"Conv2d\", \"forward_args\": [\"input\"]},"
    "{\"name\": \"bn1\", \"type\": \"BatchNorm2d\", \"forward_args\": [\"input\"]},"
    "{\"name\": \"relu\", \"type\": \"ReLU\", \"forward_args\": [\"input\"]},"
    "{\"name\": \"layer1\", \"type\": \"Sequential\"},"
    "{\"name\": \"layer1.0\", \"type\": \"Linear\", \"forward_args\": [\"input\"]},"
    "{\"name\": \"layer1.1\", \"type\": \"Conv1d\", \"forward_args\": [\"input\"]},"
    "{\"name\": \"embed\", \"type\": \"Embedding\", \"forward_args\": [\"input\"]},"
    "{\"name\": \"fc\", \"type\": \"Linear\", \"forward_args\": [\"input\"]}]";

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = (char *)malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) { free(s); s = NULL; }
    fclose(f);
    if (s) { s[n] = 0; *len = (size_t)n; }
    return s;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    const char *dir = getenv("SC_FUZZ_MODELS");
    if (!dir) dir = SC_FUZZ_MODELS_DIR;
    static const char *names[4] = {NULL, "resnet50.json", "mobilenet_v2.json", "transformer_encoder.json"};
    models[0] = (char *)builtin_modules;
    model_len[0] = sizeof builtin_modules - 1;
    for (int i = 1; i < 4; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        models[i] = read_file(path, &model_len[i]);
        if (!models[i]) {
            fprintf(stderr, "fuzz_config: cannot read %s (set SC_FUZZ_MODELS); using the built-in list\n", path);
            models[i] = (char *)builtin_modules;
            model_len[i] = sizeof builtin_modules - 1;
        }
    }
    return 0;
}

/* Everything the session says about its resolved targets, as one string (to compare). */
static char *describe(sc_session *s, int mode) {
    fz_str out = {0};
    size_t n = sc_session_target_count(s);
    fz_str_add(&out, "%zu targets\n", n);
    for (size_t i = 0; i < n; i++) {
        const char *module = "<unset>", *target = "<unset>";
        int st = CHECK_STATUS(s, sc_session_target(s, i, &module, &target));
        FZ_ASSERT(st == SC_OK, "sc_session_target(%zu) of %zu failed: %s", i, n, sc_session_last_error(s));
        FZ_ASSERT(module && target, "sc_session_target returned NULL names");
        fz_str_add(&out, "%s/%s: ", module, target);
        const char *json = NULL;
        size_t len = 12345;
        st = CHECK_STATUS(s, sc_session_target_settings(s, i, &json, &len));
        FZ_ASSERT(st == SC_OK, "sc_session_target_settings(%zu) failed", i);
        FZ_ASSERT(json && strlen(json) == len && len >= 2 && json[0] == '{' && json[len - 1] == '}',
                  "target settings are not a JSON object of the stated length");
        fz_str_add(&out, "%s\n", json);
        if (mode == SC_MODE_DISTILLATION) {
            size_t count = 777;
            st = CHECK_STATUS(s, sc_session_target_link_count(s, i, &count));
            if (st == SC_OK) {
                FZ_ASSERT(count >= 1, "a target with %zu links", count);
                for (size_t l = 0; l <= count; l++) {
                    const char *teacher = (const char *)&count;
                    st = CHECK_STATUS(s, sc_session_target_link(s, i, l, &teacher));
                    if (l < count) {
                        FZ_ASSERT(st == SC_OK && teacher, "link %zu of %zu failed", l, count);
                        fz_str_add(&out, "  link %s\n", teacher);
                    } else {
                        FZ_ASSERT(st == SC_ERROR_INVALID_ARGUMENT && teacher == (const char *)&count,
                                  "link index == count accepted or output written");
                    }
                }
            } else {
                FZ_ASSERT(count == 777, "link count written on failure");
                fz_str_add(&out, "  links: %s\n", sc_status_name(st));
            }
        } else if (mode == SC_MODE_QUANTIZATION) {
            int bits = -5, is_signed = -5;
            int64_t qmin = -5, qmax = -5;
            st = CHECK_STATUS(s, sc_session_quant_range(s, module, target, &bits, &is_signed, &qmin, &qmax));
            if (st == SC_OK) {
                FZ_ASSERT(bits >= 2 && bits <= 16 && (is_signed == 0 || is_signed == 1) && qmin < qmax,
                          "bad quant range %d %d [%lld, %lld]", bits, is_signed, (long long)qmin, (long long)qmax);
                FZ_ASSERT(is_signed ? (qmin == -((int64_t)1 << (bits - 1)) + 1 && qmax == ((int64_t)1 << (bits - 1)) - 1)
                                    : (qmin == 0 && qmax == ((int64_t)1 << bits) - 1),
                          "quant range [%lld, %lld] does not match %sint%d", (long long)qmin, (long long)qmax,
                          is_signed ? "" : "u", bits);
                fz_str_add(&out, "  range %d %d\n", bits, is_signed);
            } else {
                FZ_ASSERT(bits == -5 && is_signed == -5 && qmin == -5 && qmax == -5, "quant range written on failure");
            }
        }
    }
    /* one past the end */
    const char *m = (const char *)&out, *t = (const char *)&out;
    int st = CHECK_STATUS(s, sc_session_target(s, n, &m, &t));
    FZ_ASSERT(st != SC_OK && m == (const char *)&out && t == (const char *)&out, "target index == count accepted");
    for (int table = 0; table < 2; table++) {
        const char *text = NULL;
        size_t len = 0;
        st = CHECK_STATUS(s, sc_session_report(s, table, &text, &len));
        FZ_ASSERT(st == SC_OK, "report (table %d) failed after a config was set: %s", table, sc_session_last_error(s));
        FZ_ASSERT(text && strlen(text) == len, "report text length");
        if (!table) FZ_ASSERT(len >= 2 && text[0] == '{' && text[len - 1] == '}', "JSON report is not an object");
        fz_str_add(&out, "%s\n", text);
    }
    return out.s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t flags = data[0];
    int mode = (flags & 3) == 3 ? SC_MODE_PRUNING : (flags & 3);
    int model = (flags >> 2) & 3;
    const char *text = (const char *)data + 1;
    size_t text_len = size - 1;

    sc_session *s = (sc_session *)&flags;
    int st = CHECK_STATUS(NULL, sc_session_create(mode, &s));
    FZ_ASSERT(st == SC_OK && s, "sc_session_create failed");

    /* No config yet: every query is SC_ERROR_STATE and writes nothing. */
    const char *r = (const char *)&st;
    FZ_ASSERT(sc_session_target_count(s) == 0, "targets before a config");
    st = CHECK_STATUS(s, sc_session_report(s, 0, &r, NULL));
    FZ_ASSERT(st == SC_ERROR_STATE && r == (const char *)&st, "report before a config");

    st = CHECK_STATUS(s, sc_session_add_modules_json(s, models[model], model_len[model]));
    FZ_ASSERT(st == SC_OK, "the model's module list was rejected: %s", sc_session_last_error(s));
    if (flags & 0x10) {
        const char *nul = memchr(text, 0, text_len);
        size_t mlen = nul ? (size_t)(nul - text) : text_len;
        CHECK_STATUS(s, sc_session_add_modules_json(s, text, mlen));
        text_len = nul ? text_len - mlen - 1 : 0;
        text = nul ? nul + 1 : text + mlen;
    }
    if (mode == SC_MODE_DISTILLATION && (flags & 0x40)) {
        static const char *teachers[] = {"", "conv1", "fc", "layer1", "layer1.0", "encoder", "embed", "features"};
        for (size_t i = 0; i < sizeof teachers / sizeof teachers[0]; i++)
            CHECK_STATUS(s, sc_session_add_teacher_module(s, teachers[i]));
    }

    /* Half the time NUL-terminated (a copy), else with the length. */
    int st1;
    if (text_len && (flags & 0x80)) {
        char *z = (char *)malloc(text_len + 1);
        memcpy(z, text, text_len);
        z[text_len] = 0;
        st1 = CHECK_STATUS(s, sc_session_set_config(s, z, SC_NUL_TERMINATED));
        free(z);
    } else {
        st1 = CHECK_STATUS(s, sc_session_set_config(s, text, text_len));
    }
    if (st1 == SC_OK) {
        char *before = describe(s, mode);
        if ((flags & 0x20) && text_len > 1) {
            int st2 = CHECK_STATUS(s, sc_session_set_config(s, text, text_len / 2));
            if (st2 != SC_OK) {
                char *after = describe(s, mode);
                FZ_ASSERT(strcmp(before, after) == 0, "a failed sc_session_set_config changed the session:\n%s\n---\n%s",
                          before, after);
                free(after);
            } else {
                free(describe(s, mode));
            }
        }
        free(before);
    } else {
        FZ_ASSERT(sc_session_target_count(s) == 0, "targets after a failed first config");
        r = (const char *)&st;
        st = CHECK_STATUS(s, sc_session_report(s, 1, &r, NULL));
        FZ_ASSERT(st == SC_ERROR_STATE && r == (const char *)&st, "report after a failed first config");
    }
    sc_session_free(s);
    return 0;
}
