"""Compile and run MQL5 code through the C++ emulation harness (ea/harness/mql5compat.h).

`build()` compiles a driver (a .cpp that includes mql5compat.h and the shipped .mqh files) with
g++ -std=c++17 -fsanitize=address,undefined and OpenSSL. Binaries are cached in a directory
keyed by a hash of every file the driver includes, the flags and the compiler's version, filled
atomically (a private temporary directory renamed into place), so pytest-xdist workers and
later sessions share them and a stale binary is never used.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.databases import REQUIRE_SERVICES

ROOT = Path(__file__).resolve().parents[2]
EA = ROOT / "ea"
HARNESS = EA / "harness"
INCLUDE = EA / "MQL5" / "Include"

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
    configured = os.environ.get("EAGATE_EA_BUILD_DIR")
    root = (
        Path(configured)
        if configured
        else Path(tempfile.gettempdir()) / f"eagate-ea-build-{os.getuid()}"
    )
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root


def _digest(driver: Path, include_dirs: Sequence[Path], flags: Sequence[str]) -> str:
    """A hash of the toolchain, the flags and every file the driver includes (g++ -MM)."""
    deps = subprocess.run(
        ["g++", "-std=c++17", *(f"-I{d}" for d in include_dirs), "-MM", str(driver)],
        capture_output=True,
        text=True,
        timeout=COMPILE_TIMEOUT,
        check=False,
    )
    digest = hashlib.sha256()
    digest.update((_toolchain() or "").encode())
    digest.update("\0".join(flags).encode())
    digest.update(str(len(include_dirs)).encode())
    if deps.returncode != 0:  # the compiler will say why; key on the error itself
        digest.update(b"\0deps failed\0" + deps.stderr.encode() + driver.read_bytes())
        return digest.hexdigest()[:32]
    files = deps.stdout.replace("\\\n", " ").split(":", 1)[1].split()
    for name in sorted(set(files)):
        path = Path(name).resolve()
        # Named relative to its include directory: a copy in another temporary directory
        # (a mutant's) with the same contents is the same build.
        label = str(path)
        for index, directory in enumerate(include_dirs):
            if path.is_relative_to(directory.resolve()):
                label = f"{index}:{path.relative_to(directory.resolve())}"
                break
        digest.update(b"\0" + label.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:32]


def build(
    driver: Path, include_dirs: Sequence[Path] = (), extra_flags: Sequence[str] = ()
) -> Build:
    """Compile driver with the harness and include_dirs (searched before ea/MQL5/Include)."""
    require_toolchain()
    dirs = [*include_dirs, HARNESS, INCLUDE]
    flags = [*CXXFLAGS, *extra_flags]
    key = _digest(driver, dirs, flags)
    final = _cache_root() / key
    if not final.exists():
        staging = _cache_root() / f"{key}.tmp-{uuid.uuid4().hex}"
        staging.mkdir()
        command = ["g++", *flags, *(f"-I{d}" for d in dirs), str(driver), "-lcrypto"]
        result = subprocess.run(
            [*command, "-o", str(staging / "program")],
            capture_output=True,
            text=True,
            timeout=COMPILE_TIMEOUT,
            check=False,
        )
        if result.returncode != 0:
            (staging / "errors.txt").write_text(result.stderr or "compiler failed")
        try:
            staging.rename(final)
        except OSError:  # another worker got there first: same sources, same result
            shutil.rmtree(staging, ignore_errors=True)
    errors = final / "errors.txt"
    if errors.exists():
        return Build(binary=None, errors=errors.read_text())
    return Build(binary=final / "program", errors="")


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
