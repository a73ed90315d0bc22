"""Fetch a real base from the Hub into base/<size>[-thinking]/, or build the offline tiny one.

Downloads are pinned (revision from config), filtered (weights, configs, tokenizer, processor and
template files only), checked against free disk first, and authenticated only by HF_TOKEN or the Hub
login. An interrupted download resumes: a rerun keeps every file already fetched and fetches the rest
(huggingface_hub continues a file in flight after a dropped connection; a file cut off by a killed
process starts over, its stale partial copy removed). One download per folder at a time (a lock).
The folder counts as complete only once zen_vl_base.json is written, last. Without network the
download fails within seconds, naming the size and the offline alternative.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from zen_vl.artifacts import BASE_MANIFEST, read_manifest
from zen_vl.atomic import write_json
from zen_vl.base.tiny import build_tiny
from zen_vl.config import ZenConfig
from zen_vl.errors import ZenError
from zen_vl.lock import exclusive
from zen_vl.paths import Layout

ALLOW_PATTERNS = [
    "*.safetensors",
    "*.safetensors.index.json",
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.json",
    "merges.txt",
    "special_tokens_map.json",
    "added_tokens.json",
    "preprocessor_config.json",
    "video_preprocessor_config.json",
    "processor_config.json",
    "chat_template.json",
    "chat_template.jinja",
    "LICENSE",
    "README.md",
]
# Head-room beyond the files themselves (filesystem slack, later temp files).
DISK_MARGIN = 1.05
HUB_TIMEOUT_S = 10


class DownloadError(ZenError):
    pass


def ensure_base(cfg: ZenConfig, layout: Layout, flavor: str | None = None, *, force: bool = False) -> Path:
    """Make base/<size>[-flavor] complete and return it; a complete folder is left as it is (an offline
    tiny one only while it was built from the same `tiny:` dimensions)."""
    flavor = flavor or cfg.base
    dest = layout.base(cfg.size, flavor)
    manifest = read_manifest(dest, BASE_MANIFEST, f"remove {dest} and run make download-{cfg.size}")
    stale = cfg.tiny is not None and manifest is not None and manifest.get("tiny") != cfg.tiny.model_dump()
    if manifest is not None and not force and not stale:
        return dest
    if cfg.tiny is not None:  # built offline; rebuilt when the config's tiny: dimensions changed
        build_tiny(dest, cfg.tiny, flavor, replace=True)
    else:
        download(cfg, flavor, dest)
    return dest


def _is_transport_error(exc: BaseException) -> bool:
    """httpx / httpx2 transport failures (no route, refused, timed out), whichever the hub uses."""
    return any(k.__name__ in ("TransportError", "TimeoutException") for k in type(exc).__mro__)


def _offline_hint(cfg: ZenConfig, repo: str, reason: str) -> DownloadError:
    return DownloadError(
        f"cannot download SIZE={cfg.size} ({repo}): {reason}.\n"
        "  Check the network and the Hub (HF_ENDPOINT), or work offline with the tiny model: "
        "make download-tiny (then SIZE=tiny for every target)."
    )


def download(cfg: ZenConfig, flavor: str, dest: Path) -> Path:
    from huggingface_hub import HfApi
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    ref = cfg.bases[flavor]
    api = HfApi()  # token: HF_TOKEN or the cached login, never a config value
    try:
        info = api.model_info(ref.repo, revision=ref.revision, files_metadata=True, timeout=HUB_TIMEOUT_S)
    except OfflineModeIsEnabled:
        raise _offline_hint(cfg, ref.repo, "HF_HUB_OFFLINE is set") from None
    except GatedRepoError:
        raise DownloadError(
            f"{ref.repo} is gated: accept its license on the Hub, then `hf auth login` or set HF_TOKEN"
        ) from None
    except RevisionNotFoundError:
        raise DownloadError(
            f"{ref.repo} has no revision '{ref.revision}' (configs/sizes/{cfg.size}.yaml bases.{flavor}.revision)"
        ) from None
    except RepositoryNotFoundError:
        raise DownloadError(
            f"{ref.repo} not found on the Hub (or it is private and no token is set)"
        ) from None
    except Exception as exc:
        if isinstance(exc, (HfHubHTTPError, OSError)) or _is_transport_error(exc):
            raise _offline_hint(cfg, ref.repo, f"the Hub did not answer ({type(exc).__name__})") from None
        raise

    from fnmatch import fnmatch

    wanted = [s for s in info.siblings or [] if any(fnmatch(s.rfilename, p) for p in ALLOW_PATTERNS)]
    with exclusive(dest, f"downloading {ref.repo} into {dest}"):
        _fetch(cfg, flavor, info, wanted, dest)
    return dest


def _fetch(cfg: ZenConfig, flavor: str, info, wanted: list, dest: Path) -> None:
    """The files of `wanted` not yet in `dest`, then the completion manifest (under the caller's lock)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    ref = cfg.bases[flavor]
    dest.mkdir(parents=True, exist_ok=True)
    for stale in (dest / ".cache" / "huggingface" / "download").glob("*.incomplete"):
        stale.unlink()  # a killed run's partial file: huggingface_hub starts such a file over
    have = {s.rfilename for s in wanted if (dest / s.rfilename).is_file()
            and (s.size is None or (dest / s.rfilename).stat().st_size == s.size)}  # fmt: skip
    need = int(sum((s.size or 0) for s in wanted if s.rfilename not in have) * DISK_MARGIN)
    free = shutil.disk_usage(dest).free
    if need > free:
        raise DownloadError(
            f"not enough disk for {ref.repo}: needs {need / 1e9:.1f} GB more, {free / 1e9:.1f} GB free at {dest}"
        )
    if have:
        print(f"{dest}: {len(have)} of {len(wanted)} file(s) already here; fetching the rest")
    if not ref.pinned:
        print(f"note: {ref.repo} revision '{ref.revision}' is not a commit; resolved to {info.sha}")
    try:
        snapshot_download(
            ref.repo,
            revision=info.sha,
            local_dir=dest,
            allow_patterns=ALLOW_PATTERNS,
        )
    except OfflineModeIsEnabled:
        raise _offline_hint(cfg, ref.repo, "HF_HUB_OFFLINE is set") from None
    except Exception as exc:
        if isinstance(exc, (HfHubHTTPError, OSError)) or _is_transport_error(exc):
            raise _offline_hint(
                cfg, ref.repo, f"download interrupted ({type(exc).__name__}); rerun to resume"
            ) from None
        raise

    write_json(
        dest / BASE_MANIFEST,
        {
            "source": "hub",
            "flavor": flavor,
            "repo": ref.repo,
            "revision": ref.revision,
            "commit": info.sha,
            "files": sorted(s.rfilename for s in wanted),
            "bytes": sum((s.size or 0) for s in wanted),
        },
    )
