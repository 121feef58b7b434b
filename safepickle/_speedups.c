/* The compiled fast path of safepickle's verifier (see safepickle/verify.py).
 *
 * fast_verify() walks a pickle's opcodes exactly like verify._loop() does. When it reaches STOP
 * having met every check the Python pass makes, it returns what verify() needs to build the
 * same Verified. At the first error it returns where and which (REFUSED, R_*), and verify()
 * makes the very exception the Python pass raises there: a long stream that goes wrong at its
 * end is never handed to the Python pass (about a microsecond a byte) to say why. What only
 * the Python pass handles (protocol 0-1 text opcodes, Python 2 strings in other encodings,
 * ranges and getattr, big LONG4 ints, memo indexes far past the memo) makes it return None ("bail") and the Python pass run from the start,
 * within Limits.max_slow_path_bytes of the stream; past that it refuses itself, as the Python
 * pass does (SLOW). Accepting and refusing must be exactly right, so every check below
 * mirrors one in verify.py, in the same order, and every count one of safepickle/_nodes.py's
 * Tally; a change to verify._loop()/_rare() or to _nodes.py must be made here too (or made to
 * bail, which is always correct). tests/test_speedups.py and tests/test_slow_path.py compare
 * the two on every kind of input, and so does fuzz/verifier_differential.py.
 *
 * Symbolic values (int64), one per value of verify.py's symbolic stack:
 *   SYM_DATA (-1)     _DATA, any plain value
 *   SYM_HASHY (-2)    HASHY, an int whose hash the stream chooses (LONG1 of 8 bytes or more,
 *                     LONG4)
 *   SYM_GLOBAL(i)     4*i: the _Global number i of the globals table
 *   SYM_STR(offset)   4*offset+1: the str constant pushed by the unicode opcode at `offset`
 *   SYM_NODE(k)       4*k+2: the Node number k of the node table (see _nodes.py): a container,
 *                     a tuple, a call's result. Nodes 0-3 are FLAT_TUPLES, the frozen node every
 *                     tuple of 0-3 plain values shares. Stack and memo hold node numbers, so
 *                     values are shared by identity exactly as in Python.
 * SYM_HASHY and the nodes are the "special" values, the ones a batch must look at one by one:
 * both have (v & 3) == 2. The stack slots that hold them are chained (`spec_top`, `links`: see
 * walk()), so a batch visits its special items only and costs nothing per plain one, as
 * Python's pass tells a plain batch apart in one C-speed pass.
 * _RANGE and _RANGE_ARGS never appear: verify() bails when builtins.range is called or passed
 * first in a REDUCE's arguments (copyreg's constructors then make a range), as when
 * builtins.getattr is; only verify() knows the canonical names, so each global records where
 * it was first called, passed first, or had values put into what it returned. A (global,
 * str) pair, the getattr shape, bails here at once. A node going into a value that is already inside another,
 * or into itself, is a late insertion (Tally.late): then only the graph of every edge gives the
 * depth, which graph_depth() computes at STOP, as _nodes.graph_depth does. (Plain values may go
 * into such a value: that changes no depth.)
 *
 * The stack is one array; `marks` holds the stack height at each open MARK, so the values
 * above the innermost mark are stack[fence:sp]. The memo holds symbolic values too. Every
 * array grows geometrically and is bounded by the stream and by the Limits. Costs saturate at
 * COST_CAP like Python's; max_opcodes is checked at STOP (and before "the input ran out"),
 * as Python's pass checks it in batches.
 *
 * Frames: opcodes are read up to `lim`, the end of the current frame (or of the input); an
 * opcode that would cross a frame's end bails (Python refuses it), and reaching a frame's end
 * between two opcodes reads on unframed. A FRAME may begin only at or past the current frame's
 * end, or fill exactly its last 9 bytes, as in verify._frame.
 *
 * Nothing here reads at or past data[n]: every argument read is preceded by a check that the
 * bytes exist before `lim` (which is never past data + n), and every length prefix is compared
 * as an unsigned 64-bit number with the bytes actually left.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef int64_t sym_t;

#define SYM_DATA ((sym_t)-1)
#define SYM_HASHY ((sym_t)-2)
#define SYM_HOLE ((sym_t)-3) /* a memo slot never written (only in the memo, never pushed) */
#define SYM_GLOBAL(i) ((sym_t)(i) * 4)
#define SYM_STR(offset) ((sym_t)(offset) * 4 + 1)
#define SYM_NODE(k) ((sym_t)(k) * 4 + 2)
#define IS_GLOBAL(v) ((v) >= 0 && ((v) & 3) == 0)
#define IS_STR(v) ((v) >= 0 && ((v) & 3) == 1)
#define IS_NODE(v) (((uint64_t)(v) & (((uint64_t)1 << 63) | 3)) == 2) /* >= 0, tag 2 */
#define IS_SPECIAL(v) (((v) & 3) == 2) /* a node, or SYM_HASHY */
#define SYM_INDEX(v) ((Py_ssize_t)((v) >> 2))

/* _nodes.COST_CAP: costs saturate here (after every addition; every term is positive, so this
 * is Python's min(total, COST_CAP)) */
#define COST_CAP ((uint64_t)1 << 62)
/* hash work saturates past any max_hash_work a Py_ssize_t holds, so that it only bails */
#define WORK_CAP ((uint64_t)1 << 63)

/* A Node of _nodes.py, in 32 bytes. N_RESULT: a call's result, `a` its callee's global
 * (Node.owner) and `b` the node of its arguments when those are an N_CLASS tuple (Node.args),
 * else -1. N_CLASS: a tuple whose first item is a global, `a` its number (Node.parent) and `b`
 * the second item's when that is a global too, else -1 (Node.second). Results and nodes are
 * never freed during a walk, so a number stays valid, as Python's references do. */
typedef struct {
    uint64_t cost;  /* Node.cost, values held unfolded, <= COST_CAP */
    uint64_t hcost; /* Node.hcost, what hashing it walks, <= COST_CAP */
    uint32_t items; /* Node.items (the walk bails before it would wrap) */
    uint32_t df;    /* Node.depth in the low 24 bits (DEPTH), the N_ flags above them */
    int32_t a;
    int32_t b;
} node_t;

#define DEPTH 0xffffffu
#define N_HASHY (1u << 24)  /* Node.hashy */
#define N_SEALED (1u << 25) /* Node.sealed: inside another value */
#define N_FROZEN (1u << 26) /* Node.frozen: one of FLAT_TUPLES */
#define N_DONE (1u << 27)   /* Node.done: its change was recorded (verify._mark_mutated) */
#define N_CLASS (1u << 28)  /* Node.parent is set */
#define N_RESULT (1u << 29) /* Node.owner is set */
#define N_DOUBLE (1u << 30) /* a result whose levels count two (_nodes.LEVELS_PER_NESTING) */
/* _nodes.levels: how many levels of max_depth one nesting of a node with flags `df` counts */
#define LEVELS(df) (((df) & N_DOUBLE) ? 2u : 1u)
#define MAX_LEVELS 2u /* _nodes._MAX_LEVELS: the most levels one nesting counts */
/* _nodes.ALIAS_WALK_PER_EDGE, ALIAS_WALK_FLOOR: what graph_depth may walk to find what an
 * aliased target reaches, per edge and at least; past it the depth is COST_CAP */
#define ALIAS_WALK_PER_EDGE 8
#define ALIAS_WALK_FLOOR ((Py_ssize_t)1 << 20)
#define FLAT_NODES 4

/* global_t.mutated bits */
#define MUTATED 1
#define FILLED 2

/* the helpers the hot loop calls on every container: inlined where the compiler allows */
#if defined(__GNUC__) || defined(__clang__)
#define HOT static inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define HOT static __forceinline
#else
#define HOT static inline
#endif

#if defined(__GNUC__) || defined(__clang__)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define LIKELY(x) __builtin_expect(!!(x), 1)
#else
#define UNLIKELY(x) (x)
#define LIKELY(x) (x)
#endif

#define HIGHEST_PROTOCOL 5
#define INITIAL_CAPACITY 64

typedef struct {
    PyObject *module; /* str, owned */
    PyObject *name;   /* str, owned */
    Py_ssize_t offset;
    Py_ssize_t pushes;
    const char *opcode;
    int called;  /* called (REDUCE, NEWOBJ, NEWOBJ_EX, OBJ), or the class first in a REDUCE's
                  * arguments: verify() bails if it is builtins.getattr or builtins.range */
    uint32_t result_flags; /* N_DOUBLE for collections.defaultdict, else 0: what its results
                            * get (Python bails where a canonical name differs) */
    int iterates; /* one of _nodes.HOLDS_ITS_ITEMS as written (builtins or __builtin__): its
                   * result holds what iterating its argument gives (Tally.call) */
    int mutated; /* MUTATED: a value a call of it returned was changed (BUILD, SETITEM(S), ...);
                  * FILLED: a node went into one by APPEND(S), SETITEM(S) or ADDITEMS */
    /* offsets of the first opcode that called it (REDUCE, NEWOBJ, NEWOBJ_EX, OBJ: and which),
     * that passed it first in a REDUCE's arguments, that FILLED a value it returned; -1 */
    Py_ssize_t first_call_at, first_parent_at, first_filled_at;
    int first_call_op;
} global_t;

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

/* _nodes.HOLDS_ITS_ITEMS, by module (a name the compiled pass does not know here is only
 * counted deeper than Python counts it: it may bail where Python accepts, never the reverse) */
static const char *const COLLECTIONS_HOLDERS[] = {"OrderedDict", "defaultdict", "deque", "Counter",
                                                  NULL};
static const char *const BUILTINS_HOLDERS[] = {"list", "dict", "set", "frozenset", NULL};

static int
is_one_of(PyObject *name, const char *const *names)
{
    for (; *names != NULL; names++) {
        if (PyUnicode_CompareWithASCIIString(name, *names) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Why make_global() refused a new global, as verify._State.make_global checks it (in this
 * order): more than max_globals, the names' budget spent, a name longer than MAX_NAME_BYTES. */
#define MG_TOO_MANY (-2)
#define MG_BUDGET (-3)
#define MG_TOO_LONG (-4)

/* verify._State.make_global: the number of global (module, name), added on its first
 * appearance, with one more push counted. Steals both (new, non-NULL) references. Returns
 * MG_TOO_MANY, MG_BUDGET or MG_TOO_LONG when the Python pass refuses it, -1 on any other
 * failure. */
static Py_ssize_t
make_global(globals_t *g, PyObject *module, PyObject *name, Py_ssize_t offset,
            const char *opcode, Py_ssize_t max_globals, Py_ssize_t max_name,
            Py_ssize_t name_budget)
{
    PyObject *key, *found, *number;
    Py_ssize_t i, failure = -1;

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
     * then the length of its own (in characters, as in Python); node fields hold a global's
     * number in 32 bits */
    if (g->len >= max_globals || g->len >= INT32_MAX) {
        failure = g->len >= max_globals ? MG_TOO_MANY : -1;
        goto fail_key;
    }
    g->name_chars += PyUnicode_GET_LENGTH(module) + PyUnicode_GET_LENGTH(name);
    if (g->name_chars > name_budget) {
        failure = MG_BUDGET;
        goto fail_key;
    }
    if (PyUnicode_GET_LENGTH(module) > max_name || PyUnicode_GET_LENGTH(name) > max_name) {
        failure = MG_TOO_LONG;
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
    g->items[i].first_call_at = g->items[i].first_parent_at = g->items[i].first_filled_at = -1;
    g->items[i].first_call_op = 0;
    g->items[i].result_flags = 0;
    g->items[i].iterates = 0;
    if (PyUnicode_CompareWithASCIIString(module, "collections") == 0) {
        if (PyUnicode_CompareWithASCIIString(name, "defaultdict") == 0) {
            g->items[i].result_flags = N_DOUBLE;
        }
        g->items[i].iterates = is_one_of(name, COLLECTIONS_HOLDERS);
    }
    else if (PyUnicode_CompareWithASCIIString(module, "builtins") == 0 ||
             PyUnicode_CompareWithASCIIString(module, "__builtin__") == 0) {
        g->items[i].iterates = is_one_of(name, BUILTINS_HOLDERS);
    }
    return i;

fail_key:
    Py_DECREF(key);
fail:
    Py_DECREF(module);
    Py_DECREF(name);
    return failure;
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

/* make_global()'s refusals, as the walk reports them (see R_NONE) */
#define MG_REFUSAL(code) \
    ((code) == MG_TOO_MANY ? R_MAX_GLOBALS : (code) == MG_BUDGET ? R_NAME_BUDGET : R_NAME_TOO_LONG)

typedef struct {
    Py_ssize_t max_opcodes;
    Py_ssize_t max_stack;   /* max_stack_depth */
    Py_ssize_t max_nesting; /* MARKs open at once */
    Py_ssize_t max_memo;    /* max_memo_entries */
    Py_ssize_t max_items;   /* max_container_items */
    Py_ssize_t max_globals;
    Py_ssize_t max_name;    /* verify.MAX_NAME_BYTES */
    Py_ssize_t name_budget; /* Limits.max_global_name_bytes */
    Py_ssize_t max_depth;   /* Limits.max_depth: how deeply values nest */
    Py_ssize_t max_hash_work;
    Py_ssize_t max_slow;    /* Limits.max_slow_path_bytes */
    int persistent_ok;      /* a plugin resolves persistent ids: BINPERSID is accepted */
    int binstrings;         /* Python 2 strs (verify._binstring_mode): 0 the Python pass
                             * checks them; 1 any bytes decode (encoding='bytes', 'latin1');
                             * 2 ASCII, strictly (the default) */
} limits_t;

/* what _nodes.Tally and the memo counted: the last item of fast_verify's result */
typedef struct {
    uint64_t hash_work;
    Py_ssize_t unknown_keys;
    Py_ssize_t calls;
    Py_ssize_t empty_sets;
    Py_ssize_t build_items;
    Py_ssize_t memo_entries;
    Py_ssize_t memo_slots;
    Py_ssize_t graph_depth; /* _nodes.graph_depth after a late insertion, else 0 */
    Py_ssize_t too_deep;    /* the depth that first went past max_depth (Tally.too_deep), or 0 */
    Py_ssize_t too_deep_at; /* the offset of the opcode that built it */
} counts_t;

/* Why walk() refused a stream itself (fast_verify's `refusal`), each the first error the Python
 * pass raises for it, at the same offset; verify._refusal() makes the same exception. */
enum {
    R_NONE = 0,
    R_TRUNCATED,       /* the input ends before the stream: verify._truncated */
    R_STACK,           /* a push past max_stack_depth: verify._stack_full */
    R_NESTING,         /* a MARK past max_nesting: verify._check_marks */
    R_INVALID,         /* arg: a byte that is no opcode: verify._invalid */
    R_NEVER_WRITTEN,   /* arg: a memo index never written: verify._never_written */
    R_MEMO_INDEX,      /* arg: a BINPUT index past max_memo_entries: verify._memo_index_limit */
    R_UNDERFLOW,       /* arg: the opcode, which pops more than the stack holds */
    R_NO_MARK,         /* arg: the opcode, which closes a MARK that is not there */
    R_BATCH,           /* more than max_container_items above a MARK */
    R_ODD,             /* arg: DICT or SETITEMS, of an odd number of items */
    R_CALLS_NON_GLOBAL, /* arg: REDUCE or NEWOBJ, whose callable is not a global */
    R_MODIFIES_GLOBAL, /* arg: opcode * 2**32 + the global's number, into which it puts items */
    R_PROTO_NOT_FIRST, /* PROTO after the first opcode */
    R_PROTO_UNSUPPORTED, /* arg: a protocol past pickle.HIGHEST_PROTOCOL */
    R_NO_PERSISTENT_LOAD, /* arg: BINPERSID, and no plugin resolves persistent ids */
    R_MEMO_FULL,       /* a MEMOIZE past max_memo_entries: verify._memo_full */
    R_EXT,             /* arg: EXT1, EXT2 or EXT4 (the extension registry is never consulted) */
    R_NEGATIVE_SIZE,   /* arg: LONG4, whose signed length is negative */
    R_FRAME_MISPLACED, /* a FRAME before the end of the current frame */
    R_CROSSES_FRAME,   /* arg: where the frame ends, which the opcode runs past */
    R_STACK_GLOBAL_OPERANDS, /* STACK_GLOBAL of something else than two str constants */
    R_NAME_DECODE,     /* arg: the offset of a str constant STACK_GLOBAL cannot take as a name */
    R_NAME_NOT_UTF8,   /* GLOBAL's name lines are not UTF-8 */
    R_MAX_GLOBALS,     /* a new global past max_globals */
    R_NAME_BUDGET,     /* arg: the names' length so far, past max_global_name_bytes */
    R_NAME_TOO_LONG,   /* a global's name longer than MAX_NAME_BYTES */
    R_HASH_WORK,       /* hashing past max_hash_work */
    R_BINSTRING,       /* a Python 2 str that does not decode (verify._check_binstring) */
    /* something only the Python pass handles, too far into the stream for it
     * (Limits.max_slow_path_bytes); short of that, the walk bails */
    R_SLOW_OPCODE,     /* arg: a protocol 0-1 text opcode or a Python 2 str */
    R_SLOW_BIG_INT,    /* a LONG4 of more than 256 bytes */
    R_SLOW_MEMO_INDEX, /* arg: a LONG_BINPUT index far past the memo */
    R_SLOW_PAIR,       /* arg: TUPLE2 or TUPLE of a global and a str (the getattr shape) */
};

/* Every opcode byte (pickletools.opcodes); any other byte is refused as no opcode. */
static const char OPCODES[] =
    "().012BCFGIJKLMNPQRSTUVX]abcdeghijlopqrstu}"
    "\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f"
    "\x90\x91\x92\x93\x94\x95\x96\x97\x98";

typedef struct {
    Py_ssize_t end;
    int refusal;           /* R_NONE, or why the stream is refused (then end is -1) */
    Py_ssize_t refused_at; /* the offset of the opcode refused */
    long long refusal_arg;
    Py_ssize_t opcodes;
    Py_ssize_t buffers;
    Py_ssize_t persistent; /* persistent ids (BINPERSID) seen */
    int protocol;
    int framed;
    counts_t counts;
} outcome_t;

/* What walk() returns for the first error it found, `kind` at offset `at` (see R_NONE); the
 * counts so far go out too: a value nested too deep before it is refused first. */
static void
refusal(outcome_t *out, int kind, Py_ssize_t at, long long arg, int protocol,
        const counts_t *counts)
{
    out->refusal = kind;
    out->refused_at = at;
    out->refusal_arg = arg;
    out->end = -1;
    out->protocol = protocol;
    out->counts = *counts;
}

/* One (container, contained node) pair: Tally.parents and Tally.children. */
typedef struct {
    int32_t parent;
    int32_t child;
} edge_t;

/* _nodes.Tally for one walk: the node table, every edge, and the counts. */
typedef struct {
    node_t *nodes;
    Py_ssize_t len;
    Py_ssize_t cap;
    edge_t *edges;
    Py_ssize_t edges_len;
    Py_ssize_t edges_cap;
    /* Tally.alias_parents/alias_children: a node put into a call's value that may pass it on
     * to what it holds (UserList.append), for graph_depth's hubs */
    edge_t *aliases;
    Py_ssize_t aliases_len;
    Py_ssize_t aliases_cap;
    int late; /* Tally.late: a node went into a value already inside another */
    /* max_depth is the caller's (not cut to fit DEPTH): a value nested deeper is refused, the
     * walk going on to STOP with depths held at max_depth + 1, as only Python can say why */
    int refuses_depth;
    const unsigned char *op_at; /* the opcode being read, set by those that may nest deeper */
    const unsigned char *buf;   /* the input, for offsets */
    uint32_t max_depth; /* Limits.max_depth, or less: a depth fits DEPTH */
    uint64_t max_hash_work;
    counts_t counts;
} tally_t;

static inline uint64_t
saturate(uint64_t cost)
{
    return cost > COST_CAP ? COST_CAP : cost;
}

/* A new node: its number, or -1 when memory cannot be had. Pointers into the table do not
 * survive this. */
HOT Py_ssize_t
node_new(tally_t *t, uint32_t depth, uint64_t cost, uint64_t hcost, uint32_t items,
         uint32_t flags, int32_t a)
{
    node_t *node;

    if (UNLIKELY(t->len >= t->cap) &&
        grow((void **)&t->nodes, &t->cap, t->len + 1, PY_SSIZE_T_MAX, sizeof(node_t)) < 0) {
        return -1;
    }
    node = &t->nodes[t->len];
    node->cost = cost;
    node->hcost = hcost;
    node->items = items;
    node->df = depth | flags;
    node->a = a;
    node->b = -1;
    return t->len++;
}

/* Record that node `parent` holds node `child` (for graph_depth). -1 without memory. */
HOT int
add_edge(tally_t *t, Py_ssize_t parent, Py_ssize_t child)
{
    if (UNLIKELY(t->edges_len >= t->edges_cap) &&
        grow((void **)&t->edges, &t->edges_cap, t->edges_len + 1, PY_SSIZE_T_MAX,
             sizeof(edge_t)) < 0) {
        return -1;
    }
    t->edges[t->edges_len].parent = (int32_t)parent;
    t->edges[t->edges_len].child = (int32_t)child;
    t->edges_len++;
    return 0;
}

/* Tally.alias for one item: node `v` went into node `target`, a call's value that may pass it
 * on. A plain item is nothing to follow. -1 without memory. */
HOT int
add_alias(tally_t *t, Py_ssize_t target, sym_t v)
{
    if (!IS_NODE(v)) {
        return 0;
    }
    if (UNLIKELY(t->aliases_len >= t->aliases_cap) &&
        grow((void **)&t->aliases, &t->aliases_cap, t->aliases_len + 1, PY_SSIZE_T_MAX,
             sizeof(edge_t)) < 0) {
        return -1;
    }
    t->aliases[t->aliases_len].parent = (int32_t)target;
    t->aliases[t->aliases_len].child = (int32_t)SYM_INDEX(v);
    t->aliases_len++;
    t->late = 1;
    return 0;
}

/* `count` more items in `into`: -1 when its 32-bit count would wrap (then bail) */
HOT int
add_items(node_t *into, Py_ssize_t count)
{
    if (UNLIKELY((uint64_t)count > (uint64_t)(UINT32_MAX - into->items))) {
        return -1;
    }
    into->items += (uint32_t)count;
    return 0;
}

/* A node item `v` goes into `into` (Tally.insert's loop): records the edge, seals it, raises
 * `*depth` and `*cost`. A late insertion (a node into a value inside another, or into itself,
 * which seals it) sets `late`: the depth then needs the whole graph (graph_depth). (Plain
 * values into a sealed value change no depth: every path through it stays as long as it
 * was.) Returns -1 without memory. */
HOT int
take_node(tally_t *t, const node_t *into, sym_t v, uint32_t *depth, uint64_t *cost)
{
    node_t *const node = &t->nodes[SYM_INDEX(v)];

    if (UNLIKELY((into->df & N_SEALED) || node == into)) {
        t->late = 1;
    }
    if (add_edge(t, into - t->nodes, SYM_INDEX(v)) < 0) {
        return -1;
    }
    node->df |= N_SEALED;
    const uint32_t step = LEVELS(into->df);

    if ((node->df & DEPTH) + step > *depth) {
        *depth = (node->df & DEPTH) + step;
    }
    *cost = saturate(*cost + node->cost - 1);
    return 0;
}

/* Tally.hash_keys for one key `v` that is a node or a hashy int */
HOT void
hash_special(const node_t *nodes, sym_t v, uint64_t *work, Py_ssize_t *unknown)
{
    if (v == SYM_HASHY) {
        *unknown += 1;
        return;
    }
    *work += nodes[SYM_INDEX(v)].hcost - 1;
    if (*work > WORK_CAP) {
        *work = WORK_CAP;
    }
    *unknown += (nodes[SYM_INDEX(v)].df & N_HASHY) != 0;
}

/* A value `*depth` deep, past max_depth: Tally.too_deep. The first is remembered (the walk
 * notes where) and the depth held at max_depth + 1, so that the walk can go on to STOP and
 * the stream be refused without the Python pass redoing it all. Returns -1 to bail instead
 * (max_depth was cut to fit DEPTH). */
static int
too_deep(tally_t *t, uint32_t *depth)
{
    if (!t->refuses_depth) {
        return -1;
    }
    if (t->counts.too_deep == 0) {
        t->counts.too_deep = *depth;
        t->counts.too_deep_at = t->op_at - t->buf; /* where Python's pass refuses it */
    }
    *depth = t->max_depth + 1;
    return 0;
}

/* The end of Tally.insert: `into` holds `count` more items, is `depth` deep, costs `cost`.
 * Returns -1 to bail (too many items). */
HOT int
inserted(tally_t *t, node_t *into, Py_ssize_t count, uint32_t depth, uint64_t cost)
{
    if (UNLIKELY(depth > t->max_depth) && too_deep(t, &depth) < 0) {
        return -1;
    }
    if (UNLIKELY(add_items(into, count) < 0)) {
        return -1;
    }
    into->df = (into->df & ~DEPTH) | depth;
    into->cost = cost;
    if (into->df & N_RESULT) {
        into->hcost = cost; /* an object's own __hash__ may walk all it holds */
    }
    return 0;
}

/* Tally.insert of one item (APPEND, BUILD); `into` is not frozen. */
HOT int
insert_one(tally_t *t, node_t *into, sym_t v)
{
    uint32_t depth = into->df & DEPTH;
    uint64_t cost = saturate(into->cost + 1);

    if (IS_NODE(v) && take_node(t, into, v, &depth, &cost) < 0) {
        return -1;
    }
    return inserted(t, into, 1, depth, cost);
}

/* Tally.insert and Tally.hash_keys of a key and its value (SETITEM); `into` not frozen. */
HOT int
insert_pair(tally_t *t, node_t *into, sym_t key, sym_t v)
{
    uint32_t depth = into->df & DEPTH;
    uint64_t cost = saturate(into->cost + 2);
    uint64_t work = 1;
    Py_ssize_t unknown = 0;

    if ((IS_NODE(key) && take_node(t, into, key, &depth, &cost) < 0) ||
        (IS_NODE(v) && take_node(t, into, v, &depth, &cost) < 0) ||
        inserted(t, into, 2, depth, cost) < 0) {
        return -1;
    }
    if (IS_SPECIAL(key)) { /* after the insertion, as Python: the key is not the target */
        hash_special(t->nodes, key, &work, &unknown);
    }
    t->counts.unknown_keys += unknown;
    t->counts.hash_work += work;
    return t->counts.hash_work > t->max_hash_work ? -1 : 0;
}

/* The items one opcode takes: stack[base:base + count]. The special values among them (nodes,
 * hashy ints) are all on the chain of stack slots that starts at `top - 1` and goes down
 * through `links` (see walk()); a slot on it may hold a plain value by now, none off it a
 * special one. So a batch costs nothing per plain item. */
typedef struct {
    const sym_t *stack;
    const Py_ssize_t *links;
    Py_ssize_t base;
    Py_ssize_t count;
    Py_ssize_t top;
} batch_t;

#define FOR_SPECIAL(b, i) for ((i) = (b)->top - 1; (i) >= (b)->base; (i) = (b)->links[(i)])

/* _nodes.graph_depth over every edge recorded: the longest path through the containment
 * graph, a strongly connected group counting the levels of all its members (a defaultdict's
 * two). A node that holds no node is no vertex: its parents note the deepest such leaf they
 * hold. Iterative Tarjan over the vertices. Returns the depth, or -1 without memory. */
static Py_ssize_t
graph_depth(const tally_t *t)
{
    const node_t *const nodes = t->nodes;
    const edge_t *const edges = t->edges;
    const edge_t *const aliases = t->aliases;
    const Py_ssize_t n = t->len, m = t->edges_len, na = t->aliases_len;
    Py_ssize_t nv = 0, nt = 0, i, deepest = 0, counter = 0, groups = 0, sp = 0, wsp = 0;
    int32_t *vertex = NULL, *to = NULL, *order = NULL, *low = NULL, *group = NULL;
    int32_t *stack = NULL, *work = NULL, *a_to = NULL, *seen = NULL, *to2 = NULL;
    Py_ssize_t *first = NULL, *cursor = NULL, *workpos = NULL, *a_first = NULL, *first2 = NULL;
    Py_ssize_t *cursor2 = NULL;
    uint8_t *leaf = NULL, *weight = NULL;
    uint64_t *group_depth = NULL;
    edge_t *extra = NULL;
    Py_ssize_t extra_len = 0, extra_cap = 0;
    Py_ssize_t result = -1;

#define ALLOC(ptr, count) (((ptr) = PyMem_Calloc((size_t)(count) + 1, sizeof(*(ptr)))) == NULL)
#define EXTRA(from_, into_)                                                                \
    do {                                                                                   \
        if (extra_len >= extra_cap &&                                                      \
            grow((void **)&extra, &extra_cap, extra_len + 1, PY_SSIZE_T_MAX,               \
                 sizeof(edge_t)) < 0) {                                                    \
            goto done;                                                                     \
        }                                                                                  \
        extra[extra_len].parent = (int32_t)(from_);                                        \
        extra[extra_len++].child = (int32_t)(into_);                                       \
    } while (0)
    if (n >= INT32_MAX / 2 || na >= INT32_MAX / 4 || ALLOC(vertex, n)) {
        goto done;
    }
    for (i = 0; i < n; i++) {
        vertex[i] = -1;
    }
    /* the vertices: every container that holds a node, and both ends of an aliased item */
    for (i = 0; i < m; i++) {
        if (vertex[edges[i].parent] < 0) {
            vertex[edges[i].parent] = (int32_t)nv++;
        }
    }
    for (i = 0; i < na; i++) {
        if (vertex[aliases[i].parent] < 0) {
            vertex[aliases[i].parent] = (int32_t)nv++;
        }
        if (vertex[aliases[i].child] < 0) {
            vertex[aliases[i].child] = (int32_t)nv++;
        }
    }
    /* room for two hubs per aliased target (at most one target per aliased item) */
    {
        const Py_ssize_t total = nv + 2 * na;

        if (ALLOC(first, nv + 1) || ALLOC(cursor, nv + 1) || ALLOC(to, m) ||
            ALLOC(leaf, total) || ALLOC(weight, total) || ALLOC(order, total) ||
            ALLOC(low, total) || ALLOC(group, total) || ALLOC(stack, total) ||
            ALLOC(work, total) || ALLOC(workpos, total) || ALLOC(group_depth, total)) {
            goto done;
        }
    }
    for (i = 0; i < n; i++) {
        if (vertex[i] >= 0) {
            weight[vertex[i]] = (uint8_t)LEVELS(nodes[i].df);
        }
    }
    for (i = 0; i < m; i++) { /* out-degrees over vertices, deepest leaves */
        const int32_t from = vertex[edges[i].parent], into = vertex[edges[i].child];

        if (into >= 0) {
            first[from + 1]++;
        }
        else if (leaf[from] < LEVELS(nodes[edges[i].child].df)) {
            leaf[from] = (uint8_t)LEVELS(nodes[edges[i].child].df);
        }
    }
    for (i = 0; i < nv; i++) {
        first[i + 1] += first[i];
        cursor[i] = first[i];
    }
    for (i = 0; i < m; i++) {
        const int32_t from = vertex[edges[i].parent], into = vertex[edges[i].child];

        if (into >= 0) {
            to[cursor[from]++] = into;
        }
    }
    if (na > 0) {
        /* _nodes._alias_hubs: each aliased target gets a weightless hub that holds its aliased
         * items and that everything the target reaches (through the edges above) holds, and
         * a hub of a leaf's weight for the leaves among those */
        Py_ssize_t budget = ALIAS_WALK_FLOOR + ALIAS_WALK_PER_EDGE * m, top;
        int32_t target;

        if (ALLOC(a_first, nv + 1) || ALLOC(a_to, na) || ALLOC(seen, nv)) {
            goto done;
        }
        for (i = 0; i < na; i++) {
            a_first[vertex[aliases[i].parent] + 1]++;
        }
        for (i = 0; i < nv; i++) {
            a_first[i + 1] += a_first[i];
            cursor[i] = a_first[i];
            seen[i] = -1;
        }
        for (i = 0; i < na; i++) {
            a_to[cursor[vertex[aliases[i].parent]]++] = vertex[aliases[i].child];
        }
        for (target = 0; target < nv; target++) {
            const Py_ssize_t hub = nv + 2 * nt;

            if (a_first[target + 1] == a_first[target]) {
                continue;
            }
            nt++;
            weight[hub] = 0;
            weight[hub + 1] = (uint8_t)MAX_LEVELS;
            for (i = a_first[target]; i < a_first[target + 1]; i++) {
                EXTRA(hub, a_to[i]);
            }
            EXTRA(hub + 1, hub);
            /* what the target reaches: a walk with `work` as its stack (free until Tarjan) */
            seen[target] = target;
            work[0] = target;
            top = 1;
            while (top > 0) {
                const int32_t v = work[--top];
                Py_ssize_t e;

                EXTRA(v, hub);
                if (leaf[v]) {
                    EXTRA(v, hub + 1);
                }
                budget -= 1 + (first[v + 1] - first[v]);
                if (budget < 0) {
                    result = (Py_ssize_t)COST_CAP; /* it reaches too much to bound cheaply */
                    goto done;
                }
                for (e = first[v]; e < first[v + 1]; e++) {
                    if (seen[to[e]] != target) {
                        seen[to[e]] = target;
                        work[top++] = to[e];
                    }
                }
            }
        }
        /* one adjacency of both: the edges above, then the hubs' */
        {
            const Py_ssize_t total = nv + 2 * nt;

            if (ALLOC(first2, total + 1) || ALLOC(to2, m + extra_len) ||
                ALLOC(cursor2, total + 1)) {
                goto done;
            }
            for (i = 0; i < nv; i++) {
                first2[i + 1] = first[i + 1] - first[i];
            }
            for (i = 0; i < extra_len; i++) {
                first2[extra[i].parent + 1]++;
            }
            for (i = 0; i < total; i++) {
                first2[i + 1] += first2[i];
            }
            for (i = 0; i < total; i++) {
                cursor2[i] = first2[i];
            }
            for (i = 0; i < nv; i++) {
                Py_ssize_t e;

                for (e = first[i]; e < first[i + 1]; e++) {
                    to2[cursor2[i]++] = to[e];
                }
            }
            for (i = 0; i < extra_len; i++) {
                to2[cursor2[extra[i].parent]++] = extra[i].child;
            }
            PyMem_Free(first);
            PyMem_Free(to);
            first = first2;
            to = to2;
            first2 = NULL;
            to2 = NULL;
            nv = total;
        }
    }
    for (i = 0; i < nv; i++) {
        order[i] = -1;
        group[i] = -1; /* -2: on Tarjan's stack */
    }
    for (i = 0; i < nv; i++) {
        if (order[i] >= 0) {
            continue;
        }
        order[i] = low[i] = (int32_t)counter++;
        group[i] = -2;
        stack[sp++] = (int32_t)i;
        work[wsp] = (int32_t)i;
        workpos[wsp++] = first[i];
        while (wsp > 0) {
            const int32_t v = work[wsp - 1];
            Py_ssize_t bottom, k;
            uint64_t size = 0, below = 0;

            if (workpos[wsp - 1] < first[v + 1]) {
                const int32_t w = to[workpos[wsp - 1]++];

                if (order[w] < 0) {
                    order[w] = low[w] = (int32_t)counter++;
                    group[w] = -2;
                    stack[sp++] = w;
                    work[wsp] = w;
                    workpos[wsp++] = first[w];
                }
                else if (group[w] == -2 && order[w] < low[v]) {
                    low[v] = order[w];
                }
                continue;
            }
            wsp--;
            if (wsp > 0 && low[v] < low[work[wsp - 1]]) {
                low[work[wsp - 1]] = low[v];
            }
            if (low[v] != order[v]) {
                continue;
            }
            for (bottom = sp - 1; stack[bottom] != v; bottom--) {
            }
            for (k = bottom; k < sp; k++) {
                group[stack[k]] = (int32_t)groups;
                size += weight[stack[k]];
            }
            for (k = bottom; k < sp; k++) {
                const int32_t member = stack[k];
                Py_ssize_t e;

                if (leaf[member] > below) {
                    below = leaf[member];
                }
                for (e = first[member]; e < first[member + 1]; e++) {
                    const int32_t other = group[to[e]];

                    if (other != groups && group_depth[other] > below) {
                        below = group_depth[other];
                    }
                }
            }
            group_depth[groups] = size + below;
            if ((Py_ssize_t)group_depth[groups] > deepest) {
                deepest = (Py_ssize_t)group_depth[groups];
            }
            groups++;
            sp = bottom;
        }
    }
    result = deepest;
done:
#undef ALLOC
    PyMem_Free(vertex);
    PyMem_Free(first);
    PyMem_Free(cursor);
    PyMem_Free(to);
    PyMem_Free(leaf);
    PyMem_Free(weight);
    PyMem_Free(order);
    PyMem_Free(low);
    PyMem_Free(group);
    PyMem_Free(stack);
    PyMem_Free(work);
    PyMem_Free(workpos);
    PyMem_Free(group_depth);
    PyMem_Free(a_first);
    PyMem_Free(a_to);
    PyMem_Free(seen);
    PyMem_Free(first2);
    PyMem_Free(to2);
    PyMem_Free(cursor2);
    PyMem_Free(extra);
    return result;
#undef EXTRA
}

/* Tally.insert: the batch goes into node `target` (not frozen). Returns 0, or -1 to bail: a
 * value nested past max_depth, or no memory. The target's fields may change before a
 * bail: the walk is over then. */
static int
tally_insert(tally_t *t, Py_ssize_t target, const batch_t *b)
{
    node_t *const nodes = t->nodes;
    node_t *const into = &nodes[target];
    uint32_t depth = into->df & DEPTH; /* read before any item (the target itself, maybe) */
    uint64_t cost = saturate(into->cost + (uint64_t)b->count);
    Py_ssize_t i;

    FOR_SPECIAL(b, i) {
        const sym_t v = b->stack[i];

        if (IS_NODE(v) && take_node(t, into, v, &depth, &cost) < 0) {
            return -1;
        }
    }
    return inserted(t, into, b->count, depth, cost);
}

/* Tally.hash_keys of every `stride`-th item of the batch (DICT: 2, the keys; FROZENSET: 1). */
static int
tally_hash(tally_t *t, const batch_t *b, Py_ssize_t stride)
{
    const Py_ssize_t odd = stride - 1; /* stride is 1 or 2: item i is a key when !(i & odd) */
    uint64_t work = (uint64_t)((b->count + odd) >> odd);
    Py_ssize_t i, unknown = 0;

    FOR_SPECIAL(b, i) {
        const sym_t v = b->stack[i];

        if (IS_SPECIAL(v) && ((i - b->base) & odd) == 0) {
            hash_special(t->nodes, v, &work, &unknown);
        }
    }
    t->counts.unknown_keys += unknown;
    t->counts.hash_work += work; /* both at most 2**63: no overflow */
    return t->counts.hash_work > t->max_hash_work ? -1 : 0;
}

/* Tally.insert, then Tally.hash_keys of every `stride`-th item (SETITEMS: 2, the keys;
 * ADDITEMS: 1), in one pass: hashing reads a key's hcost after the insertion, which changes
 * only the target's own, so the target among its items bails (Python reads its new hcost). */
static int
tally_insert_hash(tally_t *t, Py_ssize_t target, const batch_t *b, Py_ssize_t stride)
{
    node_t *const nodes = t->nodes;
    node_t *const into = &nodes[target];
    const Py_ssize_t odd = stride - 1;
    uint32_t depth = into->df & DEPTH;
    uint64_t cost = saturate(into->cost + (uint64_t)b->count);
    uint64_t work = (uint64_t)((b->count + odd) >> odd);
    Py_ssize_t i, unknown = 0;

    FOR_SPECIAL(b, i) {
        const sym_t v = b->stack[i];

        if (!IS_SPECIAL(v)) {
            continue;
        }
        if (IS_NODE(v) && (SYM_INDEX(v) == target || take_node(t, into, v, &depth, &cost) < 0)) {
            return -1;
        }
        if (((i - b->base) & odd) == 0) {
            hash_special(nodes, v, &work, &unknown);
        }
    }
    if (inserted(t, into, b->count, depth, cost) < 0) {
        return -1;
    }
    t->counts.unknown_keys += unknown;
    t->counts.hash_work += work;
    return t->counts.hash_work > t->max_hash_work ? -1 : 0;
}

/* Tally.insert and Tally.hash_keys when no item is a node or a hashy int: `count` items go
 * into `into` (not frozen), `keys` of them hashed. Returns 0, or -1 to bail. */
HOT int
insert_plain(tally_t *t, node_t *into, Py_ssize_t count, Py_ssize_t keys)
{
    const uint64_t cost = saturate(into->cost + (uint64_t)count);

    if (add_items(into, count) < 0) {
        return -1;
    }
    into->cost = cost;
    if (into->df & N_RESULT) {
        into->hcost = cost;
    }
    t->counts.hash_work += (uint64_t)keys;
    return t->counts.hash_work > t->max_hash_work ? -1 : 0;
}

/* Tally.tuple_of: the node of a tuple (`frozenset`: a frozenset) of the batch, a FLAT_TUPLES
 * node for up to three plain values unless `fresh`. Returns its number, or -1 to bail. */
static Py_ssize_t
tally_tuple(tally_t *t, const batch_t *b, int frozenset, int fresh)
{
    uint32_t depth = 1;
    uint64_t cost, hcost;
    uint32_t flags = frozenset ? N_HASHY : 0;
    Py_ssize_t i, k;

    if (b->count <= 3 && !frozenset && !fresh) {
        FOR_SPECIAL(b, i) {
            if (IS_SPECIAL(b->stack[i])) {
                break;
            }
        }
        if (i < b->base) {
            return b->count; /* FLAT_TUPLES[count] */
        }
    }
    if ((uint64_t)b->count > UINT32_MAX) {
        return -1;
    }
    cost = hcost = saturate((uint64_t)b->count + 1);
    FOR_SPECIAL(b, i) {
        const sym_t v = b->stack[i];

        if (IS_NODE(v)) {
            node_t *const node = &t->nodes[SYM_INDEX(v)];

            node->df |= N_SEALED;
            if ((node->df & DEPTH) >= depth) {
                depth = (node->df & DEPTH) + 1;
            }
            cost = saturate(cost + node->cost - 1);
            hcost = saturate(hcost + node->hcost - 1);
            flags |= node->df & N_HASHY;
        }
        else if (v == SYM_HASHY) {
            flags |= N_HASHY;
        }
    }
    if (depth > t->max_depth && too_deep(t, &depth) < 0) {
        return -1;
    }
    k = node_new(t, depth, cost, hcost, (uint32_t)b->count, flags, -1);
    if (k >= 0) {
        FOR_SPECIAL(b, i) {
            if (IS_NODE(b->stack[i]) && add_edge(t, k, SYM_INDEX(b->stack[i])) < 0) {
                return -1;
            }
        }
    }
    return k;
}

/* Tally.call: the node of what calling global `owner` on `args` returns. */
HOT Py_ssize_t
tally_call(tally_t *t, int32_t owner, uint32_t flags, int iterates, sym_t args)
{
    node_t *node;
    Py_ssize_t k;
    uint32_t depth;
    uint64_t cost;
    uint32_t items;
    int32_t class_args = -1;

    t->counts.calls++;
    if (!IS_NODE(args)) {
        return node_new(t, 1, 2, 2, 0, N_HASHY | N_RESULT | flags, owner);
    }
    node = &t->nodes[SYM_INDEX(args)];
    node->df |= N_SEALED;
    depth = node->df & DEPTH;
    if (iterates) { /* what iterating x gives, at most 2 levels below the arguments (x,) */
        const uint32_t step = LEVELS(flags);

        depth = depth + step > 2 ? depth + step - 2 : 1;
    }
    cost = node->cost;
    items = node->items;
    if (node->df & N_CLASS) { /* result.args = node */
        class_args = (int32_t)SYM_INDEX(args);
    }
    k = node_new(t, depth, cost, cost, items, N_HASHY | N_RESULT | flags, owner);
    if (k >= 0) {
        t->nodes[k].b = class_args;
        if (add_edge(t, k, SYM_INDEX(args)) < 0) {
            return -1;
        }
    }
    return k;
}

/* Tally.call_with_items: OBJ and NEWOBJ_EX, whose arguments are the batch. */
static Py_ssize_t
tally_call_with_items(tally_t *t, int32_t owner, uint32_t flags, const batch_t *b)
{
    Py_ssize_t k = node_new(t, 1, 1, 1, 0, N_HASHY | N_RESULT | flags, owner);

    t->counts.calls++;
    if (k >= 0 && b->count > 0 && tally_insert(t, k, b) < 0) {
        return -1;
    }
    return k;
}

/* verify._mark_mutated: a call's value is being changed */
HOT void
mark_mutated(const node_t *nodes, node_t *node, global_t *globals)
{
    if ((node->df & (N_RESULT | N_DONE)) == N_RESULT) {
        node->df |= N_DONE;
        globals[node->a].mutated |= MUTATED;
        if (node->b >= 0) { /* the classes in its arguments */
            const node_t *const args = &nodes[node->b];

            globals[args->a].mutated |= MUTATED;
            if (args->b >= 0) {
                globals[args->b].mutated |= MUTATED;
            }
        }
    }
}

/* A node goes into a call's value by APPEND(S), SETITEM(S) or ADDITEMS: unless its callee holds
 * its items itself (Python knows the names: _nodes.HOLDS_ITS_ITEMS), the item may have gone
 * into what the value holds (UserList.append), and Python's pass then runs (Tally.alias). */
HOT int
mark_filled(const node_t *node, global_t *globals, Py_ssize_t at)
{
    if (node->df & N_RESULT) {
        globals[node->a].mutated |= FILLED;
        if (globals[node->a].first_filled_at < 0) {
            globals[node->a].first_filled_at = at;
        }
        return !globals[node->a].iterates; /* what it holds may hold the items */
    }
    return 0;
}

/* Tally.alias for the node items of a batch put into node `target`. -1 without memory. */
static int
alias_batch(tally_t *t, Py_ssize_t target, const batch_t *b)
{
    Py_ssize_t i;

    FOR_SPECIAL(b, i)
    {
        if (add_alias(t, target, b->stack[i]) < 0) {
            return -1;
        }
    }
    return 0;
}

/* walk() found the first error the Python pass raises, every opcode before it on the accepting
 * path (`out->refusal` says which): the same error is made without the Python pass, which would
 * take seconds over a long stream that only goes wrong at its end. */
#define REFUSED 2

/* The walk. Returns 1 when the stream is accepted (`out` and `g` filled in), REFUSED when it
 * found the first error (`out` filled in as far as it got), 0 to bail. */
static int
walk(const unsigned char *buf, Py_ssize_t start, Py_ssize_t n, const limits_t *limits,
     globals_t *g, outcome_t *out)
{
    /* start is checked before any pointer is formed from it (the walk's first lines) */
    const unsigned char *p = buf, *first = buf;
    const unsigned char *const end = buf + n;
    const unsigned char *lim = end; /* where the current frame ends, or the input */
    const Py_ssize_t max_opcodes = limits->max_opcodes, max_stack = limits->max_stack;
    const Py_ssize_t max_memo = limits->max_memo, max_items = limits->max_items;
    sym_t *stack = NULL, *memo = NULL;
    Py_ssize_t *marks = NULL;
    /* The chain of the stack slots that hold special values (nodes, hashy ints): `spec_top` is
     * one past the topmost, links[i] the next one below slot i (-1: none). Every special value
     * below sp is on it; a slot on it may hold a plain value by now (overwritten in place). */
    Py_ssize_t *links = NULL;
    Py_ssize_t links_cap = 0, spec_top = 0;
    tally_t tally;
    Py_ssize_t sp = 0, stack_cap = 0, sp_limit = 0;
    Py_ssize_t nmarks = 0, marks_cap = 0, fence = 0;
    Py_ssize_t memo_len = 0, memo_cap = 0; /* slots: one past the highest index written */
    Py_ssize_t memo_entries = 0;            /* indexes written: Python's len(memo) */
    Py_ssize_t ops = 0, buffers = 0, persistent = 0;
    int protocol = 0, framed = 0, accepted = 0;
    Py_ssize_t frame_end = 0; /* where the last FRAME ends (_State.frame_end) */
    unsigned char op;
    uint64_t size;
    sym_t value;
    Py_ssize_t count, index, k;

    memset(&tally, 0, sizeof(tally));
    tally.max_depth = limits->max_depth < DEPTH ? (uint32_t)limits->max_depth : DEPTH - 1;
    tally.refuses_depth = limits->max_depth < DEPTH;
    tally.buf = buf;
    tally.max_hash_work = (uint64_t)limits->max_hash_work;

/* The input or the current frame ends before the opcode does: "truncated" when that is the
 * input's end (as Python says), else the opcode crosses its frame's end, which Python refuses. */
#define RUNOUT()                                     \
    do {                                             \
        if (lim == end) {                            \
            REFUSE(R_TRUNCATED, 0);                  \
        }                                            \
        REFUSE(R_CROSSES_FRAME, lim - buf);          \
    } while (0)
/* Something only the Python pass handles: refused past max_slow_path_bytes, else bail. */
#define SLOW(kind, arg)                              \
    do {                                             \
        if (p - first > limits->max_slow) {          \
            REFUSE(kind, arg);                       \
        }                                            \
        goto bail;                                   \
    } while (0)
/* The first error the Python pass raises is here (see R_NONE...): refuse, unless more opcodes
 * than max_opcodes came first (Python may have said so at one of its checks in batches). */
#define REFUSE(kind, arg)                                                             \
    do {                                                                              \
        if (ops <= max_opcodes) {                                                     \
            refusal(out, (kind), p - buf, (long long)(arg), protocol, &tally.counts); \
            accepted = REFUSED;                                                       \
        }                                                                             \
        goto bail;                                                                    \
    } while (0)
/* A global's name did not decode (or, for a str constant, is too long to be one: no error
 * set then): refused as `kind`, as the Python pass refuses it; bail when out of memory. */
#define NAME_REFUSED(kind, arg)                                                       \
    do {                                                                              \
        if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {  \
            PyErr_Clear();                                                            \
            REFUSE((kind), (arg));                                                    \
        }                                                                             \
        goto bail;                                                                    \
    } while (0)
/* The opcode has `k` bytes of argument, and they are in the input (and its frame). */
#define NEED(k)                         \
    do {                                \
        if (UNLIKELY(lim - p <= (k))) { \
            RUNOUT();                   \
        }                               \
    } while (0)
/* Payload of `sz` bytes after a `head`-byte opcode and prefix (already there). */
#define NEED_PAYLOAD(head, sz)                               \
    do {                                                     \
        if (UNLIKELY((sz) > (uint64_t)(lim - p - (head)))) { \
            RUNOUT();                                        \
        }                                                    \
    } while (0)
/* Values above the innermost MARK. */
#define SEGMENT (sp - fence)
/* Room for one more value (stack depth: values plus marks, as Limits.max_stack_depth). */
#define ROOM()                                                                      \
    do {                                                                            \
        if (UNLIKELY(sp >= sp_limit)) {                                             \
            if (sp + nmarks >= max_stack) {                                         \
                REFUSE(R_STACK, 0);                                                 \
            }                                                                       \
            if (sp >= stack_cap &&                                                  \
                (grow((void **)&stack, &stack_cap, sp + 1, max_stack,               \
                      sizeof(sym_t)) < 0 ||                                         \
                 grow((void **)&links, &links_cap, stack_cap, max_stack,            \
                      sizeof(Py_ssize_t)) < 0)) {                                   \
                goto bail;                                                          \
            }                                                                       \
            SET_LIMIT();                                                            \
        }                                                                           \
    } while (0)
#define SET_LIMIT()                                                                 \
    do {                                                                            \
        sp_limit = max_stack - nmarks < stack_cap ? max_stack - nmarks : stack_cap; \
    } while (0)
/* The global number `i` is called by this opcode: note the first such opcode */
#define FIRST_CALL(i)                                   \
    do {                                                \
        global_t *const called_ = &g->items[(i)];       \
        called_->called = 1;                            \
        if (called_->first_call_at < 0) {               \
            called_->first_call_at = p - buf;           \
            called_->first_call_op = op;                \
        }                                               \
    } while (0)
/* Push a plain value. */
#define PUSH(v)              \
    do {                     \
        ROOM();              \
        stack[sp++] = (v);   \
    } while (0)
/* The value on top (just pushed, or written in place) is special: on the chain. */
#define LINK_TOP()                               \
    do {                                         \
        if (spec_top != sp) {                    \
            links[sp - 1] = spec_top - 1;        \
            spec_top = sp;                       \
        }                                        \
    } while (0)
/* Push a node (or SYM_HASHY). */
#define PUSH_SPECIAL(v)      \
    do {                     \
        PUSH(v);             \
        LINK_TOP();          \
    } while (0)
/* Push any value. */
#define PUSH_ANY(v)                          \
    do {                                     \
        PUSH(v);                             \
        if (IS_SPECIAL(stack[sp - 1])) {     \
            LINK_TOP();                      \
        }                                    \
    } while (0)
/* Drop the `cnt` values on top, and their slots from the chain. */
#define DROP(cnt)                                \
    do {                                         \
        sp -= (cnt);                             \
        while (spec_top > sp) {                  \
            spec_top = links[spec_top - 1] + 1;  \
        }                                        \
    } while (0)
/* The batch of the `cnt` values at stack[base:], before they are dropped. */
#define BATCH(name, base_, cnt)                                                   \
    const batch_t name = {stack, links, (base_), (cnt), spec_top}
/* A run of the fixed-size push `op`, `step` bytes each: every one but the first still counts
 * as an opcode, needs its bytes and the next opcode's, and room on the stack. */
#define RUN(step)                                                                  \
    do {                                                                           \
        ROOM(); /* before its argument is read, as the Python pass pushes first */ \
        NEED((step) - 1);                                                          \
        stack[sp++] = SYM_DATA;                                                    \
        p += (step);                                                               \
        if (lim - p > (step) && *p == op) {                                        \
            const unsigned char *const last_ = lim - (step);                       \
            sym_t *to_ = stack + sp;                                               \
            sym_t *const stop_ = stack + sp_limit;                                 \
            while (to_ < stop_ && p < last_ && *p == op) {                         \
                *to_++ = SYM_DATA;                                                 \
                p += (step);                                                       \
            }                                                                      \
            ops += to_ - (stack + sp);                                             \
            sp = to_ - stack;                                                      \
        }                                                                          \
    } while (0)
/* Close the innermost MARK, dropping the values above it (verify._pop_segment). */
#define POP_MARK()                                       \
    do {                                                 \
        if (nmarks == 0) {                               \
            REFUSE(R_NO_MARK, op);                       \
        }                                                \
        if (SEGMENT > max_items) {                       \
            REFUSE(R_BATCH, 0);                          \
        }                                                \
        DROP(SEGMENT);                                   \
        nmarks--;                                        \
        fence = nmarks > 0 ? marks[nmarks - 1] : 0;      \
        SET_LIMIT();                                     \
    } while (0)
/* verify._count_push: a memo GET or DUP pushes a global, or a tuple that starts with one */
#define COUNT_PUSH(v)                                                          \
    do {                                                                       \
        if (IS_GLOBAL(v)) {                                                    \
            g->items[SYM_INDEX(v)].pushes += 1;                                \
        }                                                                      \
        else if (IS_NODE(v) && (tally.nodes[SYM_INDEX(v)].df & N_CLASS)) {     \
            g->items[tally.nodes[SYM_INDEX(v)].a].pushes += 1;                 \
        }                                                                      \
    } while (0)
/* verify._changed for APPENDS, SETITEMS, ADDITEMS: `batch` goes into `target`, never
 * a global; SETITEMS hashes every other item (the keys), ADDITEMS all. Nothing happens to a
 * frozen target (a shared tuple: the opcode fails when it runs), nor to a plain value. */
#define CHANGE(target, batch)                                                         \
    do {                                                                              \
        const sym_t target_ = (target);                                               \
        if (IS_GLOBAL(target_)) {                                                     \
            REFUSE(R_MODIFIES_GLOBAL, ((long long)op << 32) | SYM_INDEX(target_));     \
        }                                                                             \
        if (IS_NODE(target_)) {                                                       \
            node_t *const into_ = &tally.nodes[SYM_INDEX(target_)];                   \
            const Py_ssize_t count_ = (batch).count;                                  \
            if (!(into_->df & N_FROZEN)) {                                            \
                mark_mutated(tally.nodes, into_, g->items);                           \
                if ((batch).top <= (batch).base) { /* plain values only */            \
                    if (insert_plain(&tally, into_, count_,                           \
                                     op == 'e' ? 0 : op == 'u' ? count_ / 2 : count_) \
                        < 0) {                                                        \
                        goto bail;                                                    \
                    }                                                                 \
                }                                                                     \
                else if ((mark_filled(into_, g->items, p - buf) &&                    \
                          alias_batch(&tally, SYM_INDEX(target_), &(batch)) < 0) ||   \
                         (op == 'e'                                                   \
                              ? tally_insert(&tally, SYM_INDEX(target_), &(batch)) < 0 \
                              : tally_insert_hash(&tally, SYM_INDEX(target_), &(batch),\
                                                  op == 'u' ? 2 : 1) < 0)) {          \
                    goto bail;                                                        \
                }                                                                     \
            }                                                                         \
        }                                                                             \
    } while (0)
/* The node of the tuple of `batch` (TUPLE1-3, TUPLE): when its first item is a global,
 * a fresh node that remembers it (verify._class_args); a (global, str) pair, the getattr shape,
 * bails. Sets `value`. */
#define MAKE_TUPLE(batch)                                                          \
    do {                                                                           \
        const sym_t first_ = (batch).count > 0 ? stack[(batch).base] : SYM_DATA;   \
        const sym_t second_ = (batch).count > 1 ? stack[(batch).base + 1] : SYM_DATA; \
        if (IS_GLOBAL(first_)) {                                                   \
            if ((batch).count == 2 && IS_STR(second_)) {                           \
                SLOW(R_SLOW_PAIR, op);                                             \
            }                                                                      \
            k = tally_tuple(&tally, &(batch), 0, 1);                               \
            if (k < 0) {                                                           \
                goto bail;                                                         \
            }                                                                      \
            tally.nodes[k].df |= N_CLASS;                                          \
            tally.nodes[k].a = (int32_t)SYM_INDEX(first_);                         \
            if (IS_GLOBAL(second_)) {                                              \
                tally.nodes[k].b = (int32_t)SYM_INDEX(second_);                    \
            }                                                                      \
        }                                                                          \
        else {                                                                     \
            k = tally_tuple(&tally, &(batch), 0, 0);                               \
            if (k < 0) {                                                           \
                goto bail;                                                         \
            }                                                                      \
        }                                                                          \
        value = SYM_NODE(k);                                                       \
    } while (0)
/* PUT: memo[idx] = top. An index past the slots so far leaves holes (SYM_HOLE) up to it, as a
 * dict would have no entries there; one further past than the memo is long (plus 4096) bails:
 * Python's dict holds it in one entry, where this array would need them all. */
#define PUT(idx)                                                                       \
    do {                                                                               \
        const uint64_t idx_ = (uint64_t)(idx);                                         \
        if (UNLIKELY(idx_ >= (uint64_t)max_memo)) {                                    \
            REFUSE(op == 0x94 ? R_MEMO_FULL : R_MEMO_INDEX, idx_);                     \
        }                                                                              \
        if (UNLIKELY(idx_ > 2 * (uint64_t)memo_entries + 4096)) {                      \
            SLOW(R_SLOW_MEMO_INDEX, idx_); /* an array would need every slot below */  \
        }                                                                              \
        if (UNLIKELY(SEGMENT <= 0)) {                                                  \
            REFUSE(R_UNDERFLOW, op);                                                   \
        }                                                                              \
        if (LIKELY(idx_ == (uint64_t)memo_len && memo_len < memo_cap)) {               \
            /* the next index, room for it: entries <= slots <= memo_cap <= max_memo */    \
            memo[memo_len++] = stack[sp - 1];                                          \
            memo_entries++;                                                            \
            break;                                                                     \
        }                                                                              \
        if (idx_ >= (uint64_t)memo_len) {                                              \
            if (UNLIKELY((Py_ssize_t)idx_ >= memo_cap) &&                              \
                grow((void **)&memo, &memo_cap, (Py_ssize_t)idx_ + 1, max_memo,        \
                     sizeof(sym_t)) < 0) {                                             \
                goto bail;                                                             \
            }                                                                          \
            while (memo_len < (Py_ssize_t)idx_) {                                      \
                memo[memo_len++] = SYM_HOLE;                                           \
            }                                                                          \
            memo_len++;                                                                \
            memo_entries++;                                                            \
        }                                                                              \
        else if (memo[idx_] == SYM_HOLE) {                                             \
            memo_entries++;                                                            \
        }                                                                              \
        if (UNLIKELY(memo_entries > max_memo)) {                                       \
            goto bail;                                                                 \
        }                                                                              \
        memo[idx_] = stack[sp - 1];                                                    \
    } while (0)
#define GET(idx)                                                  \
    do {                                                          \
        if (UNLIKELY((uint64_t)(idx) >= (uint64_t)memo_len ||     \
                     (value = memo[(idx)]) == SYM_HOLE)) {        \
            REFUSE(R_NEVER_WRITTEN, (idx));                       \
        }                                                         \
        COUNT_PUSH(value);                                     \
        PUSH_ANY(value);                                       \
    } while (0)

    if (start < 0 || start >= n) {
        goto bail;
    }
    /* The node table and the memo start at a size proportional to the input (a pickle makes
     * a node every dozen bytes or so, a memo entry every few), so that a large stream needs
     * few reallocations, each a copy of everything so far: at most 32 + 16 MB, of which only
     * what is written is touched. Then the shared FLAT_TUPLES nodes, and a stack that is
     * never NULL. */
    {
        const Py_ssize_t size = n - start;
        const Py_ssize_t nodes = size / 16 < 64   ? 64
                                 : size / 16 > (1 << 20) ? (1 << 20)
                                                         : size / 16;
        Py_ssize_t entries = size / 8 < 64 ? 64 : size / 8 > (1 << 21) ? (1 << 21) : size / 8;

        entries = entries < max_memo ? entries : max_memo;
        if (grow((void **)&tally.nodes, &tally.cap, nodes, PY_SSIZE_T_MAX, sizeof(node_t)) < 0 ||
            grow((void **)&memo, &memo_cap, entries, max_memo, sizeof(sym_t)) < 0) {
            goto bail;
        }
    }
    for (index = 0; index < FLAT_NODES; index++) {
        if (node_new(&tally, 1, (uint64_t)index + 1, (uint64_t)index + 1, (uint32_t)index,
                     N_FROZEN, -1) < 0) {
            goto bail;
        }
    }
    if (grow((void **)&stack, &stack_cap, 1, max_stack, sizeof(sym_t)) < 0 ||
        grow((void **)&links, &links_cap, stack_cap, max_stack, sizeof(Py_ssize_t)) < 0) {
        goto bail;
    }
    p = first = buf + start;
    for (;;) {
        if (UNLIKELY(p >= lim)) {
            if (lim == end) {
                /* Python says "truncated" too, unless it counted too many opcodes first */
                REFUSE(R_TRUNCATED, 0);
            }
            if (p != lim) { /* never: every opcode is read within its frame */
                goto bail;
            }
            lim = end; /* the frame ended between two opcodes: read on, unframed */
            continue;
        }
        ops++; /* max_opcodes is checked at the end, as Python's pass checks it */
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
        case ')':  /* EMPTY_TUPLE: a plain value (depth 0) */
            PUSH(SYM_DATA);
            p += 1;
            break;
        case ']':  /* EMPTY_LIST */
        case '}':  /* EMPTY_DICT */
        case 0x8f: /* EMPTY_SET */
            ROOM();
            k = node_new(&tally, 1, 1, 1, 0, 0, -1);
            if (k < 0) {
                goto bail;
            }
            if (op == 0x8f) {
                tally.counts.empty_sets++;
            }
            links[sp] = spec_top - 1;
            stack[sp++] = SYM_NODE(k);
            spec_top = sp;
            p += 1;
            break;

        /* str constants: STACK_GLOBAL and the getattr shape may need them */
        case 0x8c: /* SHORT_BINUNICODE */
            NEED(1);
            size = p[1];
            ROOM(); /* the Python pass pushes before it reads the payload */
            NEED_PAYLOAD(2, size);
            PUSH(SYM_STR(p - buf));
            p += 2 + size;
            break;
        case 'X': /* BINUNICODE */
            NEED(4);
            size = read_u32(p + 1);
            ROOM(); /* the Python pass pushes before it reads the payload */
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
        case 'C': /* SHORT_BINBYTES */
            NEED(1);
            size = p[1];
            ROOM(); /* the Python pass pushes before it reads the payload */
            NEED_PAYLOAD(2, size);
            PUSH(SYM_DATA);
            p += 2 + size;
            break;
        case 0x8a: /* LONG1: of 8 bytes or more, an int whose hash the stream chooses */
            NEED(1);
            size = p[1];
            ROOM(); /* the Python pass pushes before it reads the payload */
            NEED_PAYLOAD(2, size);
            if (size > 7) {
                PUSH_SPECIAL(SYM_HASHY);
            }
            else {
                PUSH(SYM_DATA);
            }
            p += 2 + size;
            break;
        case 'B':  /* BINBYTES */
        case 0x8b: /* LONG4: a signed length; always a hash the stream chooses */
            NEED(4);
            size = read_u32(p + 1);
            if (op == 0x8b && size >= ((uint64_t)1 << 31)) {
                REFUSE(R_NEGATIVE_SIZE, op);
            }
            if (op == 0x8b && size > 256) { /* an int hashing it walks (verify._big_int) */
                SLOW(R_SLOW_BIG_INT, 0);
            }
            ROOM(); /* the Python pass pushes before it reads the payload */
            NEED_PAYLOAD(5, size);
            if (op == 0x8b) {
                PUSH_SPECIAL(SYM_HASHY);
            }
            else {
                PUSH(SYM_DATA);
            }
            p += 5 + size;
            break;
        case 'U': /* SHORT_BINSTRING: a Python 2 str */
        case 'T': /* BINSTRING: its length is signed */
            if (limits->binstrings == 0) {
                SLOW(R_SLOW_OPCODE, op);
            }
            if (op == 'U') {
                NEED(1);
                size = p[1];
                count = 2;
            }
            else {
                NEED(4);
                size = read_u32(p + 1);
                if (size >= ((uint64_t)1 << 31)) {
                    REFUSE(R_NEGATIVE_SIZE, op);
                }
                count = 5;
            }
            /* verify._check_binstring: decoded as the caller said, when it is all there */
            if (limits->binstrings == 2 && size <= (uint64_t)(lim - p - count)) {
                for (index = 0; index < (Py_ssize_t)size; index++) {
                    if (p[count + index] & 0x80) {
                        REFUSE(R_BINSTRING, 0);
                    }
                }
            }
            ROOM(); /* the Python pass pushes before it reads the payload */
            NEED_PAYLOAD(count, size);
            stack[sp++] = SYM_DATA;
            p += count + size;
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
            PUT(memo_entries); /* Python's memo[len(memo)] */
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
            if (nmarks >= limits->max_nesting) { /* verify._check_marks: nesting first */
                REFUSE(R_NESTING, 0);
            }
            if (sp + nmarks >= max_stack) {
                REFUSE(R_STACK, 0);
            }
            if (nmarks >= marks_cap &&
                grow((void **)&marks, &marks_cap, nmarks + 1, max_stack, sizeof(Py_ssize_t)) <
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
        {
            tally.op_at = p; /* where a value nested too deep is refused (too_deep) */
            /* the items stay in stack[fence:fence + count] after the MARK is closed */
            BATCH(items, fence, SEGMENT);

            POP_MARK();
            if (op == 'u' && (items.count & 1)) {
                REFUSE(R_ODD, op);
            }
            if (SEGMENT <= 0) {
                REFUSE(R_UNDERFLOW, op);
            }
            CHANGE(stack[sp - 1], items);
            p += 1;
            break;
        }
        case 'a': /* APPEND */
            tally.op_at = p; /* where a value nested too deep is refused (too_deep) */
            if (SEGMENT < 2) {
                REFUSE(R_UNDERFLOW, op);
            }
            value = stack[sp - 2];
            if (IS_GLOBAL(value)) {
                REFUSE(R_MODIFIES_GLOBAL, ((long long)op << 32) | SYM_INDEX(value));
            }
            if (IS_NODE(value) && !(tally.nodes[SYM_INDEX(value)].df & N_FROZEN)) {
                node_t *const into = &tally.nodes[SYM_INDEX(value)];

                mark_mutated(tally.nodes, into, g->items);
                if (IS_NODE(stack[sp - 1]) && mark_filled(into, g->items, p - buf) &&
                    add_alias(&tally, SYM_INDEX(value), stack[sp - 1]) < 0) {
                    goto bail;
                }
                if (insert_one(&tally, &tally.nodes[SYM_INDEX(value)], stack[sp - 1]) < 0) {
                    goto bail;
                }
            }
            DROP(1);
            p += 1;
            break;
        case 's': /* SETITEM */
            tally.op_at = p; /* where a value nested too deep is refused (too_deep) */
            if (SEGMENT < 3) {
                REFUSE(R_UNDERFLOW, op);
            }
            value = stack[sp - 3];
            if (IS_GLOBAL(value)) {
                REFUSE(R_MODIFIES_GLOBAL, ((long long)op << 32) | SYM_INDEX(value));
            }
            if (IS_NODE(value) && !(tally.nodes[SYM_INDEX(value)].df & N_FROZEN)) {
                node_t *const into = &tally.nodes[SYM_INDEX(value)];

                mark_mutated(tally.nodes, into, g->items);
                if ((IS_NODE(stack[sp - 2]) || IS_NODE(stack[sp - 1])) &&
                    mark_filled(into, g->items, p - buf) &&
                    (add_alias(&tally, SYM_INDEX(value), stack[sp - 2]) < 0 ||
                     add_alias(&tally, SYM_INDEX(value), stack[sp - 1]) < 0)) {
                    goto bail;
                }
                if (insert_pair(&tally, &tally.nodes[SYM_INDEX(value)], stack[sp - 2],
                                stack[sp - 1]) < 0) {
                    goto bail;
                }
            }
            DROP(2);
            p += 1;
            break;
        case 0x85: /* TUPLE1 */
        case 0x86: /* TUPLE2 */
        case 0x87: /* TUPLE3 */
            tally.op_at = p; /* where a value nested too deep is refused (too_deep) */
            count = op - 0x84;
            if (SEGMENT < count) {
                REFUSE(R_UNDERFLOW, op);
            }
            if (spec_top <= sp - count && !IS_GLOBAL(stack[sp - count])) {
                value = SYM_NODE(count); /* plain values: FLAT_TUPLES[count] */
            }
            else {
                BATCH(items, sp - count, count);

                MAKE_TUPLE(items);
            }
            DROP(count);
            PUSH_SPECIAL(value);
            p += 1;
            break;
        case 't':  /* TUPLE */
        case 'l':  /* LIST */
        case 'd':  /* DICT */
        case 0x91: /* FROZENSET */
        {
            tally.op_at = p; /* where a value nested too deep is refused (too_deep) */
            BATCH(items, fence, SEGMENT);

            POP_MARK(); /* the items stay in stack[fence:fence + count] */
            if (op == 'd' && (items.count & 1)) {
                REFUSE(R_ODD, op);
            }
            if (op == 't') {
                MAKE_TUPLE(items);
            }
            else if (op == 0x91) { /* hashes its items */
                tally.counts.empty_sets++;
                if (tally_hash(&tally, &items, 1) < 0) {
                    goto bail;
                }
                k = tally_tuple(&tally, &items, 1, 0);
                if (k < 0) {
                    goto bail;
                }
                value = SYM_NODE(k);
            }
            else { /* Tally.container; DICT hashes its keys */
                k = node_new(&tally, 1, 1, 1, 0, 0, -1);
                if (k < 0 || (items.count > 0 && tally_insert(&tally, k, &items) < 0) ||
                    (op == 'd' && tally_hash(&tally, &items, 2) < 0)) {
                    goto bail;
                }
                value = SYM_NODE(k);
            }
            PUSH_SPECIAL(value);
            p += 1;
            break;
        }
        case '0': /* POP: pops the MARK itself when one sits on top */
            if (SEGMENT == 0 && nmarks > 0) {
                nmarks--;
                fence = nmarks > 0 ? marks[nmarks - 1] : 0;
                SET_LIMIT();
            }
            else if (SEGMENT > 0) {
                DROP(1);
            }
            else {
                REFUSE(R_UNDERFLOW, op);
            }
            p += 1;
            break;
        case '1': /* POP_MARK */
            POP_MARK();
            p += 1;
            break;
        case '2': /* DUP */
            if (SEGMENT <= 0) {
                REFUSE(R_UNDERFLOW, op);
            }
            value = stack[sp - 1];
            COUNT_PUSH(value);
            PUSH_ANY(value);
            p += 1;
            break;

        /* calls and state */
        case 'R':  /* REDUCE */
        case 0x81: /* NEWOBJ */
            if (SEGMENT < 2) {
                REFUSE(R_UNDERFLOW, op);
            }
            if (!IS_GLOBAL(stack[sp - 2])) {
                REFUSE(R_CALLS_NON_GLOBAL, op);
            }
            index = SYM_INDEX(stack[sp - 2]);
            FIRST_CALL(index);
            value = stack[sp - 1];
            if (op == 'R' && IS_NODE(value) && (tally.nodes[SYM_INDEX(value)].df & N_CLASS)) {
                /* copyreg's constructors given builtins.range return a range */
                global_t *const parent = &g->items[tally.nodes[SYM_INDEX(value)].a];

                parent->called = 1;
                if (parent->first_parent_at < 0) {
                    parent->first_parent_at = p - buf;
                }
            }
            k = tally_call(&tally, (int32_t)index, g->items[index].result_flags,
                           g->items[index].iterates, value);
            if (k < 0) {
                goto bail;
            }
            DROP(1);
            stack[sp - 1] = SYM_NODE(k);
            LINK_TOP();
            p += 1;
            break;
        case 0x92: /* NEWOBJ_EX cls args kwargs */
            tally.op_at = p; /* where a value nested too deep is refused (too_deep) */
            if (SEGMENT < 3) {
                REFUSE(R_UNDERFLOW, op);
            }
            if (!IS_GLOBAL(stack[sp - 3])) {
                REFUSE(R_CALLS_NON_GLOBAL, op);
            }
            index = SYM_INDEX(stack[sp - 3]);
            FIRST_CALL(index);
            {
                BATCH(items, sp - 2, 2);

                k = tally_call_with_items(&tally, (int32_t)index, g->items[index].result_flags,
                                          &items);
            }
            if (k < 0) {
                goto bail;
            }
            DROP(2);
            stack[sp - 1] = SYM_NODE(k);
            LINK_TOP();
            p += 1;
            break;
        case 'o': /* OBJ: MARK cls *args OBJ */
        {
            tally.op_at = p; /* where a value nested too deep is refused (too_deep) */
            BATCH(items, fence + 1, SEGMENT - 1); /* after the class */

            POP_MARK(); /* the items stay in stack[fence:fence + count] */
            if (items.count < 0) {
                REFUSE(R_UNDERFLOW, op);
            }
            if (!IS_GLOBAL(stack[items.base - 1])) {
                REFUSE(R_CALLS_NON_GLOBAL, op);
            }
            index = SYM_INDEX(stack[items.base - 1]);
            FIRST_CALL(index);
            k = tally_call_with_items(&tally, (int32_t)index, g->items[index].result_flags,
                                      &items);
            if (k < 0) {
                goto bail;
            }
            PUSH_SPECIAL(SYM_NODE(k));
            p += 1;
            break;
        }
        case 'b': /* BUILD: the state goes into the instance, its items are copied */
            tally.op_at = p; /* where a value nested too deep is refused (too_deep) */
            if (SEGMENT < 2) {
                REFUSE(R_UNDERFLOW, op);
            }
            value = stack[sp - 2];
            if (IS_GLOBAL(value)) {
                REFUSE(R_MODIFIES_GLOBAL, ((long long)op << 32) | SYM_INDEX(value));
            }
            if (IS_NODE(value)) { /* Tally.build (a frozen target gets nothing more) */
                const sym_t state = stack[sp - 1];
                node_t *const into = &tally.nodes[SYM_INDEX(value)];

                if (IS_NODE(state)) {
                    tally.counts.build_items += tally.nodes[SYM_INDEX(state)].items;
                    if (tally.counts.build_items > ((Py_ssize_t)1 << 62)) {
                        goto bail;
                    }
                }
                if (!(into->df & N_FROZEN)) {
                    mark_mutated(tally.nodes, into, g->items);
                    if (insert_one(&tally, into, state) < 0) {
                        goto bail;
                    }
                }
            }
            DROP(1);
            p += 1;
            break;

        /* globals */
        case 'c': { /* GLOBAL module\nname\n */
            const unsigned char *module, *name, *nl;
            PyObject *module_str, *name_str;
            Py_ssize_t found;

            module = p + 1;
            nl = module < lim ? memchr(module, '\n', (size_t)(lim - module)) : NULL;
            if (nl == NULL) {
                RUNOUT();
            }
            name = nl + 1;
            nl = name < lim ? memchr(name, '\n', (size_t)(lim - name)) : NULL;
            if (nl == NULL) {
                RUNOUT();
            }
            module_str = PyUnicode_DecodeUTF8((const char *)module, name - 1 - module, NULL);
            if (module_str == NULL) {
                NAME_REFUSED(R_NAME_NOT_UTF8, 0);
            }
            name_str = PyUnicode_DecodeUTF8((const char *)name, nl - name, NULL);
            if (name_str == NULL) {
                Py_DECREF(module_str);
                NAME_REFUSED(R_NAME_NOT_UTF8, 0);
            }
            found = make_global(g, module_str, name_str, p - buf, "GLOBAL",
                                limits->max_globals, limits->max_name, limits->name_budget);
            if (found < -1) {
                REFUSE(MG_REFUSAL(found), g->name_chars);
            }
            if (found < 0) {
                goto bail;
            }
            ROOM(); /* after the name: the Python pass pushes the global it made */
            stack[sp++] = SYM_GLOBAL(found);
            p = nl + 1;
            break;
        }
        case 0x93: { /* STACK_GLOBAL */
            PyObject *module_str, *name_str;
            Py_ssize_t found;

            if (SEGMENT < 2) {
                REFUSE(R_UNDERFLOW, op);
            }
            if (!IS_STR(stack[sp - 2]) || !IS_STR(stack[sp - 1])) {
                REFUSE(R_STACK_GLOBAL_OPERANDS, 0);
            }
            /* a str that is too long, or not UTF-8: Python's _decode_str says which */
            module_str = decode_str_at(buf, SYM_INDEX(stack[sp - 2]), limits->max_name);
            if (module_str == NULL) {
                NAME_REFUSED(R_NAME_DECODE, SYM_INDEX(stack[sp - 2]));
            }
            name_str = decode_str_at(buf, SYM_INDEX(stack[sp - 1]), limits->max_name);
            if (name_str == NULL) {
                Py_DECREF(module_str);
                NAME_REFUSED(R_NAME_DECODE, SYM_INDEX(stack[sp - 1]));
            }
            found = make_global(g, module_str, name_str, p - buf, "STACK_GLOBAL",
                                limits->max_globals, limits->max_name, limits->name_budget);
            if (found < -1) {
                REFUSE(MG_REFUSAL(found), g->name_chars);
            }
            if (found < 0) {
                goto bail;
            }
            DROP(1);
            stack[sp - 1] = SYM_GLOBAL(found);
            p += 1;
            break;
        }

        /* framing, protocol, buffers, the end */
        case 0x80: /* PROTO */
            if (p != first) { /* checked before its argument is read, as in Python */
                REFUSE(R_PROTO_NOT_FIRST, 0);
            }
            NEED(1);
            if (p[1] > HIGHEST_PROTOCOL) {
                REFUSE(R_PROTO_UNSUPPORTED, p[1]);
            }
            protocol = p[1];
            p += 2;
            break;
        case 0x95: { /* FRAME (verify._frame) */
            const Py_ssize_t pos = p - buf;

            /* only where the current frame ends, or filling its last 9 bytes */
            if (pos < frame_end && pos + 9 != frame_end) {
                REFUSE(R_FRAME_MISPLACED, 0);
            }
            NEED(8);
            size = read_u64(p + 1);
            if (size > (uint64_t)(end - p - 9)) { /* past the input */
                RUNOUT();
            }
            framed = 1;
            frame_end = pos + 9 + (Py_ssize_t)size;
            p += 9;
            lim = buf + frame_end;
            break;
        }
        case 0x97: /* NEXT_BUFFER */
            PUSH(SYM_DATA);
            buffers++;
            p += 1;
            break;
        case 0x98: /* READONLY_BUFFER */
            if (SEGMENT <= 0) {
                REFUSE(R_UNDERFLOW, op);
            }
            p += 1;
            break;
        case 0x51: /* BINPERSID: the id on top becomes what the plugin returns, plain data */
            if (!limits->persistent_ok) {
                REFUSE(R_NO_PERSISTENT_LOAD, op);
            }
            if (SEGMENT <= 0) {
                REFUSE(R_UNDERFLOW, op);
            }
            stack[sp - 1] = SYM_DATA;
            persistent++;
            p += 1;
            break;
        case '.': /* STOP; the rest of its frame is read too */
            if (SEGMENT <= 0) {
                REFUSE(R_UNDERFLOW, op);
            }
            if (ops > max_opcodes) {
                goto bail;
            }
            out->end = (p - buf) + 1 > frame_end ? (p - buf) + 1 : frame_end;
            out->opcodes = ops;
            out->buffers = buffers;
            out->persistent = persistent;
            out->protocol = protocol;
            out->framed = framed;
            out->counts = tally.counts;
            out->counts.memo_entries = memo_entries;
            out->counts.memo_slots = memo_len;
            if (tally.late && tally.counts.too_deep == 0 &&
                (out->counts.graph_depth = graph_depth(&tally)) < 0) {
                goto bail; /* no memory: Python decides */
            }
            accepted = 1;
            goto bail;

        default: /* protocol 0 text, Python 2 str, EXT, persistent ids, INST, ... */
            if (op >= 0x82 && op <= 0x84) {
                REFUSE(R_EXT, op);
            }
            if (op == 0 || strchr(OPCODES, op) == NULL) {
                REFUSE(R_INVALID, op);
            }
            SLOW(R_SLOW_OPCODE, op);
        }
    }

bail:
    if (PyErr_Occurred()) { /* no memory: Python decides */
        PyErr_Clear();
    }
    else if (accepted == 0 && tally.counts.hash_work > tally.max_hash_work &&
             ops <= max_opcodes) {
        /* a tally function stopped on hashing past max_hash_work (Tally.hash_keys), which
         * is the first error: the walk stops at every other one */
        refusal(out, R_HASH_WORK, p - buf, 0, protocol, &tally.counts);
        accepted = REFUSED;
    }
    PyMem_Free(stack);
    PyMem_Free(links);
    PyMem_Free(marks);
    PyMem_Free(memo);
    PyMem_Free(tally.nodes);
    PyMem_Free(tally.edges);
    PyMem_Free(tally.aliases);
    return accepted;

#undef RUNOUT
#undef REFUSE
#undef NAME_REFUSED
#undef SLOW
#undef NEED
#undef NEED_PAYLOAD
#undef SEGMENT
#undef ROOM
#undef SET_LIMIT
#undef PUSH
#undef LINK_TOP
#undef PUSH_SPECIAL
#undef BATCH
#undef PUSH_ANY
#undef DROP
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
    PyObject *uses, *use, *counts, *refusal, *result;
    const counts_t *c = &out->counts;
    Py_ssize_t i;

    uses = PyTuple_New(g->len);
    if (uses == NULL) {
        return NULL;
    }
    for (i = 0; i < g->len; i++) {
        const global_t *item = &g->items[i];

        use = Py_BuildValue("(OOnsnOinini)", item->module, item->name, item->offset,
                            item->opcode, item->pushes, item->called ? Py_True : Py_False,
                            item->mutated, item->first_call_at, item->first_call_op,
                            item->first_parent_at, item->first_filled_at);
        if (use == NULL) {
            Py_DECREF(uses);
            return NULL;
        }
        PyTuple_SET_ITEM(uses, i, use);
    }
    /* hash_work is at most max_hash_work, a Py_ssize_t */
    counts = Py_BuildValue("(nnnnnnnnnn)", (Py_ssize_t)c->hash_work, c->unknown_keys, c->calls,
                           c->empty_sets, c->build_items, c->memo_entries, c->memo_slots,
                           c->graph_depth, c->too_deep, c->too_deep_at);
    if (counts == NULL) {
        Py_DECREF(uses);
        return NULL;
    }
    if (out->refusal != R_NONE) {
        refusal = Py_BuildValue("(inL)", out->refusal, out->refused_at, out->refusal_arg);
    }
    else {
        refusal = Py_NewRef(Py_None);
    }
    if (refusal == NULL) {
        Py_DECREF(uses);
        Py_DECREF(counts);
        return NULL;
    }
    result = Py_BuildValue("(niOnnOnOO)", out->end, out->protocol,
                           out->framed ? Py_True : Py_False, out->opcodes, out->buffers, uses,
                           out->persistent, counts, refusal);
    Py_DECREF(refusal);
    Py_DECREF(uses);
    Py_DECREF(counts);
    return result;
}

#define NUMBERS 13 /* start, n and the eleven limits */

PyDoc_STRVAR(fast_verify_doc,
"fast_verify(data, start, n, max_opcodes, max_stack_depth, max_nesting, max_memo_entries,\n"
"            max_container_items, max_globals, max_name_bytes, max_name_budget, max_depth,\n"
"            max_hash_work, persistent_ok, /)\n"
"--\n"
"\n"
"Walk the pickle at data[start:n] on the accepting path of safepickle.verify.\n"
"\n"
"Returns None when the stream needs the Python verifier (rare opcodes and shapes, errors whose\n"
"message needs it), else (end, protocol, framed, opcodes, out_of_band_buffers, globals,\n"
"persistent_ids, counts, refusal); refusal is None when the stream is accepted, else\n"
"(kind, offset, arg): the first error the Python pass raises (see R_NONE in the source), and\n"
"end is -1, the globals and counts those seen so far. globals are (module, name, offset, opcode, pushes, called, mutated) in\n"
"order of first appearance; counts are (hash_work, unknown_keys, calls, empty_sets,\n"
"build_items, memo_entries, memo_slots, graph_depth, too_deep, too_deep_at), as\n"
"safepickle._nodes.Tally and the memo count them (graph_depth: after a late insertion, else 0;\n"
"too_deep: the depth that first went past max_depth, built by the opcode at too_deep_at);\n"
"mutated has bit 1 set when a value a call returned was changed, bit 2 when a node went into\n"
"one by APPEND(S), SETITEM(S) or ADDITEMS.\n"
"BINPERSID is accepted only when persistent_ok is true.");

static PyObject *
fast_verify(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t numbers[NUMBERS];
    limits_t limits;
    Py_buffer view;
    globals_t g = {NULL, 0, 0, NULL, 0};
    outcome_t out;
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
    limits.max_stack = numbers[3];
    limits.max_nesting = numbers[4];
    limits.max_memo = numbers[5];
    limits.max_items = numbers[6];
    limits.max_globals = numbers[7];
    limits.max_name = numbers[8];
    limits.name_budget = numbers[9];
    limits.max_depth = numbers[10];
    limits.max_hash_work = numbers[11];
    limits.max_slow = numbers[12];
    {
        /* flags: bit 0 persistent ids resolved; bits 1-2 how Python 2 strs decode */
        const long flags = PyLong_AsLong(args[NUMBERS + 1]);

        if (flags == -1 && PyErr_Occurred()) {
            return NULL;
        }
        limits.persistent_ok = (int)(flags & 1);
        limits.binstrings = (int)((flags >> 1) & 3);
    }
    memset(&out, 0, sizeof(out));
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    n = numbers[1] < view.len ? numbers[1] : view.len;
    accepted = walk((const unsigned char *)view.buf, numbers[0], n, &limits, &g, &out);
    PyBuffer_Release(&view);
    if (accepted != 1 && accepted != REFUSED) {
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
