/* Kernels of the SMS content review (piguard.messaging.review). Same results as the Python
 * originals, which stay the fallback; tests/messaging/test_review_native.py runs both on the same
 * inputs.
 *
 * normalize(text, bitmap, table): Normalizer.normalize (messaging/review/normalize.py) for the
 * texts whose letters and digits are all ASCII or CJK unified ideographs (U+4E00-U+9FFF): those are
 * NFKC-stable and case-fold to ASCII lower case, so NFKC need not be asked. Any other letter or
 * digit (full-width, compatibility forms, other scripts): None, and the Python original runs.
 * ``bitmap``: bytes of 0xA000 bits, bit c set when character c (c < 0xA000) has a variant entry;
 * ``table``: {ord: one-character str}, the variant table (str.translate's). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define BITMAP_CHARS 0xA000

static int az09(Py_UCS4 c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

/* ASCII letters and digits (str.isalnum() of an ASCII character; "_" is not one) */
static const unsigned char ascii_alnum[128] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1,
    ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1,
    ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1,
    ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
    ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

/* normalize.py's _CN_DIGIT_CHARS -> _CN_DIGIT_VALUES */
static int cn_digit(Py_UCS4 c) {
    if (c != 0x3007 && (c < 0x4E00 || c > 0x96F6)) /* 零 is the last */
        return 0;
    switch (c) {
    case 0x3007: /* 〇 */
    case 0x96F6: /* 零 */
        return '0';
    case 0x4E00: /* 一 */
    case 0x5E7A: /* 幺 */
    case 0x58F9: /* 壹 */
        return '1';
    case 0x4E8C: /* 二 */
    case 0x4E24: /* 两 */
    case 0x8D30: /* 贰 */
    case 0x8CB3: /* 貳 */
        return '2';
    case 0x4E09: /* 三 */
    case 0x53C1: /* 叁 */
    case 0x53C3: /* 參 */
        return '3';
    case 0x56DB: /* 四 */
    case 0x8086: /* 肆 */
        return '4';
    case 0x4E94: /* 五 */
    case 0x4F0D: /* 伍 */
        return '5';
    case 0x516D: /* 六 */
    case 0x9646: /* 陆 */
    case 0x9678: /* 陸 */
        return '6';
    case 0x4E03: /* 七 */
    case 0x67D2: /* 柒 */
        return '7';
    case 0x516B: /* 八 */
    case 0x634C: /* 捌 */
        return '8';
    case 0x4E5D: /* 九 */
    case 0x7396: /* 玖 */
        return '9';
    default:
        return 0;
    }
}

static PyObject *normalize(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3 || !PyUnicode_Check(args[0]) || !PyBytes_Check(args[1]) || !PyDict_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "normalize(text: str, bitmap: bytes, table: dict)");
        return NULL;
    }
    PyObject *text = args[0], *table = args[2];
    if (PyBytes_GET_SIZE(args[1]) != BITMAP_CHARS / 8) {
        PyErr_SetString(PyExc_ValueError, "normalize(): the bitmap must hold 0xA000 bits");
        return NULL;
    }
    const unsigned char *bitmap = (const unsigned char *)PyBytes_AS_STRING(args[1]);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_UCS4 stack[512];
    Py_UCS4 *buf = n <= 512 ? stack : PyMem_Malloc(sizeof(Py_UCS4) * (size_t)n);
    if (buf == NULL)
        return PyErr_NoMemory();
    PyObject *result = NULL;
    /* 1. every run of characters other than letters and digits (and "_") -> one space; case-fold;
     * variant characters -> their canonical character */
    Py_ssize_t m = 0;
    int in_run = 0;
    /* "plain" as the original's first test: only lower-case ASCII letters, digits and CJK
     * ideographs without a variant entry; such a text skips the variant table (ASCII variants
     * included, as there) */
    int plain = n > 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c >= 0x4E00 && c <= 0x9FEF) { /* CJK ideographs, all letters (Lo) in every Unicode
                                           * version Python 3.11 may use: the commonest case */
            if (plain && (bitmap[c >> 3] >> (c & 7) & 1))
                plain = 0;
            in_run = 0;
            buf[m++] = c;
            continue;
        }
        if (plain && !(az09(c) || (c >= 0x4E00 && c <= 0x9FFF && !(bitmap[c >> 3] >> (c & 7) & 1))))
            plain = 0;
        if (c < 0x80 ? !ascii_alnum[c] : !Py_UNICODE_ISALNUM(c)) {
            if (!in_run) {
                buf[m++] = ' ';
                in_run = 1;
            }
            continue;
        }
        in_run = 0;
        if (c < 0x80) {
            if (c >= 'A' && c <= 'Z')
                c += 'a' - 'A';
        } else if (c < 0x4E00 || c > 0x9FFF) {
            result = Py_None; /* NFKC or case-folding may change it: the Python original decides */
            Py_INCREF(result);
            goto done;
        }
        buf[m++] = c;
    }
    /* variants after case-folding, as the original translates the folded text (a space can be a
     * variant too: the table is the operator's) */
    for (Py_ssize_t i = 0; i < m && !plain; i++) {
        Py_UCS4 c = buf[i];
        if (c < BITMAP_CHARS && (bitmap[c >> 3] >> (c & 7) & 1)) {
            PyObject *key = PyLong_FromUnsignedLong(c);
            if (key == NULL)
                goto done;
            PyObject *v = PyDict_GetItemWithError(table, key);
            Py_DECREF(key);
            if (v == NULL) {
                if (PyErr_Occurred())
                    goto done;
                continue;
            }
            if (!PyUnicode_Check(v) || PyUnicode_GET_LENGTH(v) != 1) {
                result = Py_None; /* a longer replacement: the Python original */
                Py_INCREF(result);
                goto done;
            }
            buf[i] = PyUnicode_READ_CHAR(v, 0);
        }
    }
    /* 2. a space stays only between two ASCII letters/digits (normalize.py's _DROP, which looks at
     * the text before any removal) */
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < m; i++) {
        Py_UCS4 c = buf[i];
        if (c == ' ' && !(i > 0 && az09(buf[i - 1]) && i + 1 < m && az09(buf[i + 1])))
            continue;
        buf[k++] = c;
    }
    /* 3. a run of four or more Chinese digits -> Arabic digits */
    for (Py_ssize_t i = 0; i < k;) {
        if (!cn_digit(buf[i])) {
            i++;
            continue;
        }
        Py_ssize_t j = i;
        while (j < k && cn_digit(buf[j]))
            j++;
        if (j - i >= 4)
            for (Py_ssize_t t = i; t < j; t++)
                buf[t] = (Py_UCS4)cn_digit(buf[t]);
        i = j;
    }
    result = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, buf, k);
done:
    if (buf != stack)
        PyMem_Free(buf);
    return result;
}


/* ------------------------------------------------------------------------------------------ scan
 * RuleSet.scan (messaging/review/rules.py) in two steps around its regular expressions:
 *
 * collect(found, values, subject, raw, run) -> (exempt or None, lazy set or None): the loop over
 * the matcher's key occurrences ``found`` [(end, key id)]: fills ``raw`` {group: [(start, -end,
 * weight, evidence)]} in the order the original does, adds the pattern triggers seen to the set
 * ``run``; ``values`` is RuleSet._values, ``subject`` the matcher's subject (bytes or str).
 *
 * consolidate(raw, exempt, names, scores, hits, hit_type): the loop over ``raw`` that writes each
 * group's score and hits (``hit_type(name, evidence, weight)``, a tuple subclass) into the lists
 * ``scores`` and ``hits``. */

/* the match handler (see "matches" below): collect reads its occurrences */
typedef struct {
    PyObject_HEAD vectorcallfunc vectorcall;
    Py_ssize_t *pairs; /* end, key id, end, key id, ... */
    Py_ssize_t n, cap;  /* occurrences recorded, room for */
    PyObject *reported;
    Py_ssize_t nkeys;
    /* set by Automaton.scan: (slot, start) of each occurrence of a pattern's prefix strings, and
     * which slots have a prefix set (the automaton's, kept alive by ``owner``) */
    Py_ssize_t *starts;
    Py_ssize_t nstarts, capstarts, nprefixed;
    const unsigned char *prefixed;
    PyObject *owner;
} Matches;

static PyTypeObject MatchesType;

static int subject_alnum(PyObject *subject, Py_ssize_t i) {
    Py_UCS4 c;
    if (PyBytes_Check(subject))
        c = (unsigned char)PyBytes_AS_STRING(subject)[i];
    else
        c = PyUnicode_READ_CHAR(subject, i);
    return az09(c);
}

static int append_item(PyObject *raw, PyObject *gi, Py_ssize_t start, Py_ssize_t end, PyObject *w,
                       int negate, PyObject *key) {
    PyObject *found = PyDict_GetItemWithError(raw, gi);
    if (found == NULL) {
        if (PyErr_Occurred())
            return -1;
        found = PyList_New(0);
        if (found == NULL)
            return -1;
        int rc = PyDict_SetItem(raw, gi, found);
        Py_DECREF(found);
        if (rc < 0)
            return -1;
    }
    PyObject *weight;
    if (negate) {
        weight = PyFloat_FromDouble(-PyFloat_AsDouble(w));
        if (weight == NULL)
            return -1;
    } else {
        weight = w;
        Py_INCREF(weight);
    }
    PyObject *item = PyTuple_New(4);
    if (item == NULL) {
        Py_DECREF(weight);
        return -1;
    }
    PyObject *a = PyLong_FromSsize_t(start), *b = PyLong_FromSsize_t(-end);
    if (a == NULL || b == NULL) {
        Py_XDECREF(a);
        Py_XDECREF(b);
        Py_DECREF(weight);
        Py_DECREF(item);
        return -1;
    }
    PyTuple_SET_ITEM(item, 0, a);
    PyTuple_SET_ITEM(item, 1, b);
    PyTuple_SET_ITEM(item, 2, weight);
    Py_INCREF(key);
    PyTuple_SET_ITEM(item, 3, key);
    int rc = PyList_Append(found, item);
    Py_DECREF(item);
    return rc;
}

static int add_all(PyObject *set, PyObject *items) {
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    for (Py_ssize_t i = 0; i < n; i++)
        if (PySet_Add(set, PyTuple_GET_ITEM(items, i)) < 0)
            return -1;
    return 0;
}

static PyObject *collect(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 5 || !(PyList_Check(args[0]) || Py_IS_TYPE(args[0], &MatchesType)) ||
        !PyList_Check(args[1]) || !PyDict_Check(args[3]) ||
        !PySet_Check(args[4]) || !(PyBytes_Check(args[2]) || PyUnicode_Check(args[2]))) {
        PyErr_SetString(PyExc_TypeError,
                        "collect(found: list | Matches, values: list, subject: bytes | str, raw: dict, run: set)");
        return NULL;
    }
    PyObject *found = args[0], *values = args[1], *subject = args[2], *raw = args[3], *run = args[4];
    Py_ssize_t size = PyBytes_Check(subject) ? PyBytes_GET_SIZE(subject) : PyUnicode_GET_LENGTH(subject);
    Py_ssize_t nvalues = PyList_GET_SIZE(values);
    PyObject *exempt = NULL, *lazy = NULL;
    const Py_ssize_t *pairs = NULL; /* the handler's own occurrences: no list to read */
    Py_ssize_t n;
    if (Py_IS_TYPE(found, &MatchesType)) {
        pairs = ((Matches *)found)->pairs;
        n = ((Matches *)found)->n;
    } else
        n = PyList_GET_SIZE(found);
    for (Py_ssize_t f = 0; f < n; f++) {
        Py_ssize_t end, kid;
        if (pairs != NULL) {
            end = pairs[2 * f];
            kid = pairs[2 * f + 1];
        } else {
            PyObject *pair = PyList_GET_ITEM(found, f);
            if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2)
                goto bad;
            end = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 0));
            kid = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 1));
            if ((end == -1 || kid == -1) && PyErr_Occurred())
                goto error;
        }
        if (kid < 0 || kid >= nvalues)
            goto bad;
        PyObject *v = PyList_GET_ITEM(values, kid);
        if (!PyTuple_Check(v) || PyTuple_GET_SIZE(v) != 10)
            goto bad;
        long shape = PyLong_AsLong(PyTuple_GET_ITEM(v, 0));
        Py_ssize_t length = PyLong_AsSsize_t(PyTuple_GET_ITEM(v, 1));
        if (PyErr_Occurred())
            goto error;
        PyObject *key = PyTuple_GET_ITEM(v, 4), *terms = PyTuple_GET_ITEM(v, 5);
        PyObject *context = PyTuple_GET_ITEM(v, 6), *triggers = PyTuple_GET_ITEM(v, 7);
        PyObject *exempts = PyTuple_GET_ITEM(v, 8), *lazy_ids = PyTuple_GET_ITEM(v, 9);
        if (!PyTuple_Check(terms) || !PyTuple_Check(context) || !PyTuple_Check(triggers) ||
            !PyTuple_Check(exempts) || !PyTuple_Check(lazy_ids))
            goto bad;
        if (shape == 0) { /* _ONE_TERM */
            PyObject *t = PyTuple_GET_ITEM(terms, 0);
            if (append_item(raw, PyTuple_GET_ITEM(t, 0), end - length, end, PyTuple_GET_ITEM(t, 1), 0, key) < 0)
                goto error;
            continue;
        }
        if (shape == 1) { /* _ONLY_TRIGGERS */
            if (add_all(run, triggers) < 0)
                goto error;
            continue;
        }
        if (PyTuple_GET_SIZE(lazy_ids)) {
            if (lazy == NULL && (lazy = PySet_New(NULL)) == NULL)
                goto error;
            if (add_all(lazy, lazy_ids) < 0)
                goto error;
        }
        Py_ssize_t start = end - length;
        int a0 = PyObject_IsTrue(PyTuple_GET_ITEM(v, 2)), a1 = PyObject_IsTrue(PyTuple_GET_ITEM(v, 3));
        if (a0 < 0 || a1 < 0)
            goto error;
        if ((a0 && start > 0 && start - 1 < size && subject_alnum(subject, start - 1)) ||
            (a1 && end >= 0 && end < size && subject_alnum(subject, end)))
            continue;
        if (add_all(run, triggers) < 0)
            goto error;
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(terms); i++) {
            PyObject *t = PyTuple_GET_ITEM(terms, i);
            if (append_item(raw, PyTuple_GET_ITEM(t, 0), start, end, PyTuple_GET_ITEM(t, 1), 0, key) < 0)
                goto error;
        }
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(context); i++) {
            PyObject *t = PyTuple_GET_ITEM(context, i);
            if (append_item(raw, PyTuple_GET_ITEM(t, 0), start, end, PyTuple_GET_ITEM(t, 1), 1, key) < 0)
                goto error;
        }
        if (PyTuple_GET_SIZE(exempts)) {
            if (exempt == NULL && (exempt = PyDict_New()) == NULL)
                goto error;
            for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(exempts); i++) {
                PyObject *gi = PyTuple_GET_ITEM(exempts, i);
                PyObject *spans = PyDict_GetItemWithError(exempt, gi);
                if (spans == NULL) {
                    if (PyErr_Occurred())
                        goto error;
                    spans = PyList_New(0);
                    if (spans == NULL)
                        goto error;
                    int rc = PyDict_SetItem(exempt, gi, spans);
                    Py_DECREF(spans);
                    if (rc < 0)
                        goto error;
                }
                PyObject *span = Py_BuildValue("(nn)", start, end);
                if (span == NULL)
                    goto error;
                int rc = PyList_Append(spans, span);
                Py_DECREF(span);
                if (rc < 0)
                    goto error;
            }
        }
    }
    {
        PyObject *out = PyTuple_Pack(2, exempt ? exempt : Py_None, lazy ? lazy : Py_None);
        Py_XDECREF(exempt);
        Py_XDECREF(lazy);
        return out;
    }
bad:
    PyErr_SetString(PyExc_ValueError, "collect(): a key occurrence or a key's entry has the wrong shape");
error:
    Py_XDECREF(exempt);
    Py_XDECREF(lazy);
    return NULL;
}

static PyObject *new_hit(PyTypeObject *hit_type, PyObject *name, PyObject *ev, PyObject *w) {
    PyObject *hit = hit_type->tp_alloc(hit_type, 3);
    if (hit == NULL)
        return NULL;
    Py_INCREF(name);
    Py_INCREF(ev);
    Py_INCREF(w);
    PyTuple_SET_ITEM(hit, 0, name);
    PyTuple_SET_ITEM(hit, 1, ev);
    PyTuple_SET_ITEM(hit, 2, w);
    return hit;
}

static int set_item(PyObject *list, Py_ssize_t i, PyObject *value) {
    /* steals ``value`` */
    if (value == NULL)
        return -1;
    if (i < 0 || i >= PyList_GET_SIZE(list)) {
        Py_DECREF(value);
        PyErr_SetString(PyExc_IndexError, "consolidate(): group index out of range");
        return -1;
    }
    return PyList_SetItem(list, i, value);
}

static PyObject *consolidate(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 6 || !PyDict_Check(args[0]) || !(args[1] == Py_None || PyDict_Check(args[1])) ||
        !PyList_Check(args[2]) || !PyList_Check(args[3]) || !PyList_Check(args[4]) || !PyType_Check(args[5]) ||
        !PyType_IsSubtype((PyTypeObject *)args[5], &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError,
                        "consolidate(raw: dict, exempt: dict | None, names: list, scores: list, hits: list, hit_type)");
        return NULL;
    }
    PyObject *raw = args[0], *exempt = args[1], *names = args[2], *scores = args[3], *hits = args[4];
    PyTypeObject *hit_type = (PyTypeObject *)args[5];
    Py_ssize_t pos = 0;
    PyObject *gi_obj, *found;
    while (PyDict_Next(raw, &pos, &gi_obj, &found)) {
        Py_ssize_t gi = PyLong_AsSsize_t(gi_obj);
        if (gi == -1 && PyErr_Occurred())
            return NULL;
        if (gi < 0 || gi >= PyList_GET_SIZE(names) || !PyList_Check(found)) {
            PyErr_SetString(PyExc_ValueError, "consolidate(): bad group");
            return NULL;
        }
        PyObject *name = PyList_GET_ITEM(names, gi);
        PyObject *spans = NULL;
        if (exempt != Py_None) {
            spans = PyDict_GetItemWithError(exempt, gi_obj);
            if (spans == NULL && PyErr_Occurred())
                return NULL;
            if (spans != NULL && !PyList_Check(spans)) {
                PyErr_SetString(PyExc_ValueError, "consolidate(): exempt spans must be lists");
                return NULL;
            }
            if (spans != NULL && PyList_GET_SIZE(spans) == 0)
                spans = NULL; /* as the original's ``not spans`` */
        }
        Py_ssize_t n = PyList_GET_SIZE(found);
        if (n == 1 && spans == NULL) {
            PyObject *item = PyList_GET_ITEM(found, 0);
            PyObject *w = PyTuple_GET_ITEM(item, 2), *ev = PyTuple_GET_ITEM(item, 3);
            double wv = PyFloat_AsDouble(w);
            if (wv == -1.0 && PyErr_Occurred())
                return NULL;
            if (wv > 0) {
                Py_INCREF(w);
                if (set_item(scores, gi, w) < 0)
                    return NULL;
                PyObject *hit = new_hit(hit_type, name, ev, w);
                if (hit == NULL)
                    return NULL;
                PyObject *one = PyList_New(1);
                if (one == NULL) {
                    Py_DECREF(hit);
                    return NULL;
                }
                PyList_SET_ITEM(one, 0, hit);
                if (set_item(hits, gi, one) < 0)
                    return NULL;
            }
            continue;
        }
        if (PyList_Sort(found) < 0)
            return NULL;
        n = PyList_GET_SIZE(found);
        Py_ssize_t kept_end = -1;
        double total = 0.0, context_total = 0.0;
        PyObject *seen = PySet_New(NULL), *out = PyList_New(0), *ctx_hits = NULL;
        if (seen == NULL || out == NULL)
            goto fail;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *item = PyList_GET_ITEM(found, i);
            Py_ssize_t start = PyLong_AsSsize_t(PyTuple_GET_ITEM(item, 0));
            Py_ssize_t end = -PyLong_AsSsize_t(PyTuple_GET_ITEM(item, 1));
            PyObject *w = PyTuple_GET_ITEM(item, 2), *ev = PyTuple_GET_ITEM(item, 3);
            double wv = PyFloat_AsDouble(w);
            if (PyErr_Occurred())
                goto fail;
            if (end <= kept_end)
                continue;
            if (spans != NULL) {
                int inside = 0;
                for (Py_ssize_t s = 0; s < PyList_GET_SIZE(spans); s++) {
                    PyObject *span = PyList_GET_ITEM(spans, s);
                    Py_ssize_t a = PyLong_AsSsize_t(PyTuple_GET_ITEM(span, 0));
                    Py_ssize_t b = PyLong_AsSsize_t(PyTuple_GET_ITEM(span, 1));
                    if (a <= start && end <= b) {
                        inside = 1;
                        break;
                    }
                }
                if (PyErr_Occurred())
                    goto fail;
                if (inside)
                    continue;
            }
            kept_end = end;
            int known = PySet_Contains(seen, ev);
            if (known < 0)
                goto fail;
            if (known)
                continue;
            if (PySet_Add(seen, ev) < 0)
                goto fail;
            if (wv < 0) {
                context_total -= wv;
                if (ctx_hits == NULL && (ctx_hits = PyList_New(0)) == NULL)
                    goto fail;
                PyObject *pw = PyFloat_FromDouble(-wv);
                if (pw == NULL)
                    goto fail;
                PyObject *hit = new_hit(hit_type, name, ev, pw);
                Py_DECREF(pw);
                if (hit == NULL || PyList_Append(ctx_hits, hit) < 0) {
                    Py_XDECREF(hit);
                    goto fail;
                }
                Py_DECREF(hit);
            } else {
                total += wv;
                PyObject *hit = new_hit(hit_type, name, ev, w);
                if (hit == NULL || PyList_Append(out, hit) < 0) {
                    Py_XDECREF(hit);
                    goto fail;
                }
                Py_DECREF(hit);
            }
        }
        if (PyList_GET_SIZE(out) && ctx_hits != NULL) {
            total += context_total;
            Py_ssize_t m = PyList_GET_SIZE(out);
            if (PyList_SetSlice(out, m, m, ctx_hits) < 0)
                goto fail;
        }
        Py_DECREF(seen);
        Py_XDECREF(ctx_hits);
        if (set_item(scores, gi, PyFloat_FromDouble(total)) < 0) {
            Py_DECREF(out);
            return NULL;
        }
        if (set_item(hits, gi, out) < 0)
            return NULL;
        continue;
    fail:
        Py_XDECREF(seen);
        Py_XDECREF(out);
        Py_XDECREF(ctx_hits);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------------------------ matches
 * Matches(nkeys): the match handler given to Hyperscan's scan (rules._Matcher.match): a call
 * (id, from, to, flags, context) records (to, id) for a key (id < nkeys), else adds id - nkeys (a
 * pre-filtered pattern) to ``reported``; as the Python closure, without its frame. Called through
 * vectorcall (no argument tuple a match), the occurrences kept as C integers: ``collect`` reads
 * them from the handler itself, ``found`` builds the [(end, key id)] list when asked; ``len()`` is
 * their number. */

static void Matches_dealloc(Matches *self) {
    PyMem_Free(self->pairs);
    PyMem_Free(self->starts);
    Py_XDECREF(self->owner);
    Py_XDECREF(self->reported);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* append (a, b) to the growing array *buf of *n pairs (room for *cap) */
static int push_pair(Py_ssize_t **buf, Py_ssize_t *n, Py_ssize_t *cap, Py_ssize_t a, Py_ssize_t b) {
    if (*n == *cap) {
        Py_ssize_t grown_cap = *cap ? *cap * 2 : 32;
        Py_ssize_t *grown = PyMem_Realloc(*buf, (size_t)grown_cap * 2 * sizeof(Py_ssize_t));
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        *buf = grown;
        *cap = grown_cap;
    }
    (*buf)[2 * *n] = a;
    (*buf)[2 * *n + 1] = b;
    (*n)++;
    return 0;
}

static PyObject *Matches_vectorcall(Matches *self, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs < 3 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "Matches(id, from, to, flags, context)");
        return NULL;
    }
    Py_ssize_t i = PyLong_AsSsize_t(args[0]);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    if (i < self->nkeys) {
        Py_ssize_t to = PyLong_AsSsize_t(args[2]);
        if (to == -1 && PyErr_Occurred())
            return NULL;
        if (push_pair(&self->pairs, &self->n, &self->cap, to, i) < 0)
            return NULL;
    } else {
        PyObject *j = PyLong_FromSsize_t(i - self->nkeys);
        if (j == NULL)
            return NULL;
        int rc = PySet_Add(self->reported, j);
        Py_DECREF(j);
        if (rc < 0)
            return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *Matches_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    Py_ssize_t nkeys;
    if (kwds != NULL && PyDict_GET_SIZE(kwds)) {
        PyErr_SetString(PyExc_TypeError, "Matches() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "n:Matches", &nkeys))
        return NULL;
    Matches *self = (Matches *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->vectorcall = (vectorcallfunc)Matches_vectorcall;
    self->nkeys = nkeys;
    self->pairs = NULL;
    self->n = self->cap = 0;
    self->starts = NULL;
    self->nstarts = self->capstarts = self->nprefixed = 0;
    self->prefixed = NULL;
    self->owner = NULL;
    self->reported = PySet_New(NULL);
    if (self->reported == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static PyObject *Matches_found(Matches *self, void *closure) {
    PyObject *out = PyList_New(self->n);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t f = 0; f < self->n; f++) {
        PyObject *pair = Py_BuildValue("(nn)", self->pairs[2 * f], self->pairs[2 * f + 1]);
        if (pair == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, f, pair);
    }
    return out;
}

static PyObject *Matches_reported(Matches *self, void *closure) {
    Py_INCREF(self->reported);
    return self->reported;
}

static Py_ssize_t Matches_len(Matches *self) { return self->n; }

static PySequenceMethods Matches_as_sequence = {.sq_length = (lenfunc)Matches_len};

static PyGetSetDef Matches_getset[] = {
    {"found", (getter)Matches_found, NULL, "[(end, key id)] in the order reported (a new list)", NULL},
    {"reported", (getter)Matches_reported, NULL, "pre-filtered patterns reported", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject MatchesType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "piguard._native.sms_review.Matches",
    .tp_basicsize = sizeof(Matches),
    .tp_dealloc = (destructor)Matches_dealloc,
    .tp_vectorcall_offset = offsetof(Matches, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_as_sequence = &Matches_as_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "Hyperscan match handler collecting key occurrences and reported patterns.",
    .tp_getset = Matches_getset,
    .tp_new = Matches_new,
};

/* ---------------------------------------------------------------------------------- automaton
 * Automaton(keys, nkeys, factor_slots, slot_masks, slot_runs, digit_slot): an Aho-Corasick automaton over
 * ``keys`` (str, matched by code point), the matcher of rules._Matcher's ``native`` backend (the
 * Python originals: pyahocorasick for the keys, factors.py's containment test for the patterns).
 * Ids ``0..nkeys-1`` are the literal keys; id ``nkeys + f`` is the pattern factor ``f``, one
 * string of one of a pattern's necessary sets: ``factor_slots[f] = (slot, bit)``. A pattern
 * (``slot``) is reported when every bit of ``slot_masks[slot]`` was seen, i.e. when one string of
 * each of its necessary sets occurs and the text has a run of ``slot_runs[slot]`` characters of
 * [0-9x] (factors.necessary_run; a pattern not reported cannot match). ``digit_slot`` (or -1)
 * is reported when the text holds DIGIT_RUN (11 ASCII digits, single spaces allowed between).
 *
 * scan(text) -> Matches: every key occurrence as (end, key id), ``end`` exclusive in characters,
 * in the order of their ends, at one end the longest first (the canonical order); ``reported``
 * the set of reported slots. */

#define AC_ROOT_DENSE 0x10000

typedef struct {
    PyObject_HEAD int32_t *root; /* root's transitions for c < AC_ROOT_DENSE, -1 none */
    uint64_t *hkeys;              /* (state << 21 | c) + 1, 0 empty */
    int32_t *hvals;
    unsigned hshift;
    size_t hmask;
    int32_t *fail, *dict, *out_start, *out_len, *outs;
    Py_ssize_t nstates, nkeys, nfactors, nslots, digit_slot;
    int32_t *f_slot;
    uint32_t *f_bit, *slot_need, *seen;
    Py_ssize_t *slot_run;
    int32_t *f_len;              /* a factor's length in characters */
    unsigned char *f_prefix;     /* 1: the factor is one of its pattern's prefix strings */
    unsigned char *slot_prefixed; /* 1: the pattern has a prefix set */
} Automaton;

static PyTypeObject AutomatonType;

static inline size_t ac_hash(const Automaton *a, uint64_t k) {
    return (size_t)((k * 0x9E3779B97F4A7C15ULL) >> a->hshift);
}

static inline int32_t ac_goto(const Automaton *a, int32_t s, Py_UCS4 c) {
    if (s == 0 && c < AC_ROOT_DENSE)
        return a->root[c];
    uint64_t k = (((uint64_t)s << 21) | c) + 1;
    size_t h = ac_hash(a, k);
    while (a->hkeys[h]) {
        if (a->hkeys[h] == k)
            return a->hvals[h];
        h = (h + 1) & a->hmask;
    }
    return -1;
}

static void ac_put(Automaton *a, int32_t s, Py_UCS4 c, int32_t v) {
    if (s == 0 && c < AC_ROOT_DENSE) {
        a->root[c] = v;
        return;
    }
    uint64_t k = (((uint64_t)s << 21) | c) + 1;
    size_t h = ac_hash(a, k);
    while (a->hkeys[h])
        h = (h + 1) & a->hmask;
    a->hkeys[h] = k;
    a->hvals[h] = v;
}

static void Automaton_dealloc(Automaton *self) {
    PyMem_Free(self->root);
    PyMem_Free(self->hkeys);
    PyMem_Free(self->hvals);
    PyMem_Free(self->fail);
    PyMem_Free(self->dict);
    PyMem_Free(self->out_start);
    PyMem_Free(self->out_len);
    PyMem_Free(self->outs);
    PyMem_Free(self->f_slot);
    PyMem_Free(self->f_bit);
    PyMem_Free(self->slot_need);
    PyMem_Free(self->seen);
    PyMem_Free(self->slot_run);
    PyMem_Free(self->f_len);
    PyMem_Free(self->f_prefix);
    PyMem_Free(self->slot_prefixed);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Automaton_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    PyObject *keys, *factor_slots, *slot_masks, *slot_runs;
    Py_ssize_t nkeys, digit_slot;
    if (kwds != NULL && PyDict_GET_SIZE(kwds)) {
        PyErr_SetString(PyExc_TypeError, "Automaton() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "O!nO!O!O!n:Automaton", &PyList_Type, &keys, &nkeys, &PyList_Type, &factor_slots,
                          &PyList_Type, &slot_masks, &PyList_Type, &slot_runs, &digit_slot))
        return NULL;
    Py_ssize_t nall = PyList_GET_SIZE(keys), nslots = PyList_GET_SIZE(slot_masks);
    if (nkeys < 0 || nkeys > nall || PyList_GET_SIZE(factor_slots) != nall - nkeys || digit_slot >= nslots ||
        PyList_GET_SIZE(slot_runs) != nslots ||
        nall >= INT32_MAX / 2) {
        PyErr_SetString(PyExc_ValueError, "Automaton(): factor_slots must give one (slot, bit) a factor");
        return NULL;
    }
    Py_ssize_t total = 1;
    for (Py_ssize_t i = 0; i < nall; i++) {
        PyObject *k = PyList_GET_ITEM(keys, i);
        if (!PyUnicode_Check(k) || PyUnicode_GET_LENGTH(k) == 0) {
            PyErr_SetString(PyExc_ValueError, "Automaton(): every key is a non-empty str");
            return NULL;
        }
        total += PyUnicode_GET_LENGTH(k);
    }
    if (total >= INT32_MAX / 4) {
        PyErr_SetString(PyExc_ValueError, "Automaton(): too many characters");
        return NULL;
    }
    Automaton *a = (Automaton *)type->tp_alloc(type, 0);
    if (a == NULL)
        return NULL;
    a->nkeys = nkeys;
    a->nfactors = nall - nkeys;
    a->nslots = nslots;
    a->digit_slot = digit_slot;
    unsigned bits = 4;
    while (((size_t)1 << bits) < (size_t)total * 2)
        bits++;
    a->hmask = ((size_t)1 << bits) - 1;
    a->hshift = 64 - bits;
    size_t nt = (size_t)total;
    a->root = PyMem_Malloc(AC_ROOT_DENSE * sizeof(int32_t));
    a->hkeys = PyMem_Calloc(a->hmask + 1, sizeof(uint64_t));
    a->hvals = PyMem_Calloc(a->hmask + 1, sizeof(int32_t));
    a->fail = PyMem_Calloc(nt, sizeof(int32_t));
    a->dict = PyMem_Calloc(nt, sizeof(int32_t));
    a->out_start = PyMem_Calloc(nt + 1, sizeof(int32_t));
    a->out_len = PyMem_Calloc(nt, sizeof(int32_t));
    a->outs = PyMem_Calloc((size_t)nall + 1, sizeof(int32_t));
    a->f_slot = PyMem_Calloc((size_t)a->nfactors + 1, sizeof(int32_t));
    a->f_bit = PyMem_Calloc((size_t)a->nfactors + 1, sizeof(uint32_t));
    a->slot_need = PyMem_Calloc((size_t)nslots + 1, sizeof(uint32_t));
    a->seen = PyMem_Calloc((size_t)nslots + 1, sizeof(uint32_t));
    a->slot_run = PyMem_Calloc((size_t)nslots + 1, sizeof(Py_ssize_t));
    a->f_len = PyMem_Calloc((size_t)a->nfactors + 1, sizeof(int32_t));
    a->f_prefix = PyMem_Calloc((size_t)a->nfactors + 1, 1);
    a->slot_prefixed = PyMem_Calloc((size_t)nslots + 1, 1);
    /* build-time only: each state's first child, next sibling, label; each key's final state */
    int32_t *child = PyMem_Calloc(nt, sizeof(int32_t)), *sibling = PyMem_Calloc(nt, sizeof(int32_t));
    Py_UCS4 *label = PyMem_Calloc(nt, sizeof(Py_UCS4));
    int32_t *final = PyMem_Calloc((size_t)nall + 1, sizeof(int32_t)), *queue = PyMem_Calloc(nt, sizeof(int32_t));
    int ok = a->root && a->hkeys && a->hvals && a->fail && a->dict && a->out_start && a->out_len && a->outs &&
             a->f_slot && a->f_bit && a->slot_need && a->seen && a->slot_run && a->f_len &&
             a->f_prefix && a->slot_prefixed && child && sibling && label && final && queue;
    if (!ok) {
        PyErr_NoMemory();
        goto error;
    }
    for (Py_ssize_t c = 0; c < AC_ROOT_DENSE; c++)
        a->root[c] = -1;
    for (Py_ssize_t s = 0; s < nslots; s++) {
        unsigned long need = PyLong_AsUnsignedLong(PyList_GET_ITEM(slot_masks, s));
        if (need == (unsigned long)-1 && PyErr_Occurred())
            goto error;
        if (need > 0xFFFFFFFFUL) {
            PyErr_SetString(PyExc_ValueError, "Automaton(): a slot needs at most 32 sets");
            goto error;
        }
        a->slot_need[s] = (uint32_t)need;
        a->slot_run[s] = PyLong_AsSsize_t(PyList_GET_ITEM(slot_runs, s));
        if (a->slot_run[s] == -1 && PyErr_Occurred())
            goto error;
    }
    for (Py_ssize_t f = 0; f < a->nfactors; f++) {
        Py_ssize_t slot, bit;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(factor_slots, f), "nn", &slot, &bit))
            goto error;
        if (slot < 0 || slot >= nslots || bit < -1 || bit > 31) {
            PyErr_SetString(PyExc_ValueError, "Automaton(): a factor's (slot, bit) is out of range");
            goto error;
        }
        a->f_slot[f] = (int32_t)slot;
        a->f_len[f] = (int32_t)PyUnicode_GET_LENGTH(PyList_GET_ITEM(keys, nkeys + f));
        if (bit < 0) { /* a prefix string: its starts are recorded, no bit */
            a->f_prefix[f] = 1;
            a->slot_prefixed[slot] = 1;
        } else
            a->f_bit[f] = (uint32_t)1 << bit;
    }
    int32_t nstates = 1;
    for (Py_ssize_t i = 0; i < nall; i++) {
        PyObject *k = PyList_GET_ITEM(keys, i);
        int kind = PyUnicode_KIND(k);
        const void *data = PyUnicode_DATA(k);
        int32_t s = 0;
        for (Py_ssize_t j = 0; j < PyUnicode_GET_LENGTH(k); j++) {
            Py_UCS4 c = PyUnicode_READ(kind, data, j);
            int32_t t = ac_goto(a, s, c);
            if (t < 0) {
                t = nstates++;
                ac_put(a, s, c, t);
                label[t] = c;
                sibling[t] = child[s];
                child[s] = t;
            }
            s = t;
        }
        final[i] = s;
        a->out_len[s]++;
    }
    a->nstates = nstates;
    /* outputs of a state, ids ascending (keys come in id order) */
    for (int32_t s = 0; s < nstates; s++)
        a->out_start[s + 1] = a->out_start[s] + a->out_len[s];
    memset(queue, 0, nt * sizeof(int32_t));
    for (Py_ssize_t i = 0; i < nall; i++) {
        int32_t s = final[i];
        a->outs[a->out_start[s] + queue[s]++] = (int32_t)i;
    }
    /* breadth first: failure links and each state's nearest proper suffix state with outputs */
    Py_ssize_t head = 0, tail = 0;
    for (int32_t t = child[0]; t; t = sibling[t]) {
        a->fail[t] = 0;
        a->dict[t] = 0;
        queue[tail++] = t;
    }
    while (head < tail) {
        int32_t u = queue[head++];
        for (int32_t v = child[u]; v; v = sibling[v]) {
            Py_UCS4 c = label[v];
            int32_t f = a->fail[u], g;
            while ((g = ac_goto(a, f, c)) < 0 && f != 0)
                f = a->fail[f];
            a->fail[v] = g < 0 ? 0 : g;
            int32_t fv = a->fail[v];
            a->dict[v] = a->out_len[fv] ? fv : a->dict[fv];
            queue[tail++] = v;
        }
    }
    PyMem_Free(child);
    PyMem_Free(sibling);
    PyMem_Free(label);
    PyMem_Free(final);
    PyMem_Free(queue);
    return (PyObject *)a;
error:
    PyMem_Free(child);
    PyMem_Free(sibling);
    PyMem_Free(label);
    PyMem_Free(final);
    PyMem_Free(queue);
    Py_DECREF(a);
    return NULL;
}

static int matches_push(Matches *m, Py_ssize_t end, Py_ssize_t id) {
    return push_pair(&m->pairs, &m->n, &m->cap, end, id);
}

static PyObject *Automaton_scan(Automaton *a, PyObject *text) {
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "scan(text: str)");
        return NULL;
    }
    Matches *m = (Matches *)MatchesType.tp_alloc(&MatchesType, 0);
    if (m == NULL)
        return NULL;
    m->vectorcall = (vectorcallfunc)Matches_vectorcall;
    m->nkeys = a->nkeys;
    m->pairs = NULL;
    m->n = m->cap = 0;
    m->starts = NULL;
    m->nstarts = m->capstarts = 0;
    m->prefixed = a->slot_prefixed;
    m->nprefixed = a->nslots;
    Py_INCREF(a);
    m->owner = (PyObject *)a;
    m->reported = PySet_New(NULL);
    if (m->reported == NULL)
        goto error;
    memset(a->seen, 0, (size_t)a->nslots * sizeof(uint32_t));
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int32_t s = 0;
    int digits = 0, spaced = 0, digit_run = 0;
    Py_ssize_t run = 0, longest = 0; /* runs of [0-9x] */
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if ((c >= '0' && c <= '9') || c == 'x') {
            if (++run > longest)
                longest = run;
        } else
            run = 0;
        if (c >= '0' && c <= '9') {
            if (++digits >= 11)
                digit_run = 1;
            spaced = 0;
        } else if (c == ' ' && digits && !spaced)
            spaced = 1;
        else
            digits = spaced = 0;
        int32_t g;
        while ((g = ac_goto(a, s, c)) < 0 && s != 0)
            s = a->fail[s];
        s = g < 0 ? 0 : g;
        int32_t t = a->out_len[s] ? s : a->dict[s];
        if (!t)
            continue;
        for (; t; t = a->dict[t]) {
            for (int32_t o = a->out_start[t]; o < a->out_start[t + 1]; o++) {
                int32_t id = a->outs[o];
                if (id < a->nkeys) {
                    if (matches_push(m, i + 1, id) < 0)
                        goto error;
                } else if (a->f_prefix[id - a->nkeys]) {
                    Py_ssize_t f = id - a->nkeys;
                    if (push_pair(&m->starts, &m->nstarts, &m->capstarts, a->f_slot[f], i + 1 - a->f_len[f]) < 0)
                        goto error;
                } else
                    a->seen[a->f_slot[id - a->nkeys]] |= a->f_bit[id - a->nkeys];
            }
        }
    }
    for (Py_ssize_t slot = 0; slot < a->nslots; slot++) {
        int hit = (a->slot_need[slot] || a->slot_run[slot]) &&
                  (a->seen[slot] & a->slot_need[slot]) == a->slot_need[slot] && longest >= a->slot_run[slot];
        if (slot == a->digit_slot)
            hit = digit_run;
        if (hit) {
            PyObject *j = PyLong_FromSsize_t(slot);
            if (j == NULL)
                goto error;
            int rc = PySet_Add(m->reported, j);
            Py_DECREF(j);
            if (rc < 0)
                goto error;
        }
    }
    return (PyObject *)m;
error:
    Py_DECREF(m);
    return NULL;
}

static PyObject *Automaton_states(Automaton *a, void *closure) { return PyLong_FromSsize_t(a->nstates); }

static PyMethodDef Automaton_methods[] = {
    {"scan", (PyCFunction)Automaton_scan, METH_O,
     "scan(text) -> Matches: key occurrences (end, id) by end, longest first at one end; reported slots."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Automaton_getset[] = {
    {"states", (getter)Automaton_states, NULL, "number of states", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject AutomatonType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "piguard._native.sms_review.Automaton",
    .tp_basicsize = sizeof(Automaton),
    .tp_dealloc = (destructor)Automaton_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Aho-Corasick automaton over literal keys and patterns' necessary factors.",
    .tp_methods = Automaton_methods,
    .tp_getset = Automaton_getset,
    .tp_new = Automaton_new,
};

/* -------------------------------------------------------------------------------- slot makers
 * slot_maker(cls, names) -> maker: maker(*values) is a new ``cls`` whose slots ``names`` (every
 * slot of the class, in order) hold ``values``, without running ``cls.__init__``: what the review's
 * slotted result classes' __init__ do (each slot set through its own setter), without a Python frame
 * and a setter call a slot. Only for a class whose every name is a writable object slot of its own. */

#define MAKER_SLOTS 16

typedef struct {
    PyObject_HEAD vectorcallfunc vectorcall;
    PyTypeObject *cls;
    Py_ssize_t n;
    Py_ssize_t offsets[MAKER_SLOTS];
} Maker;

static void Maker_dealloc(Maker *self) {
    Py_XDECREF(self->cls);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Maker_vectorcall(Maker *self, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs != self->n || (kwnames != NULL && PyTuple_GET_SIZE(kwnames))) {
        PyErr_Format(PyExc_TypeError, "%s maker takes %zd positional arguments", self->cls->tp_name, self->n);
        return NULL;
    }
    PyObject *obj = self->cls->tp_alloc(self->cls, 0);
    if (obj == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < nargs; i++) {
        PyObject **slot = (PyObject **)((char *)obj + self->offsets[i]);
        Py_XSETREF(*slot, Py_NewRef(args[i]));
    }
    return obj;
}

static PyTypeObject MakerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "piguard._native.sms_review.Maker",
    .tp_basicsize = sizeof(Maker),
    .tp_dealloc = (destructor)Maker_dealloc,
    .tp_vectorcall_offset = offsetof(Maker, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "A slotted class's instances from their slots' values (see slot_maker).",
};

static PyObject *slot_maker(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyType_Check(args[0]) || !PyTuple_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "slot_maker(cls: type, names: tuple[str, ...])");
        return NULL;
    }
    PyTypeObject *cls = (PyTypeObject *)args[0];
    PyObject *names = args[1];
    Py_ssize_t n = PyTuple_GET_SIZE(names);
    /* a class statement's class with __slots__ and object's __new__: its instance is its slots */
    if (n == 0 || n > MAKER_SLOTS || cls->tp_itemsize != 0 || cls->tp_dictoffset != 0 ||
        !(cls->tp_flags & Py_TPFLAGS_HEAPTYPE) || cls->tp_new != PyBaseObject_Type.tp_new ||
        cls->tp_alloc != PyType_GenericAlloc) {
        PyErr_SetString(PyExc_ValueError,
                        "slot_maker(): a Python class with 1 to 16 slots, no __dict__ and object's __new__");
        return NULL;
    }
    Maker *maker = PyObject_New(Maker, &MakerType);
    if (maker == NULL)
        return NULL;
    maker->vectorcall = (vectorcallfunc)Maker_vectorcall;
    maker->cls = (PyTypeObject *)Py_NewRef(cls);
    maker->n = n;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *name = PyTuple_GET_ITEM(names, i);
        PyObject *descr = PyUnicode_Check(name) ? PyDict_GetItemWithError(cls->tp_dict, name) : NULL;
        if (descr == NULL || !Py_IS_TYPE(descr, &PyMemberDescr_Type) ||
            ((PyDescrObject *)descr)->d_type != cls ||
            ((PyMemberDescrObject *)descr)->d_member->type != T_OBJECT_EX ||
            (((PyMemberDescrObject *)descr)->d_member->flags & READONLY)) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "slot_maker(): %R is not a writable slot of %s", name, cls->tp_name);
            Py_DECREF(maker);
            return NULL;
        }
        maker->offsets[i] = ((PyMemberDescrObject *)descr)->d_member->offset;
        for (Py_ssize_t j = 0; j < i; j++)
            if (maker->offsets[j] == maker->offsets[i]) {
                PyErr_Format(PyExc_ValueError, "slot_maker(): %R named twice", name);
                Py_DECREF(maker);
                return NULL;
            }
    }
    /* every slot of the class, none inherited: no slot is left unset */
    Py_ssize_t own = 0, pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(cls->tp_dict, &pos, &key, &value))
        own += Py_IS_TYPE(value, &PyMemberDescr_Type) && ((PyDescrObject *)value)->d_type == cls;
    if (own != n || cls->tp_base != &PyBaseObject_Type) {
        PyErr_Format(PyExc_ValueError, "slot_maker(): %s has slots not named, or inherits some", cls->tp_name);
        Py_DECREF(maker);
        return NULL;
    }
    return (PyObject *)maker;
}

/* ------------------------------------------------------------------------------ small helpers
 * utf8_span(text, start, end) -> (start, end) in UTF-8 bytes: what
 * ``len(text[:start].encode()), len(text[:end].encode())`` give (RuleSet.scan, a pattern's match
 * against Hyperscan's byte offsets); None for a text holding a surrogate (which would not encode).
 *
 * verdict_score(plan, cats) -> float | None: Reviewer._verdict_score (messaging/review/engine.py),
 * a scored category's score from the evidence per signal category, None when its requirements do
 * not hold. */

static PyObject *utf8_span(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3 || !PyUnicode_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "utf8_span(text: str, start: int, end: int)");
        return NULL;
    }
    PyObject *text = args[0];
    Py_ssize_t start = PyLong_AsSsize_t(args[1]), end = PyLong_AsSsize_t(args[2]);
    if (PyErr_Occurred())
        return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (start < 0 || end < start || end > n) {
        PyErr_SetString(PyExc_ValueError, "utf8_span(): the span is not inside the text");
        return NULL;
    }
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t bytes = 0, a = 0;
    for (Py_ssize_t i = 0; i < end; i++) {
        if (i == start)
            a = bytes;
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c < 0x80)
            bytes += 1;
        else if (c < 0x800)
            bytes += 2;
        else if (c >= 0xD800 && c <= 0xDFFF)
            Py_RETURN_NONE;
        else if (c < 0x10000)
            bytes += 3;
        else
            bytes += 4;
    }
    if (start == end)
        a = bytes;
    PyObject *pa = PyLong_FromSsize_t(a), *pb = PyLong_FromSsize_t(bytes);
    PyObject *out = pa && pb ? PyTuple_Pack(2, pa, pb) : NULL;
    Py_XDECREF(pa);
    Py_XDECREF(pb);
    return out;
}

static int keys_disjoint(PyObject *cats, PyObject *set) {
    /* 1 when no element of ``set`` (any iterable) is a key of the dict ``cats``; -1 on error */
    PyObject *it = PyObject_GetIter(set);
    if (it == NULL)
        return -1;
    PyObject *item;
    while ((item = PyIter_Next(it)) != NULL) {
        int in = PyDict_Contains(cats, item);
        Py_DECREF(item);
        if (in != 0) {
            Py_DECREF(it);
            return in < 0 ? -1 : 0;
        }
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 1;
}

static PyObject *verdict_score(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyTuple_Check(args[0]) || PyTuple_GET_SIZE(args[0]) != 6 || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "verdict_score(plan: tuple of 6, cats: dict)");
        return NULL;
    }
    PyObject *plan = args[0], *cats = args[1];
    PyObject *require = PyTuple_GET_ITEM(plan, 1), *require_all = PyTuple_GET_ITEM(plan, 2);
    PyObject *distinct_of = PyTuple_GET_ITEM(plan, 4), *weights = PyTuple_GET_ITEM(plan, 5);
    Py_ssize_t distinct = PyLong_AsSsize_t(PyTuple_GET_ITEM(plan, 3));
    if (distinct == -1 && PyErr_Occurred())
        return NULL;
    if (!PyTuple_Check(require_all) || !PyTuple_Check(distinct_of) || !PyTuple_Check(weights)) {
        PyErr_SetString(PyExc_TypeError, "verdict_score(): the plan's lists must be tuples");
        return NULL;
    }
    int truth = PyObject_IsTrue(require);
    if (truth < 0)
        return NULL;
    if (truth) {
        int d = keys_disjoint(cats, require);
        if (d < 0)
            return NULL;
        if (d)
            Py_RETURN_NONE;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(require_all); i++) {
        int d = keys_disjoint(cats, PyTuple_GET_ITEM(require_all, i));
        if (d < 0)
            return NULL;
        if (d)
            Py_RETURN_NONE;
    }
    if (distinct) {
        Py_ssize_t k = 0;
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(distinct_of); i++) {
            int in = PyDict_Contains(cats, PyTuple_GET_ITEM(distinct_of, i));
            if (in < 0)
                return NULL;
            k += in;
        }
        if (k < distinct)
            Py_RETURN_NONE;
    }
    double score = 0.0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(weights); i++) {
        PyObject *entry = PyTuple_GET_ITEM(weights, i);
        if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 3) {
            PyErr_SetString(PyExc_TypeError, "verdict_score(): weights are (category, weight, cap)");
            return NULL;
        }
        PyObject *found = PyDict_GetItemWithError(cats, PyTuple_GET_ITEM(entry, 0));
        if (found == NULL) {
            if (PyErr_Occurred())
                return NULL;
            continue;
        }
        double v = PyFloat_AsDouble(found);
        double w = PyFloat_AsDouble(PyTuple_GET_ITEM(entry, 1));
        double cap = PyFloat_AsDouble(PyTuple_GET_ITEM(entry, 2));
        if (PyErr_Occurred())
            return NULL;
        if (v != 0.0) /* the original's ``if found:`` */
            score += w * (v < cap ? v : cap);
    }
    return PyFloat_FromDouble(score);
}

/* split_runs(text) -> [str]: the first three of ``_SPLIT.findall(text)`` (Reviewer._obfuscation):
 * three or more CJK ideographs each split from the next by one or two of the separators
 * `` .*_-/|~·•+#^``, leftmost first, not overlapping. */

static int split_sep(Py_UCS4 c) {
    switch (c) {
    case ' ':
    case '.':
    case '*':
    case '_':
    case '-':
    case '/':
    case '|':
    case '~':
    case 0x00B7: /* · */
    case 0x2022: /* • */
    case '+':
    case '#':
    case '^':
        return 1;
    default:
        return 0;
    }
}

static int cjk(Py_UCS4 c) { return c >= 0x4E00 && c <= 0x9FFF; }

static PyObject *split_runs(PyObject *self, PyObject *text) {
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "split_runs() takes a str");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
#define AT(i) PyUnicode_READ(kind, data, (i))
    Py_ssize_t i = 0;
    while (i < n && PyList_GET_SIZE(out) < 3) {
        if (!cjk(AT(i))) {
            i++;
            continue;
        }
        Py_ssize_t j = i + 1;
        int k = 0;
        for (;;) { /* (?:SEP{1,2}CJK): the greedy two separators first, then one */
            if (j < n && split_sep(AT(j))) {
                if (j + 2 < n && split_sep(AT(j + 1)) && cjk(AT(j + 2))) {
                    j += 3;
                    k++;
                    continue;
                }
                if (j + 1 < n && cjk(AT(j + 1))) {
                    j += 2;
                    k++;
                    continue;
                }
            }
            break;
        }
        if (k >= 2) {
            PyObject *found = PyUnicode_Substring(text, i, j);
            if (found == NULL || PyList_Append(out, found) < 0) {
                Py_XDECREF(found);
                Py_DECREF(out);
                return NULL;
            }
            Py_DECREF(found);
            i = j;
            continue;
        }
        i++;
    }
#undef AT
    return out;
}

/* categories(fired, scores, signal) -> dict: the first loop of Reviewer._categories: for each
 * group of ``fired`` that is a signal (``signal``: {group: (category, cap)}) with a positive
 * score, its category gains min(score, cap), in the order of ``fired``. */
static PyObject *categories(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3 || !PyTuple_Check(args[0]) || !PyList_Check(args[1]) || !PyDict_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "categories(fired: tuple, scores: list, signal: dict)");
        return NULL;
    }
    PyObject *fired = args[0], *scores = args[1], *signal = args[2];
    PyObject *cats = PyDict_New();
    if (cats == NULL)
        return NULL;
    for (Py_ssize_t f = 0; f < PyTuple_GET_SIZE(fired); f++) {
        PyObject *gi = PyTuple_GET_ITEM(fired, f);
        PyObject *sig = PyDict_GetItemWithError(signal, gi);
        if (sig == NULL) {
            if (PyErr_Occurred())
                goto error;
            continue;
        }
        Py_ssize_t i = PyLong_AsSsize_t(gi);
        if (i == -1 && PyErr_Occurred())
            goto error;
        if (i < 0 || i >= PyList_GET_SIZE(scores) || !PyTuple_Check(sig) || PyTuple_GET_SIZE(sig) != 2) {
            PyErr_SetString(PyExc_ValueError, "categories(): bad group or signal");
            goto error;
        }
        double score = PyFloat_AsDouble(PyList_GET_ITEM(scores, i));
        double cap = PyFloat_AsDouble(PyTuple_GET_ITEM(sig, 1));
        if (PyErr_Occurred())
            goto error;
        if (!(score > 0))
            continue;
        PyObject *cat = PyTuple_GET_ITEM(sig, 0);
        PyObject *had = PyDict_GetItemWithError(cats, cat);
        double before = 0.0;
        if (had == NULL) {
            if (PyErr_Occurred())
                goto error;
        } else {
            before = PyFloat_AsDouble(had);
        }
        PyObject *now = PyFloat_FromDouble(before + (score < cap ? score : cap));
        if (now == NULL)
            goto error;
        int rc = PyDict_SetItem(cats, cat, now);
        Py_DECREF(now);
        if (rc < 0)
            goto error;
    }
    return cats;
error:
    Py_DECREF(cats);
    return NULL;
}

/* signal_entries(fired, scores, signal, static, hits, wanted, round) -> {category: [entry]}: the
 * first loop of Reviewer._signal_details: per fired signal group with a positive score whose
 * category is ``wanted``, in the order of ``fired``, the entry {"id", "category", "weight":
 * round(min(score, cap), 3), "articles": list, "matches": [evidence of its hits]}; ``static``:
 * {group: (id, articles)}, ``round`` the built-in (so the weight rounds exactly as it does). */
static PyObject *k_id, *k_category, *k_weight, *k_articles, *k_matches, *three;

/* round(x, 3) of a float through ``round_fn``, remembered per value: a signal's weight is one of
 * few sums of its terms' weights, and the call costs more than the entry. Only for an exact float
 * and the built-in ``round`` (any other function is called every time), so the result is the
 * object the call gives for the same value. */
#define ROUND_SLOTS 256
static uint64_t round_key[ROUND_SLOTS];
static PyObject *round_val[ROUND_SLOTS];
static PyObject *builtin_round; /* builtins.round, looked up when the module loads */

static PyObject *round3(PyObject *round_fn, PyObject *x) {
    if (!PyFloat_CheckExact(x) || round_fn != builtin_round)
        return PyObject_CallFunctionObjArgs(round_fn, x, three, NULL);
    double v = PyFloat_AS_DOUBLE(x);
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    size_t slot = (size_t)((bits ^ (bits >> 29) ^ (bits >> 43)) * 0x9E3779B97F4A7C15ull >> 56) % ROUND_SLOTS;
    if (round_val[slot] != NULL && round_key[slot] == bits) {
        Py_INCREF(round_val[slot]);
        return round_val[slot];
    }
    PyObject *out = PyObject_CallFunctionObjArgs(round_fn, x, three, NULL);
    if (out != NULL && PyFloat_CheckExact(out)) {
        Py_XSETREF(round_val[slot], Py_NewRef(out));
        round_key[slot] = bits;
    }
    return out;
}

static PyObject *signal_entries(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 7 || !PyTuple_Check(args[0]) || !PyList_Check(args[1]) || !PyDict_Check(args[2]) ||
        !PyDict_Check(args[3]) || !PyList_Check(args[4]) || !PyAnySet_Check(args[5])) {
        PyErr_SetString(PyExc_TypeError,
                        "signal_entries(fired: tuple, scores: list, signal: dict, static: dict, hits: list, "
                        "wanted: set, round)");
        return NULL;
    }
    PyObject *fired = args[0], *scores = args[1], *signal = args[2], *statics = args[3];
    PyObject *hits = args[4], *wanted = args[5], *round_fn = args[6];
    PyObject *by_cat = PyDict_New();
    if (by_cat == NULL)
        return NULL;
    for (Py_ssize_t f = 0; f < PyTuple_GET_SIZE(fired); f++) {
        PyObject *gi = PyTuple_GET_ITEM(fired, f);
        PyObject *sig = PyDict_GetItemWithError(signal, gi);
        if (sig == NULL) {
            if (PyErr_Occurred())
                goto error;
            continue;
        }
        Py_ssize_t i = PyLong_AsSsize_t(gi);
        if (i == -1 && PyErr_Occurred())
            goto error;
        if (i < 0 || i >= PyList_GET_SIZE(scores) || i >= PyList_GET_SIZE(hits) || !PyTuple_Check(sig) ||
            PyTuple_GET_SIZE(sig) != 2) {
            PyErr_SetString(PyExc_ValueError, "signal_entries(): bad group or signal");
            goto error;
        }
        PyObject *score_obj = PyList_GET_ITEM(scores, i), *cap_obj = PyTuple_GET_ITEM(sig, 1);
        PyObject *cat = PyTuple_GET_ITEM(sig, 0);
        double score = PyFloat_AsDouble(score_obj), cap = PyFloat_AsDouble(cap_obj);
        if (PyErr_Occurred())
            goto error;
        if (score <= 0)
            continue;
        int want = PySet_Contains(wanted, cat);
        if (want < 0)
            goto error;
        if (!want)
            continue;
        PyObject *st = PyDict_GetItemWithError(statics, gi);
        if (st == NULL || !PyTuple_Check(st) || PyTuple_GET_SIZE(st) != 2) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "signal_entries(): a signal without its id and articles");
            goto error;
        }
        PyObject *group_hits = PyList_GET_ITEM(hits, i);
        if (!PyList_Check(group_hits)) {
            PyErr_SetString(PyExc_ValueError, "signal_entries(): hits must be lists");
            goto error;
        }
        PyObject *entry = PyDict_New();
        if (entry == NULL)
            goto error;
        PyObject *weight = round3(round_fn, score < cap ? score_obj : cap_obj);
        PyObject *articles = PySequence_List(PyTuple_GET_ITEM(st, 1));
        Py_ssize_t nh = PyList_GET_SIZE(group_hits);
        PyObject *matches = PyList_New(nh);
        int ok = weight != NULL && articles != NULL && matches != NULL;
        for (Py_ssize_t h = 0; ok && h < nh; h++) {
            PyObject *hit = PyList_GET_ITEM(group_hits, h);
            if (!PyTuple_Check(hit) || PyTuple_GET_SIZE(hit) < 2) {
                PyErr_SetString(PyExc_ValueError, "signal_entries(): a hit is (group, evidence, weight)");
                ok = 0;
                break;
            }
            PyObject *ev = PyTuple_GET_ITEM(hit, 1);
            Py_INCREF(ev);
            PyList_SET_ITEM(matches, h, ev);
        }
        ok = ok && PyDict_SetItem(entry, k_id, PyTuple_GET_ITEM(st, 0)) == 0 &&
             PyDict_SetItem(entry, k_category, cat) == 0 && PyDict_SetItem(entry, k_weight, weight) == 0 &&
             PyDict_SetItem(entry, k_articles, articles) == 0 && PyDict_SetItem(entry, k_matches, matches) == 0;
        Py_XDECREF(weight);
        Py_XDECREF(articles);
        Py_XDECREF(matches);
        if (ok) {
            PyObject *listed = PyDict_GetItemWithError(by_cat, cat);
            if (listed == NULL) {
                if (PyErr_Occurred()) {
                    ok = 0;
                } else {
                    listed = PyList_New(0);
                    ok = listed != NULL && PyDict_SetItem(by_cat, cat, listed) == 0;
                    Py_XDECREF(listed);
                }
            }
            ok = ok && PyList_Append(listed, entry) == 0;
        }
        Py_DECREF(entry);
        if (!ok)
            goto error;
    }
    return by_cat;
error:
    Py_DECREF(by_cat);
    return NULL;
}

/* contains_any(text, terms) -> bool: whether one of the strings ``terms`` occurs in ``text``, what
 * ``re.compile("|".join(map(re.escape, terms))).search(text) is not None`` says
 * (Reviewer._categories, the signals looked for by plain containment).
 *
 * pinyin_found(fired, hits, pinyin) -> [str]: the evidence of the fired groups' hits that is a
 * pinyin spelling (Reviewer._obfuscation), in order. */
static PyObject *contains_any(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyUnicode_Check(args[0]) || !PyTuple_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "contains_any(text: str, terms: tuple)");
        return NULL;
    }
    PyObject *text = args[0], *terms = args[1];
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(terms); i++) {
        int in = PyUnicode_Contains(text, PyTuple_GET_ITEM(terms, i));
        if (in < 0)
            return NULL;
        if (in)
            Py_RETURN_TRUE;
    }
    Py_RETURN_FALSE;
}

static PyObject *pinyin_found(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3 || !PyTuple_Check(args[0]) || !PyList_Check(args[1]) || !PyAnySet_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "pinyin_found(fired: tuple, hits: list, pinyin: frozenset)");
        return NULL;
    }
    PyObject *fired = args[0], *hits = args[1], *pinyin = args[2];
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t f = 0; f < PyTuple_GET_SIZE(fired); f++) {
        Py_ssize_t i = PyLong_AsSsize_t(PyTuple_GET_ITEM(fired, f));
        if (i == -1 && PyErr_Occurred())
            goto error;
        if (i < 0 || i >= PyList_GET_SIZE(hits) || !PyList_Check(PyList_GET_ITEM(hits, i))) {
            PyErr_SetString(PyExc_ValueError, "pinyin_found(): bad group");
            goto error;
        }
        PyObject *group_hits = PyList_GET_ITEM(hits, i);
        for (Py_ssize_t h = 0; h < PyList_GET_SIZE(group_hits); h++) {
            PyObject *hit = PyList_GET_ITEM(group_hits, h);
            if (!PyTuple_Check(hit) || PyTuple_GET_SIZE(hit) < 2) {
                PyErr_SetString(PyExc_ValueError, "pinyin_found(): a hit is (group, evidence, weight)");
                goto error;
            }
            PyObject *ev = PyTuple_GET_ITEM(hit, 1);
            int in = PySet_Contains(pinyin, ev);
            if (in < 0 || (in && PyList_Append(out, ev) < 0))
                goto error;
        }
    }
    return out;
error:
    Py_DECREF(out);
    return NULL;
}

/* run_patterns(run, reported, gated, patterns, text, to_bytes, raw): RuleSet.scan's loop over the
 * patterns to run (the set ``run``, in its iteration order): a pre-filtered pattern Hyperscan did
 * not report is skipped; a match of ``rx.search(text)`` adds (start, -end, weight, id) to ``raw``
 * under its group, its span in UTF-8 bytes when ``to_bytes``. ``patterns``: [(group, weight, rx,
 * id)], ``gated``: [bool], ``reported``: set or None. Returns None (a text that cannot be encoded
 * raises as the original's encode does). */
static PyObject *s_search, *s_span;

static PyObject *s_match;

static int cmp_ssize(const void *x, const void *y) {
    Py_ssize_t a = *(const Py_ssize_t *)x, b = *(const Py_ssize_t *)y;
    return (a > b) - (a < b);
}

/* rx.match(text, p) at each start p of pattern ``slot``'s prefix strings, ascending: the first
 * match, or None */
static PyObject *match_at_starts(PyObject *rx, PyObject *text, Matches *found, Py_ssize_t slot) {
    Py_ssize_t local[16], *ps = local, n = 0;
    for (Py_ssize_t k = 0; k < found->nstarts; k++)
        n += found->starts[2 * k] == slot;
    if (n == 0)
        Py_RETURN_NONE;
    if (n > 16 && (ps = PyMem_Malloc((size_t)n * sizeof(Py_ssize_t))) == NULL)
        return PyErr_NoMemory();
    n = 0;
    for (Py_ssize_t k = 0; k < found->nstarts; k++)
        if (found->starts[2 * k] == slot)
            ps[n++] = found->starts[2 * k + 1];
    qsort(ps, (size_t)n, sizeof(Py_ssize_t), cmp_ssize);
    PyObject *m = Py_None;
    Py_INCREF(m);
    for (Py_ssize_t k = 0; k < n; k++) {
        if (k > 0 && ps[k] == ps[k - 1])
            continue;
        PyObject *pos = PyLong_FromSsize_t(ps[k]);
        if (pos == NULL) {
            Py_CLEAR(m);
            break;
        }
        PyObject *argv[3] = {rx, text, pos};
        PyObject *got = PyObject_VectorcallMethod(s_match, argv, 3, NULL);
        Py_DECREF(pos);
        Py_DECREF(m);
        m = got;
        if (m == NULL || m != Py_None)
            break;
    }
    if (ps != local)
        PyMem_Free(ps);
    return m;
}

static PyObject *run_patterns(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if ((nargs != 7 && nargs != 8) || !PyAnySet_Check(args[0]) || !(args[1] == Py_None || PyAnySet_Check(args[1])) ||
        !PyList_Check(args[2]) || !PyList_Check(args[3]) || !PyUnicode_Check(args[4]) || !PyDict_Check(args[6])) {
        PyErr_SetString(PyExc_TypeError, "run_patterns(run: set, reported: set | None, gated: list, "
                                         "patterns: list, text: str, to_bytes: bool, raw: dict[, found])");
        return NULL;
    }
    /* the automaton's Matches: a pattern with a prefix set is tried with match() at each start of
     * one of its prefix strings, in order, instead of search() (every match starts at one: the
     * first that matches is search()'s leftmost match) */
    Matches *found = nargs == 8 && Py_IS_TYPE(args[7], &MatchesType) ? (Matches *)args[7] : NULL;
    if (found != NULL && found->prefixed == NULL)
        found = NULL;
    PyObject *run = args[0], *reported = args[1], *gated = args[2], *patterns = args[3];
    PyObject *text = args[4], *raw = args[6];
    int to_bytes = PyObject_IsTrue(args[5]);
    if (to_bytes < 0)
        return NULL;
    /* in the patterns' order (their definition order): the canonical order of their hits */
    PyObject *order = PySequence_List(run);
    if (order == NULL || PyList_Sort(order) < 0) {
        Py_XDECREF(order);
        return NULL;
    }
    PyObject *it = PyObject_GetIter(order), *pi_obj;
    Py_DECREF(order);
    if (it == NULL)
        return NULL;
    while ((pi_obj = PyIter_Next(it)) != NULL) {
        PyObject *m = NULL, *span = NULL;
        Py_ssize_t pi = PyLong_AsSsize_t(pi_obj);
        if (pi == -1 && PyErr_Occurred())
            goto error;
        if (pi < 0 || pi >= PyList_GET_SIZE(patterns) || pi >= PyList_GET_SIZE(gated)) {
            PyErr_SetString(PyExc_IndexError, "run_patterns(): pattern index out of range");
            goto error;
        }
        if (reported != Py_None) {
            int g = PyObject_IsTrue(PyList_GET_ITEM(gated, pi));
            if (g < 0)
                goto error;
            if (g) {
                int in = PySet_Contains(reported, pi_obj);
                if (in < 0)
                    goto error;
                if (!in) {
                    Py_DECREF(pi_obj);
                    continue;
                }
            }
        }
        PyObject *pat = PyList_GET_ITEM(patterns, pi);
        if (!PyTuple_Check(pat) || PyTuple_GET_SIZE(pat) != 4) {
            PyErr_SetString(PyExc_ValueError, "run_patterns(): a pattern is (group, weight, rx, id)");
            goto error;
        }
        if (found != NULL && pi < found->nprefixed && found->prefixed[pi]) {
            m = match_at_starts(PyTuple_GET_ITEM(pat, 2), text, found, pi);
        } else
            m = PyObject_CallMethodOneArg(PyTuple_GET_ITEM(pat, 2), s_search, text);
        if (m == NULL)
            goto error;
        if (m != Py_None) {
            span = PyObject_CallMethodNoArgs(m, s_span);
            if (span == NULL || !PyTuple_Check(span) || PyTuple_GET_SIZE(span) != 2) {
                if (span != NULL)
                    PyErr_SetString(PyExc_ValueError, "run_patterns(): a span is two offsets");
                goto error;
            }
            Py_ssize_t a = PyLong_AsSsize_t(PyTuple_GET_ITEM(span, 0));
            Py_ssize_t b = PyLong_AsSsize_t(PyTuple_GET_ITEM(span, 1));
            if (PyErr_Occurred())
                goto error;
            if (to_bytes) {
                Py_ssize_t ba = 0, bb = 0;
                int kind = PyUnicode_KIND(text);
                const void *data = PyUnicode_DATA(text);
                for (Py_ssize_t i = 0; i < b; i++) {
                    if (i == a)
                        ba = bb;
                    Py_UCS4 c = PyUnicode_READ(kind, data, i);
                    if (c >= 0xD800 && c <= 0xDFFF) { /* not encodable: raise as encode() does */
                        PyObject *bad = PyUnicode_AsUTF8String(text);
                        Py_XDECREF(bad);
                        if (!PyErr_Occurred())
                            PyErr_SetString(PyExc_UnicodeError, "run_patterns(): a surrogate");
                        goto error;
                    }
                    bb += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
                }
                if (a == b)
                    ba = bb;
                a = ba;
                b = bb;
            }
            if (append_item(raw, PyTuple_GET_ITEM(pat, 0), a, b, PyTuple_GET_ITEM(pat, 1), 0,
                            PyTuple_GET_ITEM(pat, 3)) < 0)
                goto error;
        }
        Py_XDECREF(span);
        Py_DECREF(m);
        Py_DECREF(pi_obj);
        continue;
    error:
        Py_XDECREF(span);
        Py_XDECREF(m);
        Py_DECREF(pi_obj);
        Py_DECREF(it);
        return NULL;
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"normalize", (PyCFunction)(void (*)(void))normalize, METH_FASTCALL,
     "Normalizer.normalize for texts of ASCII and CJK letters; None for any other text."},
    {"utf8_span", (PyCFunction)(void (*)(void))utf8_span, METH_FASTCALL,
     "A span of a text in UTF-8 bytes; None for a text holding a surrogate."},
    {"verdict_score", (PyCFunction)(void (*)(void))verdict_score, METH_FASTCALL,
     "Reviewer._verdict_score: a scored category's score, or None."},
    {"split_runs", split_runs, METH_O, "The first three of Reviewer._obfuscation's split-character runs."},
    {"categories", (PyCFunction)(void (*)(void))categories, METH_FASTCALL,
     "Reviewer._categories' evidence per signal category of the fired groups."},
    {"signal_entries", (PyCFunction)(void (*)(void))signal_entries, METH_FASTCALL,
     "Reviewer._signal_details' entries of the fired signal groups, per category."},
    {"contains_any", (PyCFunction)(void (*)(void))contains_any, METH_FASTCALL,
     "Whether one of the strings occurs in the text."},
    {"pinyin_found", (PyCFunction)(void (*)(void))pinyin_found, METH_FASTCALL,
     "The fired groups' evidence that is a pinyin spelling, in order."},
    {"run_patterns", (PyCFunction)(void (*)(void))run_patterns, METH_FASTCALL,
     "RuleSet.scan's loop over the patterns to run."},
    {"collect", (PyCFunction)(void (*)(void))collect, METH_FASTCALL,
     "RuleSet.scan's loop over the key occurrences."},
    {"slot_maker", (PyCFunction)(void (*)(void))slot_maker, METH_FASTCALL,
     "A callable building a slotted class's instances from their slots' values, without __init__."},
    {"consolidate", (PyCFunction)(void (*)(void))consolidate, METH_FASTCALL,
     "RuleSet.scan's loop over the groups' matches: scores and hits."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "sms_review", NULL, -1, methods};

PyMODINIT_FUNC PyInit_sms_review(void) {
    if (PyType_Ready(&MatchesType) < 0)
        return NULL;
    if (PyType_Ready(&MakerType) < 0)
        return NULL;
    if (PyType_Ready(&AutomatonType) < 0)
        return NULL;
    if (builtin_round == NULL) {
        PyObject *builtins = PyImport_ImportModule("builtins");
        if (builtins == NULL)
            return NULL;
        builtin_round = PyObject_GetAttrString(builtins, "round");
        Py_DECREF(builtins);
        if (builtin_round == NULL)
            return NULL;
    }
    if (k_id == NULL) {
        k_id = PyUnicode_InternFromString("id");
        k_category = PyUnicode_InternFromString("category");
        k_weight = PyUnicode_InternFromString("weight");
        k_articles = PyUnicode_InternFromString("articles");
        k_matches = PyUnicode_InternFromString("matches");
        three = PyLong_FromLong(3);
        s_search = PyUnicode_InternFromString("search");
        s_span = PyUnicode_InternFromString("span");
        s_match = PyUnicode_InternFromString("match");
        if (!s_search || !s_span || !s_match || !k_id || !k_category || !k_weight || !k_articles || !k_matches || !three)
            return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m && (PyModule_AddStringConstant(m, "SOURCE_HASH", PIGUARD_SOURCE_HASH) < 0 ||
              PyModule_AddObjectRef(m, "Matches", (PyObject *)&MatchesType) < 0 ||
              PyModule_AddObjectRef(m, "Automaton", (PyObject *)&AutomatonType) < 0)) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
