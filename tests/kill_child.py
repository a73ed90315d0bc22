"""Run a pipeline script and SIGKILL it at the moment it renames its output into place:
python tests/kill_child.py DEST_PREFIX scripts/X.py [ARGS ...]

The kill lands where an unsafe writer would leave the most complete-looking folder: every file
written, the completion manifest included, only the final rename missing.
"""

import os
import runpy
import signal
import sys

victim, script, *args = sys.argv[1:]
replace = os.replace


def replace_or_die(src, dst, *a, **kw):
    if os.path.abspath(dst).startswith(os.path.abspath(victim)):
        os.kill(os.getpid(), signal.SIGKILL)
    return replace(src, dst, *a, **kw)


os.replace = replace_or_die
sys.argv = [script, *args]
runpy.run_path(script, run_name="__main__")
