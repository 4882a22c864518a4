"""The error tree: one root, and errors survive pickling (multiprocessing, logging queues)."""

from __future__ import annotations

import pickle

import pytest

import digitorn_notify.channels
from digitorn_notify import (
    ChannelNotFoundError,
    ConfigError,
    DeliveryError,
    ExpressionError,
    InvalidJobError,
    JobNotFoundError,
    NotifyError,
    ResolverError,
    SchedulerError,
    StoreError,
    TimeExpressionError,
    ToolNotAllowedError,
    WatcherError,
    WatcherNotFoundError,
)


@pytest.mark.parametrize(
    "cls",
    [
        ConfigError,
        ExpressionError,
        TimeExpressionError,
        DeliveryError,
        ChannelNotFoundError,
        StoreError,
        WatcherError,
        WatcherNotFoundError,
        ToolNotAllowedError,
        SchedulerError,
        InvalidJobError,
        JobNotFoundError,
        ResolverError,
    ],
)
def test_everything_derives_from_notify_error(cls: type[Exception]) -> None:
    assert issubclass(cls, NotifyError)


def test_config_error_names_the_path_and_pickles() -> None:
    error = ConfigError("missing required field", path="channels.x.config.url")
    assert str(error) == "channels.x.config.url: missing required field"
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.reason, clone.path, str(clone)) == (error.reason, error.path, str(error))
    assert str(error.with_prefix("app")) == "app.channels.x.config.url: missing required field"


def test_expression_error_keeps_column_and_text_through_pickle() -> None:
    error = ExpressionError("bad", column=7, text="a == ")
    clone = pickle.loads(pickle.dumps(error))
    assert (str(clone), clone.column, clone.text) == ("bad", 7, "a == ")


def test_bad_input_is_one_class_and_the_tree_is_exported() -> None:
    from digitorn_notify import errors

    assert issubclass(InvalidJobError, ConfigError)
    assert issubclass(InvalidJobError, SchedulerError)
    assert issubclass(TimeExpressionError, ConfigError)
    assert "ResolverError" in errors.__all__
    assert errors.ResolverError is ResolverError
    error = TimeExpressionError("cannot read 'x' as a time", path="when")
    clone = pickle.loads(pickle.dumps(error))
    assert (type(clone), clone.path, str(clone)) == (
        TimeExpressionError,
        "when",
        "when: cannot read 'x' as a time",
    )
def test_the_module_exports_every_error_of_its_tree() -> None:
    import digitorn_notify.errors as errors

    defined = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.NotifyError)
    }
    assert defined == set(errors.__all__)
    for name in defined:
        assert name in errors.__doc__, f"{name} is missing from the tree in the docstring"
    assert errors.ResolverError is digitorn_notify.channels.ResolverError
    assert issubclass(errors.ResolverError, LookupError)
