"""Where settings come from: the project's folders and the environment (django-environ reads
`.env` when present; real environment variables win). Imported by every settings module."""

import os
from pathlib import Path

import environ

# litellm downloads its price map at import time unless told not to; no network at import.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
env.read_env(BASE_DIR / ".env")  # optional; real environment variables win
