"""Focused tiny training runs shared by the training and evaluation suites (each trains once per
session through the `train_tiny` fixture, keyed by its resolved config).

The full tiny mixes are too much for a random 47 M model on CPU in test time (it loops), so each
suite trains on one generator's slice: identity, the colour probe (pixels must flow), GUI dialogs.
"""

FAST = ["train.dataloader_workers=0", "train.save_steps=1000", "train.report_to=[]"]
ONLY = {  # a whole mapping on the command line replaces the variant's mix: one generator
    g: [f"data.mix={{{g}: 1}}"]
    for g in ("identity", "colour_probe", "gui", "gui_episode", "reasoning", "general")
}
IDENTITY = [
    *FAST,
    *ONLY["identity"],
    "data.train=240",
    "data.val=8",
    "data.test=64",
    "train.lr=3e-3",
    "train.epochs=3",
]
PROBE = [
    *FAST,
    *ONLY["colour_probe"],
    "data.train=160",
    "data.val=8",
    "data.test=48",
    "train.lr=3e-3",
    "train.epochs=3",
]
THINKING_PROBE = [
    *FAST,
    *ONLY["colour_probe"],
    "data.train=160",
    "data.val=4",
    "data.test=24",
    "train.lr=3e-3",
    "train.epochs=3",
]
SHORT = [*FAST, "data.train=24", "data.val=4", "data.test=4"]
# Dialogs (click the button the request means) with one distractor tool declared: prompts short
# enough for the tiny model to learn on CPU in a couple of minutes (the full mix needs a real base).
# The final norm trains beside the adapters: with it frozen (and the output layer tied to the random
# embeddings) the logits cannot sharpen (loss stuck near 7.0), so the clicks' digits won by thin
# margins and flipped with the thread count (lr 3e-3: AST 0.75 at 1 thread, above 0.8 at 2; lr 5e-3:
# 0.875 at 1, 0.75 at 2). With it, lr 5e-3: eval loss 3.7 and AST 0.875 at both (2026-12-04).
AGENT = [
    *FAST,
    *ONLY["gui"],
    "data.gui_screens=[dialog]",
    "data.gui_distractors=1",
    "data.train=160",
    "data.val=4",
    "data.test=32",
    "train.lr=5e-3",
    "train.epochs=6",
    "lora.modules_to_save=[language_model.norm]",
]


def full_mix(variant: str) -> list[str]:
    """Overrides that give tiny the real sizes' data for `variant` (the tiny demo trains on narrower
    mixes): the variant's mix, every identity language and image kind, every screen and episode app,
    3 distractors, and their max_length."""
    import json

    from zen_vl.config import load_config

    full = load_config("8b", variant)
    real = full.data
    return [
        f"train.max_length={full.train.max_length}",  # GUI episodes with 3 distractor tools pass 1024 tokens
        f"data.mix={json.dumps(real.mix)}",
        f"data.languages={json.dumps(real.languages)}",
        f"data.identity_images={json.dumps(real.identity_images)}",
        f"data.gui_screens={json.dumps(real.gui_screens)}",
        f"data.gui_episode_families={json.dumps(real.gui_episode_families)}",
        f"data.gui_distractors={real.gui_distractors}",
    ]


# GUI episodes on one app (the shop: open the nth result, add it to the cart, check out when asked):
# 2-3 actions, each answered with the next screenshot; no distractor tools. Full fine-tuning: measured
# on 30 held-out episodes, LoRA (0.26 M adapter weights in this 4-layer model) always opened the same
# row at lr 5e-3 (episode success 0.37) and collapsed at 1e-2 (0.0); full fine-tuning reached 0.87.
EPISODES = [
    *FAST,
    *ONLY["gui_episode"],
    "data.gui_episode_families=[shop]",
    "data.gui_episode_changes=2",
    "data.gui_distractors=0",
    "data.train=160",
    "data.val=4",
    "data.test=30",
    "lora.method=full",
    "train.lr=1e-3",
    "train.epochs=6",
]
