"""One GUI episode: the agent model reads the screenshot, calls a tool in Qwen3's <tool_call> format, the
environment executes it and answers with the next screenshot (a `tool` message), until the goal holds,
the model stops calling tools, or the step limit. Prints each screenshot, call and response.

python examples/tool_loop.py MODEL_DIR [--family settings|checkout|shop|dialog] [--seed N] [--out DIR]
python examples/tool_loop.py --server http://127.0.0.1:8080 [--family ...] [--mlx-vlm]   # any OpenAI-compatible server
e.g. python examples/tool_loop.py agent/finetuned/tiny/merged --family dialog   (the app make demo's agent learned)
"""

import argparse
import contextlib
import random
import sys
from pathlib import Path

from zen_vl.config import load_config
from zen_vl.data.context import Ctx, MediaWriter
from zen_vl.gui.episode import run_episodes, trajectory
from zen_vl.gui.tasks import FAMILIES, make_task


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", nargs="?", help="a Hub-format model folder (omit with --server)")
    ap.add_argument("--server", help="base URL of an OpenAI-compatible server (llama-server, vLLM)")
    ap.add_argument("--family", choices=FAMILIES, default="settings")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", default="tiny", help="whose config: image size, screenshots kept, token budget")
    ap.add_argument("--out", type=Path, default=Path("episode"), help="where the screenshots are written")
    ap.add_argument("--thinking", action="store_true", help="the model reasons first (the thinking variant)")
    ap.add_argument("--mlx-vlm", action="store_true",
                    help="--server is mlx_vlm.server: send screenshots in tool responses as user turns (it drops them)")  # fmt: skip
    args = ap.parse_args()
    if not args.model and not args.server:
        ap.error("give a model folder or --server")
    cfg = load_config(args.size, "agent")
    ctx = Ctx(rng=random.Random(f"example/{args.seed}"), split="test", think=False, identity=cfg.identity,
              data=cfg.data, media=MediaWriter(args.out), stem="unused")  # fmt: skip
    task = make_task(ctx, args.family)
    width, height = round(cfg.data.image_size * 4 / 3), cfg.data.image_size
    spec = {"id": f"{args.family}-{args.seed}", **task.spec(), "width": width, "height": height,
            "oracle_actions": len(trajectory(task, width, height, lambda img: "")["calls"])}  # fmt: skip
    print(f"task: {task.request} (the oracle needs {spec['oracle_actions']} actions)")
    thinking = args.thinking
    with policy(args, cfg, args.out) as act:

        def shown(prompts):  # print what the model sees last and what it answers
            last = prompts[0]["messages"][-1]
            blocks = (
                last["content"]
                if isinstance(last["content"], list)
                else [{"type": "text", "text": last["content"]}]
            )
            shot = next((b["image"] for b in reversed(blocks) if b.get("type") == "image"), None)
            text = " ".join(b["text"] for b in blocks if b.get("type") == "text")
            print(f"{last['role']}: {text}" + (f" [screenshot {args.out / shot}]" if shot else ""))
            answers = act(prompts)
            print(f"assistant: {answers[0]}")
            return answers

        (record,) = run_episodes(shown, [spec], args.out, keep_screenshots=cfg.data.gui_episode_screenshots,
                                 extra_steps=cfg.eval.episode_extra_steps, thinking=thinking)  # fmt: skip
    print(f"{'success' if record['success'] else 'failure'}: stopped on {record['stop']} after {record['actions']} "
          f"actions ({record['invalid']} invalid)")  # fmt: skip
    return 0 if record["success"] else 1


@contextlib.contextmanager
def policy(args, cfg, media: Path):
    if args.server:
        from zen_vl.evaluate.episodes import endpoint_policy

        yield endpoint_policy(args.server.rstrip("/"), cfg, media, tool_images_in_user=args.mlx_vlm)
    else:
        from zen_vl.evaluate.episodes import hf_policy

        with hf_policy(Path(args.model), cfg, args.thinking, media) as act:
            yield act


if __name__ == "__main__":
    sys.exit(main())
