"""`make eval VARIANT=agent`: the test set's GUI episodes replayed live, the model acting in the
environment (zen_vl.gui.episode.run_episodes), for a transformers model or an export behind its
server (llama-server, mlx_vlm.server: the same OpenAI chat loop as zen_vl.evaluate.served).

Records and metrics are cached in `<label>.episodes.json` while model, episodes, settings and the
environment's code are unchanged; each episode's screenshots stay in `episodes-<label>/`.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from zen_vl.artifacts import code_hash, current, fingerprint, reusable, safe_name
from zen_vl.atomic import write_json
from zen_vl.config import ZenConfig
from zen_vl.data.schema import read_jsonl
from zen_vl.gui.episode import metrics, run_episodes

CODE = ("gui/apps.py", "gui/env.py", "gui/tasks.py", "gui/episode.py", "evaluate/episodes.py",
        "evaluate/generate.py", "evaluate/tool_calls.py", "evaluate/served.py")  # fmt: skip


def episode_specs(data: Path, limit: int | None = None) -> list[dict]:
    """The episodes in a data folder's test set (samples with `meta.episode`), with their sample index."""
    samples = [s for _, s in read_jsonl(data / "test.jsonl")][:limit]
    return [
        {"id": str(i), **s["meta"]["episode"]}
        for i, s in enumerate(samples)
        if "episode" in s.get("meta", {})
    ]


@contextlib.contextmanager
def hf_policy(folder: Path, cfg: ZenConfig, thinking: bool, media: Path) -> Iterator[Callable]:
    """A transformers model answering episode prompts, batched, decoded as the test set is."""
    from zen_vl.evaluate.generate import decoding, generate, load_model

    processor, model = load_model(folder)
    how = decoding(cfg, model, thinking)
    step = itertools.count()

    def act(prompts: list[dict]) -> list[str]:
        seed = None if how["mode"] == "greedy" else how["seed"] + 7919 * next(step)
        return generate(model, processor, prompts, media_root=media, processor_kwargs=cfg.vision.processor_kwargs,
                        max_new_tokens=cfg.eval.max_new_tokens, batch_size=cfg.eval.batch_size, sample_seed=seed)  # fmt: skip

    yield act


@contextlib.contextmanager
def served_policy(model, cfg: ZenConfig, thinking: bool, media: Path) -> Iterator[Callable]:
    """An export behind its own server (zen_vl.evaluate.served.started) answering episode prompts."""
    from zen_vl.evaluate.served import started

    with started(model, thinking=thinking, vision=cfg.vision, slots=cfg.eval.batch_size) as url:
        yield endpoint_policy(url, cfg, media, threads=cfg.eval.batch_size if model.kind == "gguf" else 1,
                              name=str(model.model), tool_images_in_user=model.tool_images_in_user)  # fmt: skip


def endpoint_policy(
    url: str,
    cfg: ZenConfig,
    media: Path,
    *,
    threads: int = 1,
    name: str = "zen-vl",
    tool_images_in_user: bool = False,
) -> Callable:
    """Any OpenAI-compatible chat endpoint (llama-server, vLLM, mlx_vlm.server) as a policy: the
    screenshots go as data URLs, the calls come from the server's own parser, written back in the
    model's text format. `tool_images_in_user`: for mlx_vlm.server (zen_vl.evaluate.served)."""
    from zen_vl.evaluate.served import chat

    def act(prompts: list[dict]) -> list[str]:
        replies = chat(url, prompts, media_root=media, max_tokens=cfg.eval.max_new_tokens, threads=threads,
                       progress=False, label=name, model=name, tool_images_in_user=tool_images_in_user)  # fmt: skip
        return [r["output"] or "" for r in replies]

    return act


def episodes_of(
    label: str, identity: str, policy: Callable[[Path], contextlib.AbstractContextManager], specs: list[dict],
    out: Path, cfg: ZenConfig, thinking: bool, *, force: bool, progress: bool, cached_only: bool = False,
) -> dict | None:  # fmt: skip
    """One model's episode records and gui/* metrics; `policy(media)` is a context yielding the model's
    `prompts -> texts`. With `cached_only`, the up-to-date cached result or None."""
    settings = {"keep": cfg.data.gui_episode_screenshots, "extra": cfg.eval.episode_extra_steps,
                "max_new_tokens": cfg.eval.max_new_tokens, "decoding": cfg.eval.thinking_decoding,
                "processor_kwargs": cfg.vision.processor_kwargs}  # fmt: skip
    fp = fingerprint({"model": identity, "episodes": specs, "settings": settings, "thinking": thinking,
                      "code": code_hash(*CODE)})  # fmt: skip
    path = out / f"{safe_name(label)}.episodes.json"
    if cached_only:
        return current(path.parent, path.name, fp)
    cached = reusable(path, fp, force=force, progress=progress, what=f"{label} on episodes")
    if cached:
        return cached
    if progress:
        print(f"{label} on episodes: {len(specs)} GUI episodes, acting in the environment")
    media = out / f"episodes-{safe_name(label)}"
    start = time.perf_counter()
    with policy(media) as act:
        records = run_episodes(act, specs, media, keep_screenshots=cfg.data.gui_episode_screenshots,
                               extra_steps=cfg.eval.episode_extra_steps, thinking=thinking)  # fmt: skip
    cached = {"fingerprint": fp, "seconds": time.perf_counter() - start, "metrics": metrics(records),
              "records": records}  # fmt: skip
    write_json(path, cached)
    return cached
