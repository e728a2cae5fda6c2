"""What one run of a module produced."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

#: How a run ended.
OK, EXIT, TRAP, TIMEOUT, INTERRUPTED, OUTPUT = "ok", "exit", "trap", "timeout", "interrupted", "output"


@dataclass(kw_only=True)
class RunResult:
    """stdout and stderr in full (bytes), and how the run ended.

    ``outcome`` is ``"ok"`` (returned from main, or ``proc_exit(0)``),
    ``"exit"`` (a non-zero exit code), ``"trap"``, ``"timeout"``,
    ``"interrupted"`` or ``"output"`` (stopped for printing more than the
    output cap; ``stdout``/``stderr`` then hold the first cap's worth).
    """

    stdout: bytes
    stderr: bytes
    outcome: str
    exit_code: Optional[int] = 0
    #: For a trap/timeout: one line saying why (``wasm trap: out of bounds memory access``).
    trap: Optional[str] = None
    #: For a trap: ``"0x1234 function_name"`` frames, innermost first.
    backtrace: list = field(default_factory=list)
    #: Seconds from instantiation to the end of the run.
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome == OK

    @property
    def text(self) -> str:
        """stdout decoded as UTF-8 (bad bytes shown as U+FFFD)."""
        return self.stdout.decode("utf-8", errors="replace")

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", errors="replace")

    @property
    def status(self) -> str:
        """One line: how the run ended."""
        if self.outcome == OK:
            return f"exit status 0 ({self.duration * 1000:.2f} ms)"
        if self.outcome == EXIT:
            return f"exit status {self.exit_code}"
        if self.outcome in (TIMEOUT, OUTPUT):
            return f"stopped: {self.trap}"
        if self.outcome == INTERRUPTED:
            return "stopped: interrupted"
        return f"trap: {self.trap}"

    def __repr__(self) -> str:
        return (f"RunResult(outcome={self.outcome!r}, exit_code={self.exit_code!r}, "
                f"stdout={len(self.stdout)} bytes, stderr={len(self.stderr)} bytes, "
                f"duration={self.duration * 1000:.2f} ms)")
