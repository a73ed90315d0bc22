"""The tiny agent learns GUI episodes: fully fine-tuned on oracle trajectories of one app (the shop), it
completes held-out 2-3-action tasks live in the environment (make eval's episode replay); the random
base completes none; its F16 GGUF behind llama-server completes as many, within 0.15.
(examples/tool_loop.py is run in tests/test_export.py with the other examples.)"""

import json

import pytest
from tiny_runs import EPISODES

from zen_vl.data.schema import read_jsonl


@pytest.mark.slow
def test_tiny_agent_completes_held_out_episodes_and_the_base_does_not(eval_tiny):
    _, layout, results = eval_tiny("agent", EPISODES)
    models = results["models"]
    tuned, base = models["finetuned"]["metrics"], models["base"]["metrics"]
    assert tuned["gui/episode_success"]["n"] >= 25
    assert tuned["gui/episode_success"]["value"] >= 0.6, tuned
    assert base["gui/episode_success"]["value"] == 0
    assert tuned["gui/steps_per_success"]["value"] <= 1.5
    assert results["benchmarks"]["gui_episodes"]["episodes"] == tuned["gui/episode_success"]["n"]

    # held out: no test task was trained on, and the requests use phrasings train never asks
    data = layout.data("agent", "tiny")
    train = [s["meta"] for _, s in read_jsonl(data / "train.jsonl")]
    test = [s["meta"] for _, s in read_jsonl(data / "test.jsonl")]
    assert not {m["key"] for m in test} & {m["key"] for m in train}
    assert all(m["heldout_phrasing"] for m in test) and not any(m["heldout_phrasing"] for m in train)
    steps = {m["episode"]["oracle_actions"] for m in test}
    assert steps <= {2, 3} and len(steps) == 2

    # each episode's record: the calls it made, how it stopped; success means the goal held
    out = layout.finetuned("agent", "tiny") / "eval"
    records = json.loads((out / "finetuned.episodes.json").read_text())["records"]
    assert all(r["stop"] == "goal" for r in records if r["success"])
    assert {r["stop"] for r in records} <= {"goal", "no_call", "malformed", "step_limit"}
    assert (out / "episodes-finetuned").is_dir()


@pytest.mark.slow
def test_the_gguf_export_completes_the_same_episodes_through_llama_server(eval_tiny, llama):
    """make eval FORMAT=gguf's episode replay: the F16 GGUF behind llama-server, the calls from its own
    parser, scored in the same environment as the transformers model it came from."""
    from zen_vl.config import load_config
    from zen_vl.evaluate.runner import run_eval
    from zen_vl.export.gguf import export_gguf

    _, layout, results = eval_tiny("agent", EPISODES)
    hf = results["models"]["finetuned"]["metrics"]
    cfg = load_config("tiny", "agent", [*EPISODES, "export.gguf_quants=[]", "eval.baseline=false"])
    export_gguf(cfg, layout, progress=False)
    served = json.loads(run_eval(cfg, layout, formats=("hf", "gguf"), progress=False).read_text())
    row = served["models"]["gguf:F16"]["metrics"]
    assert row["gui/episode_success"]["n"] == hf["gui/episode_success"]["n"]
    assert row["gui/episode_success"]["value"] >= hf["gui/episode_success"]["value"] - 0.15, (row, hf)
    out = layout.finetuned("agent", "tiny") / "eval"
    records = json.loads((out / "gguf-F16.episodes.json").read_text())["records"]
    assert len(records) == row["gui/episode_success"]["n"] and any(r["calls"] for r in records)
