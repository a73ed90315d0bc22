"""Two runs of the same stage on the same output: the second fails at once naming the first; a killed
holder leaves no stale lock."""

import os
import signal
import subprocess
import sys
import time

import pytest

from zen_vl.lock import Busy, exclusive

HOLD = """
import sys, time
from pathlib import Path
from zen_vl.lock import exclusive
with exclusive(Path(sys.argv[1]), "training agent/tiny"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_second_run_is_refused_and_a_killed_holder_frees_the_lock(tmp_path):
    folder = tmp_path / "agent" / "training" / "tiny"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        busy = pytest.raises(Busy, match=rf"training agent/tiny is already running \(pid {holder.pid}")
        with busy, exclusive(folder, "training agent/tiny"):
            pass
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    deadline = time.monotonic() + 5
    while True:  # the kernel drops the lock with the process
        try:
            with exclusive(folder, "training agent/tiny"):
                break
        except Busy:
            assert time.monotonic() < deadline
            time.sleep(0.05)
