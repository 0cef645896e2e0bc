"""Chaos: real faults against real processes, each on runs caught mid-step (bench/recovery.py
does the work; this test runs it against the test database and checks what it reports).

- the worker's own PostgreSQL backends terminated (pg_terminate_backend) mid-step;
- a private redis-server (broker, cache, channel layer) killed mid-run and started again
  empty; runs started while it is down; /api/v3/health 503 while down, 200 after;
- the worker killed with -9 mid-step, a new one started; the messages the dead worker held
  unacked come back after the (short) visibility timeout and change nothing.
Every run finishes with exactly one document per step; the seconds it took are printed beside
the bound the engine aims for (timings are not asserted: the bench's figure is the measure, and a
replacement worker's start-up on a loaded machine is part of it).
"""

import json
import subprocess
import sys

import pytest
from django.db import connection

from config.testing import BASE_DIR, child_env

pytestmark = pytest.mark.integration


@pytest.mark.django_db(transaction=True)
def test_every_run_recovers_from_each_single_fault(tmp_path):
    faults = "db_cut,redis_restart,worker_kill"
    if connection.vendor != "postgresql":
        faults = "redis_restart,worker_kill"  # pg_terminate_backend is PostgreSQL's
    # One run per fault proves recovery; bench/recovery.py --runs N measures it on more.
    command = [sys.executable, "bench/recovery.py", "--keep-database", "--runs", "1"]
    command += ["--faults", faults, "--log-dir", str(tmp_path)]
    done = subprocess.run(  # noqa: S603 - our own script
        command, cwd=BASE_DIR, env=child_env(), capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    for fault, result in report["faults"].items():
        print(
            f"{fault}: all runs finished {result['recovery_seconds']} s after the fault "
            f"(bound {result['bound_seconds']} s; before leases were renewed: "
            f"{result['bound_before_seconds']} s)"
        )
        assert result["recovery_seconds"] is not None, (fault, result)
        assert result["succeeded"] == result["runs"], (fault, result)
        assert result["one_document_per_step"], (fault, result)
    assert set(report["faults"]) == set(faults.split(","))
    redis = report["faults"]["redis_restart"]
    assert (redis["health_while_down"], redis["health_after"]) == (503, 200)
    killed = report["faults"]["worker_kill"]
    assert killed["after_redelivery"] == {
        **killed["after_redelivery"],
        "documents": killed["documents"],
    }
    if "db_cut" in report["faults"]:
        assert report["faults"]["db_cut"]["backends_terminated"] >= 1
