#!/usr/bin/env bash
# Build safepickle/_speedups.c with AddressSanitizer + UndefinedBehaviorSanitizer (and libFuzzer's
# coverage instrumentation) into a separate folder, and run fuzz/verifier_differential.py
# against that build. See docs/fuzzing.md, "The C extension under ASan".
#
#   fuzz/build_asan.sh                   # build into build/asan, then a short run (20,000 inputs)
#   fuzz/build_asan.sh -max_total_time=3600 fuzz/corpus/verifier_differential
#                                        # build, then any libFuzzer flags and corpus folders
#   ASAN_BUILD=/tmp/asan fuzz/build_asan.sh --build-only
#
# What it needs (Debian 12: apt-get install -y clang libclang-rt-dev; PyPI: atheris): clang, its
# compiler-rt static runtimes (libclang_rt.asan, libclang_rt.fuzzer_no_main), a Python with its
# headers, and atheris installed in that Python. Nothing is downloaded.
#
# How it works (atheris' "native extension fuzzing", option A, made by hand because the atheris
# wheels from PyPI do not ship asan_with_fuzzer.so):
# 1. libFuzzer (libclang_rt.fuzzer_no_main) and the ASan runtime (with UBSan inside) are merged
#    into one shared object, asan_with_fuzzer.so, which is LD_PRELOADed. Both in one object, so
#    libFuzzer's strong coverage symbols win over the sanitizer's weak ones, and atheris, seeing
#    libFuzzer already loaded, uses its core_without_libfuzzer module.
# 2. The extension is compiled with -fsanitize=address,undefined,fuzzer-no-link into a copy of
#    the package (build/asan/pkg/safepickle), which PYTHONPATH puts first; the checkout's own
#    build is untouched.
# 3. PYTHONMALLOC=malloc, so ASan sees Python's own allocations too (pymalloc's arenas would
#    hide an overflow into a neighbouring small object); leak detection off (CPython keeps
#    memory until exit on purpose); any UBSan report is fatal.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
build="${ASAN_BUILD:-$root/build/asan}"
python="${PYTHON:-python3}"
cc="${CC_ASAN:-clang}"

if ! command -v "$cc" >/dev/null 2>&1; then
    echo "build_asan.sh: $cc not found; on Debian: apt-get install -y clang libclang-rt-dev" >&2
    exit 2
fi
resource="$("$cc" -print-resource-dir)"
rt="$resource/lib/linux"
asan_rt="$rt/libclang_rt.asan-x86_64.a"
fuzzer_rt="$rt/libclang_rt.fuzzer_no_main-x86_64.a"
for lib in "$asan_rt" "$fuzzer_rt"; do
    if [ ! -f "$lib" ]; then
        echo "build_asan.sh: $lib is missing; on Debian: apt-get install -y libclang-rt-dev" >&2
        exit 2
    fi
done
if ! "$python" -c "import atheris" 2>/dev/null; then
    echo "build_asan.sh: atheris is not installed for $python: pip install atheris" >&2
    exit 2
fi

mkdir -p "$build"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# 1. libFuzzer + ASan (+UBSan) in one preloadable object; asan_preinit is dropped: it registers
#    an .preinit_array entry, which a shared object may not have.
cp "$asan_rt" "$tmp/asan.a"
ar d "$tmp/asan.a" asan_preinit.cpp.o asan_preinit.cc.o 2>/dev/null || true
"${CXX_ASAN:-clang++}" -Wl,--whole-archive "$fuzzer_rt" "$tmp/asan.a" -Wl,--no-whole-archive \
    -lpthread -ldl -lrt -lm -shared -o "$build/asan_with_fuzzer.so"

# 2. the extension, instrumented, into a copy of the package
rm -rf "$build/pkg"
mkdir -p "$build/pkg"
cp -r "$root/safepickle" "$build/pkg/safepickle"
find "$build/pkg/safepickle" \( -name '*.so' -o -name '__pycache__' \) -prune -exec rm -rf {} +
include="$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
suffix="$("$python" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')"
"$cc" -shared -fPIC -g -O1 -fno-omit-frame-pointer \
    -fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined \
    -I"$include" "$root/safepickle/_speedups.c" \
    -o "$build/pkg/safepickle/_speedups$suffix"
echo "build_asan.sh: built $build/pkg/safepickle/_speedups$suffix and $build/asan_with_fuzzer.so"

if [ "${1:-}" = "--build-only" ]; then
    exit 0
fi
if [ "$#" -eq 0 ]; then
    set -- -atheris_runs=20000 -seed=1
fi

# 3. run the differential harness on it (its C-only checks now run under the sanitizers)
export LD_PRELOAD="$build/asan_with_fuzzer.so"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export PYTHONMALLOC=malloc
export PYTHONPATH="$build/pkg${PYTHONPATH:+:$PYTHONPATH}"
# (checked from inside the build folder: "python -c" puts the current folder first on sys.path)
(cd "$build" && "$python" -c "import safepickle.verify as v, sys; \
    sys.exit(0 if v._c_fast_verify is not None and v.__file__.startswith('$build/pkg') else \
    'build_asan.sh: the instrumented extension did not load')")
exec "$python" "$here/verifier_differential.py" "$@"
