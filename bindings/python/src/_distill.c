/*
 * swiftcompress._core: the distillation methods of Session (teacher modules, links, bind student /
 * teacher, distill). See _core.c for the conventions (tensor specs, errors, the GIL) and _common.h
 * for the shared helpers.
 *
 * Lifetimes: the core retains the data pointers of a bound student, its gradient buffer and its
 * teachers until the target's student is bound again (which also unbinds its teachers), the config
 * or modules change, or the session is closed. The `keepalive` objects passed with them are held
 * in the session's keepalive dict under the key (module_name, target_name, 2) as a dict
 * {-1: student keepalive, link: teacher keepalive}: binding the student replaces the whole entry,
 * binding a teacher sets (or, with None, removes) its link's item, and set_config / add_modules /
 * close clear the dict (_core.c). An object is stored before the core gets its pointer, and a bind
 * the core refuses puts the earlier entry back (the core keeps its earlier binding then). So an
 * object is held at least as long as the core may read or write its buffers.
 */
#include <string.h>

#include "_common.h"

/* The keepalive kind of distillation entries (_core.c uses 0: tensor + mask, 1: metric). */
#define DISTILL_KEEP_KIND 2

static PyObject *distill_key(const char *module, const char *target) {
    return Py_BuildValue("(ssi)", module, target, DISTILL_KEEP_KIND);
}

static PyObject *Session_add_teacher_modules(SessionObject *self, PyObject *names) {
    if (scpy_check_open(self) < 0) return NULL;
    if (PyUnicode_Check(names)) {
        PyErr_SetString(PyExc_TypeError, "add_teacher_modules: expected a sequence of module names, got one str");
        return NULL;
    }
    PyObject *fast = scpy_as_tuple(names, "add_teacher_modules: expected a sequence of str");
    if (fast == NULL) return NULL;
    Py_ssize_t n = PyTuple_Size(fast);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GetItem(fast, i);
        if (!PyUnicode_Check(item)) {
            char type_name[128];
            scpy_type_name(item, type_name, sizeof type_name);
            PyErr_Format(PyExc_TypeError, "add_teacher_modules: names[%zd] must be a str, got %.100s", i, type_name);
            Py_DECREF(fast);
            return NULL;
        }
        Py_ssize_t size = 0;
        const char *name = PyUnicode_AsUTF8AndSize(item, &size);
        if (name == NULL) {
            Py_DECREF(fast);
            if (!PyErr_ExceptionMatches(PyExc_UnicodeError)) return NULL;
            PyErr_Clear(); /* a lone surrogate: not UTF-8 text, as the C ABI says of invalid text */
            char message[112];
            PyOS_snprintf(message, sizeof message,
                          "add_teacher_modules: names[%zd] is not valid Unicode text (a lone surrogate)", i);
            return scpy_raise_status(SC_ERROR_INVALID_ARGUMENT, message);
        }
        if ((size_t)size != strlen(name)) { /* the C ABI would read a shorter name */
            char message[96];
            PyOS_snprintf(message, sizeof message, "add_teacher_modules: names[%zd] contains a NUL character", i);
            Py_DECREF(fast);
            return scpy_raise_status(SC_ERROR_INVALID_ARGUMENT, message);
        }
        int status = sc_session_add_teacher_module(self->session, name);
        if (status != SC_OK) {
            Py_DECREF(fast);
            return scpy_session_error(self, status);
        }
    }
    Py_DECREF(fast);
    Py_RETURN_NONE;
}

static PyObject *Session_target_links(SessionObject *self, PyObject *arg) {
    if (scpy_check_open(self) < 0) return NULL;
    size_t index = 0;
    if (scpy_read_index(arg, &index) < 0) return NULL;
    size_t count = 0;
    int status = sc_session_target_link_count(self->session, index, &count);
    if (status != SC_OK) return scpy_session_error(self, status);
    if ((Py_ssize_t)count < 0) return PyErr_NoMemory(); /* more links than a list can hold */
    PyObject *list = PyList_New((Py_ssize_t)count);
    if (list == NULL) return NULL;
    for (size_t k = 0; k < count; k++) {
        const char *teacher = NULL;
        status = sc_session_target_link(self->session, index, k, &teacher);
        if (status != SC_OK) {
            Py_DECREF(list);
            return scpy_session_error(self, status);
        }
        PyObject *s = PyUnicode_DecodeUTF8(teacher ? teacher : "", teacher ? (Py_ssize_t)strlen(teacher) : 0, "strict");
        if (s == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SetItem(list, (Py_ssize_t)k, s);
    }
    return list;
}

/* Replaces keepalive[key] (or deletes it when `value` is NULL); used to undo a keep after a failed bind.
 * Replacing the value of a present key does not allocate. */
static void restore(PyObject *dict, PyObject *key, PyObject *value) {
    if (value != NULL) {
        if (PyDict_SetItem(dict, key, value) < 0) PyErr_Clear();
    } else if (PyDict_DelItem(dict, key) < 0) {
        PyErr_Clear();
    }
}

static PyObject *Session_bind_student(SessionObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"module_name", "target_name", "student", "gradient", "keepalive", NULL};
    const char *module, *target;
    PyObject *sspec, *gspec, *alive = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "ssOO|O:bind_student", kwlist, &module, &target, &sspec, &gspec,
                                     &alive))
        return NULL;
    if (scpy_check_open(self) < 0) return NULL;
    tensor_arg s, g;
    const sc_tensor *gp = NULL;
    if (scpy_read_spec(sspec, "bind_student: student", &s) < 0) return NULL;
    if (scpy_read_optional_spec(gspec, "bind_student: gradient", &g, &gp) < 0) return NULL;
    /* Keep the objects first, then bind: the core never holds a pointer whose owner is not kept.
     * A failed bind puts the earlier entry back (the core keeps the earlier binding then). */
    PyObject *key = distill_key(module, target);
    if (key == NULL) return NULL;
    PyObject *old = PyDict_GetItemWithError(self->keepalive, key); /* borrowed */
    if (old == NULL && PyErr_Occurred()) {
        Py_DECREF(key);
        return NULL;
    }
    Py_XINCREF(old);
    PyObject *entry = PyDict_New();
    PyObject *student_slot = PyLong_FromLong(-1);
    if (entry == NULL || student_slot == NULL || PyDict_SetItem(entry, student_slot, alive) < 0 ||
        scpy_keep(self, key, entry) < 0) {
        Py_XDECREF(entry);
        Py_XDECREF(student_slot);
        Py_XDECREF(old);
        Py_DECREF(key);
        return NULL;
    }
    Py_DECREF(student_slot);
    Py_DECREF(entry);
    int status = sc_session_bind_student(self->session, module, target, &s.t, gp);
    if (status != SC_OK) restore(self->keepalive, key, old);
    Py_XDECREF(old);
    Py_DECREF(key);
    if (status != SC_OK) return scpy_session_error(self, status);
    Py_RETURN_NONE;
}

static PyObject *Session_bind_teacher(SessionObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"module_name", "target_name", "link", "teacher", "keepalive", NULL};
    const char *module, *target;
    Py_ssize_t link;
    PyObject *tspec, *alive = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "ssnO|O:bind_teacher", kwlist, &module, &target, &link, &tspec,
                                     &alive))
        return NULL;
    if (scpy_check_open(self) < 0) return NULL;
    if (link < 0) {
        PyErr_Format(PyExc_IndexError, "bind_teacher: link %zd is negative", link);
        return NULL;
    }
    tensor_arg t;
    const sc_tensor *tp = NULL;
    if (scpy_read_optional_spec(tspec, "bind_teacher: teacher", &t, &tp) < 0) return NULL;
    PyObject *key = distill_key(module, target);
    if (key == NULL) return NULL;
    /* The entry bind_student stored; none means the student is not bound and the core refuses the
     * call (SC_ERROR_STATE), which is then reported as the core words it. */
    PyObject *entry = PyDict_GetItemWithError(self->keepalive, key); /* borrowed */
    Py_DECREF(key);
    if (entry == NULL && PyErr_Occurred()) return NULL;
    if (entry == NULL || !PyDict_Check(entry)) {
        int status = sc_session_bind_teacher(self->session, module, target, (size_t)link, NULL);
        if (status != SC_OK) return scpy_session_error(self, status);
        PyErr_Format(PyExc_RuntimeError, "bind_teacher: %s.%s is bound without a keepalive entry (internal error)",
                     module, target);
        return NULL;
    }
    Py_INCREF(entry);
    PyObject *slot = PyLong_FromSsize_t(link);
    if (slot == NULL) {
        Py_DECREF(entry);
        return NULL;
    }
    PyObject *old = PyDict_GetItemWithError(entry, slot); /* borrowed */
    if (old == NULL && PyErr_Occurred()) {
        Py_DECREF(slot);
        Py_DECREF(entry);
        return NULL;
    }
    Py_XINCREF(old);
    if (tp != NULL && PyDict_SetItem(entry, slot, alive) < 0) {
        Py_XDECREF(old);
        Py_DECREF(slot);
        Py_DECREF(entry);
        return NULL;
    }
    int status = sc_session_bind_teacher(self->session, module, target, (size_t)link, tp);
    if (status != SC_OK) {
        if (tp != NULL) restore(entry, slot, old);
    } else if (tp == NULL && old != NULL) {
        restore(entry, slot, NULL); /* unbound: its object is no longer needed */
    }
    Py_XDECREF(old);
    Py_DECREF(slot);
    Py_DECREF(entry);
    if (status != SC_OK) return scpy_session_error(self, status);
    Py_RETURN_NONE;
}

static PyObject *Session_distill(SessionObject *self, PyObject *Py_UNUSED(ignored)) {
    if (scpy_check_open(self) < 0) return NULL;
    size_t n = sc_session_target_count(self->session);
    double *losses = (double *)PyMem_Calloc(n > 0 ? n : 1, sizeof(double));
    if (losses == NULL) return PyErr_NoMemory();
    double total = 0;
    int status;
    SCPY_CALL_BUSY(self, status, sc_session_distill(self->session, &total, losses, n));
    if (status != SC_OK) {
        PyMem_Free(losses);
        return scpy_session_error(self, status);
    }
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (list == NULL) {
        PyMem_Free(losses);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        PyObject *v = PyFloat_FromDouble(losses[i]);
        if (v == NULL) {
            Py_DECREF(list);
            PyMem_Free(losses);
            return NULL;
        }
        PyList_SetItem(list, (Py_ssize_t)i, v);
    }
    PyMem_Free(losses);
    return Py_BuildValue("(dN)", total, list);
}

PyMethodDef scpy_distill_session_methods[] = {
    {"add_teacher_modules", (PyCFunction)Session_add_teacher_modules, METH_O,
     "add_teacher_modules(names): the teacher's module names (named_modules() order), so links are checked."},
    {"target_links", (PyCFunction)Session_target_links, METH_O,
     "target_links(index) -> [teacher module name] of resolved target `index` ('auto' resolved)."},
    SCPY_KW_METHOD("bind_student", Session_bind_student,
        "bind_student(module_name, target_name, student_spec, gradient_spec or None, keepalive=None); unbinds the "
        "target's teachers."),
    SCPY_KW_METHOD("bind_teacher", Session_bind_teacher,
        "bind_teacher(module_name, target_name, link, teacher_spec or None, keepalive=None); None: the link is skipped."),
    {"distill", (PyCFunction)Session_distill, METH_NOARGS,
     "distill() -> (total_loss, [per-target loss]); writes the gradient buffers (GIL released)."},
    {NULL, NULL, 0, NULL},
};
