"""Workloads shaped like the public example programs people train (issue 12), and two compute-bound GPU
workloads (issue 15: gpt_medium, resnet18_train).

Each builder has the signature of the ones in workloads.py, ``build(fw, device, graphed=False) -> Prepared``,
and uses only the PyTorch API, so the same lines run on ndgrad and on PyTorch. Architectures and sizes follow
the common public examples (examples/mnist, examples/word_language_model, nanoGPT's character model and GPT-2
small, examples/vae, examples/dcgan, the CIFAR ResNet-18); the code is our own. ``graphed=True`` gives
Adam-family optimizers ``capturable=True`` (see ``capturable``); nothing else changes.

Inputs come from NumPy's generator (identical for both frameworks); weights are each framework's default
initialisation after ``manual_seed(0)``. Every trained workload fits one fixed batch, so its probe (the loss
in eval mode, without dropout or sampling; resnet18_train: see there) must fall over the timed steps.

workloads.py loads this file by path and sets ``common`` (Prepared, host_data, to, SEED) before running it.
"""

common = globals().get("common")   # set by workloads._load_models before this file runs


def capturable(graphed):
    """Optimizer keywords for a CUDA-graphed step: Adam-family optimizers keep their step count on the device
    (``capturable=True``, which PyTorch requires inside a graph); eager runs keep the user's default lines."""
    return {"capturable": True} if graphed else {}


def _eval_loss(fw, model, loss_fn):
    """A probe: the loss in eval mode (no dropout, no sampling), under no_grad; training mode restored."""
    def probe():
        model.eval()
        try:
            with fw.no_grad():
                return loss_fn().item()
        finally:
            model.train()
    return probe


# ------------------------------------------------------------------ examples/mnist


def mnist_cnn(fw, device, graphed=False):
    """examples/mnist's Net: two 3x3 convs without pooling between them, dropout, Adadelta lr 1.0, batch 64."""
    nn, F = fw.nn, fw.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.relu(self.conv2(x))
            x = self.dropout1(F.max_pool2d(x, 2))
            x = fw.flatten(x, 1)
            x = self.dropout2(F.relu(self.fc1(x)))
            return F.log_softmax(self.fc2(x), dim=1)

    model = Net().to(device)
    x = common.to(fw, common.host_data((64, 1, 28, 28)), device)
    target = common.to(fw, common.host_data((64,), "labels", 10), device)
    optimizer = fw.optim.Adadelta(model.parameters(), lr=1.0, **capturable(graphed))

    def step():
        optimizer.zero_grad()
        loss = F.nll_loss(model(x), target)
        loss.backward()
        optimizer.step()

    return common.Prepared(step, _eval_loss(fw, model, lambda: F.nll_loss(model(x), target)), "falls")


# ------------------------------------------------------------------ examples/word_language_model


def _language_model(fw, device, rnn_type, graphed=False):
    """Embedding 10,000 -> 200, 2-layer LSTM/GRU of 200, dropout 0.2, decoder 200 -> 10,000; bptt 35 x batch 20,
    cross-entropy, gradient clipping 0.25, SGD lr 20 (examples/word_language_model's defaults). SGD needs no
    ``capturable``, so ``graphed`` changes nothing here."""
    nn, F = fw.nn, fw.nn.functional
    vocab, width, bptt, batch = 10_000, 200, 35, 20

    class RNNModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.drop = nn.Dropout(0.2)
            self.encoder = nn.Embedding(vocab, width)
            self.rnn = getattr(nn, rnn_type)(width, width, 2, dropout=0.2)
            self.decoder = nn.Linear(width, vocab)

        def forward(self, tokens):
            output, _ = self.rnn(self.drop(self.encoder(tokens)))
            return self.decoder(self.drop(output)).view(-1, vocab)

    model = RNNModel().to(device)
    stream = common.host_data((bptt + 1, batch), "labels", vocab)
    tokens = common.to(fw, stream[:-1].copy(), device)
    targets = common.to(fw, stream[1:].reshape(-1).copy(), device)
    optimizer = fw.optim.SGD(model.parameters(), lr=20.0)

    def step():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(tokens), targets)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        optimizer.step()

    return common.Prepared(step, _eval_loss(fw, model, lambda: F.cross_entropy(model(tokens), targets)), "falls")


def lstm_lm(fw, device, graphed=False):
    """examples/word_language_model with an LSTM: see _language_model."""
    return _language_model(fw, device, "LSTM", graphed)


def gru_lm(fw, device, graphed=False):
    """examples/word_language_model with a GRU: see _language_model."""
    return _language_model(fw, device, "GRU", graphed)


# ------------------------------------------------------------------ GPTs: nanoGPT's character model, GPT-2 small


# Sizes of the two GPT workloads; tests shrink them through gpt_medium's keyword arguments.
GPT_SMALL = {"vocab": 65, "width": 128, "heads": 4, "layers": 4, "block": 64, "batch": 16, "lr": 1e-3}
GPT_MEDIUM = {"vocab": 65, "width": 768, "heads": 12, "layers": 12, "block": 512, "batch": 8, "lr": 3e-4}


def _gpt_model(fw, vocab, width, heads, layers, block):
    """Decoder-only transformer: pre-LayerNorm blocks, causal scaled_dot_product_attention, GELU MLP x4,
    tied embedding/head weights, GPT-2's N(0, 0.02) initialisation."""
    nn, F = fw.nn, fw.nn.functional

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(width, 3 * width)
            self.proj = nn.Linear(width, width)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.qkv(x).split(width, dim=2)
            q, k, v = (t.view(B, T, heads, C // heads).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.proj(y.transpose(1, 2).contiguous().view(B, T, C))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(width)
            self.attn = SelfAttention()
            self.ln2 = nn.LayerNorm(width)
            self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

        def forward(self, x):
            x = x + self.attn(self.ln1(x))
            return x + self.mlp(self.ln2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(vocab, width)
            self.pos = nn.Embedding(block, width)
            self.blocks = nn.ModuleList([Block() for _ in range(layers)])
            self.ln_f = nn.LayerNorm(width)
            self.head = nn.Linear(width, vocab, bias=False)
            self.head.weight = self.tok.weight   # weight tying
            for module in self.modules():        # GPT-2's initialisation: N(0, 0.02) weights, zero biases
                if isinstance(module, (nn.Linear, nn.Embedding)):
                    nn.init.normal_(module.weight, mean=0.0, std=0.02)
                    if getattr(module, "bias", None) is not None:
                        nn.init.zeros_(module.bias)

        def forward(self, idx):
            positions = fw.arange(idx.shape[1], device=idx.device)
            x = self.tok(idx) + self.pos(positions)
            for b in self.blocks:
                x = b(x)
            return self.head(self.ln_f(x))

    return GPT()


def _gpt_training(fw, device, graphed, vocab, width, heads, layers, block, batch, lr):
    """A GPT fitting one fixed batch of token windows; AdamW with weight decay 0.1 on the matrices only."""
    F = fw.nn.functional
    model = _gpt_model(fw, vocab, width, heads, layers, block).to(device)
    stream = common.host_data((batch, block + 1), "labels", vocab)
    idx = common.to(fw, stream[:, :-1].copy(), device)
    targets = common.to(fw, stream[:, 1:].reshape(-1).copy(), device)
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    optimizer = fw.optim.AdamW(groups, lr=lr, betas=(0.9, 0.99), **capturable(graphed))

    def loss_fn():
        return F.cross_entropy(model(idx).view(-1, vocab), targets)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        optimizer.step()

    return common.Prepared(step, _eval_loss(fw, model, loss_fn), "falls")


def gpt(fw, device, graphed=False):
    """nanoGPT's character model, scaled down: 4 layers, 4 heads, width 128, block 64, vocab 65; AdamW lr 1e-3
    (weight decay on the matrices only); batch 16. See _gpt_model."""
    return _gpt_training(fw, device, graphed, **GPT_SMALL)


def gpt_medium(fw, device, graphed=False, **sizes):
    """GPT-2 small's depth and width (compute-bound on a GPU): 12 layers, width 768, 12 heads, block 512,
    vocab 65, batch 8; AdamW lr 3e-4. ``sizes`` overrides GPT_MEDIUM's entries (tests run it shrunk on the CPU)."""
    unknown = set(sizes) - set(GPT_MEDIUM)
    if unknown:
        raise TypeError(f"gpt_medium: unknown size(s) {sorted(unknown)}; choose from {sorted(GPT_MEDIUM)}")
    return _gpt_training(fw, device, graphed, **{**GPT_MEDIUM, **sizes})


def gpt_gemm_flops(vocab, width, heads, layers, block, batch, **_):
    """Matrix-product flops of one training step: forward GEMMs x 3 (forward, input and weight gradients)."""
    tokens = batch * block
    per_layer = (2 * tokens * width * 3 * width + 2 * tokens * width * width + 2 * 2 * tokens * width * 4 * width
                 + 2 * 2 * batch * block * block * width)   # q @ k^T and attention @ v over all heads
    return 3 * (layers * per_layer + 2 * tokens * width * vocab)


# ------------------------------------------------------------------ examples/vae


def vae(fw, device, graphed=False):
    """784 -> 400 -> (20, 20) -> 400 -> 784, reparameterisation, BCE (sum) + KL; Adam lr 1e-3; batch 128."""
    nn, F = fw.nn, fw.nn.functional

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(784, 400)
            self.fc21 = nn.Linear(400, 20)
            self.fc22 = nn.Linear(400, 20)
            self.fc3 = nn.Linear(20, 400)
            self.fc4 = nn.Linear(400, 784)

        def forward(self, x):
            h = F.relu(self.fc1(x))
            mu, logvar = self.fc21(h), self.fc22(h)
            # Sampled while training; the probe (eval mode) decodes the mean, so it is deterministic.
            z = mu + fw.randn_like(mu) * fw.exp(0.5 * logvar) if self.training else mu
            return fw.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar

    def loss_fn():
        recon, mu, logvar = model(x)
        bce = F.binary_cross_entropy(recon, x, reduction="sum")
        kld = -0.5 * fw.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return (bce + kld) / x.shape[0]

    model = VAE().to(device)
    x = common.to(fw, common.host_data((128, 784), "uniform"), device)
    optimizer = fw.optim.Adam(model.parameters(), lr=1e-3, **capturable(graphed))

    def step():
        optimizer.zero_grad()
        loss = loss_fn()
        loss.backward()
        optimizer.step()

    return common.Prepared(step, _eval_loss(fw, model, loss_fn), "falls")


# ------------------------------------------------------------------ examples/dcgan


def dcgan(fw, device, graphed=False):
    """64x64x3 images, nz 100, ngf = ndf = 32; one discriminator and one generator step (BCE, Adam lr 2e-4,
    betas (0.5, 0.999)); batch 32. The probe is the discriminator's loss on a fixed real and fake batch
    (with BatchNorm in eval mode), which its training lowers."""
    nn = fw.nn
    nz, ngf, ndf, batch = 100, 32, 32, 32

    def up(cin, cout, stride, padding):
        return [nn.ConvTranspose2d(cin, cout, 4, stride, padding, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]

    def down(cin, cout, norm=True):
        return ([nn.Conv2d(cin, cout, 4, 2, 1, bias=False)] + ([nn.BatchNorm2d(cout)] if norm else [])
                + [nn.LeakyReLU(0.2, inplace=True)])

    generator = nn.Sequential(
        *up(nz, ngf * 8, 1, 0), *up(ngf * 8, ngf * 4, 2, 1), *up(ngf * 4, ngf * 2, 2, 1), *up(ngf * 2, ngf, 2, 1),
        nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh(),
    ).to(device)
    discriminator = nn.Sequential(
        *down(3, ndf, norm=False), *down(ndf, ndf * 2), *down(ndf * 2, ndf * 4), *down(ndf * 4, ndf * 8),
        nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid(),
    ).to(device)
    real = common.to(fw, _to_tanh_range(common.host_data((batch, 3, 64, 64), "uniform")), device)
    noise = common.to(fw, common.host_data((batch, nz, 1, 1), salt=1), device)
    ones = fw.ones(batch, device=device)
    zeros = fw.zeros(batch, device=device)
    criterion = nn.BCELoss()
    opt_d = fw.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999), **capturable(graphed))
    opt_g = fw.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999), **capturable(graphed))

    def step():
        # Discriminator: real images towards 1, generated ones towards 0.
        discriminator.zero_grad()
        criterion(discriminator(real).view(-1), ones).backward()
        fake = generator(noise)
        criterion(discriminator(fake.detach()).view(-1), zeros).backward()
        opt_d.step()
        # Generator: make the discriminator say 1.
        generator.zero_grad()
        criterion(discriminator(fake).view(-1), ones).backward()
        opt_g.step()

    def probe():
        generator.eval()
        discriminator.eval()
        try:
            with fw.no_grad():
                fake = generator(noise)
                return (criterion(discriminator(real).view(-1), ones)
                        + criterion(discriminator(fake).view(-1), zeros)).item()
        finally:
            generator.train()
            discriminator.train()

    return common.Prepared(step, probe, "falls")


def _to_tanh_range(images):
    """Uniform [0, 1) images mapped to the generator's tanh range [-1, 1)."""
    return images * 2 - 1


# ------------------------------------------------------------------ ResNet-18 (CIFAR shape): inference and training

# resnet18_train's sizes; tests shrink them through its keyword arguments.
RESNET18_TRAIN = {"batch": 128, "image": 32, "classes": 10, "lr": 0.1}


def _resnet18(fw, classes=10):
    """The CIFAR-shaped ResNet-18: torchvision's BasicBlock layout [2, 2, 2, 2] of 64/128/256/512 channels with
    stride-2 downsampling and 1x1 conv shortcuts, BatchNorm, but a 3x3 stride-1 stem without max-pool (for 32x32
    inputs), global average pool, linear 512 -> classes."""
    nn, F = fw.nn, fw.nn.functional

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.shortcut = nn.Sequential()
            if stride != 1 or cin != cout:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))

    class ResNet18(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            blocks, cin = [], 64
            for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
                blocks += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
                cin = cout
            self.layers = nn.Sequential(*blocks)
            self.linear = nn.Linear(512, classes)

        def forward(self, x):
            out = self.layers(F.relu(self.bn1(self.conv1(x))))
            # Global average pool: avg_pool2d(out, 4) at 32x32 inputs, as in the CIFAR model; smaller in tests.
            return self.linear(fw.flatten(F.avg_pool2d(out, out.shape[-1]), 1))

    return ResNet18()


def resnet18_infer(fw, device, graphed=False):
    """The CIFAR-shaped ResNet-18 (see _resnet18) on 64x3x32x32, eval() and no_grad: about 36 G multiply-adds
    per step."""
    model = _resnet18(fw).to(device)
    model.eval()
    x = common.to(fw, common.host_data((64, 3, 32, 32)), device)
    target = common.to(fw, common.host_data((64,), "labels", 10), device)

    def step():
        with fw.no_grad():
            model(x)

    def probe():
        with fw.no_grad():
            return fw.nn.functional.cross_entropy(model(x), target).item()

    return common.Prepared(step, probe, "steady")


def resnet18_train(fw, device, graphed=False, **sizes):
    """Training the CIFAR-shaped ResNet-18 (see _resnet18; BatchNorm in training mode) on one fixed batch of
    128x3x32x32, 10 classes, cross-entropy, SGD lr 0.1 momentum 0.9 weight decay 5e-4 (the usual CIFAR recipe).
    ``sizes`` overrides RESNET18_TRAIN's entries (tests run it shrunk on the CPU). The probe is the loss in
    training mode under no_grad: batch statistics, like the step (running statistics lag a few steps behind a
    fast-moving fit, so an eval-mode loss could rise while the fit improves); it only moves the running
    statistics, which training-mode forwards never read."""
    unknown = set(sizes) - set(RESNET18_TRAIN)
    if unknown:
        raise TypeError(f"resnet18_train: unknown size(s) {sorted(unknown)}; choose from {sorted(RESNET18_TRAIN)}")
    size = {**RESNET18_TRAIN, **sizes}
    model = _resnet18(fw, size["classes"]).to(device)
    x = common.to(fw, common.host_data((size["batch"], 3, size["image"], size["image"])), device)
    target = common.to(fw, common.host_data((size["batch"],), "labels", size["classes"]), device)
    return common.training(fw, model, x, target, lr=size["lr"], weight_decay=5e-4)


def resnet18_forward_gemm_flops(batch=64):
    """Matrix-product flops of one forward pass (each convolution as its im2col GEMM)."""
    total, size, cin = 2 * 64 * 27 * 32 * 32, 32, 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        out = size // stride
        total += 2 * cout * cin * 9 * out * out               # first conv of the first block
        total += 3 * 2 * cout * cout * 9 * out * out          # the other three 3x3 convs
        if stride != 1 or cin != cout:
            total += 2 * cout * cin * out * out                # 1x1 shortcut
        size, cin = out, cout
    return batch * total + 2 * batch * 512 * 10


def resnet18_train_gemm_flops(batch=128):
    """Matrix-product flops of one training step: the forward's x 3, less the stem's input gradient (none needed)."""
    return 3 * resnet18_forward_gemm_flops(batch) - 2 * batch * 64 * 27 * 32 * 32
