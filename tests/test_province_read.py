"""ProvinceData.read: some columns and months of a table, read from the file or filtered in memory."""
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dmkit as dm
from dmkit.errors import DataNotFoundError, ParameterError, SchemaError


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("prov") / "p"
    small = dm.synth.generate("national", "2009-05", 1_200, 5, n_months=3)
    small.save(folder)
    # usage in small row groups (the file is month-sorted, as the simulator writes it), so the
    # pushdown on month has groups to skip
    t = pq.read_table(folder / "usage.parquet")
    pq.write_table(t, folder / "usage.parquet", row_group_size=500, write_page_checksum=True)
    return folder, small


def _expected(df, months=None, columns=None):
    if months is not None:
        df = df[df["month"].astype(str).isin(months)]
    if columns is not None:
        df = df[columns]
    return df.reset_index(drop=True)


@pytest.mark.parametrize("lazy", [True, False])
def test_read_equals_the_table_filtered(saved, lazy):
    folder, small = saved
    pdata = dm.synth.ProvinceData.load(folder, lazy=lazy)
    eager = dm.synth.ProvinceData.load(folder)
    months = sorted(small.usage["month"].astype(str).unique())
    assert len(months) == 3
    got = pdata.read("usage", months=months[-1])
    pd.testing.assert_frame_equal(got, _expected(eager.usage, [months[-1]]))
    assert list(got["month"].cat.categories) == list(eager.usage["month"].cat.categories)
    got = pdata.read("usage", months=months[:2], columns=["user_id", "arpu"])
    pd.testing.assert_frame_equal(got, _expected(eager.usage, months[:2], ["user_id", "arpu"]))
    pd.testing.assert_frame_equal(pdata.read("events", columns=["ts", "user_id"]),   # the table's order
                                  _expected(eager.events, columns=["user_id", "ts"]))
    pd.testing.assert_frame_equal(pdata.read("subscriptions"), eager.subscriptions)
    if lazy:
        assert "usage" not in vars(pdata) and "events" not in vars(pdata)   # nothing kept


def test_read_skips_the_row_groups_of_other_months(saved, monkeypatch):
    folder, small = saved
    seen = []
    original = pq.ParquetFile.read_row_groups

    def spy(self, groups, *a, **k):
        seen.append(list(groups))
        return original(self, groups, *a, **k)

    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", spy)
    last = sorted(small.usage["month"].astype(str).unique())[-1]
    n_groups = pq.read_metadata(folder / "usage.parquet").num_row_groups
    got = dm.synth.ProvinceData.load(folder, lazy=True).read("usage", months=last)
    assert len(got) == int((small.usage["month"].astype(str) == last).sum())
    rows = (pq.read_table(folder / "usage.parquet").column("month").to_pandas().astype(str) == last).to_numpy()
    holding = sorted({i // 500 for i in rows.nonzero()[0]})  # the groups (500 rows each) with that month's rows
    assert seen == [holding] and len(holding) < n_groups


def test_read_refuses_bad_arguments(saved):
    folder, small = saved
    for lazy in (True, False):
        pdata = dm.synth.ProvinceData.load(folder, lazy=lazy)
        with pytest.raises(ParameterError, match="'table'.*'usagex'"):
            pdata.read("usagex")
        with pytest.raises(ParameterError, match="'months'.*'users' has no month column"):
            pdata.read("users", months="2009-05")
        with pytest.raises(ParameterError, match="'columns'.*'nope'"):
            pdata.read("usage", columns=["arpu", "nope"])
        with pytest.raises(ParameterError, match="'columns'.*a list"):
            pdata.read("usage", columns="arpu")
        with pytest.raises(ParameterError, match="'months'.*YYYY-MM"):
            pdata.read("usage", months="05/2009")
        with pytest.raises(DataNotFoundError, match="'usage' has no rows of month.*2001-01"):
            pdata.read("usage", months=["2009-05", "2001-01"])
        with pytest.raises(DataNotFoundError, match="'usage' has no rows of month.*2001-01"):   # month not kept
            pdata.read("usage", months=["2009-05", "2001-01"], columns=["user_id", "arpu"])


def test_read_of_a_damaged_file_is_refused_or_repaired(saved, tmp_path):
    folder, small = saved
    import shutil

    copy = tmp_path / "p"
    shutil.copytree(folder, copy)
    f = copy / "usage.parquet"
    md = pq.read_metadata(f)
    chunk = md.row_group(md.num_row_groups - 1).column(2)       # arpu in the last group (2009-05's rows)
    raw = bytearray(f.read_bytes())
    raw[chunk.data_page_offset + chunk.total_compressed_size // 2] ^= 0xFF
    f.write_bytes(bytes(raw))
    with pytest.raises(SchemaError, match="usage"):
        dm.synth.ProvinceData.load(copy, lazy=True).read("usage", months="2009-05")
    good = dm.synth.ProvinceData.load(folder).usage
    repaired = dm.synth.ProvinceData.load(copy, lazy=True, repair=lambda table: good)
    pd.testing.assert_frame_equal(repaired.read("usage", months="2009-05"), _expected(good, ["2009-05"]))


def test_read_months_keeps_arrow_semantics_for_a_file_without_statistics(tmp_path):
    from dmkit.contract.ingest import read_parquet_files

    df = pd.DataFrame({"user_id": [1, 2, 3, 4], "month": ["2009-01", "2009-02", "2009-01", "2009-03"],
                       "x": [1.0, 2.0, 3.0, 4.0]})
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "u.parquet",
                   write_statistics=False, row_group_size=2)
    got = read_parquet_files([tmp_path / "u.parquet"], table="usage", columns=["user_id", "x"],
                             months=["2009-01"])[0]
    pd.testing.assert_frame_equal(got, pd.DataFrame({"user_id": [1, 3], "x": [1.0, 3.0]}))
