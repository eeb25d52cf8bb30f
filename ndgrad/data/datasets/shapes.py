"""Moving shapes: a generated video dataset for 3-d convolution.

Each clip is T frames of H x W pixels (one channel) showing a bright square that
moves one pixel per frame in one of four directions; the label is the direction.
A single frame says nothing about the label: a model has to compare frames.
"""
from ndgrad.backend import np
from ndgrad.data.datasets._base import ArrayDataset

DIRECTIONS = ("right", "left", "down", "up")
_STEPS = {0: (0, 1), 1: (0, -1), 2: (1, 0), 3: (-1, 0)}  # (row, column) per frame


def make_clips(num_samples, frames=8, height=16, width=16, size=4, speed=1, noise=0.0, seed=0):
    """(clips, labels): clips float32 (N, 1, T, H, W) in [0, 1] (plus noise), labels int64 (N,)."""
    travel = speed * (frames - 1)
    if size + travel > min(height, width):
        raise ValueError(f"moving shapes: a {size}-pixel square moving {speed} px/frame for {frames} frames "
                         f"needs frames of at least {size + travel} pixels, got {height}x{width}")
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(DIRECTIONS), size=num_samples)
    clips = np.zeros((num_samples, 1, frames, height, width), dtype=np.float32)
    brightness = rng.uniform(0.6, 1.0, size=num_samples).astype(np.float32)
    for n, label in enumerate(labels):
        d_row, d_col = _STEPS[int(label)]
        # Start where the whole path stays inside the frame.
        row = rng.integers(travel if d_row < 0 else 0, height - size - (travel if d_row > 0 else 0) + 1)
        col = rng.integers(travel if d_col < 0 else 0, width - size - (travel if d_col > 0 else 0) + 1)
        for t in range(frames):
            r, c = row + d_row * speed * t, col + d_col * speed * t
            clips[n, 0, t, r:r + size, c:c + size] = brightness[n]
    if noise:
        clips += rng.normal(0.0, noise, size=clips.shape).astype(np.float32)
    return clips, labels.astype(np.int64)


class MovingShapes(ArrayDataset):
    """Clips as float32 tensors of shape (1, T, H, W) (channels, frames, height, width);
    targets 0-3 for right, left, down, up. The train and test sets come from
    different seeds derived from ``seed``, so they never share a clip generator."""

    classes = DIRECTIONS

    def __init__(self, root=None, train=True, num_samples=None, frames=8, height=16, width=16,
                 size=4, noise=0.0, seed=0, transform=None, target_transform=None):
        if num_samples is None:
            num_samples = 2000 if train else 500
        clips, labels = make_clips(num_samples, frames, height, width, size, noise=noise,
                                   seed=(seed, 0 if train else 1))
        super().__init__(clips, labels, transform, target_transform)
        self.train = train
