"""The environment an episode runs in: a state, the tools declared to the model, and `step(call)`.

    env = GuiEnv(state, tools, width, height)
    env.screenshot()            the current page (a PIL image), widget boxes in env.screen.boxes
    env.step(call)              applies {"name", "arguments"}: valid → the state changes and the new
                                page is drawn; invalid (an undeclared tool, arguments that break the
                                tool's JSON schema, a click on nothing, an action this page cannot
                                take) → recorded in env.invalid, the state left as it was
    env.satisfies(goal)         the goal predicate on the current state (zen_vl.gui.tasks.holds)

Clicks and typing aim with Qwen3-VL's 0-1000 coordinates relative to the screenshot.
Deterministic: the same state and calls give the same screens.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from zen_vl.evaluate.tool_calls import schema_problems
from zen_vl.gui import apps
from zen_vl.gui.apps import Invalid


@dataclass
class Step:
    valid: bool
    message: str  # what the tool response says


class GuiEnv:
    def __init__(self, state: dict, tools: list[dict], width: int, height: int):
        self.state = copy.deepcopy(state)
        self.tools = tools
        self.width, self.height = width, height
        self.invalid: list[str] = []
        self.actions = 0
        self.screen = apps.render(self.state, width, height)

    def screenshot(self):
        return self.screen.img

    def widget_at(self, coordinate) -> tuple[str, str] | None:
        """(kind, name) of the widget under a 0-1000 point, or None."""
        x, y = coordinate[0] * self.width / 1000, coordinate[1] * self.height / 1000
        for key, (x1, y1, x2, y2) in self.screen.boxes.items():
            if x1 <= x <= x2 and y1 <= y <= y2:
                kind, _, name = key.partition(":")
                return kind, name
        return None

    def step(self, call: dict) -> Step:
        self.actions += 1
        before = copy.deepcopy(self.state)
        try:
            message = self._apply(call["name"], call.get("arguments") or {})
        except Invalid as exc:
            self.state = before
            self.invalid.append(f"{call['name']}: {exc}")
            return Step(False, f"error: {exc}")
        self.screen = apps.render(self.state, self.width, self.height)
        return Step(True, message)

    def _apply(self, name: str, args: dict) -> str:
        problems = schema_problems({"name": name, "arguments": args}, self.tools)
        if problems:
            raise Invalid(problems[0])
        if name in ("click", "type_text"):
            hit = self.widget_at(args["coordinate"])
            if hit is None:
                raise Invalid(f"nothing at {args['coordinate']}")
            if name == "click":
                return apps.handler(self.state, "click")(self.state, *hit)
            if hit[0] != "field" or apps.handler(self.state, "type_text") is None:
                raise Invalid(f"{hit[0]} {hit[1]!r} is not a text field")
            return apps.handler(self.state, "type_text")(self.state, hit[1], args["text"])
        act = apps.handler(self.state, name)
        if act is None:
            raise Invalid(f"{name} does nothing on this screen")
        if name == "toggle_setting":
            return act(self.state, args["setting"], args["enabled"])
        if name == "select_option":
            return act(self.state, args["dropdown"], args["option"])
        if name == "scroll":
            return act(self.state, args["direction"], args.get("amount", 1))
        if name == "fill_form":
            return act(self.state, args["fields"])
        raise Invalid(f"{name} does nothing on this screen")

    def satisfies(self, goal: dict) -> bool:
        from zen_vl.gui.tasks import holds

        return holds(goal, self.state)
