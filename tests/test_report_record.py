"""dm.report.record: figures and headline figures for the tests and the index; dm.runner.record is an alias."""
from __future__ import annotations

import json

import numpy as np
import pytest

import dmkit as dm
from dmkit.errors import DataNotFoundError, ParameterError
from dmkit.report.record import read_headline, read_record, read_title, record


def test_figures_and_headline_round_trip(tmp_path):
    record(tmp_path, "demo", {"sent": np.int64(4710), "response_rate": np.float64(0.0179), "x": float("nan")},
           headline=[("sent", "Offers sent", "count"), ("response_rate", "Replied / delivered", "percent")],
           title="Jiangsu, 2009-06: The campaign")
    assert read_title(tmp_path, "demo") == "Jiangsu, 2009-06: The campaign"
    assert read_record(tmp_path, "demo") == {"sent": 4710, "response_rate": 0.0179, "x": None}
    heads = read_headline(tmp_path, "demo")
    assert [(h.label, h.text) for h in heads] == [("Offers sent", "4,710"), ("Replied / delivered", "1.8%")]
    assert json.loads((tmp_path / "demo.json").read_text()) == read_record(tmp_path, "demo")


def test_headline_must_name_recorded_figures(tmp_path):
    with pytest.raises(ParameterError, match="headline.*missing"):
        record(tmp_path, "demo", {"a": 1}, headline=[("missing", "Missing", "count")])
    with pytest.raises(ParameterError, match="kind"):
        record(tmp_path, "demo", {"a": 1}, headline=[("a", "A", "bytes")])
    assert not (tmp_path / "demo.json").exists()


def test_stale_headline_is_ignored_and_a_rerun_without_headline_removes_it(tmp_path):
    record(tmp_path, "demo", {"a": 1}, headline=[("a", "A", "count")])
    (tmp_path / "demo.json").unlink()  # as the batch does before a rerun
    assert read_headline(tmp_path, "demo") == []
    record(tmp_path, "demo", {"a": 2})
    assert not (tmp_path / "demo.headline.json").exists()


def test_read_record_says_why_nothing_is_there(tmp_path):
    with pytest.raises(DataNotFoundError, match="dm.report.record"):
        read_record(tmp_path, "viral_sms")


def test_runner_record_is_the_report_record():
    assert dm.runner.record is dm.report.record
    assert dm.runner.read_record is dm.report.read_record
