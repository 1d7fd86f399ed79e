"""Labels through codes: the same answers as the text comparisons they replace."""
import numpy as np
import pandas as pd
import pytest

from dmkit.contract.labels import in_labels, label_codes, label_positions, present_labels

TEXT = pd.Series(["2009-01", "2009-02", None, "2009-01", "2009-03"], dtype=object)


@pytest.mark.parametrize("col", [TEXT, TEXT.astype("category"),
                                 TEXT.astype(pd.CategoricalDtype(["2008-12", "2009-01", "2009-02", "2009-03"]))])
def test_codes_and_masks_agree_with_text(col):
    codes, names = label_codes(col)
    as_text = [None if c < 0 else names[c] for c in codes]
    assert as_text == TEXT.tolist()
    for want in (["2009-01"], ["2009-02", "2009-03"], ["2008-12"], []):
        expected = TEXT.isin(want).to_numpy() & TEXT.notna().to_numpy()
        np.testing.assert_array_equal(in_labels(col, want), expected)
    assert present_labels(col) == {"2009-01", "2009-02", "2009-03"}   # an unused category is not present
    for labels in (["2009-03", "2009-01", "2010-01"], pd.Index(["2009-02"]), []):
        expected = pd.Index(list(labels)).get_indexer(TEXT.astype(str))   # missing is 'None' as text: absent
        np.testing.assert_array_equal(label_positions(col, labels), expected)


def test_empty_column():
    empty = pd.Series([], dtype="category")
    assert present_labels(empty) == set() and in_labels(empty, ["x"]).shape == (0,)
