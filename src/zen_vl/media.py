"""Media on disk, shared by the data builder and chat rendering: where a video's frames are, and the
frames of a video file."""

from __future__ import annotations

from pathlib import Path

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")


def frame_paths(folder: Path) -> list[Path]:
    """The frames of a video stored as a folder, in playback (file-name) order."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in FRAME_SUFFIXES)


VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".webm", ".mkv")


def read_video_file(path: Path, *, fps: float, min_frames: int, max_frames: int) -> tuple[list, float]:
    """(frames as RGB PIL images, their sampling rate) of a video file, sampled as qwen-vl-utils does
    for Qwen3-VL: `smart_nframes` frames (`fps` per second of video within [min, max], an even count)
    at evenly spaced indices, so frame k sits at k / rate seconds. Audio streams are ignored. Raises
    ValueError (what is wrong) on a file PyAV cannot decode."""
    import av
    import numpy as np
    from qwen_vl_utils.vision_process import smart_nframes

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError("no video stream")
            stream = container.streams.video[0]
            frames = [f.to_image() for f in container.decode(stream)]
            rate = float(stream.average_rate or stream.guessed_rate or 0) or 1.0
    except av.error.FFmpegError as exc:
        raise ValueError(f"cannot decode ({type(exc).__name__}: {exc})") from None
    if len(frames) < 2:
        raise ValueError(f"{len(frames)} decodable frame(s); a video needs at least 2")
    wanted = {"fps": fps, "min_frames": min_frames, "max_frames": min(max_frames, len(frames))}
    n = smart_nframes(wanted, total_frames=len(frames), video_fps=rate)
    idx = np.linspace(0, len(frames) - 1, n).round().astype(int)
    return [frames[i].convert("RGB") for i in idx], n / len(frames) * rate
