"""Embedding: a lookup table of num_embeddings vectors of size embedding_dim; EmbeddingBag: sums,
means or maxima of bags of its rows."""
import ndgrad
from ndgrad.nn import functional as F
from ndgrad.nn import init
from ndgrad.nn.module import Module
from ndgrad.nn.parameter import Parameter
from ndgrad.nn.layers._util import new_param, shape_str
from ndgrad.nn._functional_layers.embeddings import checked_padding_idx

__all__ = ["Embedding", "EmbeddingBag"]


def _init_table(layer, layer_name, _weight, dtype, device, requires_grad=True):
    """``layer.weight``: a fresh N(0, 1) table (padding row zeroed), or the given ``_weight`` after a shape check."""
    shape = (layer.num_embeddings, layer.embedding_dim)
    if _weight is None:
        layer.weight = new_param(shape, dtype, device)
        layer.reset_parameters()
    else:
        if tuple(_weight.shape) != shape:
            raise ValueError(f"{layer_name}: _weight has shape {shape_str(_weight.shape)}, expected "
                             f"({shape[0]}, {shape[1]})")
        layer.weight = Parameter(_weight, requires_grad=requires_grad)


class Embedding(Module):
    """Maps integer indices to rows of ``weight`` (num_embeddings, embedding_dim), initialised N(0, 1).
    The row at ``padding_idx`` starts at zero and gets no gradient."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, device=None, dtype=None):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = checked_padding_idx("Embedding", padding_idx, num_embeddings)
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        _init_table(self, "Embedding", _weight, dtype, device, requires_grad=not _freeze)

    def reset_parameters(self):
        init.normal_(self.weight)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self):
        if self.padding_idx is not None:
            with ndgrad.no_grad():
                self.weight._data[self.padding_idx] = 0
                self.weight._bump_version()

    def forward(self, input):
        if input.dtype.is_floating_point:
            raise TypeError(f"{self._short_repr()}: expected an integer index tensor, got {input.dtype}")
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        if self.sparse:
            s += ", sparse=True"
        return s

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, sparse=False):
        if embeddings.dim() != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-d, got shape "
                             f"{shape_str(embeddings.shape)}")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=embeddings, _freeze=freeze)


class EmbeddingBag(Module):
    """Reduces each bag of embedding rows (a row of a 2-d input, or an offsets span of a 1-d one) by
    ``mode`` ('sum', 'mean' or 'max') without building the per-index embeddings."""

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                 mode="mean", sparse=False, _weight=None, include_last_offset=False, padding_idx=None,
                 device=None, dtype=None):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.padding_idx = checked_padding_idx("EmbeddingBag", padding_idx, num_embeddings)
        _init_table(self, "EmbeddingBag", _weight, dtype, device)
        self.mode = mode
        self.sparse = sparse
        self.include_last_offset = include_last_offset

    def reset_parameters(self):
        init.normal_(self.weight)
        Embedding._fill_padding_idx_with_zero(self)

    def forward(self, input, offsets=None, per_sample_weights=None):
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type, self.scale_grad_by_freq,
                               self.mode, self.sparse, per_sample_weights, self.include_last_offset,
                               self.padding_idx)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm!r}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type!r}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq!r}"
        s += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx!r}"
        return s

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                        mode="mean", sparse=False, include_last_offset=False, padding_idx=None):
        if embeddings.dim() != 2:
            raise ValueError(f"EmbeddingBag.from_pretrained: embeddings must be 2-d, got shape "
                             f"{shape_str(embeddings.shape)}")
        rows, cols = embeddings.shape
        bag = cls(rows, cols, max_norm, norm_type, scale_grad_by_freq, mode, sparse, _weight=embeddings,
                  include_last_offset=include_last_offset, padding_idx=padding_idx)
        bag.weight.requires_grad = not freeze
        return bag
