"""`__all__` is the public API: it lists exactly the public names and each one exists."""

from types import ModuleType

import digitorn_notify


def test_all_equals_public_names() -> None:
    public = {
        name
        for name, value in vars(digitorn_notify).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }
    assert public == set(digitorn_notify.__all__) - {"__version__"}


def test_all_is_resolvable_and_unique() -> None:
    assert len(set(digitorn_notify.__all__)) == len(digitorn_notify.__all__)
    for name in digitorn_notify.__all__:
        assert hasattr(digitorn_notify, name), name
