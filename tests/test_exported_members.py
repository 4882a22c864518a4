"""`__all__` is the public API: it lists exactly the public names and each one exists."""

import digitorn_notify


def test_all_equals_public_names() -> None:
    public = {
        name
        for name, value in vars(digitorn_notify).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith("digitorn_notify")
        and not isinstance(value, type(digitorn_notify))
    }
    assert public == set(digitorn_notify.__all__) - {"__version__"}


def test_all_is_sorted_and_resolvable() -> None:
    assert list(digitorn_notify.__all__) == sorted(digitorn_notify.__all__)
    for name in digitorn_notify.__all__:
        assert hasattr(digitorn_notify, name), name
