"""Function calling from visual context, BFCL-style: every metric on hand-made right and wrong calls,
the public ScreenSpot-v2 and BFCL file formats, and the trained tiny agent through `make eval`'s path."""

from __future__ import annotations

import json

import pytest
from PIL import Image, ImageDraw
from tiny_runs import AGENT

from zen_vl.data.gui import TOOLS
from zen_vl.errors import ZenError
from zen_vl.evaluate import bfcl
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


# ---------------------------------------------------------------- BFCL file format


def _fn(name, properties, required):
    return {
        "name": name,
        "description": name,
        "parameters": {"type": "dict", "properties": properties, "required": required},
    }


WEATHER = _fn(
    "weather.get",
    {"city": {"type": "string"}, "days": {"type": "integer"}, "unit": {"type": "string", "enum": ["c", "f"]}},
    ["city"],
)
AREA = _fn("area", {"base": {"type": "float"}, "height": {"type": "float"}}, ["base", "height"])


def _jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture(scope="session")
def bfcl_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("bfcl")
    q = lambda i, text, fns: {"id": i, "question": [[{"role": "user", "content": text}]], "function": fns}  # noqa: E731
    _jsonl(
        root / "BFCL_v3_simple.json",
        [q("simple_0", "Weather in Paris?", [WEATHER]), q("simple_1", "Area of a 3 by 4 triangle?", [AREA])],
    )
    _jsonl(
        root / "possible_answer" / "BFCL_v3_simple.json",
        [
            {
                "id": "simple_0",
                "ground_truth": [
                    {"weather.get": {"city": ["Paris", "Paris, France"], "days": ["", 1], "unit": ["", "c"]}}
                ],
            },
            {"id": "simple_1", "ground_truth": [{"area": {"base": [3.0], "height": [4.0]}}]},
        ],
    )
    _jsonl(root / "BFCL_v3_parallel.json", [q("parallel_0", "Weather in Paris and Rome?", [WEATHER])])
    _jsonl(
        root / "possible_answer" / "BFCL_v3_parallel.json",
        [
            {
                "id": "parallel_0",
                "ground_truth": [{"weather.get": {"city": ["Paris"]}}, {"weather.get": {"city": ["Rome"]}}],
            }
        ],
    )
    _jsonl(root / "BFCL_v3_irrelevance.json", [q("irrelevance_0", "Tell me a joke.", [AREA])])
    _jsonl(root / "BFCL_v3_multi_turn_base.json", [q("multi_turn_base_0", "x", [AREA])])
    return root


def test_bfcl_files_load_with_their_schemas_converted(bfcl_dir):
    cases, skipped = bfcl.load_bfcl(bfcl_dir)
    assert [c.id for c in cases] == [
        "bfcl:irrelevance_0",
        "bfcl:parallel_0",
        "bfcl:simple_0",
        "bfcl:simple_1",
    ]
    assert skipped == ["BFCL_v3_multi_turn_base.json"]
    params = cases[3].tools[0]["function"]["parameters"]
    assert params["type"] == "object" and params["properties"]["base"]["type"] == "number"
    assert cases[0].meta["answer"] == [] and cases[0].prompt["messages"][0]["content"] == "Tell me a joke."


def test_bfcl_errors_name_the_file_and_line(tmp_path, bfcl_dir):
    (tmp_path / "BFCL_v3_simple.json").write_text(
        '{"id": "simple_0", "question": [], "function": []}\n{oops\n'
    )
    with pytest.raises(ZenError, match="possible_answer"):
        bfcl.load_bfcl(tmp_path)
    _jsonl(tmp_path / "possible_answer" / "BFCL_v3_simple.json", [])
    with pytest.raises(ZenError, match=r"BFCL_v3_simple.json:2: not JSON"):
        bfcl.load_bfcl(tmp_path)


@pytest.mark.parametrize(
    ("text", "truth", "right", "why"),
    [
        (
            call("weather.get", city="Paris"),
            [{"weather.get": {"city": ["Paris"], "days": ["", 1]}}],
            True,
            None,
        ),
        (
            call("weather.get", city="paris, france"),
            [{"weather.get": {"city": ["Paris, France"]}}],
            True,
            None,
        ),
        (call("weather_get", city="Paris"), [{"weather.get": {"city": ["Paris"]}}], True, None),  # dots as _
        (
            call("area", base=3, height=4.0),
            [{"area": {"base": [3.0], "height": [4.0]}}],
            True,
            None,
        ),  # int ok
        (call("weather.get", city="Rome"), [{"weather.get": {"city": ["Paris"]}}], False, "wrong value"),
        (
            call("weather.get", city="Paris", mood="x"),
            [{"weather.get": {"city": ["Paris"]}}],
            False,
            "unexpected",
        ),
        (call("weather.get", days=1), [{"weather.get": {"city": ["Paris"], "days": [1]}}], False, "missing"),
        (
            call("weather.get", city="Paris", days="1"),
            [{"weather.get": {"city": ["Paris"], "days": ["", 1]}}],
            False,
            "schema",
        ),  # a string where the schema says integer
        (call("area", base=3, height=4), [{"weather.get": {"city": ["Paris"]}}], False, "wrong tool"),
        (
            call("weather.get", city="Rome") + call("weather.get", city="Paris"),
            [{"weather.get": {"city": ["Paris"]}}, {"weather.get": {"city": ["Rome"]}}],
            True,
            None,
        ),
        (call("weather.get", city="Paris"), [{"weather.get": {"city": ["Paris"]}}] * 2, False, "1 calls"),
        ("I cannot help with that.", [], True, None),  # irrelevance: no call is right
        (call("area", base=1, height=2), [], False, "call where none fits"),
        ("<tool_call>{bad</tool_call>", [{"area": {"base": [3.0]}}], False, "malformed"),
    ],
)
def test_bfcl_ast_checker(text, truth, right, why):
    tools = bfcl.tools_of([WEATHER, AREA])
    ok, reason = bfcl.check(text, truth, tools)
    assert ok is right and (reason or "").startswith(why or "")


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


def test_the_trained_agent_calls_declared_tools_with_valid_exact_arguments(
    eval_tiny, screenspot_dir, bfcl_dir
):
    _, _, results = eval_tiny("agent", AGENT, screenspot=screenspot_dir, bfcl=bfcl_dir)
    base, tuned = results["models"]["base"]["metrics"], results["models"]["finetuned"]["metrics"]
    assert tuned["calls/ast_accuracy"]["n"] == 32
    assert tuned["calls/schema_valid"]["value"] >= 0.95, results["models"]["finetuned"]
    assert tuned["calls/ast_accuracy"]["value"] >= 0.8, results["models"]["finetuned"]
    assert tuned["calls/parse_rate"]["value"] >= 0.95 and tuned["calls/tool_name_accuracy"]["value"] >= 0.9
    assert base["calls/ast_accuracy"]["value"] == 0  # the random base never writes a right call
    # The public formats ran through the same path, on both models.
    for m in (base, tuned):
        assert m["screenspot/accuracy"]["n"] == 2 and m["bfcl/accuracy"]["n"] == 4
    assert results["benchmarks"]["bfcl"]["skipped"] == ["BFCL_v3_multi_turn_base.json"]
