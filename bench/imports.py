"""Cold import of the monitor function's handler against a bare `import boto3`.

Measured in two environments, each in fresh interpreters (best of `runs`):

- the Lambda layer: only `layers/requirements.txt` (pip-installed once into
  `.bench/layer-<hash>`, as `sam build` puts it under /opt/python), `python -S` so nothing
  else is importable, and the variables Lambda sets (LAMBDA_TASK_ROOT makes the X-Ray SDK
  sample locally instead of making its sampling client at import, as it does in Lambda);
- the dev venv, as `make test` runs: it also holds awscrt and pyOpenSSL, which botocore
  imports when present, so `import boto3` weighs more there than in Lambda.

The verdict uses the Lambda layer. The handler's import is also taken apart step by step
(each step imported after the ones before it, in one interpreter), to show where it goes.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "layers" / "requirements.txt"
CONSTRAINTS = ROOT / "requirements" / "constraints.txt"
CODE_PATH = [ROOT / "layers", ROOT / "functions" / "monitor"]
LAMBDA_ENV = {
    "LAMBDA_TASK_ROOT": str(ROOT / "functions" / "monitor"),
    "AWS_LAMBDA_FUNCTION_NAME": "batch-health-bench",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
# What `import app` pulls in, in the order it does; each step is timed after the ones before.
STEPS = (
    ("boto3", "import boto3"),
    ("pydantic", "from pydantic import BaseModel"),
    ("powertools", "from aws_lambda_powertools import Logger, Metrics, Tracer"),
    ("observability (X-Ray SDK, patching)", "import batch_health.runtime.observability"),
    ("target models (batch_health.config)", "import batch_health.config"),
    ("checks, inventory, engine", "import batch_health.engine"),
    (
        "settings and event models",
        "import batch_health.runtime.settings, batch_health.runtime.event",
    ),
    ("monitor (notifications, metrics)", "import batch_health.runtime.monitor"),
    ("app", "import app"),
)


@dataclass(frozen=True)
class Environment:
    name: str
    argv: tuple[str, ...]  # the interpreter and its flags
    env: dict[str, str]


def layer_site() -> Path:
    """The layer's requirements alone, installed once per version of them."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes() + CONSTRAINTS.read_bytes()).hexdigest()
    target = ROOT / ".bench" / f"layer-{digest[:12]}"
    done = target / ".installed"
    if not done.exists():
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        out = subprocess.run(
            [*pip, "--target", str(target), "-r", str(REQUIREMENTS), "-c", str(CONSTRAINTS)],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"pip install of {REQUIREMENTS} failed:\n{out.stderr[-2000:]}")
        done.touch()
    return target


def environments() -> list[Environment]:
    path = os.pathsep.join(str(p) for p in CODE_PATH)
    lambda_like = Environment(
        "Lambda layer only",
        (sys.executable, "-S"),
        {
            "PATH": os.environ.get("PATH", ""),
            **LAMBDA_ENV,
            "PYTHONPATH": os.pathsep.join([str(layer_site()), path]),
        },
    )
    dev = Environment(
        "dev venv",
        (sys.executable,),
        {**os.environ, **LAMBDA_ENV, "PYTHONPATH": path},
    )
    return [lambda_like, dev]


def _timed(env: Environment, statements: list[str]) -> list[float]:
    """Seconds each statement took, run one after another in a fresh interpreter."""
    code = (
        "import json, time\nout = []\n"
        + "".join(
            f"t = time.perf_counter()\n{s}\nout.append(time.perf_counter() - t)\n"
            for s in statements
        )
        + "print(json.dumps(out))"
    )
    proc = subprocess.run(
        [*env.argv, "-c", code], env=env.env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{env.name}: {statements} failed:\n{proc.stderr.strip()[-2000:]}")
    return [float(x) for x in json.loads(proc.stdout.strip().splitlines()[-1])]


def best_of(env: Environment, statements: list[str], runs: int) -> list[float]:
    """Per statement, the fastest of `runs` fresh interpreters."""
    samples = [_timed(env, statements) for _ in range(runs)]
    return [min(column) for column in zip(*samples, strict=True)]


@dataclass(frozen=True)
class ImportTimes:
    env: str
    boto3_s: float
    handler_s: float
    steps: list[tuple[str, float]]

    @property
    def ratio(self) -> float:
        return self.handler_s / self.boto3_s


def measure(runs: int) -> list[ImportTimes]:
    results = []
    for env in environments():
        (boto3_s,) = best_of(env, ["import boto3"], runs)
        (handler_s,) = best_of(env, ["import app"], runs)
        steps = best_of(env, [s for _, s in STEPS], runs)
        names = [name for name, _ in STEPS]
        results.append(
            ImportTimes(env.name, boto3_s, handler_s, list(zip(names, steps, strict=True)))
        )
    return results
