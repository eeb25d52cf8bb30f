"""Checkpoints: ``ndgrad.save`` / ``ndgrad.load`` in the safetensors format.

A file is a plain safetensors file: every tensor is stored under a flattened
key (``fc1.weight``, ``state.0.exp_avg``), so other safetensors readers see
the weights. The nesting (dicts, lists, tuples) and the non-tensor values
(numbers, strings, None, bools) travel as JSON in the header's
``__metadata__``. Loading parses JSON and raw bytes only: it never runs code
(no pickle), so opening a checkpoint from a stranger is safe.
"""
import json
import os
from collections import OrderedDict

from ..backend import np

# The one __metadata__ entry: the nesting as JSON (format 1; a new format would take a new key name).
# Files written before 2026-12 also hold "ndgrad.format": "1", which loading ignores.
FORMAT_KEY = "ndgrad.structure"

# safetensors dtype codes -> numpy dtype names ("bfloat16" comes from ml_dtypes, like ndgrad.bfloat16).
_ST_TO_NP = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
             "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8",
             "U64": "uint64", "U32": "uint32", "U16": "uint16", "U8": "uint8", "BOOL": "bool"}
_MAX_HEADER = 100 * 1024 * 1024     # safetensors' own limit; a bigger length means "not a safetensors file"
_SCALARS = (bool, int, float, str, type(None))


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read: truncated, corrupt or not a checkpoint."""


def _safetensors():
    try:
        import safetensors
    except ImportError:
        raise ImportError("ndgrad.save / ndgrad.load need the 'safetensors' package: "
                          "pip install ndgrad[io]  (or: pip install safetensors)") from None
    return safetensors


# ----------------------------------------------------------------------------- save

def save(obj, f):
    """Save ``obj`` (a tensor, or nested dicts/lists/tuples of tensors and numbers) to ``f``.

    Like ``torch.save`` for ``state_dict``s, but the file is safetensors: no
    pickle. ``f`` is a path or a binary file object. Tensors on a GPU are
    copied through host memory; the device is recorded so ``load`` can put
    them back (or elsewhere, with ``map_location``).
    """
    _safetensors()
    writer = _Flattener()
    structure = writer.encode(obj, ())
    metadata = {FORMAT_KEY: json.dumps(structure, separators=(",", ":"))}
    data = _serialize(writer.arrays, metadata)
    if hasattr(f, "write"):
        f.write(data)
        return
    path = os.fspath(f)
    # Write beside the target and rename, so a crash mid-save never destroys the previous checkpoint.
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)




def _serialize(arrays, metadata):
    """The safetensors bytes, by the safetensors library.

    Equal states give equal files byte for byte: the library orders the tensors itself (by dtype and
    name), and the header's ``__metadata__`` holds a single entry, so the order of its map's keys
    (random from run to run) cannot change the file.
    """
    import safetensors
    if len(metadata) != 1:
        raise ValueError("checkpoint metadata must be one entry, or files stop being deterministic")
    little = {key: a if a.dtype.byteorder != ">" else a.astype(a.dtype.newbyteorder("<"))
              for key, a in arrays.items()}
    specs = {key: safetensors.TensorSpec(dtype=a.dtype.name, shape=a.shape, data_ptr=a.ctypes.data,
                                         data_len=a.nbytes)
             for key, a in little.items()}
    return bytes(safetensors.serialize(specs, metadata=metadata))


class _Flattener:
    """Turns a nested object into a JSON-able structure plus {flat key: host array}."""

    def __init__(self):
        self.arrays = {}
        self._seen = {}        # id(tensor) -> its structure node, so shared (tied) tensors are stored once
        self._keep_alive = []  # the objects behind those ids, so an id is never reused during one save

    def encode(self, obj, path):
        from ..tensor import Tensor
        if isinstance(obj, Tensor):
            return self._encode_array(obj, path, is_tensor=True)
        if isinstance(obj, np.ndarray):
            return self._encode_array(obj, path, is_tensor=False)
        if isinstance(obj, np.generic):  # a numpy scalar (e.g. a step count): stored as the Python number
            obj = obj.item()
        if isinstance(obj, _SCALARS):
            return {"value": obj}
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                if isinstance(k, np.generic):
                    k = k.item()
                if not isinstance(k, _SCALARS):
                    raise TypeError(f"ndgrad.save: dict key {k!r} at {_where(path)} is a {type(k).__name__}; "
                                    "keys must be str, int, float, bool or None")
                items.append([k, self.encode(v, path + (k,))])
            node = {"dict": items}
            if isinstance(obj, OrderedDict):
                node["ordered"] = True
            return node
        if isinstance(obj, (list, tuple)):
            kind = "list" if isinstance(obj, list) else "tuple"
            return {kind: [self.encode(v, path + (i,)) for i, v in enumerate(obj)]}
        from .modules import encode_other  # whole nn.Modules, dtypes, devices, ndgrad's functions
        node = encode_other(self, obj, path)
        if node is not None:
            return node
        raise TypeError(f"ndgrad.save: cannot store a {type(obj).__name__} at {_where(path)}; checkpoints hold "
                        "tensors, numpy arrays, numbers, strings, None and dicts/lists/tuples of them "
                        "(no pickle, so no arbitrary objects)")

    def _encode_array(self, obj, path, is_tensor):
        if id(obj) in self._seen:
            return self._seen[id(obj)]
        key = self._free_key(".".join(str(p) for p in path) or "tensor")
        if is_tensor:
            from ..backend import CPU, to_device
            array = to_device(obj._data, CPU)
            node = {"tensor": key, "device": str(obj.device)}
            if obj.requires_grad:
                node["requires_grad"] = True
            if _is_parameter(obj):
                node["parameter"] = True
        else:
            array = obj
            node = {"ndarray": key}
        if not array.flags.c_contiguous:  # safetensors stores dense row-major bytes
            array = np.array(array, order="C")  # (not ascontiguousarray: it turns 0-d into 1-d)
        if array.dtype.kind == "c":  # safetensors has no complex dtype: store (real, imag) pairs, marked
            array = np.stack([array.real, array.imag], axis=-1)
            node["complex"] = True
        self.arrays[key] = array
        self._seen[id(obj)] = node
        self._keep_alive.append(obj)
        return node

    def _free_key(self, key):
        # {"a.b": t, "a": {"b": u}} flatten to the same name; the structure records which is which.
        if key not in self.arrays and key != "__metadata__":  # that name is the header's own entry
            return key
        n = 1
        while f"{key}#{n}" in self.arrays:
            n += 1
        return f"{key}#{n}"


def _is_parameter(t):
    try:
        from ..nn import Parameter
    except ImportError:
        return False
    return isinstance(t, Parameter)


def _where(path):
    return "the top level" if not path else "obj" + "".join(f"[{p!r}]" for p in path)


# ----------------------------------------------------------------------------- load

def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    """Load what ``save`` wrote. Never executes code from the file.

    PyTorch's ``pickle_module``/``weights_only``/``mmap`` are accepted: without pickle every load is
    weights-only safe, and whole modules load only for ndgrad's own or allow-listed classes (see
    ``ndgrad.serialization.add_safe_globals``). ``weights_only=False`` (you trust the file) also admits
    nn.Module classes of modules your program has already imported; nothing is imported for it.

    ``map_location``: None puts each tensor back on the device it was saved
    from; a device (``'cpu'``, ``'cuda'``, ``'cuda:1'``) puts all tensors
    there; a dict ``{'cuda:0': 'cpu'}`` remaps saved devices. A safetensors
    file written by another program loads as a flat ``{name: Tensor}`` dict.
    """
    safetensors = _safetensors()
    if hasattr(f, "read"):
        name, data = getattr(f, "name", "<file object>"), f.read()
    else:
        name = os.fspath(f)
        if os.path.isdir(name):
            raise CheckpointError(f"ndgrad.load: '{name}' is a directory, not a checkpoint file; pass the path "
                                  f"of the .safetensors file inside it")
        with open(name, "rb") as fh:
            data = fh.read()
    header = _check_layout(name, data)
    try:
        raw = safetensors.deserialize(data)
    except Exception as e:  # SafetensorError: the header disagrees with itself
        raise CheckpointError(f"ndgrad.load: '{name}' is not a valid safetensors file: {e}") from None
    arrays = {key: _to_numpy(name, key, info) for key, info in raw}
    metadata = header.get("__metadata__") or {}
    structure_text = metadata.get(FORMAT_KEY)
    if structure_text is None:  # a plain safetensors file, e.g. from another library: flat, in file order
        order = sorted(arrays, key=lambda k: header[k]["data_offsets"][0])
        devices = _Devices(name, map_location)
        return {k: _make_tensor(arrays[k], devices("cpu"), False, False, name) for k in order}
    try:
        structure = json.loads(structure_text)
    except (ValueError, RecursionError) as e:
        raise CheckpointError(f"ndgrad.load: '{name}' is corrupt: its '{FORMAT_KEY}' header entry "
                              f"is not valid JSON, or nests too deeply ({e})") from None
    try:
        return _Rebuilder(name, arrays, map_location, weights_only is False).decode(structure)
    except RecursionError:  # the rebuilder recurses once per level: a hostile file can nest deeply
        raise CheckpointError(f"ndgrad.load: '{name}' is corrupt or hostile: its structure is nested too "
                              f"deeply to rebuild (more than Python's recursion limit)") from None


def _check_layout(name, data):
    """Checks the safetensors framing by hand, to say precisely what is wrong (truncation above all)."""
    size = len(data)
    if size < 8:
        raise CheckpointError(f"ndgrad.load: '{name}' is {size} bytes, too short for a safetensors file "
                              "(8-byte header length + JSON header + data): truncated or not a checkpoint")
    header_len = int.from_bytes(data[:8], "little")
    if header_len > _MAX_HEADER:
        raise CheckpointError(f"ndgrad.load: '{name}' is not a safetensors file: its first 8 bytes give a "
                              f"header length of {header_len} bytes")
    if 8 + header_len > size:
        raise CheckpointError(f"ndgrad.load: '{name}' is truncated: the header should be {header_len} bytes "
                              f"but only {size - 8} bytes follow the length field")
    try:
        header = json.loads(data[8:8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise CheckpointError(f"ndgrad.load: '{name}' is corrupt or not a safetensors file: "
                              f"the header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"ndgrad.load: '{name}' is corrupt: the header is a JSON "
                              f"{type(header).__name__}, not an object")
    data_size = size - 8 - header_len
    for key, info in header.items():
        if key == "__metadata__":
            continue
        try:
            end = int(info["data_offsets"][1])
        except (TypeError, KeyError, IndexError, ValueError):
            raise CheckpointError(f"ndgrad.load: '{name}' is corrupt: header entry for tensor '{key}' "
                                  f"has no valid data_offsets ({info!r})") from None
        if end > data_size:
            raise CheckpointError(f"ndgrad.load: '{name}' is truncated: tensor '{key}' needs bytes up to "
                                  f"{end} of the data section, but the file holds only {data_size}")
    return header


def _to_numpy(name, key, info):
    code = info["dtype"]
    if code not in _ST_TO_NP:
        raise CheckpointError(f"ndgrad.load: '{name}': tensor '{key}' has dtype {code}, which ndgrad does "
                              f"not support (supported: {', '.join(_ST_TO_NP)})")
    if code == "BF16":
        from ..dtypes import bfloat16
        if bfloat16 is None:
            raise ImportError(f"ndgrad.load: '{name}': tensor '{key}' is bfloat16, which needs the "
                              "'ml_dtypes' package: pip install ml_dtypes")
        dtype = bfloat16.np
    else:
        dtype = np.dtype(_ST_TO_NP[code])
    # deserialize hands each tensor its own bytearray, so the array is writable and owns its memory.
    return np.frombuffer(info["data"], dtype=dtype).reshape(info["shape"])


class _Devices:
    """Resolves where a tensor saved from ``saved`` goes, following ``map_location``."""

    def __init__(self, name, map_location):
        self.name = name
        if callable(map_location) and not isinstance(map_location, dict):  # PyTorch's fn(storage, location)
            from .modules import location_function
            map_location = location_function(map_location)
        elif map_location is not None and not isinstance(map_location, dict):
            map_location = str(map_location)
            if map_location not in ("cpu", "cuda") and not map_location.startswith("cuda:"):
                raise ValueError(f"ndgrad.load: map_location={map_location!r} is not a device; "
                                 "use 'cpu', 'cuda', 'cuda:N', a dict like {'cuda:0': 'cpu'}, or None")
        self.map_location = map_location

    def __call__(self, saved):
        ml = self.map_location
        if ml is None:
            return saved
        if isinstance(ml, dict):
            return str(ml.get(saved, saved))
        return ml(saved) if callable(ml) else ml


def _make_tensor(array, device, requires_grad, parameter, name=None, saved=None):
    from ..backend import CPU, get_device, to_device
    from ..tensor import Tensor
    if device == "cpu":
        target = CPU
    else:
        try:
            target = get_device(device)
            array = to_device(array, target)
        except Exception as e:
            where = f" saved on {saved}" if saved else ""
            raise RuntimeError(f"ndgrad.load: '{name}' has tensors{where} that cannot go to {device} here "
                               f"({e}); pass map_location='cpu' to load them onto the CPU") from None
    t = Tensor._wrap(array, target, requires_grad=requires_grad)
    if parameter:
        from ..nn import Parameter
        t = Parameter(t, requires_grad=requires_grad)
    return t


class _Rebuilder:
    """Turns the JSON structure plus the flat arrays back into the saved object."""

    def __init__(self, name, arrays, map_location, trust_imported_classes=False):
        self.name = name
        self.arrays = arrays
        self.trust_imported_classes = trust_imported_classes
        self.devices = _Devices(name, map_location)
        self._made = {}  # flat key -> object, so tensors saved once for several places come back shared

    def decode(self, node):
        if not isinstance(node, dict) or len(node) == 0:
            self._corrupt(f"structure node {node!r} is not a tagged object")
        if "value" in node:
            value = node["value"]
            if not isinstance(value, _SCALARS):
                self._corrupt(f"value {value!r} is not a number, string, bool or None")
            return value
        if "tensor" in node or "ndarray" in node:
            return self._array(node)
        if "dict" in node:
            pairs = node["dict"]
            if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
                self._corrupt("a dict entry is not a list of [key, value] pairs")
            cls = OrderedDict if node.get("ordered") else dict
            return cls((self._key(k), self.decode(v)) for k, v in pairs)
        for kind, cls in (("list", list), ("tuple", tuple)):
            if kind in node:
                if not isinstance(node[kind], list):
                    self._corrupt(f"a {kind} entry is not a JSON array")
                return cls(self.decode(v) for v in node[kind])
        from .modules import decode_other  # whole nn.Modules (allow-listed classes only), dtypes, ...
        obj = decode_other(self, node)
        if obj is not None:
            return obj
        self._corrupt(f"unknown structure node {node!r}")

    def _key(self, k):
        if not isinstance(k, _SCALARS):
            self._corrupt(f"dict key {k!r} is not a number, string, bool or None")
        return k

    def _array(self, node):
        key = node.get("tensor", node.get("ndarray"))
        if not isinstance(key, str):  # a list or dict here would not even be hashable
            self._corrupt(f"a tensor entry names {key!r} where a tensor key (a string) belongs")
        if key in self._made:
            return self._made[key]
        if key not in self.arrays:
            self._corrupt(f"the structure refers to tensor '{key}', which the file does not contain")
        array = self.arrays[key]
        if node.get("complex"):
            if array.dtype.kind != "f" or array.ndim == 0 or array.shape[-1] != 2:
                self._corrupt(f"tensor '{key}' is marked complex but is not (real, imag) pairs of floats")
            array = np.ascontiguousarray(array).view(np.result_type(array.dtype, np.complex64))[..., 0]
        if "ndarray" in node:
            obj = array
        else:
            saved = str(node.get("device", "cpu"))
            obj = _make_tensor(array, self.devices(saved), bool(node.get("requires_grad")),
                               bool(node.get("parameter")), self.name, saved)
        self._made[key] = obj
        return obj

    def _corrupt(self, what):
        raise CheckpointError(f"ndgrad.load: '{self.name}' is corrupt: {what}")
