"""Tests of dmkit.contract.derived: a result computed once per province files, code and parameters."""
from __future__ import annotations

import fcntl
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from dmkit import fingerprint
from dmkit.contract import derived
from dmkit.contract.province import ProvinceData
from dmkit.contract.sources import module_sources
from dmkit.synth import generate as synth_generate

MONTH = "2009-06"


@pytest.fixture(scope="module")
def province():
    return synth_generate("yunnan", month=MONTH, n_users=2_000, seed=3)


@pytest.fixture
def folder(tmp_path, province):
    return province.save(tmp_path / "p")


def stored_files(folder: Path) -> list[Path]:
    return sorted((folder / derived.DERIVED_FOLDER).glob("fingerprint-*.parquet"))


def no_reads(monkeypatch):
    def refuse(self, table, **kw):
        raise AssertionError(f"read {table!r}: expected the stored fingerprint")
    monkeypatch.setattr(ProvinceData, "read", refuse)


def test_a_second_profile_reads_the_stored_result_equal_to_the_computed_one(monkeypatch, folder, province):
    expected = fingerprint.profile(province.users, province.usage, province.subscriptions, province.events,
                                   province.edges, month=MONTH)
    first = fingerprint.profile(ProvinceData.load(folder, lazy=True), month=MONTH)
    assert len(stored_files(folder)) == 1
    no_reads(monkeypatch)  # a fresh load, as the next notebook's kernel: nothing of the tables read
    again = fingerprint.profile(ProvinceData.load(folder, lazy=True), month=MONTH)
    for got in (first, again):
        pd.testing.assert_frame_equal(got.table, expected.table, check_exact=True)
        assert (got.month, got.value_cuts) == (expected.month, expected.value_cuts)


def test_other_parameters_files_or_tables_are_computed_not_read(monkeypatch, folder, province):
    lazy = ProvinceData.load(folder, lazy=True)
    base = fingerprint.profile(lazy, month=MONTH)
    cuts = fingerprint.profile(lazy, month=MONTH, value_cuts=(10.0, 90.0))  # another key
    assert len(stored_files(folder)) == 2 and cuts.value_cuts == (10.0, 90.0)
    assert not cuts.table["value_tier"].equals(base.table["value_tier"])

    # a table set on the instance is not the file's: computed from it, nothing stored
    changed = ProvinceData.load(folder, lazy=True)
    changed.users = changed.users.assign(age=30)
    fp = fingerprint.profile(changed, month=MONTH)
    assert set(fp.table["age"]) == {30} and len(stored_files(folder)) == 2
    # a table read from the file and left as read is still the file's
    read = ProvinceData.load(folder, lazy=True)
    read.users  # noqa: B018
    pd.testing.assert_frame_equal(fingerprint.profile(read, month=MONTH).table, base.table, check_exact=True)

    # the folder saved again (new files): another key, computed from the new tables
    other = synth_generate("yunnan", month=MONTH, n_users=2_000, seed=4)
    other.save(folder)
    new = fingerprint.profile(ProvinceData.load(folder, lazy=True), month=MONTH)
    expected = fingerprint.profile(other.users, other.usage, other.subscriptions, other.events, other.edges,
                                   month=MONTH)
    pd.testing.assert_frame_equal(new.table, expected.table, check_exact=True)
    assert len(stored_files(folder)) == 3

    # a province in memory (no files) and DMKIT_DERIVED=0 store nothing
    fingerprint.profile(province, month=MONTH)
    monkeypatch.setenv("DMKIT_DERIVED", "0")
    fingerprint.profile(ProvinceData.load(folder, lazy=True), month=MONTH, value_cuts=(1.0, 2.0))
    assert len(stored_files(folder)) == 3


def test_the_key_follows_the_code(monkeypatch, folder):
    names = {p.name for p in module_sources("dmkit.fingerprint")}
    assert {"fingerprint.py", "_positions.py", "labels.py"} <= names
    lazy = ProvinceData.load(folder, lazy=True)
    params = {"month": MONTH}
    a = derived.stored_path(lazy, "fingerprint", tables=["users"], params=params, code="a")
    b = derived.stored_path(lazy, "fingerprint", tables=["users"], params=params, code="b")
    assert a != b and a.parent == b.parent == folder / derived.DERIVED_FOLDER


def test_a_damaged_stored_file_is_computed_again_and_replaced(folder):
    base = fingerprint.profile(ProvinceData.load(folder, lazy=True), month=MONTH)
    (path,) = stored_files(folder)
    path.write_bytes(path.read_bytes()[:1000])  # truncated
    got = fingerprint.profile(ProvinceData.load(folder, lazy=True), month=MONTH)
    pd.testing.assert_frame_equal(got.table, base.table, check_exact=True)
    assert path.stat().st_size > 1000


def test_the_computations_warnings_are_given_again_on_each_read(province, folder):
    early = sorted(fingerprint.present_labels(province.usage["month"]))[0]  # no edges that month
    for _ in range(2):
        with pytest.warns(UserWarning, match=f"no edges for {early}"):
            fingerprint.profile(ProvinceData.load(folder, lazy=True), month=early)
    assert len(stored_files(folder)) == 1


def test_an_unwritable_folder_computes_and_stores_nothing(monkeypatch, folder):
    real = Path.mkdir

    def refuse(self, *a, **kw):
        if self.name == derived.DERIVED_FOLDER:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *a, **kw)
    monkeypatch.setattr(Path, "mkdir", refuse)
    fp = fingerprint.profile(ProvinceData.load(folder, lazy=True), month=MONTH)
    assert len(fp.table) == 2_000 and not (folder / derived.DERIVED_FOLDER).exists()


def test_a_second_caller_waits_for_the_first_and_reads_its_result(folder):
    lazy = ProvinceData.load(folder, lazy=True)
    frame = pd.DataFrame({"x": [1, 2, 3]}, index=pd.Index([7, 8, 9], name="user_id"))
    kw = {"tables": ["users"], "params": {"k": 1}, "code": "c"}
    path = derived.stored_path(lazy, "demo", **kw)
    path.parent.mkdir()
    calls, out = [], {}

    def compute():
        calls.append(1)
        return frame, {"n": 3}

    with open(path.with_suffix(".lock"), "a+") as held:  # the first caller, computing
        fcntl.flock(held, fcntl.LOCK_EX)
        second = threading.Thread(target=lambda: out.update(got=derived.stored(lazy, "demo", compute, **kw)))
        second.start()
        time.sleep(0.5)
        assert second.is_alive()  # waiting for the lock
        derived._write(path, frame.assign(x=[4, 5, 6]), {"n": 30, "_warnings": []})  # the first's result
    second.join(10)
    got, meta = out["got"]
    assert not calls and meta == {"n": 30} and got["x"].tolist() == [4, 5, 6]
    pd.testing.assert_index_equal(got.index, frame.index)
