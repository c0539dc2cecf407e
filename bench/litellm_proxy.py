"""The LiteLLM proxy beside the gateway: its own virtualenv, a config routing to the mock.

Installed once into `.venv-bench/litellm` (kept between runs) and started with its own CLI:
a master key, no database, one model `gpt-bench` routed to the mock as `openai/gpt-bench`.
"""

from __future__ import annotations

import json
import subprocess
import sys

from bench.processes import ROOT, Process
from bench.upstream import MODEL

VERSION = "1.100.5"
VENV = ROOT / ".venv-bench" / "litellm"
CONFIG_DIR = ROOT / "bench" / "results" / "litellm"
# A key for a proxy that lives one benchmark run.
MASTER_KEY = "sk-bench-master"

CONFIG = """\
model_list:
  - model_name: {model}
    litellm_params:
      model: openai/{model}
      api_base: {mock}/v1
      api_key: sk-bench-upstream
general_settings:
  master_key: {master_key}
"""

# Like the gateway's --no-access-log: uvicorn's access log off, its errors kept.
LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {"uvicorn.access": {"level": "WARNING"}, "uvicorn.error": {"level": "WARNING"}},
}


def ensure_installed() -> None:
    """Create the virtualenv with `litellm[proxy]` pinned, unless this version is there."""
    stamp = VENV / f".installed-{VERSION}"
    if stamp.exists():
        return
    print(f"installing litellm[proxy]=={VERSION} into {VENV.relative_to(ROOT)} (once)...")
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(VENV / "bin" / "pip"), "install", "--quiet"]
    subprocess.run([*pip, f"litellm[proxy]=={VERSION}"], check=True)
    stamp.touch()


def proxy(*, mock: str, port: int, workers: int) -> Process:
    """The proxy on `port` with `workers` uvicorn worker processes (its --num_workers)."""
    CONFIG_DIR.mkdir(parents=True, exist_ok=True)
    config = CONFIG_DIR / "config.yaml"
    config.write_text(CONFIG.format(model=MODEL, mock=mock, master_key=MASTER_KEY))
    log_config = CONFIG_DIR / "logging.json"
    log_config.write_text(json.dumps(LOG_CONFIG))
    command = [
        str(VENV / "bin" / "litellm"),
        f"--config={config}",
        "--host=127.0.0.1",
        f"--port={port}",
        f"--num_workers={workers}",
        f"--log_config={log_config}",
    ]
    # The cost map from the bundled copy (no fetch at start); and no DATABASE_URL or REDIS_URL
    # of the gateway's, which LiteLLM would take for its own database and cache.
    env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
    return Process(command, name="litellm", port=port, env=env, unset=("DATABASE_URL", "REDIS_URL"))


def headers() -> dict[str, str]:
    """What a client sends LiteLLM: the master key as its bearer token."""
    return {"Authorization": f"Bearer {MASTER_KEY}"}
