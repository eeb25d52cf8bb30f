"""Data loading: datasets, samplers, DataLoader (``torch.utils.data`` names) and built-in datasets."""
from ndgrad.data._collate import default_collate, default_convert
from ndgrad.data.dataloader import DataLoader
from ndgrad.data.dataset import (ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset,
                                 random_split)
from ndgrad.data.sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,
                                 SubsetRandomSampler)
from ndgrad.data import datasets

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "random_split",
           "DataLoader", "default_collate", "default_convert", "Sampler", "SequentialSampler",
           "RandomSampler", "SubsetRandomSampler", "BatchSampler", "datasets"]
