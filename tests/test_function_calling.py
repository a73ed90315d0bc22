"""Function calling from visual context, BFCL-style: every metric on hand-made right and wrong calls,
the public ScreenSpot-v2 and BFCL file formats, and the trained tiny agent through `make eval`'s path."""

from __future__ import annotations

import json

import pytest
from PIL import Image, ImageDraw
from tiny_runs import AGENT

from zen_vl.data.gui import TOOLS
from zen_vl.errors import ZenError
from zen_vl.evaluate.cases import Case
from zen_vl.evaluate.records import score
from zen_vl.evaluate.report import call_metrics
from zen_vl.evaluate.screenspot import load_screenspot
from zen_vl.evaluate.tool_calls import score_calls

GUI = [TOOLS["click"], TOOLS["type_text"], TOOLS["fill_form"]]
CLICK = {"name": "click", "arguments": {"coordinate": [500, 812]}}
TARGETS = {"click": [450, 780, 550, 840]}


def call(name, **arguments):
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


@pytest.mark.parametrize(
    ("text", "expected", "exact", "failure"),
    [
        (call("click", coordinate=[505, 800]), [CLICK], True, None),  # inside the button: right
        (call("click", coordinate=[100, 100]), [CLICK], False, "wrong value"),  # outside it
        (
            '<tool_call>\n{"name": "click", "arguments": {"coordinate": [5, }\n</tool_call>',
            [CLICK],
            False,
            "malformed",
        ),
        (
            '<tool_call>\n{"name": "click", "arguments": {"coordinate": [505, 800]}}',
            [CLICK],
            False,
            "malformed",
        ),
        (call("type_text", coordinate=[505, 800], text="hi"), [CLICK], False, "wrong tool"),
        (call("click", coordinate="505, 800"), [CLICK], False, "schema"),  # wrong type
        (call("click"), [CLICK], False, "schema"),  # missing required argument
        (call("click", coordinate=[505, 800], button="left"), [CLICK], False, "schema"),  # extra argument
        (call("click", coordinate=[505, 800]), [], False, "call where none fits"),
        ("The card shows email a@b.c.", [CLICK], False, "no call"),
        ("The card shows email a@b.c.", [], True, None),  # relevance: no tool fits, none called
        (
            call("fill_form", fields={"Name": "Ada"}) + "\n" + call("click", coordinate=[500, 812]),
            [CLICK, {"name": "fill_form", "arguments": {"fields": {"Name": "Ada"}}}],
            True,
            None,
        ),  # parallel, any order
        (
            '<tool_call>\n{"name": "click", "arguments": "{\\"coordinate\\": [505, 800]}"}\n</tool_call>',
            [CLICK],
            True,
            None,
        ),  # arguments as a JSON string, as some servers emit them
    ],
)
def test_each_call_is_scored_like_bfcl(text, expected, exact, failure):
    verdict = score_calls(text, expected, GUI, TARGETS)
    assert verdict["exact"] is exact
    assert (verdict["failure"] or "").startswith(failure or "") and (failure is None) == (
        verdict["failure"] is None
    )


def test_call_metrics_count_the_right_turns():
    def rec(text, expected, turn=0):
        case = Case(
            id="0",
            prompt={},
            expected={"role": "assistant", "tool_calls": expected},
            meta={"skill": "function_calling", "task": "t", "targets": TARGETS},
            turn=turn,
            tools=GUI,
        )
        return score(case, text, thinking=False, name="Zen VL")

    records = [
        rec(call("click", coordinate=[505, 800]), [CLICK]),  # right
        rec(call("click", coordinate=[1, 1]), [CLICK]),  # parsed, right tool, valid, wrong place
        rec("<tool_call>{oops</tool_call>", [CLICK]),  # malformed
        rec("No tool needed.", []),  # relevance right
        rec(call("click", coordinate=[505, 800]), []),  # relevance wrong
        rec(call("click", coordinate=[505, 800]), [CLICK], turn=1),  # later turn, right
    ]
    m = {k: v["value"] for k, v in call_metrics(records).items() if v}
    assert m["calls/parse_rate"] == 3 / 4 and m["calls/tool_name_accuracy"] == 3 / 4
    assert m["calls/schema_valid"] == 3 / 4 and m["calls/ast_accuracy"] == 2 / 4
    assert m["calls/relevance"] == 1 / 2 and m["calls/multi_turn"] == 1.0
    assert "calls/parallel" not in m  # no parallel turn: absent, not 0


# ---------------------------------------------------------------- ScreenSpot-v2 file format


@pytest.fixture(scope="session")
def screenspot_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("screenspot")
    (root / "screenspotv2_image").mkdir()
    entries = []
    for i, (x, y) in enumerate([(40, 30), (250, 200)]):
        img = Image.new("RGB", (400, 300), "white")
        ImageDraw.Draw(img).rectangle([x, y, x + 100, y + 50], fill=(40, 90, 200))
        img.save(root / "screenspotv2_image" / f"m{i}.png")
        entries.append(
            {
                "img_filename": f"m{i}.png",
                "bbox": [x, y, 100, 50],
                "instruction": "Click the button",
                "data_type": "icon" if i else "text",
                "data_source": "android",
            }
        )
    (root / "screenspot_mobile_v2.json").write_text(json.dumps(entries))
    return root


def test_screenspot_boxes_become_0_1000_targets_and_clicks_are_scored_inside_them(screenspot_dir):
    cases = load_screenspot(screenspot_dir)
    assert [c.meta["answer"] for c in cases] == [[100, 100, 350, 267], [625, 667, 875, 833]]
    assert cases[1].meta["task"] == "mobile/icon" and cases[0].tools == [TOOLS["click"]]

    def right(text, case=cases[0]):
        return score(case, text, thinking=False, name="Zen VL")["correct"]

    assert right(call("click", coordinate=[200, 150]))
    assert not right(call("click", coordinate=[700, 700]))
    assert right('[{"point_2d": [300, 200]}]')  # a grounding answer counts too
    assert not right("Somewhere at the top.")


def test_screenspot_layout_errors_are_clear(tmp_path, screenspot_dir):
    with pytest.raises(ZenError, match="no screenspot_"):
        load_screenspot(tmp_path)
    (tmp_path / "screenspot_web_v2.json").write_text(
        json.dumps([{"img_filename": "a.png", "bbox": [0, 0, 1, 1], "instruction": "x"}])
    )
    with pytest.raises(ZenError, match=r"entry 0: image .*a.png not found"):
        load_screenspot(tmp_path)


# ---------------------------------------------------------------- the trained agent


def test_the_trained_agent_calls_declared_tools_with_valid_exact_arguments(eval_tiny, screenspot_dir):
    _, _, results = eval_tiny("agent", AGENT, screenspot=screenspot_dir)
    base, tuned = results["models"]["base"]["metrics"], results["models"]["finetuned"]["metrics"]
    assert tuned["calls/ast_accuracy"]["n"] == 32
    assert tuned["calls/schema_valid"]["value"] >= 0.95, results["models"]["finetuned"]
    assert tuned["calls/ast_accuracy"]["value"] >= 0.8, results["models"]["finetuned"]
    assert tuned["calls/parse_rate"]["value"] >= 0.95 and tuned["calls/tool_name_accuracy"]["value"] >= 0.9
    assert base["calls/ast_accuracy"]["value"] == 0  # the random base never writes a right call
    # The public format ran through the same path, on both models.
    for m in (base, tuned):
        assert m["screenspot/accuracy"]["n"] == 2


def test_screenspot_pro_reads_its_annotation_fields_and_x1y1x2y2_boxes(tmp_path):
    # ScreenSpot-Pro's layout and fields (likaixin/ScreenSpot-Pro; eval_screenspot_pro.py reads
    # img_filename under images/, bbox as [x1, y1, x2, y2] pixels, img_size, group, ui_type)
    (tmp_path / "images" / "vscode_macos").mkdir(parents=True)
    Image.new("RGB", (2000, 1000), "white").save(tmp_path / "images" / "vscode_macos" / "a.png")
    (tmp_path / "annotations").mkdir()
    entry = {
        "id": "vscode_macos_0",
        "img_filename": "vscode_macos/a.png",
        "bbox": [200, 100, 400, 300],
        "img_size": [2000, 1000],
        "instruction": "open the terminal",
        "instruction_cn": "打开终端",
        "application": "vscode",
        "platform": "macos",
        "group": "Dev",
        "ui_type": "icon",
    }
    (tmp_path / "annotations" / "vscode_macos.json").write_text(json.dumps([entry]))
    (case,) = load_screenspot(tmp_path)
    assert case.meta["answer"] == [100, 100, 200, 300] and case.meta["task"] == "pro/Dev/icon"
    assert case.id == "screenspot-pro:vscode_macos:vscode_macos_0"
    right = lambda text: score(case, text, thinking=False, name="Zen VL")["correct"]  # noqa: E731
    assert right(call("click", coordinate=[100, 300]))  # the box's edge counts, as in the official script
    assert not right(call("click", coordinate=[250, 200]))
    entry["bbox"] = [400, 100, 200, 300]  # a width/height box read as corners
    (tmp_path / "annotations" / "vscode_macos.json").write_text(json.dumps([entry]))
    with pytest.raises(ZenError, match=r"vscode_macos.json: entry 0: bbox .* not \[x1, y1, x2, y2\]"):
        load_screenspot(tmp_path)
