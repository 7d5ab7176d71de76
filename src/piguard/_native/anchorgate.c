/* The discovery engine's trigger-word gate (piguard.discovery.engine.Engine.raw): of the dictionary
 * hits, the ones whose word triggers a recogniser of the plan, less those that a cheap test of the
 * characters at the hit shows the recogniser would reject anyway, with no Python call per hit.
 *
 * Per word id, ``kinds`` says: 0 no active trigger (dropped), 1 kept, 2 a Chinese name trigger,
 * 3 an administrative-division name. The tests are necessary conditions of what
 * NameRecognizer.on_anchor and AddressRecognizer.on_anchor check first, so the findings are the
 * same with the gate as without (the pure-Python engine keeps every trigger hit; the tests compare
 * both, and hand every dropped hit to its recogniser):
 *   name     after at most five separators (" \t:：=是为叫\"'"), a Latin letter, or a single surname
 *            and a given-name character, or a compound surname's first character and a given-name
 *            character two on (a given-name character: CJK, not in _NAME_STOP);
 *   address  in the run of address-body characters from the word's start (48 at most), one of
 *            _ADDR_MARK's words: 村镇苑路街巷 alone, 小区 大厦 大道 公寓 花园 胡同, or one of
 *            号栋幢座单(元)室楼层弄组 after a digit, numeral or Latin letter of that run.
 * ``table`` (65,536 native 16-bit words, recognizers.gate_table()) holds each BMP character's
 * bits; a character beyond the BMP has every bit but the separator's and the body's (kept). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

enum {
    B_LATIN = 1,
    B_NAME_SKIP = 2,
    B_BODY = 4,
    B_MARK = 8, /* any address character (_ADDR_MARK_CHAR) */
    B_SINGLE = 16,
    B_COMPOUND_FIRST = 32,
    B_GIVEN = 64,
    B_ALONE = 128,
    B_NUMBERED = 256,
    B_NUMERAL = 512, /* a digit or a Chinese numeral (Latin letters count too, B_LATIN) */
    B_PAIR_FIRST = 1024,
};
enum { K_DROP = 0, K_KEEP = 1, K_NAME = 2, K_ADDRESS = 3 };

static inline unsigned bits(const uint16_t *table, int kind, const void *data, Py_ssize_t i) {
    Py_UCS4 c = PyUnicode_READ(kind, data, i);
    return c < 0x10000 ? table[c] : 0xFFFF & ~(B_NAME_SKIP | B_BODY); /* kept: Python decides */
}

/* the second character of 小区 大厦 大道 公寓 花园 胡同 */
static inline int pair(Py_UCS4 a, Py_UCS4 b) {
    switch (a) {
    case 0x5C0F: return b == 0x533A;                 /* 小区 */
    case 0x5927: return b == 0x53A6 || b == 0x9053;  /* 大厦 大道 */
    case 0x516C: return b == 0x5BD3;                 /* 公寓 */
    case 0x82B1: return b == 0x56ED;                 /* 花园 */
    case 0x80E1: return b == 0x540C;                 /* 胡同 */
    }
    return 0;
}

static PyObject *gate(PyObject *self, PyObject *args) {
    PyObject *hits, *text;
    Py_buffer kinds, table;
    if (!PyArg_ParseTuple(args, "O!y*Uy*", &PyList_Type, &hits, &kinds, &text, &table))
        return NULL;
    PyObject *out = NULL;
    if (table.len != 2 * 0x10000) {
        PyErr_SetString(PyExc_ValueError, "table must hold 65536 16-bit words");
        goto done;
    }
    const unsigned char *kd = kinds.buf;
    const uint16_t *tb = table.buf;
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
            if (i >= n)
                continue;
            unsigned b = bits(tb, kind, data, i);
            if (!(b & B_LATIN) && !((b & B_SINGLE) && i + 1 < n && (bits(tb, kind, data, i + 1) & B_GIVEN)) &&
                !((b & B_COMPOUND_FIRST) && i + 2 < n && (bits(tb, kind, data, i + 2) & B_GIVEN)))
                continue;
        } else if (k == K_ADDRESS) {
            Py_ssize_t limit = start + 48 < n ? start + 48 : n, i = start;
            int found = 0;
            unsigned before = 0; /* the bits of the character before i, in the run (0 at its start) */
            for (; i < limit; i++) {
                unsigned b = bits(tb, kind, data, i);
                if (!(b & B_BODY) && !(b & B_ALONE))
                    break; /* beyond the BMP: kept (B_ALONE) */
                if ((b & B_ALONE) || ((b & B_NUMBERED) && (before & (B_NUMERAL | B_LATIN))) ||
                    ((b & B_PAIR_FIRST) && i + 1 < limit &&
                     pair(PyUnicode_READ(kind, data, i), PyUnicode_READ(kind, data, i + 1)))) {
                    found = 1;
                    break;
                }
                before = b;
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
