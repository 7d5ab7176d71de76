/* The discovery engine's context scoring (piguard.discovery.engine.Scan.score) with no Python
 * frame: the nearest dictionary word before a candidate decides (a positive context word of its
 * category raises the confidence by the recogniser's context bonus; a negative word of its
 * category, or a numeric-negative word "*" for a numeric recogniser, lowers it by the negative
 * penalty unless a positive word ends at the same place), looked up backwards within the context
 * window; else a positive word starting within eight characters after the candidate raises it.
 *
 * score(hits, ends, ctx_of, neg_of, window, params_of, fallback, rec, start, end, conf)
 *   hits, ends   the scan's dictionary hits (start, end, word_id) sorted by end, and their ends;
 *   ctx_of, neg_of  per word id, the frozensets of categories it is positive / negative context for;
 *   params_of    per recogniser, (category, numeric, context_bonus, negative_penalty);
 *   fallback     Scan.score itself, called (with rec, start, end, conf) where the arithmetic is not
 *                that of two floats (a recogniser missing from params_of, a confidence or bonus
 *                that is not a float), so every result is the Python original's.
 * The engine binds the first seven with functools.partial per scan. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* first index whose end is > x (bisect_right) or >= x (bisect_left) */
static int bisect(PyObject *ends, Py_ssize_t x, int right, Py_ssize_t *out) {
    Py_ssize_t lo = 0, hi = PyList_GET_SIZE(ends);
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        Py_ssize_t v = PyLong_AsSsize_t(PyList_GET_ITEM(ends, mid));
        if (v == -1 && PyErr_Occurred())
            return -1;
        if (right ? x < v : x <= v)
            hi = mid;
        else
            lo = mid + 1;
    }
    *out = lo;
    return 0;
}

static int hit_field(PyObject *hits, Py_ssize_t i, Py_ssize_t k, Py_ssize_t *out) {
    PyObject *h = PyList_GET_ITEM(hits, i);
    if (!PyTuple_Check(h) || PyTuple_GET_SIZE(h) != 3) {
        PyErr_SetString(PyExc_TypeError, "a hit is a (start, end, word_id) tuple");
        return -1;
    }
    Py_ssize_t v = PyLong_AsSsize_t(PyTuple_GET_ITEM(h, k));
    if (v == -1 && PyErr_Occurred())
        return -1;
    *out = v;
    return 0;
}

/* whether ``cat`` is in table[word id of hits[i]]: 1, 0, or -1 on error */
static int role(PyObject *table, PyObject *hits, Py_ssize_t i, PyObject *cat, PyObject **set) {
    Py_ssize_t w;
    if (hit_field(hits, i, 2, &w) < 0)
        return -1;
    if (w < 0 || w >= PyList_GET_SIZE(table)) {
        PyErr_SetString(PyExc_IndexError, "word id out of range");
        return -1;
    }
    PyObject *s = PyList_GET_ITEM(table, w);
    if (set != NULL)
        *set = s;
    return PySet_Contains(s, cat);
}

static PyObject *raised(double conf, double bonus) {
    double x = conf + bonus;
    return PyFloat_FromDouble(x < 1.0 ? x : 1.0); /* min(1.0, x): 1.0 unless x is smaller */
}

static PyObject *score(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 11) {
        PyErr_SetString(PyExc_TypeError, "score() takes 11 arguments");
        return NULL;
    }
    PyObject *hits = args[0], *ends = args[1], *ctx_of = args[2], *neg_of = args[3];
    PyObject *params_of = args[5], *fallback = args[6], *rec = args[7], *conf_obj = args[10];
    if (!PyList_Check(hits) || !PyList_Check(ends) || !PyList_Check(ctx_of) || !PyList_Check(neg_of) ||
        !PyDict_Check(params_of) || PyList_GET_SIZE(ends) != PyList_GET_SIZE(hits)) {
        PyErr_SetString(PyExc_TypeError, "score(): hits, ends, ctx_of, neg_of lists and a params dict");
        return NULL;
    }
    PyObject *params = PyDict_GetItemWithError(params_of, rec);
    if (params == NULL && PyErr_Occurred())
        return NULL;
    if (params == NULL || !PyTuple_Check(params) || PyTuple_GET_SIZE(params) != 4 ||
        !PyFloat_CheckExact(conf_obj) || !PyFloat_CheckExact(PyTuple_GET_ITEM(params, 2)) ||
        !PyFloat_CheckExact(PyTuple_GET_ITEM(params, 3)))
        return PyObject_Vectorcall(fallback, args + 7, 4, NULL);
    Py_ssize_t n = PyList_GET_SIZE(hits);
    if (n == 0)
        return Py_NewRef(conf_obj);
    Py_ssize_t window = PyLong_AsSsize_t(args[4]);
    Py_ssize_t start = PyLong_AsSsize_t(args[8]);
    Py_ssize_t end = PyLong_AsSsize_t(args[9]);
    if (PyErr_Occurred())
        return NULL;
    PyObject *cat = PyTuple_GET_ITEM(params, 0);
    int numeric = PyObject_IsTrue(PyTuple_GET_ITEM(params, 1));
    if (numeric < 0)
        return NULL;
    double conf = PyFloat_AS_DOUBLE(conf_obj);
    double bonus = PyFloat_AS_DOUBLE(PyTuple_GET_ITEM(params, 2));
    double penalty = PyFloat_AS_DOUBLE(PyTuple_GET_ITEM(params, 3));
    Py_ssize_t lo = start - window, i;
    if (bisect(ends, start, 1, &i) < 0)
        return NULL;
    static PyObject *star = NULL;
    if (star == NULL && (star = PyUnicode_InternFromString("*")) == NULL)
        return NULL;
    for (i -= 1; i >= 0; i--) {
        Py_ssize_t e = PyLong_AsSsize_t(PyList_GET_ITEM(ends, i));
        if (e == -1 && PyErr_Occurred())
            return NULL;
        if (e < lo)
            break;
        int pos = role(ctx_of, hits, i, cat, NULL);
        if (pos < 0)
            return NULL;
        if (pos)
            return raised(conf, bonus);
        PyObject *negs;
        int neg = role(neg_of, hits, i, cat, &negs);
        if (neg < 0)
            return NULL;
        if (!neg && numeric && PySet_GET_SIZE(negs)) {
            neg = PySet_Contains(negs, star);
            if (neg < 0)
                return NULL;
        }
        if (neg) {
            /* a positive word ending at the same place still wins */
            for (Py_ssize_t j = i - 1; j >= 0; j--) {
                Py_ssize_t ej = PyLong_AsSsize_t(PyList_GET_ITEM(ends, j));
                if (ej == -1 && PyErr_Occurred())
                    return NULL;
                if (ej != e)
                    break;
                int p = role(ctx_of, hits, j, cat, NULL);
                if (p < 0)
                    return NULL;
                if (p)
                    return raised(conf, bonus);
            }
            return PyFloat_FromDouble(conf - penalty);
        }
    }
    /* Scan._after: a positive word starting within 8 characters after the end */
    if (bisect(ends, end, 0, &i) < 0)
        return NULL;
    for (; i < n; i++) {
        Py_ssize_t s;
        if (hit_field(hits, i, 0, &s) < 0)
            return NULL;
        if (s > end + 8)
            break;
        if (s >= end) {
            int p = role(ctx_of, hits, i, cat, NULL);
            if (p < 0)
                return NULL;
            if (p)
                return raised(conf, bonus);
        }
    }
    return Py_NewRef(conf_obj);
}

static PyMethodDef methods[] = {
    {"score", (PyCFunction)(void (*)(void))score, METH_FASTCALL,
     "score(hits, ends, ctx_of, neg_of, window, params_of, fallback, rec, start, end, conf) -> float"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "ctxscore", NULL, -1, methods};

PyMODINIT_FUNC PyInit_ctxscore(void) {
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddStringConstant(m, "SOURCE_HASH", PIGUARD_SOURCE_HASH) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
