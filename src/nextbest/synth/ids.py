"""String ids (``C000001``, ``P00042``, ``O00000017``, ...) built straight into Arrow buffers.

Every id is a one-letter prefix and a zero-padded number. Product ids have five
digits; the other kinds have a default number of digits that grows when their
count needs more.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_ID_CHUNK = 1 << 18


def _id_width(default: int, count: int) -> int:
    """Digits of the ids of ``count`` entities: ``default``, or more if ``count`` needs them."""
    return max(default, len(str(max(count, 1))))


def make_ids(
    prefix: str, numbers: np.ndarray, width: int, valid: np.ndarray | None = None
) -> pa.Array:
    """Zero-padded string ids (``prefix`` + digits) built directly as an Arrow buffer.

    Entries where ``valid`` is False become null.

    Examples
    --------
    >>> make_ids("C", np.array([1, 42]), 6).to_pylist()
    ['C000001', 'C000042']
    """
    nums = np.asarray(numbers, dtype=np.int64)
    n = len(nums)
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        nums = nums[valid]
    if len(nums) and (nums.min() < 0 or nums.max() >= 10**width):
        raise ValueError(f"id numbers do not fit in {width} digits")
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    length = len(head) + width
    data = np.empty((len(nums), length), dtype=np.uint8)
    data[:, : len(head)] = head
    kind = np.dtype(np.uint32 if width <= 9 else np.uint64)
    ten = kind.type(10)  # a scalar divisor lets numpy use its fast division
    for lo in range(0, len(nums), _ID_CHUNK):
        rest: np.ndarray = nums[lo : lo + _ID_CHUNK].astype(kind)
        digits = np.empty((width, len(rest)), dtype=np.uint8)
        for k in range(width - 1, -1, -1):
            quot = np.floor_divide(rest, ten)
            digits[k] = rest - quot * ten
            rest = quot
        data[lo : lo + _ID_CHUNK, len(head) :] = digits.T + 48
    if len(nums) * length >= 2**31:
        raise ValueError("too many ids for one Arrow string array")
    if valid is None:
        offsets = np.arange(0, (n + 1) * length, length, dtype=np.int32)
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(valid * length, out=offsets[1:])
    bitmap = np.packbits(valid, bitorder="little")
    return pa.StringArray.from_buffers(
        n,
        pa.py_buffer(offsets),
        pa.py_buffer(data),
        pa.py_buffer(bitmap),
        null_count=int(n - valid.sum()),
    )


def _customer_width(n_customers: int) -> int:
    """Digits of the customer ids of a store with ``n_customers``."""
    return _id_width(6, n_customers)


def _customer_ids(index: np.ndarray, n_customers: int) -> pa.Array:
    """Ids of the customers at 0-based ``index`` (customer ``i`` is number ``i + 1``)."""
    return make_ids("C", index + 1, _customer_width(n_customers))


def _product_ids(number: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Ids of the products with id ``number`` (null where ``valid`` is False)."""
    return make_ids("P", number, 5, valid=valid)


def _order_ids(rank: np.ndarray, n_orders: int) -> pa.Array:
    """Ids of the orders at 0-based ``rank`` (orders are numbered by time)."""
    return make_ids("O", rank + 1, _id_width(8, n_orders))


def _serial_ids(prefix: str, count: int, digits: int) -> pa.Array:
    """Ids ``prefix`` + 1, 2, ..., ``count``, with at least ``digits`` digits."""
    return make_ids(prefix, np.arange(1, count + 1), _id_width(digits, count))
