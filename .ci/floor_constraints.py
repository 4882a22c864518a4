"""Pins every runtime dependency to its floor: the lowest version pyproject.toml allows.

    python .ci/floor_constraints.py            # print the pins (a pip constraints file)
    python .ci/floor_constraints.py --check    # exit 1 unless the installed versions are the floors

`make test-floor` installs the package with these constraints and runs the test suite,
so a floor that no longer works (croniter 6 computed wrong next runs; cattrs before
23.2.3 did not unstructure values typed Any) fails a test instead of a user.
Every runtime dependency must be written `name>=version`, with a version that exists.
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

_FLOOR = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*>=\s*([0-9][0-9A-Za-z.]*)\s*$")


def floors() -> dict[str, str]:
    """``name -> lowest allowed version`` for each runtime dependency."""
    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    pins = {}
    for requirement in project["project"]["dependencies"]:
        match = _FLOOR.match(requirement)
        if match is None:
            raise SystemExit(f"{requirement!r}: write runtime dependencies as name>=version")
        pins[match[1]] = match[2]
    return pins


def main() -> int:
    pins = floors()
    if sys.argv[1:] == ["--check"]:
        wrong = []
        for name, floor in pins.items():
            try:
                installed = version(name)
            except PackageNotFoundError:
                installed = "missing"
            if installed != floor:
                wrong.append(f"{name} {installed} (floor {floor})")
        if wrong:
            print("not at the floor: " + ", ".join(wrong), file=sys.stderr)
            return 1
        print("at the floor: " + ", ".join(f"{n}=={v}" for n, v in pins.items()))
        return 0
    for name, floor in pins.items():
        print(f"{name}=={floor}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
