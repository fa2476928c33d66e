"""Build llama.cpp's ``llama-server`` once, from the llama-cpp-python sdist pyproject.toml pins.

The llama.cpp source is the one the pinned ``llama-cpp-python`` sdist on PyPI ships in
``vendor/llama.cpp`` (``pip download --no-binary llama-cpp-python --no-deps
llama-cpp-python==<pin>``), unpacked, configured with CMake (Release, static libraries,
no curl, no OpenSSL, no web UI download, and on x86-64 the same AVX2/FMA/F16C baseline as
the Makefile's ``CMAKE_ARGS``) and built for the target ``llama-server`` only.

The binary is cached outside the repository, in
``${XDG_CACHE_HOME:-~/.cache}/codehearth/llama-server-<version>/llama-server``, next to a
stamp naming what it was built from; a second run finds it and returns at once. Builds are
serialised with a lock file, and the binary is moved into place only when complete.

Run it as a script (``python tests/real_servers/build_llama_server.py``): it prints the
binary's path on stdout and the build's progress on stderr. The tests import
:func:`ensure_llama_server`.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
PACKAGE = "llama-cpp-python"
BINARY = "llama-server"
STAMP = "build.json"
APT_PACKAGES = ("cmake", "g++", "make")
CMAKE_OPTIONS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_COMMON=ON",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_APP=OFF",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",  # else the build downloads the web UI from a hub
)
X86_64_OPTIONS = (  # as the Makefile's CMAKE_ARGS: any x86-64 CPU with AVX2, not only this one
    "-DGGML_NATIVE=OFF",
    "-DGGML_AVX=ON",
    "-DGGML_AVX2=ON",
    "-DGGML_FMA=ON",
    "-DGGML_F16C=ON",
)
PIP_SECONDS = 600
CONFIGURE_SECONDS = 300
BUILD_SECONDS = 3600


class BuildError(RuntimeError):
    """The build could not be done; the message says why."""


def pinned_version(pyproject: Path = PYPROJECT) -> str:
    """The ``llama-cpp-python==X`` pin in pyproject.toml's dependencies or extras."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    pattern = re.compile(rf"^{re.escape(PACKAGE)}(\[[^\]]*\])?\s*==\s*([\w.+-]+)\s*(;.*)?$")
    pins = {m.group(2) for r in requirements if (m := pattern.match(r.strip()))}
    if len(pins) != 1:
        raise BuildError(f"expected one {PACKAGE}==X pin in {pyproject}, found {sorted(pins)}")
    return pins.pop()


def cmake_options() -> list[str]:
    options = list(CMAKE_OPTIONS)
    if platform.machine() in ("x86_64", "AMD64"):
        options += X86_64_OPTIONS
    return options


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "codehearth"


def binary_path(version: str | None = None, root: Path | None = None) -> Path:
    """Where the cached ``llama-server`` for ``version`` (default: the pin) lives."""
    return (root or cache_root()) / f"{BINARY}-{version or pinned_version()}" / BINARY


def _stamp(version: str) -> dict[str, object]:
    return {"package": PACKAGE, "version": version, "cmake": cmake_options()}


def cached(version: str | None = None, root: Path | None = None) -> Path | None:
    """The cached binary when it was built from ``version`` with today's options."""
    target = binary_path(version, root)
    stamp = target.parent / STAMP
    try:
        built_from = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    expected = _stamp(version or pinned_version())
    if built_from != expected or not os.access(target, os.X_OK):
        return None
    return target


def _say(message: str) -> None:
    print(f"[build_llama_server] {message}", file=sys.stderr, flush=True)


def _run(command: list[str], seconds: float, **kwargs: object) -> None:
    _say("$ " + " ".join(command))
    try:
        subprocess.run(command, check=True, timeout=seconds, stdout=sys.stderr, **kwargs)  # type: ignore[call-overload]
    except subprocess.TimeoutExpired as error:
        raise BuildError(f"{command[0]} took over {seconds:.0f} s") from error
    except subprocess.CalledProcessError as error:
        raise BuildError(
            f"{' '.join(command[:3])} failed with exit code {error.returncode}"
        ) from error


def _compiler_tools() -> None:
    """CMake and a C++ compiler; installed with apt-get (as root) when missing."""
    missing = [tool for tool in ("cmake", "c++", "make") if shutil.which(tool) is None]
    if not missing:
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise BuildError(
            f"{', '.join(missing)} not found: install CMake and a C++ compiler "
            "(Debian/Ubuntu: apt install build-essential cmake)"
        )
    _say(f"{', '.join(missing)} not found: installing {' '.join(APT_PACKAGES)} with apt-get")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run(["apt-get", "update", "-q"], PIP_SECONDS, env=environment)
    _run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *APT_PACKAGES],
        PIP_SECONDS,
        env=environment,
    )


def _build(version: str, target: Path, jobs: int) -> None:
    _compiler_tools()
    with tempfile.TemporaryDirectory(prefix="build-", dir=target.parent) as scratch:
        work = Path(scratch)
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-binary",  # the sdist; its build backend may come as wheels (seconds,
                PACKAGE,  # where ':all:' builds scikit-build-core and its deps from source)
                "--no-deps",
                f"{PACKAGE}=={version}",
                "-d",
                str(work / "sdist"),
            ],
            PIP_SECONDS,
        )
        [archive] = (work / "sdist").glob("*.tar.gz")
        with tarfile.open(archive) as sdist:
            sdist.extractall(work / "src", filter="data")
        [source] = (work / "src").glob("*/vendor/llama.cpp")
        build = work / "build"
        generator = ["-G", "Ninja"] if shutil.which("ninja") else []
        _run(
            ["cmake", "-S", str(source), "-B", str(build), *generator, *cmake_options()],
            CONFIGURE_SECONDS,
        )
        _run(
            ["cmake", "--build", str(build), "--target", BINARY, "--parallel", str(jobs)],
            BUILD_SECONDS,
        )
        [built] = [p for p in build.rglob(BINARY) if p.is_file() and os.access(p, os.X_OK)]
        partial = target.with_name(f"{BINARY}.partial")
        shutil.copy2(built, partial)
        os.replace(partial, target)
    (target.parent / STAMP).write_text(json.dumps(_stamp(version), indent=2), encoding="utf-8")


def ensure_llama_server(version: str | None = None, root: Path | None = None) -> Path:
    """The cached ``llama-server`` built from the pinned sdist; builds it the first time."""
    version = version or pinned_version()
    found = cached(version, root)
    if found is not None:
        return found
    target = binary_path(version, root)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another build of the same version: wait for it
        found = cached(version, root)
        if found is not None:
            return found
        (target.parent / STAMP).unlink(missing_ok=True)
        jobs = int(os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") or os.cpu_count() or 1)
        _say(f"building {BINARY} from {PACKAGE}=={version} with {jobs} jobs (minutes, once)")
        started = time.monotonic()
        _build(version, target, jobs)
        _say(f"built {target} in {time.monotonic() - started:.0f} s")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", help=f"{PACKAGE} version (default: the pyproject pin)")
    args = parser.parse_args(argv)
    try:
        print(ensure_llama_server(args.version))
    except BuildError as error:
        _say(f"error: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
