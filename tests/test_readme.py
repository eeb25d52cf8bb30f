"""Every ```python block in README.md runs.

Each block runs on its own in a fresh interpreter (cwd: a temporary directory, so files the
examples write land there; PYTHONPATH: the repository root and tests/; MPLBACKEND=Agg),
as a reader would paste it. Blocks that need a GPU are
marked ``cuda`` and skip where there is none. Partial snippets belong in ```text fences.
README.md is built from docs/readme/*.md by scripts/build_readme.py: fix examples there.
"""
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
TIMEOUT_S = 60

# an opening fence, possibly indented (a block inside a list item)
_OPEN = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[ \t]*$")
_NEEDS_GPU = re.compile(r"""device\s*=\s*["']cuda|\.cuda\(|autocast\(\s*["']cuda|ndgrad\.device\(\s*["']cuda""")


def python_blocks(text):
    """[(first line number, source)] of every ```python block, dedented to column 0."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        opening = _OPEN.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, lang, start = opening["indent"], opening["lang"], i + 1
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            i += 1
        if i == len(lines):
            raise AssertionError(f"README.md: the ``` fence opened on line {start} is never closed")
        if lang == "python":
            body = "\n".join(lines[start:i])
            blocks.append((start + 1, textwrap.dedent(body) if indent else body))
        i += 1
    return blocks


def _params():
    params = []
    for line, source in python_blocks(README.read_text()):
        marks = [pytest.mark.cuda] if _NEEDS_GPU.search(source) else []
        params.append(pytest.param(source, id=f"README.md:{line}", marks=marks))
    return params


def test_readme_has_python_examples():
    assert len(python_blocks(README.read_text())) >= 5


def test_extractor_finds_indented_blocks_and_skips_other_languages():
    text = "a\n```text\nx = 1\n```\n- item\n\n  ```python\n  y = 2\n  ```\n```bash\nls\n```\n"
    assert python_blocks(text) == [(8, "y = 2")]


@pytest.mark.parametrize("source", _params())
def test_readme_example_runs(source, tmp_path):
    # the repository root, and tests/ for the oracle example (as tests/conftest.py does for test files)
    path = [str(ROOT), str(ROOT / "tests")] + [p for p in [os.environ.get("PYTHONPATH")] if p]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path), MPLBACKEND="Agg")
    try:
        done = subprocess.run([sys.executable, "-c", source], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"README example took over {TIMEOUT_S} s; make it smaller in docs/readme/:\n{source}")
    assert done.returncode == 0, (
        f"README example exited with {done.returncode} (fix it in docs/readme/, then "
        f"python scripts/build_readme.py):\n--- example ---\n{source}\n--- stderr ---\n{done.stderr}")
