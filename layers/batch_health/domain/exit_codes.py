"""What a container's conventional exit codes mean, for the message of a job that exited.

- 126 and 127: the container's command could not be run: "126 if the contained command
  cannot be invoked", "127 if the contained command cannot be found" (Docker's exit
  statuses, https://docs.docker.com/engine/containers/run/#exit-status).
- 128 + N: killed by signal N ("When a command terminates on a fatal signal whose number
  is N, Bash uses the value 128+N as the exit status",
  https://www.gnu.org/software/bash/manual/html_node/Exit-Status.html); the signals'
  numbers and meanings are signal(7)'s (https://man7.org/linux/man-pages/man7/signal.7.html):
  SIGKILL 9 (137), SIGSEGV 11 (139), SIGTERM 15 (143).
"""

from __future__ import annotations

from collections.abc import Mapping

MEANINGS: Mapping[int, str] = {
    126: "the command could not be invoked (not executable, or a permission problem)",
    127: "the command was not found in the image",
    137: (
        "killed by SIGKILL: most often the kernel's OOM killer at the container's memory "
        "limit, else a stop that outlived its grace period"
    ),
    139: "killed by SIGSEGV: the program crashed on an invalid memory access",
    143: "stopped by SIGTERM: the job was terminated (a timeout, a cancel, a Spot reclaim)",
}


def exit_code_meaning(code: int | None) -> str:
    """The conventional meaning of an exit code, "" for one with none."""
    return MEANINGS.get(code, "") if code is not None else ""
