/*
 * swiftcompress._core: a thin CPython extension over include/swiftcompress.h.
 *
 * It converts Python values to C ABI arguments and C ABI statuses to Python exceptions, and does
 * nothing else: no config keys are read here and no tensor element is touched. It knows nothing
 * about PyTorch: tensors arrive as "specs", tuples
 *
 *     (data_ptr: int, dtype: int (SC_DTYPE_*), shape: tuple[int, ...], strides: tuple[int, ...] | None)
 *
 * with strides in elements, as torch.Tensor.stride() gives them. The Python package builds them.
 *
 * Memory safety: the core keeps the data pointers of bound tensors. Session.bind and
 * Session.bind_metric therefore take a `keepalive` object (the tensors, their storages) that the
 * session holds until the target is bound again, an accepted config, modules added that discard
 * the resolved targets, or the session is closed, which is exactly as long as the core may read or
 * write those buffers. The object is stored before the core gets the pointer; a call the core
 * refuses (it keeps its earlier bindings) puts the earlier entry back and drops nothing.
 *
 * Errors: a failed call raises the exception class registered for its status with
 * set_error_classes() (the package registers subclasses of ValueError / TypeError), or
 * RuntimeError when none is registered; the message is the core's. The exception gets the
 * attributes `status` (int) and `status_name` (str, e.g. "SC_ERROR_CONFIG").
 *
 * The GIL is released while masks are generated or applied. A session is not thread-safe: a
 * second call while one is running in another thread raises RuntimeError instead of racing.
 */
#include <string.h>

#include "_common.h"

/* status -> exception class, registered by the package (swiftcompress.errors). */
static PyObject *error_classes = NULL; /* dict int -> type */

/* Raises the exception for `status` with `message` (UTF-8, may be NULL). Returns NULL. */
PyObject *scpy_raise_status(int status, const char *message) {
    PyObject *cls = NULL;
    if (error_classes != NULL) {
        PyObject *key = PyLong_FromLong(status);
        if (key == NULL) return NULL;
        cls = PyDict_GetItemWithError(error_classes, key); /* borrowed */
        Py_DECREF(key);
        if (cls == NULL && PyErr_Occurred()) return NULL;
    }
    if (cls == NULL) cls = PyExc_RuntimeError;
    PyObject *msg = PyUnicode_DecodeUTF8(message ? message : "", message ? (Py_ssize_t)strlen(message) : 0,
                                         "replace");
    if (msg == NULL) return NULL;
    if (PyUnicode_GetLength(msg) == 0) {
        Py_DECREF(msg);
        msg = PyUnicode_FromFormat("swiftcompress failed with %s", sc_status_name(status));
        if (msg == NULL) return NULL;
    }
    PyObject *exc = PyObject_CallFunctionObjArgs(cls, msg, NULL);
    Py_DECREF(msg);
    if (exc == NULL) return NULL;
    PyObject *code = PyLong_FromLong(status);
    PyObject *name = PyUnicode_FromString(sc_status_name(status));
    if (code == NULL || name == NULL || PyObject_SetAttrString(exc, "status", code) < 0 ||
        PyObject_SetAttrString(exc, "status_name", name) < 0) {
        Py_XDECREF(code);
        Py_XDECREF(name);
        Py_DECREF(exc);
        return NULL;
    }
    Py_DECREF(code);
    Py_DECREF(name);
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
    return NULL;
}

PyObject *scpy_as_tuple(PyObject *seq, const char *message) {
    PyObject *tuple = PySequence_Tuple(seq);
    if (tuple == NULL && PyErr_ExceptionMatches(PyExc_TypeError)) PyErr_SetString(PyExc_TypeError, message);
    return tuple;
}

void scpy_type_name(PyObject *obj, char *buf, size_t size) {
    if (size == 0) return;
    PyObject *type = (PyObject *)Py_TYPE(obj);
    PyObject *qualname = PyType_GetQualName((PyTypeObject *)type);
    PyObject *module = PyObject_GetAttrString(type, "__module__");
    if (module != NULL && !PyUnicode_Check(module)) Py_CLEAR(module);
    PyObject *text = NULL;
    if (qualname != NULL) {
        if (module != NULL && PyUnicode_CompareWithASCIIString(module, "builtins") != 0) {
            text = PyUnicode_FromFormat("%U.%U", module, qualname);
        } else {
            text = qualname;
            Py_INCREF(text);
        }
    }
    const char *utf8 = text != NULL ? PyUnicode_AsUTF8AndSize(text, NULL) : NULL;
    PyOS_snprintf(buf, size, "%s", utf8 != NULL ? utf8 : "?");
    Py_XDECREF(text);
    Py_XDECREF(qualname);
    Py_XDECREF(module);
    PyErr_Clear(); /* a type whose name cannot be read is reported as "?" */
}

/* ---------------------------------------------------------------------------------------------
 * Tensor specs
 * ------------------------------------------------------------------------------------------- */

/* Reads a sequence of ints (tuple, list, torch.Size) of at most SC_MAX_NDIM items into out. */
static int read_dims(PyObject *seq, const char *what, int64_t *out, int32_t *count) {
    PyObject *fast = scpy_as_tuple(seq, "");
    if (fast == NULL) {
        char type_name[128];
        scpy_type_name(seq, type_name, sizeof type_name);
        PyErr_Format(PyExc_TypeError, "tensor spec: %s must be a sequence of ints, got %.100s", what, type_name);
        return -1;
    }
    Py_ssize_t n = PyTuple_Size(fast);
    if (n > SC_MAX_NDIM) {
        Py_DECREF(fast);
        PyErr_Format(PyExc_ValueError, "tensor spec: %s has %zd dims, at most %d are supported", what, n,
                     SC_MAX_NDIM);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        long long v = PyLong_AsLongLong(PyTuple_GetItem(fast, i));
        if (v == -1 && PyErr_Occurred()) {
            Py_DECREF(fast);
            PyErr_Format(PyExc_TypeError, "tensor spec: %s[%zd] must be an int", what, i);
            return -1;
        }
        out[i] = (int64_t)v;
    }
    *count = (int32_t)n;
    Py_DECREF(fast);
    return 0;
}

/* Converts a spec tuple (data_ptr, dtype, shape, strides|None) into a tensor_arg. */
int scpy_read_spec(PyObject *spec, const char *what, tensor_arg *arg) {
    if (!PyTuple_Check(spec) || PyTuple_Size(spec) != 4) {
        char type_name[128];
        scpy_type_name(spec, type_name, sizeof type_name);
        PyErr_Format(PyExc_TypeError, "%s: expected a spec tuple (data_ptr, dtype, shape, strides), got %.100s",
                     what, type_name);
        return -1;
    }
    PyObject *ptr = PyTuple_GetItem(spec, 0);
    PyObject *dtype = PyTuple_GetItem(spec, 1);
    PyObject *shape = PyTuple_GetItem(spec, 2);
    PyObject *strides = PyTuple_GetItem(spec, 3);
    void *data = PyLong_AsVoidPtr(ptr);
    if (data == NULL && PyErr_Occurred()) return -1;
    long dt = PyLong_AsLong(dtype);
    if (dt == -1 && PyErr_Occurred()) return -1;
    if (dt < INT32_MIN || dt > INT32_MAX) { /* not truncated into a valid code: the core rejects it */
        PyErr_Format(PyExc_ValueError, "%s: dtype code %ld is out of range", what, dt);
        return -1;
    }
    memset(arg, 0, sizeof(*arg));
    arg->t.data = data;
    arg->t.dtype = (int32_t)dt;
    int32_t ndim = 0;
    if (read_dims(shape, "shape", arg->shape, &ndim) < 0) return -1;
    arg->t.ndim = ndim;
    arg->t.shape = arg->shape;
    if (strides == Py_None) {
        arg->t.strides = NULL;
    } else {
        int32_t nstrides = 0;
        if (read_dims(strides, "strides", arg->strides, &nstrides) < 0) return -1;
        if (nstrides != ndim) {
            PyErr_Format(PyExc_ValueError, "%s: %d strides for %d dims", what, (int)nstrides, (int)ndim);
            return -1;
        }
        arg->t.strides = arg->strides;
    }
    return 0;
}

int scpy_read_optional_spec(PyObject *spec, const char *what, tensor_arg *arg, const sc_tensor **out) {
    if (spec == Py_None) {
        *out = NULL;
        return 0;
    }
    if (scpy_read_spec(spec, what, arg) < 0) return -1;
    *out = &arg->t;
    return 0;
}

int scpy_read_index(PyObject *arg, size_t *index) {
    Py_ssize_t value = PyLong_AsSsize_t(arg);
    if (value == -1 && PyErr_Occurred()) return -1;
    if (value < 0) {
        PyErr_SetString(PyExc_IndexError, "target index out of range");
        return -1;
    }
    *index = (size_t)value;
    return 0;
}

int scpy_keep(SessionObject *self, PyObject *key, PyObject *obj) {
    return PyDict_SetItem(self->keepalive, key, obj);
}

/* ---------------------------------------------------------------------------------------------
 * Session
 * ------------------------------------------------------------------------------------------- */

int scpy_check_open(SessionObject *self) {
    if (self->session == NULL) {
        PyErr_SetString(PyExc_ValueError, "the swiftcompress session is closed");
        return -1;
    }
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError,
                        "the swiftcompress session is in use by another thread (sessions are not thread-safe)");
        return -1;
    }
    return 0;
}

PyObject *scpy_session_error(SessionObject *self, int status) {
    return scpy_raise_status(status, sc_session_last_error(self->session));
}

static int Session_init(SessionObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"mode", NULL};
    int mode = SC_MODE_PRUNING;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|i", kwlist, &mode)) return -1;
    if (self->busy) { /* __init__ again while another thread's call runs: that call uses the session */
        PyErr_SetString(PyExc_RuntimeError, "the swiftcompress session is in use by another thread");
        return -1;
    }
    if (self->session != NULL) {
        sc_session_free(self->session);
        self->session = NULL;
    }
    Py_CLEAR(self->keepalive);
    self->keepalive = PyDict_New();
    if (self->keepalive == NULL) return -1;
    sc_session *s = NULL;
    int status = sc_session_create(mode, &s);
    if (status != SC_OK) {
        scpy_raise_status(status, sc_last_error());
        return -1;
    }
    self->session = s;
    return 0;
}

static void Session_dealloc(SessionObject *self) {
    PyObject_GC_UnTrack(self);
    if (self->session != NULL) sc_session_free(self->session);
    self->session = NULL;
    Py_CLEAR(self->keepalive);
    PyTypeObject *type = Py_TYPE((PyObject *)self);
    freefunc tp_free = (freefunc)PyType_GetSlot(type, Py_tp_free);
    tp_free((PyObject *)self);
    Py_DECREF(type); /* a heap type: each instance holds a reference to it */
}

static int Session_traverse(SessionObject *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE((PyObject *)self)); /* a heap type */
    Py_VISIT(self->keepalive);
    return 0;
}

static int Session_clear(SessionObject *self) {
    /* The core may still hold pointers into the kept objects: free it first. */
    if (self->session != NULL && self->busy) return 0; /* the core still reads the kept buffers */
    if (self->session != NULL) {
        sc_session_free(self->session);
        self->session = NULL;
    }
    Py_CLEAR(self->keepalive);
    return 0;
}

static PyObject *Session_close(SessionObject *self, PyObject *Py_UNUSED(ignored)) {
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "the swiftcompress session is in use by another thread");
        return NULL;
    }
    if (self->session != NULL) sc_session_free(self->session);
    self->session = NULL;
    if (self->keepalive != NULL) PyDict_Clear(self->keepalive);
    Py_RETURN_NONE;
}

/* The UTF-8 text of `obj` (a str without NUL characters that encodes as UTF-8) into *out; else
 * InvalidArgumentError (SC_ERROR_INVALID_ARGUMENT) naming `what`, the item index and the value.
 * Returns 0, or -1 with the exception set. */
static int read_name(PyObject *obj, const char *what, Py_ssize_t index, const char **out) {
    const char *problem = NULL;
    if (!PyUnicode_Check(obj)) {
        problem = "is not a str";
    } else {
        Py_ssize_t size = 0;
        const char *text = PyUnicode_AsUTF8AndSize(obj, &size);
        if (text == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_UnicodeError)) return -1;
            PyErr_Clear();
            problem = "is not valid Unicode text (a lone surrogate); the core takes UTF-8";
        } else if ((size_t)size != strlen(text)) {
            problem = "contains a NUL character; the core takes C strings";
        } else {
            *out = text;
            return 0;
        }
    }
    PyObject *message = PyUnicode_FromFormat("add_modules: modules[%zd]: %s %R %s", index, what, obj, problem);
    if (message == NULL) return -1;
    const char *utf8 = PyUnicode_AsUTF8AndSize(message, NULL); /* a repr is ASCII-safe */
    if (utf8 == NULL) {
        Py_DECREF(message);
        return -1;
    }
    scpy_raise_status(SC_ERROR_INVALID_ARGUMENT, utf8);
    Py_DECREF(message);
    return -1;
}

/* After add_modules / add_modules_json (done or refused): adding a module after the config was set
 * discards the core's resolved targets and bindings, and only then may the kept objects go. No
 * module added (an empty list, a refused first item) leaves the bindings, and their objects, in place. */
static void drop_keepalive_if_unbound(SessionObject *self) {
    if (sc_session_target_count(self->session) == 0) PyDict_Clear(self->keepalive);
}

static PyObject *Session_add_modules(SessionObject *self, PyObject *modules) {
    if (scpy_check_open(self) < 0) return NULL;
    PyObject *fast = scpy_as_tuple(modules, "add_modules: expected a sequence of (name, type, forward_args) tuples");
    if (fast == NULL) return NULL;
    Py_ssize_t n = PyTuple_Size(fast);
    const char *argv_stack[16];
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *name = NULL, *type = NULL;
        PyObject *fargs = Py_None;
        PyObject *item = PyTuple_GetItem(fast, i);
        if (!PyTuple_Check(item) || PyTuple_Size(item) < 2 || PyTuple_Size(item) > 3) {
            char type_name[128];
            scpy_type_name(item, type_name, sizeof type_name);
            PyErr_Format(PyExc_TypeError, "add_modules: modules[%zd] must be a tuple (name, type, forward_args), "
                         "got %.100s", i, type_name);
            Py_DECREF(fast);
            return NULL;
        }
        if (PyTuple_Size(item) == 3) fargs = PyTuple_GetItem(item, 2);
        if (read_name(PyTuple_GetItem(item, 0), "the module name", i, &name) < 0 ||
            read_name(PyTuple_GetItem(item, 1), "the type name", i, &type) < 0) {
            Py_DECREF(fast);
            return NULL;
        }
        const char **argv = NULL;
        Py_ssize_t argc = 0;
        PyObject *afast = NULL;
        if (fargs != Py_None) {
            afast = scpy_as_tuple(fargs, "add_modules: forward_args must be a sequence of str or None");
            if (afast == NULL) {
                Py_DECREF(fast);
                return NULL;
            }
            argc = PyTuple_Size(afast);
            argv = argc <= 16 ? argv_stack : (const char **)PyMem_Malloc(sizeof(char *) * (size_t)argc);
            if (argv == NULL) {
                Py_DECREF(afast);
                Py_DECREF(fast);
                return PyErr_NoMemory();
            }
            for (Py_ssize_t k = 0; k < argc; k++) {
                if (read_name(PyTuple_GetItem(afast, k), "a forward argument name", i, &argv[k]) < 0) {
                    if (argv != argv_stack) PyMem_Free((void *)argv);
                    Py_DECREF(afast);
                    Py_DECREF(fast);
                    return NULL;
                }
            }
        }
        int status = sc_session_add_module(self->session, name, type, argv, (size_t)argc);
        if (argv != NULL && argv != argv_stack) PyMem_Free((void *)argv);
        Py_XDECREF(afast);
        if (status != SC_OK) {
            Py_DECREF(fast);
            scpy_session_error(self, status);
            PyObject *type, *value, *tb;
            PyErr_Fetch(&type, &value, &tb);
            drop_keepalive_if_unbound(self); /* earlier items may have been added */
            PyErr_Restore(type, value, tb);
            return NULL;
        }
    }
    Py_DECREF(fast);
    drop_keepalive_if_unbound(self);
    Py_RETURN_NONE;
}

/* The UTF-8 of a JSON text argument; a str that does not encode (a lone surrogate) raises
 * ConfigError (SC_ERROR_INVALID_JSON), as the core does for text that is not UTF-8. */
static const char *json_text(PyObject *arg, const char *what, Py_ssize_t *len) {
    const char *text = PyUnicode_AsUTF8AndSize(arg, len);
    if (text == NULL && PyErr_ExceptionMatches(PyExc_UnicodeError)) {
        PyErr_Clear();
        char message[128];
        PyOS_snprintf(message, sizeof message, "%s: the text is not valid Unicode (a lone surrogate)", what);
        scpy_raise_status(SC_ERROR_INVALID_JSON, message);
    }
    return text;
}

/* scpy_check_open, then json_text: the text of a session method's JSON argument, or NULL with an
 * exception set. */
static const char *session_json_text(SessionObject *self, PyObject *arg, const char *what, Py_ssize_t *len) {
    if (scpy_check_open(self) < 0) return NULL;
    return json_text(arg, what, len);
}

static PyObject *Session_add_modules_json(SessionObject *self, PyObject *arg) {
    Py_ssize_t len = 0;
    const char *text = session_json_text(self, arg, "add_modules_json", &len);
    if (text == NULL) return NULL;
    int status = sc_session_add_modules_json(self->session, text, (size_t)len);
    if (status != SC_OK) return scpy_session_error(self, status); /* adds no module */
    drop_keepalive_if_unbound(self);
    Py_RETURN_NONE;
}

static PyObject *Session_set_config(SessionObject *self, PyObject *arg) {
    Py_ssize_t len = 0;
    const char *text = session_json_text(self, arg, "set_config", &len);
    if (text == NULL) return NULL;
    int status = sc_session_set_config(self->session, text, (size_t)len);
    /* A refused config keeps the earlier config and its bindings in the core (the header's
     * promise), so the tensors those bindings point at must stay alive: drop them only once the new
     * config has replaced the old one. */
    if (status != SC_OK) return scpy_session_error(self, status);
    PyDict_Clear(self->keepalive);
    Py_RETURN_NONE;
}

static PyObject *Session_targets(SessionObject *self, PyObject *Py_UNUSED(ignored)) {
    if (scpy_check_open(self) < 0) return NULL;
    size_t n = sc_session_target_count(self->session);
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (list == NULL) return NULL;
    for (size_t i = 0; i < n; i++) {
        const char *m = NULL, *t = NULL;
        int status = sc_session_target(self->session, i, &m, &t);
        if (status != SC_OK) {
            Py_DECREF(list);
            return scpy_session_error(self, status);
        }
        PyObject *pair = Py_BuildValue("(ss)", m, t);
        if (pair == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SetItem(list, (Py_ssize_t)i, pair); /* steals pair; cannot fail for an index in range */
    }
    return list;
}

static PyObject *Session_target_settings(SessionObject *self, PyObject *arg) {
    if (scpy_check_open(self) < 0) return NULL;
    size_t index = 0;
    if (scpy_read_index(arg, &index) < 0) return NULL;
    const char *json = NULL;
    size_t length = 0;
    int status = sc_session_target_settings(self->session, index, &json, &length);
    if (status != SC_OK) return scpy_session_error(self, status);
    return PyUnicode_DecodeUTF8(json, (Py_ssize_t)length, "strict");
}

static PyObject *Session_report(SessionObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"table", NULL};
    int table = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|p", kwlist, &table)) return NULL;
    if (scpy_check_open(self) < 0) return NULL;
    const char *text = NULL;
    size_t length = 0;
    int status = sc_session_report(self->session, table, &text, &length);
    if (status != SC_OK) return scpy_session_error(self, status);
    return PyUnicode_DecodeUTF8(text, (Py_ssize_t)length, "strict");
}

/* keepalive key: (module, target, kind) where kind 0 = tensor+mask, 1 = metric. */
static PyObject *keep_key(const char *module, const char *target, int kind) {
    return Py_BuildValue("(ssi)", module, target, kind);
}

/* Stores `obj` under `key` before the core gets its pointer; *old receives the earlier entry (a
 * new reference, or NULL), for put_back after a refused call. Returns 0, or -1 with an exception. */
static int keep_first(SessionObject *self, PyObject *key, PyObject *obj, PyObject **old) {
    *old = PyDict_GetItemWithError(self->keepalive, key); /* borrowed */
    if (*old == NULL && PyErr_Occurred()) return -1;
    Py_XINCREF(*old);
    if (scpy_keep(self, key, obj) < 0) {
        Py_CLEAR(*old);
        return -1;
    }
    return 0;
}

/* After a call the core refused (it keeps its earlier binding): the earlier entry back. Replacing
 * the value of a present key does not allocate, so this cannot fail for a present `old`. */
static void put_back(SessionObject *self, PyObject *key, PyObject *old) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (old != NULL) {
        if (PyDict_SetItem(self->keepalive, key, old) < 0) PyErr_Clear();
    } else if (PyDict_DelItem(self->keepalive, key) < 0) {
        PyErr_Clear();
    }
    PyErr_Restore(type, value, tb);
}

static PyObject *Session_bind(SessionObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"module_name", "target_name", "tensor", "mask", "keepalive", NULL};
    const char *module, *target;
    PyObject *tspec, *mspec, *alive = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "ssOO|O:bind", kwlist, &module, &target, &tspec, &mspec, &alive))
        return NULL;
    if (scpy_check_open(self) < 0) return NULL;
    tensor_arg t, m;
    const sc_tensor *tp = NULL, *mp = NULL;
    if (tspec != Py_None) {
        if (scpy_read_spec(tspec, "bind: tensor", &t) < 0) return NULL;
        tp = &t.t;
    }
    if (mspec != Py_None) {
        if (scpy_read_spec(mspec, "bind: mask", &m) < 0) return NULL;
        mp = &m.t;
    }
    /* Keep first, then bind: the core never holds a pointer whose owner is not kept. A refused bind
     * leaves the core's earlier binding in place, so its entry is put back. */
    PyObject *key = keep_key(module, target, 0), *old = NULL;
    if (key == NULL) return NULL;
    if (keep_first(self, key, alive, &old) < 0) {
        Py_DECREF(key);
        return NULL;
    }
    int status = sc_session_bind(self->session, module, target, tp, mp);
    if (status != SC_OK) {
        scpy_session_error(self, status);
        put_back(self, key, old);
        Py_XDECREF(old);
        Py_DECREF(key);
        return NULL;
    }
    Py_XDECREF(old);
    Py_DECREF(key);
    /* Binding again drops the metric binding of the target (the core no longer holds it). */
    key = keep_key(module, target, 1);
    if (key == NULL) return NULL;
    if (PyDict_DelItem(self->keepalive, key) < 0) PyErr_Clear();
    Py_DECREF(key);
    Py_RETURN_NONE;
}

static PyObject *Session_bind_metric(SessionObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"module_name", "target_name", "metric", "keepalive", NULL};
    const char *module, *target;
    PyObject *spec, *alive = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "ssO|O:bind_metric", kwlist, &module, &target, &spec, &alive))
        return NULL;
    if (scpy_check_open(self) < 0) return NULL;
    tensor_arg t;
    if (scpy_read_spec(spec, "bind_metric: metric", &t) < 0) return NULL;
    PyObject *key = keep_key(module, target, 1), *old = NULL;
    if (key == NULL) return NULL;
    if (keep_first(self, key, alive, &old) < 0) {
        Py_DECREF(key);
        return NULL;
    }
    int status = sc_session_bind_metric(self->session, module, target, &t.t);
    if (status != SC_OK) {
        scpy_session_error(self, status);
        put_back(self, key, old);
    }
    Py_XDECREF(old);
    Py_DECREF(key);
    if (status != SC_OK) return NULL;
    Py_RETURN_NONE;
}

static PyObject *Session_generate_masks(SessionObject *self, PyObject *arg) {
    if (scpy_check_open(self) < 0) return NULL;
    long metric = PyLong_AsLong(arg);
    if (metric == -1 && PyErr_Occurred()) return NULL;
    int status;
    SCPY_CALL_BUSY(self, status, sc_session_generate_masks(self->session, (int)metric));
    if (status != SC_OK) return scpy_session_error(self, status);
    Py_RETURN_NONE;
}

static PyObject *Session_apply_masks(SessionObject *self, PyObject *Py_UNUSED(ignored)) {
    if (scpy_check_open(self) < 0) return NULL;
    int status;
    SCPY_CALL_BUSY(self, status, sc_session_apply_masks(self->session));
    if (status != SC_OK) return scpy_session_error(self, status);
    Py_RETURN_NONE;
}

static PyObject *Session_get_closed(SessionObject *self, void *Py_UNUSED(closure)) {
    return PyBool_FromLong(self->session == NULL);
}

/* The pruning and general methods; PyInit__core appends the quantization and distillation ones. */
static PyMethodDef Session_core_methods[] = {
    {"close", (PyCFunction)Session_close, METH_NOARGS, "Frees the core session (idempotent)."},
    {"add_modules", (PyCFunction)Session_add_modules, METH_O,
     "add_modules(modules): modules is a sequence of (name, type, forward_args or None), in named_modules() order."},
    {"add_modules_json", (PyCFunction)Session_add_modules_json, METH_O, "add_modules_json(text): a module list as JSON."},
    {"set_config", (PyCFunction)Session_set_config, METH_O, "set_config(json_text): sets and resolves the config list."},
    {"targets", (PyCFunction)Session_targets, METH_NOARGS, "targets() -> [(module_name, target_name)] in plan order."},
    {"target_settings", (PyCFunction)Session_target_settings, METH_O,
     "target_settings(index) -> JSON text of the target's canonical settings."},
    SCPY_KW_METHOD("report", Session_report,
        "report(table=False) -> the explain report as JSON text, or the table for people."),
    SCPY_KW_METHOD("bind", Session_bind,
        "bind(module_name, target_name, tensor_spec, mask_spec, keepalive=None)."),
    SCPY_KW_METHOD("bind_metric", Session_bind_metric,
        "bind_metric(module_name, target_name, metric_spec, keepalive=None)."),
    {"generate_masks", (PyCFunction)Session_generate_masks, METH_O,
     "generate_masks(metric): writes every bound mask (GIL released)."},
    {"apply_masks", (PyCFunction)Session_apply_masks, METH_NOARGS,
     "apply_masks(): multiplies / adds every bound mask into its tensor in place (GIL released)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Session_getset[] = {
    {"closed", (getter)Session_get_closed, NULL, "True once close() was called.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* The Session type is a heap type made from this spec (the limited API has no static types);
 * PyInit__core fills in the Py_tp_methods slot. */
static PyType_Slot Session_slots[] = {
    {Py_tp_doc, (void *)"A core session: one model's modules, one config list, its targets and the bound buffers."},
    {Py_tp_new, (void *)PyType_GenericNew},
    {Py_tp_init, (void *)Session_init},
    {Py_tp_dealloc, (void *)Session_dealloc},
    {Py_tp_traverse, (void *)Session_traverse},
    {Py_tp_clear, (void *)Session_clear},
    {Py_tp_getset, (void *)Session_getset},
    {Py_tp_methods, NULL},
    {0, NULL},
};

static PyType_Spec Session_spec = {
    .name = "swiftcompress._core.Session",
    .basicsize = sizeof(SessionObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = Session_slots,
};

/* ---------------------------------------------------------------------------------------------
 * Module functions
 * ------------------------------------------------------------------------------------------- */

static PyObject *core_version_number(PyObject *m, PyObject *Py_UNUSED(ignored)) {
    return PyLong_FromLong(sc_version_number());
}

static PyObject *core_version_string(PyObject *m, PyObject *Py_UNUSED(ignored)) {
    return PyUnicode_FromString(sc_version_string());
}

static PyObject *core_status_name(PyObject *m, PyObject *arg) {
    long status = PyLong_AsLong(arg);
    if (status == -1 && PyErr_Occurred()) return NULL;
    return PyUnicode_FromString(sc_status_name((int)status));
}

static PyObject *core_set_error_classes(PyObject *m, PyObject *arg) {
    if (!PyDict_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "set_error_classes: expected a dict {status: exception class}");
        return NULL;
    }
    Py_INCREF(arg);
    PyObject *old = error_classes;
    error_classes = arg;
    Py_XDECREF(old);
    Py_RETURN_NONE;
}

static PyObject *core_apply_mask(PyObject *m, PyObject *args) {
    PyObject *mspec, *tspec;
    int method;
    if (!PyArg_ParseTuple(args, "OOi:apply_mask", &mspec, &tspec, &method)) return NULL;
    tensor_arg mk, tg;
    if (scpy_read_spec(mspec, "apply_mask: mask", &mk) < 0 || scpy_read_spec(tspec, "apply_mask: target", &tg) < 0) return NULL;
    int status;
    SCPY_CALL_NOGIL(status, sc_apply_mask(&mk.t, &tg.t, method));
    if (status != SC_OK) return scpy_raise_status(status, sc_last_error());
    Py_RETURN_NONE;
}

static PyObject *core_sparsity_schedule(PyObject *m, PyObject *args) {
    int schedule;
    double ratio, out = 0;
    long long step, total;
    if (!PyArg_ParseTuple(args, "idLL:sparsity_schedule", &schedule, &ratio, &step, &total)) return NULL;
    int status = sc_sparsity_schedule(schedule, ratio, (int64_t)step, (int64_t)total, &out);
    if (status != SC_OK) return scpy_raise_status(status, sc_last_error());
    return PyFloat_FromDouble(out);
}

static PyMethodDef core_methods[] = {
    {"version_number", core_version_number, METH_NOARGS, "The loaded library's SC_VERSION_NUMBER."},
    {"version_string", core_version_string, METH_NOARGS, "The loaded library's version string."},
    {"status_name", core_status_name, METH_O, "The constant name of a status code."},
    {"set_error_classes", core_set_error_classes, METH_O,
     "set_error_classes({status: exception class}): the classes failed calls raise."},
    {"apply_mask", core_apply_mask, METH_VARARGS, "apply_mask(mask_spec, target_spec, method): in place, 0 mul, 1 add."},
    {"sparsity_schedule", core_sparsity_schedule, METH_VARARGS,
     "sparsity_schedule(schedule, ratio, step, total_steps) -> ratio at that step."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT, "swiftcompress._core",
    "Thin bindings of include/swiftcompress.h (see swiftcompress/_core.pyi).", -1, core_methods,
};

/* Session_core_methods and the other units' session methods (_common.h), NULL-terminated;
 * built once and never freed (the type's method table must outlive every Session type made from it). */
static PyMethodDef *Session_methods = NULL;

static Py_ssize_t method_count(const PyMethodDef *methods) {
    Py_ssize_t n = 0;
    while (methods[n].ml_name != NULL) n++;
    return n;
}

static int build_session_methods(void) {
    if (Session_methods != NULL) return 0;
    const PyMethodDef *parts[] = {Session_core_methods, scpy_quant_session_methods, scpy_real_session_methods,
                                  scpy_distill_session_methods, scpy_training_session_methods,
                                  scpy_dist_session_methods};
    Py_ssize_t total = 0;
    for (size_t p = 0; p < sizeof(parts) / sizeof(parts[0]); p++) total += method_count(parts[p]);
    PyMethodDef *all = (PyMethodDef *)PyMem_Calloc((size_t)total + 1, sizeof(PyMethodDef));
    if (all == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t k = 0;
    for (size_t p = 0; p < sizeof(parts) / sizeof(parts[0]); p++) {
        Py_ssize_t n = method_count(parts[p]);
        memcpy(all + k, parts[p], sizeof(PyMethodDef) * (size_t)n);
        k += n;
    }
    Session_methods = all; /* the sentinel is the zeroed last entry; never freed (lives with the type) */
    for (PyType_Slot *slot = Session_slots; slot->slot != 0; slot++) {
        if (slot->slot == Py_tp_methods) slot->pfunc = Session_methods;
    }
    return 0;
}

PyMODINIT_FUNC PyInit__core(void) {
    if (build_session_methods() < 0) return NULL;
    PyObject *m = PyModule_Create(&core_module);
    if (m == NULL) return NULL;
    if (PyModule_AddFunctions(m, scpy_real_module_methods) < 0 || PyModule_AddFunctions(m, scpy_training_module_methods) < 0 ||
        PyModule_AddFunctions(m, scpy_train_module_methods) < 0 || PyModule_AddFunctions(m, scpy_graph_module_methods) < 0 ||
        PyModule_AddFunctions(m, scpy_wanda_module_methods) < 0 ||
        PyModule_AddFunctions(m, scpy_dist_module_methods) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    PyObject *session_type = PyType_FromModuleAndSpec(m, &Session_spec, NULL);
    if (session_type == NULL || PyModule_AddObject(m, "Session", session_type) < 0) {
        Py_XDECREF(session_type);
        Py_DECREF(m);
        return NULL;
    }
#define ADD_INT(name)                                                    \
    if (PyModule_AddIntConstant(m, #name, name) < 0) {                   \
        Py_DECREF(m);                                                    \
        return NULL;                                                     \
    }
    ADD_INT(SC_VERSION_NUMBER)
    ADD_INT(SC_OK)
    ADD_INT(SC_ERROR_NULL_POINTER)
    ADD_INT(SC_ERROR_INVALID_ARGUMENT)
    ADD_INT(SC_ERROR_INVALID_JSON)
    ADD_INT(SC_ERROR_CONFIG)
    ADD_INT(SC_ERROR_UNKNOWN_NAME)
    ADD_INT(SC_ERROR_SHAPE)
    ADD_INT(SC_ERROR_DTYPE)
    ADD_INT(SC_ERROR_STATE)
    ADD_INT(SC_ERROR_PRUNING)
    ADD_INT(SC_ERROR_DISTILLATION)
    ADD_INT(SC_ERROR_QUANTIZATION)
    ADD_INT(SC_ERROR_INTERNAL)
    ADD_INT(SC_DTYPE_FLOAT32)
    ADD_INT(SC_DTYPE_FLOAT64)
    ADD_INT(SC_DTYPE_FLOAT16)
    ADD_INT(SC_DTYPE_BFLOAT16)
    ADD_INT(SC_MAX_NDIM)
    ADD_INT(SC_MODE_PRUNING)
    ADD_INT(SC_MODE_QUANTIZATION)
    ADD_INT(SC_MODE_DISTILLATION)
    ADD_INT(SC_METRIC_LEVEL)
    ADD_INT(SC_METRIC_L1)
    ADD_INT(SC_METRIC_L2)
    ADD_INT(SC_METRIC_FPGM)
    ADD_INT(SC_METRIC_SUPPLIED)
    ADD_INT(SC_METRIC_WANDA)
    ADD_INT(SC_REDUCE_SUM_INT64)
    ADD_INT(SC_REDUCE_MIN_FLOAT64)
    ADD_INT(SC_REDUCE_MAX_FLOAT64)
    ADD_INT(SC_SCHEDULE_LINEAR)
    ADD_INT(SC_SCHEDULE_AGP)
    ADD_INT(SC_SCHEDULE_NONE)
    ADD_INT(SC_OBSERVER_MINMAX)
    ADD_INT(SC_OBSERVER_EMA)
    ADD_INT(SC_QSTORAGE_INT8)
    ADD_INT(SC_QSTORAGE_UINT8)
    ADD_INT(SC_QSTORAGE_INT16)
    ADD_INT(SC_QSTORAGE_UINT16)
    ADD_INT(SC_QSTORAGE_INT4)
    ADD_INT(SC_QSTORAGE_UINT4)
    ADD_INT(SC_FOLD_CONV)
    ADD_INT(SC_TRAIN_LSQ)
    ADD_INT(SC_TRAIN_LSQ_PLUS)
    ADD_INT(SC_TRAIN_DOREFA)
    ADD_INT(SC_TRAIN_BNN)
    ADD_INT(SC_FOLD_LINEAR)
    ADD_INT(SC_APPLY_CLAMP_ROUND)
    ADD_INT(SC_APPLY_QAT_CLAMP_ROUND)
    ADD_INT(SC_APPLY_BYPASS)
#undef ADD_INT
    return m;
}
