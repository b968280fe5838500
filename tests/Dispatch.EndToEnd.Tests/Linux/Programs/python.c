/* CPython 3.11 as an unmodified static program: Debian's libpython3.11.a behind the interpreter's own main. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

int main(int argc, char **argv) { return Py_BytesMain(argc, argv); }
