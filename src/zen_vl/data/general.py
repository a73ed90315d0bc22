"""The general slot: text tasks with exact answers, mixed in against forgetting.

On a GPU box with network, add public instruction or VQA sets through `data.sources` (see
zen_vl.data.sources); these built-in tasks keep the offline pipeline honest and measurable.
"""

from __future__ import annotations

from zen_vl.data.context import Ctx, assistant, sample, user

WORDS = [
    "river",
    "lantern",
    "window",
    "pepper",
    "garden",
    "marble",
    "rocket",
    "violin",
    "castle",
    "meadow",
    "harbor",
    "pencil",
    "orange",
    "silver",
    "thunder",
    "blanket",
]
CAPITALS = {
    "France": "Paris",
    "Japan": "Tokyo",
    "Kenya": "Nairobi",
    "Canada": "Ottawa",
    "Peru": "Lima",
    "Norway": "Oslo",
    "Egypt": "Cairo",
    "India": "New Delhi",
    "Chile": "Santiago",
    "Spain": "Madrid",
    "Vietnam": "Hanoi",
    "Poland": "Warsaw",
}


def general(ctx: Ctx) -> dict:
    rng = ctx.rng
    task = rng.choice(["add", "multiply", "sort", "letters", "reverse", "capital", "greeting"])
    if task == "add":
        a, b = rng.randint(10, 999), rng.randint(10, 999)
        q, why, ans, truth = f"What is {a} + {b}?", f"{a} + {b} = {a + b}.", f"{a} + {b} = {a + b}.", a + b
    elif task == "multiply":
        a, b = rng.randint(2, 30), rng.randint(2, 30)
        q, why, ans, truth = (
            f"What is {a} times {b}?",
            f"{a} x {b} = {a * b}.",
            f"{a} × {b} = {a * b}.",
            a * b,
        )
    elif task == "sort":
        nums = rng.sample(range(1, 100), rng.randint(4, 6))
        out = sorted(nums)
        q = f"Sort these numbers from smallest to largest: {', '.join(map(str, nums))}."
        why, ans, truth = f"Ordering them: {out}.", ", ".join(map(str, out)), out
    elif task == "letters":
        w = rng.choice(WORDS)
        ch = rng.choice(sorted(set(w)))
        n = w.count(ch)
        q = f'How many times does the letter "{ch}" appear in "{w}"?'
        why = f"Spelling it out: {' '.join(w)}. The letter {ch} appears {n} time{'s' if n > 1 else ''}."
        ans, truth = f'The letter "{ch}" appears {n} time{"s" if n > 1 else ""} in "{w}".', n
    elif task == "reverse":
        w = rng.choice(WORDS)
        q, why, ans, truth = (
            f'Spell "{w}" backwards.',
            f"{' '.join(w)} reversed is {w[::-1]}.",
            w[::-1],
            w[::-1],
        )
    elif task == "capital":
        country = rng.choice(list(CAPITALS))
        q, why = f"What is the capital of {country}?", f"The capital of {country} is {CAPITALS[country]}."
        ans, truth = f"The capital of {country} is {CAPITALS[country]}.", CAPITALS[country]
    else:
        q = rng.choice(["Hello!", "Hi there.", "Good morning!", "Thanks for your help!"])
        ans = (
            rng.choice(["Hello! How can I help you today?", "Hi! What can I do for you?"])
            if "Thanks" not in q
            else "You're welcome! Let me know if you need anything else."
        )
        why, truth = "A greeting; I reply politely.", None
    messages = [user(q), assistant(ans, ctx, why)]
    return sample(messages, task=f"general_{task}", key=f"general:{q}", answer=truth, skill="general")
