"""Apply each named mutation of ``catalog.toml`` to a scratch copy of the tree and run its tests.

A mutation is **caught** when its tests fail (pytest exits 1), **survived** when they pass
(exit 0), and **broken** otherwise: a collection error, no tests collected, an interrupted
run, or a run past ``--timeout``. Before any mutation, the union of the selected mutations'
tests runs once on an unmutated copy (the baseline): a red baseline judges nothing, so the
session stops there. The exit status is 0 only when every selected mutation was caught.

    python -m mutants.run                 # the fast tier (what CI runs)
    python -m mutants.run --tier all      # every mutation
    python -m mutants.run --only NAME...  # these mutations, whatever their tier
    python -m mutants.run --list
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CATALOG = HERE / "catalog.toml"
TIERS = ("fast", "slow")
KEBAB = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
#: pytest's exit statuses: 0 all passed, 1 some test failed; anything else judges nothing.
PYTEST_PASSED = 0
PYTEST_FAILED = 1

Verdict = Literal["caught", "survived", "broken"]


class CatalogError(Exception):
    """The catalogue is malformed or no longer matches the code (it must not rot silently)."""


@dataclass(frozen=True)
class Mutation:
    """One named change to one file, and the tests that must fail with it applied."""

    name: str
    guarantee: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]
    tier: str = "fast"


@dataclass(frozen=True)
class Result:
    """What the tests said about one mutation (or about the baseline)."""

    name: str
    verdict: Verdict
    seconds: float
    detail: str


def _text(entry: dict[str, object], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise CatalogError(f"{where}: {key!r} must be a non-empty string")
    return value


def load_catalog(path: Path, root: Path) -> list[Mutation]:
    """Read and check every entry: unique kebab-case names, an ``old`` found exactly once."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogError(f"{path}: {exc}") from exc
    entries = data.get("mutation", [])
    if not isinstance(entries, list) or not entries:
        raise CatalogError(f"{path}: no [[mutation]] entries")
    mutations: list[Mutation] = []
    problems: list[str] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries, 1):
        where = f"{path.name} entry {index}"
        try:
            if not isinstance(entry, dict):
                raise CatalogError(f"{where}: not a table")
            unknown = set(entry) - {"name", "guarantee", "file", "old", "new", "tests", "tier"}
            if unknown:
                raise CatalogError(f"{where}: unknown keys {sorted(unknown)}")
            name = _text(entry, "name", where)
            where = f"{path.name} [{name}]"
            if not KEBAB.fullmatch(name):
                raise CatalogError(f"{where}: the name must be kebab-case")
            if name in seen:
                raise CatalogError(f"{where}: the name is used twice")
            seen.add(name)
            tests = entry.get("tests")
            if (
                not isinstance(tests, list)
                or not tests
                or not all(isinstance(t, str) and t for t in tests)
            ):
                raise CatalogError(f"{where}: 'tests' must be a non-empty list of node ids")
            new = entry.get("new")
            if not isinstance(new, str):
                raise CatalogError(f"{where}: 'new' must be a string (empty deletes 'old')")
            tier = entry.get("tier", "fast")
            if tier not in TIERS:
                raise CatalogError(f"{where}: 'tier' must be one of {TIERS}")
            mutation = Mutation(
                name=name,
                guarantee=_text(entry, "guarantee", where),
                file=_text(entry, "file", where),
                old=_text(entry, "old", where),
                new=new,
                tests=tuple(tests),
                tier=str(tier),
            )
            if mutation.old == mutation.new:
                raise CatalogError(f"{where}: 'new' equals 'old'")
            target = root / mutation.file
            if not target.is_file():
                raise CatalogError(f"{where}: no file {mutation.file}")
            count = target.read_text(encoding="utf-8").count(mutation.old)
            if count != 1:
                raise CatalogError(
                    f"{where}: 'old' occurs {count} times in {mutation.file} (must be once)"
                )
            for test in mutation.tests:
                test_file, *names = test.split("::")
                if not (root / test_file).is_file():
                    raise CatalogError(f"{where}: no test file for {test}")
                # A renamed test would make the baseline red for every mutation at once.
                source = (root / test_file).read_text(encoding="utf-8")
                for part in names:
                    bare = re.escape(part.split("[", 1)[0])
                    if not re.search(rf"(?m)^\s*(?:async\s+def|def|class)\s+{bare}\b", source):
                        raise CatalogError(f"{where}: no test {part} in {test_file}")
            mutations.append(mutation)
        except CatalogError as exc:
            problems.append(str(exc))
    if problems:
        raise CatalogError("\n".join(problems))
    return mutations


def tracked_files(root: Path) -> list[str]:
    """The files git tracks under ``root`` that exist in the work tree (edits included)."""
    listing = subprocess.run(
        ["git", "ls-files", "-z"],  # noqa: S607
        cwd=root,
        capture_output=True,
        check=True,
    )
    names = [n for n in listing.stdout.decode().split("\0") if n]
    return [n for n in names if (root / n).is_file()]


def copy_tree(root: Path, files: Sequence[str], scratch: Path) -> None:
    """Copy the tracked files into ``scratch``, keeping their relative paths."""
    for name in files:
        target = scratch / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target)


def first_failure(output: str) -> str:
    """The first ``FAILED``/``ERROR`` node id of pytest's short summary, else its last line."""
    for line in output.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            return line.split(" ", 1)[1].split(" - ", 1)[0].strip()
    lines = [line for line in output.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


#: The pytest runs in progress, each the leader of its own process group.
_running: set[subprocess.Popen[bytes]] = set()
_running_lock = threading.Lock()
_stopping = threading.Event()


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def stop_all() -> None:
    """Kill every pytest run in progress and what it started (on Ctrl-C or SIGTERM).

    Each run has a session of its own, out of reach of the terminal's Ctrl-C.
    """
    _stopping.set()
    with _running_lock:
        for process in _running:
            _kill(process)


def run_pytest(scratch: Path, tests: Sequence[str], timeout: float) -> tuple[int | None, str]:
    """Run pytest on ``tests`` inside ``scratch``; None as status when it ran past ``timeout``."""
    env = {**os.environ, "PYTHONPATH": str(scratch)}
    # Its own session, so a timeout ends the servers the tests started with it.
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
        cwd=scratch,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    with _running_lock:
        _running.add(process)
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(process)
        out, _ = process.communicate()
        return None, out.decode(errors="replace")
    except BaseException:
        _kill(process)  # interrupted while waiting here (the baseline, in the main thread)
        raise
    finally:
        with _running_lock:
            _running.discard(process)
    return process.returncode, out.decode(errors="replace")


def judge(status: int | None, output: str, timeout: float) -> tuple[Verdict, str]:
    """caught (pytest exit 1), survived (0), broken (anything else, a timeout included)."""
    if status is None:
        return "broken", f"timed out after {timeout:g} s"
    if status == PYTEST_FAILED:
        return "caught", first_failure(output)
    if status == PYTEST_PASSED:
        return "survived", "all its tests passed"
    return "broken", f"pytest exit {status}: {first_failure(output)}"


def run_one(mutation: Mutation, root: Path, files: Sequence[str], timeout: float) -> Result:
    """Apply ``mutation`` to a fresh scratch copy, run its tests, judge them."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"mutant-{mutation.name}-") as tmp:
        scratch = Path(tmp)
        copy_tree(root, files, scratch)
        target = scratch / mutation.file
        source = target.read_text(encoding="utf-8")
        if source.count(mutation.old) != 1:
            return Result(mutation.name, "broken", 0.0, "'old' is not in the copy exactly once")
        target.write_text(source.replace(mutation.old, mutation.new, 1), encoding="utf-8")
        status, output = run_pytest(scratch, mutation.tests, timeout)
    verdict, detail = judge(status, output, timeout)
    return Result(mutation.name, verdict, time.monotonic() - started, detail)


def foreign_import(scratch: Path, package: str) -> str | None:
    """Where ``package`` is imported from, if not from ``scratch`` (else None).

    An install that shadows the copy (a plain ``pip install .``) would make every
    mutation survive: the tests would never run the mutated code.
    """
    found = subprocess.run(  # noqa: S603
        [sys.executable, "-c", f"import {package}; print({package}.__file__)"],
        cwd=scratch,
        env={**os.environ, "PYTHONPATH": str(scratch)},
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode != 0:
        lines = found.stderr.strip().splitlines()
        return f"nowhere ({lines[-1] if lines else 'the import failed'})"
    where = found.stdout.strip()
    return None if Path(where).resolve().is_relative_to(scratch.resolve()) else where


def packages_of(mutations: Sequence[Mutation], root: Path) -> list[str]:
    """The top-level packages the mutations change (directories with an __init__.py)."""
    tops = dict.fromkeys(Path(m.file).parts[0] for m in mutations if len(Path(m.file).parts) > 1)
    return [top for top in tops if (root / top / "__init__.py").is_file()]


def baseline(
    mutations: Sequence[Mutation], root: Path, files: Sequence[str], timeout: float
) -> tuple[bool, float, str, str]:
    """Every selected mutation's tests, once, on the unmutated tree: they must all pass.

    First each mutated package must import from the scratch copy. Returns whether all
    is well, the seconds taken, a one-line reason and pytest's output.
    """
    tests = list(dict.fromkeys(t for m in mutations for t in m.tests))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mutant-baseline-") as tmp:
        scratch = Path(tmp)
        copy_tree(root, files, scratch)
        for package in packages_of(mutations, root):
            where = foreign_import(scratch, package)
            if where is not None:
                reason = f"{package} is imported from {where}, not from the copy"
                return False, time.monotonic() - started, reason, ""
        status, output = run_pytest(scratch, tests, timeout)
    seconds = time.monotonic() - started
    if status == PYTEST_PASSED:
        return True, seconds, "passed", output
    reason = f"timed out after {timeout:g} s" if status is None else f"pytest exit {status}"
    return False, seconds, f"{reason}: {first_failure(output)}", output


def select(mutations: Sequence[Mutation], only: Sequence[str], tier: str) -> list[Mutation]:
    """The mutations named by ``--only`` (any tier), else those of ``--tier``."""
    if only:
        by_name = {m.name: m for m in mutations}
        unknown = [n for n in only if n not in by_name]
        if unknown:
            raise CatalogError(f"no mutation named {', '.join(unknown)}")
        return [by_name[n] for n in dict.fromkeys(only)]
    return [m for m in mutations if tier == "all" or m.tier == tier]


def _line(result: Result, width: int) -> str:
    return f"{result.name:<{width}}  {result.verdict:<8}  {result.seconds:6.1f}s  {result.detail}"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line (see the module's docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m mutants.run",
        description="Apply named mutations one at a time to a scratch copy; fail if any survives.",
    )
    parser.add_argument("--only", nargs="+", default=[], metavar="NAME", help="these mutations")
    parser.add_argument(
        "--tier", choices=[*TIERS, "all"], default="fast", help="which tier (default: fast)"
    )
    parser.add_argument("--jobs", type=int, default=2, help="mutations at once (default: 2)")
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds per mutation (default: 300)"
    )
    parser.add_argument(
        "--baseline-timeout",
        type=float,
        default=1800.0,
        help="seconds for the unmutated run (default: 1800)",
    )
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--catalog", type=Path, default=CATALOG, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.timeout <= 0 or args.baseline_timeout <= 0:
        parser.error("timeouts must be positive")
    return args


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the session; 0 when every selected mutation was caught, 1 otherwise, 2 on bad
    input, 130 when interrupted (Ctrl-C or SIGTERM: the runs in progress are killed)."""
    args = parse_args(argv)
    _stopping.clear()
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        return _session(args)
    except KeyboardInterrupt:
        stop_all()
        print("mutants: interrupted", file=sys.stderr)
        return 130
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _session(args: argparse.Namespace) -> int:
    root: Path = args.root.resolve()
    try:
        chosen = select(load_catalog(args.catalog, root), args.only, args.tier)
    except CatalogError as exc:
        print(f"mutants: {exc}", file=sys.stderr)
        return 2
    if args.list:
        for m in chosen:
            print(f"{m.name} [{m.tier}] {m.file}: {m.guarantee}")
        return 0
    if not chosen:
        print(f"mutants: no mutation in tier {args.tier!r}", file=sys.stderr)
        return 2
    files = tracked_files(root)
    width = max(len(m.name) for m in chosen)
    passed, seconds, reason, output = baseline(chosen, root, files, args.baseline_timeout)
    if not passed:
        print(output[-4000:])
        print(f"mutants: the baseline is red ({reason}): no mutation can be judged")
        return 1
    print(f"baseline: the tests of {len(chosen)} mutations pass unmutated ({seconds:.1f}s)")
    lock = threading.Lock()
    results: list[Result] = []

    def one(mutation: Mutation) -> None:
        if _stopping.is_set():
            return
        result = run_one(mutation, root, files, args.timeout)
        with lock:
            if not _stopping.is_set():
                results.append(result)
                print(_line(result, width), flush=True)

    pool = ThreadPoolExecutor(max_workers=args.jobs)
    try:
        for future in [pool.submit(one, m) for m in chosen]:
            future.result()
    except KeyboardInterrupt:
        stop_all()
        pool.shutdown(cancel_futures=True)
        print(f"mutants: interrupted after {len(results)} of {len(chosen)}", file=sys.stderr)
        return 130
    pool.shutdown()
    failed = [r for r in results if r.verdict != "caught"]
    counts = {v: sum(r.verdict == v for r in results) for v in ("caught", "survived", "broken")}
    print(
        f"mutants: {counts['caught']} caught, {counts['survived']} survived, "
        f"{counts['broken']} broken of {len(results)}"
    )
    for r in failed:
        print(f"  {r.verdict}: {r.name}: {r.detail}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
