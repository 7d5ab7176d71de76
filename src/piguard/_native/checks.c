/* Check digits of the discovery validators (piguard.discovery.validators): Luhn (ISO/IEC 7812) for
 * card numbers and the GB 11643 / ISO 7064 MOD 11-2 check character of resident IDs. Same results
 * as the Python originals, which stay the fallback; tests/core/test_native.py compares both. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *luhn_ok(PyObject *self, PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "luhn_ok() takes a str");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg);
    /* str.isdigit() is false for "", and only ASCII digits count (the original asks isascii too) */
    if (n == 0 || PyUnicode_KIND(arg) != PyUnicode_1BYTE_KIND || !PyUnicode_IS_ASCII(arg))
        Py_RETURN_FALSE;
    const Py_UCS1 *s = PyUnicode_1BYTE_DATA(arg);
    int total = 0, doubled = 0;
    for (Py_ssize_t i = n - 1; i >= 0; i--) {
        int d = s[i] - '0';
        if (d < 0 || d > 9)
            Py_RETURN_FALSE;
        if (doubled) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        total += d;
        doubled = !doubled;
    }
    return PyBool_FromLong(total % 10 == 0);
}

static const int ID_WEIGHTS[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
static const char ID_CHECK[] = "10X98765432";

static PyObject *id_check_digit(PyObject *self, PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "id_check_digit() takes a str");
        return NULL;
    }
    /* as the original: the weights pair with the first 17 characters, any decimal digit counts
     * (int() reads full-width digits too) and anything else is a ValueError */
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg);
    if (n > 17)
        n = 17;
    int kind = PyUnicode_KIND(arg);
    const void *data = PyUnicode_DATA(arg);
    int total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int d = Py_UNICODE_TODECIMAL(PyUnicode_READ(kind, data, i));
        if (d < 0) {
            PyErr_SetString(PyExc_ValueError, "id_check_digit() takes the digits before the check character");
            return NULL;
        }
        total += d * ID_WEIGHTS[i];
    }
    return PyUnicode_FromStringAndSize(&ID_CHECK[total % 11], 1);
}

static PyMethodDef methods[] = {
    {"luhn_ok", luhn_ok, METH_O, "True when the ASCII digits pass the Luhn check."},
    {"id_check_digit", id_check_digit, METH_O, "The MOD 11-2 check character of 17 ID digits."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "checks", NULL, -1, methods};

PyMODINIT_FUNC PyInit_checks(void) {
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddStringConstant(m, "SOURCE_HASH", PIGUARD_SOURCE_HASH) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
