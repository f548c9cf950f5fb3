"""Every ```python block of README.md and docs/*.md runs as written, so the docs cannot drift.

The blocks of one file run in order in one namespace (a later block may use an earlier block's
names), with the working directory at the repository root so that ``examples/`` and ``products/``
resolve as they do for a reader of a clone. A failure names the file and the line of the block,
and the traceback points at the Markdown line that raised. Warnings are errors here (pyproject's
``filterwarnings``), so an example that warns, e.g. an exact grid too small, fails too.

Two markers, both visible in the Markdown source:

- ``<!-- no-run: reason -->`` on the line before a python block: the block is only compiled (it
  needs a cluster or a server). Keep these rare; the reason is required.
- a ```text output block right after a python block: what the reader is told the block prints.
  It must match the printed text (numbers to a relative 1e-9, so a last-digit difference of a maths
  library does not fail it; everything else exactly, trailing spaces aside).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import math
import re
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^(`{3,})\s*([^\s`]*)\s*(.*)$")
_NO_RUN = re.compile(r"^<!--\s*no-run:\s*(.*?)\s*-->$")
_API_NAME = re.compile(r"\b(?:techins|ti)(?:\.[A-Za-z_]\w*)+")
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a Markdown file."""

    path: Path
    line: int  # 1-based line of the opening fence
    language: str
    extra: str  # the info string after the language word
    code: str
    no_run_reason: str | None  # None when not marked; "" when marked without a reason

    @property
    def where(self) -> str:
        path = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        return f"{path}:{self.line}"

    @property
    def is_python(self) -> bool:
        return self.language in ("python", "py")

    @property
    def is_output(self) -> bool:
        return self.language == "text" and self.extra == "output"


def parse_blocks(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file, each with the no-run marker of the line before it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence, language, extra = opening.groups()
        marker = _NO_RUN.match(lines[i - 1].strip()) if i > 0 else None
        end = i + 1
        # CommonMark: the closing fence is at least as long as the opening one and has no info string.
        while end < len(lines) and not (lines[end].startswith(fence) and not lines[end].strip("`").strip()):
            end += 1
        if end == len(lines):
            raise AssertionError(f"{path}:{i + 1}: code block never closed")
        code = "".join(line + "\n" for line in lines[i + 1:end])
        blocks.append(Block(path, i + 1, language.lower(), extra.strip(), code,
                            marker.group(1) if marker else None))
        i = end + 1
    return blocks


def same_output(printed: str, promised: str) -> bool:
    """The same lines, numbers equal to a relative 1e-9, trailing spaces and blank edges aside."""
    printed_lines = [line.rstrip() for line in printed.strip("\n").splitlines()]
    promised_lines = [line.rstrip() for line in promised.strip("\n").splitlines()]
    if len(printed_lines) != len(promised_lines):
        return False
    for got, want in zip(printed_lines, promised_lines):
        if _NUMBER.sub("#", got) != _NUMBER.sub("#", want):
            return False
        for a, b in zip(_NUMBER.findall(got), _NUMBER.findall(want)):
            if not math.isclose(float(a), float(b), rel_tol=1e-9):
                return False
    return True


def _compile(block: Block):
    # Blank lines in front so that the traceback's line numbers are the Markdown file's.
    return compile("\n" * block.line + block.code, str(block.path), "exec")


def run_file(path: Path) -> tuple[list[str], dict]:
    """Run the python blocks of one file in order; one message per failure, and the namespace."""
    blocks = parse_blocks(path)
    namespace: dict = {"__name__": "__docs__"}
    failures = []
    for index, block in enumerate(blocks):
        if not block.is_python:
            continue
        try:
            code = _compile(block)
        except SyntaxError as error:
            failures.append(f"{block.where}: the python block does not compile: {error}")
            continue
        if block.no_run_reason is not None:
            continue
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                exec(code, namespace)  # noqa: S102 - our own documentation
        except Exception as error:  # noqa: BLE001 - every failure is reported with its place
            # the first frame is this function's exec; the reader needs the Markdown lines
            trace = "".join(traceback.format_exception(type(error), error, error.__traceback__.tb_next))
            failures.append(f"{block.where}: the python block fails:\n{trace}")
            break  # the blocks after it would fail on the names it did not define
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        if following is not None and following.is_output and not same_output(printed.getvalue(), following.code):
            failures.append(f"{following.where}: the output shown is not what the block at line {block.line} "
                            f"prints, which is:\n{printed.getvalue()}")
    return failures, namespace


def _files_with_python() -> list[Path]:
    return [path for path in DOC_FILES if any(block.is_python for block in parse_blocks(path))]


def _check_readme(namespace: dict) -> None:
    """Beyond running: the README's figures are the ones its text says they are."""
    assert namespace["priced"].technical_premium.gt(0).all()
    sim, ex = namespace["sim"], namespace["ex"]
    assert abs(sim.mean() - ex.mean()) < 4 * sim.stderr("mean")
    assert len(namespace["quotes"]) == 3_000  # every policy of examples/portfolio.csv is priced


CHECKS = {"README.md": _check_readme}


@pytest.mark.parametrize("path", _files_with_python(), ids=lambda path: str(path.relative_to(ROOT)))
def test_python_blocks_run(path, monkeypatch):
    monkeypatch.chdir(ROOT)
    failures, namespace = run_file(path)
    assert not failures, "\n".join(failures)
    check = CHECKS.get(str(path.relative_to(ROOT)))
    if check is not None:
        check(namespace)


def test_markers_are_explicit():
    """A no-run marker gives its reason and sits on a python block; an output block follows a python
    block that runs; no-run blocks stay rare."""
    problems = []
    skipped = 0
    for path in DOC_FILES:
        blocks = parse_blocks(path)
        for index, block in enumerate(blocks):
            if block.no_run_reason is not None:
                skipped += 1
                if not block.is_python or not block.no_run_reason:
                    problems.append(f"{block.where}: a no-run marker needs a python block and a reason")
            if block.is_output and (index == 0 or not blocks[index - 1].is_python
                                    or blocks[index - 1].no_run_reason is not None):
                problems.append(f"{block.where}: an output block must follow a python block that runs")
    assert not problems, "\n".join(problems)
    assert skipped <= 3, f"{skipped} python blocks are marked no-run: make them run"


def test_the_docs_have_python_blocks():
    """The parse sees the blocks there are (a parse that found none would pass every file)."""
    readme = parse_blocks(ROOT / "README.md")
    assert sum(block.is_python for block in readme) >= 3
    assert any(block.language == "sh" for block in readme)
    assert {"pricing.md", "treaties.md", "user-guide.md"} <= {path.name for path in _files_with_python()}


def _resolves(name: str) -> bool:
    """Whether a dotted name such as ``techins.simulation.api.book_tail_losses`` (or ``ti.simulate``) exists."""
    parts = ["techins", *name.split(".")[1:]]
    for split in range(len(parts), 0, -1):  # the longest importable module, then attributes
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            if not hasattr(obj, attribute):
                return False
            obj = getattr(obj, attribute)
        return True
    return False


def test_every_techins_name_the_docs_cite_exists():
    """Prose names functions too (`techins.simulation.occurrences.cut_by_annual_terms`): a rename must update them."""
    missing = []
    for path in DOC_FILES:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            missing += [f"{path.relative_to(ROOT)}:{number}: {name}" for name in _API_NAME.findall(line)
                        if not _resolves(name)]
    assert not missing, "names the docs cite that techins does not have:\n" + "\n".join(missing)


# The collector itself, on small Markdown files.

def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "doc.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_blocks_share_one_namespace_and_skip_marked_ones(tmp_path):
    path = _write(tmp_path, "# t\n\n```python\nx = 2\n```\n\ntext\n\n<!-- no-run: needs a server -->\n"
                            "```python\nraise RuntimeError('must not run')\n```\n\n```py\ny = x * 3\n```\n"
                            "\n```sh\nexit 1\n```\n")
    failures, namespace = run_file(path)
    assert failures == []
    assert namespace["y"] == 6
    assert [block.line for block in parse_blocks(path) if block.is_python] == [3, 10, 14]


def test_a_failing_block_is_named_by_file_and_line(tmp_path):
    path = _write(tmp_path, "intro\n\n```python\nok = 1\n```\n\n```python\n\nundefined_name + ok\n```\n"
                            "\n```python\nnever = 1\n```\n")
    failures, namespace = run_file(path)
    assert len(failures) == 1
    assert failures[0].startswith(f"{path}:7: the python block fails")
    assert f'File "{path}", line 9' in failures[0]  # the traceback points at the Markdown line
    assert "NameError" in failures[0]
    assert "never" not in namespace


def test_a_syntax_error_is_reported_also_in_a_no_run_block(tmp_path):
    path = _write(tmp_path, "<!-- no-run: needs a cluster -->\n```python\nclient = (\n```\n")
    failures, _ = run_file(path)
    assert len(failures) == 1 and failures[0].startswith(f"{path}:2: the python block does not compile")


def test_the_output_shown_must_be_what_is_printed(tmp_path):
    good = _write(tmp_path, "```python\nprint(f'mean {2/3:.4f}, n {1_000:,}')\n```\n\n```text output\n"
                            "mean 0.6667, n 1,000\n```\n")
    assert run_file(good)[0] == []
    wrong = _write(tmp_path, "```python\nprint(f'mean {2/3:.4f}')\n```\n\n```text output\nmean 0.6666\n```\n")
    failures, _ = run_file(wrong)
    assert len(failures) == 1 and failures[0].startswith(f"{wrong}:5: the output shown is not")


def test_same_output_compares_numbers_relatively_and_words_exactly():
    assert same_output("a 1.0000000000001 b\n", "a 1.0 b")
    assert not same_output("a 1.0001 b", "a 1.0 b")
    assert not same_output("mean 1.0", "average 1.0")
    assert not same_output("1\n2", "1")


def test_an_unclosed_block_is_an_error(tmp_path):
    path = _write(tmp_path, "```python\nx = 1\n")
    with pytest.raises(AssertionError, match="never closed"):
        parse_blocks(path)
