/*
 * Graph-analysis calls of swiftcompress._core (the "Graph analysis" section of
 * include/swiftcompress.h): a graph is a capsule owning an sc_graph (freed with the capsule).
 * The functions check and convert arguments only; the analysis is the core's.
 */
#include "_common.h"

#define GRAPH_CAPSULE "swiftcompress.sc_graph"
#define MAX_GRAPH_ITEMS (1 << 20)

static void graph_destructor(PyObject *capsule) {
    sc_graph *g = (sc_graph *)PyCapsule_GetPointer(capsule, GRAPH_CAPSULE);
    if (g != NULL) sc_graph_free(g);
}

static sc_graph *graph_of(PyObject *obj) {
    sc_graph *g = (sc_graph *)PyCapsule_GetPointer(obj, GRAPH_CAPSULE);
    if (g == NULL && !PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "expected a graph from graph_create()");
    return g;
}

/* Reads a sequence of ints into a new PyMem buffer (*out, NULL for an empty one). Returns the count or -1. */
static Py_ssize_t read_ints(PyObject *obj, const char *what, int64_t **out) {
    *out = NULL;
    PyObject *seq = scpy_as_tuple(obj, what);
    if (seq == NULL) return -1;
    Py_ssize_t n = PyTuple_Size(seq);
    if (n > MAX_GRAPH_ITEMS) {
        PyErr_Format(PyExc_ValueError, "%s: %zd values; at most %d", what, n, MAX_GRAPH_ITEMS);
        Py_DECREF(seq);
        return -1;
    }
    if (n > 0) {
        *out = (int64_t *)PyMem_Malloc(sizeof(int64_t) * (size_t)n);
        if (*out == NULL) {
            Py_DECREF(seq);
            PyErr_NoMemory();
            return -1;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        long long v = PyLong_AsLongLong(PyTuple_GetItem(seq, i));
        if (v == -1 && PyErr_Occurred()) {
            PyMem_Free(*out);
            *out = NULL;
            Py_DECREF(seq);
            return -1;
        }
        (*out)[i] = (int64_t)v;
    }
    Py_DECREF(seq);
    return n;
}

static PyObject *core_graph_create(PyObject *m, PyObject *noargs) {
    sc_graph *g = NULL;
    int status = sc_graph_create(&g);
    if (status != SC_OK) return scpy_raise_status(status, sc_last_error());
    PyObject *capsule = PyCapsule_New(g, GRAPH_CAPSULE, graph_destructor);
    if (capsule == NULL) sc_graph_free(g);
    return capsule;
}

static PyObject *core_graph_add_node(PyObject *m, PyObject *args) {
    PyObject *cap, *inputs, *shape, *attrs;
    const char *name;
    int op;
    if (!PyArg_ParseTuple(args, "OsiOOO:graph_add_node", &cap, &name, &op, &inputs, &shape, &attrs)) return NULL;
    sc_graph *g = graph_of(cap);
    if (g == NULL) return NULL;
    int64_t *in64 = NULL, *sh = NULL, *at = NULL;
    size_t *in = NULL;
    PyObject *result = NULL;
    Py_ssize_t ni = read_ints(inputs, "graph_add_node: inputs", &in64);
    if (ni < 0) goto done;
    Py_ssize_t ns = read_ints(shape, "graph_add_node: shape", &sh);
    if (ns < 0) goto done;
    Py_ssize_t na = read_ints(attrs, "graph_add_node: attrs", &at);
    if (na < 0) goto done;
    if (ni > 0) {
        in = (size_t *)PyMem_Malloc(sizeof(size_t) * (size_t)ni);
        if (in == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        for (Py_ssize_t i = 0; i < ni; i++) {
            if (in64[i] < 0) {
                PyErr_Format(PyExc_IndexError, "graph_add_node: inputs[%zd] is %lld; node indices are >= 0", i, (long long)in64[i]);
                goto done;
            }
            in[i] = (size_t)in64[i];
        }
    }
    size_t index = 0;
    int status = sc_graph_add_node(g, name, op, in, (size_t)ni, sh, (size_t)ns, at, (size_t)na, &index);
    if (status != SC_OK) {
        scpy_raise_status(status, sc_last_error());
        goto done;
    }
    result = PyLong_FromSize_t(index);
done:
    PyMem_Free(in64);
    PyMem_Free(in);
    PyMem_Free(sh);
    PyMem_Free(at);
    return result;
}

static PyObject *core_graph_set_mask(PyObject *m, PyObject *args) {
    PyObject *cap, *w, *b;
    Py_ssize_t node;
    if (!PyArg_ParseTuple(args, "OnOO:graph_set_mask", &cap, &node, &w, &b)) return NULL;
    sc_graph *g = graph_of(cap);
    if (g == NULL) return NULL;
    if (node < 0) return PyErr_Format(PyExc_IndexError, "graph_set_mask: node %zd is negative", node);
    tensor_arg tw, tb;
    const sc_tensor *pb = NULL;
    if (scpy_read_spec(w, "graph_set_mask: weight_mask", &tw) < 0) return NULL;
    if (scpy_read_optional_spec(b, "graph_set_mask: bias_mask", &tb, &pb) < 0) return NULL;
    int status = sc_graph_set_mask(g, (size_t)node, &tw.t, pb);
    if (status != SC_OK) return scpy_raise_status(status, sc_last_error());
    Py_RETURN_NONE;
}

static PyObject *core_graph_groups(PyObject *m, PyObject *cap) {
    sc_graph *g = graph_of(cap);
    if (g == NULL) return NULL;
    size_t n = 0;
    int status = sc_graph_dependency_groups(g, &n);
    if (status != SC_OK) return scpy_raise_status(status, sc_last_error());
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (list == NULL) return NULL;
    for (size_t k = 0; k < n; k++) {
        size_t count = 0;
        status = sc_graph_group_members(g, k, NULL, 0, &count);
        size_t *members = (size_t *)PyMem_Malloc(sizeof(size_t) * (count > 0 ? count : 1));
        if (members == NULL) {
            Py_DECREF(list);
            return PyErr_NoMemory();
        }
        if (status == SC_OK) status = sc_graph_group_members(g, k, members, count, &count);
        if (status != SC_OK) {
            PyMem_Free(members);
            Py_DECREF(list);
            return scpy_raise_status(status, sc_last_error());
        }
        PyObject *item = PyList_New((Py_ssize_t)count);
        for (size_t i = 0; item != NULL && i < count; i++) PyList_SetItem(item, (Py_ssize_t)i, PyLong_FromSize_t(members[i]));
        PyMem_Free(members);
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SetItem(list, (Py_ssize_t)k, item);
    }
    return list;
}

static PyObject *core_graph_node_group(PyObject *m, PyObject *args) {
    PyObject *cap;
    Py_ssize_t node;
    if (!PyArg_ParseTuple(args, "On:graph_node_group", &cap, &node)) return NULL;
    sc_graph *g = graph_of(cap);
    if (g == NULL) return NULL;
    if (node < 0) return PyErr_Format(PyExc_IndexError, "graph_node_group: node %zd is negative", node);
    int64_t group = -1, block = 0;
    int status = sc_graph_node_group(g, (size_t)node, &group, &block);
    if (status != SC_OK) return scpy_raise_status(status, sc_last_error());
    return Py_BuildValue("(LL)", (long long)group, (long long)block);
}

static PyObject *int64_list(const int64_t *v, size_t n) {
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list != NULL && i < n; i++) PyList_SetItem(list, (Py_ssize_t)i, PyLong_FromLongLong((long long)v[i]));
    return list;
}

static PyObject *core_graph_plan(PyObject *m, PyObject *args) {
    PyObject *cap;
    Py_ssize_t node;
    int which;
    if (!PyArg_ParseTuple(args, "Oni:graph_plan", &cap, &node, &which)) return NULL;
    sc_graph *g = graph_of(cap);
    if (g == NULL) return NULL;
    if (node < 0) return PyErr_Format(PyExc_IndexError, "graph_plan: node %zd is negative", node);
    int64_t count = 0;
    int status = sc_graph_shrink_plan(g, (size_t)node, which, NULL, 0, &count);
    if (status != SC_OK) return scpy_raise_status(status, sc_last_error());
    if (count < 0) Py_RETURN_NONE;
    int64_t *v = (int64_t *)PyMem_Malloc(sizeof(int64_t) * (size_t)(count > 0 ? count : 1));
    if (v == NULL) return PyErr_NoMemory();
    status = sc_graph_shrink_plan(g, (size_t)node, which, v, (size_t)count, &count);
    PyObject *r = status == SC_OK ? int64_list(v, (size_t)count) : scpy_raise_status(status, sc_last_error());
    PyMem_Free(v);
    return r;
}

static PyObject *core_graph_shrunk_attrs(PyObject *m, PyObject *args) {
    PyObject *cap;
    Py_ssize_t node;
    if (!PyArg_ParseTuple(args, "On:graph_shrunk_attrs", &cap, &node)) return NULL;
    sc_graph *g = graph_of(cap);
    if (g == NULL) return NULL;
    if (node < 0) return PyErr_Format(PyExc_IndexError, "graph_shrunk_attrs: node %zd is negative", node);
    size_t count = 0;
    int status = sc_graph_shrunk_attrs(g, (size_t)node, NULL, 0, &count);
    if (status != SC_OK) return scpy_raise_status(status, sc_last_error());
    int64_t v[64];
    if (count > 64) return PyErr_Format(PyExc_ValueError, "graph_shrunk_attrs: %zu attributes; at most 64", count);
    status = sc_graph_shrunk_attrs(g, (size_t)node, v, 64, &count);
    if (status != SC_OK) return scpy_raise_status(status, sc_last_error());
    return int64_list(v, count);
}

static PyObject *core_graph_report(PyObject *m, PyObject *cap) {
    sc_graph *g = graph_of(cap);
    if (g == NULL) return NULL;
    const char *json = NULL;
    size_t length = 0;
    int status = sc_graph_report(g, &json, &length);
    if (status != SC_OK) return scpy_raise_status(status, sc_last_error());
    return PyUnicode_DecodeUTF8(json, (Py_ssize_t)length, "strict");
}

static PyObject *core_graph_config_list(PyObject *m, PyObject *args) {
    PyObject *cap;
    const char *config_list, *report_configs;
    if (!PyArg_ParseTuple(args, "Oss:graph_config_list", &cap, &config_list, &report_configs)) return NULL;
    sc_graph *g = graph_of(cap);
    if (g == NULL) return NULL;
    const char *json = NULL;
    size_t length = 0;
    int status = sc_graph_config_list(g, config_list, report_configs, &json, &length);
    if (status != SC_OK) return scpy_raise_status(status, sc_last_error());
    return PyUnicode_DecodeUTF8(json, (Py_ssize_t)length, "strict");
}

static PyObject *core_graph_cost(PyObject *m, PyObject *cap) {
    sc_graph *g = graph_of(cap);
    if (g == NULL) return NULL;
    int64_t flops = 0, params = 0;
    int status = sc_graph_cost(g, NULL, NULL, 0, &flops, &params);
    if (status != SC_OK) return scpy_raise_status(status, sc_last_error());
    size_t n = 0;
    status = sc_graph_node_count(g, &n);
    if (status != SC_OK) return scpy_raise_status(status, sc_last_error());
    int64_t *nf = (int64_t *)PyMem_Malloc(sizeof(int64_t) * (n > 0 ? n : 1));
    int64_t *np = (int64_t *)PyMem_Malloc(sizeof(int64_t) * (n > 0 ? n : 1));
    if (nf == NULL || np == NULL) {
        PyMem_Free(nf);
        PyMem_Free(np);
        return PyErr_NoMemory();
    }
    status = sc_graph_cost(g, nf, np, n, &flops, &params);
    PyObject *r = NULL;
    if (status != SC_OK) {
        scpy_raise_status(status, sc_last_error());
    } else {
        PyObject *a = int64_list(nf, n), *b = int64_list(np, n);
        if (a != NULL && b != NULL) r = Py_BuildValue("(LLOO)", (long long)flops, (long long)params, a, b);
        Py_XDECREF(a);
        Py_XDECREF(b);
    }
    PyMem_Free(nf);
    PyMem_Free(np);
    return r;
}

static PyObject *core_graph_op_codes(PyObject *m, PyObject *noargs) {
    return Py_BuildValue("{si,si,si,si,si,si,si,si,si,si,si,si,si,si,si,si,si,si,si}", "input", SC_GRAPH_OP_INPUT, "conv",
                         SC_GRAPH_OP_CONV, "linear", SC_GRAPH_OP_LINEAR, "embedding", SC_GRAPH_OP_EMBEDDING, "norm",
                         SC_GRAPH_OP_NORM, "elementwise", SC_GRAPH_OP_ELEMENTWISE, "pass", SC_GRAPH_OP_PASS, "cat",
                         SC_GRAPH_OP_CAT, "split", SC_GRAPH_OP_SPLIT, "reshape", SC_GRAPH_OP_RESHAPE, "permute",
                         SC_GRAPH_OP_PERMUTE, "transpose", SC_GRAPH_OP_TRANSPOSE, "reduce", SC_GRAPH_OP_REDUCE,
                         "opaque", SC_GRAPH_OP_OPAQUE, "output", SC_GRAPH_OP_OUTPUT, "attention", SC_GRAPH_OP_ATTENTION, "chunk", SC_GRAPH_OP_CHUNK, "OUTPUT", SC_GRAPH_OUTPUT,
                         "INPUT", SC_GRAPH_INPUT);
}

PyMethodDef scpy_graph_module_methods[] = {
    {"graph_create", core_graph_create, METH_NOARGS, "graph_create() -> graph: an empty sc_graph (freed with the object)."},
    {"graph_add_node", core_graph_add_node, METH_VARARGS,
     "graph_add_node(graph, name, op, inputs, shape, attrs) -> int: sc_graph_add_node; the node's index."},
    {"graph_set_mask", core_graph_set_mask, METH_VARARGS,
     "graph_set_mask(graph, node, weight_spec, bias_spec|None): sc_graph_set_mask."},
    {"graph_groups", core_graph_groups, METH_O, "graph_groups(graph) -> [[node, ...], ...]: the dependency groups."},
    {"graph_node_group", core_graph_node_group, METH_VARARGS,
     "graph_node_group(graph, node) -> (group, internal_metric_block): sc_graph_node_group."},
    {"graph_plan", core_graph_plan, METH_VARARGS,
     "graph_plan(graph, node, which) -> [int] | None: sc_graph_shrink_plan (None: untracked, keep all)."},
    {"graph_shrunk_attrs", core_graph_shrunk_attrs, METH_VARARGS, "graph_shrunk_attrs(graph, node) -> [int]: sc_graph_shrunk_attrs."},
    {"graph_report", core_graph_report, METH_O, "graph_report(graph) -> str: sc_graph_report's JSON."},
    {"graph_config_list", core_graph_config_list, METH_VARARGS,
     "graph_config_list(graph, config_json, report_configs_json) -> str: sc_graph_config_list's JSON."},
    {"graph_cost", core_graph_cost, METH_O,
     "graph_cost(graph) -> (total_flops, total_params, node_flops, node_params): sc_graph_cost."},
    {"graph_op_codes", core_graph_op_codes, METH_NOARGS, "graph_op_codes() -> dict: SC_GRAPH_OP_* and SC_GRAPH_OUTPUT/INPUT."},
    {NULL, NULL, 0, NULL},
};
