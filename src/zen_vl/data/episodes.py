"""GUI episodes as training samples: a task (zen_vl.gui.tasks) solved by the oracle in the environment,
each step a tool call and a tool response carrying the next screenshot, closed by a short answer.

The thinking variant gets the oracle's one-line reason before each call (in its reasoning, so the
call comes after `</think>`). The sample keeps every screenshot and its `meta.screenshot_window`
(`data.gui_episode_screenshots`): training (chat.training_views) and the eval's cases cut each turn's
context to the last that many, older ones replaced by a note, as the live eval runs it. A test sample also carries the episode's spec
(`meta.episode`: the first state, the goal, the request, the tools, the oracle's action count) so
`make eval` replays it live (zen_vl.gui.episode.run_episodes).
"""

from __future__ import annotations

from zen_vl.data.context import Ctx, assistant, sample
from zen_vl.data.gui import TOOLS
from zen_vl.gui.episode import trajectory
from zen_vl.gui.tasks import FAMILIES, make_task

CLOSING = {
    "settings": "Done: the settings are switched as asked and saved.",
    "checkout": "Done: the order is placed with the details you asked for.",
    "shop": "Done: the item is in your cart.",
    "dialog": "Done: the dialog is answered as you asked.",
}


def gui_episode(ctx: Ctx) -> dict:
    families = [
        f for f in FAMILIES if not ctx.data.gui_episode_families or f in ctx.data.gui_episode_families
    ]
    family = ctx.rng.choice(families)
    task = make_task(ctx, family)
    width, height = round(ctx.image_size * 4 / 3), ctx.image_size
    shots = iter(range(100))
    traj = trajectory(task, width, height, lambda img: ctx.media.image(img, f"{ctx.stem}-{next(shots):02d}"))
    messages, k = [], 0
    for m in traj["messages"]:
        if m["role"] == "assistant":
            m = assistant("", ctx, traj["reasons"][k], m["tool_calls"])
            k += 1
        messages.append(m)
    closing = CLOSING[family] if "ordered" not in task.goal else "Done: the order is placed."
    messages.append(assistant(closing, ctx, "The screen shows the goal is reached; I report back."))
    spec = {**task.spec(), "width": width, "height": height, "oracle_actions": len(traj["calls"])}
    return sample(
        messages,
        task="episode",
        key=f"episode:{family}|{task.request}|{task.state}",
        answer=traj["calls"],
        tools=[TOOLS[n] for n in task.tools],
        skill="function_calling",
        turn_targets=[*traj["targets"], {}],
        heldout_phrasing=task.heldout_phrasing,
        screenshot_window=ctx.data.gui_episode_screenshots,
        episode=spec,
    )
