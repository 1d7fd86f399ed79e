"""dmkit._positions.positions against pandas' Index.get_indexer on every path it takes."""
import numpy as np
import pandas as pd
import pytest

from dmkit._positions import positions

rng = np.random.default_rng(0)


@pytest.mark.parametrize("keys", [
    np.arange(1000),                                   # 0..n-1 in order: the identity
    np.arange(1000, dtype=np.int32),
    rng.permutation(1000),                             # the same ids shuffled: lookup table
    np.r_[np.arange(500), np.arange(501, 1001)],       # one id missing: not the identity
    np.arange(1000) * 3 + 7,                           # sparse, still small: lookup table
    np.arange(1000) * 100_000,                         # too sparse: hash
    np.array([0]),
    np.array([10**9, 5, 7, 2**40]),                    # huge ids: hash
])
def test_positions_equal_get_indexer(keys):
    index = pd.Index(keys, name="user_id")
    ids = np.r_[rng.integers(-5, min(int(keys.max()), 10**6) + 10, 5000), keys[:7], -1, int(keys.max()) + 1, 10**12]
    np.testing.assert_array_equal(positions(ids, index), index.get_indexer(ids))
    np.testing.assert_array_equal(positions(pd.Series(ids), index), index.get_indexer(ids))


def test_positions_of_text_ids_and_empty_lookups():
    index = pd.Index(["u3", "u1", "u2"])
    np.testing.assert_array_equal(positions(np.array(["u1", "x", "u3"], dtype=object), index), [1, -1, 0])
    assert len(positions(np.array([], dtype=np.int64), pd.Index(np.arange(4)))) == 0
