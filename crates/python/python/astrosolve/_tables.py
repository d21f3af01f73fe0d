"""Tables between Python and the engine.

In: a table of any usual kind (dict of arrays or lists, astropy ``Table``/``QTable``, pandas
``DataFrame``, pyarrow ``Table``, NumPy structured array) → columns for the engine, each
``(name, unit, values, offsets, mask)``: ``values`` a 1-D float64, int64 or bool array (a list
of str for text), ``offsets`` the int64 row offsets of a list column (row *i* holds
``values[offsets[i]:offsets[i+1]]``) or None, ``mask`` a bool array of valid values or None.
Units come from astropy columns and Quantities. Floats of any width are widened to float64
(exactly), integers to int64.

Out: ``(name, unit, array)`` columns from the engine → an astropy ``Table`` (units set) or
``QTable`` (Quantities), or a plain dict of NumPy arrays.
"""

from collections.abc import Mapping

import numpy as np

OUTPUTS = ("auto", "table", "qtable", "dict")


def _astropy_available():
    try:
        import astropy.table  # noqa: F401
        import astropy.units  # noqa: F401
    except ImportError:
        return False
    return True


def make_table(columns, output="auto", units=None):
    """A table from engine columns ``[(name, unit, array), ...]``.

    Parameters
    ----------
    columns : list of tuple
        ``(name, unit or None, numpy.ndarray)``.
    output : {"auto", "table", "qtable", "dict"}
        ``"auto"``: an astropy ``Table`` when astropy can be imported, else a dict.
    units : dict, optional
        Units for columns the engine gives none (name → unit string).
    """
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {', '.join(OUTPUTS)} (got {output!r})")
    if output == "auto":
        output = "table" if _astropy_available() else "dict"
    if output == "dict":
        return {name: array for name, _, array in columns}
    if not _astropy_available():
        raise ImportError(f"output={output!r} needs astropy (pip install astropy)")
    import astropy.units as u
    from astropy.table import Column, QTable, Table

    # no copies: the columns share the engine's arrays
    cols, names = [], []
    for name, unit, array in columns:
        unit = unit or (units or {}).get(name)
        names.append(name)
        if unit is None:
            cols.append(Column(array, name=name, copy=False))
        elif output == "qtable":
            cols.append(u.Quantity(array, u.Unit(unit), copy=False))
        else:
            cols.append(Column(array, name=name, unit=u.Unit(unit), copy=False))
    cls = QTable if output == "qtable" else Table
    return cls(cols, names=names, copy=False)


def _unit_string(unit):
    if unit is None:
        return None
    s = unit.to_string() if hasattr(unit, "to_string") else str(unit)
    return s or None


def _items(data):
    """(name, column) pairs of a table of any usual kind."""
    if hasattr(data, "colnames") and hasattr(data, "columns"):  # astropy Table
        return [(n, data[n]) for n in data.colnames]
    if type(data).__module__.startswith("pandas") and hasattr(data, "items"):
        return [(str(n), c.to_numpy()) for n, c in data.items()]
    if isinstance(data, np.ndarray) and data.dtype.names:
        return [(n, data[n]) for n in data.dtype.names]
    if isinstance(data, Mapping):
        return list(data.items())
    raise TypeError(
        "data must be a file path, a list of file paths, or a table: a dict of arrays, an "
        "astropy Table, a pandas DataFrame, a pyarrow Table or a NumPy structured array "
        f"(got {type(data).__name__})"
    )


def _flat(values, name):
    """A 1-D array of float64, int64 or bool (or a list of str), and its mask of valid values."""
    mask = None
    if np.ma.isMaskedArray(values):
        m = np.ma.getmaskarray(values)
        if m.any():
            mask = ~m
        values = np.ma.getdata(values)
    values = np.asarray(values)
    kind = values.dtype.kind
    if kind == "b":
        out = values.astype(np.bool_, copy=False)
    elif kind == "f":
        out = values.astype(np.float64, copy=False)
    elif kind == "i":
        out = values.astype(np.int64, copy=False)
    elif kind == "u":
        if values.size and values.max() > np.iinfo(np.int64).max:
            raise ValueError(f'column "{name}": unsigned integers beyond the int64 range')
        out = values.astype(np.int64, copy=False)
    elif kind in "US":
        out = [None if (mask is not None and not mask[i]) else str(v) for i, v in enumerate(values)]
        return out, None
    else:
        raise TypeError(
            f'column "{name}": values of dtype {values.dtype} are not numbers, booleans or text'
        )
    return np.ascontiguousarray(out.reshape(-1)), (
        None if mask is None else np.ascontiguousarray(mask.reshape(-1))
    )


def _arrow_column(name, col):
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    t = arr.type
    is_list = pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)
    offsets = None
    if is_list:
        lengths = pc.list_value_length(arr).fill_null(0).to_numpy(zero_copy_only=False)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        arr = arr.flatten()
        t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        if offsets is not None:
            raise TypeError(f'column "{name}": lists of text are not supported')
        return arr.to_pylist(), offsets, None
    valid = None
    if arr.null_count:
        valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
        fill = False if pa.types.is_boolean(t) else 0
        arr = arr.fill_null(fill)
    values, _ = _flat(arr.to_numpy(zero_copy_only=False), name)
    return values, offsets, valid


def engine_columns(data):
    """The columns of a table for the engine: ``[(name, unit, values, offsets, mask), ...]``."""
    if type(data).__module__.startswith("pyarrow") and hasattr(data, "column_names"):
        out = []
        for name in data.column_names:
            values, offsets, valid = _arrow_column(name, data.column(name))
            out.append((str(name), None, values, offsets, valid))
        return out
    out = []
    for name, col in _items(data):
        name = str(name)
        unit = _unit_string(getattr(col, "unit", None))
        if hasattr(col, "unit") and hasattr(col, "value") and not hasattr(col, "colnames"):
            col = col.value  # a Quantity: its values in its own unit
        if type(col).__module__.startswith("pyarrow"):
            values, offsets, valid = _arrow_column(name, col)
            out.append((name, unit, values, offsets, valid))
            continue
        arr = col if np.ma.isMaskedArray(col) else np.asarray(col)
        if arr.dtype == object and all(
            v is None or v is np.ma.masked or isinstance(v, str) for v in arr
        ):
            # text, e.g. the archive's array strings "(1.0, 2.0, …)"; None = null
            text = [None if (v is None or v is np.ma.masked) else v for v in arr]
            out.append((name, unit, text, None, None))
        elif arr.dtype == object:
            # a list column of ragged rows (e.g. astropy reading Parquet lists); None = null
            rows = []
            for v in arr:
                if v is None or v is np.ma.masked:
                    rows.append(np.ma.masked_array(np.zeros(0)))
                else:
                    rows.append(v if np.ma.isMaskedArray(v) else np.asarray(v))
            lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
            offsets = np.zeros(len(rows) + 1, dtype=np.int64)
            np.cumsum(lengths, out=offsets[1:])
            nonempty = [r for r in rows if len(r)]
            if nonempty:
                joined = np.ma.concatenate(nonempty) if any(
                    np.ma.isMaskedArray(r) for r in nonempty
                ) else np.concatenate(nonempty)
            else:
                joined = np.zeros(0)
            values, valid = _flat(joined, name)
            out.append((name, unit, values, offsets, valid))
        elif arr.ndim == 2:
            n, k = arr.shape
            values, valid = _flat(arr, name)
            out.append((name, unit, values, np.arange(n + 1, dtype=np.int64) * k, valid))
        elif arr.ndim == 1:
            values, valid = _flat(arr, name)
            out.append((name, unit, values, None, valid))
        else:
            raise ValueError(
                f'column "{name}": expected one value or one list per row, got shape {arr.shape}'
            )
    return out
