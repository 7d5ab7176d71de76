/* The discovery engine's trigger-word gate (piguard.discovery.engine.Engine.raw): of the dictionary
 * hits, the ones whose word triggers a recogniser of the plan, less those that a cheap test of the
 * characters at the hit shows the recogniser would reject anyway, with no Python call per hit.
 *
 * Per word id, ``kinds`` says: 0 no active trigger (dropped), 1 kept, 2 a Chinese name trigger
 * (the name must start, after at most five of " \t:：=是为叫\"'", with a surname's or a Latin
 * letter), 3 an administrative-division name (an address character must come within 48
 * characters, after address-body characters only). Both tests are necessary conditions of what
 * NameRecognizer.on_anchor and AddressRecognizer.on_anchor check first, so the findings are the
 * same with the gate as without (the pure-Python engine keeps every trigger hit; the tests compare
 * both). ``table`` (65,536 bytes) holds each BMP character's bits: */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

enum { B_NAME_START = 1, B_NAME_SKIP = 2, B_BODY = 4, B_MARK = 8 };
enum { K_DROP = 0, K_KEEP = 1, K_NAME = 2, K_ADDRESS = 3 };

static inline unsigned char bits(const unsigned char *table, int kind, const void *data, Py_ssize_t i) {
    Py_UCS4 c = PyUnicode_READ(kind, data, i);
    return c < 0x10000 ? table[c] : (B_NAME_START | B_MARK); /* kept: Python decides */
}

static PyObject *gate(PyObject *self, PyObject *args) {
    PyObject *hits, *text;
    Py_buffer kinds, table;
    if (!PyArg_ParseTuple(args, "O!y*Uy*", &PyList_Type, &hits, &kinds, &text, &table))
        return NULL;
    PyObject *out = NULL;
    if (table.len != 0x10000) {
        PyErr_SetString(PyExc_ValueError, "table must hold 65536 bytes");
        goto done;
    }
    const unsigned char *kd = kinds.buf, *tb = table.buf;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    out = PyList_New(0);
    if (!out)
        goto done;
    for (Py_ssize_t h = 0; h < PyList_GET_SIZE(hits); h++) {
        PyObject *hit = PyList_GET_ITEM(hits, h);
        if (!PyTuple_Check(hit) || PyTuple_GET_SIZE(hit) != 3) {
            PyErr_SetString(PyExc_TypeError, "hits must be (start, end, word id) tuples");
            goto fail;
        }
        Py_ssize_t start = PyLong_AsSsize_t(PyTuple_GET_ITEM(hit, 0));
        Py_ssize_t end = PyLong_AsSsize_t(PyTuple_GET_ITEM(hit, 1));
        Py_ssize_t wid = PyLong_AsSsize_t(PyTuple_GET_ITEM(hit, 2));
        if (PyErr_Occurred())
            goto fail;
        if (wid < 0 || wid >= kinds.len || start < 0 || end < start || end > n) {
            PyErr_SetString(PyExc_ValueError, "a hit outside the text or the word table");
            goto fail;
        }
        int k = kd[wid];
        if (k == K_DROP)
            continue;
        if (k == K_NAME) {
            Py_ssize_t i = end;
            while (i < n && i - end < 5 && (bits(tb, kind, data, i) & B_NAME_SKIP))
                i++;
            if (i >= n || !(bits(tb, kind, data, i) & B_NAME_START))
                continue;
        } else if (k == K_ADDRESS) {
            Py_ssize_t limit = start + 48 < n ? start + 48 : n, i = start;
            int found = 0;
            for (; i < limit; i++) {
                unsigned char b = bits(tb, kind, data, i);
                if (b & B_MARK) {
                    found = 1;
                    break;
                }
                if (!(b & B_BODY))
                    break;
            }
            if (!found)
                continue;
        }
        if (PyList_Append(out, hit) < 0)
            goto fail;
    }
    goto done;
fail:
    Py_CLEAR(out);
done:
    PyBuffer_Release(&kinds);
    PyBuffer_Release(&table);
    return out;
}

static PyMethodDef methods[] = {
    {"gate", gate, METH_VARARGS,
     "gate(hits, kinds, text, table): the trigger hits a recogniser of the plan may take."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "anchorgate", NULL, -1, methods};

PyMODINIT_FUNC PyInit_anchorgate(void) {
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddStringConstant(m, "SOURCE_HASH", PIGUARD_SOURCE_HASH) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
