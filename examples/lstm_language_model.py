"""A word-level LSTM (or GRU) language model, in the style of pytorch/examples' word_language_model.

Embedding -> multi-layer LSTM/GRU with dropout -> linear decoder with tied weights; truncated
back-propagation through time with detached hidden states, gradient clipping, plain SGD with a learning
rate that is annealed when validation loss stops improving; reports perplexity.
"""
import argparse
import math

import ndgrad as torch
import ndgrad.nn as nn

import corpus


class Dictionary:
    def __init__(self):
        self.word2idx, self.idx2word = {}, []

    def add_word(self, word):
        if word not in self.word2idx:
            self.idx2word.append(word)
            self.word2idx[word] = len(self.idx2word) - 1
        return self.word2idx[word]


def tokenize(lines, dictionary):
    ids = [dictionary.add_word(word) for line in lines for word in line.split() + ["<eos>"]]
    return torch.tensor(ids, dtype=torch.int64)


class RNNModel(nn.Module):
    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.2):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        if nhid == ninp:
            self.decoder.weight = self.encoder.weight
        self.rnn_type, self.nhid, self.nlayers = rnn_type, nhid, nlayers
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)

    def forward(self, input, hidden):
        output, hidden = self.rnn(self.drop(self.encoder(input)), hidden)
        decoded = self.decoder(self.drop(output)).view(-1, self.decoder.out_features)
        return torch.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        if self.rnn_type == "LSTM":
            return (weight.new_zeros(self.nlayers, bsz, self.nhid), weight.new_zeros(self.nlayers, bsz, self.nhid))
        return weight.new_zeros(self.nlayers, bsz, self.nhid)


def batchify(data, bsz):
    nbatch = data.size(0) // bsz
    return data.narrow(0, 0, nbatch * bsz).view(bsz, -1).t().contiguous()


def repackage_hidden(h):
    return h.detach() if isinstance(h, torch.Tensor) else tuple(repackage_hidden(v) for v in h)


def get_batch(source, i, bptt):
    seq_len = min(bptt, len(source) - 1 - i)
    return source[i:i + seq_len], source[i + 1:i + 1 + seq_len].reshape(-1)


def evaluate(model, source, bptt, criterion):
    model.eval()
    total, hidden = 0.0, model.init_hidden(source.size(1))
    with torch.no_grad():
        for i in range(0, source.size(0) - 1, bptt):
            data, targets = get_batch(source, i, bptt)
            output, hidden = model(data, hidden)
            total += len(data) * criterion(output, targets).item()
    return total / (len(source) - 1)


def main():
    parser = argparse.ArgumentParser(description="LSTM/GRU word language model")
    parser.add_argument("--model", default="LSTM", choices=["LSTM", "GRU", "RNN_TANH"])
    parser.add_argument("--emsize", type=int, default=64)
    parser.add_argument("--nhid", type=int, default=64)
    parser.add_argument("--nlayers", type=int, default=2)
    parser.add_argument("--lr", type=float, default=20.0)
    parser.add_argument("--clip", type=float, default=0.25)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--bptt", type=int, default=20)
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    dictionary = Dictionary()
    lines = corpus.sentences(args.sentences, seed=args.seed)
    split = len(lines) * 9 // 10
    train_data = batchify(tokenize(lines[:split], dictionary), args.batch_size)
    val_data = batchify(tokenize(lines[split:], dictionary), 10)
    rnn_type = "RNN" if args.model == "RNN_TANH" else args.model
    model = RNNModel(rnn_type, len(dictionary.idx2word), args.emsize, args.nhid, args.nlayers)
    criterion = nn.NLLLoss()
    lr, best = args.lr, None
    print(f"initial validation perplexity {math.exp(evaluate(model, val_data, args.bptt, criterion)):.2f}")
    for epoch in range(1, args.epochs + 1):
        model.train()
        hidden = model.init_hidden(args.batch_size)
        for i in range(0, train_data.size(0) - 1, args.bptt):
            data, targets = get_batch(train_data, i, args.bptt)
            hidden = repackage_hidden(hidden)
            model.zero_grad()
            output, hidden = model(data, hidden)
            loss = criterion(output, targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-lr)
        val_loss = evaluate(model, val_data, args.bptt, criterion)
        print(f"epoch {epoch}: validation perplexity {math.exp(val_loss):.2f}")
        if best is None or val_loss < best:
            best = val_loss
        else:
            lr /= 4.0
    print(f"final validation perplexity {math.exp(val_loss):.2f}")


if __name__ == "__main__":
    main()
