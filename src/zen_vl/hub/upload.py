"""`make upload`: the merged model, its GGUF and MLX exports to the Hub, each with a generated card.

The plan lists every (repo, path in repo, local file) from an allow-list: model weights, configs,
tokenizer and processor files, GGUF files, the card, the eval results. Nothing else goes up: no
checkpoints, optimizer states, adapters' training logs, provenance with local paths. Without a
token (HF_TOKEN or `hf auth login`) the default is a dry run that prints the plan; the token is
passed to huggingface_hub and never printed or written.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from pathlib import Path

from zen_vl.artifacts import GGUF_MANIFEST, MLX_MANIFEST, PROVENANCE, RESULTS, read_json, require_finetuned
from zen_vl.atomic import write_json
from zen_vl.config import VARIANTS, ZenConfig, load_config
from zen_vl.errors import ZenError
from zen_vl.hub.card import model_card, repo_name
from zen_vl.paths import Layout

MODEL_FILES = (
    "config.json",
    "generation_config.json",
    "*.safetensors",
    "model.safetensors.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "preprocessor_config.json",
    "video_preprocessor_config.json",
    "processor_config.json",
)
GGUF_FILES = ("*.gguf",)


@dataclass
class RepoPlan:
    repo_id: str
    card: str
    files: dict[str, Path] = field(default_factory=dict)  # path in repo -> local file
    extra: dict[str, bytes] = field(default_factory=dict)  # generated files (eval results)

    def lines(self) -> list[str]:
        out = [f"{self.repo_id}  (create if missing)", "  README.md  (generated model card)"]
        out += [
            f"  {name}  <- {path}  ({path.stat().st_size / 2**20:.1f} MiB)"
            for name, path in sorted(self.files.items())
        ]
        out += [f"  {name}  (generated, {len(data)} bytes)" for name, data in sorted(self.extra.items())]
        return out


def _allowed(folder: Path, patterns: tuple[str, ...]) -> dict[str, Path]:
    return {
        p.name: p
        for p in sorted(folder.iterdir())
        if p.is_file() and any(fnmatch.fnmatch(p.name, pat) for pat in patterns)
    }


def plan(cfg: ZenConfig, layout: Layout | None = None) -> list[RepoPlan]:
    """Repos for one size x variant: the model, and its -GGUF and -MLX-<bits> exports where built."""
    layout = layout or Layout.default()
    finetuned = layout.finetuned(cfg.variant, cfg.size)
    merged = finetuned / "merged"
    provenance = require_finetuned(finetuned, cfg.size, cfg.variant)
    results = read_json(
        finetuned / "eval" / RESULTS,
        f"make eval SIZE={cfg.size} VARIANT={cfg.variant} FORCE=1",
        missing_ok=True,
    )
    extra = {"eval_results.json": json.dumps(_public(results), indent=2).encode()} if results else {}
    repos = [
        RepoPlan(
            repo_name(cfg),
            model_card(cfg, results=results, provenance=provenance),
            _allowed(merged, MODEL_FILES),
            dict(extra),
        )
    ]
    gguf = layout.gguf(cfg.variant, cfg.size)
    if (gguf / GGUF_MANIFEST).is_file():
        repos.append(
            RepoPlan(
                repo_name(cfg, "GGUF"),
                model_card(cfg, kind="GGUF", results=results),
                _allowed(gguf, GGUF_FILES),
            )
        )
    for bits in cfg.export.mlx_bits:
        folder = layout.mlx(cfg.variant, cfg.size, bits)
        if (folder / MLX_MANIFEST).is_file():
            files = _allowed(folder, MODEL_FILES)
            repos.append(
                RepoPlan(
                    repo_name(cfg, f"MLX-{bits}bit"),
                    model_card(cfg, kind=f"MLX-{bits}bit", results=results),
                    files,
                )
            )
    return repos


def _public(results: dict) -> dict:
    """results.json without local paths."""
    out = json.loads(json.dumps(results))
    out["test_set"].pop("path", None)
    for model in out["models"].values():
        model.pop("path", None)
    for bench in out.get("benchmarks", {}).values():
        bench.pop("path", None)
    return out


def upload(repos: list[RepoPlan], *, token: str, private: bool = False) -> list[str]:
    """Create each repo (if missing) and commit its files in one commit; returns the commit URLs."""
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi(token=token)
    urls = []
    for repo in repos:
        ops = [CommitOperationAdd("README.md", repo.card.encode())]
        ops += [CommitOperationAdd(name, str(path)) for name, path in repo.files.items()]
        ops += [CommitOperationAdd(name, data) for name, data in repo.extra.items()]
        try:
            api.create_repo(repo.repo_id, private=private, exist_ok=True)
            info = api.create_commit(
                repo.repo_id, operations=ops, commit_message="zen-vl: upload model and card"
            )
        except Exception as exc:  # network, auth, offline mode: name the repo, never the token
            message = str(exc).replace(token, "***")
            raise ZenError(f"upload to {repo.repo_id} failed: {type(exc).__name__}: {message}") from None
        urls.append(info.commit_url)
    return urls


def trained_variants(size: str, layout: Layout) -> list[str]:
    return [v for v in VARIANTS if (layout.finetuned(v, size) / PROVENANCE).is_file()]


def upload_size(
    size: str,
    variant: str | None,
    overrides: list[str],
    *,
    token: str | None,
    dry_run: bool = False,
    push: bool = False,
    private: bool = False,
    layout: Layout | None = None,
) -> dict | None:
    """`make upload`: the plan for one size (every trained variant, or one), printed; pushed when a
    token is there and this is not a dry run. A real upload writes hub/<size>.json (make all's stamp)
    and returns it; a dry run returns None. The policy: no token is a dry run, unless `push` asks for
    a real upload, where it is an error."""
    layout = layout or Layout.default()
    if push and dry_run:
        raise ZenError("--push and --dry-run contradict each other: choose one")
    variants = [variant] if variant else trained_variants(size, layout)
    if not variants:
        raise ZenError(
            f"nothing to upload for SIZE={size}: train a variant first (make train-agent SIZE={size})"
        )
    repos = [r for v in variants for r in plan(load_config(size, v, overrides), layout)]
    if push and token is None:
        raise ZenError(
            f"a real upload of SIZE={size} needs a Hub token: set HF_TOKEN or run `hf auth login` "
            "(without PUSH=1, make upload is a dry run)"
        )
    dry = dry_run or token is None
    if token is None and not dry_run:
        print(f"dry run (no token: set HF_TOKEN or run `hf auth login` to upload): {len(repos)} repo(s)")
    else:
        print(f"{'dry run' if dry else 'uploading'}: {len(repos)} repo(s)")
    for repo in repos:
        print("\n".join(repo.lines()))
    if dry:
        return None
    urls = upload(repos, token=token, private=private)
    for url in urls:
        print(f"committed: {url}")
    record = {"size": size, "variants": variants, "repos": [r.repo_id for r in repos], "commits": urls}
    write_json(layout.upload_record(size), record)
    return record
