"""The CPU backend: NumPy arrays, BLAS through NumPy, and the random generator."""
import numpy as np

xp = np


def new_generator(seed=None):
    return np.random.default_rng(seed)
