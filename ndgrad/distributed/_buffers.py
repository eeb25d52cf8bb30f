"""Host buffers MPI reads and writes, and the way back into tensors.

mpi4py's buffer-based (upper-case) methods take contiguous host arrays of the dtypes MPI knows.
A tensor whose memory already is one (the common case: a contiguous NumPy float32/float64/int64
array) is used as it is, with no copy; others (non-contiguous views, CuPy arrays under the MPI
backend, float16/bfloat16, which MPI cannot reduce) go through a converted copy that is written
back into the tensor when the operation completes.
"""
from ndgrad.backend import np

_MPI_CHARS = set("bBhHiIlLqQfdFD?")  # NumPy dtype characters mpi4py maps to MPI datatypes


def wire_dtype(dtype):
    """The dtype that travels: the tensor's own, or float32 for the ones MPI lacks (float16, bfloat16)."""
    dtype = np.dtype(dtype)
    return dtype if dtype.char in _MPI_CHARS else np.dtype(np.float32)


def host_array(tensor):
    """The tensor's values as a contiguous host array of its wire dtype (no copy when possible)."""
    data = tensor._data
    if type(data) is not np.ndarray:  # a CuPy array: the MPI backend communicates from host memory
        data = data.get()
    wire = wire_dtype(data.dtype)
    if data.dtype != wire or not data.flags.c_contiguous:
        data = np.ascontiguousarray(data, dtype=wire)
    return data


def is_direct(tensor):
    """True when MPI can write straight into the tensor's memory."""
    data = tensor._data
    return type(data) is np.ndarray and data.flags.c_contiguous and data.dtype.char in _MPI_CHARS \
        and data.flags.writeable


def output_array(tensor, keep_values):
    """A host array MPI may write into for ``tensor``: its memory, or a staging copy."""
    if is_direct(tensor):
        return tensor._data
    if keep_values:
        array = host_array(tensor)
        return array.copy() if array is tensor._data else array
    return np.empty(tensor._data.shape, dtype=wire_dtype(tensor._data.dtype))


def store(tensor, array):
    """Write ``array`` (host) into ``tensor`` unless it already is its memory; bump the version."""
    data = tensor._data
    if array is not data:
        if type(data) is np.ndarray:
            np.copyto(data, array.reshape(data.shape), casting="unsafe")
        else:
            from ndgrad.backend import xp_of
            data[...] = xp_of(data).asarray(array.reshape(data.shape)).astype(data.dtype, copy=False)
    tensor._bump_version()
