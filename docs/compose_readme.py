"""Compose README.md from its chapters (run after editing any of them):

.venv/bin/python docs/compose_readme.py
"""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).parent
ROOT = DOCS.parent


def demote(text: str, to_level: int) -> str:
    """Shift headings so the chapter's top heading becomes `to_level`."""
    headings = [match for _, match in _headings(text) if match]
    shift = to_level - min(len(m.group(1)) for m in headings)
    lines = []
    for line, match in _headings(text):
        if match:
            line = "#" * (len(match.group(1)) + shift) + line[len(match.group(1)) :]
        lines.append(line)
    return "\n".join(lines).strip() + "\n"


def _headings(text: str) -> list[tuple[str, re.Match[str] | None]]:
    """Each line with its heading match, None inside code blocks."""
    in_code = False
    found = []
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        found.append((line, None if in_code else re.match(r"^(#+) ", line)))
    return found


def main() -> None:
    parts = [
        (DOCS / "README.head.md").read_text().strip() + "\n",
        demote((DOCS / "notifications.md").read_text(), 2),
        demote((DOCS / "api.md").read_text(), 2),
        demote((DOCS / "rollback.md").read_text(), 2),
        (DOCS / "README.tail.md")
        .read_text()
        .replace("BENCHMARK_FIGURES", (DOCS / "benchmark-figures.md").read_text().strip()),
    ]
    (ROOT / "README.md").write_text("\n".join(parts))


if __name__ == "__main__":
    main()
