"""Visual understanding with exact ground truth: shape scenes, rendered text (OCR), bar charts.

`visual` asks one-step questions (colour, count, position, size, description, grounding as a 0-1000
box or point, OCR, chart values); `reasoning` asks questions that need several steps (count then
compare, read numbers then compute), with the working written out for the thinking variant.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from zen_vl.data import draw
from zen_vl.data.context import Ctx, assistant, image_block, sample, user


@dataclass(frozen=True)
class Obj:
    shape: str
    colour: str
    cx: float
    cy: float
    r: float

    @property
    def name(self) -> str:
        return f"{self.colour} {self.shape}"

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.cx - self.r, self.cy - self.r, self.cx + self.r, self.cy + self.r)


@dataclass(frozen=True)
class Scene:
    size: int
    objects: tuple[Obj, ...]

    @property
    def key(self) -> str:
        return "scene:" + ";".join(f"{o.name}@{round(o.cx)},{round(o.cy)},{round(o.r)}" for o in self.objects)

    def render(self):
        img, pen = draw.canvas(self.size, self.size)
        for o in self.objects:
            draw.draw_shape(pen, o.shape, o.cx, o.cy, o.r, draw.COLOURS[o.colour])
        return img

    def region(self, o: Obj) -> str:
        third = self.size / 3
        row = ("top", "middle", "bottom")[min(2, int(o.cy // third))]
        col = ("left", "centre", "right")[min(2, int(o.cx // third))]
        if row == "middle" and col == "centre":
            return "centre"
        if row == "middle":
            return col
        return f"{row} {col}" if col != "centre" else row

    def describe(self) -> str:
        parts = [f"{article(o.name)} {o.name} at the {self.region(o)}" for o in self.objects]
        listing = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        n = len(self.objects)
        return f"The image shows {n} shape{'s' if n > 1 else ''} on a white background: {listing}."


def article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def make_scene(rng, size: int, lo: int = 2, hi: int = 5) -> Scene:
    """Non-overlapping shapes; no two share both colour and shape, so every name is unambiguous."""
    n = rng.randint(lo, hi)
    pairs = rng.sample([(s, c) for s in draw.SHAPES for c in draw.COLOURS], n)
    placed: list[Obj] = []
    for shape, colour in pairs:
        for _ in range(200):
            r = rng.uniform(0.06, 0.14) * size
            cx, cy = rng.uniform(r + 4, size - r - 4), rng.uniform(r + 4, size - r - 4)
            if all(abs(cx - o.cx) > r + o.r + 6 or abs(cy - o.cy) > r + o.r + 6 for o in placed):
                placed.append(Obj(shape, colour, cx, cy, r))
                break
    return Scene(size, tuple(placed))


def _ask(ctx: Ctx, scene: Scene, question: str, answer: str, reasoning: str, *, task: str, truth, **meta):
    path = ctx.media.image(scene.render(), ctx.stem)
    messages = [user(image_block(path), question), assistant(answer, ctx, reasoning)]
    return sample(messages, task=task, key=f"{scene.key}|{task}|{question}", answer=truth, **meta)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# --------------------------------------------------------------------------- one-step questions


def visual(ctx: Ctx) -> dict:
    """One visual question with an exact answer (skill chosen at random)."""
    task = ctx.rng.choice(
        ["colour", "count", "position", "size", "describe", "grounding", "point", "ocr", "chart"]
    )
    if task == "ocr":
        return ocr(ctx)
    if task == "chart":
        return chart(ctx)
    scene = make_scene(ctx.rng, ctx.image_size)
    objs = list(scene.objects)
    rng = ctx.rng
    if task == "colour":
        by_shape = {s: [o for o in objs if o.shape == s] for s in draw.SHAPES}
        unique = [o for o in objs if len(by_shape[o.shape]) == 1]
        if unique:
            o = rng.choice(unique)
            q, _ = ctx.phrasing(
                [
                    f"What colour is the {o.shape}?",
                    f"Which colour does the {o.shape} have?",
                    f"Tell me the colour of the {o.shape}.",
                    f"The {o.shape} is what colour?",
                ]
            )
            return _ask(
                ctx,
                scene,
                q,
                f"The {o.shape} is {o.colour}.",
                f"There is one {o.shape}, at the {scene.region(o)}. It is filled with {o.colour}.",
                task="colour",
                truth=o.colour,
                skill="colour",
            )
        task = "count"
    if task == "count":
        if rng.random() < 0.5:
            shape = rng.choice(draw.SHAPES)
            n = sum(o.shape == shape for o in objs)
            q = f"How many {shape}s are in the image?"
            a = f"There {'is' if n == 1 else 'are'} {_plural(n, shape)}."
        else:
            colour = rng.choice(sorted({o.colour for o in objs} | {rng.choice(list(draw.COLOURS))}))
            n = sum(o.colour == colour for o in objs)
            q = f"How many {colour} shapes can you see?"
            a = f"I can see {_plural(n, f'{colour} shape')}."
        listing = ", ".join(o.name for o in objs)
        return _ask(
            ctx,
            scene,
            q,
            a,
            f"The shapes are: {listing}. Counting the matching ones gives {n}.",
            task="count",
            truth=n,
            skill="count",
        )
    if task == "position" and len(objs) >= 2:
        a_, b_ = rng.sample(objs, 2)
        if abs(a_.cx - b_.cx) < 0.1 * scene.size:
            a_, b_ = sorted(objs, key=lambda o: o.cx)[0], sorted(objs, key=lambda o: o.cx)[-1]
        side = "left" if a_.cx < b_.cx else "right"
        q = f"Is the {a_.name} to the left or to the right of the {b_.name}?"
        return _ask(
            ctx,
            scene,
            q,
            f"The {a_.name} is to the {side} of the {b_.name}.",
            f"The {a_.name} is at the {scene.region(a_)} and the {b_.name} at the {scene.region(b_)}; "
            f"comparing their horizontal positions, the {a_.name} is further {side}.",
            task="position",
            truth=side,
            skill="position",
        )
    if task == "size":
        big = max(objs, key=lambda o: o.r)
        q = "Which shape is the largest?"
        return _ask(
            ctx,
            scene,
            q,
            f"The {big.name} is the largest shape.",
            "Comparing the sizes: "
            + ", ".join(f"the {o.name} is about {round(2 * o.r)} px wide" for o in objs)
            + f". The {big.name} is the biggest.",
            task="size",
            truth=big.name,
            skill="size",
        )
    if task in ("grounding", "point"):
        o = rng.choice(objs)
        if task == "grounding":
            box = draw.rel_box(o.box, scene.size, scene.size)
            q, _ = ctx.phrasing(
                [
                    f"Locate the {o.name} and give its bounding box.",
                    f"Find the {o.name}. Output its bbox in JSON.",
                    f"Where is the {o.name}? Answer with a bounding box.",
                    f"Detect the {o.name} and report its box coordinates.",
                ]
            )
            answer = "```json\n" + json.dumps([{"bbox_2d": box, "label": o.name}]) + "\n```"
            return _ask(
                ctx,
                scene,
                q,
                answer,
                f"The {o.name} is at the {scene.region(o)}. In 0-1000 coordinates its box is {box}.",
                task="grounding",
                truth=box,
                skill="grounding",
            )
        pt = draw.rel_point(o.cx, o.cy, scene.size, scene.size)
        box = draw.rel_box(o.box, scene.size, scene.size)
        answer = "```json\n" + json.dumps([{"point_2d": pt, "label": o.name}]) + "\n```"
        return _ask(
            ctx,
            scene,
            f"Point to the {o.name}.",
            answer,
            f"The {o.name} is centred at {pt} in 0-1000 coordinates.",
            task="point",
            truth=box,
            skill="grounding",
        )
    q, _ = ctx.phrasing(
        [
            "Describe the image.",
            "What is in this picture?",
            "What do you see?",
            "Give a short description of this image.",
        ]
    )
    return _ask(
        ctx,
        scene,
        q,
        scene.describe(),
        "I list each shape with its colour and where it is.",
        task="describe",
        truth=[o.name for o in objs],
        skill="describe",
    )


PROBE_COLOURS = ("red", "green", "blue", "yellow")


def colour_probe(ctx: Ctx) -> dict:
    """One large shape in one of four colours: "what colour is the shape?". A wiring probe: a model
    that learns it must be reading the pixels (blank them and it falls to chance, 25%)."""
    rng = ctx.rng
    size = ctx.image_size
    colour, shape = rng.choice(PROBE_COLOURS), rng.choice(draw.SHAPES)
    r = rng.uniform(0.2, 0.3) * size
    o = Obj(shape, colour, rng.uniform(r, size - r), rng.uniform(r, size - r), r)
    scene = Scene(size, (o,))
    q, _ = ctx.phrasing(
        [
            "What colour is the shape?",
            "Which colour is the shape?",
            "Name the colour of the shape.",
            "What is the colour of the shape?",
        ]
    )
    return _ask(
        ctx,
        scene,
        q,
        f"The shape is {colour}.",
        f"The only shape is a {shape}, filled with {colour}.",
        task="colour_probe",
        truth=colour,
        skill="colour",
    )


# --------------------------------------------------------------------------- OCR

OCR_WORDS = {
    "en": ["exit", "platform", "gate", "open", "closed", "garden", "coffee", "north", "library", "station"],
    "es": [
        "salida",
        "andén",
        "puerta",
        "abierto",
        "cerrado",
        "jardín",
        "café",
        "norte",
        "biblioteca",
        "estación",
    ],
    "fr": ["sortie", "quai", "porte", "ouvert", "fermé", "jardin", "café", "nord", "bibliothèque", "gare"],
    "de": [
        "Ausgang",
        "Gleis",
        "Tor",
        "geöffnet",
        "geschlossen",
        "Garten",
        "Kaffee",
        "Norden",
        "Bücherei",
        "Bahnhof",
    ],
    "el": ["έξοδος", "πύλη", "ανοιχτό", "κλειστό", "κήπος", "καφές", "βορράς", "σταθμός"],
    "ru": ["выход", "платформа", "ворота", "открыто", "закрыто", "сад", "кофе", "север", "вокзал"],
}


def ocr(ctx: Ctx) -> dict:
    rng = ctx.rng
    langs = [lang for lang in OCR_WORDS if lang in ("en", "es", "fr", "de") or draw.has_unicode_font()]
    lang = rng.choice(langs)
    words = rng.sample(OCR_WORDS[lang], rng.randint(1, 2))
    text = " ".join(words).capitalize() + f" {rng.randint(1, 99)}"
    size = ctx.image_size
    bg = rng.choice([(255, 255, 255), (30, 60, 130), (20, 110, 60), (240, 220, 120)])
    fg = (20, 20, 20) if sum(bg) > 500 else (255, 255, 255)
    img, pen = draw.canvas(size, size, bg)
    fnt_size = size // 8
    fnt = draw.font(fnt_size, bold=True)
    while draw.text_size(pen, text, fnt)[0] > size * 0.9 and fnt_size > 8:
        fnt_size -= 2
        fnt = draw.font(fnt_size, bold=True)
    w, h = draw.text_size(pen, text, fnt)
    x, y = rng.uniform(0.03 * size, size - w - 0.03 * size), rng.uniform(0.1 * size, size - 2 * h)
    pen.text((x, y), text, font=fnt, fill=fg)
    path = ctx.media.image(img, ctx.stem)
    q, _ = ctx.phrasing(
        [
            "What does the text in the image say?",
            "Read the text in this image.",
            "Transcribe the sign.",
            "What is written here?",
        ]
    )
    messages = [
        user(image_block(path), q),
        assistant(
            text, ctx, f"There is one line of text in the image. Reading it character by character: {text}"
        ),
    ]
    return sample(
        messages, task="ocr", key=f"ocr:{text}|{round(x)},{round(y)}", answer=text, skill="ocr", language=lang
    )


# --------------------------------------------------------------------------- charts

CATEGORIES = [
    ["Mon", "Tue", "Wed", "Thu", "Fri"],
    ["A", "B", "C", "D", "E"],
    ["Q1", "Q2", "Q3", "Q4"],
    ["apples", "pears", "plums", "figs", "kiwis"],
]


@dataclass(frozen=True)
class Chart:
    labels: tuple[str, ...]
    values: tuple[int, ...]
    colour: str

    @property
    def key(self) -> str:
        return f"chart:{self.labels}{self.values}"


def make_chart(rng) -> Chart:
    labels = rng.choice(CATEGORIES)
    n = rng.randint(3, len(labels))
    values = rng.sample(range(5, 96), n)  # distinct, so "highest" is unambiguous
    return Chart(tuple(labels[:n]), tuple(values), rng.choice(["blue", "green", "orange", "purple"]))


def render_chart(chart: Chart, size: int):
    img, pen = draw.canvas(size, size, (255, 255, 255))
    fnt = draw.font(max(8, size // 20))
    left, bottom, top = 0.08 * size, 0.88 * size, 0.12 * size
    slot = (size - 2 * left) / len(chart.values)
    pen.line([(left, bottom), (size - left, bottom)], fill=(0, 0, 0), width=2)
    for k, (label, value) in enumerate(zip(chart.labels, chart.values, strict=True)):
        x1 = left + k * slot + 0.2 * slot
        x2 = x1 + 0.6 * slot
        y1 = bottom - (bottom - top) * value / 100
        pen.rectangle([x1, y1, x2, bottom], fill=draw.COLOURS[chart.colour])
        for text, y in ((str(value), y1 - size // 18), (label, bottom + 4)):
            w, _ = draw.text_size(pen, text, fnt)
            pen.text(((x1 + x2) / 2 - w / 2, y), text, font=fnt, fill=(0, 0, 0))
    return img


def _chart_sample(ctx: Ctx, chart: Chart, q: str, answer: str, reasoning: str, task: str, truth) -> dict:
    path = ctx.media.image(render_chart(chart, ctx.image_size), ctx.stem)
    messages = [user(image_block(path), q), assistant(answer, ctx, reasoning)]
    return sample(messages, task=task, key=f"{chart.key}|{task}|{q}", answer=truth, skill="chart")


def _reading(chart: Chart) -> str:
    return (
        "Reading the bars: "
        + ", ".join(f"{lab} = {v}" for lab, v in zip(chart.labels, chart.values, strict=True))
        + "."
    )


def chart(ctx: Ctx) -> dict:
    c = make_chart(ctx.rng)
    if ctx.rng.random() < 0.5:
        k = ctx.rng.randrange(len(c.labels))
        q = f"What is the value of {c.labels[k]} in the chart?"
        return _chart_sample(
            ctx,
            c,
            q,
            f"The value of {c.labels[k]} is {c.values[k]}.",
            _reading(c),
            "chart_value",
            c.values[k],
        )
    k = max(range(len(c.values)), key=c.values.__getitem__)
    return _chart_sample(
        ctx,
        c,
        "Which category has the highest value?",
        f"{c.labels[k]} has the highest value ({c.values[k]}).",
        _reading(c) + f" The largest is {c.values[k]}.",
        "chart_max",
        c.labels[k],
    )


# --------------------------------------------------------------------------- several steps


def reasoning(ctx: Ctx) -> dict:
    """A question that needs several steps; the working is the reasoning of the thinking variant."""
    task = ctx.rng.choice(["count_compare", "count_total", "chart_sum", "chart_range", "leftmost"])
    rng = ctx.rng
    if task.startswith("chart"):
        c = make_chart(rng)
        if task == "chart_sum":
            i, j = rng.sample(range(len(c.labels)), 2)
            total = c.values[i] + c.values[j]
            q = f"What is the sum of the values of {c.labels[i]} and {c.labels[j]}?"
            why = (
                f"{_reading(c)} I need {c.labels[i]} and {c.labels[j]}: "
                f"{c.values[i]} + {c.values[j]} = {total}."
            )
            return _chart_sample(ctx, c, q, f"The sum is {total}.", why, "chart_sum", total)
        hi, lo = max(c.values), min(c.values)
        q = "By how much does the highest bar exceed the lowest one?"
        why = f"{_reading(c)} The highest is {hi} and the lowest is {lo}; {hi} - {lo} = {hi - lo}."
        return _chart_sample(
            ctx, c, q, f"The highest bar exceeds the lowest by {hi - lo}.", why, "chart_range", hi - lo
        )
    scene = make_scene(rng, ctx.image_size, 3, 6)
    objs = list(scene.objects)
    listing = "; ".join(f"{o.name} at the {scene.region(o)}" for o in objs)
    if task == "count_compare":
        c1, c2 = rng.sample(sorted({o.colour for o in objs} | {rng.choice(list(draw.COLOURS))}), 2)
        n1, n2 = sum(o.colour == c1 for o in objs), sum(o.colour == c2 for o in objs)
        verdict = "Yes" if n1 > n2 else "No"
        q = f"Are there more {c1} shapes than {c2} shapes?"
        why = (
            f"The shapes are: {listing}. {c1.capitalize()} shapes: {n1}. {c2.capitalize()} shapes: {n2}. "
            f"{n1} {'>' if n1 > n2 else '<='} {n2}, so the answer is {verdict.lower()}."
        )
        ans = f"{verdict}. There {'is' if n1 == 1 else 'are'} {_plural(n1, f'{c1} shape')} and {n2} {c2} shape{'s' if n2 != 1 else ''}."
        return _ask(ctx, scene, q, ans, why, task=task, truth=verdict.lower(), skill="count")
    if task == "count_total":
        s1, s2 = rng.sample(draw.SHAPES, 2)
        n1, n2 = sum(o.shape == s1 for o in objs), sum(o.shape == s2 for o in objs)
        q = f"How many shapes are either {s1}s or {s2}s?"
        why = f"The shapes are: {listing}. {s1.capitalize()}s: {n1}. {s2.capitalize()}s: {n2}. {n1} + {n2} = {n1 + n2}."
        return _ask(
            ctx,
            scene,
            q,
            f"{n1 + n2} shapes are {s1}s or {s2}s.",
            why,
            task=task,
            truth=n1 + n2,
            skill="count",
        )
    left = min(objs, key=lambda o: o.cx)
    why = (
        "Horizontal centres in 0-1000 coordinates: "
        + ", ".join(f"{o.name} {draw.rel(o.cx, scene.size)}" for o in objs)
        + f". The smallest is the {left.name}'s."
    )
    return _ask(
        ctx,
        scene,
        "Which shape is furthest to the left?",
        f"The {left.name} is furthest to the left.",
        why,
        task=task,
        truth=left.name,
        skill="position",
    )
