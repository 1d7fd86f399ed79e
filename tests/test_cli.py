"""The dmkit command line: help, exit codes and one-line error messages (no tracebacks)."""
from __future__ import annotations

import subprocess
import sys
import types

import pandas as pd
import pytest

from dmkit import cli, io
from tests.contract_frames import frame


def run(capsys, *args: str) -> tuple[int, str, str]:
    """Call the console entry point in-process; return (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        cli.main([*args])
    out, err = capsys.readouterr()
    return info.value.code, out, err


def one_line_error(err: str, prefix: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(prefix), err
    assert "Traceback" not in err
    return lines[0]


def test_help_lists_the_commands(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for word in ("synth", "validate", "run", "data contract"):
        assert word in out
    code2, out2, _ = run(capsys)  # no arguments: the same help
    assert code2 == 0 and out2 == out


def test_version(capsys):
    import dmkit

    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"dmkit {dmkit.__version__}"


@pytest.mark.parametrize("command", ["synth", "validate"])
def test_command_help(capsys, command):
    code, out, _ = run(capsys, command, "--help")
    assert code == 0 and "Usage: dmkit " + command in " ".join(out.split())


@pytest.mark.parametrize(("args", "code", "message"), [
    (["synth", "--month", "2009-13"], 2,
     "dmkit synth: error: parameter 'month': expected a month 'YYYY-MM' (e.g. '2009-06'); got '2009-13'"),
    (["synth", "--month", "June"], 2, "dmkit synth: error: parameter 'month'"),
    (["synth", "--users", "-5"], 2, "dmkit synth: error: parameter 'users': expected a value in [1, inf); got -5"),
    (["synth", "--users", "0"], 2, "dmkit synth: error: parameter 'users'"),
    (["synth", "--seed", "-1"], 2, "dmkit synth: error: parameter 'seed'"),
    (["synth", "--users", "many"], 2, "dmkit synth: error: Invalid value for '--users'"),
    (["synth", "--format", "xlsx"], 2, "dmkit synth: error: Invalid value for '--format'"),
    (["synth", "--bogus"], 2, "dmkit synth: error: No such option: --bogus"),
    (["frobnicate"], 2, "dmkit: error: No such command 'frobnicate'"),
    (["validate"], 2, "dmkit validate: error: Missing argument 'PATH'"),
])
def test_bad_arguments_exit_non_zero_with_one_line(capsys, args, code, message):
    got, out, err = run(capsys, *args)
    assert got == code
    line = one_line_error(err, message.split(":")[0])
    assert message.lower() in line.lower()
    assert out == ""


def test_unwritable_output_is_refused_before_any_work(capsys, tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    from dmkit import synth

    monkeypatch.setattr(synth, "generate", lambda *a, **k: pytest.fail("simulated before checking --out"))
    code, _, err = run(capsys, "synth", "--out", str(blocker / "sub"), "--users", "100")
    assert code == 2
    line = one_line_error(err, "dmkit synth: error: parameter 'out': expected a writable folder")
    assert str(blocker / "sub") in line


def test_validate_prints_ok_with_the_row_count(capsys, tmp_path):
    io.write_table(frame("usage"), "usage", tmp_path, province="jiangsu", month="2009-06")
    code, out, err = run(capsys, "validate", str(tmp_path), "--table", "usage")
    assert code == 0 and err == ""
    assert out.startswith("OK: table 'usage' keeps the contract: 4 rows")
    code, out, _ = run(capsys, "validate", str(tmp_path), "--table", "usage", "--month", "2009-05")
    assert code == 0 and ": 1 rows" in out


def test_validate_reports_the_schema_error_in_one_line(capsys, tmp_path):
    df = frame("usage")
    df.loc[3, "call_days"] = 40
    df.to_csv(tmp_path / "usage.csv", index=False)
    code, out, err = run(capsys, "validate", str(tmp_path / "usage.csv"), "--table", "usage")
    assert code == 1 and out == ""
    line = one_line_error(err, "dmkit validate: error: table 'usage', column 'call_days': expected values <= 31")
    assert "(user_id=3, month='2009-06')" in line


def test_validate_with_a_mapping(capsys, tmp_path):
    df = frame("revenue").rename(columns={"month": "STAT_MONTH", "amount": "INCOME_AMT"})
    df["STAT_MONTH"] = df["STAT_MONTH"].str.replace("-", "")
    df.to_csv(tmp_path / "rev.csv", index=False)
    mapping = tmp_path / "m.yaml"
    mapping.write_text("revenue:\n  STAT_MONTH: month\n  INCOME_AMT: amount\n")
    code, out, _ = run(capsys, "validate", str(tmp_path / "rev.csv"), "--table", "revenue",
                       "--mapping", str(mapping))
    assert code == 0 and "3 rows" in out
    code, _, err = run(capsys, "validate", str(tmp_path / "rev.csv"), "--table", "revenue")
    assert code == 1
    one_line_error(err, "dmkit validate: error: table 'revenue', column 'month': expected columns")
    mapping.write_text("revenue:\n  STAT_MONTH: months\n")
    code, _, err = run(capsys, "validate", str(tmp_path / "rev.csv"), "--table", "revenue",
                       "--mapping", str(mapping))
    assert code == 2
    one_line_error(err, "dmkit validate: error: mapping file")


@pytest.mark.parametrize(("args", "code", "message"), [
    (["validate", "/no/such/place", "--table", "usage"], 1,
     "dmkit validate: error: table 'usage': path '/no/such/place' does not exist"),
    (["validate", ".", "--table", "usages"], 2,
     "dmkit validate: error: parameter 'table': expected one of ['users', 'usage'"),
    (["validate", ".", "--table", "usage", "--month", "2009-6"], 2,
     "dmkit validate: error: parameter 'month'"),
])
def test_validate_bad_paths_and_tables(capsys, args, code, message):
    got, _, err = run(capsys, *args)
    assert got == code
    assert message in one_line_error(err, "dmkit validate: error:")


def test_run_passes_its_arguments_to_the_batch(capsys, monkeypatch):
    import dmkit.batch
    import dmkit.params

    calls = []

    def select_params(**kwargs):
        calls.append(("select", kwargs))
        return ["params/jiangsu/2009-06.yaml"]

    def run_batch(files, **kwargs):
        calls.append(("batch", files, kwargs))
        return types.SimpleNamespace(summary=lambda: "the pass/fail table", exit_code=3)

    monkeypatch.setattr(dmkit.params, "select_params", select_params)
    monkeypatch.setattr(dmkit.batch, "run_batch", run_batch)
    code, out, _ = run(capsys, "run", "--province", "jiangsu", "--month", "2009-06", "--jobs", "2")
    assert code == 3
    assert calls[0] == ("select", {"province": "jiangsu", "month": "2009-06", "all_files": False,
                                   "root": "params"})
    assert calls[1][1] == ["params/jiangsu/2009-06.yaml"] and calls[1][2]["jobs"] == 2
    assert "the pass/fail table" in out
    code, out, _ = run(capsys, "run", "--help")  # the run command's own help
    assert code == 0 and "--province" in out and len(calls) == 2


def test_run_turns_dmkit_errors_into_one_line(capsys, monkeypatch):
    import dmkit.params
    from dmkit.errors import DataNotFoundError

    def select_params(**kwargs):
        raise DataNotFoundError("params file 'params/mars/2009-06.yaml' does not exist")

    monkeypatch.setattr(dmkit.params, "select_params", select_params)
    code, _, err = run(capsys, "run", "--province", "mars")
    assert code == 1
    one_line_error(err, "dmkit run: error: params file 'params/mars/2009-06.yaml' does not exist")


def test_python_dash_m_dmkit_works_and_shows_no_traceback(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "dmkit", "--help"], capture_output=True, text=True,
                        timeout=120)
    assert ok.returncode == 0 and "validate" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "dmkit", "synth", "--month", "2009-6", "--out",
                          str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "dmkit synth: error: parameter 'month': expected a month 'YYYY-MM' (e.g. '2009-06'); got '2009-6'"]


# --- with the simulator -------------------------------------------------------------
def test_synth_writes_valid_tables_that_load_back(capsys, tmp_path):
    from dmkit import schema, synth

    if not hasattr(synth, "generate"):
        pytest.skip("dmkit.synth.generate has not landed yet")
    out = tmp_path / "gen"
    code, stdout, err = run(capsys, "synth", "--province", "yunnan", "--month", "2009-05",
                            "--users", "2000", "--seed", "3", "--out", str(out), "--format", "csv")
    assert code == 0, err
    assert "wrote 8 tables" in stdout
    for table in schema.TABLES:
        assert list((out / table).rglob("part.csv")), table
    pdata = io.load_province(out, province="yunnan", month="2009-05")
    direct = synth.generate("yunnan", month="2009-05", n_users=2000, seed=3)
    for table in schema.TABLES:
        keys = list(schema.KEYS[table])
        got, want = getattr(pdata, table), getattr(direct, table)
        cats = [c for c in want.columns if isinstance(want[c].dtype, pd.CategoricalDtype)]
        want = want.astype(dict.fromkeys(cats, object))
        pd.testing.assert_frame_equal(got.sort_values(keys, ignore_index=True),
                                      want.sort_values(keys, ignore_index=True), check_dtype=False)
    assert pdata.truth is not None and pdata.truth.seed == 3


def test_synth_unknown_province_is_one_line(capsys, tmp_path):
    from dmkit import synth

    if not hasattr(synth, "generate"):
        pytest.skip("dmkit.synth.generate has not landed yet")
    code, _, err = run(capsys, "synth", "--province", "atlantis", "--users", "100", "--out", str(tmp_path))
    assert code == 2
    line = one_line_error(err, "dmkit synth: error: parameter 'province'")
    assert "atlantis" in line


@pytest.mark.parametrize("args", [["run", "--jobs", "x"], ["run", "--bogus"]])
def test_run_bad_arguments_are_one_line(capsys, args):
    code, _, err = run(capsys, *args)
    assert code == 2
    one_line_error(err, "dmkit run: error:")
