"""The stateful apps: what each page shows, where its widgets are, and what an action does.

A state is a plain JSON-able dict (it travels in a test sample's `meta.episode`): `app` names the
app, `page` the page it shows. `render(state, width, height)` draws the page and records each
widget's pixel box by key (`button:Save`, `field:City`, `toggle:Dark mode`, `option:Express ($9)`,
`result:2`). Actions change the state in place and return a short observation; an action the page
cannot take raises Invalid (the environment keeps the state it had).

    settings   toggles + Save; Save → a "Settings saved" page listing what was saved
    checkout   address fields, a shipping choice, Place order → an order confirmation
    shop       search results (three visible, scroll for more) → a product page → Add to cart → the
               cart → Check out → an order confirmation
    dialog     a message box (the GUI generator's dialogs); a button answers it and opens the box
               `next[button]` names (Delete → "moved to the bin" with Undo / OK), or closes it
"""

from __future__ import annotations

from zen_vl.data import draw
from zen_vl.data.gui import Screen, draw_dialog


class Invalid(ValueError):
    """An action this page cannot take (the state is left as it was)."""


VISIBLE_RESULTS = 3


def _row(s: Screen, k: int, top: float = 2.2, step: float = 1.8) -> float:
    return s.unit * (top + step * k)


# --------------------------------------------------------------------------- settings


def _settings_render(state: dict, s: Screen) -> None:
    if state["page"] == "saved":
        s.text(s.unit * 0.8, s.unit * 2, "Settings saved", bold=True, colour=(30, 120, 50))
        for k, name in enumerate(state["order"]):
            s.text(s.unit * 0.8, _row(s, k, 3.4, 1.2), f"{name}: {'On' if state['saved'][name] else 'Off'}")
        s.button("Back", s.unit * 0.8, s.height - s.unit * 2.4, fill=(120, 120, 130))
        return
    for k, name in enumerate(state["order"]):
        s.toggle(name, s.unit * 0.8, _row(s, k), state["on"][name])
    s.button("Save", s.unit * 0.8, s.height - s.unit * 2.4)


def _settings_click(state: dict, kind: str, name: str) -> str:
    if state["page"] == "saved":
        if (kind, name) == ("button", "Back"):
            state["page"] = "settings"
            return "Back on the settings page."
    elif kind == "toggle":
        state["on"][name] = not state["on"][name]
        return f"{name} is now {'on' if state['on'][name] else 'off'}."
    elif (kind, name) == ("button", "Save"):
        state["saved"] = dict(state["on"])
        state["page"] = "saved"
        return "Settings saved."
    raise Invalid(f"{kind} {name!r} does nothing here")


def _settings_toggle(state: dict, setting: str, enabled: bool) -> str:
    if state["page"] != "settings" or setting not in state["on"]:
        raise Invalid(f"no setting {setting!r} on this screen")
    state["on"][setting] = enabled
    return f"{setting} is now {'on' if enabled else 'off'}."


# --------------------------------------------------------------------------- checkout


def _checkout_render(state: dict, s: Screen) -> None:
    u = s.unit
    if state["page"] == "confirmation":
        placed = state["placed"]
        s.text(u * 0.8, u * 2, "Order placed", bold=True, colour=(30, 120, 50))
        lines = [f"{k}: {v}" for k, v in placed["fields"].items()] + [f"Shipping: {placed['shipping']}"]
        for k, line in enumerate(lines):
            s.text(u * 0.8, _row(s, k, 3.4, 1.2), line)
        return
    for k, label in enumerate(state["fields"]):
        s.field(label, u * 0.8, _row(s, k, 1.8, 2.2), s.width * 0.42, value=state["fields"][label])
    x = s.width * 0.53
    s.text(x, u * 1.8, "Shipping", bold=True)
    for k, option in enumerate(state["options"]):
        box = (x, u * (2.8 + 1.3 * k), s.width - u * 0.6, u * (3.9 + 1.3 * k))
        chosen = option == state["shipping"]
        s.pen.rectangle(box, fill=(210, 228, 255) if chosen else (255, 255, 255), outline=(150, 150, 160))
        s.text(box[0] + u * 0.3, box[1] + u * 0.2, ("● " if chosen else "○ ") + option)
        s.boxes[f"option:{option}"] = box
    s.button("Place order", u * 0.8, s.height - u * 2.4)


def _checkout_click(state: dict, kind: str, name: str) -> str:
    if state["page"] == "checkout":
        if kind == "field":
            return f"The {name} field is focused."
        if kind == "option":
            state["shipping"] = name
            return f"Shipping: {name}."
        if (kind, name) == ("button", "Place order"):
            state["placed"] = {"fields": dict(state["fields"]), "shipping": state["shipping"]}
            state["page"] = "confirmation"
            return "Order placed."
    raise Invalid(f"{kind} {name!r} does nothing here")


def _checkout_type(state: dict, field: str, text: str) -> str:
    if state["page"] != "checkout" or field not in state["fields"]:
        raise Invalid(f"no field {field!r} here")
    state["fields"][field] = text
    return f"{field}: {text}"


def _checkout_select(state: dict, dropdown: str, option: str) -> str:
    if state["page"] != "checkout" or dropdown != "Shipping" or option not in state["options"]:
        raise Invalid(f"no option {option!r} in a {dropdown!r} list here")
    state["shipping"] = option
    return f"Shipping: {option}."


def _checkout_fill(state: dict, fields: dict) -> str:
    unknown = [f for f in fields if f not in state["fields"]]
    if state["page"] != "checkout" or unknown:
        raise Invalid(f"no field {unknown[0] if unknown else ''!r} here")
    state["fields"].update(fields)
    return "Filled: " + ", ".join(fields)


# --------------------------------------------------------------------------- shop


def _shop_render(state: dict, s: Screen) -> None:
    u, page, items = s.unit, state["page"], state["items"]
    if page == "results":
        s.text(u * 0.8, u * 1.6, f"Results for “{state['query']}”", bold=True)
        first = state["offset"]
        for k in range(first, min(len(items), first + VISIBLE_RESULTS)):
            y = _row(s, k - first, 3.0, 2.6)
            title = f"{k + 1}. {items[k]['name']}"
            s.text(u * 0.8, y, title, bold=True, colour=(30, 60, 170))
            w, h = draw.text_size(s.pen, title, s.bold)
            s.boxes[f"result:{k + 1}"] = (u * 0.8, y, u * 0.8 + w, y + h + u * 0.3)
            s.text(u * 0.8, y + u * 0.9, f"${items[k]['price']}", colour=(40, 130, 60))
        if first + VISIBLE_RESULTS < len(items):
            s.text(u * 0.8, s.height - u * 1.4, "▼ more results below", colour=(110, 110, 120))
    elif page == "detail":
        item = items[state["open"] - 1]
        s.text(u * 0.8, u * 2, item["name"], bold=True)
        s.text(u * 0.8, u * 3.4, f"Price: ${item['price']}")
        s.button("Add to cart", u * 0.8, u * 5.2)
        s.button("Back", u * 0.8, u * 7.2, fill=(120, 120, 130))
    elif page == "cart":
        s.text(u * 0.8, u * 2, f"Cart ({len(state['cart'])})", bold=True)
        for k, name in enumerate(state["cart"]):
            s.text(u * 0.8, _row(s, k, 3.4, 1.2), name)
        s.button("Check out", u * 0.8, s.height - u * 2.4)
        s.button("Keep shopping", s.width * 0.5, s.height - u * 2.4, fill=(120, 120, 130))
    else:  # ordered
        s.text(u * 0.8, u * 2, "Thank you for your order", bold=True, colour=(30, 120, 50))
        for k, name in enumerate(state["ordered"]):
            s.text(u * 0.8, _row(s, k, 3.4, 1.2), name)


def _shop_click(state: dict, kind: str, name: str) -> str:
    page = state["page"]
    if page == "results" and kind == "result":
        state["open"], state["page"] = int(name), "detail"
        return f"Opened {state['items'][int(name) - 1]['name']}."
    if page == "detail" and kind == "button":
        if name == "Add to cart":
            state["cart"].append(state["items"][state["open"] - 1]["name"])
            state["page"] = "cart"
            return f"Added {state['cart'][-1]} to the cart."
        if name == "Back":
            state["page"] = "results"
            return "Back to the results."
    if page == "cart" and kind == "button":
        if name == "Check out" and state["cart"]:
            state["ordered"], state["page"] = list(state["cart"]), "ordered"
            return "Order placed."
        if name == "Keep shopping":
            state["page"] = "results"
            return "Back to the results."
    raise Invalid(f"{kind} {name!r} does nothing here")


def _shop_scroll(state: dict, direction: str, amount: int) -> str:
    if state["page"] != "results" or direction not in ("up", "down"):
        raise Invalid(f"nothing scrolls {direction} here")
    last = max(0, len(state["items"]) - VISIBLE_RESULTS)
    step = amount if direction == "down" else -amount
    state["offset"] = min(last, max(0, state["offset"] + step))
    return f"Showing results {state['offset'] + 1} to {min(len(state['items']), state['offset'] + VISIBLE_RESULTS)}."


# --------------------------------------------------------------------------- dialog


def _dialog_render(state: dict, s: Screen) -> None:
    if state["page"] == "closed":
        s.text(s.unit * 0.8, s.unit * 2, "No open dialogs", colour=(110, 110, 120))
        return
    box = state["dialog"]
    draw_dialog(s, box["text"], box["buttons"])


def _dialog_click(state: dict, kind: str, name: str) -> str:
    box = state["dialog"]
    if state["page"] != "dialog" or kind != "button" or name not in box["buttons"]:
        raise Invalid(f"{kind} {name!r} does nothing here")
    state["path"] = f"{state['path']} > {name}" if state["path"] else name
    after = box["next"].get(name)
    if after is None:
        state["page"], state["dialog"] = "closed", None
        return f"{name}: the dialog is closed."
    state["dialog"] = after
    return f"{name}: {after['title']}."


# --------------------------------------------------------------------------- the table


APPS = {
    "settings": {"title": "Settings", "render": _settings_render, "click": _settings_click,
                 "toggle_setting": _settings_toggle},
    "checkout": {"title": "Checkout", "render": _checkout_render, "click": _checkout_click,
                 "type_text": _checkout_type, "select_option": _checkout_select, "fill_form": _checkout_fill},
    "shop": {"title": "Shop", "render": _shop_render, "click": _shop_click, "scroll": _shop_scroll},
    "dialog": {"title": lambda state: (state["dialog"] or {}).get("title", "Desktop"), "render": _dialog_render,
               "click": _dialog_click},
}  # fmt: skip


def render(state: dict, width: int, height: int) -> Screen:
    app = APPS[state["app"]]
    title = app["title"](state) if callable(app["title"]) else app["title"]
    screen = Screen(width, height, title)
    app["render"](state, screen)
    return screen


def handler(state: dict, action: str):
    """The app's function for `action` (click, type_text, ...), or None when the app has none."""
    return APPS[state["app"]].get(action)
