"""``cli(...)``: the pixelproof command run in this process through click's runner, with the
result a subprocess would give (``returncode``, ``stdout``, ``stderr``). Tests about processes
and signals spawn ``python -m pixelproof`` themselves."""

from __future__ import annotations

import os
from dataclasses import dataclass

from click.testing import CliRunner

from pixelproof.cli import main


@dataclass
class Ran:
    returncode: int
    stdout: str | bytes
    stderr: str


def cli(*args: str, env: dict[str, str] | None = None, stdin: str | bytes | None = None) -> Ran:
    """Run ``pixelproof ARGS`` without the API keys of the environment (``env`` adds its own);
    with bytes on ``stdin``, stdout comes back as bytes."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.endswith("_API_KEY")}
    result = CliRunner().invoke(main, list(args), input=stdin, env={**unset, **(env or {})},
                                catch_exceptions=False)
    out = result.stdout_bytes if isinstance(stdin, bytes) else result.stdout
    return Ran(result.exit_code, out, result.stderr)
