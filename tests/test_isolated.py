"""streamlytics.isolated: a function run in a fresh interpreter gives back its value or its exception."""

from __future__ import annotations

import os

import pytest

from streamlytics import isolated


def child_pid_and_env(name: str) -> tuple[int, str | None]:
    return os.getpid(), os.environ.get(name)


def refuse(message: str) -> None:
    raise LookupError(message)


class NeedsTwoArgs(Exception):
    def __init__(self, a: str, b: str) -> None:
        super().__init__(f"{a}/{b}")


def refuse_unpicklably() -> None:
    raise NeedsTwoArgs("first", "second")


def die() -> None:
    os._exit(3)


def test_value_comes_back_from_another_process_with_this_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMLYTICS_ISOLATED_PROBE", "inherited")
    pid, value = isolated.call(child_pid_and_env, "STREAMLYTICS_ISOLATED_PROBE")
    assert pid != os.getpid() and value == "inherited"


def test_exception_comes_back_with_its_type_and_message() -> None:
    with pytest.raises(LookupError, match="no such title"):
        isolated.call(refuse, "no such title")


def test_exception_that_cannot_be_rebuilt_keeps_its_type_name_and_text() -> None:
    with pytest.raises(RuntimeError, match="NeedsTwoArgs: first/second"):
        isolated.call(refuse_unpicklably)


def test_a_child_that_dies_is_reported() -> None:
    with pytest.raises(isolated.ChildProcessFailed, match="code 3"):
        isolated.call(die)
