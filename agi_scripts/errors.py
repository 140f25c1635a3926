"""What can go wrong in an AGI session, as a tree the executor can catch at the right level.

AGIError                    any failure of the AGI conversation
├── AGIHangup               the caller's channel is gone (HANGUP line, SIGHUP, peer closed)
│   └── AGIDeadChannel      Asterisk refused a command on a dead channel (511)
├── AGITimeout              Asterisk did not answer in time; the session is no longer usable
├── AGICommandError         Asterisk rejected the command (510, 520, other codes)
└── AGIProtocolError        the peer sent something that is not AGI (bad env, huge line)
"""

from __future__ import annotations


class AGIError(Exception):
    """Any failure of the AGI conversation."""


class AGIHangup(AGIError):
    """The caller hung up or the peer closed the connection."""


class AGIDeadChannel(AGIHangup):
    """`511 Command Not Permitted on a dead channel or intercept routine`."""


class AGITimeout(AGIError):
    """No reply within the allowed time."""


class AGICommandError(AGIError):
    """Asterisk answered with an error code; `code` and `line` say which."""

    def __init__(self, code: int, line: str) -> None:
        super().__init__(f"AGI error {code}: {line}")
        self.code = code
        self.line = line


class AGIProtocolError(AGIError):
    """The peer broke the protocol (incomplete environment, oversized or malformed line)."""
