"""Scale out on accelerate: `--nproc N` relaunches the training script under `accelerate launch`
with configs/accelerate/<train.distributed>.yaml (ddp when the config says none)."""

from __future__ import annotations

import os
import subprocess
import sys

from zen_vl.config import ZenConfig, configs_dir


def accelerate_config(cfg: ZenConfig):
    name = cfg.train.distributed if cfg.train.distributed != "none" else "ddp"
    return configs_dir() / "accelerate" / f"{name}.yaml"


def launch_command(cfg: ZenConfig, nproc: int, script: str, argv: list[str]) -> list[str]:
    import torch

    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(accelerate_config(cfg)),
        "--num_processes",
        str(nproc),
    ]
    if not torch.cuda.is_available():
        # accelerate's --cpu launches one process (several need MPI). Its multi-GPU launcher is plain
        # torch.distributed.run and the Trainer (use_cpu) picks gloo: how the tests prove this path.
        # The FSDP config takes that launcher itself; `--multi_gpu` there would replace FSDP by DDP.
        cmd += ["--num_machines", "1"]
    return [*cmd, script, *argv]


def relaunch_distributed(cfg: ZenConfig, nproc: int, script: str, argv: list[str]) -> int | None:
    """Run under accelerate and return its exit code; None when already inside a launched process."""
    if "LOCAL_RANK" in os.environ:
        return None
    kept, skip = [], False
    for a in argv:  # drop --nproc N / --nproc=N: the launched processes are the N
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            kept.append(a)
    argv = kept
    return subprocess.run(launch_command(cfg, nproc, script, argv), check=False).returncode
