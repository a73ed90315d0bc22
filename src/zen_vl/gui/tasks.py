"""Tasks with goals the environment can check, and the oracle that solves them.

    make_task(ctx, family)   a Task: the app's first state, a goal (a predicate on the final state),
                             the request as a user would phrase it (ctx.phrasing: every 4th
                             phrasing is asked only in val/test), and the tools the model is given
    holds(goal, state)       the goal predicate: every key of the goal matches the state (dicts
                             recursively, lists as "contains all", values equal)
    next_call(task, env)     the oracle: from the true state, the next call towards the goal and a
                             one-line reason; None once the goal holds

Goals take 2 to 6 actions: settings (1-3 switches, then Save), checkout (1-3 field or shipping
changes, then Place order), shop (scroll to the nth result when it is below the fold, open it, add
it to the cart, and check out when asked), dialog (answer one of the GUI generator's dialogs, then
the box or boxes it opens: 2-3 clicks).
"""

from __future__ import annotations

from dataclasses import dataclass

from zen_vl.data.gui import CITIES, DIALOGS, PEOPLE, SETTINGS, SHIPPING, TOOLS, dialog_names
from zen_vl.gui.apps import VISIBLE_RESULTS

FAMILIES = ("settings", "checkout", "shop", "dialog")
NEEDED = {"settings": ["toggle_setting", "click"], "checkout": ["type_text", "select_option", "click"],
          "shop": ["click", "scroll"], "dialog": ["click"]}  # fmt: skip
STREETS = [
    "12 Rue Verte",
    "4 Harbour Road",
    "88 Elm Street",
    "7 Via Roma",
    "31 Linden Allee",
    "5 Sakura Dori",
]
PRODUCTS = ["desk lamp", "water bottle", "wool scarf", "phone stand", "notebook", "tea kettle", "bike light",
            "yoga mat", "travel mug", "headphones"]  # fmt: skip
ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth"]


@dataclass
class Task:
    family: str
    state: dict
    goal: dict
    request: str
    tools: list[str]
    heldout_phrasing: bool = False

    def spec(self) -> dict:
        """JSON-able: what a test sample carries to replay the episode."""
        return {"family": self.family, "state": self.state, "goal": self.goal, "request": self.request,
                "tools": self.tools}  # fmt: skip


def holds(goal: dict, state: dict) -> bool:
    for key, want in goal.items():
        have = state.get(key) if isinstance(state, dict) else None
        if isinstance(want, dict):
            if not isinstance(have, dict) or not holds(want, have):
                return False
        elif isinstance(want, list):
            if not isinstance(have, list) or any(w not in have for w in want):
                return False
        elif have != want:
            return False
    return True


def _tools(ctx, needed: list[str]) -> list[str]:
    others = [n for n in TOOLS if n not in needed]
    names = needed + ctx.rng.sample(others, min(len(others), ctx.rng.randint(0, ctx.distractors)))
    ctx.rng.shuffle(names)
    return names


def _settings(ctx) -> Task:
    rng = ctx.rng
    names = rng.sample(SETTINGS, rng.randint(3, 5))
    on = {n: rng.random() < 0.5 for n in names}
    targets = rng.sample(names, rng.randint(1, min(ctx.data.gui_episode_changes, len(names))))
    goal = {n: not on[n] for n in targets}
    changes = " and ".join(f"turn {'on' if v else 'off'} {n}" for n, v in goal.items())
    text, held = ctx.phrasing([f"{changes[0].upper()}{changes[1:]}, then save.",
                               f"Please {changes} and save the settings.",
                               f"I want you to {changes}. Save when you are done.",
                               f"Can you {changes} and save?"])  # fmt: skip
    state = {"app": "settings", "page": "settings", "order": names, "on": on, "saved": None}
    return Task("settings", state, {"saved": goal}, text, _tools(ctx, NEEDED["settings"]), held)


def _checkout(ctx) -> Task:
    rng = ctx.rng
    fields = {"Name": rng.choice(PEOPLE), "Street": rng.choice(STREETS), "City": rng.choice(CITIES)}
    names = rng.sample(SHIPPING, 3)
    options = [f"{n} (${p})" for n, p in zip(names, rng.sample(range(0, 30), 3), strict=True)]
    state = {"app": "checkout", "page": "checkout", "fields": fields, "options": options,
             "shipping": options[0], "placed": None}  # fmt: skip
    wanted: dict = {"City": rng.choice([c for c in CITIES if c != fields["City"]])}
    changes = [f"change the shipping city to {wanted['City']}"]
    room = ctx.data.gui_episode_changes - 1
    if room and rng.random() < 0.5:
        room -= 1
        wanted["Street"] = rng.choice([s for s in STREETS if s != fields["Street"]])
        changes.append(f"set the street to {wanted['Street']}")
    goal: dict = {"fields": wanted}
    if room and rng.random() < 0.5:
        goal["shipping"] = rng.choice(options[1:])
        changes.append(f"pick {goal['shipping'].split(' (')[0]} shipping")
    rng.shuffle(changes)
    said = ", ".join(changes[:-1]) + (" and " if len(changes) > 1 else "") + changes[-1]
    text, held = ctx.phrasing([f"{said[0].upper()}{said[1:]}, then place the order.",
                               f"Please {said} and place the order.",
                               f"Before ordering, {said}. Then submit the order.",
                               f"Could you {said} and then place my order?"])  # fmt: skip
    return Task("checkout", state, {"placed": goal}, text, _tools(ctx, NEEDED["checkout"]), held)


def _shop(ctx) -> Task:
    rng = ctx.rng
    changes = ctx.data.gui_episode_changes  # 1: open + add; 2: and check out; 3: results below the fold too
    shown = rng.randint(VISIBLE_RESULTS, 6) if changes >= 3 else VISIBLE_RESULTS
    items = [{"name": n, "price": rng.randint(3, 90)} for n in rng.sample(PRODUCTS, shown)]
    k = rng.randint(1, len(items))
    name = items[k - 1]["name"]
    buy = changes >= 2 and rng.random() < 0.5
    state = {"app": "shop", "page": "results", "query": rng.choice(["gifts", "home", "outdoor", "office"]),
             "items": items, "offset": 0, "open": None, "cart": [], "ordered": None}  # fmt: skip
    end = " and check out" if buy else ""
    text, held = ctx.phrasing([f"Open the {ORDINALS[k - 1]} result and add it to the cart{end}.",
                               f"Add result number {k} to my cart{end}.",
                               f"Put the {ORDINALS[k - 1]} item in the results into the cart{end}.",
                               f"I'd like the {ORDINALS[k - 1]} result in my cart{end}, please."])  # fmt: skip
    goal = {"ordered": [name]} if buy else {"cart": [name]}
    return Task("shop", state, goal, text, _tools(ctx, NEEDED["shop"]), held)


# The box a dialog's answer opens: (title, message, buttons, what its own answers open); an answer
# not listed closes the dialog.
FOLLOW_UPS = {
    "Delete file": {"Delete": ("File deleted", '"{file}" was moved to the bin.', ["Undo", "OK"],
                               {"Undo": ("File restored", '"{file}" is back in its folder.', ["OK"], {})})},
    "Unsaved changes": {"Save": ("Saved", '"{file}" was saved.', ["OK"], {}),
                        "Don't Save": ("Closed", '"{file}" was closed without saving.', ["OK"], {})},
    "Update available": {"Install now": ("Update installed", "Version {ver} is installed. Restart to finish.",
                                         ["Later", "Restart now"], {}),
                         "Later": ("Reminder set", "We will remind you about version {ver} tomorrow.", ["OK"], {})},
}  # fmt: skip
# Tasks: (dialog, answers in order) → what the user asks for at each answer.
DIALOG_TASKS = {
    ("Delete file", "Delete", "OK"): ("delete {file}", "close the notice"),
    ("Delete file", "Delete", "Undo", "OK"): ("delete {file}", "undo it", "close the notice"),
    ("Unsaved changes", "Save", "OK"): ("save the changes to {file}", "close the confirmation"),
    ("Unsaved changes", "Don't Save", "OK"): ("close {file} without saving", "dismiss the notice"),
    ("Update available", "Install now", "Restart now"): ("install the update", "restart now"),
    ("Update available", "Install now", "Later"): ("install the update", "restart later"),
    ("Update available", "Later", "OK"): ("postpone the update", "close the reminder"),
}


def _boxes(follow: dict, names: dict) -> dict:
    return {answer: {"title": t, "text": m.format(**names), "buttons": b, "next": _boxes(after, names)}
            for answer, (t, m, b, after) in follow.items()}  # fmt: skip


def _dialog(ctx) -> Task:
    rng = ctx.rng
    tasks = [t for t in DIALOG_TASKS if len(t) - 2 <= ctx.data.gui_episode_changes]
    title, *answers = key = rng.choice(tasks)
    message, buttons = next((m, b) for t, m, b, _ in DIALOGS if t == title)
    names = dialog_names(rng)
    box = {"title": title, "text": message.format(**names), "buttons": buttons,
           "next": _boxes(FOLLOW_UPS[title], names)}  # fmt: skip
    first, *rest = [step.format(**names) for step in DIALOG_TASKS[key]]
    then = ", then ".join(rest)
    text, held = ctx.phrasing([f"{first[0].upper()}{first[1:]}, then {then}.",
                               f"Please {first} and then {then}.",
                               f"I want you to {first}. After that, {then}.",
                               f"Could you {first} and {then}?"])  # fmt: skip
    state = {"app": "dialog", "page": "dialog", "dialog": box, "path": ""}  # path: the answers so far
    goal = {"page": "closed", "path": " > ".join(answers)}  # these answers, in this order, and no others
    return Task("dialog", state, goal, text, _tools(ctx, NEEDED["dialog"]), held)


MAKERS = {"settings": _settings, "checkout": _checkout, "shop": _shop, "dialog": _dialog}


def make_task(ctx, family: str) -> Task:
    return MAKERS[family](ctx)


def _click(env, key: str) -> dict:
    return {"name": "click", "arguments": {"coordinate": env.screen.rel_centre(key)}}


def next_call(task: Task, env) -> tuple[dict, str] | None:
    """The oracle's next call and why, from the environment's true state; None once the goal holds."""
    state, goal = env.state, task.goal
    if holds(goal, state):
        return None
    page = state["page"]
    if task.family == "settings":
        if page == "saved":
            return _click(env, "button:Back"), "The saved settings are not what was asked; I go back."
        for n, v in goal["saved"].items():
            if state["on"][n] != v:
                call = {"name": "toggle_setting", "arguments": {"setting": n, "enabled": v}}
                return (
                    call,
                    f"{n} is {'on' if state['on'][n] else 'off'}; I switch it {'on' if v else 'off'}.",
                )
        return _click(env, "button:Save"), "The switches are as asked; I press Save."
    if task.family == "checkout":
        want = goal["placed"]
        for label, value in want["fields"].items():
            if state["fields"][label] != value:
                call = {"name": "type_text",
                        "arguments": {"coordinate": env.screen.rel_centre(f"field:{label}"), "text": value}}  # fmt: skip
                return call, f"The {label} field shows {state['fields'][label]}; I type {value}."
        if "shipping" in want and state["shipping"] != want["shipping"]:
            call = {
                "name": "select_option",
                "arguments": {"dropdown": "Shipping", "option": want["shipping"]},
            }
            return call, f"Shipping is {state['shipping']}; I choose {want['shipping']}."
        return _click(env, "button:Place order"), "Everything matches the request; I place the order."
    if task.family == "dialog":
        done = state["path"].split(" > ") if state["path"] else []
        answer = goal["path"].split(" > ")[len(done)]
        return _click(
            env, f"button:{answer}"
        ), f'The dialog asks "{state["dialog"]["text"]}"; I press {answer}.'
    # shop
    name = next(iter(goal.get("cart") or goal.get("ordered")))
    k = next(i for i, it in enumerate(state["items"], 1) if it["name"] == name)
    if page == "results":
        first = state["offset"]
        if k - 1 >= first + VISIBLE_RESULTS:
            amount = k - first - VISIBLE_RESULTS
            return {"name": "scroll", "arguments": {"direction": "down", "amount": amount}}, (
                f"Result {k} is below the visible ones; I scroll down {amount}."
            )
        return _click(env, f"result:{k}"), f"Result {k} is {name}; I open it."
    if page == "detail":
        if state["open"] != k:
            return _click(env, "button:Back"), "This is not the product asked for; I go back."
        return _click(env, "button:Add to cart"), f"This is the {name}; I add it to the cart."
    if page == "cart" and name in state["cart"]:
        return _click(env, "button:Check out"), f"The {name} is in the cart; I check out."
    return _click(env, "button:Keep shopping"), "The product is not in the cart yet; I go back."
