"""The hard floor: globals no policy can allow.

These are the code-execution, import, file, process and network primitives behind every known
pickle exploit, plus the loaders that would unpickle again without our checks. The floor lives
in core, not in a plugin, so no plugin or allow-list can lift it; errors about floor items never
suggest allowing them. It is checked twice: on the canonical name before anything is imported,
and on the resolved object's own ``__module__``/``__qualname__`` after import, which catches
re-exports (``mypkg.run`` that is really ``subprocess.run``).
"""

from __future__ import annotations

from .decision import GlobalRef

__all__ = ["FLOOR_MODULES", "FLOOR_NAMES", "floor_reason"]

#: Modules (and every submodule) none of whose members may be loaded.
FLOOR_MODULES: frozenset[str] = frozenset(
    {
        # process, OS and interpreter control
        "os", "posix", "nt", "posixpath", "ntpath", "subprocess", "_posixsubprocess", "pty",
        "sys", "signal", "resource", "fcntl", "mmap", "gc", "ctypes", "_ctypes", "cffi",
        "multiprocessing", "_multiprocessing", "concurrent", "threading", "_thread", "asyncio",
        "atexit", "faulthandler", "tracemalloc", "sysconfig", "site", "platform",
        # import machinery and code objects
        "importlib", "imp", "pkgutil", "zipimport", "runpy", "code", "codeop", "types", "marshal",
        "inspect", "ast", "dis", "compileall", "py_compile", "pydoc", "bdb", "pdb", "trace",
        "timeit", "cProfile", "profile", "doctest", "unittest", "linecache", "tokenize",
        "_imp", "_frozen_importlib", "_frozen_importlib_external", "builtins.__import__",
        # other deserialisers that would run an unrestricted unpickle
        "pickle", "_pickle", "pickletools", "copyreg._reconstructor_unsafe", "dill",
        "cloudpickle", "joblib", "shelve", "dbm", "jsonpickle", "yaml", "torch.serialization",
        "torch._weights_only_unpickler", "numpy.testing", "numpy.f2py", "numpy.distutils",
        "numpy.lib.npyio", "torch.jit", "torch.hub", "torch.package", "torch.utils.cpp_extension",
        "pandas.io",
        # files, network, browsers, shells
        "io", "_io", "shutil", "tempfile", "glob", "fileinput", "filecmp", "zipfile", "tarfile",
        "socket", "_socket", "ssl", "select", "selectors", "http", "urllib", "ftplib", "smtplib",
        "poplib", "imaplib", "nntplib", "telnetlib", "xmlrpc", "socketserver", "webbrowser",
        "_pyio", "_compression", "mailbox", "sqlite3", "logging", "distutils", "setuptools",
        "pip", "ensurepip", "venv", "cmd",
        "idlelib", "tkinter", "turtle", "curses", "readline", "rlcompleter",
        # py2 spellings, for streams read with fix_imports=False
        "__builtin__", "commands", "cPickle", "copy_reg", "dummy_threading", "thread", "popen2",
        "urllib2", "httplib", "SocketServer", "SimpleHTTPServer", "cStringIO", "StringIO",
    }
)  # fmt: skip

#: Exact names (and anything nested under them) that may never be loaded.
FLOOR_NAMES: frozenset[str] = frozenset(
    {
        "builtins.eval", "builtins.exec", "builtins.compile", "builtins.__import__",
        "builtins.getattr", "builtins.setattr", "builtins.delattr", "builtins.hasattr",
        "builtins.vars", "builtins.globals", "builtins.locals", "builtins.dir", "builtins.open",
        "builtins.input", "builtins.breakpoint", "builtins.help", "builtins.exit",
        "builtins.quit", "builtins.copyright", "builtins.credits", "builtins.license",
        "builtins.print", "builtins.memoryview", "builtins.type", "builtins.super",
        "builtins.classmethod", "builtins.staticmethod", "builtins.property", "builtins.id",
        "builtins.iter", "builtins.next", "builtins.map", "builtins.filter", "builtins.apply",
        "builtins.execfile", "builtins.reload", "builtins.file", "builtins.__build_class__",
        "builtins.object.__reduce__", "builtins.object.__reduce_ex__",
        "operator.attrgetter", "operator.methodcaller", "operator.itemgetter",
        "operator.call", "_operator.attrgetter", "_operator.methodcaller",
        "_operator.itemgetter", "_operator.call",
        "functools.partial", "functools.reduce", "functools.partialmethod",
        "functools.singledispatch", "functools.cached_property", "_functools.partial",
        "_functools.reduce",
        "weakref.finalize", "weakref.ref", "weakref.proxy", "_weakref.ref", "_weakref.proxy",
        "copyreg.add_extension", "copyreg.remove_extension", "copyreg.pickle",
        "copyreg.constructor", "copyreg.dispatch_table",
        "codecs.open", "codecs.lookup", "codecs.register", "codecs.getreader",
        "codecs.getwriter", "codecs.EncodedFile", "_codecs.lookup", "_codecs.register",
        # concrete paths' methods open, create, delete and list files (the classes' own names
        # are checked after import too, so PosixPath.touch is caught as Path.touch)
        "pathlib.Path", "pathlib._local.Path", "pathlib._abc.PathBase",
        "gzip.open", "gzip.GzipFile", "bz2.open", "bz2.BZ2File", "lzma.open", "lzma.LZMAFile",
        "wave.open", "tokenize.open", "netrc.netrc", "mimetypes.read_mime_types",
        "mimetypes.init", "pstats.Stats", "configparser.ConfigParser.read",
        "numpy.load", "numpy.loadtxt", "numpy.genfromtxt", "numpy.fromfile", "numpy.save",
        "numpy.memmap", "numpy.ctypeslib",
        "numpy.lib.format.read_array", "numpy.lib.format.open_memmap",
        "pandas.read_pickle", "pandas.read_csv", "pandas.read_json", "pandas.read_sql",
        "pandas.eval", "pandas.core.computation.eval.eval", "pandas.io.pickle.read_pickle",
        "torch.load", "torch.save", "torch.storage._load_from_bytes",
        "torch._C._import_ir_module_from_package", "torch.ops",
        "sklearn.externals.joblib",
    }
)  # fmt: skip


def floor_reason(ref: GlobalRef) -> str | None:
    """The reason ``ref`` is on the floor, or None when it is not."""
    module = ref.module
    while True:
        if module in FLOOR_MODULES:
            return f"module '{module}' can run code, import, or touch files, processes or sockets"
        dot = module.rfind(".")
        if dot < 0:
            break
        module = module[:dot]
    dotted = ref.dotted
    while True:
        if dotted in FLOOR_NAMES:
            return f"'{dotted}' can run code, import, or touch files, processes or sockets"
        dot = dotted.rfind(".")
        if dot <= len(ref.module):
            return None
        dotted = dotted[:dot]
