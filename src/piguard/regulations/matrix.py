"""The rules matrix, generated from the code itself by a static scan (nothing is imported or run).

- Code: ``@carries("O24-13.6", ...)`` on functions and classes anywhere under the package, and a
  module-level ``__obligations__ = ("O24-13.6", ...)``.
- Tests: ``@pytest.mark.obligation("O24-13.6", ...)`` on test functions, methods and classes, and
  ``pytestmark = pytest.mark.obligation(...)`` (or a list of marks) in a module or class body.

Status per obligation is judged against its capability (``capabilities.py``,
``data/capabilities.yaml``): each part is met when code under its package prefix (and matching its
name pattern) carries the id and at least one test is marked with it. ``built`` = every part met,
``partial`` = some (the row lists the ``missing`` parts), ``not yet`` = none. A marker elsewhere
(the calendar carrying O24-12, say) is listed under ``code`` but builds nothing by itself.
An id that is not an obligation of REQUIREMENTS.md, or a marker argument that is not a string
literal, is reported as an error with its file and line. Files are read only when they mention a
marker, and parse results are cached by (path, mtime, size), so a scan takes well under a second.
"""

from __future__ import annotations

import ast
import difflib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from piguard.regulations.capabilities import Capabilities, capabilities
from piguard.regulations.catalogue import catalogue
from piguard.regulations.schemas import (
    Bilingual,
    CapabilityPartOut,
    CodeLocation,
    MarkerError,
    MatrixOut,
    MatrixRow,
    Status,
    StatusCounts,
    TestLocation,
)

_SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "build", "dist"}


@dataclass(frozen=True)
class _Mark:
    ids: tuple[str, ...]
    line: int
    name: str  # code: qualname; tests: node name (``test_x``, ``TestY::test_z``)


@dataclass
class _FileScan:
    marks: list[_Mark] = field(default_factory=list)
    errors: list[tuple[int, str | None, str]] = field(default_factory=list)  # (line, id, message)


_CACHE: dict[tuple[str, int, int, str], _FileScan] = {}  # (path, mtime_ns, size, kind) -> result


def clear_cache() -> None:
    _CACHE.clear()


def package_dir() -> Path:
    """The installed (or source) ``piguard`` package directory."""
    import piguard

    return Path(piguard.__file__).resolve().parent


def find_tests_dir(pkg_dir: Path | None = None) -> Path | None:
    """The repository's ``tests/`` next to ``src/piguard`` (a source checkout), else None.

    An installed package carries no tests; the current directory is tried when it is a piguard
    checkout (it has ``pyproject.toml`` and ``src/piguard``).
    """
    pkg = (pkg_dir or package_dir()).resolve()
    candidates = []
    if pkg.parent.name == "src":
        candidates.append(pkg.parent.parent)
    cwd = Path.cwd()
    if (cwd / "src" / "piguard").is_dir():
        candidates.append(cwd)
    for root in candidates:
        if (root / "pyproject.toml").is_file() and (root / "tests").is_dir():
            return root / "tests"
    return None


# --- AST helpers -----------------------------------------------------------------------------


def _call_name(node: ast.expr) -> str | None:
    """``carries`` / ``markers.carries`` -> "carries"; ``pytest.mark.obligation`` -> "mark.obligation"."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        if isinstance(node.value, ast.Attribute) and node.value.attr == "mark":
            return f"mark.{node.attr}"
        if isinstance(node.value, ast.Name) and node.value.id == "mark":
            return f"mark.{node.attr}"
        return node.attr
    return None


def _module_constants(tree: ast.Module) -> dict[str, tuple[str, ...]]:
    """Module-level ``NAME = "O24-13.6"`` / ``NAME = ("O24-13.6", ...)``, so ``@carries(NAME)`` resolves."""
    consts: dict[str, tuple[str, ...]] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            name, value = stmt.targets[0].id, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
            name, value = stmt.target.id, stmt.value
        else:
            continue
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            consts[name] = (value.value,)
        elif isinstance(value, ast.Tuple | ast.List):
            strings = [
                e.value for e in value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
            ]
            if strings and len(strings) == len(value.elts):
                consts[name] = tuple(strings)
    return consts


def _literal_ids(
    nodes: Iterable[ast.expr], consts: dict[str, tuple[str, ...]], line: int, scan: _FileScan
) -> tuple[str, ...]:
    """String literals, module constants naming them, and ``*CONSTANT``; anything else is an error."""
    ids: list[str] = []
    for node in nodes:
        target = node.value if isinstance(node, ast.Starred) else node
        if (
            isinstance(target, ast.Constant)
            and isinstance(target.value, str)
            and not isinstance(node, ast.Starred)
        ):
            ids.append(target.value)
        elif isinstance(target, ast.Name) and target.id in consts:
            ids.extend(consts[target.id])
        else:
            scan.errors.append(
                (
                    line,
                    None,
                    "marker argument is not a string literal or module constant; the scan cannot read it",
                )
            )
    return tuple(ids)


def _ids_of(call: ast.Call, scan: _FileScan, consts: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    if not call.args:
        scan.errors.append((call.lineno, None, "marker names no obligation id"))
    return _literal_ids(call.args, consts, call.lineno, scan)


def _marker_calls(node: ast.expr | None, wanted: str) -> Iterator[ast.Call]:
    """The marker calls in a decorator or a ``pytestmark`` value (a call, or a list/tuple of them)."""
    if node is None:
        return
    if isinstance(node, ast.Call) and _call_name(node.func) == wanted:
        yield node
    elif isinstance(node, ast.List | ast.Tuple):
        for elt in node.elts:
            yield from _marker_calls(elt, wanted)


def _assigned(stmt: ast.stmt, target: str) -> ast.expr | None:
    if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == target for t in stmt.targets):
        return stmt.value
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id == target:
        return stmt.value
    return None


def _flatten(body: Iterable[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements of a body, looking through ``if``/``try``/``with`` blocks (e.g. ``if TYPE_CHECKING``)."""
    for stmt in body:
        if isinstance(stmt, ast.If):
            yield from _flatten(stmt.body)
            yield from _flatten(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            for part in (stmt.body, stmt.orelse, stmt.finalbody, *(h.body for h in stmt.handlers)):
                yield from _flatten(part)
        elif isinstance(stmt, ast.With):
            yield from _flatten(stmt.body)
        else:
            yield stmt


def _scan_code(tree: ast.Module) -> _FileScan:
    scan = _FileScan()
    consts = _module_constants(tree)
    for stmt in tree.body:
        value = _assigned(stmt, "__obligations__")
        if value is None:
            continue
        elts = value.elts if isinstance(value, ast.List | ast.Tuple) else [value]
        ids = _literal_ids(elts, consts, stmt.lineno, scan)
        if ids:
            scan.marks.append(_Mark(tuple(ids), stmt.lineno, "<module>"))

    def visit(body: Iterable[ast.stmt], prefix: str) -> None:
        for stmt in _flatten(body):
            if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            qualname = f"{prefix}{stmt.name}"
            for deco in stmt.decorator_list:
                for call in _marker_calls(deco, "carries"):
                    ids = _ids_of(call, scan, consts)
                    if ids:
                        scan.marks.append(_Mark(ids, stmt.lineno, qualname))
            inner = f"{qualname}.<locals>." if not isinstance(stmt, ast.ClassDef) else f"{qualname}."
            visit(stmt.body, inner)

    visit(tree.body, "")
    return scan


def _is_test_name(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
        return stmt.name.startswith("test")
    return isinstance(stmt, ast.ClassDef) and stmt.name.startswith("Test")


def _scan_tests(tree: ast.Module) -> _FileScan:
    scan = _FileScan()
    wanted = "mark.obligation"
    consts = _module_constants(tree)

    def pytestmark_ids(body: list[ast.stmt]) -> tuple[str, ...]:
        ids: list[str] = []
        for stmt in body:
            for call in _marker_calls(_assigned(stmt, "pytestmark"), wanted):
                ids.extend(_ids_of(call, scan, consts))
        return tuple(ids)

    def visit(body: list[ast.stmt], prefix: str, inherited: tuple[str, ...]) -> None:
        inherited = inherited + pytestmark_ids(body)
        for stmt in _flatten(body):
            if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            name = f"{prefix}{stmt.name}"
            ids: list[str] = []
            for deco in stmt.decorator_list:
                for call in _marker_calls(deco, wanted):
                    ids.extend(_ids_of(call, scan, consts))
            if isinstance(stmt, ast.ClassDef):
                # The class is one pytest node carrying its own and inherited marks; its methods are
                # listed only for marks of their own.
                if ids or (inherited and _is_test_name(stmt)):
                    scan.marks.append(_Mark(inherited + tuple(ids), stmt.lineno, name))
                visit(stmt.body, f"{name}::", ())
            elif ids or (inherited and _is_test_name(stmt)):
                scan.marks.append(_Mark(inherited + tuple(ids), stmt.lineno, name))

    visit(tree.body, "", ())
    return scan


def _scan_file(path: Path, kind: str, needle: tuple[bytes, ...]) -> _FileScan:
    try:
        st = path.stat()
    except OSError:
        return _FileScan()
    key = (str(path), st.st_mtime_ns, st.st_size, kind)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    data = path.read_bytes()
    if not any(n in data for n in needle):
        result = _FileScan()
    else:
        try:
            tree = ast.parse(data, filename=str(path))
        except (SyntaxError, ValueError) as exc:
            result = _FileScan(
                errors=[
                    (
                        getattr(exc, "lineno", None) or 0,
                        None,
                        f"cannot parse: {exc.msg if isinstance(exc, SyntaxError) else exc}",
                    )
                ]
            )
        else:
            result = _scan_code(tree) if kind == "code" else _scan_tests(tree)
    _CACHE[key] = result
    return result


def _python_files(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for f in sorted(filenames):
            if f.endswith(".py"):
                yield Path(dirpath) / f


def _module_name(src_root: Path, path: Path) -> str:
    parts = [src_root.name, *path.relative_to(src_root).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def build_matrix(
    src_root: Path | None = None,
    tests_root: Path | None = None,
    *,
    find_tests: bool = True,
    caps: Capabilities | None = None,
) -> MatrixOut:
    """Scan ``src_root`` (default: the piguard package) and ``tests_root`` (default: the checkout's
    ``tests/`` when there is one; ``find_tests=False`` scans no tests) and build the matrix, judging
    each row against ``caps`` (default: the packaged ``capabilities.yaml``)."""
    cat = catalogue()
    caps = caps or capabilities()
    known = cat.obligations
    src = (src_root or package_dir()).resolve()
    notes: list[str] = []
    tests: Path | None
    if tests_root is not None:
        tests = tests_root.resolve()
        if not tests.is_dir():
            notes.append(f"tests directory {tests_root} not found: test markers were not scanned")
            tests = None
    else:
        tests = find_tests_dir(src) if find_tests else None
        if tests is None:
            notes.append(
                "tests/ was not found (installed package, not a source checkout): test markers were not "
                "scanned, so statuses reflect code markers only"
            )
    code: dict[str, list[CodeLocation]] = {i: [] for i in known}
    tested: dict[str, list[TestLocation]] = {i: [] for i in known}
    errors: list[MarkerError] = []

    def report(path: str, line: int, oid: str | None, message: str) -> None:
        suggestion = None
        if oid is not None:
            close = difflib.get_close_matches(oid, list(known), n=1, cutoff=0.6)
            suggestion = close[0] if close else None
        errors.append(MarkerError(path=path, line=line, id=oid, message=message, suggestion=suggestion))

    for path in _python_files(src):
        module = _module_name(src, path)
        rel = f"{src.name}/{path.relative_to(src).as_posix()}"
        scan = _scan_file(path, "code", (b"carries", b"__obligations__"))
        for line, oid, msg in scan.errors:
            report(rel, line, oid, msg)
        for mark in scan.marks:
            for oid in dict.fromkeys(mark.ids):
                if oid not in known:
                    report(rel, mark.line, oid, f"unknown obligation id {oid!r} in @carries")
                    continue
                loc = f"{module}:{mark.name}:{mark.line}"
                code[oid].append(
                    CodeLocation(module=module, qualname=mark.name, line=mark.line, location=loc)
                )

    if tests is not None:
        base = tests.parent
        for path in _python_files(tests):
            rel = path.relative_to(base).as_posix()
            scan = _scan_file(path, "tests", (b"obligation",))
            for line, oid, msg in scan.errors:
                report(rel, line, oid, msg)
            for mark in scan.marks:
                for oid in dict.fromkeys(mark.ids):
                    if oid not in known:
                        report(
                            rel, mark.line, oid, f"unknown obligation id {oid!r} in pytest.mark.obligation"
                        )
                        continue
                    nodeid = f"{rel}::{mark.name}"
                    tested[oid].append(TestLocation(path=rel, name=mark.name, line=mark.line, nodeid=nodeid))

    rows: list[MatrixRow] = []
    for oid, ob in known.items():
        # Without a tests directory the test half cannot be judged; the note above says so.
        has_tests = bool(tested[oid]) or tests is None
        cap = caps.items.get(oid)
        parts: list[CapabilityPartOut] = []
        for part in cap.parts if cap else ():
            where = [c.location for c in code[oid] if part.matches(c.module, c.qualname)]
            parts.append(
                CapabilityPartOut(
                    key=part.key,
                    zh=part.zh,
                    en=part.en,
                    under=list(part.under),
                    name=part.name,
                    met=bool(where) and has_tests,
                    code=where,
                )
            )
        met = sum(p.met for p in parts)
        status: Status = "built" if parts and met == len(parts) else "partial" if met else "not yet"
        rows.append(
            MatrixRow(
                id=oid,
                title_zh=ob.title_zh,
                title_en=ob.title_en,
                sections=list(ob.sections),  # type: ignore[arg-type]
                status=status,
                capability=Bilingual(zh=cap.zh, en=cap.en) if cap else None,
                parts=parts,
                missing=[p for p in parts if not p.met],
                code=code[oid],
                tests=tested[oid] if tests is not None else None,
            )
        )
    counts = StatusCounts(
        built=sum(r.status == "built" for r in rows),
        partial=sum(r.status == "partial" for r in rows),
        not_yet=sum(r.status == "not yet" for r in rows),
        total=len(rows),
    )
    return MatrixOut(tests_scanned=tests is not None, notes=notes, counts=counts, rows=rows, errors=errors)
