"""Type stub of the optional C extension ``safepickle._speedups`` (see ``_speedups.c``)."""

#: (module, name, offset, opcode name, pushes, called (by REDUCE/NEWOBJ/NEWOBJ_EX/OBJ, or the
#: class first in a REDUCE's arguments), mutated (bit 1: a value a call returned was changed,
#: bit 2: a node went into one), the offset of the first call and its opcode, the offset of the
#: first REDUCE that passed it first, the offset of the first opcode that put a node into a
#: value it returned; -1 where there was none), in order of first appearance
_Use = tuple[str, str, int, str, int, bool, int, int, int, int, int]
#: what ``safepickle._nodes.Tally`` and the memo counted: (hash_work, unknown_keys, calls,
#: empty_sets, build_items, memo_entries, memo_slots, graph_depth, too_deep, too_deep_at)
_Counts = tuple[int, int, int, int, int, int, int, int, int, int]
#: (kind, offset, argument): the first error the Python pass raises (``verify._refusal``)
_Refusal = tuple[int, int, int]

def fast_verify(
    data: bytes | bytearray,
    start: int,
    n: int,
    max_opcodes: int,
    max_stack_depth: int,
    max_nesting: int,
    max_memo_entries: int,
    max_container_items: int,
    max_globals: int,
    max_name_bytes: int,
    max_name_budget: int,
    max_depth: int,
    max_hash_work: int,
    max_slow_path_bytes: int,
    flags: int,
    /,
) -> tuple[int, int, bool, int, int, tuple[_Use, ...], int, _Counts, _Refusal | None] | None:
    """The compiled pass of ``safepickle.verify``: the stream's (end, protocol, framed,
    opcodes, out-of-band buffers, globals, persistent ids, counts, refusal), or None when the
    Python verifier must decide (what only it handles, within ``max_slow_path_bytes``). A
    refusal is the first error the Python pass raises (then ``end`` is -1). ``flags``: bit 0,
    BINPERSID is accepted (a plugin resolves persistent ids); bits 1-2, how Python 2 strs
    decode (``verify._binstring_mode``)."""
