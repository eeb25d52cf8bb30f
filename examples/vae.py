"""A variational autoencoder on scikit-learn's digits, in the style of pytorch/examples' vae.

Reparameterisation trick, binary cross-entropy + KL divergence, Adam; samples from the prior are
saved as a picture with ``save_image``.
"""
import argparse

import ndgrad as torch
from ndgrad import nn, optim
from ndgrad.nn import functional as F
from ndgrad.utils.data import DataLoader, TensorDataset
from ndgrad.vision.utils import save_image
from sklearn.datasets import load_digits


class VAE(nn.Module):
    def __init__(self, pixels=64, hidden=128, latent=8):
        super().__init__()
        self.fc1 = nn.Linear(pixels, hidden)
        self.fc21 = nn.Linear(hidden, latent)
        self.fc22 = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, pixels)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 64))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 64), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def main():
    parser = argparse.ArgumentParser(description="VAE on handwritten digits")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--samples", default=None, help="save 64 samples from the prior to this PNG")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    images = torch.tensor(load_digits().images, dtype=torch.float32).view(-1, 1, 8, 8) / 16.0
    loader = DataLoader(TensorDataset(images), batch_size=args.batch_size, shuffle=True)
    model = VAE()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(1, args.epochs + 1):
        model.train()
        total = 0.0
        for (data,) in loader:
            optimizer.zero_grad()
            recon, mu, logvar = model(data)
            loss = loss_function(recon, data, mu, logvar)
            loss.backward()
            total += loss.item()
            optimizer.step()
        print(f"epoch {epoch}: average loss {total / len(loader.dataset):.4f}")
    if args.samples:
        with torch.no_grad():
            sample = model.decode(torch.randn(64, 8)).cpu()
            save_image(sample.view(64, 1, 8, 8), args.samples)


if __name__ == "__main__":
    main()
