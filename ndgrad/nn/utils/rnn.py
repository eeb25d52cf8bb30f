"""Variable-length sequences for the recurrent layers (``torch.nn.utils.rnn``).

A :class:`PackedSequence` stores a batch of sequences time step by time step:
``data`` holds, for t = 0, 1, ..., the rows of the batch entries still running
at step t (``batch_sizes[t]`` of them, longest sequences first). Packing and
unpacking are single ``index_select`` gathers, so gradients flow through both.
"""
from collections import namedtuple

import ndgrad
from ndgrad.backend import np
from ndgrad.tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "unpad_sequence", "pack_sequence", "unpack_sequence"]

_PackedSequenceBase = namedtuple("PackedSequence_", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])


def _host_ints(values, what):
    """A 1-d host int64 numpy array from a list or an integer Tensor (on any device)."""
    if isinstance(values, Tensor):
        data = values._data
        data = data.get() if hasattr(data, "get") else data
        if data.dtype.kind not in "iu":
            raise RuntimeError(f"{what} must be an integer tensor (int64), got dtype {values.dtype}")
        return np.asarray(data, dtype=np.int64).reshape(-1)
    return np.asarray([int(v) for v in values], dtype=np.int64)


def _index_tensor(array, device):
    """int64 host indices as a Tensor on ``device`` (what index_select takes)."""
    t = Tensor._wrap(np.ascontiguousarray(array, dtype=np.int64))
    return t if t.device == device else t.to(device)


class PackedSequence(_PackedSequenceBase):
    """(data, batch_sizes, sorted_indices, unsorted_indices): a packed batch of variable-length sequences.

    Build it with :func:`pack_padded_sequence` or :func:`pack_sequence`, not by hand. ``batch_sizes`` is an
    int64 CPU tensor; ``sorted_indices`` maps sorted position -> original batch position (None when the
    input was already sorted)."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:  # PackedSequence(*pack_output) with a (data, batch_sizes) pair
            data, batch_sizes = data
        if not isinstance(batch_sizes, Tensor) or batch_sizes.dim() != 1:
            raise ValueError("PackedSequence: batch_sizes should always be a 1-d CPU int64 tensor; build packed "
                             "sequences with pack_padded_sequence or pack_sequence")
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    # The data moves between devices and dtypes; batch_sizes always stays an int64 CPU tensor.
    def _with_data(self, data, move_indices_to=None):
        sorted_i, unsorted_i = self.sorted_indices, self.unsorted_indices
        if move_indices_to is not None and sorted_i is not None:
            sorted_i, unsorted_i = sorted_i.to(move_indices_to), unsorted_i.to(move_indices_to)
        return type(self)(data, self.batch_sizes, sorted_i, unsorted_i)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return self._with_data(data, data.device)

    def cuda(self, *args, **kwargs):
        return self.to("cuda" if not args else args[0], **kwargs)

    def cpu(self):
        return self.to("cpu")

    def double(self):
        return self.to(dtype=ndgrad.float64)

    def float(self):
        return self.to(dtype=ndgrad.float32)

    def half(self):
        return self.to(dtype=ndgrad.float16)

    def long(self):
        return self.to(dtype=ndgrad.int64)

    def int(self):
        return self.to(dtype=ndgrad.int32)

    def short(self):
        return self.to(dtype=ndgrad.int16)

    def char(self):
        return self.to(dtype=ndgrad.int8)

    def byte(self):
        return self.to(dtype=ndgrad.uint8)

    @property
    def is_cuda(self):
        return self.data.device.type == "cuda"

    def is_pinned(self):
        return False


def invert_permutation(permutation):
    """The inverse of a permutation tensor (None stays None)."""
    if permutation is None:
        return None
    perm = _host_ints(permutation, "invert_permutation: permutation")
    inverse = np.empty_like(perm)
    inverse[perm] = np.arange(perm.size, dtype=np.int64)
    return _index_tensor(inverse, permutation.device)


def _batch_sizes_from_lengths(lengths):
    """batch_sizes[t] = how many sequences (sorted longest first) are longer than t."""
    max_len = int(lengths[0]) if lengths.size else 0
    return (lengths[None, :] > np.arange(max_len)[:, None]).sum(1).astype(np.int64)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *) ((B, T, *) with batch_first) whose sequences have ``lengths``.

    enforce_sorted=True expects lengths in decreasing order; False sorts them (and the batch) first and
    remembers the permutation, so :func:`pad_packed_sequence` restores the original order."""
    lengths = _host_ints(lengths, "pack_padded_sequence: lengths")
    batch_dim = 0 if batch_first else 1
    if input.dim() < 2 or lengths.size != input.shape[batch_dim]:
        raise RuntimeError(f"pack_padded_sequence: expected {input.shape[batch_dim] if input.dim() >= 2 else '?'} "
                           f"lengths (one per batch entry of input {tuple(input.shape)}, batch_first={batch_first}), "
                           f"got {lengths.size}")
    if enforce_sorted:
        if np.any(lengths[1:] > lengths[:-1]):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                               "sidestep this requirement if you do not need ONNX exportability.")
        sorted_indices = None
    else:
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
        sorted_indices = _index_tensor(order, input.device)
        input = input.index_select(batch_dim, sorted_indices)
    if lengths.size and lengths[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           "that is <= 0")
    if batch_first:
        input = input.transpose(0, 1)
    T, B = input.shape[0], input.shape[1]
    if lengths.size and lengths[0] > T:
        raise RuntimeError(f"pack_padded_sequence: the longest length {int(lengths[0])} exceeds the padded "
                           f"sequence length {T} of input")
    batch_sizes = _batch_sizes_from_lengths(lengths)
    # Row (t, b) of the time-major input sits at t * B + b; keep the rows still running at step t.
    rows = np.concatenate([t * B + np.arange(n, dtype=np.int64) for t, n in enumerate(batch_sizes)]) \
        if batch_sizes.size else np.zeros(0, dtype=np.int64)
    flat = input.reshape((T * B,) + tuple(input.shape[2:]))
    data = flat.index_select(0, _index_tensor(rows, input.device))
    return PackedSequence(data, Tensor._wrap(batch_sizes), sorted_indices, invert_permutation(sorted_indices))


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Undo :func:`pack_padded_sequence`: returns (padded (T, B, *) or (B, T, *), lengths int64 tensor)."""
    batch_sizes = _host_ints(sequence.batch_sizes, "pad_packed_sequence: batch_sizes")
    max_len = batch_sizes.size
    if total_length is not None:
        if total_length < max_len:
            raise ValueError("Expected total_length to be at least the length of the longest sequence in the "
                             f"input, but got total_length={total_length} and max sequence length being {max_len}")
        max_len = total_length
    B = int(batch_sizes[0]) if batch_sizes.size else 0
    data = sequence.data
    n = data.shape[0]
    # For every (t, b) of the padded output: its row in data, or n (one extra row of padding_value).
    source = np.full((max_len, B), n, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(batch_sizes)[:-1]]).astype(np.int64)
    for t, (offset, size) in enumerate(zip(offsets, batch_sizes)):
        source[t, :size] = offset + np.arange(size)
    lengths = (source != n).sum(0).astype(np.int64)
    pad_row = ndgrad.full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    rows = ndgrad.cat([data, pad_row], 0).index_select(0, _index_tensor(source.reshape(-1), data.device))
    padded = rows.reshape((max_len, B) + tuple(data.shape[1:]))
    if batch_first:
        padded = padded.transpose(0, 1)
    if sequence.unsorted_indices is not None:
        unsorted = sequence.unsorted_indices
        padded = padded.index_select(0 if batch_first else 1, unsorted)
        lengths = lengths[_host_ints(unsorted, "unsorted_indices")]
    return padded, Tensor._wrap(lengths)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack tensors of shapes (L_i, *) into (max L, B, *) ((B, max L, *) with batch_first), padding each
    on the ``padding_side`` ('right' or 'left') with ``padding_value``."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("pad_sequence: received an empty list of sequences")
    trailing = tuple(sequences[0].shape[1:])
    for i, s in enumerate(sequences):
        if s.dim() < 1 or tuple(s.shape[1:]) != trailing:
            raise RuntimeError(f"pad_sequence: every sequence must have shape (L_i, {', '.join(map(str, trailing))})"
                               f" like the first, but sequence {i} has shape {tuple(s.shape)}")
    max_len = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        missing = max_len - s.shape[0]
        if missing:
            fill = ndgrad.full((missing,) + trailing, padding_value, dtype=s.dtype, device=s.device)
            s = ndgrad.cat([s, fill] if padding_side == "right" else [fill, s], 0)
        padded.append(s)
    return ndgrad.stack(padded, 0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """Split a padded batch back into a list of tensors of the given lengths."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    lengths = _host_ints(lengths, "unpad_sequence: lengths")
    return [seq[:int(n)] for seq, n in zip(padded_sequences.unbind(0), lengths)]


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of tensors (L_i, *); with enforce_sorted=True they must be longest first."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """A PackedSequence back into the list of tensors it was packed from (original order)."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
