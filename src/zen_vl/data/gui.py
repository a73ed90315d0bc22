"""Function calling from visual context: GUI screenshots drawn with PIL, and the tools to act on them.

Each sample declares the tools it may use (the right ones plus distractors, in random order). The
target call's arguments can only be read from the screenshot: a button's position (a 0-1000
`coordinate`), a field's label, a value printed on a card, which toggles are off. Shapes covered:
one call, parallel calls, multi-turn with tool responses, and questions no tool fits (answered in
text). Calls use Qwen3's format, which the chat template renders:
`<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from zen_vl.data import draw
from zen_vl.data.context import Ctx, assistant, image_block, sample, user
from zen_vl.data.scenes import make_scene

_COORD = {
    "type": "array",
    "items": {"type": "integer", "minimum": 0, "maximum": 1000},
    "minItems": 2,
    "maxItems": 2,
    "description": "[x, y] on the screenshot in relative coordinates from 0 to 1000",
}


def _tool(name: str, description: str, properties: dict, required: list[str]) -> dict:
    params = {"type": "object", "properties": properties, "required": required, "additionalProperties": False}
    return {"type": "function", "function": {"name": name, "description": description, "parameters": params}}


TOOLS: dict[str, dict] = {
    t["function"]["name"]: t
    for t in [
        _tool("click", "Click a point on the screen.", {"coordinate": _COORD}, ["coordinate"]),
        _tool(
            "type_text",
            "Click a text field and type into it.",
            {"coordinate": _COORD, "text": {"type": "string", "description": "the text to type"}},
            ["coordinate", "text"],
        ),
        _tool(
            "fill_form",
            "Fill several fields of the visible form at once.",
            {
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "field label as shown on screen -> value",
                }
            },
            ["fields"],
        ),
        _tool(
            "select_option",
            "Choose an option in a dropdown list.",
            {
                "dropdown": {"type": "string", "description": "the dropdown's label"},
                "option": {"type": "string", "description": "the option exactly as shown"},
            },
            ["dropdown", "option"],
        ),
        _tool(
            "scroll",
            "Scroll the window.",
            {
                "direction": {"type": "string", "enum": ["up", "down", "left", "right"]},
                "amount": {"type": "integer", "minimum": 1, "maximum": 10, "description": "scroll steps"},
            },
            ["direction"],
        ),
        _tool(
            "toggle_setting",
            "Switch a setting on or off.",
            {
                "setting": {"type": "string", "description": "the setting's name as shown"},
                "enabled": {"type": "boolean"},
            },
            ["setting", "enabled"],
        ),
        _tool(
            "image_analysis",
            "Run a detailed analysis on a region of the image.",
            {
                "task": {"type": "string", "enum": ["describe", "read_text", "count_objects"]},
                "region": {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 0, "maximum": 1000},
                    "minItems": 4,
                    "maxItems": 4,
                    "description": "[x1, y1, x2, y2] from 0 to 1000",
                },
            },
            ["task", "region"],
        ),
        _tool(
            "send_email",
            "Send an email.",
            {"to": {"type": "string"}, "subject": {"type": "string"}, "body": {"type": "string"}},
            ["to", "subject", "body"],
        ),
        _tool("get_weather", "Get the current weather for a city.", {"city": {"type": "string"}}, ["city"]),
    ]
}


# --------------------------------------------------------------------------- drawing a screen


@dataclass
class Screen:
    """A window being drawn; widgets record their pixel boxes by name."""

    width: int
    height: int
    title: str
    boxes: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)

    def __post_init__(self):
        self.img, self.pen = draw.canvas(self.width, self.height, (236, 238, 242))
        self.unit = self.height / 16  # one row of widgets
        self.font = draw.font(max(8, round(self.unit * 0.5)))
        self.bold = draw.font(max(8, round(self.unit * 0.55)), bold=True)
        self.pen.rectangle([0, 0, self.width, self.unit * 1.2], fill=(52, 58, 72))
        self.pen.text((self.unit * 0.4, self.unit * 0.3), self.title, font=self.bold, fill=(255, 255, 255))

    def text(self, x: float, y: float, text: str, bold: bool = False, colour=(25, 25, 25), fnt=None) -> None:
        self.pen.text((x, y), text, font=fnt or (self.bold if bold else self.font), fill=colour)

    def fitting_font(self, lines: list[str], width: float):
        """The regular font, shrunk until the longest line fits in `width` pixels."""
        size = round(self.unit * 0.5)
        fnt = draw.font(size)
        while size > 6 and max(draw.text_size(self.pen, t, fnt)[0] for t in lines) > width:
            size -= 1
            fnt = draw.font(size)
        return fnt

    def button(self, name: str, x: float, y: float, fill=(40, 100, 210)) -> None:
        w, _ = draw.text_size(self.pen, name, self.bold)
        box = (x, y, x + w + self.unit, y + self.unit * 1.1)
        self.pen.rounded_rectangle(box, radius=self.unit * 0.2, fill=fill)
        self.pen.text((x + self.unit / 2, y + self.unit * 0.2), name, font=self.bold, fill=(255, 255, 255))
        self.boxes[f"button:{name}"] = box

    def field(self, label: str, x: float, y: float, width: float, value: str = "") -> None:
        self.text(x, y, label)
        box = (x, y + self.unit * 0.8, x + width, y + self.unit * 1.9)
        self.pen.rectangle(box, fill=(255, 255, 255), outline=(150, 150, 160))
        if value:
            self.text(box[0] + self.unit * 0.2, box[1] + self.unit * 0.2, value)
        self.boxes[f"field:{label}"] = box

    def toggle(self, label: str, x: float, y: float, on: bool) -> None:
        self.text(x, y + self.unit * 0.15, label)
        sx = self.width * 0.62
        box = (sx, y, sx + self.unit * 2, y + self.unit)
        self.pen.rounded_rectangle(box, radius=self.unit / 2, fill=(50, 170, 80) if on else (180, 180, 185))
        knob = box[2] - self.unit if on else box[0]
        self.pen.ellipse([knob + 2, y + 2, knob + self.unit - 2, y + self.unit - 2], fill=(255, 255, 255))
        self.text(box[2] + self.unit * 0.4, y + self.unit * 0.15, "On" if on else "Off")
        self.boxes[f"toggle:{label}"] = box

    def rel_centre(self, key: str) -> list[int]:
        x1, y1, x2, y2 = self.boxes[key]
        return draw.rel_point((x1 + x2) / 2, (y1 + y2) / 2, self.width, self.height)

    def rel_box(self, key: str) -> list[int]:
        return draw.rel_box(self.boxes[key], self.width, self.height)


def _screen(ctx: Ctx, title: str) -> Screen:
    return Screen(round(ctx.image_size * 4 / 3), ctx.image_size, title)


def _call(name: str, **arguments) -> dict:
    return {"name": name, "arguments": arguments}


def _tools(ctx: Ctx, needed: list[str]) -> list[dict]:
    """The needed tools plus up to `data.gui_distractors` others, shuffled."""
    others = [n for n in TOOLS if n not in needed]
    names = needed + ctx.rng.sample(others, ctx.rng.randint(min(1, ctx.distractors), ctx.distractors))
    ctx.rng.shuffle(names)
    return [TOOLS[n] for n in names]


def _one_call(ctx: Ctx, s: Screen, key: str, task: str, q: str, tool: str, widget: str, **arguments) -> dict:
    """A sample whose answer is one call of `tool` at the centre of `widget` (hit anywhere inside it)."""
    calls = [_call(tool, coordinate=s.rel_centre(widget), **arguments)]
    turns = [assistant("", ctx, _reason_calls(calls), calls)]
    return _finish(ctx, s, key, task, q, turns, calls, [tool], {tool: s.rel_box(widget)})


def _finish(
    ctx: Ctx,
    screen: Screen,
    key: str,
    task: str,
    question: str,
    turns: list[dict],
    calls: list[dict],
    needed: list[str],
    targets: dict | None = None,
) -> dict:
    path = ctx.media.image(screen.img, ctx.stem)
    messages = [user(image_block(path), question), *turns]
    return sample(
        messages,
        task=task,
        key=f"gui:{key}|{task}|{question}",
        answer=calls,
        tools=_tools(ctx, needed),
        skill="function_calling",
        targets=targets or {},
    )


def _reason_calls(calls: list[dict]) -> str:
    return (
        "I will call " + " and ".join(f"{c['name']} with {json.dumps(c['arguments'])}" for c in calls) + "."
    )


# --------------------------------------------------------------------------- screens and tasks

PEOPLE = [
    "Ana Ruiz",
    "Kenji Sato",
    "Maria Rossi",
    "Tom Becker",
    "Lea Dubois",
    "Omar Haddad",
    "Sara Lind",
    "Ivan Petrov",
    "Chen Wei",
    "Priya Nair",
    "Jonas Berg",
    "Eva Novak",
]
CITIES = ["Lisbon", "Osaka", "Turin", "Leipzig", "Lyon", "Amman", "Malmö", "Kazan", "Suzhou", "Pune"]


def _person(rng) -> dict[str, str]:
    name = rng.choice(PEOPLE)
    first, last = name.lower().split()
    return {
        "Name": name,
        "Email": f"{first}.{last}{rng.randint(1, 99)}@example.com",
        "Phone": f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
        "City": rng.choice(CITIES),
    }


def form(ctx: Ctx) -> dict:
    rng = ctx.rng
    person = _person(rng)
    labels = rng.sample(list(person), rng.randint(2, 4))
    s = _screen(ctx, rng.choice(["Sign up", "Contact details", "New customer", "Registration"]))
    u = s.unit
    for k, label in enumerate(labels):
        s.field(label, u * 0.8, u * (2 + 2.3 * k), s.width * 0.42)
    card_x = s.width * 0.53
    s.pen.rectangle([card_x, u * 2, s.width - u * 0.4, u * (3 + 1.1 * len(labels))], fill=(255, 248, 200))
    s.text(card_x + u * 0.3, u * 2.2, "Customer card", bold=True)
    lines = [f"{label}: {person[label]}" for label in labels]
    fnt = s.fitting_font(lines, s.width - u * 0.7 - card_x - u * 0.3)
    for k, line in enumerate(lines):
        s.text(card_x + u * 0.3, u * (3.2 + 1.1 * k), line, fnt=fnt)
    by = u * (2.6 + 2.3 * len(labels))
    order = ["Submit", "Cancel"] if rng.random() < 0.5 else ["Cancel", "Submit"]
    s.button(order[0], u * 0.8, by, fill=(40, 100, 210) if order[0] == "Submit" else (120, 120, 130))
    s.button(order[1], u * 6.5, by, fill=(40, 100, 210) if order[1] == "Submit" else (120, 120, 130))
    key = f"form:{person}:{labels}:{order}"
    task = rng.choice(["fill_form", "type_text", "click", "no_tool", "multi_turn"])
    if task == "fill_form":
        calls = [_call("fill_form", fields={lab: person[lab] for lab in labels})]
        q, _ = ctx.phrasing(
            [
                "Fill in the form with the details on the customer card.",
                "Complete this form using the card on the right.",
                "Copy the customer's details into the form.",
                "Use the customer card to fill out the form.",
            ]
        )
        return _finish(
            ctx, s, key, task, q, [assistant("", ctx, _reason_calls(calls), calls)], calls, ["fill_form"]
        )
    if task == "type_text":
        label = rng.choice(labels)
        q = f"Type the customer's {label.lower()} from the card into the {label} field."
        return _one_call(ctx, s, key, task, q, "type_text", f"field:{label}", text=person[label])
    if task == "click":
        target = rng.choice(order)
        q = {"Submit": "Submit the form.", "Cancel": "Cancel this form."}[target]
        return _one_call(ctx, s, key, task, q, "click", f"button:{target}")
    if task == "no_tool":
        label = rng.choice(labels)
        q = f"What {label.lower()} is written on the customer card?"
        answer = f"The card shows {label.lower()} {person[label]}."
        turn = assistant(
            answer, ctx, f"No tool is needed: the card on the right reads {label}: {person[label]}."
        )
        return _finish(ctx, s, key, task, q, [turn], [], ["click", "fill_form"])
    # multi-turn: fill, then submit after the tool reports success, then a text summary.
    fill = [_call("fill_form", fields={lab: person[lab] for lab in labels})]
    click = [_call("click", coordinate=s.rel_centre("button:Submit"))]
    turns = [
        assistant("", ctx, _reason_calls(fill), fill),
        {"role": "tool", "content": json.dumps({"status": "ok", "filled": labels})},
        assistant("", ctx, "The form is filled. Next I press Submit. " + _reason_calls(click), click),
        {
            "role": "tool",
            "content": json.dumps({"status": "ok", "page": "Thank you! Your details were saved."}),
        },
        assistant(
            f"Done: I filled in the form for {person['Name'] if 'Name' in labels else 'the customer'} "
            "and submitted it. The page confirms the details were saved.",
            ctx,
            "Both steps succeeded, so I report back.",
        ),
    ]
    return _finish(
        ctx,
        s,
        key,
        "multi_turn",
        "Fill in the form from the customer card and submit it.",
        turns,
        fill + click,
        ["fill_form", "click"],
        {"click": s.rel_box("button:Submit")},
    )


SETTINGS = [
    "Wi-Fi",
    "Bluetooth",
    "Dark mode",
    "Notifications",
    "Location",
    "Auto-update",
    "Airplane mode",
    "Sync",
]


def settings(ctx: Ctx) -> dict:
    rng = ctx.rng
    names = rng.sample(SETTINGS, rng.randint(3, 5))
    states = {n: rng.random() < 0.5 for n in names}
    if sum(not v for v in states.values()) < 2:
        for n in rng.sample(names, 2):
            states[n] = False
    s = _screen(ctx, "Settings")
    for k, n in enumerate(names):
        s.toggle(n, s.unit * 0.8, s.unit * (2.2 + 1.8 * k), states[n])
    key = f"settings:{states}"
    off = [n for n in names if not states[n]]
    task = rng.choice(["parallel", "single", "no_tool"])
    if task == "parallel":
        calls = [_call("toggle_setting", setting=n, enabled=True) for n in off]
        q, _ = ctx.phrasing(
            [
                "Turn on every setting that is currently off.",
                "Enable all the disabled settings.",
                "Switch on everything that is off.",
                "Make sure all of these settings are on.",
            ]
        )
        why = f"The settings that are off: {', '.join(off)}. I switch each on, in parallel. {_reason_calls(calls)}"
        return _finish(ctx, s, key, task, q, [assistant("", ctx, why, calls)], calls, ["toggle_setting"])
    n = rng.choice(names)
    if task == "single":
        calls = [_call("toggle_setting", setting=n, enabled=not states[n])]
        q = f"Toggle {n}."
        why = f"{n} is currently {'on' if states[n] else 'off'}, so toggling it turns it {'off' if states[n] else 'on'}."
        return _finish(ctx, s, key, task, q, [assistant("", ctx, why, calls)], calls, ["toggle_setting"])
    q = f"Is {n} on or off?"
    answer = f"{n} is {'on' if states[n] else 'off'}."
    return _finish(
        ctx,
        s,
        key,
        "no_tool",
        q,
        [assistant(answer, ctx, f"No tool needed: the switch shows {answer}")],
        [],
        ["toggle_setting"],
    )


DIALOGS = [
    (
        "Delete file",
        'Delete "{file}"? This cannot be undone.',
        ["Cancel", "Delete"],
        {"Delete": "Confirm the deletion.", "Cancel": "Don't delete it, cancel."},
    ),
    (
        "Unsaved changes",
        'Save changes to "{file}" before closing?',
        ["Don't Save", "Cancel", "Save"],
        {"Save": "Save my changes.", "Don't Save": "Close without saving.", "Cancel": "Go back to editing."},
    ),
    (
        "Update available",
        "Version {ver} is ready to install.",
        ["Later", "Install now"],
        {"Install now": "Install the update.", "Later": "Remind me later about the update."},
    ),
]


def dialog_names(rng) -> dict[str, str]:
    """What a dialog's message names: {file} and {ver}."""
    file = f"{rng.choice(['report', 'notes', 'budget', 'photo', 'draft'])}_{rng.randint(1, 99)}.{rng.choice(['pdf', 'txt', 'xlsx'])}"
    return {"file": file, "ver": f"{rng.randint(2, 9)}.{rng.randint(0, 20)}"}


def draw_dialog(s: Screen, text: str, buttons: list[str]) -> None:
    """A message box with its buttons right-aligned, the primary action last (zen_vl.gui's dialog
    app draws its pages with it too)."""
    s.pen.rectangle([s.unit, s.unit * 3, s.width - s.unit, s.height - s.unit * 3], fill=(255, 255, 255))
    s.text(s.unit * 1.6, s.unit * 4.5, text)
    x = s.width - s.unit * 1.6
    for name in reversed(buttons):
        w, _ = draw.text_size(s.pen, name, s.bold)
        x -= w + s.unit * 1.4
        s.button(
            name, x, s.height - s.unit * 5.5, fill=(40, 100, 210) if name == buttons[-1] else (120, 120, 130)
        )


def dialog(ctx: Ctx) -> dict:
    rng = ctx.rng
    title, message, buttons, intents = rng.choice(DIALOGS)
    text = message.format(**dialog_names(rng))
    s = _screen(ctx, title)
    draw_dialog(s, text, buttons)
    target = rng.choice(buttons)
    calls = [_call("click", coordinate=s.rel_centre(f"button:{target}"))]
    why = f'The dialog says: {text} The user wants "{target}". {_reason_calls(calls)}'
    return _finish(
        ctx,
        s,
        f"dialog:{title}:{text}",
        "click",
        intents[target],
        [assistant("", ctx, why, calls)],
        calls,
        ["click"],
        {"click": s.rel_box(f"button:{target}")},
    )


DOMAINS = [
    "example.org",
    "docs.example.com",
    "news.example.net",
    "shop.example.io",
    "wiki.example.edu",
    "blog.example.dev",
]
TOPICS = ["tide tables", "sourdough starter", "bike repair", "tax forms", "moon phases", "train times"]


def search(ctx: Ctx) -> dict:
    rng = ctx.rng
    topic = rng.choice(TOPICS)
    code = f"{rng.choice('ABCDEFGHJKLMNPQRSTUVWXYZ')}{rng.choice('ABCDEFGHJKLMNPQRSTUVWXYZ')}-{rng.randint(100, 999)}"
    domains = rng.sample(DOMAINS, 3)
    s = _screen(ctx, "Search")
    u = s.unit
    s.text(u * 0.8, u * 1.6, f"Promo code: {code}", bold=True, colour=(170, 40, 40))
    s.field("Search", u * 0.8, u * 2.6, s.width * 0.6, value=topic)
    s.button("Go", s.width * 0.6 + u * 1.3, u * 3.4)
    for k, d in enumerate(domains):
        y = u * (5.6 + 2.6 * k)
        title = f"{topic.capitalize()}: result {k + 1}"
        s.text(u * 0.8, y, title, bold=True, colour=(30, 60, 170))
        w, h = draw.text_size(s.pen, title, s.bold)
        s.boxes[f"result:{d}"] = (u * 0.8, y, u * 0.8 + w, y + h + u * 0.3)
        s.text(u * 0.8, y + u * 0.9, d, colour=(40, 130, 60))
    key = f"search:{topic}:{code}:{domains}"
    task = rng.choice(["open_result", "scroll", "multi_turn"])
    if task == "open_result":
        d = rng.choice(domains)
        calls = [_call("click", coordinate=s.rel_centre(f"result:{d}"))]
        q = f"Open the result from {d}."
        why = f"The results are from {', '.join(domains)}. The one from {d} is result {domains.index(d) + 1}."
        return _finish(
            ctx,
            s,
            key,
            "click",
            q,
            [assistant("", ctx, why, calls)],
            calls,
            ["click"],
            {"click": s.rel_box(f"result:{d}")},
        )
    if task == "scroll":
        amount = rng.randint(2, 8)
        calls = [_call("scroll", direction="down", amount=amount)]
        q = f"Scroll down {amount} steps to see more results."
        return _finish(
            ctx, s, key, "scroll", q, [assistant("", ctx, _reason_calls(calls), calls)], calls, ["scroll"]
        )
    typed = [_call("type_text", coordinate=s.rel_centre("field:Search"), text=code)]
    go = [_call("click", coordinate=s.rel_centre("button:Go"))]
    turns = [
        assistant(
            "",
            ctx,
            f"The promo code on screen is {code}. I type it into the search box. " + _reason_calls(typed),
            typed,
        ),
        {"role": "tool", "content": json.dumps({"status": "ok"})},
        assistant("", ctx, "Now I press Go. " + _reason_calls(go), go),
        {"role": "tool", "content": json.dumps({"status": "ok", "results": 4})},
        assistant(
            f"I searched for the promo code {code}; the search returned 4 results.",
            ctx,
            "Both steps worked; I summarise.",
        ),
    ]
    return _finish(
        ctx,
        s,
        key,
        "multi_turn",
        "Search for the promo code shown on the page.",
        turns,
        typed + go,
        ["type_text", "click"],
        {"type_text": s.rel_box("field:Search"), "click": s.rel_box("button:Go")},
    )


SHIPPING = ["Standard", "Express", "Next day", "Pickup", "Economy"]


def checkout(ctx: Ctx) -> dict:
    rng = ctx.rng
    names = rng.sample(SHIPPING, rng.randint(3, 4))
    prices = rng.sample(range(0, 30), len(names))
    options = [f"{n} (${p})" for n, p in zip(names, prices, strict=True)]
    s = _screen(ctx, "Checkout")
    u = s.unit
    s.text(u * 0.8, u * 2, "Shipping", bold=True)
    for k, opt in enumerate(options):
        box = (u * 0.8, u * (3 + 1.3 * k), s.width * 0.55, u * (4.1 + 1.3 * k))
        s.pen.rectangle(box, fill=(255, 255, 255), outline=(150, 150, 160))
        s.text(box[0] + u * 0.3, box[1] + u * 0.2, opt)
    s.button("Place order", u * 0.8, u * (3.6 + 1.3 * len(options)))
    which = rng.choice(["cheapest", "fastest-name"])
    if which == "cheapest":
        k = min(range(len(prices)), key=prices.__getitem__)
        q = "Choose the cheapest shipping option."
        why = "Prices: " + ", ".join(options) + f". The cheapest is {options[k]}."
    else:
        k = rng.randrange(len(options))
        q = f"Select {names[k]} shipping."
        why = f'The option for {names[k]} is shown as "{options[k]}".'
    calls = [_call("select_option", dropdown="Shipping", option=options[k])]
    return _finish(
        ctx,
        s,
        f"checkout:{options}",
        "select_option",
        q,
        [assistant("", ctx, why, calls)],
        calls,
        ["select_option"],
    )


def photo(ctx: Ctx) -> dict:
    """A photo viewer: the analysis tool's region is the named object's 0-1000 box."""
    scene = make_scene(ctx.rng, ctx.image_size, 2, 4)
    o = ctx.rng.choice(scene.objects)
    box = draw.rel_box(o.box, scene.size, scene.size)
    calls = [_call("image_analysis", task="describe", region=box)]
    path = ctx.media.image(scene.render(), ctx.stem)
    q = f"Use the analysis tool on the {o.name} only."
    messages = [
        user(image_block(path), q),
        assistant(
            "", ctx, f"The {o.name} is at the {scene.region(o)}, box {box}. {_reason_calls(calls)}", calls
        ),
    ]
    return sample(
        messages,
        task="image_analysis",
        key=f"photo:{scene.key}|{o.name}",
        answer=calls,
        tools=_tools(ctx, ["image_analysis"]),
        skill="function_calling",
        targets={"image_analysis": box},
    )


# Kinds of screen, with their draw weights.
SCREENS = {
    "form": (form, 2),
    "settings": (settings, 1),
    "dialog": (dialog, 1),
    "search": (search, 1),
    "checkout": (checkout, 1),
    "photo": (photo, 1),
}


def gui(ctx: Ctx) -> dict:
    """One agent sample on a random kind of screen (among `data.gui_screens`)."""
    kinds = [k for k in SCREENS if not ctx.screens or k in ctx.screens]
    make = ctx.rng.choices([SCREENS[k][0] for k in kinds], weights=[SCREENS[k][1] for k in kinds])[0]
    return make(ctx)
