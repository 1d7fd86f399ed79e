"""dmkit loop: the closed loop from the command line, writing OUT/loop.json."""
from __future__ import annotations

import json

import pytest

from dmkit import cli


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        cli.main([*args])
    out, err = capsys.readouterr()
    return info.value.code, out, err


def test_loop_writes_loop_json_and_resumes(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("DMKIT_CACHE_DIR", str(tmp_path / "cache"))
    args = ["loop", "--province", "guangdong", "--from", "2009-01", "--months", "1", "--users", "4000",
            "--policy", "model", "--out", str(tmp_path / "loop"), "--no-progress"]
    code, out, err = run(capsys, *args)
    assert code == 0, err
    doc = json.loads((tmp_path / "loop" / "loop.json").read_text())
    assert doc["config"]["policy"] == "model" and doc["config"]["n_users"] == 4000
    assert [r["month"] for r in doc["monthly"]] == ["2009-01"]
    assert doc["monthly"][0]["contacted"] > 100 and "cumulative take-up" in out
    # a longer run in the same folder continues from the month done
    code, out, err = run(capsys, *[a if a != "1" else "2" for a in args])
    assert code == 0, err
    doc = json.loads((tmp_path / "loop" / "loop.json").read_text())
    assert [r["month"] for r in doc["monthly"]] == ["2009-01", "2009-02"]


@pytest.mark.parametrize("extra, code, message", [
    (["--policy", "best"], 2, "dmkit loop: error:"),
    (["--from", "2009-13"], 2, "dmkit loop: error: parameter 'start'"),
    (["--data", "no/such/folder"], 1, "dmkit loop: error:"),
])
def test_bad_arguments_are_one_line(capsys, tmp_path, extra, code, message):
    got, _, err = run(capsys, "loop", "--out", str(tmp_path / "x"), "--months", "1", *extra)
    assert got == code
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message) and "Traceback" not in err
