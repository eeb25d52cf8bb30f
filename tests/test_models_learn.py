"""Real models learn small synthetic tasks with ndgrad.nn + ndgrad.optim.

Each task is out of reach of a model that is broken in the part it exercises
(chance level is stated beside each bar), and is checked on held-out data.
"""
import numpy as np

import ndgrad
import ndgrad.nn as nn
import ndgrad.nn.functional as F
import ndgrad.optim as optim


def accuracy(logits, labels):
    return float((np.asarray(logits._data).argmax(-1) == labels).mean())


def fit(model, opt, batches, steps, clip=None):
    losses = []
    model.train()
    for step in range(steps):
        x, y = batches(step)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        losses.append(float(loss.item()))
    model.eval()
    return losses


def test_mlp_learns_concentric_circles():
    """Inner disc vs outer ring: not linearly separable (a linear model stays near 50-65%)."""
    ndgrad.manual_seed(0)
    rng = np.random.default_rng(0)

    def make(n):
        r = np.concatenate([rng.uniform(0, 1, n // 2), rng.uniform(1.5, 2.5, n // 2)])
        a = rng.uniform(0, 2 * np.pi, n)
        x = np.stack([r * np.cos(a), r * np.sin(a)], 1).astype(np.float32)
        return x, np.repeat([0, 1], n // 2)

    xtr, ytr = make(512)
    xte, yte = make(256)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2))
    opt = optim.Adam(model.parameters(), lr=0.01)
    X, Y = ndgrad.tensor(xtr), ndgrad.tensor(ytr)
    losses = fit(model, opt, lambda s: (X, Y), 150)
    assert losses[-1] < 0.1 * losses[0]
    with ndgrad.no_grad():
        assert accuracy(model(ndgrad.tensor(xte)), yte) > 0.97


def test_cnn_with_batchnorm_learns_bar_orientation():
    """Horizontal vs vertical bar at a random place in noise (chance 50%); evaluated in eval mode,
    so BatchNorm's running statistics must be right too."""
    ndgrad.manual_seed(0)
    rng = np.random.default_rng(1)

    def make(n):
        x = rng.normal(0, 0.3, (n, 1, 12, 12)).astype(np.float32)
        y = rng.integers(0, 2, n)
        for i in range(n):
            r, c = rng.integers(1, 11, 2)
            if y[i]:
                x[i, 0, r, max(c - 4, 0):c + 4] += 1.5
            else:
                x[i, 0, max(r - 4, 0):r + 4, c] += 1.5
        return x, y

    xtr, ytr = make(512)
    xte, yte = make(256)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 2))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    def batches(step):
        idx = np.arange(step * 64, step * 64 + 64) % len(xtr)
        return ndgrad.tensor(xtr[idx]), ndgrad.tensor(ytr[idx])

    losses = fit(model, opt, batches, 80)
    assert np.mean(losses[-8:]) < 0.3 * np.mean(losses[:8])
    assert int(model[1].num_batches_tracked.item()) == 80
    with ndgrad.no_grad():
        assert accuracy(model(ndgrad.tensor(xte)), yte) > 0.95


class SequenceClassifier(nn.Module):
    def __init__(self, vocab, classes):
        super().__init__()
        self.embed = nn.Embedding(vocab, 8)
        self.lstm = nn.LSTM(8, 32, batch_first=True)
        self.head = nn.Linear(32, classes)

    def forward(self, tokens):
        out, (h_n, c_n) = self.lstm(self.embed(tokens))
        return self.head(h_n[-1])


def test_lstm_remembers_first_token():
    """Label = the first of 8 tokens (3 classes, chance 33%): the LSTM must carry it through 7 distractors."""
    ndgrad.manual_seed(0)
    rng = np.random.default_rng(2)

    def make(n):
        x = rng.integers(0, 3, (n, 8))
        return x, x[:, 0].copy()

    xtr, ytr = make(1024)
    xte, yte = make(256)
    model = SequenceClassifier(3, 3)
    opt = optim.Adam(model.parameters(), lr=0.01)

    def batches(step):
        idx = rng.integers(0, len(xtr), 64)
        return ndgrad.tensor(xtr[idx]), ndgrad.tensor(ytr[idx])

    fit(model, opt, batches, 200, clip=1.0)
    with ndgrad.no_grad():
        assert accuracy(model(ndgrad.tensor(xte)), yte) > 0.95


class DuplicateTagger(nn.Module):
    """Per token: does this token occur elsewhere in the sequence? Only attention can tell."""

    def __init__(self, vocab, d_model=32):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.block = nn.TransformerEncoderLayer(d_model, 4, dim_feedforward=64, dropout=0.0, batch_first=True)
        self.head = nn.Linear(d_model, 2)

    def forward(self, tokens):
        return self.head(self.block(self.embed(tokens)))


def test_transformer_block_finds_duplicates():
    """Vocabulary 8, length 6: about half the tokens have a duplicate, and a per-token model without
    working attention cannot beat ~55%."""
    ndgrad.manual_seed(0)
    rng = np.random.default_rng(3)

    def make(n):
        x = rng.integers(0, 8, (n, 6))
        same = x[:, :, None] == x[:, None, :]
        y = (same.sum(-1) > 1).astype(np.int64)
        return x, y

    xtr, ytr = make(2048)
    xte, yte = make(256)
    model = DuplicateTagger(8)
    opt = optim.Adam(model.parameters(), lr=3e-3)

    def batches(step):
        idx = rng.integers(0, len(xtr), 64)
        return ndgrad.tensor(xtr[idx]), ndgrad.tensor(ytr[idx])

    def tagged_model(x):
        return model(x).reshape(-1, 2)

    losses = []
    for step in range(200):
        x, y = batches(step)
        loss = F.cross_entropy(tagged_model(x), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    model.eval()
    with ndgrad.no_grad():
        assert accuracy(model(ndgrad.tensor(xte)), yte) > 0.9
