/* The structural pass of the discovery engine (piguard.discovery.engine._STRUCT): where the digit
 * clusters, "+" numbers, "@" signs, IPv6 colons and licence-plate heads are in a text. Same spans
 * as ``[m.span() for m in _STRUCT.finditer(text)]``, which stays the fallback (engine.struct_spans);
 * tests/discovery/test_native_struct.py compares both on the same inputs.
 *
 * The regular expression, branch by branch (first character, then what follows it):
 *   digit      (?:DIGIT | NUMSEP(?=DIGIT)){4,} [XxＸｘ]?
 *   + or ＋    DIGIT (?:DIGIT | NUMSEP(?=DIGIT)){3,}
 *   @ or ＠    nothing more
 *   :          nothing more, where [0-9A-Fa-f]{0,4}: follows
 *   plate head one letter of [A-HJ-NP-Za-hj-np-z]
 * A position where no branch matches is skipped; after a match the search goes on at its end. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

static const char PLATE_HEADS[] = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"; /* UTF-8 */
/* what each BMP character can start: 0 nothing, else one of these (filled at init) */
enum { C_NONE, C_DIGIT, C_PLUS, C_AT, C_COLON, C_HEAD };
static unsigned char first_class[0x10000];

static inline int is_digit(Py_UCS4 c) { return (c >= '0' && c <= '9') || (c >= 0xFF10 && c <= 0xFF19); }

static inline int is_numsep(Py_UCS4 c) {
    return c == ' ' || c == '-' || c == '.' || c == ':' || c == '/' || c == 0x3000 || c == 0xFF0D ||
           c == 0xFF0E || c == 0xFF1A || c == 0xFF0F;
}

static inline int is_hex(Py_UCS4 c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

static inline int is_plate_letter(Py_UCS4 c) {
    if (c >= 'a' && c <= 'z')
        c -= 32;
    return c >= 'A' && c <= 'Z' && c != 'I' && c != 'O';
}

/* the units (a digit, or a separator with a digit after it) from q on; returns where they end */
#define UNITS(q)                                                                                     \
    do {                                                                                             \
        while (q < n) {                                                                              \
            Py_UCS4 u = PyUnicode_READ(kind, data, q);                                               \
            if (is_digit(u) || (is_numsep(u) && q + 1 < n && is_digit(PyUnicode_READ(kind, data, q + 1)))) \
                q++;                                                                                 \
            else                                                                                     \
                break;                                                                               \
        }                                                                                            \
    } while (0)

static int push(PyObject *out, Py_ssize_t a, Py_ssize_t b) {
    PyObject *x = PyLong_FromSsize_t(a);
    if (!x || PyList_Append(out, x) < 0) {
        Py_XDECREF(x);
        return -1;
    }
    Py_DECREF(x);
    x = PyLong_FromSsize_t(b);
    if (!x || PyList_Append(out, x) < 0) {
        Py_XDECREF(x);
        return -1;
    }
    Py_DECREF(x);
    return 0;
}

static PyObject *struct_spans(PyObject *self, PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "struct_spans() takes a str");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg);
    int kind = PyUnicode_KIND(arg);
    const void *data = PyUnicode_DATA(arg);
    PyObject *out = PyList_New(0);
    if (!out)
        return NULL;
    Py_ssize_t p = 0;
    while (p < n) {
        Py_UCS4 c = PyUnicode_READ(kind, data, p);
        int cls = c < 0x10000 ? first_class[c] : C_NONE;
        if (cls == C_NONE) {
            p++;
            continue;
        }
        Py_ssize_t stop = -1;
        if (cls == C_DIGIT) {
            Py_ssize_t q = p + 1;
            UNITS(q);
            if (q - (p + 1) >= 4) {
                if (q < n) {
                    Py_UCS4 x = PyUnicode_READ(kind, data, q);
                    if (x == 'X' || x == 'x' || x == 0xFF38 || x == 0xFF58)
                        q++;
                }
                stop = q;
            }
        } else if (cls == C_PLUS) {
            if (p + 1 < n && is_digit(PyUnicode_READ(kind, data, p + 1))) {
                Py_ssize_t q = p + 2;
                UNITS(q);
                if (q - (p + 2) >= 3)
                    stop = q;
            }
        } else if (cls == C_AT) {
            stop = p + 1;
        } else if (cls == C_COLON) {
            Py_ssize_t q = p + 1;
            while (q < n && q - (p + 1) < 5 && is_hex(PyUnicode_READ(kind, data, q)))
                q++;
            if (q - (p + 1) <= 4 && q < n && PyUnicode_READ(kind, data, q) == ':')
                stop = p + 1;
        } else { /* C_HEAD */
            if (p + 1 < n && is_plate_letter(PyUnicode_READ(kind, data, p + 1)))
                stop = p + 2;
        }
        if (stop < 0) {
            p++;
            continue;
        }
        if (push(out, p, stop) < 0) {
            Py_DECREF(out);
            return NULL;
        }
        p = stop;
    }
    return out;
}

/* fold(text, table): ``text`` with each BMP character c replaced by table[c] (a str of 65,536
 * characters; table[c] == c for the characters left alone), the same length, so offsets hold;
 * ``text`` itself when no character changes. Same result as the engine's Python folding of the
 * positions its dictionary pass reports (engine._fold_py). */
/* which BMP characters the last table changes, one bit each (rebuilt when another table comes) */
static PyObject *fold_table = NULL;
static unsigned char fold_bits[0x10000 / 8];

static int fold_prepare(PyObject *table) {
    if (table == fold_table)
        return 0;
    int tk = PyUnicode_KIND(table);
    const void *td = PyUnicode_DATA(table);
    memset(fold_bits, 0, sizeof(fold_bits));
    for (Py_UCS4 c = 0; c < 0x10000; c++)
        if (PyUnicode_READ(tk, td, c) != c)
            fold_bits[c >> 3] |= (unsigned char)(1u << (c & 7));
    Py_INCREF(table);
    Py_XSETREF(fold_table, table);
    return 0;
}

#define FOLDS(c) ((c) < 0x10000 && (fold_bits[(c) >> 3] >> ((c) & 7) & 1))

static PyObject *fold(PyObject *self, PyObject *args) {
    PyObject *text, *table;
    if (!PyArg_ParseTuple(args, "UU:fold", &text, &table))
        return NULL;
    if (PyUnicode_GET_LENGTH(table) != 0x10000) {
        PyErr_SetString(PyExc_ValueError, "fold() takes a table of 65,536 characters");
        return NULL;
    }
    fold_prepare(table);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t first = -1;
    /* the common case first: nothing to fold, the text itself comes back */
    if (kind == PyUnicode_1BYTE_KIND) {
        const Py_UCS1 *d = data;
        for (Py_ssize_t i = 0; i < n; i++)
            if (FOLDS(d[i])) {
                first = i;
                break;
            }
    } else if (kind == PyUnicode_2BYTE_KIND) {
        const Py_UCS2 *d = data;
        for (Py_ssize_t i = 0; i < n; i++)
            if (FOLDS(d[i])) {
                first = i;
                break;
            }
    } else {
        const Py_UCS4 *d = data;
        for (Py_ssize_t i = 0; i < n; i++)
            if (FOLDS(d[i])) {
                first = i;
                break;
            }
    }
    if (first < 0) {
        Py_INCREF(text);
        return text;
    }
    int tk = PyUnicode_KIND(table);
    const void *td = PyUnicode_DATA(table);
    /* the result in its canonical (narrowest) form: str equality compares kinds first */
    Py_UCS4 maxc = 0;
#define MAXC(T)                                                                                      \
    do {                                                                                             \
        const T *d = data;                                                                           \
        for (Py_ssize_t i = 0; i < n; i++) {                                                         \
            Py_UCS4 c = d[i];                                                                        \
            if (FOLDS(c))                                                                            \
                c = PyUnicode_READ(tk, td, c);                                                       \
            if (c > maxc)                                                                            \
                maxc = c;                                                                            \
        }                                                                                            \
    } while (0)
    if (kind == PyUnicode_1BYTE_KIND)
        MAXC(Py_UCS1);
    else if (kind == PyUnicode_2BYTE_KIND)
        MAXC(Py_UCS2);
    else
        MAXC(Py_UCS4);
#undef MAXC
    PyObject *out = PyUnicode_New(n, maxc);
    if (!out)
        return NULL;
    int ok = PyUnicode_KIND(out);
    void *od = PyUnicode_DATA(out);
    if (ok == kind) {
        /* the same width: a copy, then the folded characters written over it */
        memcpy(od, data, (size_t)n * (size_t)kind);
        for (Py_ssize_t i = first; i < n; i++) {
            Py_UCS4 c = PyUnicode_READ(kind, data, i);
            if (FOLDS(c))
                PyUnicode_WRITE(ok, od, i, PyUnicode_READ(tk, td, c));
        }
    } else {
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_UCS4 c = PyUnicode_READ(kind, data, i);
            PyUnicode_WRITE(ok, od, i, FOLDS(c) ? PyUnicode_READ(tk, td, c) : c);
        }
    }
    return out;
}

static PyMethodDef methods[] = {
    {"fold", fold, METH_VARARGS, "The text with its BMP characters mapped through a 65,536-character table."},
    {"struct_spans", struct_spans, METH_O,
     "The structural pass's matches as a flat list: start, stop, start, stop, ..."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "structscan", NULL, -1, methods};

PyMODINIT_FUNC PyInit_structscan(void) {
    PyObject *h = PyUnicode_DecodeUTF8(PLATE_HEADS, sizeof(PLATE_HEADS) - 1, "strict");
    if (!h)
        return NULL;
    for (Py_ssize_t i = 0; i < PyUnicode_GET_LENGTH(h); i++)
        first_class[PyUnicode_READ_CHAR(h, i)] = C_HEAD;
    Py_DECREF(h);
    for (Py_UCS4 c = 0; c < 0x10000; c++)
        if (is_digit(c))
            first_class[c] = C_DIGIT;
    first_class['+'] = first_class[0xFF0B] = C_PLUS;
    first_class['@'] = first_class[0xFF20] = C_AT;
    first_class[':'] = C_COLON;
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddStringConstant(m, "SOURCE_HASH", PIGUARD_SOURCE_HASH) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
