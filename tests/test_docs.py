"""Every ```python block in README.md and docs/*.md runs.

Blocks of one page share a namespace and run in order, so a page reads as one
script. Fence a block as ```pycon or ```text to show code that is not run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for number, block in enumerate(FENCE.findall(page.read_text(encoding="utf-8")), 1):
        code = compile(block, f"{page.name}[block {number}]", "exec")
        exec(code, namespace)


CONFLICT = re.compile(r"^(<{7}|={7}|>{7})( |$)", re.MULTILINE)


@pytest.mark.parametrize(
    "page", [*PAGES, ROOT / "CHANGELOG.md"], ids=lambda p: str(p.relative_to(ROOT))
)
def test_page_has_no_merge_conflict_markers(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    lines = [text.count("\n", 0, m.start()) + 1 for m in CONFLICT.finditer(text)]
    assert lines == [], f"{page.name}: merge conflict markers at lines {lines}"
