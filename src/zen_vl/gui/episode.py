"""Episodes: the oracle's trajectory as a training sample, and a model acting step by step.

trajectory(task, env, ...)   the oracle solves the task; the conversation is the request with
                             the first screenshot, then per step an assistant tool call and a
                             tool response carrying the next screenshot and a short text, then a
                             closing answer. chat.render supervises the assistant turns only.
bounded(messages, keep)      (zen_vl.chat) older screenshots beyond the last `keep` replaced by a
                             note at every step (data.gui_episode_screenshots); training cuts the
                             same context per turn (chat.training_views)
run_episodes(policy, ...)    the model acts: each turn's calls run in the environment, their
                             response (the new screenshot) goes back, until the goal holds, the
                             model stops calling tools, or the step limit; episodes advance
                             together, one batched policy call per step
metrics(records)             gui/episode_success, gui/steps_per_success (the model's actions
                             over the oracle's, on successes), gui/invalid_action_rate
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PIL import Image

from zen_vl.chat import bounded
from zen_vl.data.gui import TOOLS
from zen_vl.gui.env import GuiEnv
from zen_vl.gui.tasks import Task, next_call


def tool_response(image: str, message: str) -> dict:
    return {"role": "tool", "content": [{"type": "image", "image": image}, {"type": "text", "text": message}]}


def trajectory(task: Task, width: int, height: int, save: Callable[[Image.Image], str]) -> dict:
    """{"messages", "calls", "reasons", "targets"}: the oracle's episode; `save` stores a screenshot
    and returns its path. targets: per assistant turn, the 0-1000 box of a clicked widget."""
    env = GuiEnv(task.state, [TOOLS[n] for n in task.tools], width, height)
    messages = [{"role": "user", "content": [{"type": "image", "image": save(env.screenshot())},
                                             {"type": "text", "text": task.request}]}]  # fmt: skip
    calls, reasons, targets = [], [], []
    while (step := next_call(task, env)) is not None:
        call, why = step
        box = {}
        if "coordinate" in call["arguments"]:
            kind, name = env.widget_at(call["arguments"]["coordinate"])
            box = {call["name"]: env.screen.rel_box(f"{kind}:{name}")}
        result = env.step(call)
        if not result.valid or len(calls) > 12:
            raise RuntimeError(f"the oracle's {call} failed on {task.request!r}: {result.message}")
        calls.append(call)
        reasons.append(why)
        targets.append(box)
        messages.append({"role": "assistant", "content": "", "tool_calls": [call]})
        messages.append(tool_response(save(env.screenshot()), result.message))
    return {"messages": messages, "calls": calls, "reasons": reasons, "targets": targets}


def run_episodes(
    policy: Callable[[list[dict]], list[str]],
    specs: list[dict],
    media: Path,
    *,
    keep_screenshots: int,
    extra_steps: int,
    thinking: bool,
) -> list[dict]:
    """One record per episode spec ({"id", "family", "state", "goal", "request", "tools", "width",
    "height", "oracle_actions"}). `policy(prompts)` answers each prompt ({"messages", "tools"},
    image paths relative to `media`) with the model's text."""
    from zen_vl.evaluate.scoring import split_thinking
    from zen_vl.evaluate.tool_calls import Malformed, parse

    media.mkdir(parents=True, exist_ok=True)
    live = []
    for spec in specs:
        tools = [TOOLS[n] for n in spec["tools"]]
        env = GuiEnv(spec["state"], tools, spec["width"], spec["height"])
        ep = {"spec": spec, "env": env, "tools": tools, "shots": 0, "turns": 0, "calls": [],
              "record": {"id": spec["id"], "family": spec["family"], "oracle_actions": spec["oracle_actions"]}}  # fmt: skip
        ep["messages"] = [{"role": "user", "content": [{"type": "image", "image": _save(ep, media)},
                                                       {"type": "text", "text": spec["request"]}]}]  # fmt: skip
        live.append(ep)
    done = []
    while live:
        prompts = [
            {"messages": bounded(ep["messages"], keep_screenshots), "tools": ep["tools"]} for ep in live
        ]
        outputs = policy(prompts)
        still = []
        for ep, output in zip(live, outputs, strict=True):
            ep["turns"] += 1
            _, answer, _ = split_thinking(output, thinking)
            try:
                calls = parse(answer)
            except Malformed as exc:
                _end(ep, "malformed", done, str(exc))
                continue
            if not calls:
                _end(ep, "no_call", done, answer[:200])
                continue
            env = ep["env"]
            results = []
            for call in calls:
                results.append(env.step(call).message)
                ep["calls"].append(call)
                if env.satisfies(ep["spec"]["goal"]):
                    break
            ep["messages"].append({"role": "assistant", "content": "", "tool_calls": calls[: len(results)]})
            for i, message in enumerate(results):  # the last response carries the screen after them all
                last = i == len(results) - 1
                ep["messages"].append(tool_response(_save(ep, media), message) if last else
                                      {"role": "tool", "content": message})  # fmt: skip
            if env.satisfies(ep["spec"]["goal"]):
                _end(ep, "goal", done)
            elif env.actions >= ep["spec"]["oracle_actions"] + extra_steps:
                _end(ep, "step_limit", done)
            else:
                still.append(ep)
        live = still
    return sorted(done, key=lambda r: str(r["id"]))


def _save(ep: dict, media: Path) -> str:
    name = f"{ep['spec']['id']}-{ep['shots']:02d}.png".replace("/", "_").replace(":", "_")
    ep["shots"] += 1
    ep["env"].screenshot().save(media / name)
    return name


def _end(ep: dict, why: str, done: list, detail: str = "") -> None:
    env = ep["env"]
    rec = ep["record"]
    rec.update(success=why == "goal", stop=why, actions=env.actions, invalid=len(env.invalid),
               invalid_reasons=env.invalid[:5], turns=ep["turns"], calls=ep["calls"])  # fmt: skip
    if detail:
        rec["detail"] = detail
    done.append(rec)


def metrics(records: list[dict]) -> dict:
    """The gui/* metrics in results.json's form ({"value", "n", "higher_is_better"})."""
    if not records:
        return {}
    wins = [r for r in records if r["success"]]
    actions = sum(r["actions"] for r in records)

    def cell(value: float, n: int, higher: bool = True) -> dict:
        return {"value": value, "n": n, "higher_is_better": higher}

    out = {
        "gui/episode_success": cell(len(wins) / len(records), len(records)),
        "gui/invalid_action_rate": cell(sum(r["invalid"] for r in records) / max(1, actions), actions, False),
    }
    if wins:
        ratio = sum(r["actions"] / max(1, r["oracle_actions"]) for r in wins) / len(wins)
        out["gui/steps_per_success"] = cell(ratio, len(wins), False)
    for family in sorted({r["family"] for r in records}):
        mine = [r for r in records if r["family"] == family]
        out[f"gui/episode_success/{family}"] = cell(sum(r["success"] for r in mine) / len(mine), len(mine))
    return out
