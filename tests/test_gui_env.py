"""The GUI environment: actions change the state as the screen shows, invalid ones change nothing,
the oracle solves every task family, trajectories render with tool responses unsupervised, and the
episode loop scores a perfect, a silent and a wrong policy as it should."""

import json
import random

import pytest

from zen_vl.chat import IGNORE_INDEX, OMITTED, bounded, render
from zen_vl.config import load_config
from zen_vl.data.context import Ctx, MediaWriter
from zen_vl.data.episodes import gui_episode
from zen_vl.data.gui import TOOLS
from zen_vl.data.schema import sample_problems
from zen_vl.gui.env import GuiEnv
from zen_vl.gui.episode import metrics, run_episodes
from zen_vl.gui.tasks import FAMILIES, Task, holds, next_call


def _ctx(tmp_path, i, split="train", think=False, **data):
    cfg = load_config("tiny", "agent", [f"data.{k}={json.dumps(v)}" for k, v in data.items()])
    return Ctx(rng=random.Random(f"t/{split}/{i}"), split=split, think=think, identity=cfg.identity, data=cfg.data,
               media=MediaWriter(tmp_path), stem=f"ep/{split}-{i}")  # fmt: skip


def _settings_env():
    state = {"app": "settings", "page": "settings", "order": ["Wi-Fi", "Dark mode", "Sync"],
             "on": {"Wi-Fi": True, "Dark mode": False, "Sync": False}, "saved": None}  # fmt: skip
    return GuiEnv(state, [TOOLS["click"], TOOLS["toggle_setting"]], 298, 224)


def test_clicks_hit_the_widget_under_the_point_and_invalid_actions_change_nothing():
    env = _settings_env()
    toggle = env.screen.rel_centre("toggle:Dark mode")
    assert env.widget_at(toggle) == ("toggle", "Dark mode")
    assert env.step({"name": "click", "arguments": {"coordinate": toggle}}).valid
    assert env.state["on"]["Dark mode"] is True
    before = json.dumps(env.state, sort_keys=True)
    for bad in (
        {"name": "click", "arguments": {"coordinate": [999, 40]}},  # the title bar: nothing there
        {"name": "send_email", "arguments": {"to": "a", "subject": "b", "body": "c"}},  # not declared
        {"name": "toggle_setting", "arguments": {"setting": "Dark mode"}},  # misses `enabled`
        {"name": "toggle_setting", "arguments": {"setting": "Bluetooth", "enabled": True}},  # not on screen
        {"name": "click", "arguments": {"coordinate": [500, 1200]}},  # off the 0-1000 range
    ):
        step = env.step(bad)
        assert not step.valid and step.message.startswith("error:"), bad
        assert json.dumps(env.state, sort_keys=True) == before
    assert len(env.invalid) == 5 and env.actions == 6
    save = env.screen.rel_centre("button:Save")
    assert env.step({"name": "click", "arguments": {"coordinate": save}}).valid
    assert env.state["page"] == "saved" and holds({"saved": {"Dark mode": True, "Wi-Fi": True}}, env.state)
    assert not holds({"saved": {"Sync": True}}, env.state)
    assert "button:Back" in env.screen.boxes and "button:Save" not in env.screen.boxes  # the new page drawn


@pytest.mark.parametrize("family", FAMILIES)
def test_the_oracle_solves_every_family_deterministically_in_2_to_6_actions(tmp_path, family):
    counts = []
    for i in range(12):
        s = gui_episode(_ctx(tmp_path, i, gui_episode_families=[family]))
        again = gui_episode(_ctx(tmp_path, i, gui_episode_families=[family]))
        assert s["messages"] == again["messages"] and s["meta"] == again["meta"]  # deterministic by seed
        spec = s["meta"]["episode"]
        assert spec["family"] == family and 2 <= spec["oracle_actions"] <= 6
        env = GuiEnv(spec["state"], [TOOLS[n] for n in spec["tools"]], spec["width"], spec["height"])
        assert not env.satisfies(spec["goal"])
        for call in s["meta"]["answer"]:  # the recorded calls replay to the goal
            assert env.step(call).valid
        assert env.satisfies(spec["goal"]) and not env.invalid
        counts.append(spec["oracle_actions"])
    assert len(set(counts)) > 1


def test_trajectory_samples_validate_render_and_supervise_only_the_assistant(tmp_path, tiny_base):
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_base)
    s = gui_episode(_ctx(tmp_path, 3, gui_episode_families=["checkout"]))
    assert not sample_problems(s, media_root=tmp_path)
    tools = [m for m in s["messages"] if m["role"] == "tool"]
    assert tools and all(
        m["content"][0]["type"] == "image" for m in tools
    )  # each response shows the next screen
    r = render(s, processor, media_root=tmp_path, processor_kwargs={})
    ids, labels = r["input_ids"][0], r["labels"][0]
    supervised = processor.tokenizer.decode(ids[labels != IGNORE_INDEX])
    assert supervised.count("<tool_call>") == len(s["meta"]["answer"])
    assert "<tool_response>" not in supervised and "Done" in supervised
    image_pad = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert bool((ids == image_pad).any()) and not bool(((ids == image_pad) & (labels != IGNORE_INDEX)).any())


def test_thinking_trajectories_reason_before_each_call(tmp_path):
    s = gui_episode(_ctx(tmp_path, 1, think=True, gui_episode_families=["shop"]))
    calls = [m for m in s["messages"] if m.get("tool_calls")]
    assert calls and all(m["reasoning_content"] and m["content"] == "" for m in calls)


def test_each_trained_turn_sees_the_last_screenshots_as_the_eval_shows_them(tmp_path, tiny_base):
    from transformers import AutoProcessor

    from zen_vl.chat import training_views
    from zen_vl.evaluate.cases import cases_of

    processor = AutoProcessor.from_pretrained(tiny_base)

    def images(messages):
        return [b["image"] for m in messages if isinstance(m["content"], list) for b in m["content"]
                if b["type"] == "image"]  # fmt: skip

    s = gui_episode(_ctx(tmp_path, 0, gui_episode_families=["shop"], gui_episode_screenshots=2,
                         gui_episode_changes=3))  # fmt: skip
    full = images(s["messages"])
    assert len(full) >= 3 and s["meta"]["screenshot_window"] == 2  # the sample keeps them all
    views = training_views(s, processor)
    turns = [i for i, m in enumerate(s["messages"]) if m["role"] == "assistant"]
    supervised = []
    for view, skip in views:
        shown = images(view["messages"])
        assert len(shown) <= 2
        mine = [k for k, m in enumerate(view["messages"]) if m["role"] == "assistant"][skip:]
        supervised += [
            turns[len([m for m in view["messages"][:k] if m["role"] == "assistant"])] for k in mine
        ]
        # what the turn sees: the screenshots before it, the last two of them
        before = images(
            s["messages"][: turns[len([m for m in view["messages"] if m["role"] == "assistant"]) - 1]]
        )
        assert shown == before[-2:]
    assert sorted(supervised) == turns  # every turn trained once
    assert any(OMITTED in json.dumps(v["messages"]) for v, _ in views)
    for case in cases_of(0, s):  # the eval's teacher-forced cases cut the same way
        assert len(images(case.prompt["messages"])) <= 2
    assert bounded(s["messages"], 10) == s["messages"]


def test_held_out_phrasings_only_in_test(tmp_path):
    train = {gui_episode(_ctx(tmp_path, i, "train", gui_episode_families=["settings"]))["meta"]["heldout_phrasing"]
             for i in range(20)}  # fmt: skip
    test = {gui_episode(_ctx(tmp_path, i, "test", gui_episode_families=["settings"]))["meta"]["heldout_phrasing"]
            for i in range(20)}  # fmt: skip
    assert train == {False} and test == {True}


def _specs(tmp_path, n=9):
    out = []
    for i in range(n):
        s = gui_episode(_ctx(tmp_path, i, "test", gui_episode_families=[FAMILIES[i % 3]]))
        out.append({"id": str(i), **s["meta"]["episode"]})
    return out


def test_episode_loop_scores_the_oracle_1_a_silent_model_0_and_counts_invalid_actions(tmp_path):
    specs = _specs(tmp_path)
    by_id = {sp["id"]: sp for sp in specs}
    shadows = {}

    def oracle(
        prompts,
    ):  # replays the oracle from a shadow copy of each episode (found by its first screenshot)
        out = []
        for p in prompts:
            sp = by_id[p["messages"][0]["content"][0]["image"].split("-")[0]]
            env = shadows.setdefault(sp["id"], GuiEnv(sp["state"], p["tools"], sp["width"], sp["height"]))
            step = next_call(Task(sp["family"], sp["state"], sp["goal"], sp["request"], sp["tools"]), env)
            env.step(step[0])
            out.append(f"<think>\nnext\n</think>\n\n<tool_call>\n{json.dumps(step[0])}\n</tool_call>")
        return out

    records = run_episodes(oracle, specs, tmp_path / "o", keep_screenshots=3, extra_steps=2, thinking=True)
    m = metrics(records)
    assert m["gui/episode_success"]["value"] == 1.0 and m["gui/steps_per_success"]["value"] == 1.0
    assert m["gui/invalid_action_rate"]["value"] == 0.0 and all(r["stop"] == "goal" for r in records)

    silent = metrics(run_episodes(lambda ps: ["Done."] * len(ps), specs, tmp_path / "s", keep_screenshots=3,
                                  extra_steps=2, thinking=False))  # fmt: skip
    assert silent["gui/episode_success"]["value"] == 0.0 and "gui/steps_per_success" not in silent

    wrong = '<tool_call>\n{"name": "click", "arguments": {"coordinate": [999, 10]}}\n</tool_call>'
    records = run_episodes(lambda ps: [wrong] * len(ps), specs, tmp_path / "w", keep_screenshots=3, extra_steps=1,
                           thinking=False)  # fmt: skip
    assert all(r["stop"] == "step_limit" and r["actions"] == r["oracle_actions"] + 1 for r in records)
    assert metrics(records)["gui/invalid_action_rate"]["value"] == 1.0


def test_a_dialog_episode_holds_only_for_its_answers_in_order(tmp_path):
    """The dialog app: each answer opens the box it names or closes the dialog; the goal is the exact
    answer path, so a wrong or an extra answer (Undo after Delete) fails it."""
    s = next(
        s
        for i in range(40)
        if (s := gui_episode(_ctx(tmp_path, i, gui_episode_families=["dialog"])))["meta"]["episode"]["goal"][
            "path"
        ]
        == "Delete > OK"
    )
    spec = s["meta"]["episode"]

    def run(*answers):
        env = GuiEnv(spec["state"], [TOOLS[n] for n in spec["tools"]], spec["width"], spec["height"])
        for a in answers:
            assert env.step(
                {"name": "click", "arguments": {"coordinate": env.screen.rel_centre(f"button:{a}")}}
            ).valid
        return env

    env = run("Delete")
    assert env.screen.title == "File deleted" and set(env.screen.boxes) == {"button:Undo", "button:OK"}
    assert run("Delete", "OK").satisfies(spec["goal"])
    assert not run("Delete", "Undo", "OK").satisfies(spec["goal"])
    assert not run("Cancel").satisfies(spec["goal"])
    closed = run("Cancel")
    assert closed.state["page"] == "closed" and not closed.screen.boxes
    assert not closed.step({"name": "click", "arguments": {"coordinate": [500, 500]}}).valid
