"""Compile and run MQL5 code through the C++ emulation harness (ea/harness/mql5compat.h).

`build()` compiles a driver (a .cpp that includes mql5compat.h and the shipped .mqh files) with
g++ -std=c++17 -fsanitize=address,undefined and OpenSSL, or without the sanitizers
(`sanitize=False`, for the signer's mutants: each is caught by the emulation itself, see
tests/ea/test_signer.py). Binaries are cached in a directory keyed by a hash of every file the
driver includes, the flags and the compiler's version, filled atomically (a private temporary
directory renamed into place) under a lock per key, so pytest-xdist workers and later sessions
share them, no binary is compiled twice at once, and a stale binary is never used. The cache
is only an optimisation: an empty one (a fresh CI machine) compiles everything. It lives in
$TMPDIR/eagate-ea-build-<uid>, or in EAGATE_TEST_EA_BUILD_DIR.

A driver whose first line of code is `#include "mql5compat.h"` is compiled with that header
precompiled (g++ -include of a .gch built once per set of flags, itself cached): the same
header, parsed once instead of once per binary.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.databases import REQUIRE_SERVICES

ROOT = Path(__file__).resolve().parents[2]
EA = ROOT / "ea"
HARNESS = EA / "harness"
INCLUDE = EA / "MQL5" / "Include"
COMPAT_HEADER = HARNESS / "mql5compat.h"

CXXFLAGS = (
    "-std=c++17",
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=undefined",
    "-fno-omit-frame-pointer",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-g",
)
# The same without AddressSanitizer and UndefinedBehaviorSanitizer: about a third of the
# compile time. Only for programs whose failures the emulation reports by itself.
UNSANITIZED_CXXFLAGS = tuple(
    flag
    for flag in CXXFLAGS
    if not flag.startswith(("-fsanitize", "-fno-sanitize")) and flag != "-fno-omit-frame-pointer"
)
COMPILE_TIMEOUT = 240
# The harness's own exit status for recorded MQL5 violations (ArrayResize on a static array...).
VIOLATION_STATUS = 86


@dataclass(frozen=True)
class Build:
    binary: Path | None  # None when the compiler refused the sources
    errors: str  # the compiler's diagnostics when it refused


@functools.cache
def _toolchain() -> str | None:
    """The compiler's version, or None when g++ or OpenSSL's headers are missing."""
    compiler = shutil.which("g++")
    if compiler is None:
        return None
    probe = "#include <openssl/sha.h>\nint main() { return SHA256_DIGEST_LENGTH == 32 ? 0 : 1; }\n"
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "probe.cpp"
        source.write_text(probe)
        result = subprocess.run(
            [compiler, *CXXFLAGS, str(source), "-lcrypto", "-o", str(Path(work) / "probe")],
            capture_output=True,
            timeout=COMPILE_TIMEOUT,
            check=False,
        )
        if result.returncode != 0:
            return None
    version = subprocess.run(
        [compiler, "--version"], capture_output=True, text=True, timeout=30, check=True
    )
    return version.stdout


def require_toolchain() -> None:
    """Skip (fail under EAGATE_REQUIRE_SERVICES=1, as in CI) without g++ and OpenSSL."""
    if _toolchain() is not None:
        return
    reason = (
        "g++ and OpenSSL headers (apt-get install g++ libssl-dev) are needed for the EA harness"
    )
    if REQUIRE_SERVICES:
        pytest.fail(reason + " (EAGATE_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def _cache_root() -> Path:
    # EAGATE_TEST_*: the test suite's conftest removes every other EAGATE_ variable.
    configured = os.environ.get("EAGATE_TEST_EA_BUILD_DIR")
    root = (
        Path(configured)
        if configured
        else Path(tempfile.gettempdir()) / f"eagate-ea-build-{os.getuid()}"
    )
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root


@contextlib.contextmanager
def _locked(key: str) -> Iterator[None]:
    """One builder of a key at a time, across threads, processes and xdist workers."""
    with open(_cache_root() / f"{key}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# (driver, include dirs, flags) -> (the files g++ -MM named, their digest): g++ -MM (~0.1 s)
# runs again only when one of those files changed.
_DEPENDENCIES: dict[tuple[Path, tuple[Path, ...], tuple[str, ...]], tuple[list[Path], str]] = {}
_DEPENDENCIES_LOCK = threading.Lock()


def _hash_files(
    driver: Path, files: Sequence[Path], include_dirs: Sequence[Path], flags: Sequence[str]
) -> str:
    digest = hashlib.sha256()
    digest.update((_toolchain() or "").encode())
    digest.update("\0".join(flags).encode())
    digest.update(str(len(include_dirs)).encode())
    for path in files:
        # Named relative to its include directory: a copy in another temporary directory
        # (a mutant's) with the same contents is the same build. So is the driver itself.
        label = str(path)
        if path == driver:
            label = f"driver:{path.name}"
        else:
            for index, directory in enumerate(include_dirs):
                if path.is_relative_to(directory.resolve()):
                    label = f"{index}:{path.relative_to(directory.resolve())}"
                    break
        digest.update(b"\0" + label.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:32]


def _digest(driver: Path, include_dirs: Sequence[Path], flags: Sequence[str]) -> str:
    """A hash of the toolchain, the flags and every file the driver includes (g++ -MM)."""
    driver = driver.resolve()
    memo_key = (driver, tuple(include_dirs), tuple(flags))
    with _DEPENDENCIES_LOCK:
        known = _DEPENDENCIES.get(memo_key)
    if known is not None:
        files, digest = known
        with contextlib.suppress(OSError):
            if _hash_files(driver, files, include_dirs, flags) == digest:
                return digest
    deps = subprocess.run(
        ["g++", "-std=c++17", *(f"-I{d}" for d in include_dirs), "-MM", str(driver)],
        capture_output=True,
        text=True,
        timeout=COMPILE_TIMEOUT,
        check=False,
    )
    if deps.returncode != 0:  # the compiler will say why; key on the error itself
        failed = hashlib.sha256()
        failed.update((_toolchain() or "").encode())
        failed.update("\0".join(flags).encode())
        failed.update(b"\0deps failed\0" + deps.stderr.encode() + driver.read_bytes())
        return failed.hexdigest()[:32]
    names = deps.stdout.replace("\\\n", " ").split(":", 1)[1].split()
    files = sorted({Path(name).resolve() for name in names})
    digest = _hash_files(driver, files, include_dirs, flags)
    with _DEPENDENCIES_LOCK:
        _DEPENDENCIES[memo_key] = (files, digest)
    return digest


def _first_include_is_the_compat_header(driver: Path) -> bool:
    """True when nothing but comments and blank lines comes before #include "mql5compat.h"
    (then g++ -include of its precompiled form is the same program)."""
    for line in driver.read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if not text or text.startswith("//"):
            continue
        return text == '#include "mql5compat.h"'
    return False


def _compiler(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=COMPILE_TIMEOUT, check=False
    )


def _cached(key: str, make: Callable[[Path], subprocess.CompletedProcess[str]]) -> Path:
    """The cache directory of key; when missing, filled by make(a private staging directory)
    under the key's lock and renamed into place, with errors.txt if the compiler refused."""
    final = _cache_root() / key
    if not final.exists():
        with _locked(key):
            if not final.exists():
                staging = _cache_root() / f"{key}.tmp-{uuid.uuid4().hex}"
                staging.mkdir()
                result = make(staging)
                if result.returncode != 0:
                    (staging / "errors.txt").write_text(result.stderr or "compiler failed")
                staging.rename(final)
    return final


def _precompiled_header(flags: Sequence[str]) -> Path | None:
    """mql5compat.h precompiled with flags: the path to give -include, next to its .gch.
    None when it cannot be built: the driver is then compiled without it."""

    def make(staging: Path) -> subprocess.CompletedProcess[str]:
        shutil.copyfile(COMPAT_HEADER, staging / COMPAT_HEADER.name)
        gch = staging / f"{COMPAT_HEADER.name}.gch"
        return _compiler(["g++", *flags, "-x", "c++-header", str(COMPAT_HEADER), "-o", str(gch)])

    final = _cached("pch-" + _digest(COMPAT_HEADER, [HARNESS], flags), make)
    return None if (final / "errors.txt").exists() else final / COMPAT_HEADER.name


def build(
    driver: Path,
    include_dirs: Sequence[Path] = (),
    extra_flags: Sequence[str] = (),
    *,
    sanitize: bool = True,
) -> Build:
    """Compile driver with the harness and include_dirs (searched before ea/MQL5/Include),
    with AddressSanitizer and UndefinedBehaviorSanitizer unless sanitize is False."""
    require_toolchain()
    dirs = [*include_dirs, HARNESS, INCLUDE]
    flags = [*(CXXFLAGS if sanitize else UNSANITIZED_CXXFLAGS), *extra_flags]

    def make(staging: Path) -> subprocess.CompletedProcess[str]:
        header = None
        if _first_include_is_the_compat_header(driver):
            header = _precompiled_header(flags)
        forced = ["-include", str(header)] if header is not None else []
        includes = [f"-I{d}" for d in dirs]
        program = staging / "program"
        return _compiler(
            ["g++", *flags, *forced, *includes, str(driver), "-lcrypto", "-o", str(program)]
        )

    final = _cached(_digest(driver, dirs, flags), make)
    errors = final / "errors.txt"
    if errors.exists():
        return Build(binary=None, errors=errors.read_text())
    return Build(binary=final / "program", errors="")


@dataclass(frozen=True)
class Request:
    """The arguments of one build()."""

    driver: Path
    include_dirs: tuple[Path, ...] = ()
    sanitize: bool = True


def _jobs() -> int:
    """CPUs per pytest-xdist worker: the other workers are busy too."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return max(1, (os.cpu_count() or 1) // max(1, workers))


@contextlib.contextmanager
def building(requests: Sequence[Request], jobs: int | None = None) -> Iterator[None]:
    """Compile requests in the background, `jobs` at a time (by default the CPUs this pytest
    worker has to itself), while the caller goes on: a build() of the same sources waits for
    that compilation (the key's lock) instead of starting another. On exit, the ones not
    started are dropped."""
    require_toolchain()
    pool = ThreadPoolExecutor(max_workers=jobs or _jobs())
    for request in requests:
        pool.submit(build, request.driver, request.include_dirs, sanitize=request.sanitize)
    try:
        yield
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run(
    binary: Path,
    args: Sequence[str] = (),
    *,
    stdin: bytes = b"",
    timeout: float = 60,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run a harness program with a bound; ASan's leak check off (MQL5 has no free())."""
    environment = {**os.environ, **(env or {})}
    environment.setdefault("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=0")
    environment.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    return subprocess.run(
        [str(binary), *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        env=environment,
        check=False,
    )
