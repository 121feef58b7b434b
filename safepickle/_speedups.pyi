"""Type stub of the optional C extension ``safepickle._speedups`` (see ``_speedups.c``)."""

#: (module, name, offset, opcode name, pushes, called (by REDUCE/NEWOBJ/NEWOBJ_EX/OBJ, or the
#: class first in a REDUCE's arguments), mutated), in order of first appearance
_Use = tuple[str, str, int, str, int, bool, bool]
#: what ``safepickle._nodes.Tally`` and the memo counted: (hash_work, unknown_keys, calls,
#: empty_sets, build_items, memo_entries, memo_slots)
_Counts = tuple[int, int, int, int, int, int, int]

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
    persistent_ok: bool,
    /,
) -> tuple[int, int, bool, int, int, tuple[_Use, ...], int, _Counts] | None:
    """The accepting path of ``safepickle.verify``: the stream's (end, protocol, framed,
    opcodes, out-of-band buffers, globals, persistent ids, counts), or None when the Python
    verifier must decide (errors, limits, rare opcodes, late insertions); ``end`` is -1 when the
    input ended before the stream did. BINPERSID is accepted only with ``persistent_ok``."""
