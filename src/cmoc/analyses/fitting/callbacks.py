"""nutpie's C callbacks generated as plain source and cached on disk with PyTensor's numba code.

nutpie calls the model's log density (and, per draw, its deterministics) through two numba C
callbacks that unpack the model's data (``pm.Data``) from a record of pointers and call
PyTensor's compiled function. nutpie's own callbacks are closures that numba cannot cache, and
their generic unpacking (a ``literal_unroll`` over one typed overload per data array) is slow to
type: on the IOC base with model v2 (7 data arrays) they cost about 13 s of every process's
18 s compile, a trivial model's 5 s, each data array about 1 s more.

:func:`cached_callbacks` replaces them, while nutpie compiles a model, by callbacks written out as
source for the model at hand (one line per data array, same record layout, same return codes)
and registered with PyTensor's numba cache under a key made of the keys of PyTensor's compiled
functions (which identify their graphs), the data arrays' positions, dtypes and ranks, and the
number of parameters. numba then caches the callbacks' machine code beside PyTensor's, so a
second process that compiles a model of the same graph loads them from disk instead of
generating code again. The data are still read through the record at every call, so
``CompiledPyMCModel.with_data`` works as before. Where PyTensor gives no cache key (a graph it
cannot cache), nutpie's own callbacks are used.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from hashlib import sha256

import numpy as np

__all__ = ["CALLBACK_PREFIX", "cached_callbacks"]

CALLBACK_PREFIX = "cmoc_nutpie_"
"""Name prefix of the generated callbacks (and of their numba libraries)."""

_VERSION = "1"
"""Changes whenever the generated source changes, so that older cached callbacks are not loaded."""


def _inner_key(fn) -> str | None:
    """PyTensor's cache key of a compiled function's graph (``None``: not cacheable)."""
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    py_func = getattr(fn, "py_func", None)
    return None if py_func is None else CACHED_SRC_FUNCTIONS.get(py_func)


def _layout(user_data: np.ndarray) -> tuple[list[str], list[int], int]:
    """Read nutpie's record as 64-bit words: pointers, then sizes, then the shapes, packed.

    Returns the keys of the data arrays in order, where each one's shape starts, and the number
    of words.
    """
    shared = user_data.dtype["shared"]
    keys = list(shared["data"].names)
    offsets, at = [], 2 * len(keys)
    for key in keys:
        offsets.append(at)
        at += int(np.prod(shared["shape"][key].shape))
    if user_data.dtype.itemsize != 8 * at:
        raise ValueError(f"unexpected layout of nutpie's user data: {user_data.dtype}")
    return keys, offsets, at


def _unpack_lines(keys, offsets, used, shared_data) -> tuple[list[str], dict, list]:
    """Source lines that read the data arrays ``used`` from the record ``ud``."""
    lines, env, signature = [], {}, []
    n = len(keys)
    for j, key in enumerate(used):
        i = keys.index(key)
        arr = shared_data[key]
        env[f"dtype_{j}"] = np.dtype(arr.dtype)
        shape = ", ".join(f"int(ud[{offsets[i] + d}])" for d in range(arr.ndim))
        shape = f"({shape},)" if arr.ndim else "()"
        lines.append(
            f"    d{j} = numba.carray(_void_pointer(ud[{i}]), (int(ud[{n + i}]),), dtype_{j})"
            f".reshape({shape})"
        )
        signature.append((i, np.dtype(arr.dtype).str, arr.ndim))
    return lines, env, signature


def _compile_source(src: str, name: str, env: dict, key: str):
    import numba
    from nutpie.compile_pymc import address_as_void_pointer
    from pytensor.link.numba.cache import compile_numba_function_src

    return compile_numba_function_src(
        src,
        name,
        global_env={
            "__name__": __name__,
            "np": np,
            "numba": numba,
            "_void_pointer": address_as_void_pointer,
            **env,
        },
        cache_key=key,
    )


def _key(kind: str, *parts) -> str:
    import numba

    text = repr((_VERSION, kind, numba.__version__, *parts))
    return CALLBACK_PREFIX + sha256(text.encode()).hexdigest()


def _make_logp(original):
    """Replace ``nutpie.compile_pymc._make_c_logp_func`` (``original`` where not cacheable)."""

    def make(n_dim, logp_fn, user_data, shared_keys, shared_data):
        inner = _inner_key(logp_fn)
        if inner is None:
            return original(n_dim, logp_fn, user_data, shared_keys, shared_data)
        import numba

        keys, offsets, n_ud = _layout(user_data)
        lines, env, sig = _unpack_lines(keys, offsets, shared_keys, shared_data)
        args = "".join(f", d{j}" for j in range(len(shared_keys)))
        name = CALLBACK_PREFIX + "logp"
        src = "\n".join(
            [
                f"def {name}(dim, x_, out_, logp_, user_data_):",
                f"    if dim != {n_dim}:",
                "        return -1",
                f"    ud = numba.carray(user_data_, ({n_ud},), np.uint64)",
                *lines,
                "    try:",
                f"        x = numba.carray(x_, ({n_dim},))",
                f"        out = numba.carray(out_, ({n_dim},))",
                "        logp = numba.carray(logp_, ())",
                f"        logp_val, grad = inner(x{args})",
                "        logp[()] = logp_val",
                "        out[...] = grad",
                "        if not np.all(np.isfinite(out)):",
                "            return 3",
                "        if not np.isfinite(logp_val):",
                "            return 4",
                "    except Exception:",
                "        return 1",
                "    return 0",
            ]
        )
        key = _key("logp", inner, n_dim, n_ud, tuple(offsets), tuple(sig))
        fn = _compile_source(src, name, {"inner": logp_fn, **env}, key)
        c_sig = numba.types.int64(
            numba.types.uint64,
            numba.types.CPointer(numba.types.double),
            numba.types.CPointer(numba.types.double),
            numba.types.CPointer(numba.types.double),
            numba.types.voidptr,
        )
        return fn, c_sig

    return make


def _make_expand(original):
    """Replace ``nutpie.compile_pymc._make_c_expand_func`` (``original`` where not cacheable)."""

    def make(n_dim, n_expanded, expand_fn, user_data, shared_keys, shared_data):
        inner = _inner_key(expand_fn)
        if inner is None:
            return original(n_dim, n_expanded, expand_fn, user_data, shared_keys, shared_data)
        import numba

        keys, offsets, n_ud = _layout(user_data)
        lines, env, sig = _unpack_lines(keys, offsets, shared_keys, shared_data)
        args = "".join(f", d{j}" for j in range(len(shared_keys)))
        name = CALLBACK_PREFIX + "expand"
        src = "\n".join(
            [
                f"def {name}(dim, expanded, x_, out_, user_data_):",
                f"    if dim != {n_dim}:",
                "        return -1",
                f"    if expanded != {n_expanded}:",
                "        return -1",
                f"    ud = numba.carray(user_data_, ({n_ud},), np.uint64)",
                *lines,
                "    try:",
                f"        x = numba.carray(x_, ({n_dim},))",
                f"        out = numba.carray(out_, ({n_expanded},))",
                f"        (values,) = inner(x{args})",
                "        out[...] = values",
                "    except Exception:",
                "        return -2",
                "    return 0",
            ]
        )
        key = _key("expand", inner, n_dim, n_expanded, n_ud, tuple(offsets), tuple(sig))
        fn = _compile_source(src, name, {"inner": expand_fn, **env}, key)
        c_sig = numba.types.int64(
            numba.types.uint64,
            numba.types.uint64,
            numba.types.CPointer(numba.types.double),
            numba.types.CPointer(numba.types.double),
            numba.types.voidptr,
        )
        return fn, c_sig

    return make


@contextmanager
def cached_callbacks() -> Iterator[dict]:
    """While inside, nutpie builds the callbacks above; compile with ``cache=True``.

    Yields the keyword arguments to pass to ``nutpie.compile_pymc_model`` (``cache=True``,
    forwarded by nutpie to ``numba.cfunc``). If nutpie's internals differ from the ones this
    relies on, nothing is changed and no keyword is given.
    """
    try:
        import nutpie.compile_pymc as ncp

        logp, expand = ncp._make_c_logp_func, ncp._make_c_expand_func
    except (ImportError, AttributeError):
        yield {}
        return
    ncp._make_c_logp_func, ncp._make_c_expand_func = _make_logp(logp), _make_expand(expand)
    try:
        yield {"cache": True}
    finally:
        ncp._make_c_logp_func, ncp._make_c_expand_func = logp, expand
