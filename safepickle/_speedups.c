/* The compiled fast path of safepickle's verifier (see safepickle/verify.py).
 *
 * fast_verify() walks a pickle's opcodes exactly like verify._loop() does, but implements the
 * *accepting* path only: when it reaches STOP having met every check the Python pass makes, it
 * returns what verify() needs to build the same Verified; whenever anything is unusual (an
 * error, a limit, a rare or complex opcode, the getattr(Outer, "Inner") shape of nested
 * classes, a range) it returns None ("bails") and the pure-Python pass runs from the start.
 * Bailing is always correct; accepting must be exactly right, so every check below mirrors one
 * in verify.py, and a change to the checks of verify._loop()/_rare() must be made here too (or
 * made to bail). tests/test_speedups.py compares the two on every kind of input.
 *
 * Symbolic values (int64), one per value of verify.py's symbolic stack:
 *   SYM_DATA (-1)     _DATA, any plain value
 *   SYM_SHARED(i)     <= -2: global i's `result`, what calling it without class arguments
 *                     returns (a _Result shared by every such call)
 *   SYM_GLOBAL(i)     4*i: the _Global number i of the globals table
 *   SYM_STR(offset)   4*offset+1: the str constant pushed by the unicode opcode at `offset`
 *   SYM_ARGS(j)       4*j+2: an _Args, a tuple whose first item is a global (args table)
 *   SYM_RESULT(k)     4*k+3: the _Result of a call on an _Args (results table)
 * _RANGE and _RANGE_ARGS never appear: verify() bails when builtins.range is called or passed
 * first in a REDUCE's arguments (copyreg's constructors then make a range), as when
 * builtins.getattr is; only verify() knows the canonical names. A (global, str) pair, the
 * getattr shape, bails here at once.
 *
 * The stack is one array; `marks` holds the stack height at each open MARK, so the values
 * above the innermost mark are stack[fence:sp]. The memo holds symbolic values too. Every
 * array grows geometrically and is bounded by the stream and by the Limits.
 *
 * Nothing here reads at or past data[n]: every argument read is preceded by a check that the
 * bytes exist, and every length prefix is compared as an unsigned 64-bit number with the bytes
 * actually left.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef int64_t sym_t;

#define SYM_DATA ((sym_t)-1)
#define SYM_SHARED(i) ((sym_t)-2 - (sym_t)(i))
#define SYM_GLOBAL(i) ((sym_t)(i) * 4)
#define SYM_STR(offset) ((sym_t)(offset) * 4 + 1)
#define SYM_ARGS(j) ((sym_t)(j) * 4 + 2)
#define SYM_RESULT(k) ((sym_t)(k) * 4 + 3)
#define IS_SHARED(v) ((v) <= -2)
#define IS_GLOBAL(v) ((v) >= 0 && ((v) & 3) == 0)
#define IS_STR(v) ((v) >= 0 && ((v) & 3) == 1)
#define IS_ARGS(v) ((v) >= 0 && ((v) & 3) == 2)
#define IS_RESULT(v) ((v) >= 0 && ((v) & 3) == 3)
#define SYM_INDEX(v) ((Py_ssize_t)((v) >> 2))
#define SHARED_INDEX(v) ((Py_ssize_t)(-2 - (v)))

#define HIGHEST_PROTOCOL 5
#define INITIAL_CAPACITY 64

typedef struct {
    PyObject *module; /* str, owned */
    PyObject *name;   /* str, owned */
    Py_ssize_t offset;
    Py_ssize_t pushes;
    const char *opcode;
    int called;  /* called by REDUCE/NEWOBJ, or the class first in a REDUCE's arguments:
                  * verify() bails if it is builtins.getattr or builtins.range */
    int mutated; /* a value a call of it returned was changed (BUILD, SETITEM(S), ...) */
} global_t;

/* An _Args: a tuple that starts with global `parent`; `second` its second item when that is a
 * global too, else -1. An _Result with class arguments: the call of `owner` on args `args`. */
typedef struct {
    Py_ssize_t first;
    Py_ssize_t second;
} pair_t;

typedef struct {
    global_t *items;
    Py_ssize_t len;
    Py_ssize_t cap;
    PyObject *index;       /* dict: (module, name) -> int, created on the first global */
    Py_ssize_t name_chars; /* total length of the distinct globals' names */
} globals_t;

static uint32_t
read_u32(const unsigned char *s)
{
    return (uint32_t)s[0] | ((uint32_t)s[1] << 8) | ((uint32_t)s[2] << 16) |
           ((uint32_t)s[3] << 24);
}

static uint64_t
read_u64(const unsigned char *s)
{
    return (uint64_t)read_u32(s) | ((uint64_t)read_u32(s + 4) << 32);
}

/* Make room for `need` elements of `elsize` bytes in *array (capacity *cap), never more than
 * `max` elements (need <= max). Returns 0, or -1 when memory cannot be had. */
static int
grow(void **array, Py_ssize_t *cap, Py_ssize_t need, Py_ssize_t max, size_t elsize)
{
    Py_ssize_t new_cap = *cap > 0 ? *cap : INITIAL_CAPACITY;
    void *grown;

    while (new_cap < need) {
        if (new_cap > PY_SSIZE_T_MAX / 2) {
            new_cap = need;
            break;
        }
        new_cap *= 2;
    }
    if (new_cap > max) {
        new_cap = max;
    }
    if (new_cap < need || (size_t)new_cap > (size_t)PY_SSIZE_T_MAX / elsize) {
        return -1;
    }
    grown = PyMem_Realloc(*array, (size_t)new_cap * elsize);
    if (grown == NULL) {
        return -1;
    }
    *array = grown;
    *cap = new_cap;
    return 0;
}

static void
globals_clear(globals_t *g)
{
    Py_ssize_t i;

    for (i = 0; i < g->len; i++) {
        Py_DECREF(g->items[i].module);
        Py_DECREF(g->items[i].name);
    }
    PyMem_Free(g->items);
    Py_XDECREF(g->index);
    g->items = NULL;
    g->len = g->cap = 0;
    g->index = NULL;
}

/* verify._State.make_global: the number of global (module, name), added on its first
 * appearance, with one more push counted. Steals both (new, non-NULL) references. Returns -1
 * on failure. */
static Py_ssize_t
make_global(globals_t *g, PyObject *module, PyObject *name, Py_ssize_t offset,
            const char *opcode, Py_ssize_t max_globals, Py_ssize_t max_name,
            Py_ssize_t name_budget)
{
    PyObject *key, *found, *number;
    Py_ssize_t i;

    key = PyTuple_Pack(2, module, name);
    if (key == NULL) {
        goto fail;
    }
    if (g->index == NULL && (g->index = PyDict_New()) == NULL) {
        goto fail_key;
    }
    found = PyDict_GetItemWithError(g->index, key); /* borrowed */
    if (found != NULL) {
        i = PyLong_AsSsize_t(found);
        Py_DECREF(key);
        Py_DECREF(module);
        Py_DECREF(name);
        if (i < 0 || i >= g->len) {
            return -1;
        }
        g->items[i].pushes += 1;
        return i;
    }
    if (PyErr_Occurred()) {
        goto fail_key;
    }
    /* a new global (verify._State._check_new_global): max_globals, the budget of all names,
     * then the length of its own (in characters, as in Python) */
    if (g->len >= max_globals || PyUnicode_GET_LENGTH(module) > max_name ||
        PyUnicode_GET_LENGTH(name) > max_name) {
        goto fail_key;
    }
    g->name_chars += PyUnicode_GET_LENGTH(module) + PyUnicode_GET_LENGTH(name);
    if (g->name_chars > name_budget) {
        goto fail_key;
    }
    if (g->len >= g->cap &&
        grow((void **)&g->items, &g->cap, g->len + 1, PY_SSIZE_T_MAX, sizeof(global_t)) < 0) {
        goto fail_key;
    }
    number = PyLong_FromSsize_t(g->len);
    if (number == NULL) {
        goto fail_key;
    }
    if (PyDict_SetItem(g->index, key, number) < 0) {
        Py_DECREF(number);
        goto fail_key;
    }
    Py_DECREF(number);
    Py_DECREF(key);
    i = g->len++;
    g->items[i].module = module; /* the references are stolen here */
    g->items[i].name = name;
    g->items[i].offset = offset;
    g->items[i].pushes = 1;
    g->items[i].opcode = opcode;
    g->items[i].called = 0;
    g->items[i].mutated = 0;
    return i;

fail_key:
    Py_DECREF(key);
fail:
    Py_DECREF(module);
    Py_DECREF(name);
    return -1;
}

/* verify._decode_str: the str constant pushed by the unicode opcode at `offset`, whose length
 * was checked against the input when it was pushed; NULL without an exception set when it is
 * longer than `max_name` bytes. */
static PyObject *
decode_str_at(const unsigned char *buf, Py_ssize_t offset, Py_ssize_t max_name)
{
    const unsigned char *s = buf + offset;
    Py_ssize_t size;

    if (s[0] == 0x8c) { /* SHORT_BINUNICODE */
        size = s[1];
        s += 2;
    }
    else if (s[0] == 'X') { /* BINUNICODE */
        size = (Py_ssize_t)read_u32(s + 1);
        s += 5;
    }
    else { /* BINUNICODE8 */
        size = (Py_ssize_t)read_u64(s + 1);
        s += 9;
    }
    if (size > max_name) {
        return NULL;
    }
    return PyUnicode_DecodeUTF8((const char *)s, size, "surrogatepass");
}

typedef struct {
    Py_ssize_t max_opcodes;
    Py_ssize_t max_depth;   /* max_stack_depth */
    Py_ssize_t max_nesting; /* MARKs open at once */
    Py_ssize_t max_memo;    /* max_memo_entries */
    Py_ssize_t max_items;   /* max_container_items */
    Py_ssize_t max_globals;
    Py_ssize_t max_name;    /* verify.MAX_NAME_BYTES */
    Py_ssize_t name_budget; /* Limits.max_global_name_bytes */
    int persistent_ok;      /* a plugin resolves persistent ids: BINPERSID is accepted */
} limits_t;

typedef struct {
    Py_ssize_t end;
    Py_ssize_t opcodes;
    Py_ssize_t buffers;
    Py_ssize_t persistent; /* persistent ids (BINPERSID) seen */
    int protocol;
    int framed;
} outcome_t;

/* walk() found the input ending before the stream did, every opcode so far on the accepting
 * path: the Python pass would say "truncated" too, so a reader with more to read needs no
 * Python pass to learn that. */
#define RAN_OUT 2

/* The walk. Returns 1 when the stream is accepted (`out` and `g` filled in), RAN_OUT when the
 * input ended first, 0 to bail. */
static int
walk(const unsigned char *buf, Py_ssize_t start, Py_ssize_t n, const limits_t *limits,
     globals_t *g, outcome_t *out)
{
    /* start is checked before any pointer is formed from it (the walk's first lines) */
    const unsigned char *p = buf, *first = buf;
    const unsigned char *const end = buf + n;
    const Py_ssize_t max_opcodes = limits->max_opcodes, max_depth = limits->max_depth;
    const Py_ssize_t max_memo = limits->max_memo, max_items = limits->max_items;
    sym_t *stack = NULL, *memo = NULL;
    Py_ssize_t *marks = NULL;
    pair_t *args = NULL, *results = NULL;
    Py_ssize_t sp = 0, stack_cap = 0, sp_limit = 0;
    Py_ssize_t nmarks = 0, marks_cap = 0, fence = 0;
    Py_ssize_t memo_len = 0, memo_cap = 0;
    Py_ssize_t nargs = 0, args_cap = 0, nresults = 0, results_cap = 0;
    Py_ssize_t ops = 0, buffers = 0, persistent = 0;
    int protocol = 0, framed = 0, accepted = 0;
    Py_ssize_t frame_end = 0; /* verify: a frame may run past STOP; Python handles that */
    unsigned char op;
    uint64_t size;
    sym_t value;
    Py_ssize_t count, index;

/* The opcode has `k` bytes of argument, and they are in the input. */
#define NEED(k)                      \
    do {                             \
        if (end - p <= (k)) {        \
            accepted = RAN_OUT;      \
            goto bail;               \
        }                            \
    } while (0)
/* Payload of `sz` bytes after a `head`-byte opcode and prefix (already in the input). */
#define NEED_PAYLOAD(head, sz)                              \
    do {                                                    \
        if ((sz) > (uint64_t)(end - p - (head))) {          \
            accepted = RAN_OUT;                             \
            goto bail;                                      \
        }                                                   \
    } while (0)
/* Values above the innermost MARK. */
#define SEGMENT (sp - fence)
/* Room for one more value (stack depth: values plus marks, as Limits.max_stack_depth). */
#define ROOM()                                                                      \
    do {                                                                            \
        if (sp >= sp_limit) {                                                       \
            if (sp + nmarks >= max_depth) {                                         \
                goto bail;                                                          \
            }                                                                       \
            if (sp >= stack_cap && grow((void **)&stack, &stack_cap, sp + 1,        \
                                        max_depth, sizeof(sym_t)) < 0) {            \
                goto bail;                                                          \
            }                                                                       \
            SET_LIMIT();                                                            \
        }                                                                           \
    } while (0)
#define SET_LIMIT()                                                                 \
    do {                                                                            \
        sp_limit = max_depth - nmarks < stack_cap ? max_depth - nmarks : stack_cap; \
    } while (0)
#define PUSH(v)              \
    do {                     \
        ROOM();              \
        stack[sp++] = (v);   \
    } while (0)
/* A run of the fixed-size push `op`, `step` bytes each: every one but the first still counts
 * as an opcode, needs its bytes and the next opcode's, and room on the stack. */
#define RUN(step)                                                                  \
    do {                                                                           \
        NEED((step) - 1);                                                          \
        PUSH(SYM_DATA);                                                            \
        p += (step);                                                               \
        while (end - p > (step) && *p == op && sp < sp_limit && ops < max_opcodes) { \
            stack[sp++] = SYM_DATA;                                                \
            ops++;                                                                 \
            p += (step);                                                           \
        }                                                                          \
    } while (0)
/* Close the innermost MARK, dropping the values above it (verify._pop_segment). */
#define POP_MARK()                                       \
    do {                                                 \
        if (nmarks == 0 || SEGMENT > max_items) {        \
            goto bail;                                   \
        }                                                \
        sp = fence;                                      \
        nmarks--;                                        \
        fence = nmarks > 0 ? marks[nmarks - 1] : 0;      \
        SET_LIMIT();                                     \
    } while (0)
/* verify._count_push: a memo GET or DUP pushes a global, or the global an _Args starts with */
#define COUNT_PUSH(v)                                            \
    do {                                                         \
        if (IS_GLOBAL(v)) {                                      \
            g->items[SYM_INDEX(v)].pushes += 1;                  \
        }                                                        \
        else if (IS_ARGS(v)) {                                   \
            g->items[args[SYM_INDEX(v)].first].pushes += 1;      \
        }                                                        \
    } while (0)
/* BUILD, SETITEM(S), APPEND(S) and ADDITEMS change `target`: never a global; a call's result
 * marks its callee and the classes of its arguments mutated (verify._mark_mutated). */
#define CHANGE(target)                                                   \
    do {                                                                 \
        sym_t target_ = (target);                                        \
        if (IS_GLOBAL(target_)) {                                        \
            goto bail;                                                   \
        }                                                                \
        if (IS_SHARED(target_)) {                                        \
            g->items[SHARED_INDEX(target_)].mutated = 1;                 \
        }                                                                \
        else if (IS_RESULT(target_)) {                                   \
            const pair_t call_ = results[SYM_INDEX(target_)];            \
            const pair_t args_ = args[call_.second];                     \
            g->items[call_.first].mutated = 1;                           \
            g->items[args_.first].mutated = 1;                           \
            if (args_.second >= 0) {                                     \
                g->items[args_.second].mutated = 1;                      \
            }                                                            \
        }                                                                \
    } while (0)
/* The symbolic tuple of the `cnt` values at stack[base:] (verify._class_args): an _Args when
 * the first is a global, else plain data. A (global, str) pair, the getattr shape, bails. */
#define MAKE_TUPLE(base, cnt)                                                        \
    do {                                                                             \
        value = (cnt) > 0 ? stack[(base)] : SYM_DATA;                                \
        if (IS_GLOBAL(value)) {                                                      \
            if ((cnt) == 2 && IS_STR(stack[(base) + 1])) {                           \
                goto bail;                                                           \
            }                                                                        \
            if (nargs >= args_cap && grow((void **)&args, &args_cap, nargs + 1,      \
                                          max_opcodes, sizeof(pair_t)) < 0) {        \
                goto bail;                                                           \
            }                                                                        \
            args[nargs].first = SYM_INDEX(value);                                    \
            args[nargs].second = (cnt) > 1 && IS_GLOBAL(stack[(base) + 1])           \
                                     ? SYM_INDEX(stack[(base) + 1])                  \
                                     : -1;                                           \
            value = SYM_ARGS(nargs);                                                 \
            nargs++;                                                                 \
        }                                                                            \
        else {                                                                       \
            value = SYM_DATA;                                                        \
        }                                                                            \
    } while (0)
#define PUT(idx)                                                                       \
    do {                                                                               \
        if (SEGMENT <= 0) {                                                            \
            goto bail;                                                                 \
        }                                                                              \
        if ((uint64_t)(idx) == (uint64_t)memo_len) {                                   \
            if (memo_len >= memo_cap &&                                                \
                (memo_len >= max_memo ||                                               \
                 grow((void **)&memo, &memo_cap, memo_len + 1, max_memo,               \
                      sizeof(sym_t)) < 0)) {                                           \
                goto bail;                                                             \
            }                                                                          \
            memo[memo_len++] = stack[sp - 1];                                          \
        }                                                                              \
        else if ((uint64_t)(idx) < (uint64_t)memo_len) {                               \
            memo[(idx)] = stack[sp - 1];                                               \
        }                                                                              \
        else {                                                                         \
            goto bail;                                                                 \
        }                                                                              \
    } while (0)
#define GET(idx)                                         \
    do {                                                 \
        if ((uint64_t)(idx) >= (uint64_t)memo_len) {     \
            goto bail;                                   \
        }                                                \
        value = memo[(idx)];                             \
        COUNT_PUSH(value);                               \
        PUSH(value);                                     \
    } while (0)

    if (start < 0 || start >= n) {
        goto bail;
    }
    p = first = buf + start;
    for (;;) {
        if (p >= end) {
            accepted = RAN_OUT;
            goto bail;
        }
        if (ops >= max_opcodes) {
            goto bail;
        }
        ops++;
        op = *p;
        switch (op) {
        /* fixed-size pushes; a run of one (a list of ints) is taken in one go */
        case 'K': /* BININT1 */
            RUN(2);
            break;
        case 'M': /* BININT2 */
            RUN(3);
            break;
        case 'J': /* BININT */
            RUN(5);
            break;
        case 'G': /* BINFLOAT */
            RUN(9);
            break;
        case 'N':  /* NONE */
        case 0x88: /* NEWTRUE */
        case 0x89: /* NEWFALSE */
        case ']':  /* EMPTY_LIST */
        case '}':  /* EMPTY_DICT */
        case ')':  /* EMPTY_TUPLE */
        case 0x8f: /* EMPTY_SET */
            PUSH(SYM_DATA);
            p += 1;
            break;

        /* str constants: STACK_GLOBAL and the getattr shape may need them */
        case 0x8c: /* SHORT_BINUNICODE */
            NEED(1);
            size = p[1];
            NEED_PAYLOAD(2, size);
            PUSH(SYM_STR(p - buf));
            p += 2 + size;
            break;
        case 'X': /* BINUNICODE */
            NEED(4);
            size = read_u32(p + 1);
            NEED_PAYLOAD(5, size);
            PUSH(SYM_STR(p - buf));
            p += 5 + size;
            break;
        case 0x8d: /* BINUNICODE8 */
            NEED(8);
            size = read_u64(p + 1);
            NEED_PAYLOAD(9, size);
            PUSH(SYM_STR(p - buf));
            p += 9 + size;
            break;

        /* other length-prefixed data */
        case 'C':  /* SHORT_BINBYTES */
        case 0x8a: /* LONG1 */
            NEED(1);
            size = p[1];
            NEED_PAYLOAD(2, size);
            PUSH(SYM_DATA);
            p += 2 + size;
            break;
        case 'B':  /* BINBYTES */
        case 0x8b: /* LONG4: a signed length */
            NEED(4);
            size = read_u32(p + 1);
            if (op == 0x8b && size >= ((uint64_t)1 << 31)) {
                goto bail;
            }
            NEED_PAYLOAD(5, size);
            PUSH(SYM_DATA);
            p += 5 + size;
            break;
        case 0x8e: /* BINBYTES8 */
        case 0x96: /* BYTEARRAY8 */
            NEED(8);
            size = read_u64(p + 1);
            NEED_PAYLOAD(9, size);
            PUSH(SYM_DATA);
            p += 9 + size;
            break;

        /* the memo */
        case 0x94: /* MEMOIZE */
            PUT(memo_len);
            p += 1;
            break;
        case 'q': /* BINPUT */
            NEED(1);
            PUT(p[1]);
            p += 2;
            break;
        case 'r': /* LONG_BINPUT */
            NEED(4);
            PUT(read_u32(p + 1));
            p += 5;
            break;
        case 'h': /* BINGET */
            NEED(1);
            GET(p[1]);
            p += 2;
            break;
        case 'j': /* LONG_BINGET */
            NEED(4);
            GET(read_u32(p + 1));
            p += 5;
            break;

        /* marks and containers */
        case '(': /* MARK */
            if (sp + nmarks >= max_depth || nmarks >= limits->max_nesting) {
                goto bail;
            }
            if (nmarks >= marks_cap &&
                grow((void **)&marks, &marks_cap, nmarks + 1, max_depth, sizeof(Py_ssize_t)) <
                    0) {
                goto bail;
            }
            marks[nmarks++] = sp;
            fence = sp;
            SET_LIMIT();
            p += 1;
            break;
        case 'e':  /* APPENDS */
        case 'u':  /* SETITEMS */
        case 0x90: /* ADDITEMS */
            if (op == 'u' && (SEGMENT & 1)) {
                goto bail;
            }
            POP_MARK();
            if (SEGMENT <= 0) {
                goto bail;
            }
            CHANGE(stack[sp - 1]);
            p += 1;
            break;
        case 'a': /* APPEND */
            if (SEGMENT < 2) {
                goto bail;
            }
            CHANGE(stack[sp - 2]);
            sp -= 1;
            p += 1;
            break;
        case 's': /* SETITEM */
            if (SEGMENT < 3) {
                goto bail;
            }
            CHANGE(stack[sp - 3]);
            sp -= 2;
            p += 1;
            break;
        case 0x85: /* TUPLE1 */
        case 0x86: /* TUPLE2 */
        case 0x87: /* TUPLE3 */
            count = op - 0x84;
            if (SEGMENT < count) {
                goto bail;
            }
            MAKE_TUPLE(sp - count, count);
            sp -= count;
            PUSH(value);
            p += 1;
            break;
        case 't':  /* TUPLE */
        case 'l':  /* LIST */
        case 'd':  /* DICT */
        case 0x91: /* FROZENSET */
            if (nmarks == 0 || (op == 'd' && (SEGMENT & 1))) {
                goto bail;
            }
            if (op == 't') {
                MAKE_TUPLE(fence, SEGMENT);
            }
            else {
                value = SYM_DATA;
            }
            POP_MARK();
            PUSH(value);
            p += 1;
            break;
        case '0': /* POP: pops the MARK itself when one sits on top */
            if (SEGMENT == 0 && nmarks > 0) {
                nmarks--;
                fence = nmarks > 0 ? marks[nmarks - 1] : 0;
                SET_LIMIT();
            }
            else if (SEGMENT > 0) {
                sp -= 1;
            }
            else {
                goto bail;
            }
            p += 1;
            break;
        case '1': /* POP_MARK */
            POP_MARK();
            p += 1;
            break;
        case '2': /* DUP */
            if (SEGMENT <= 0) {
                goto bail;
            }
            value = stack[sp - 1];
            COUNT_PUSH(value);
            PUSH(value);
            p += 1;
            break;

        /* calls and state */
        case 'R':  /* REDUCE */
        case 0x81: /* NEWOBJ */
            if (SEGMENT < 2 || !IS_GLOBAL(stack[sp - 2])) {
                goto bail;
            }
            index = SYM_INDEX(stack[sp - 2]);
            g->items[index].called = 1;
            value = stack[sp - 1];
            if (op == 'R' && IS_ARGS(value)) { /* a fresh _Result(func, args) */
                /* copyreg's constructors given builtins.range return a range */
                g->items[args[SYM_INDEX(value)].first].called = 1;
                if (nresults >= results_cap &&
                    grow((void **)&results, &results_cap, nresults + 1, max_opcodes,
                         sizeof(pair_t)) < 0) {
                    goto bail;
                }
                results[nresults].first = index;
                results[nresults].second = SYM_INDEX(value);
                value = SYM_RESULT(nresults);
                nresults++;
            }
            else { /* func.result */
                value = SYM_SHARED(index);
            }
            sp -= 1;
            stack[sp - 1] = value;
            p += 1;
            break;
        case 'b': /* BUILD */
            if (SEGMENT < 2) {
                goto bail;
            }
            CHANGE(stack[sp - 2]);
            sp -= 1;
            p += 1;
            break;

        /* globals */
        case 'c': { /* GLOBAL module\nname\n */
            const unsigned char *module, *name, *nl;
            PyObject *module_str, *name_str;
            Py_ssize_t found;

            module = p + 1;
            nl = module < end ? memchr(module, '\n', (size_t)(end - module)) : NULL;
            if (nl == NULL) {
                goto bail;
            }
            name = nl + 1;
            nl = name < end ? memchr(name, '\n', (size_t)(end - name)) : NULL;
            if (nl == NULL) {
                goto bail;
            }
            ROOM();
            module_str = PyUnicode_DecodeUTF8((const char *)module, name - 1 - module, NULL);
            if (module_str == NULL) {
                goto bail;
            }
            name_str = PyUnicode_DecodeUTF8((const char *)name, nl - name, NULL);
            if (name_str == NULL) {
                Py_DECREF(module_str);
                goto bail;
            }
            found = make_global(g, module_str, name_str, p - buf, "GLOBAL",
                                limits->max_globals, limits->max_name, limits->name_budget);
            if (found < 0) {
                goto bail;
            }
            stack[sp++] = SYM_GLOBAL(found);
            p = nl + 1;
            break;
        }
        case 0x93: { /* STACK_GLOBAL */
            PyObject *module_str, *name_str;
            Py_ssize_t found;

            if (SEGMENT < 2 || !IS_STR(stack[sp - 2]) || !IS_STR(stack[sp - 1])) {
                goto bail;
            }
            module_str = decode_str_at(buf, SYM_INDEX(stack[sp - 2]), limits->max_name);
            if (module_str == NULL) {
                goto bail;
            }
            name_str = decode_str_at(buf, SYM_INDEX(stack[sp - 1]), limits->max_name);
            if (name_str == NULL) {
                Py_DECREF(module_str);
                goto bail;
            }
            found = make_global(g, module_str, name_str, p - buf, "STACK_GLOBAL",
                                limits->max_globals, limits->max_name, limits->name_budget);
            if (found < 0) {
                goto bail;
            }
            sp -= 1;
            stack[sp - 1] = SYM_GLOBAL(found);
            p += 1;
            break;
        }

        /* framing, protocol, buffers, the end */
        case 0x80: /* PROTO */
            if (p != first) { /* checked before its argument is read, as in Python */
                goto bail;
            }
            NEED(1);
            if (p[1] > HIGHEST_PROTOCOL) {
                goto bail;
            }
            protocol = p[1];
            p += 2;
            break;
        case 0x95: /* FRAME */
            NEED(8);
            size = read_u64(p + 1);
            NEED_PAYLOAD(9, size);
            framed = 1;
            frame_end = (Py_ssize_t)((p - buf) + 9 + (Py_ssize_t)size);
            p += 9;
            break;
        case 0x97: /* NEXT_BUFFER */
            PUSH(SYM_DATA);
            buffers++;
            p += 1;
            break;
        case 0x98: /* READONLY_BUFFER */
            if (SEGMENT <= 0) {
                goto bail;
            }
            p += 1;
            break;
        case 0x51: /* BINPERSID: the id on top becomes what the plugin returns, plain data */
            if (!limits->persistent_ok || SEGMENT <= 0) {
                goto bail;
            }
            stack[sp - 1] = SYM_DATA;
            persistent++;
            p += 1;
            break;
        case '.': /* STOP */
            if (SEGMENT <= 0 || frame_end > (p - buf) + 1) {
                goto bail;
            }
            out->end = (p - buf) + 1;
            out->opcodes = ops;
            out->buffers = buffers;
            out->persistent = persistent;
            out->protocol = protocol;
            out->framed = framed;
            accepted = 1;
            goto bail;

        default: /* protocol 0 text, Python 2 str, EXT, persistent ids, OBJ, INST, ... */
            goto bail;
        }
    }

bail:
    if (PyErr_Occurred()) { /* a name that does not decode, or no memory: Python decides */
        PyErr_Clear();
    }
    PyMem_Free(stack);
    PyMem_Free(marks);
    PyMem_Free(memo);
    PyMem_Free(args);
    PyMem_Free(results);
    return accepted;

#undef NEED
#undef NEED_PAYLOAD
#undef SEGMENT
#undef ROOM
#undef SET_LIMIT
#undef PUSH
#undef RUN
#undef POP_MARK
#undef COUNT_PUSH
#undef CHANGE
#undef MAKE_TUPLE
#undef PUT
#undef GET
}

static PyObject *
build_result(const outcome_t *out, const globals_t *g)
{
    PyObject *uses, *use, *result;
    Py_ssize_t i;

    uses = PyTuple_New(g->len);
    if (uses == NULL) {
        return NULL;
    }
    for (i = 0; i < g->len; i++) {
        const global_t *item = &g->items[i];

        use = Py_BuildValue("(OOnsnOO)", item->module, item->name, item->offset, item->opcode,
                            item->pushes, item->called ? Py_True : Py_False,
                            item->mutated ? Py_True : Py_False);
        if (use == NULL) {
            Py_DECREF(uses);
            return NULL;
        }
        PyTuple_SET_ITEM(uses, i, use);
    }
    result = Py_BuildValue("(niOnnOn)", out->end, out->protocol,
                           out->framed ? Py_True : Py_False, out->opcodes, out->buffers, uses,
                           out->persistent);
    Py_DECREF(uses);
    return result;
}

#define NUMBERS 10 /* start, n and the eight limits */

PyDoc_STRVAR(fast_verify_doc,
"fast_verify(data, start, n, max_opcodes, max_stack_depth, max_nesting, max_memo_entries,\n"
"            max_container_items, max_globals, max_name_bytes, max_name_budget,\n"
"            persistent_ok, /)\n"
"--\n"
"\n"
"Walk the pickle at data[start:n] on the accepting path of safepickle.verify.\n"
"\n"
"Returns None when the stream needs the Python verifier (errors, limits, rare opcodes);\n"
"end is -1 when the input ended before the stream did, every opcode so far accepted.\n"
"else (end, protocol, framed, opcodes, out_of_band_buffers, globals, persistent_ids),\n"
"globals being (module, name, offset, opcode, pushes, called, mutated) in order of first\n"
"appearance. BINPERSID is accepted only when persistent_ok is true.");

static PyObject *
fast_verify(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t numbers[NUMBERS];
    limits_t limits;
    Py_buffer view;
    globals_t g = {NULL, 0, 0, NULL, 0};
    outcome_t out = {0, 0, 0, 0, 0, 0};
    PyObject *data, *result;
    Py_ssize_t n, i;
    int accepted;

    if (nargs != NUMBERS + 2) {
        PyErr_Format(PyExc_TypeError, "fast_verify() takes %d arguments (%zd given)",
                     NUMBERS + 2, nargs);
        return NULL;
    }
    for (i = 0; i < NUMBERS; i++) { /* ints past Py_ssize_t saturate: no buffer reaches them */
        long long number;
        int overflow;

        if (!PyLong_Check(args[i + 1])) {
            PyErr_Format(PyExc_TypeError, "fast_verify() argument %zd must be int", i + 2);
            return NULL;
        }
        number = PyLong_AsLongLongAndOverflow(args[i + 1], &overflow);
        if (number == -1 && PyErr_Occurred()) {
            return NULL;
        }
        if (overflow > 0 || number > (long long)PY_SSIZE_T_MAX) {
            numbers[i] = PY_SSIZE_T_MAX;
        }
        else if (overflow < 0 || number < -(long long)PY_SSIZE_T_MAX) {
            numbers[i] = -PY_SSIZE_T_MAX;
        }
        else {
            numbers[i] = (Py_ssize_t)number;
        }
    }
    data = args[0];
    if (!PyBytes_CheckExact(data) && !PyByteArray_CheckExact(data)) {
        Py_RETURN_NONE;
    }
    if (numbers[0] < 0 || numbers[1] <= numbers[0]) { /* no byte to read: Python reports */
        Py_RETURN_NONE;
    }
    for (i = 2; i < NUMBERS; i++) {
        if (numbers[i] < 1) { /* Limits are positive; anything else is Python's business */
            Py_RETURN_NONE;
        }
    }
    limits.max_opcodes = numbers[2];
    limits.max_depth = numbers[3];
    limits.max_nesting = numbers[4];
    limits.max_memo = numbers[5];
    limits.max_items = numbers[6];
    limits.max_globals = numbers[7];
    limits.max_name = numbers[8];
    limits.name_budget = numbers[9];
    limits.persistent_ok = PyObject_IsTrue(args[NUMBERS + 1]);
    if (limits.persistent_ok < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    n = numbers[1] < view.len ? numbers[1] : view.len;
    accepted = walk((const unsigned char *)view.buf, numbers[0], n, &limits, &g, &out);
    PyBuffer_Release(&view);
    if (accepted == RAN_OUT) { /* end -1: the globals so far, for the checks Python makes */
        out.end = -1;
        accepted = 1;
    }
    if (accepted != 1) {
        globals_clear(&g);
        Py_RETURN_NONE;
    }
    result = build_result(&out, &g);
    globals_clear(&g);
    return result;
}

static PyMethodDef speedups_methods[] = {
    {"fast_verify", (PyCFunction)(void (*)(void))fast_verify, METH_FASTCALL, fast_verify_doc},
    {NULL, NULL, 0, NULL},
};

/* The module keeps no state and every call only its own: safe in any interpreter, and without
 * the GIL on free-threaded builds. */
static PyModuleDef_Slot speedups_slots[] = {
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#ifdef Py_mod_gil
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    "safepickle._speedups",
    "The compiled fast path of safepickle's verifier (the accepting path only).",
    0,
    speedups_methods,
    speedups_slots,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&speedups_module);
}
