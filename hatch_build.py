"""Build hook: compile piguard's optional C kernels (``src/piguard/_native/*.c``) at install.

Each ``NAME.c`` becomes the extension module ``piguard._native.NAME``. The kernels are optional:
every one has a pure-Python original that gives the same results, so where no C compiler exists
(or ``PIGUARD_NO_NATIVE=1`` is set) the install goes on without them and says so.

Editable installs (``uv sync``) build the modules in place beside their sources; wheels carry them
and get a platform tag. Each module is built with the SHA-256 of its source, which the loader
compares, so a module left over from an older source is never used.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # imported by tests/core/test_native.py, outside a build
    BuildHookInterface = object  # type: ignore[assignment,misc]

NATIVE = Path("src") / "piguard" / "_native"


def _compiler() -> list[str]:
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    return shlex.split(cc)


def build_kernels(root: Path, log: Any = None) -> list[Path]:
    """Compile every kernel source under ``root``; return the modules built (failures are warned)."""
    say = log or (lambda msg: print(msg, file=sys.stderr))
    if os.environ.get("PIGUARD_NO_NATIVE"):
        say("piguard: PIGUARD_NO_NATIVE is set; the pure-Python kernels are used")
        return []
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    include = sysconfig.get_paths()["include"]
    flags = ["-O2", "-shared", "-fPIC", "-std=c11", "-Wall", "-Werror=implicit-function-declaration"]
    if sys.platform == "darwin":
        flags += ["-undefined", "dynamic_lookup"]
    built = []
    for source in sorted((root / NATIVE).glob("*.c")):
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        target = source.with_name(source.stem + suffix)
        partial = target.with_name(target.name + ".part")
        cmd = [*_compiler(), *flags, f"-I{include}", f'-DPIGUARD_SOURCE_HASH="{digest}"']
        cmd += [str(source), "-o", str(partial)]
        try:
            subprocess.run(cmd, check=True, capture_output=True, text=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            say(f"piguard: kernel {source.name} not compiled, its pure-Python original is used: {detail}")
            partial.unlink(missing_ok=True)
            continue
        os.replace(partial, target)  # never a half-written module under the final name
        built.append(target)
    return built


class NativeBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        built = build_kernels(root, log=self.app.display_warning)
        if not built or version == "editable":
            return  # editable: the modules sit in the source tree the install points at
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        for module in built:
            build_data["force_include"][str(module)] = f"piguard/_native/{module.name}"
