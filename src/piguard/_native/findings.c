/* detect_batch's hand-back (piguard.discovery.engine._split_py): the findings of one chunk of
 * newline-joined texts, as plain tuples (start, end, category, confidence) with offsets into the
 * chunk, become Finding objects in the lists of the texts they fall in, with offsets into those
 * texts, with no Python frame per finding. Same results as _split_py, which the tests compare:
 *
 *   k = bisect_right(offsets, s + base, lo, hi) - 1;  start = offsets[k]
 *   if e + base <= start + len(texts[k]):     (len(texts[k]) == offsets[k + 1] - start - 1)
 *       out[k].append(Finding(s + base - start, e + base - start, c, conf(x)))
 *
 * ``conf`` is round(min(x, 1.0), 3); its results for float confidences other than 0.0 are kept in
 * ``memo`` (a dict, at most 4,096 entries: a registry has a few dozen distinct confidences), so
 * Python's own correctly rounded round() decides every value. A Finding (a frozen dataclass with
 * slots) is made as object.__new__ and object.__setattr__ make it, which is what its __init__ does. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *names[4];

static int as_index(PyObject *o, Py_ssize_t *v) {
    *v = PyLong_AsSsize_t(o);
    return !(*v == -1 && PyErr_Occurred());
}

static PyObject *confidence(PyObject *x, PyObject *conf, PyObject *memo) {
    if (!PyFloat_CheckExact(x))
        return PyObject_CallOneArg(conf, x);
    double d = PyFloat_AS_DOUBLE(x);
    if (d == 0.0 || d != d) /* 0.0 and -0.0 are one dict key; NaN is no key */
        return PyObject_CallOneArg(conf, x);
    PyObject *r = PyDict_GetItemWithError(memo, x);
    if (r) {
        Py_INCREF(r);
        return r;
    }
    if (PyErr_Occurred())
        return NULL;
    r = PyObject_CallOneArg(conf, x);
    if (r && PyDict_GET_SIZE(memo) < 4096 && PyDict_SetItem(memo, x, r) < 0) {
        Py_DECREF(r);
        return NULL;
    }
    return r;
}

static PyObject *split(PyObject *self, PyObject *args) {
    PyObject *found, *offsets, *out, *type, *conf, *memo;
    Py_ssize_t lo, hi, base;
    if (!PyArg_ParseTuple(args, "O!O!nnnO!O!OO!", &PyList_Type, &found, &PyList_Type, &offsets, &lo,
                          &hi, &base, &PyList_Type, &out, &PyType_Type, &type, &conf, &PyDict_Type,
                          &memo))
        return NULL;
    Py_ssize_t n_off = PyList_GET_SIZE(offsets);
    if (lo < 0 || hi < lo || hi >= n_off || hi > PyList_GET_SIZE(out)) {
        PyErr_SetString(PyExc_ValueError, "need 0 <= lo <= hi < len(offsets) and hi <= len(out)");
        return NULL;
    }
    PyTypeObject *tp = (PyTypeObject *)type;
    for (Py_ssize_t f = 0; f < PyList_GET_SIZE(found); f++) {
        PyObject *item = PyList_GET_ITEM(found, f);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 4) {
            PyErr_SetString(PyExc_TypeError, "findings must be (start, end, category, confidence) tuples");
            return NULL;
        }
        Py_ssize_t s, e;
        if (!as_index(PyTuple_GET_ITEM(item, 0), &s) || !as_index(PyTuple_GET_ITEM(item, 1), &e))
            return NULL;
        /* bisect_right(offsets, s + base, lo, hi) */
        Py_ssize_t key = s + base, a = lo, b = hi;
        while (a < b) {
            Py_ssize_t mid = a + (b - a) / 2;
            Py_ssize_t v;
            PyObject *o = PyList_GET_ITEM(offsets, mid);
            if (!as_index(o, &v))
                return NULL;
            if (key < v)
                b = mid;
            else
                a = mid + 1;
        }
        Py_ssize_t k = a - 1, start, next;
        if (k < 0 || !as_index(PyList_GET_ITEM(offsets, k), &start) ||
            !as_index(PyList_GET_ITEM(offsets, k + 1), &next)) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "a finding before the first text");
            return NULL;
        }
        if (e + base > next - 1)
            continue; /* runs into the next text: the newline joined them */
        PyObject *target = PyList_GET_ITEM(out, k);
        if (!PyList_Check(target)) {
            PyErr_SetString(PyExc_TypeError, "out must hold lists");
            return NULL;
        }
        PyObject *vals[4] = {PyLong_FromSsize_t(s + base - start), PyLong_FromSsize_t(e + base - start),
                             PyTuple_GET_ITEM(item, 2), NULL};
        Py_INCREF(vals[2]);
        PyObject *obj = NULL;
        if (vals[0] && vals[1])
            vals[3] = confidence(PyTuple_GET_ITEM(item, 3), conf, memo);
        if (vals[3])
            obj = tp->tp_alloc(tp, 0);
        int ok = obj != NULL;
        for (int i = 0; ok && i < 4; i++)
            ok = PyObject_GenericSetAttr(obj, names[i], vals[i]) == 0;
        for (int i = 0; i < 4; i++)
            Py_XDECREF(vals[i]);
        if (ok)
            ok = PyList_Append(target, obj) == 0;
        Py_XDECREF(obj);
        if (!ok)
            return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"split", split, METH_VARARGS,
     "split(found, offsets, lo, hi, base, out, finding_type, conf, memo): a chunk's findings into "
     "the per-text lists of out (see engine._split_py)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "findings", NULL, -1, methods};

PyMODINIT_FUNC PyInit_findings(void) {
    const char *fields[4] = {"start", "end", "category", "confidence"};
    for (int i = 0; i < 4; i++)
        if (!(names[i] = PyUnicode_InternFromString(fields[i])))
            return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddStringConstant(m, "SOURCE_HASH", PIGUARD_SOURCE_HASH) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
