"""The models the ``ndgrad train`` command trains, built from ``ndgrad.nn``.

- ``MLP``: flatten, then fully connected layers with ReLU (any input shape);
- ``CNN``: two 3x3 conv/ReLU/2x2 max-pool stages, then two linear layers
  (1x28x28 MNIST-style or 1x8x8 digits images);
- ``VideoCNN``: the same idea with ``Conv3d``/``MaxPool3d`` over (channels, frames, H, W) clips;
- ``DosageNet``: StatQuest's 1 -> 2 softplus units -> 1 network.
"""
import math

from ndgrad import nn

MODEL_NAMES = ("mlp", "cnn", "video-cnn")


class MLP(nn.Module):
    """Flatten -> [Linear -> ReLU] * len(hidden) -> Linear."""

    def __init__(self, in_shape, num_classes, hidden=(256, 128)):
        super().__init__()
        in_features = math.prod(in_shape)
        layers = [nn.Flatten()]
        for width in hidden:
            layers += [nn.Linear(in_features, width), nn.ReLU()]
            in_features = width
        layers.append(nn.Linear(in_features, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class CNN(nn.Module):
    """conv 3x3 -> ReLU -> max-pool 2 -> conv 3x3 -> ReLU -> max-pool 2 -> flatten -> linear -> ReLU -> linear.

    ``in_shape`` is (channels, height, width); height and width must be divisible by 4
    (28x28 and 8x8 are). Padding keeps the size through each convolution.
    """

    def __init__(self, in_shape=(1, 28, 28), num_classes=10, channels=(32, 64), hidden=128):
        super().__init__()
        if len(in_shape) != 3 or in_shape[1] % 4 or in_shape[2] % 4:
            raise ValueError(f"CNN: expected in_shape (channels, height, width) with height and width "
                             f"divisible by 4, like (1, 28, 28) or (1, 8, 8); got {tuple(in_shape)}")
        c, h, w = in_shape
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(c, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(c2 * (h // 4) * (w // 4), hidden), nn.ReLU(), nn.Linear(hidden, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class VideoCNN(nn.Module):
    """Conv3d -> ReLU -> MaxPool3d(2), twice, then flatten -> linear.

    ``in_shape`` is (channels, frames, height, width), each of frames/height/width
    divisible by 4. The 3x3x3 kernels see neighbouring frames, which is what tells
    the direction of motion.
    """

    def __init__(self, in_shape=(1, 8, 16, 16), num_classes=4, channels=(8, 16), hidden=64):
        super().__init__()
        if len(in_shape) != 4 or any(s % 4 for s in in_shape[1:]):
            raise ValueError(f"VideoCNN: expected in_shape (channels, frames, height, width) with frames, "
                             f"height and width divisible by 4, like (1, 8, 16, 16); got {tuple(in_shape)}")
        c, t, h, w = in_shape
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv3d(c, c1, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2),
            nn.Conv3d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(c2 * (t // 4) * (h // 4) * (w // 4), hidden), nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class DosageNet(nn.Module):
    """StatQuest's network: dosage -> 2 softplus hidden units -> efficacy."""

    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(1, 2)
        self.activation = nn.Softplus()
        self.output = nn.Linear(2, 1)

    def forward(self, x):
        return self.output(self.activation(self.hidden(x)))


def build_model(name, in_shape, num_classes):
    """``mlp``, ``cnn`` (images: (C, H, W)) or ``video-cnn`` (clips: (C, T, H, W))."""
    if name == "mlp":
        return MLP(in_shape, num_classes)
    if name == "cnn":
        return CNN(in_shape, num_classes)
    if name == "video-cnn":
        return VideoCNN(in_shape, num_classes)
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
