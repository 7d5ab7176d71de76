/* The discovery engine's dictionary pass (piguard.discovery.engine._Dictionary.scan) as an
 * Aho-Corasick automaton over the text's code points: every occurrence of every word, as
 * ``(start, end, word_id)`` in characters, sorted by end and then by start, with no Python call per
 * match (Hyperscan, the pure-Python path, calls a Python function for each of them; its Python
 * binding is linked statically and exports nothing a C kernel could call instead).
 *
 * ``build(words)`` returns the automaton (a capsule); ``scan(automaton, text)`` the hits. Words are
 * non-empty strings within the Basic Multilingual Plane (build raises ValueError otherwise and the
 * engine keeps Hyperscan); the text may hold any code point, lone surrogates included (each is one
 * character, as in Hyperscan's UTF-16 and UTF-32 passes). Matching is exact (case-sensitive), as
 * the Hyperscan databases are compiled (flags 0).
 *
 * The root's transitions are one table of 65,536 entries (most characters of a text lead nowhere
 * and cost one load); every other node's children are a sorted run of (character, node) pairs,
 * searched by bisection once a 64-bit mask of their characters (modulo 64) has not ruled the
 * character out, which it does for most (on a miss the walk goes down the fail links without a
 * search; mispredicted branches, not loads, are what such a loop pays). At each position the
 * words ending there are the node's own word and those down its chain of dictionary suffix links,
 * longest first: start order. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint32_t ch;
    int32_t node;
} Edge;

typedef struct {
    int32_t n_nodes;
    int32_t n_words;
    int32_t *root;      /* 65,536: the root's child per BMP character, 0 for none */
    int32_t *first;     /* per node: index of its first edge in ``edges`` */
    int32_t *count;     /* per node: how many edges */
    Edge *edges;        /* children, sorted by character within each node */
    int32_t *fail;      /* per node: the longest proper suffix that is a node */
    int32_t *word;      /* per node: the word ending here, -1 for none */
    int32_t *dict;      /* per node: the nearest node down the fail chain with a word, -1 */
    int32_t *first_out; /* per node: itself when a word ends there, else dict */
    uint64_t *mask;     /* per node: bit c % 64 set for each character c it has a child for */
    int32_t *length;    /* per word: its length in characters */
    PyObject **ids;     /* per word: its id as a Python int */
} Automaton;

/* a string's code points, as PyUnicode_READ reads them */
typedef struct {
    int kind;
    const void *data;
    Py_ssize_t n;
} Chars;

static inline Chars chars_of(PyObject *s) {
    Chars c = {PyUnicode_KIND(s), PyUnicode_DATA(s), PyUnicode_GET_LENGTH(s)};
    return c;
}

static const char *CAPSULE = "piguard.dictscan.automaton";

static void automaton_free(Automaton *a) {
    if (a == NULL)
        return;
    if (a->ids != NULL) {
        for (int32_t i = 0; i < a->n_words; i++)
            Py_XDECREF(a->ids[i]);
    }
    free(a->ids);
    free(a->root);
    free(a->first);
    free(a->count);
    free(a->edges);
    free(a->fail);
    free(a->word);
    free(a->dict);
    free(a->first_out);
    free(a->mask);
    free(a->length);
    free(a);
}

static void capsule_free(PyObject *capsule) {
    automaton_free((Automaton *)PyCapsule_GetPointer(capsule, CAPSULE));
}

static inline int32_t child(const Automaton *a, int32_t node, uint32_t ch) {
    if (node == 0)
        return ch < 0x10000 ? a->root[ch] : 0;
    int32_t lo = a->first[node], hi = lo + a->count[node];
    while (lo < hi) {
        int32_t mid = (lo + hi) >> 1;
        uint32_t c = a->edges[mid].ch;
        if (c == ch)
            return a->edges[mid].node;
        if (c < ch)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* build: a trie with edges kept as (parent, character, child) triples while words go in (a child
 * is looked up by bisection in the sorted triples of its parent once they are sorted; during the
 * insertion a linear probe of a hash table keyed by (parent, character) finds it) */
typedef struct {
    int64_t key; /* parent << 32 | character, -1 for an empty slot */
    int32_t node;
} Slot;

static int cmp_edge_key(const void *x, const void *y) {
    const int64_t a = ((const Slot *)x)->key, b = ((const Slot *)y)->key;
    return (a > b) - (a < b);
}

static PyObject *build(PyObject *self, PyObject *arg) {
    if (!PyList_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "build() takes a list of str");
        return NULL;
    }
    Py_ssize_t n_words = PyList_GET_SIZE(arg);
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < n_words; i++) {
        PyObject *w = PyList_GET_ITEM(arg, i);
        if (!PyUnicode_Check(w)) {
            PyErr_SetString(PyExc_TypeError, "build() takes a list of str");
            return NULL;
        }
        Py_ssize_t n = PyUnicode_GET_LENGTH(w);
        if (n == 0 || PyUnicode_MAX_CHAR_VALUE(w) > 0xFFFF) {
            PyErr_SetString(PyExc_ValueError, "every word must be a non-empty string within the BMP");
            return NULL;
        }
        total += n;
    }
    if (total + 1 > INT32_MAX / 2 || n_words > INT32_MAX / 2) {
        PyErr_SetString(PyExc_ValueError, "too many words");
        return NULL;
    }
    Automaton *a = calloc(1, sizeof(Automaton));
    Slot *table = NULL;
    int32_t *queue = NULL;
    size_t cap = 16;
    while (cap < (size_t)total * 2 + 16)
        cap <<= 1;
    if (a == NULL)
        return PyErr_NoMemory();
    int32_t max_nodes = (int32_t)total + 1;
    a->n_words = (int32_t)n_words;
    a->root = calloc(0x10000, sizeof(int32_t));
    a->first = calloc(max_nodes, sizeof(int32_t));
    a->count = calloc(max_nodes, sizeof(int32_t));
    a->fail = calloc(max_nodes, sizeof(int32_t));
    a->word = malloc(sizeof(int32_t) * max_nodes);
    a->dict = malloc(sizeof(int32_t) * max_nodes);
    a->first_out = malloc(sizeof(int32_t) * max_nodes);
    a->mask = calloc(max_nodes, sizeof(uint64_t));
    a->length = calloc(n_words ? n_words : 1, sizeof(int32_t));
    a->ids = calloc(n_words ? n_words : 1, sizeof(PyObject *));
    a->edges = malloc(sizeof(Edge) * (total ? total : 1));
    table = malloc(sizeof(Slot) * cap);
    queue = malloc(sizeof(int32_t) * max_nodes);
    if (!a->root || !a->first || !a->count || !a->fail || !a->word || !a->dict || !a->first_out || !a->mask ||
        !a->length || !a->ids || !a->edges || !table || !queue) {
        PyErr_NoMemory();
        goto fail;
    }
    for (size_t i = 0; i < cap; i++)
        table[i].key = -1;
    for (int32_t i = 0; i < max_nodes; i++)
        a->word[i] = a->dict[i] = -1;
    int32_t nodes = 1;
    for (Py_ssize_t i = 0; i < n_words; i++) {
        Chars w = chars_of(PyList_GET_ITEM(arg, i));
        int32_t node = 0;
        for (Py_ssize_t k = 0; k < w.n; k++) {
            uint32_t ch = PyUnicode_READ(w.kind, w.data, k);
            int64_t key = ((int64_t)node << 32) | ch;
            size_t h = (size_t)(((uint64_t)key * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
            while (table[h].key != -1 && table[h].key != key)
                h = (h + 1) & (cap - 1);
            if (table[h].key == -1) {
                table[h].key = key;
                table[h].node = nodes++;
            }
            node = table[h].node;
        }
        if (a->word[node] < 0) /* a word given twice: its first id, as a sorted word list never has */
            a->word[node] = (int32_t)i;
        a->length[i] = (int32_t)w.n;
        if ((a->ids[i] = PyLong_FromSsize_t(i)) == NULL)
            goto fail;
    }
    a->n_nodes = nodes;
    /* the edges, sorted by (parent, character): each node's children are one sorted run */
    size_t n_edges = 0;
    for (size_t i = 0; i < cap; i++)
        if (table[i].key != -1)
            table[n_edges++] = table[i];
    qsort(table, n_edges, sizeof(Slot), cmp_edge_key);
    for (size_t i = 0; i < n_edges; i++) {
        int32_t parent = (int32_t)(table[i].key >> 32);
        uint32_t ch = (uint32_t)(table[i].key & 0xFFFFFFFF);
        if (a->count[parent]++ == 0)
            a->first[parent] = (int32_t)i;
        a->edges[i].ch = ch;
        a->edges[i].node = table[i].node;
        a->mask[parent] |= (uint64_t)1 << (ch & 63);
        if (parent == 0)
            a->root[ch] = table[i].node;
    }
    /* fail and dictionary links, breadth first */
    int32_t head = 0, tail = 0;
    for (int32_t e = 0; e < a->count[0]; e++) {
        int32_t v = a->edges[a->first[0] + e].node;
        a->fail[v] = 0;
        queue[tail++] = v;
    }
    while (head < tail) {
        int32_t u = queue[head++];
        for (int32_t e = 0; e < a->count[u]; e++) {
            Edge ed = a->edges[a->first[u] + e];
            int32_t f = a->fail[u], to;
            for (;;) {
                to = child(a, f, ed.ch);
                if (to != 0 || f == 0)
                    break;
                f = a->fail[f];
            }
            a->fail[ed.node] = to;
            a->dict[ed.node] = a->word[to] >= 0 ? to : a->dict[to];
            queue[tail++] = ed.node;
        }
    }
    for (int32_t v = 0; v < nodes; v++)
        a->first_out[v] = a->word[v] >= 0 ? v : a->dict[v];
    free(table);
    free(queue);
    PyObject *capsule = PyCapsule_New(a, CAPSULE, capsule_free);
    if (capsule == NULL)
        automaton_free(a);
    return capsule;
fail:
    free(table);
    free(queue);
    automaton_free(a);
    return NULL;
}

/* the next state: down the fail chain to the first node with a child for ``ch`` (a node's mask of
 * its children's characters modulo 64 rules most nodes out without a search), else the root's */
static inline int32_t step(const Automaton *a, int32_t state, uint32_t ch) {
    uint64_t bit = (uint64_t)1 << (ch & 63);
    while (state != 0) {
        if (a->mask[state] & bit) {
            int32_t to = child(a, state, ch);
            if (to != 0)
                return to;
        }
        state = a->fail[state];
    }
    return a->root[ch];
}

/* the words ending at ``end`` in ``state``: its own, then down the dictionary links (start order) */
static int emit(const Automaton *a, int32_t state, Py_ssize_t end, PyObject *out) {
    for (int32_t node = a->first_out[state]; node >= 0; node = a->dict[node]) {
        int32_t w = a->word[node];
        PyObject *s = PyLong_FromSsize_t(end - a->length[w]);
        PyObject *e = PyLong_FromSsize_t(end);
        PyObject *hit = s != NULL && e != NULL ? PyTuple_Pack(3, s, e, a->ids[w]) : NULL;
        Py_XDECREF(s);
        Py_XDECREF(e);
        if (hit == NULL)
            return -1;
        int bad = PyList_Append(out, hit);
        Py_DECREF(hit);
        if (bad)
            return -1;
    }
    return 0;
}

static PyObject *scan(PyObject *self, PyObject *args) {
    PyObject *capsule, *text;
    if (!PyArg_ParseTuple(args, "OU", &capsule, &text))
        return NULL;
    Automaton *a = PyCapsule_GetPointer(capsule, CAPSULE);
    if (a == NULL)
        return NULL;
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    Chars t = chars_of(text);
    int32_t state = 0;
    /* one loop per string kind (no switch a character), with no test a character that could go
     * either way but the one step() makes (an earlier bit test of "is the character in any word"
     * cost more in mispredicted branches than the lookups it saved) */
#define SCAN_AS(T)                                                                                  \
    do {                                                                                           \
        const T *p = (const T *)t.data;                                                            \
        for (Py_ssize_t i = 0; i < t.n; i++) {                                                     \
            uint32_t ch = p[i];                                                                    \
            if (ch > 0xFFFF) { /* in no word */                                                    \
                state = 0;                                                                         \
                continue;                                                                          \
            }                                                                                      \
            state = step(a, state, ch);                                                            \
            if (a->first_out[state] >= 0 && emit(a, state, i + 1, out) < 0) /* root: -1 */         \
                goto fail;                                                                         \
        }                                                                                          \
    } while (0)
    switch (t.kind) {
    case PyUnicode_1BYTE_KIND: SCAN_AS(Py_UCS1); break;
    case PyUnicode_2BYTE_KIND: SCAN_AS(Py_UCS2); break;
    default: SCAN_AS(Py_UCS4); break;
    }
#undef SCAN_AS
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

static PyMethodDef methods[] = {
    {"build", build, METH_O, "build(words) -> automaton: every word, non-empty and within the BMP."},
    {"scan", scan, METH_VARARGS,
     "scan(automaton, text) -> [(start, end, word_id)]: every occurrence, sorted by end then start."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "dictscan", NULL, -1, methods};

PyMODINIT_FUNC PyInit_dictscan(void) {
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddStringConstant(m, "SOURCE_HASH", PIGUARD_SOURCE_HASH) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
