"""One environment variable as a setting: its type, default, meaning and rule, read when asked for.

`Setting` is a descriptor: on the class it is the definition (for docs and checks), on an instance
it reads and checks the variable now (a MementoError naming it when its value is not valid).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Generic, TypeVar, overload

from memento_graph.context import check_range, env_value
from memento_graph.errors import MementoError

T = TypeVar("T")
_RULES = {
    "positive": (lambda v: v > 0, "must be positive"),
    "non-negative": (lambda v: v >= 0, "must be 0 or more"),
    "fraction": (lambda v: 0 <= v <= 1, "must be between 0 and 1"),
    "any": (lambda v: True, ""),
    "store-url": (
        lambda v: v.lower() in ("", "sqlite") or v.startswith(("postgresql://", "postgres://")),
        "is not valid: use postgresql://user@host:port/db or sqlite",
    ),
}


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One environment variable: its default, meaning and the rule its value must follow."""

    env: str
    default: T
    description: str
    rule: str = "any"  # numbers: positive, non-negative, fraction; text: store-url
    choices: tuple[str, ...] = ()  # text: the allowed words ("" = unset)
    shown: str = ""  # the default as the README shows it, when not the value itself
    internal: bool = False  # set by memento for its tool servers, not by users
    optional: bool = False  # unset (or empty) reads as None
    name: str = field(default="", compare=False)

    def __set_name__(self, owner: type, name: str) -> None:
        object.__setattr__(self, "name", name)

    @overload
    def __get__(self, obj: None, owner: type) -> Setting[T]: ...
    @overload
    def __get__(self, obj: object, owner: type) -> T: ...
    def __get__(self, obj: object | None, owner: type) -> Setting[T] | T:
        return self if obj is None else self.read()

    def raw(self) -> str:
        """Return the variable's text as set ("" when unset)."""
        return os.environ.get(self.env, "")

    def read(self) -> T:
        """Return the value now: the default when unset, else the checked value (MementoError)."""
        if self.optional and not self.raw().strip():
            return None  # type: ignore[return-value]
        if self.choices:
            return self._choice()  # type: ignore[return-value]
        if isinstance(self.default, str) or self.default is None:
            text = self.raw().strip() or self.default
            ok, message = _RULES[self.rule]
            if isinstance(text, str) and not ok(text):
                raise MementoError(f"{self.env}={self.raw()!r} {message}")
            return text  # type: ignore[return-value]
        value = env_value(self.env, self.default)
        ok, message = _RULES[self.rule]
        if not isinstance(value, bool) and not ok(value):
            raise MementoError(f"{self.env}={os.environ[self.env]!r} {message}")
        return value

    def _choice(self) -> str:
        raw = self.raw()
        word = raw.strip().upper() if self.choices[0].isupper() else raw.strip().lower()
        if not raw or word in self.choices:
            return word or str(self.default)
        if "epsilon" in self.choices and word.startswith("epsilon:"):
            try:
                check_range(f"{self.env}={raw!r}", float(word.partition(":")[2]), 0, 1)
                return word
            except ValueError:
                pass
        shown = ", ".join(a for a in self.choices if a)
        shown += ", epsilon:<0..1>" if "epsilon" in self.choices else ""
        raise MementoError(f"{self.env}={raw!r} is not valid: use one of {shown}")

    @property
    def kind(self) -> str:
        """Return the type's name as the configuration table shows it."""
        return "choice" if self.choices else type(self.default).__name__
