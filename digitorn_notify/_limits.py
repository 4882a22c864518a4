"""How deep nested data from outside (a config file, a tool's arguments) may go.

Walking data recursively, as the config resolver, the JSON encoder and cattrs do,
raises ``RecursionError`` at about a thousand levels: a config is data from a file,
so a deeply nested one must be refused as bad input, with a path, before anything
walks it. Real configs and arguments stay within a handful of levels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["MAX_DEPTH", "too_deep"]

#: The deepest nesting of mappings and lists accepted in configs and arguments.
MAX_DEPTH: Final = 64


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests mappings and lists more than ``limit`` levels deep.

    Iterative, so it cannot itself overflow the stack; a structure that contains
    itself counts as too deep.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth >= limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
