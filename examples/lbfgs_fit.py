"""Fitting with L-BFGS and a strong-Wolfe line search, in the style of pytorch/examples'
time_sequence_prediction: a small LSTMCell network learns to continue sine waves.
"""
import argparse
import math

import ndgrad as torch
import ndgrad.nn as nn
import ndgrad.optim as optim


class Sequence(nn.Module):
    def __init__(self, hidden=24):
        super().__init__()
        self.lstm1 = nn.LSTMCell(1, hidden)
        self.linear = nn.Linear(hidden, 1)
        self.hidden = hidden

    def forward(self, input, future=0):
        outputs = []
        h_t = torch.zeros(input.size(0), self.hidden, dtype=input.dtype)
        c_t = torch.zeros(input.size(0), self.hidden, dtype=input.dtype)
        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            output = self.linear(h_t)
            outputs += [output]
        for _ in range(future):
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            output = self.linear(h_t)
            outputs += [output]
        return torch.cat(outputs, dim=1)


def main():
    parser = argparse.ArgumentParser(description="L-BFGS fit of sine waves")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    T, L, N = 20, 60, 24
    shifts = torch.randint(-4 * T, 4 * T, (N, 1)).double()
    waves = torch.sin((torch.arange(L).double().view(1, -1) + shifts) / T)
    input, target = waves[3:, :-1], waves[3:, 1:]
    test_input, test_target = waves[:3, :-1], waves[:3, 1:]
    seq = Sequence().double()
    criterion = nn.MSELoss()
    optimizer = optim.LBFGS(seq.parameters(), lr=0.8, line_search_fn="strong_wolfe")
    with torch.no_grad():
        print(f"initial loss {criterion(seq(input), target).item():.6f}")
    for step in range(args.steps):
        def closure():
            optimizer.zero_grad()
            loss = criterion(seq(input), target)
            loss.backward()
            return loss
        loss = optimizer.step(closure)
        with torch.no_grad():
            test_loss = criterion(seq(test_input), test_target).item()
        print(f"step {step}: loss {loss.item():.6f}, test loss {test_loss:.6f}")
    assert math.isfinite(test_loss)
    print(f"final loss {loss.item():.6f}")


if __name__ == "__main__":
    main()
