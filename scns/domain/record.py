"""A minimal value-object base for the CLI's hot path.

``dataclasses`` pulls in ``inspect`` (and with it ``ast`` and ``dis``): about 10-15 ms of a
``scns submit`` that is mostly interpreter start-up. These few records need only fields,
defaults, equality and a repr, which ``__slots__`` gives for free.
"""

from __future__ import annotations


class Record:
    """Fields are the ``__slots__``; ``_defaults`` maps optional fields to their default."""

    __slots__: tuple[str, ...] = ()
    _defaults: dict = {}  # noqa: RUF012 - read-only by convention

    def __init__(self, *args, **kwargs) -> None:
        names = self.__slots__
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__} takes at most {len(names)} values")
        for name, value in zip(names, args, strict=False):
            object.__setattr__(self, name, value)
        for name in names[len(args) :]:
            if name in kwargs:
                value = kwargs.pop(name)
            elif name in self._defaults:
                value = self._defaults[name]
            else:
                raise TypeError(f"{type(self).__name__} is missing {name!r}")
            object.__setattr__(self, name, value)
        if kwargs:
            raise TypeError(f"{type(self).__name__} has no field {sorted(kwargs)[0]!r}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({fields})"
