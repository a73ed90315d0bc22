"""A training run that test_crash.py SIGKILLs: python tests/crash_child.py ROOT LOG MODE STEP [KEY=VALUE ...]

MODE run: train to the end. after-step: SIGKILL itself right after optimizer step STEP. while-saving:
SIGKILL itself in the middle of writing checkpoint-STEP (weights and optimizer written, RNG state and
trainer_state.json not). Every micro-batch's step and input hash go to LOG, to compare data order.
"""

import hashlib
import json
import os
import signal
import sys
from pathlib import Path

from transformers import Trainer, TrainerCallback

from zen_vl.config import load_config
from zen_vl.paths import Layout
from zen_vl.train import engine

root, log, mode, at, *overrides = sys.argv[1:]
at = int(at)


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


step = engine.ZenTrainer.training_step


def logged(self, model, inputs, *args, **kwargs):
    digest = hashlib.sha256(inputs["input_ids"].cpu().numpy().tobytes()).hexdigest()[:16]
    with open(log, "a") as fh:
        fh.write(json.dumps([self.state.global_step + 1, digest]) + "\n")
    return step(self, model, inputs, *args, **kwargs)


class AfterStep(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if mode == "after-step" and state.global_step == at:
            die()


save_rng = Trainer._save_rng_state


def save_rng_or_die(self, output_dir):
    if mode == "while-saving" and self.state.global_step == at:
        die()
    return save_rng(self, output_dir)


engine.ZenTrainer.training_step = logged
Trainer._save_rng_state = save_rng_or_die
cfg = load_config("tiny", "instruct", overrides)
print(engine.train(cfg, Layout(Path(root)), progress=False, callbacks=[AfterStep()]).summary(cfg))
