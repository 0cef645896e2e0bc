"""`make run`'s Redis step: use one that answers, start a private one, or say what to install."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from config.testing import free_port

SCRIPT = Path(__file__).resolve().parents[2] / "bin" / "ensure-redis"


def run_script(url: str, cwd: Path, path: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "REDIS_URL": url}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(  # noqa: S603 - our own script
        ["bash", str(SCRIPT)], cwd=cwd, env=env, capture_output=True, text=True, timeout=30
    )


def test_uses_a_redis_that_answers(tmp_path):
    result = run_script(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1"), tmp_path)
    assert result.returncode == 0 and "answering" in result.stdout


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_starts_a_private_redis_under_var(tmp_path):
    port = free_port()
    result = run_script(f"redis://127.0.0.1:{port}/0", tmp_path)
    try:
        assert result.returncode == 0, result.stderr
        assert "started a private server" in result.stdout
        assert (tmp_path / "var" / "redis" / "redis.pid").exists()
        # Running it again finds the one it started.
        assert "answering" in run_script(f"redis://127.0.0.1:{port}/0", tmp_path).stdout
    finally:
        pid = (tmp_path / "var" / "redis" / "redis.pid").read_text().strip()
        os.kill(int(pid), 15)


def test_says_what_to_install_when_there_is_no_redis_server(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "seq", "sleep", "head", "grep", "mkdir", "cat"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    result = run_script(f"redis://127.0.0.1:{free_port()}/0", tmp_path, path=str(bin_dir))
    assert result.returncode == 1
    assert "redis-server is not installed" in result.stderr
    assert "apt-get install redis-server" in result.stderr
