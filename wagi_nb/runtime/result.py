"""What one run of a module produced."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .panics import Panic, panic_in

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
    def panic(self) -> Optional[Panic]:
        """For a run that exited non-zero or trapped: the panic (or exception, failed assert...)
        its language's runtime reported on stderr, if it reported one."""
        return panic_in(self.stderr) if self.outcome in (EXIT, TRAP) else None

    @property
    def status(self) -> str:
        """One line: how the run ended, a panic's message first."""
        if self.outcome == OK:
            return f"exit status 0 ({self.duration * 1000:.2f} ms)"
        if self.outcome in (TIMEOUT, OUTPUT):
            return f"stopped: {self.trap}"
        if self.outcome == INTERRUPTED:
            return "stopped: interrupted"
        ending = f"exit status {self.exit_code}" if self.outcome == EXIT else f"trap: {self.trap}"
        panic = self.panic
        return f"{panic} · {ending}" if panic else ending

    def __repr__(self) -> str:
        return (f"RunResult(outcome={self.outcome!r}, exit_code={self.exit_code!r}, "
                f"stdout={len(self.stdout)} bytes, stderr={len(self.stderr)} bytes, "
                f"duration={self.duration * 1000:.2f} ms)")
