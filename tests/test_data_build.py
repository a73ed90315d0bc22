"""The generated datasets: deterministic, leak-free, exact ground truth, masked as they should be."""

from __future__ import annotations

import json
import re

import pytest
import torch
from PIL import Image
from tiny_runs import full_mix

from zen_vl.base.tiny import build_processor
from zen_vl.chat import IGNORE_INDEX, render
from zen_vl.config import load_config
from zen_vl.data import build as build_mod
from zen_vl.data.build import apportion, build_dataset, content_hash
from zen_vl.data.identity import OTHER_MODELS, QUESTIONS
from zen_vl.data.schema import DataError, read_jsonl
from zen_vl.errors import ZenError
from zen_vl.paths import Layout

SMALL = ["data.train=60", "data.val=12", "data.test=24"]


@pytest.fixture(scope="module")
def processors():
    return {flavor: build_processor(flavor) for flavor in ("instruct", "thinking")}


def _build(tmp_path, variant, processors, overrides=(), **kw):
    cfg = load_config("tiny", variant, [*SMALL, *full_mix(variant), *overrides])
    return build_dataset(cfg, Layout(tmp_path), processor=processors[cfg.template], progress=False, **kw)


def _rows(folder, split):
    return [s for _, s in read_jsonl(folder / f"{split}.jsonl")]


@pytest.fixture(scope="module")
def built(tmp_path_factory, processors):
    root = tmp_path_factory.mktemp("data")
    return {v: _build(root, v, processors) for v in ("instruct", "thinking", "agent")}


def test_apportion_sums_to_the_total_and_follows_the_weights():
    counts = apportion(97, {"a": 0.6, "b": 0.3, "c": 0.1, "d": 0.0})
    assert sum(counts.values()) == 97 and "d" not in counts
    assert counts["a"] > counts["b"] > counts["c"] >= 9


@pytest.mark.parametrize("variant", ["instruct", "thinking", "agent"])
def test_manifest_counts_match_the_files(built, variant):
    folder, manifest = built[variant]
    assert (folder / "manifest.json").is_file()
    for split in ("train", "val", "test"):
        rows = _rows(folder, split)
        assert len(rows) == manifest["samples"][split] == sum(manifest["counts"][split].values())
        assert len({r["id"] for r in rows}) == len(rows)
    assert manifest["samples"] == {"train": 60, "val": 12, "test": 24}  # nothing dropped at tiny lengths
    assert manifest["content_hash"] == content_hash(folder)
    assert manifest["tokens"]["train"]["supervised_tokens_total"] > 0


def test_the_same_seed_builds_identical_bytes_and_another_seed_does_not(tmp_path, processors, built):
    folder, manifest = built["agent"]
    again, m2 = _build(tmp_path / "a", "agent", processors)
    assert m2["content_hash"] == manifest["content_hash"]
    assert (again / "train.jsonl").read_bytes() == (folder / "train.jsonl").read_bytes()
    _, m3 = _build(tmp_path / "b", "agent", processors, ["data.seed=7"])
    assert m3["content_hash"] != manifest["content_hash"]


@pytest.mark.parametrize("variant", ["instruct", "thinking", "agent"])
def test_no_val_or_test_sample_shares_a_scene_or_question_with_train(built, variant):
    folder, _ = built[variant]
    train = {r["meta"]["key"] for r in _rows(folder, "train")}
    for split in ("val", "test"):
        assert not train & {r["meta"]["key"] for r in _rows(folder, split)}


def test_held_out_phrasings_are_asked_only_in_val_and_test(built):
    folder, _ = built["instruct"]
    held = {
        q.format(other=o)
        for lang in QUESTIONS.values()
        for qs in lang.values()
        for i, q in enumerate(qs)
        if i % 4 == 3
        for o in OTHER_MODELS
    }

    def asked(row):
        return next(b["text"] for b in row["messages"][-2]["content"] if b["type"] == "text")

    def text_identity(split):
        return [
            r
            for r in _rows(folder, split)
            if r["meta"]["task"].startswith("identity_") and r["meta"]["task"] != "identity_image"
        ]

    assert text_identity("train") and all(asked(r) not in held for r in text_identity("train"))
    evals = text_identity("val") + text_identity("test")
    assert evals and all(asked(r) in held for r in evals)


def test_identity_comes_from_the_config_so_a_fork_renames_in_one_place(tmp_path, processors):
    folder, _ = _build(tmp_path, "instruct", processors, ["identity.name=Koan VL", "identity.org=Acme Labs"])
    text = "".join((folder / f"{s}.jsonl").read_text() for s in ("train", "val", "test"))
    assert "Zen VL" not in text and "Hanzo" not in text
    rows = [r for r in _rows(folder, "train") if r["meta"]["skill"] == "identity"]
    assert rows and all("Koan VL" in r["messages"][-1]["content"] for r in rows)


def test_identity_answers_never_claim_another_model(built):
    claims = re.compile(r"\b(I am|I'm) (Qwen|ChatGPT|GPT-4|Claude|Gemini|Llama)\b")
    for variant in ("instruct", "thinking", "agent"):
        folder, _ = built[variant]
        for split in ("train", "val", "test"):
            for r in _rows(folder, split):
                if r["meta"].get("skill") == "identity":
                    answer = r["messages"][-1]["content"]
                    assert not claims.search(answer), answer
                    assert "Zen VL" in answer


def test_reasoning_appears_only_in_the_thinking_variant(built):
    for variant in ("instruct", "thinking", "agent"):
        folder, manifest = built[variant]
        assistants = [m for r in _rows(folder, "train") for m in r["messages"] if m["role"] == "assistant"]
        with_reasoning = sum(bool(m.get("reasoning_content")) for m in assistants)
        assert with_reasoning == (len(assistants) if variant == "thinking" else 0)
        assert manifest["template"] == ("thinking" if variant == "thinking" else "instruct")


def test_identity_is_mixed_into_every_variant(built):
    for variant in ("instruct", "thinking", "agent"):
        assert built[variant][1]["counts"]["train"].get("identity", 0) > 0


def _pixel(folder, row, xy):
    path = folder / next(b["image"] for b in row["messages"][0]["content"] if b["type"] == "image")
    img = Image.open(path).convert("RGB")
    x, y = xy
    return img.getpixel(
        (min(img.width - 1, x * img.width // 1000), min(img.height - 1, y * img.height // 1000))
    )


def test_grounding_boxes_and_points_land_on_the_named_object(built):
    from zen_vl.data.draw import COLOURS

    folder, _ = built["instruct"]
    rows = [
        r
        for s in ("train", "val", "test")
        for r in _rows(folder, s)
        if r["meta"]["task"] in ("grounding", "point")
    ]
    assert rows
    for r in rows:
        label = json.loads(r["messages"][-1]["content"].strip("`json\n"))[0]["label"]
        colour = COLOURS[label.split()[0]]
        x1, y1, x2, y2 = r["meta"]["answer"]
        assert _pixel(folder, r, ((x1 + x2) // 2, (y1 + y2) // 2)) == colour, label


def test_agent_calls_are_declared_schema_valid_and_clicks_hit_their_widget(built):
    from jsonschema import validate

    folder, _ = built["agent"]
    rows = [r for s in ("train", "val", "test") for r in _rows(folder, s) if r["meta"]["source"] == "gui"]
    shapes = {"parallel": 0, "no_tool": 0, "multi_turn": 0}
    for r in rows:
        tools = {t["function"]["name"]: t["function"]["parameters"] for t in r["tools"]}
        calls = [c for m in r["messages"] if m["role"] == "assistant" for c in m.get("tool_calls", [])]
        assert calls == r["meta"]["answer"]
        for c in calls:
            validate(c["arguments"], tools[c["name"]])
        for name, box in r["meta"]["targets"].items():
            call = next(c for c in calls if c["name"] == name)
            point = call["arguments"].get("coordinate")
            if point:
                assert box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]
                assert _pixel(folder, r, point) != (236, 238, 242), "click lands on empty background"
        n_turn_calls = [len(m.get("tool_calls", [])) for m in r["messages"] if m["role"] == "assistant"]
        if max(n_turn_calls) >= 2:
            shapes["parallel"] += 1
        if not calls:
            shapes["no_tool"] += 1
            assert r["tools"], "a no-tool sample still offers tools"
        if any(m["role"] == "tool" for m in r["messages"]):
            shapes["multi_turn"] += 1
    assert all(shapes.values()), shapes


def test_video_clips_move_the_way_the_answer_says(built):
    folder, _ = built["instruct"]
    rows = [r for r in _rows(folder, "train") if r["meta"]["task"] == "video_direction"]
    assert rows
    for r in rows:
        frames = sorted((folder / r["messages"][0]["content"][0]["video"]).iterdir())
        assert len(frames) % 2 == 0  # Qwen3-VL merges frames in temporal pairs

        def centroid(path):
            img = torch.tensor(list(Image.open(path).convert("L").getdata()), dtype=torch.float32)
            side = Image.open(path).width
            ys, xs = torch.nonzero((img.view(side, side) < 240), as_tuple=True)
            return xs.float().mean().item(), ys.float().mean().item()

        (x0, y0), (x1, y1) = centroid(frames[0]), centroid(frames[-1])
        expected = {
            "left to right": x1 > x0,
            "right to left": x1 < x0,
            "top to bottom": y1 > y0,
            "bottom to top": y1 < y0,
        }
        assert expected[r["meta"]["answer"]]


@pytest.mark.parametrize("variant", ["instruct", "thinking", "agent"])
def test_decoded_supervision_of_every_built_sample(built, processors, variant):
    """The decode-the-mask sweep on real generated data: every assistant string is learned, no prompt."""
    folder, _ = built[variant]
    cfg = load_config("tiny", variant)
    processor = processors[cfg.template]
    for r in _rows(folder, "train"):
        out = render(r, processor, media_root=folder, processor_kwargs=cfg.vision.processor_kwargs)
        ids, labels = out["input_ids"][0], out["labels"][0]
        supervised = processor.tokenizer.decode(ids[labels != IGNORE_INDEX])
        for m in r["messages"]:
            if m["role"] == "assistant":
                if m["content"]:
                    assert m["content"] in supervised
                for c in m.get("tool_calls", []):
                    assert json.dumps(c["arguments"]) in supervised
            else:
                texts = (
                    [m["content"]]
                    if isinstance(m["content"], str)
                    else [b["text"] for b in m["content"] if b["type"] == "text"]
                )
                for t in texts:
                    assert t not in supervised, (m["role"], t)
        last = r["messages"][-1]
        if last.get("reasoning_content"):
            assert last["reasoning_content"] in supervised


def test_over_long_samples_are_dropped_counted_and_their_media_removed(tmp_path, processors):
    folder, manifest = _build(tmp_path, "instruct", processors, ["train.max_length=60"])
    dropped = sum(t["dropped_too_long"] for t in manifest["tokens"].values())
    assert dropped > 0
    assert sum(manifest["samples"].values()) == 96 - dropped
    referenced = set()
    for split in ("train", "val", "test"):
        for r in _rows(folder, split):
            for m in r["messages"]:
                for b in m["content"] if isinstance(m["content"], list) else []:
                    if b["type"] in ("image", "video"):
                        referenced.add(b[b["type"]])
    on_disk = {p.relative_to(folder).as_posix() for p in (folder / "media").rglob("*.png")}
    on_disk = {p if not re.search(r"/\d{3}\.png$", p) else p.rsplit("/", 1)[0] for p in on_disk}
    assert on_disk == referenced


def test_an_up_to_date_dataset_is_reused_and_a_changed_config_rebuilds(tmp_path, processors):
    folder, first = _build(tmp_path, "agent", processors)
    stamp = (folder / "manifest.json").stat().st_mtime_ns
    _, again = _build(tmp_path, "agent", processors)
    assert (folder / "manifest.json").stat().st_mtime_ns == stamp and again == first
    _, changed = _build(tmp_path, "agent", processors, ["data.mix.general=0.5"])
    assert changed["fingerprint"] != first["fingerprint"]
    assert changed["counts"]["train"]["general"] > first["counts"]["train"]["general"]


def test_a_failed_build_leaves_the_previous_dataset_untouched(tmp_path, processors, monkeypatch):
    folder, _ = _build(tmp_path, "instruct", processors)
    before = content_hash(folder)

    def broken(ctx):
        raise DataError("generator exploded")

    monkeypatch.setitem(build_mod.GENERATORS, "video", broken)
    with pytest.raises(ZenError, match="generator exploded"):
        _build(tmp_path, "instruct", processors, force=True)
    assert content_hash(folder) == before and (folder / "manifest.json").is_file()
    assert not list(tmp_path.glob("data/instruct/.tmp-*"))


def test_check_lengths_needs_a_processor(tmp_path):
    cfg = load_config("tiny", "agent", SMALL)
    with pytest.raises(DataError, match="processor"):
        build_dataset(cfg, Layout(tmp_path), processor=None, progress=False)
    _, manifest = build_dataset(
        load_config("tiny", "agent", [*SMALL, "data.check_lengths=false"]), Layout(tmp_path), progress=False
    )
    assert manifest["tokens"] == {} and manifest["samples"]["train"] == 60


def test_make_data_builds_validates_and_prints_counts(tiny_base):
    import os
    import subprocess
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "ZEN_VL_ROOT": str(tiny_base.parents[1]), "HF_HUB_OFFLINE": "1"}
    cmd = ["make", "-s", "data", "SIZE=tiny", "VARIANT=agent", "data.train=24", "data.val=4", "data.test=8"]
    run = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert re.search(r"built: .*data/agent/tiny", run.stdout)
    assert re.search(r"total\s+24\s+4\s+8", run.stdout)
    assert (tiny_base.parents[1] / "data" / "agent" / "tiny" / "manifest.json").is_file()
    again = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "up to date" in again.stdout
    bad = subprocess.run([*cmd, "data.mix.bogus=1"], cwd=repo, env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "data.mix.bogus" in bad.stderr
