"""Identity: the trained tiny model names itself on held-out questions and never claims another model,
measured through `make eval`'s code path; the identity metrics scored on hand-made answers."""

from __future__ import annotations

import json

import pytest
from tiny_runs import IDENTITY

from zen_vl.evaluate.cases import Case
from zen_vl.evaluate.records import score
from zen_vl.evaluate.report import summarize
from zen_vl.evaluate.scoring import claimed_other_model


@pytest.mark.parametrize(
    ("text", "claim"),
    [
        ("I am ChatGPT, a model by OpenAI.", "ChatGPT"),
        ("I'm Qwen3-VL.", "Qwen3-VL"),
        ("my name is Claude", "Claude"),
        ("我是通义千问。", "通义千问"),
        ("Soy Gemini.", "Gemini"),
        ("Je suis Llama.", "Llama"),
        ("Ich bin GPT-4.", "GPT-4"),
        ("私はQwenです。", "Qwen"),
        ("No, I'm not Qwen. I'm Zen VL, made by Hanzo AI by fine-tuning the open Qwen3-VL model.", None),
        ("No, no soy Claude. Soy Zen VL.", None),
        ("Non, je ne suis pas Gemini. Je suis Zen VL.", None),
        ("Nein, ich bin nicht Llama. Ich bin Zen VL.", None),
        ("不，我不是Qwen。我是Zen VL。", None),
        ("いいえ、私はGPT-4ではありません。Zen VLです。", None),
        ("I am Zen VL, fine-tuned from Qwen3-VL.", None),
    ],
)
def test_claims_of_being_another_model_are_caught_and_denials_are_not(text, claim):
    assert claimed_other_model(text) == claim


def _case(task="identity_who", language="en", heldout=True):
    meta = {
        "skill": "identity",
        "task": task,
        "answer": "Zen VL",
        "language": language,
        "heldout_phrasing": heldout,
    }
    return Case(id="0:0", prompt={"messages": []}, expected={"role": "assistant", "content": ""}, meta=meta)


def test_identity_records_score_name_claims_languages_and_consistency():
    records = [
        score(_case(), "I am Zen VL, built by Hanzo AI.", thinking=False, name="Zen VL"),
        score(
            _case(), "I am ChatGPT. Also Zen VL.", thinking=False, name="Zen VL"
        ),  # names itself but claims
        score(_case(language="zh"), "我是Zen VL，由Hanzo AI开发。", thinking=False, name="Zen VL"),
        score(_case(language="zh"), "我是Hanzo AI开发的模型。", thinking=False, name="Zen VL"),  # no name
        score(
            _case("identity_image"),
            "I'm zen vl. The image shows a red circle.",
            thinking=False,
            name="Zen VL",
        ),
    ]
    assert [r["correct"] for r in records] == [True, False, True, False, True]
    m = summarize(records, thinking=False)
    assert m["identity/names_itself"] == {"value": 0.6, "n": 5, "higher_is_better": True}
    assert m["identity/claims_other_model"]["value"] == pytest.approx(0.2)
    assert m["identity/with_image"]["value"] == 1.0 and m["identity/text_only"]["value"] == 0.5
    assert m["identity/lang_zh"]["value"] == 0.5
    assert m["identity/consistency"] == {
        "value": 0.0,
        "n": 2,
        "higher_is_better": True,
    }  # en:who and zh:who split


def test_a_thinking_answer_is_scored_after_its_reasoning():
    rec = score(_case(), "The user asks who I am.\n</think>\n\nI am Zen VL.", thinking=True, name="Zen VL")
    assert rec["correct"] and rec["form_valid"]
    unfinished = score(_case(), "I am Zen VL, so I will say", thinking=True, name="Zen VL")
    assert not unfinished["correct"] and not unfinished["form_valid"]  # never closed its reasoning


def test_the_trained_instruct_model_knows_it_is_zen_vl_and_the_base_does_not(eval_tiny):
    _, layout, results = eval_tiny("instruct", IDENTITY)
    base, tuned = results["models"]["base"]["metrics"], results["models"]["finetuned"]["metrics"]
    assert results["test_set"]["samples"] == 64 and tuned["identity/held_out_phrasing"]["n"] == 64
    assert tuned["identity/names_itself"]["value"] >= 0.95, results
    assert tuned["identity/with_image"]["value"] >= 0.9 and tuned["identity/text_only"]["value"] >= 0.9
    assert tuned["identity/consistency"]["value"] >= 0.8
    assert tuned["identity/claims_other_model"]["value"] == 0
    assert base["identity/names_itself"]["value"] == 0  # a random base never says it
    eval_dir = layout.finetuned("instruct", "tiny") / "eval"
    table = (eval_dir / "results.md").read_text()
    assert (
        "| identity/names_itself | 0.000 |" in table and "| metric | base | finetuned | change | n |" in table
    )
    assert (eval_dir / "finetuned.json").is_file() and (eval_dir / "base.json").is_file()


def test_eval_says_what_to_run_first_and_evaluates_any_model_folder(tmp_path, tiny_base):
    from zen_vl.base.tiny import build_processor
    from zen_vl.config import load_config
    from zen_vl.data.build import build_dataset
    from zen_vl.errors import ZenError
    from zen_vl.evaluate.runner import run_eval
    from zen_vl.paths import Layout

    cfg = load_config(
        "tiny", "instruct", ["data.train=8", "data.val=0", "data.test=2", "eval.max_new_tokens=4"]
    )
    layout = Layout(tmp_path)
    with pytest.raises(ZenError, match="make data SIZE=tiny VARIANT=instruct"):
        run_eval(cfg, layout, progress=False)
    build_dataset(cfg, layout, processor=build_processor("instruct"), progress=False)
    with pytest.raises(ZenError, match="make train-instruct SIZE=tiny"):
        run_eval(cfg, layout, progress=False)
    path = run_eval(cfg, layout, model=tiny_base, progress=False)  # any Hub-format folder, alone
    assert path == tiny_base.parent / "eval-tiny" / "results.json"
    results = json.loads(path.read_text())
    assert list(results["models"]) == ["tiny"] and results["test_set"]["samples"] == 2
