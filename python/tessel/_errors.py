"""Exceptions raised by tessel: the C++ tool's error types, with the tool's own messages."""

from __future__ import annotations

import re
from typing import Optional

# "configs/hw/x.yaml:12:5: hw.tiles: expected a positive integer, got "sixteen""
# "--set hw.tilez:1:1: hw.tilez: unknown key"
_LOCATED = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<column>\d+): (?P<rest>.*)$", re.S)
_KEY = re.compile(r"^(?P<key>[A-Za-z0-9_][A-Za-z0-9_.\[\]-]*): ")


class Error(RuntimeError):
    """Any error the `tessel` tool reports; str(e) is the tool's message without "tessel: ".

    exit_code is the code `tessel` exits with for it (README.md lists them).
    """

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(Error):
    """A bad config, experiment, sweep or override, located like the tool locates it.

    file, line and column say where the value is (line 0 and column 0 when the message has
    no location); key is the dotted key path ("hw.tiles"), None when the message names none.
    """

    exit_code = 3

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.file: Optional[str] = None
        self.line = 0
        self.column = 0
        self.key: Optional[str] = None
        m = _LOCATED.match(message)
        rest = message
        if m:
            self.file = m.group("file")
            self.line = int(m.group("line"))
            self.column = int(m.group("column"))
            rest = m.group("rest")
        k = _KEY.match(rest)
        if k:
            self.key = k.group("key")


class IoError(Error):
    """A file or folder that could not be read or written (the message names it)."""

    exit_code = 4


class SimError(Error):
    """A run that could not complete: a failed simulation, a crash or a timeout."""

    exit_code = 1
