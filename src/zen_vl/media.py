"""Media on disk, shared by the data builder and chat rendering: where a video's frames are."""

from __future__ import annotations

from pathlib import Path

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")


def frame_paths(folder: Path) -> list[Path]:
    """The frames of a video stored as a folder, in playback (file-name) order."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in FRAME_SUFFIXES)
