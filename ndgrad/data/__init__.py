"""Data loading: datasets, samplers, DataLoader (``torch.utils.data`` names) and built-in datasets."""
from ndgrad.data._collate import default_collate, default_convert
from ndgrad.data.dataloader import DataLoader, get_worker_info
from ndgrad.data.dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset, Subset,
                                 TensorDataset, random_split)
from ndgrad.data.sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,
                                 SubsetRandomSampler, WeightedRandomSampler)
from ndgrad.data import datasets
from ndgrad.data.distributed import DistributedSampler

__all__ = ["Dataset", "IterableDataset", "ChainDataset", "StackDataset", "TensorDataset", "Subset",
           "ConcatDataset", "random_split", "DataLoader", "get_worker_info", "default_collate", "default_convert",
           "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "BatchSampler", "datasets",
           "DistributedSampler", "WeightedRandomSampler"]
