/* The discovery engine's candidate loop over the structural pass (piguard.discovery.engine:
 * Engine.raw's loop over the spans, Engine._cluster and Engine._token), with no Python frame per
 * span, cluster or token: the same splitting of digit clusters into tokens (spaced groups longest
 * run first, tokens split at ":" and "/", at "-" when the whole gave nothing), the same calls in
 * the same order, and before each number recogniser is called, the first checks it makes itself,
 * so that a token it would reject costs no call:
 *
 *   K_LANDLINE  more than 8 digits: the first is 0 or 8, or the token starts with "+"; at most 8:
 *               ")" or "）" just before the token (then an optional " " or "-", and the "\n"
 *               before which _LANDLINE_PAREN's "$" also matches);
 *   K_MOBILE    11 digits not after "+", 13 starting 86, 15 starting 0086, and the national
 *               number starting with 1 (engine._mobile_kind: only where phonenumbers' pattern
 *               does so in every alternative);
 *   K_CARD      the first digit one of 234569, Luhn;
 *   K_ID        18 digits with their GB 11643 check digit, 17 and a final X whose check digit is
 *               X, 15 with a month 01-12 and a day 01-31;
 *   K_PASSPORT  digits only, an ASCII capital letter just before (or before a "\n" there);
 *   K_IPV4      (a dotted token) _DOTTED_IP's shape, each of the four numbers at most 255 with
 *               no leading 0 (validators.ipv4_ok);
 *   K_GPS       (a dotted token) _GPS_NUM's shape: -?, 1-3 digits, ".", 3 or more digits;
 *   0           (any other recogniser) always called.
 *
 * These are necessary conditions of each recogniser's own checks, so the candidates are the
 * same (the tests compare this loop with the Python one, and hand each skipped token to its
 * recogniser). A cluster holding a character other than ASCII digits, " +-.:/Xx" is handed to
 * Engine._cluster whole (``cluster_py``). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>

enum { K_ANY = 0, K_LANDLINE = 1, K_MOBILE = 2, K_CARD = 3, K_ID = 4, K_PASSPORT = 5, K_IPV4 = 6, K_GPS = 7 };

typedef struct {
    PyObject *scan, *folded, *numtab, *dotted, *score, *out, *empty;
    int kind;
    const void *data;
    Py_ssize_t len;
    char *digits; /* scratch: the ASCII digits of the current token */
} Ctx;

static inline Py_UCS4 at(const Ctx *c, Py_ssize_t i) {
    return (i >= 0 && i < c->len) ? PyUnicode_READ(c->kind, c->data, i) : 0;
}

static const int ID_WEIGHTS[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
static const char ID_CHECK[] = "10X98765432";

static char id_check(const char *d) {
    int total = 0;
    for (int i = 0; i < 17; i++)
        total += (d[i] - '0') * ID_WEIGHTS[i];
    return ID_CHECK[total % 11];
}

static int luhn(const char *d, Py_ssize_t n) {
    int total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int v = d[n - 1 - i] - '0';
        if (i & 1)
            v = v < 5 ? 2 * v : 2 * v - 9;
        total += v;
    }
    return total % 10 == 0;
}

static int upper_ascii(Py_UCS4 ch) { return ch >= 'A' && ch <= 'Z'; }

/* the end of the run of ASCII digits from i (before e) */
static Py_ssize_t digit_run(const Ctx *c, Py_ssize_t i, Py_ssize_t e) {
    while (i < e && at(c, i) >= '0' && at(c, i) <= '9')
        i++;
    return i;
}

/* _DOTTED_IP.fullmatch(tok) and ipv4_ok of its quad: four dot-separated runs of 1-3 digits (each
 * at most 255, no leading 0), then an optional ":" and 1-5 digits, an optional "/" and 1-2 */
static int dotted_ip(const Ctx *c, Py_ssize_t s, Py_ssize_t e) {
    Py_ssize_t i = s;
    for (int part = 0; part < 4; part++) {
        if (part && (i >= e || at(c, i++) != '.'))
            return 0;
        Py_ssize_t j = digit_run(c, i, e), len = j - i;
        if (len < 1 || len > 3 || (len > 1 && at(c, i) == '0'))
            return 0;
        int v = 0;
        for (Py_ssize_t x = i; x < j; x++)
            v = v * 10 + (int)(at(c, x) - '0');
        if (v > 255)
            return 0;
        i = j;
    }
    if (i < e && at(c, i) == ':') {
        Py_ssize_t j = digit_run(c, i + 1, e);
        if (j - i - 1 < 1 || j - i - 1 > 5)
            return 0;
        i = j;
    }
    if (i < e && at(c, i) == '/') {
        Py_ssize_t j = digit_run(c, i + 1, e);
        if (j - i - 1 < 1 || j - i - 1 > 2)
            return 0;
        i = j;
    }
    return i == e;
}

/* _GPS_NUM.fullmatch(tok): -?\d{1,3}\.\d{3,} */
static int gps_number(const Ctx *c, Py_ssize_t s, Py_ssize_t e) {
    Py_ssize_t i = s < e && at(c, s) == '-' ? s + 1 : s;
    Py_ssize_t j = digit_run(c, i, e);
    if (j - i < 1 || j - i > 3 || j >= e || at(c, j) != '.')
        return 0;
    return e - (j + 1) >= 3 && digit_run(c, j + 1, e) == e;
}

/* may the recogniser of ``kind`` find something in the token [s, e) with digits d[0:n]? */
static int may(const Ctx *c, long kind, Py_ssize_t s, Py_ssize_t e, const char *d, Py_ssize_t n) {
    Py_UCS4 first = at(c, s), last = at(c, e - 1);
    if (!d && kind <= K_PASSPORT)
        return 1; /* a number recogniser handed a dotted token: called */
    switch (kind) {
    case K_LANDLINE:
        if (n > 8)
            return d[0] == '0' || d[0] == '8' || first == '+';
        {
            Py_ssize_t p = s - 1;
            if (at(c, p) == '\n')
                p--;
            if (at(c, p) == ' ' || at(c, p) == '-')
                p--;
            Py_UCS4 ch = at(c, p);
            return p >= 0 && (ch == ')' || ch == 0xFF09);
        }
    case K_MOBILE:
        if (n == 11)
            return first != '+' && d[0] == '1';
        if (n == 13)
            return d[0] == '8' && d[1] == '6' && d[2] == '1';
        if (n == 15)
            return d[0] == '0' && d[1] == '0' && d[2] == '8' && d[3] == '6' && d[4] == '1';
        return 1;
    case K_CARD:
        return n > 0 && strchr("234569", d[0]) != NULL && luhn(d, n);
    case K_ID:
        if (last == 'X' || last == 'x')
            return n == 17 && id_check(d) == 'X';
        if (n == 18)
            return id_check(d) == d[17];
        if (n == 15) {
            int m = (d[8] - '0') * 10 + (d[9] - '0'), day = (d[10] - '0') * 10 + (d[11] - '0');
            return m >= 1 && m <= 12 && day >= 1 && day <= 31;
        }
        return n != 17;
    case K_PASSPORT: {
        for (Py_ssize_t i = s; i < e; i++)
            if (at(c, i) < '0' || at(c, i) > '9')
                return 0;
        Py_UCS4 b = at(c, s - 1);
        return s > 0 && (upper_ascii(b) || (b == '\n' && s > 1 && upper_ascii(at(c, s - 2))));
    }
    case K_IPV4:
        return dotted_ip(c, s, e);
    case K_GPS:
        return gps_number(c, s, e);
    }
    return 1;
}

/* call recogniser entries (kind, on_token, rec, category) on the token; 1 if any found something */
static int call_recs(Ctx *c, PyObject *recs, Py_ssize_t s, Py_ssize_t e, const char *d, Py_ssize_t n,
                     int with_digits) {
    int hit = 0;
    PyObject *tok = NULL, *digits = NULL, *start = NULL;
    for (Py_ssize_t r = 0; r < PyTuple_GET_SIZE(recs); r++) {
        PyObject *entry = PyTuple_GET_ITEM(recs, r);
        if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 4) {
            PyErr_SetString(PyExc_TypeError, "recogniser entries must be (kind, on_token, rec, category)");
            goto fail;
        }
        long kind = PyLong_AsLong(PyTuple_GET_ITEM(entry, 0));
        if (kind == -1 && PyErr_Occurred())
            goto fail;
        if (kind != K_ANY && !may(c, kind, s, e, d, n))
            continue;
        if (!tok) {
            tok = PyUnicode_Substring(c->folded, s, e);
            start = PyLong_FromSsize_t(s);
            if (!tok || !start)
                goto fail;
            if (!with_digits) {
                digits = c->empty;
                Py_INCREF(digits);
            } else if (n == e - s) {
                digits = tok;
                Py_INCREF(digits);
            } else if (!(digits = PyUnicode_FromStringAndSize(d, n)))
                goto fail;
        }
        PyObject *args[4] = {c->scan, start, tok, digits};
        PyObject *got = PyObject_Vectorcall(PyTuple_GET_ITEM(entry, 1), args, 4, NULL);
        if (!got)
            goto fail;
        int truth = PyObject_IsTrue(got);
        if (truth <= 0) {
            Py_DECREF(got);
            if (truth < 0)
                goto fail;
            continue;
        }
        PyObject *v0 = PySequence_GetItem(got, 0), *v1 = PySequence_GetItem(got, 1),
                 *v2 = PySequence_GetItem(got, 2);
        Py_DECREF(got);
        PyObject *sc = NULL, *cand = NULL;
        if (v0 && v1 && v2) {
            PyObject *sargs[4] = {PyTuple_GET_ITEM(entry, 2), v0, v1, v2};
            sc = PyObject_Vectorcall(c->score, sargs, 4, NULL);
        }
        if (sc)
            cand = PyTuple_Pack(4, v0, v1, PyTuple_GET_ITEM(entry, 3), sc);
        Py_XDECREF(v0);
        Py_XDECREF(v1);
        Py_XDECREF(v2);
        Py_XDECREF(sc);
        if (!cand)
            goto fail;
        int bad = PyList_Append(c->out, cand) < 0;
        Py_DECREF(cand);
        if (bad)
            goto fail;
        hit = 1;
    }
    Py_XDECREF(tok);
    Py_XDECREF(digits);
    Py_XDECREF(start);
    return hit;
fail:
    Py_XDECREF(tok);
    Py_XDECREF(digits);
    Py_XDECREF(start);
    return -1;
}

/* Engine._token on folded[s:e]: 1 found, 0 nothing, -1 error */
static int token(Ctx *c, Py_ssize_t s, Py_ssize_t e) {
    int dot = 0, colon_slash = 0;
    Py_ssize_t n = 0;
    for (Py_ssize_t i = s; i < e; i++) {
        Py_UCS4 ch = at(c, i);
        if (ch == '.')
            dot = 1;
        else if (ch == ':' || ch == '/')
            colon_slash = 1;
        else if (ch >= '0' && ch <= '9')
            c->digits[n++] = (char)ch;
    }
    if (dot)
        return call_recs(c, c->dotted, s, e, NULL, 0, 0);
    int hit = 0;
    if (colon_slash) {
        Py_ssize_t a = s;
        for (Py_ssize_t i = s; i <= e; i++) {
            if (i == e || at(c, i) == ':' || at(c, i) == '/') {
                if (i - a >= 5) {
                    int h = token(c, a, i);
                    if (h < 0)
                        return -1;
                    hit |= h;
                }
                a = i + 1;
            }
        }
        return hit;
    }
    if (n < PyList_GET_SIZE(c->numtab)) {
        PyObject *recs = PyList_GET_ITEM(c->numtab, n);
        if (!PyTuple_Check(recs)) {
            PyErr_SetString(PyExc_TypeError, "numtab must hold tuples");
            return -1;
        }
        hit = call_recs(c, recs, s, e, c->digits, n, 1);
        if (hit < 0)
            return -1;
    }
    if (!hit) {
        /* "-" in tok.strip("-") */
        Py_ssize_t a = s, b = e;
        while (a < b && at(c, a) == '-')
            a++;
        while (b > a && at(c, b - 1) == '-')
            b--;
        int inner = 0;
        for (Py_ssize_t i = a; i < b && !inner; i++)
            inner = at(c, i) == '-';
        if (inner) {
            Py_ssize_t r = s;
            for (Py_ssize_t i = s; i <= e; i++) {
                if (i == e || at(c, i) == '-') {
                    if (i - r >= 5 && !(r == s && i == e)) {
                        int h = token(c, r, i);
                        if (h < 0)
                            return -1;
                        hit |= h;
                    }
                    r = i + 1;
                }
            }
        }
    }
    return hit;
}

/* Engine._cluster on folded[s:e] (ASCII: digits and " +-.:/Xx" only) */
static int cluster(Ctx *c, Py_ssize_t s, Py_ssize_t e, PyObject *datetime) {
    Py_UCS4 c0 = at(c, s), c4 = at(c, s + 4);
    if ((c0 == '1' || c0 == '2') && e - s > 4 && (c4 == '-' || c4 == '/' || c4 == '.')) {
        PyObject *raw = PyUnicode_Substring(c->folded, s, e);
        if (!raw)
            return -1;
        PyObject *m = PyObject_CallOneArg(datetime, raw);
        Py_DECREF(raw);
        if (!m)
            return -1;
        int is_date = m != Py_None;
        Py_DECREF(m);
        if (is_date)
            return 0;
    }
    int spaced = 0;
    for (Py_ssize_t i = s; i < e && !spaced; i++)
        spaced = at(c, i) == ' ';
    if (!spaced)
        return token(c, s, e) < 0 ? -1 : 0;
    /* the groups between spaces, and whether each is plain: lstrip("+"), no "-", rstrip("Xx") digits */
    Py_ssize_t cap = (e - s) / 2 + 2, k = 0;
    Py_ssize_t *ps = PyMem_Malloc(sizeof(Py_ssize_t) * 2 * cap);
    char *plain = PyMem_Malloc(cap);
    int rc = 0;
    if (!ps || !plain) {
        PyErr_NoMemory();
        rc = -1;
        goto done;
    }
    for (Py_ssize_t i = s; i < e;) {
        while (i < e && at(c, i) == ' ')
            i++;
        if (i >= e)
            break;
        Py_ssize_t a = i;
        while (i < e && at(c, i) != ' ')
            i++;
        ps[2 * k] = a;
        ps[2 * k + 1] = i;
        Py_ssize_t p = a;
        while (p < i && at(c, p) == '+')
            p++;
        Py_ssize_t q = i; /* trailing X/x, once the dashes are gone */
        while (q > p && (at(c, q - 1) == 'X' || at(c, q - 1) == 'x' || at(c, q - 1) == '-'))
            q--;
        int ok = 0, bad = 0;
        for (Py_ssize_t j = p; j < q; j++) {
            Py_UCS4 ch = at(c, j);
            if (ch >= '0' && ch <= '9')
                ok = 1;
            else if (ch != '-')
                bad = 1;
        }
        plain[k++] = ok && !bad;
    }
    for (Py_ssize_t i = 0; i < k;) {
        int done = 0;
        if (plain[i]) {
            Py_ssize_t j = i + 1;
            while (j < k && plain[j])
                j++;
            for (Py_ssize_t jj = j; jj > i + 1; jj--) {
                Py_ssize_t s0 = ps[2 * i], e0 = ps[2 * (jj - 1) + 1], nd = 0;
                for (Py_ssize_t x = s0; x < e0; x++)
                    nd += at(c, x) >= '0' && at(c, x) <= '9';
                if (nd > 23)
                    continue;
                int h = token(c, s0, e0);
                if (h < 0) {
                    rc = -1;
                    goto done;
                }
                if (h) {
                    i = jj;
                    done = 1;
                    break;
                }
            }
        }
        if (!done) {
            if (token(c, ps[2 * i], ps[2 * i + 1]) < 0) {
                rc = -1;
                goto done;
            }
            i++;
        }
    }
done:
    PyMem_Free(ps);
    PyMem_Free(plain);
    return rc;
}

static PyObject *run(PyObject *self, PyObject *args) {
    PyObject *scan, *folded, *spans, *at_recs, *colon, *plate, *heads, *numtab, *dotted, *score,
        *run_anchor, *cluster_py, *datetime, *out;
    Py_ssize_t shortest;
    if (!PyArg_ParseTuple(args, "OUO!OOOUnO!O!OOOOO!", &scan, &folded, &PyList_Type, &spans, &at_recs,
                          &colon, &plate, &heads, &shortest, &PyList_Type, &numtab, &PyTuple_Type,
                          &dotted, &score, &run_anchor, &cluster_py, &datetime, &PyList_Type, &out))
        return NULL;
    Ctx c = {scan, folded, numtab, dotted, score, out, NULL, PyUnicode_KIND(folded),
             PyUnicode_DATA(folded), PyUnicode_GET_LENGTH(folded), NULL};
    int has_at = PyObject_IsTrue(at_recs), has_colon = PyObject_IsTrue(colon),
        has_plate = PyObject_IsTrue(plate), has_dotted = PyTuple_GET_SIZE(dotted) > 0;
    if (has_at < 0 || has_colon < 0 || has_plate < 0)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(spans);
    if (n & 1) {
        PyErr_SetString(PyExc_ValueError, "spans must be [start, stop, start, stop, ...]");
        return NULL;
    }
    c.empty = PyUnicode_New(0, 0);
    c.digits = PyMem_Malloc(c.len + 1);
    if (!c.empty || !c.digits) {
        Py_XDECREF(c.empty);
        PyMem_Free(c.digits);
        return PyErr_NoMemory();
    }
    PyObject *result = Py_None;
    for (Py_ssize_t i = 0; i < n; i += 2) {
        Py_ssize_t s = PyLong_AsSsize_t(PyList_GET_ITEM(spans, i));
        Py_ssize_t e = PyLong_AsSsize_t(PyList_GET_ITEM(spans, i + 1));
        if (PyErr_Occurred())
            goto fail;
        if (s < 0 || e < s || e > c.len || s >= c.len) {
            PyErr_SetString(PyExc_ValueError, "a span outside the text");
            goto fail;
        }
        Py_UCS4 ch = at(&c, s);
        PyObject *recs = NULL;
        if (ch == '@') {
            recs = has_at ? at_recs : NULL;
        } else if (ch == ':') {
            recs = (e == s + 1 && has_colon) ? colon : NULL;
        } else if (PyUnicode_FindChar(heads, ch, 0, PyUnicode_GET_LENGTH(heads), 1) >= 0) {
            recs = has_plate ? plate : NULL;
        } else {
            int dotted_cluster = 0;
            if (e - s < shortest) {
                if (e - s < 5 || !has_dotted)
                    continue;
                for (Py_ssize_t x = s; x < e && !dotted_cluster; x++)
                    dotted_cluster = at(&c, x) == '.';
                if (!dotted_cluster)
                    continue;
            }
            int ascii = 1;
            for (Py_ssize_t x = s; x < e && ascii; x++) {
                Py_UCS4 d = at(&c, x);
                ascii = (d >= '0' && d <= '9') || (d && strchr(" +-.:/Xx", (int)d) != NULL);
            }
            if (ascii) {
                if (cluster(&c, s, e, datetime) < 0)
                    goto fail;
                continue;
            }
            PyObject *raw = PyUnicode_Substring(folded, s, e), *start = PyLong_FromSsize_t(s);
            PyObject *got = NULL;
            if (raw && start) {
                PyObject *cargs[3] = {scan, start, raw};
                got = PyObject_Vectorcall(cluster_py, cargs, 3, NULL);
            }
            Py_XDECREF(raw);
            Py_XDECREF(start);
            if (!got)
                goto fail;
            Py_DECREF(got);
            continue;
        }
        if (recs) {
            PyObject *start = PyLong_FromSsize_t(s);
            if (!start)
                goto fail;
            PyObject *aargs[4] = {scan, recs, start, out};
            PyObject *got = PyObject_Vectorcall(run_anchor, aargs, 4, NULL);
            Py_DECREF(start);
            if (!got)
                goto fail;
            Py_DECREF(got);
        }
    }
    Py_INCREF(result);
    goto done;
fail:
    result = NULL;
done:
    Py_DECREF(c.empty);
    PyMem_Free(c.digits);
    return result;
}

/* engine._anchors_py: each trigger hit (start, end, word id) to the keyword recognisers of its word,
 * in order; each candidate (s, e, c) a recogniser yields appended to out as (s, e, category, c) */
/* whether the characters around a hit (start, end, word id) are each one of ``edges`` or past the
 * text's ends: 1 or 0 (-1 on error); a hit outside the text is kept (its recogniser decides) */
static int edges_ok(PyObject *text, PyObject *edges, PyObject *hit) {
    Py_ssize_t start = PyLong_AsSsize_t(PyTuple_GET_ITEM(hit, 0));
    Py_ssize_t end = PyLong_AsSsize_t(PyTuple_GET_ITEM(hit, 1));
    if (PyErr_Occurred())
        return -1;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), m = PyUnicode_GET_LENGTH(edges);
    if (start < 0 || end < 0 || start > n || end > n)
        return 1;
    if (end < n && PyUnicode_FindChar(edges, PyUnicode_READ_CHAR(text, end), 0, m, 1) < 0)
        return 0;
    if (start > 0 && PyUnicode_FindChar(edges, PyUnicode_READ_CHAR(text, start - 1), 0, m, 1) < 0)
        return 0;
    return 1;
}

/* anchors' loop; ``*text`` is scan.text once a column header needed it (the caller releases it) */
static PyObject *anchors_loop(PyObject *hits, PyObject *trig, PyObject *calls, PyObject *words, PyObject *scan,
                              PyObject *out, PyObject **text) {
    for (Py_ssize_t h = 0; h < PyList_GET_SIZE(hits); h++) {
        PyObject *hit = PyList_GET_ITEM(hits, h);
        if (!PyTuple_Check(hit) || PyTuple_GET_SIZE(hit) != 3) {
            PyErr_SetString(PyExc_TypeError, "hits must be (start, end, word id) tuples");
            return NULL;
        }
        Py_ssize_t wid = PyLong_AsSsize_t(PyTuple_GET_ITEM(hit, 2));
        if (wid == -1 && PyErr_Occurred())
            return NULL;
        if (wid < 0 || wid >= PyList_GET_SIZE(trig) || wid >= PyList_GET_SIZE(words)) {
            PyErr_SetString(PyExc_IndexError, "word id out of range");
            return NULL;
        }
        PyObject *keys = PyList_GET_ITEM(trig, wid);
        if (!PyTuple_Check(keys)) {
            PyErr_SetString(PyExc_TypeError, "trig must hold tuples");
            return NULL;
        }
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(keys); k++) {
            Py_ssize_t i = PyLong_AsSsize_t(PyTuple_GET_ITEM(keys, k));
            if (i == -1 && PyErr_Occurred())
                return NULL;
            if (i < 0 || i >= PyList_GET_SIZE(calls)) {
                PyErr_SetString(PyExc_IndexError, "recogniser index out of range");
                return NULL;
            }
            PyObject *call = PyList_GET_ITEM(calls, i);
            if (call == Py_None)
                continue;
            if (!PyTuple_Check(call) || PyTuple_GET_SIZE(call) < 2 || PyTuple_GET_SIZE(call) > 3 ||
                (PyTuple_GET_SIZE(call) == 3 && !PyUnicode_Check(PyTuple_GET_ITEM(call, 2)))) {
                PyErr_SetString(PyExc_TypeError,
                                "calls must hold (on_anchor, category), (on_anchor, category, edges) or None");
                return NULL;
            }
            if (PyTuple_GET_SIZE(call) == 3) {
                /* a column header: called only with one of ``edges`` (or the text's edge) on both
                 * sides of the word, HeaderColumnRecognizer.on_anchor's first check */
                if (*text == NULL) {
                    *text = PyObject_GetAttrString(scan, "text");
                    if (*text == NULL)
                        return NULL;
                    if (!PyUnicode_Check(*text)) {
                        PyErr_SetString(PyExc_TypeError, "scan.text must be a str");
                        return NULL;
                    }
                }
                int keep = edges_ok(*text, PyTuple_GET_ITEM(call, 2), hit);
                if (keep < 0)
                    return NULL;
                if (!keep)
                    continue;
            }
            PyObject *cargs[4] = {scan, PyTuple_GET_ITEM(hit, 1), PyTuple_GET_ITEM(hit, 0),
                                  PyList_GET_ITEM(words, wid)};
            PyObject *got = PyObject_Vectorcall(PyTuple_GET_ITEM(call, 0), cargs, 4, NULL);
            if (!got)
                return NULL;
            PyObject *it = PyObject_GetIter(got);
            Py_DECREF(got);
            if (!it)
                return NULL;
            PyObject *item;
            while ((item = PyIter_Next(it))) {
                PyObject *t = PyTuple_CheckExact(item) ? (Py_INCREF(item), item) : PySequence_Tuple(item);
                Py_DECREF(item);
                if (t && PyTuple_GET_SIZE(t) != 3) {
                    PyErr_Format(PyExc_ValueError, "a candidate must be (start, end, confidence), not %zd values",
                                 PyTuple_GET_SIZE(t));
                    Py_CLEAR(t);
                }
                PyObject *cand = t ? PyTuple_Pack(4, PyTuple_GET_ITEM(t, 0), PyTuple_GET_ITEM(t, 1),
                                                  PyTuple_GET_ITEM(call, 1), PyTuple_GET_ITEM(t, 2))
                                   : NULL;
                Py_XDECREF(t);
                if (!cand || PyList_Append(out, cand) < 0) {
                    Py_XDECREF(cand);
                    Py_DECREF(it);
                    return NULL;
                }
                Py_DECREF(cand);
            }
            Py_DECREF(it);
            if (PyErr_Occurred())
                return NULL;
        }
    }
    Py_RETURN_NONE;
}

static PyObject *anchors(PyObject *self, PyObject *args) {
    PyObject *hits, *trig, *calls, *words, *scan, *out, *text = NULL;
    if (!PyArg_ParseTuple(args, "O!O!O!O!OO!", &PyList_Type, &hits, &PyList_Type, &trig, &PyList_Type,
                          &calls, &PyList_Type, &words, &scan, &PyList_Type, &out))
        return NULL;
    PyObject *result = anchors_loop(hits, trig, calls, words, scan, out, &text);
    Py_XDECREF(text);
    return result;
}

static PyMethodDef methods[] = {
    {"anchors", anchors, METH_VARARGS,
     "anchors(hits, trig, calls, words, scan, out): the keyword recognisers' candidates of the "
     "trigger hits, appended to out (see engine._anchors_py); a call (on_anchor, category, edges) "
     "is made only where the characters on both sides of the word are in edges or past the text"},
    {"run", run, METH_VARARGS,
     "run(scan, folded, spans, at, colon, plate, heads, shortest, numtab, dotted, score, "
     "run_anchor, cluster_py, datetime_fullmatch, out): Engine.raw's loop over the structural "
     "spans, candidates appended to out (see engine._spans_py)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "numscan", NULL, -1, methods};

PyMODINIT_FUNC PyInit_numscan(void) {
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddStringConstant(m, "SOURCE_HASH", PIGUARD_SOURCE_HASH) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
