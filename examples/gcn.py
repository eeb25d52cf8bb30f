"""A graph convolutional network with a sparse adjacency matrix, in the style of pytorch/examples' gcn.

Node classification on a generated two-community graph (a stochastic block model): the normalised
adjacency D^-1/2 (A + I) D^-1/2 is a sparse COO tensor, and each layer computes ``sparse.mm(adj, X W)``.
"""
import argparse

import ndgrad as torch
from ndgrad import nn
import ndgrad.nn.functional as F
from ndgrad.optim import Adam


def community_graph(nodes_per_class, classes, p_in, p_out, features, generator):
    n = nodes_per_class * classes
    labels = torch.arange(classes).repeat_interleave(nodes_per_class)
    same = labels.view(-1, 1) == labels.view(1, -1)
    probs = torch.where(same, torch.full((n, n), p_in), torch.full((n, n), p_out))
    upper = torch.triu(torch.rand(n, n, generator=generator) < probs, diagonal=1)
    adjacency = (upper | upper.t()).float() + torch.eye(n)
    degree = adjacency.sum(1)
    norm = degree.pow(-0.5)
    normalized = norm.view(-1, 1) * adjacency * norm.view(1, -1)
    indices = normalized.nonzero().t()
    values = normalized[indices[0], indices[1]]
    adj = torch.sparse_coo_tensor(indices, values, (n, n))
    centers = torch.randn(classes, features, generator=generator)
    x = centers[labels] * 0.3 + torch.randn(n, features, generator=generator)
    return x, adj, labels


class GraphConv(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        nn.init.xavier_uniform_(self.weight)

    def forward(self, x, adj):
        return torch.sparse.mm(adj, x @ self.weight) + self.bias


class GCN(nn.Module):
    def __init__(self, in_features, hidden, classes, dropout=0.5):
        super().__init__()
        self.gc1 = GraphConv(in_features, hidden)
        self.gc2 = GraphConv(hidden, classes)
        self.dropout = dropout

    def forward(self, x, adj):
        x = F.relu(self.gc1(x, adj))
        x = F.dropout(x, self.dropout, training=self.training)
        return F.log_softmax(self.gc2(x, adj), dim=1)


def main():
    parser = argparse.ArgumentParser(description="GCN on a generated community graph")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    x, adj, labels = community_graph(60, 3, 0.1, 0.01, 16, generator)
    order = torch.randperm(len(labels), generator=generator)
    train_idx, test_idx = order[:60], order[60:]
    model = GCN(x.size(1), 16, 3)
    optimizer = Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    for epoch in range(args.epochs):
        model.train()
        optimizer.zero_grad()
        loss = F.nll_loss(model(x, adj)[train_idx], labels[train_idx])
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(x, adj)[test_idx].argmax(1) == labels[test_idx]).float().mean().item()
    print(f"final train loss {loss.item():.4f}, test accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
