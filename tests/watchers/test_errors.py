"""The watcher errors sit in the one tree and survive pickling."""

from __future__ import annotations

import pickle

import pytest

from digitorn_notify.errors import (
    NotifyError,
    ToolNotAllowedError,
    WatcherError,
    WatcherNotFoundError,
)


@pytest.mark.parametrize(
    ("cls", "also"),
    [
        (WatcherError, NotifyError),
        (WatcherNotFoundError, LookupError),
        (ToolNotAllowedError, PermissionError),
    ],
)
def test_the_tree_and_pickling(cls: type[Exception], also: type[Exception]) -> None:
    assert issubclass(cls, WatcherError)
    assert issubclass(cls, NotifyError)
    assert issubclass(cls, also)
    error = cls("no watcher 'abc'")
    clone = pickle.loads(pickle.dumps(error))
    assert (type(clone), str(clone)) == (cls, "no watcher 'abc'")
