"""The mutation runner (mutants/run.py) on a tiny throwaway tree: a module, tests, a catalogue."""

from __future__ import annotations

import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from mutants import run

CALC = """\
def add(a, b):
    return a + b


def spare():
    return "nobody tests this"


def wait():
    return 0
"""

TESTS = """\
from calc import add, wait


def test_add():
    assert add(2, 3) == 5


def test_wait():
    assert wait() == 0
"""


def entry(name: str, old: str, new: str, tests: str = "test_calc.py", tier: str = "fast") -> str:
    """One [[mutation]] table of a catalogue."""
    return (
        f'[[mutation]]\nname = "{name}"\nguarantee = "g"\nfile = "calc.py"\n'
        f"old = '''{old}'''\nnew = '''{new}'''\ntests = [\"{tests}\"]\ntier = \"{tier}\"\n\n"
    )


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git-tracked tree with a module and its tests; scratch copies go to ``tmp_path/scratch``."""
    root = tmp_path / "tree"
    root.mkdir()
    (root / "calc.py").write_text(CALC)
    (root / "test_calc.py").write_text(TESTS)
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\nminversion = "8"\n')
    (root / "untracked.txt").write_text("not copied")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(
        ["git", "add", "calc.py", "test_calc.py", "pyproject.toml"], cwd=root, check=True
    )
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    # The tiny tree needs no plugin; their loading is most of a run's time.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    return root


def session(root: Path, catalog: str, *args: str) -> int:
    (root.parent / "catalog.toml").write_text(catalog)
    return run.main(["--root", str(root), "--catalog", str(root.parent / "catalog.toml"), *args])


def test_caught_survived_and_broken_are_told_apart(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = (
        entry("add-subtracts", "a + b", "a - b")
        + entry("spare-changed", '"nobody tests this"', '"changed"')
        + entry("add-unparsable", "return a + b", "return a +")
        + entry("wait-hangs", "return 0", "__import__('time').sleep(60)")
    )
    status = session(tree, catalog, "--timeout", "6")
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert status == 1
    assert lines["add-subtracts"].split()[1] == "caught"
    assert "test_calc.py::test_add" in lines["add-subtracts"]
    assert lines["spare-changed"].split()[1] == "survived"
    assert lines["add-unparsable"].split()[1] == "broken"
    assert "pytest exit 2" in lines["add-unparsable"]
    assert lines["wait-hangs"].split()[1] == "broken"
    assert "timed out" in lines["wait-hangs"]
    assert "1 caught, 1 survived, 2 broken of 4" in out
    # Mutations live in scratch copies only, and the copies are gone.
    assert (tree / "calc.py").read_text() == CALC
    assert list((tree.parent / "scratch").iterdir()) == []


def test_all_caught_passes_and_copies_only_tracked_files(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tree / "test_untracked.py").write_text("def test_present():\n    assert True\n")
    catalog = entry("add-subtracts", "a + b", "a - b") + entry(
        "untracked-test", "a + b", "a * b", tests="test_untracked.py"
    )
    assert session(tree, catalog, "--only", "add-subtracts") == 0
    assert "1 caught, 0 survived, 0 broken of 1" in capsys.readouterr().out
    # The untracked test file is not in the copy: its baseline cannot pass.
    assert session(tree, catalog, "--only", "untracked-test") == 1
    assert "the baseline is red" in capsys.readouterr().out


def test_a_red_baseline_judges_nothing(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tree / "calc.py").write_text(CALC.replace("a + b", "a + b + 1"))
    status = session(tree, entry("add-subtracts", "a + b + 1", "a - b"))
    out = capsys.readouterr().out
    assert status == 1
    assert "the baseline is red" in out
    assert "add-subtracts " not in out
    assert "caught" not in out


@pytest.mark.parametrize(("old", "count"), [("a * b", 0), ("return", 3)])
def test_an_old_text_not_found_exactly_once_is_an_error(
    tree: Path, capsys: pytest.CaptureFixture[str], old: str, count: int
) -> None:
    catalog = entry("fine", "a + b", "a - b") + entry("rotten", old, "x")
    assert session(tree, catalog) == 2
    err = capsys.readouterr().err
    assert f"[rotten]: 'old' occurs {count} times in calc.py" in err
    assert "[fine]" not in err


@pytest.mark.parametrize(
    ("catalog", "message"),
    [
        (entry("a", "a + b", "a - b") + entry("a", "return 0", "return 1"), "used twice"),
        (entry("Not_Kebab", "a + b", "a - b"), "kebab-case"),
        (entry("slowish", "a + b", "a - b", tier="nightly"), "'tier' must be one of"),
        (entry("no-file", "a + b", "a - b", tests="test_nope.py"), "no test file"),
    ],
)
def test_a_malformed_entry_is_named(
    tree: Path, capsys: pytest.CaptureFixture[str], catalog: str, message: str
) -> None:
    assert session(tree, catalog) == 2
    assert message in capsys.readouterr().err


def test_tiers_and_list(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalog = entry("quick", "a + b", "a - b") + entry("long", "return 0", "return 1", tier="slow")
    assert session(tree, catalog, "--list") == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == ["quick"]
    assert session(tree, catalog, "--list", "--tier", "all") == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == ["quick", "long"]
    assert session(tree, catalog, "--list", "--only", "long") == 0
    assert capsys.readouterr().out.startswith("long [slow]")


def test_a_package_imported_from_outside_the_copy_is_caught(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "mod.py").write_text("X = 1\n")
    mutations = [
        run.Mutation("a", "g", "pkg/mod.py", "X = 1", "X = 2", ("t.py",)),
        run.Mutation("b", "g", "calc.py", "a + b", "a - b", ("t.py",)),
    ]
    assert run.packages_of(mutations, tmp_path) == ["pkg"]
    assert run.foreign_import(tmp_path, "pkg") is None
    # The standard library's json stands for an installed copy shadowing the scratch one.
    where = run.foreign_import(tmp_path, "json")
    assert where is not None
    assert not Path(where).is_relative_to(tmp_path)
    assert (run.foreign_import(tmp_path, "no_such_package") or "").startswith("nowhere")


def test_the_catalogue_matches_the_code_and_the_docs_list_its_slow_tier() -> None:
    # The session refuses a stale entry too; this says so in the ordinary test run.
    mutations = run.load_catalog(run.CATALOG, run.ROOT)
    assert len(mutations) >= 40
    # The package's guarantees, and the suite's own: its interpreters, its loop clock.
    own = {"noxfile.py", "tests/_clock.py"}
    assert all(m.file.startswith("stampsync/") or m.file in own for m in mutations)
    page = (run.ROOT / "docs" / "contributing.md").read_text()
    slow = [m.name for m in mutations if m.tier == "slow"]
    assert [name for name in slow if f"`{name}`" not in page] == []


def test_stop_all_ends_a_run_in_progress_and_what_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What Ctrl-C and SIGTERM do: a run has its own session, out of the terminal's reach.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    (tmp_path / "test_hang.py").write_text("import time\n\ndef test_hang():\n    time.sleep(60)\n")
    outcome: list[tuple[int | None, str]] = []
    worker = threading.Thread(
        target=lambda: outcome.append(run.run_pytest(tmp_path, ["test_hang.py"], 120))
    )
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while not run._running and time.monotonic() < deadline:
            time.sleep(0.02)
        assert run._running
        run.stop_all()
        worker.join(10)
        assert not worker.is_alive()
        [(status, _)] = outcome
        assert run.judge(status, "", 120)[0] == "broken"
    finally:
        run.stop_all()  # whatever happened, leave no run behind
        run._stopping.clear()


def test_a_catalogue_entry_naming_a_test_that_is_gone_is_refused(tmp_path: Path) -> None:
    """A renamed test left the whole mutation session red ("no match" at the baseline):
    the catalogue is refused when it is read instead, naming the entry."""
    (tmp_path / "pkg.py").write_text("LIMIT = 5\n")
    (tmp_path / "test_pkg.py").write_text("def test_the_limit():\n    pass\n")
    entry = (
        '[[mutation]]\nname = "m"\nguarantee = "g"\nfile = "pkg.py"\n'
        "old = 'LIMIT = 5'\nnew = 'LIMIT = 6'\n"
    )
    good = tmp_path / "good.toml"
    good.write_text(entry + 'tests = ["test_pkg.py::test_the_limit"]\n')
    assert [m.name for m in run.load_catalog(good, tmp_path)] == ["m"]
    stale = tmp_path / "stale.toml"
    stale.write_text(entry + 'tests = ["test_pkg.py::test_the_old_name"]\n')
    with pytest.raises(run.CatalogError, match=r"no test test_the_old_name in test_pkg\.py"):
        run.load_catalog(stale, tmp_path)
