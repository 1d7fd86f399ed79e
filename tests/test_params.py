"""dmkit.params: the shipped params files, the merge over defaults, and the errors."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from dmkit.errors import DataNotFoundError, ParameterError
from dmkit.params import (
    NOTEBOOK_PARAMETERS,
    PROVINCES,
    all_params,
    load_params,
    params_for,
    select_params,
)

ROOT = Path(__file__).resolve().parent.parent / "params"


def _months(first: str, last: str) -> list[str]:
    y, m = map(int, first.split("-"))
    out = []
    while f"{y}-{m:02d}" <= last:
        out.append(f"{y}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


# --------------------------------------------------------------------------- shipped files

@pytest.mark.parametrize("province, first, last", [
    ("yunnan", "2008-05", "2008-11"),
    ("jiangsu", "2009-01", "2009-06"),
    ("guangdong", "2008-09", "2008-12"),
])
def test_case_months_have_params_files(province, first, last):
    have = {p.stem for p in all_params(root=ROOT) if p.parent.name == province}
    assert set(_months(first, last)) <= have


def test_every_shipped_file_loads_and_agrees_with_its_path():
    files = all_params(root=ROOT)
    assert {p.parent.name for p in files} == set(PROVINCES)
    for path in files:
        p = load_params(path)
        assert (p.province, p.month) == (path.parent.name, path.stem)
        assert p.data == "synth" and p.n_users > 0
        assert p.out_dir == f"reports/{p.province}/{p.month}"


def test_defaults_are_merged_and_file_overrides(tmp_path):
    (tmp_path / "defaults.yaml").write_text(
        "n_users: 1_000\nseed: 3\nout_dir: 'out/{province}-{month}-{n_users}'\n"
        "thresholds:\n  viral_sms: {k: 3, min_share: 0.1}\n")
    f = tmp_path / "jiangsu" / "2009-06.yaml"
    f.parent.mkdir()
    f.write_text("seed: 11\nthresholds:\n  viral_sms: {k: 4}\n  jiangsu_campaign: {alpha: 0.05}\n")
    p = load_params(f)
    assert (p.province, p.month, p.n_users, p.seed) == ("jiangsu", "2009-06", 1000, 11)
    assert p.out_dir == "out/jiangsu-2009-06-1000"
    assert p.notebook_parameters("viral_sms") == {
        "province": "jiangsu", "month": "2009-06", "data": "synth", "n_users": 1000,
        "seed": 11, "out_dir": "out/jiangsu-2009-06-1000", "k": 4, "min_share": 0.1}
    assert set(p.notebook_parameters("yunnan_health")) == set(NOTEBOOK_PARAMETERS)
    assert p.with_overrides(n_users=5).n_users == 5
    assert (p.engine, p.spark_master) == ("pandas", None)
    assert p.with_overrides(engine="spark").engine == "spark"
    with pytest.raises(ParameterError, match="key 'engine'"):
        p.with_overrides(engine="dask")


def test_spark_master_is_read(tmp_path):
    f = tmp_path / "jiangsu" / "2009-06.yaml"
    f.parent.mkdir()
    f.write_text("engine: spark\nspark_master: spark://head:7077\n")
    p = load_params(f)
    assert (p.engine, p.spark_master) == ("spark", "spark://head:7077")


def test_select_params(tmp_path):
    for prov, month in [("jiangsu", "2009-05"), ("jiangsu", "2009-06"), ("yunnan", "2009-05")]:
        (tmp_path / prov).mkdir(exist_ok=True)
        (tmp_path / prov / f"{month}.yaml").write_text("")
    assert select_params(province="jiangsu", month="2009-06", root=tmp_path) == [
        tmp_path / "jiangsu" / "2009-06.yaml"]
    assert [p.stem for p in select_params(province="jiangsu", root=tmp_path)] == ["2009-05", "2009-06"]
    assert len(select_params(all_files=True, root=tmp_path)) == 3
    with pytest.raises(ParameterError, match="--province"):
        select_params(root=tmp_path)
    with pytest.raises(ParameterError, match="not both"):
        select_params(all_files=True, province="jiangsu", root=tmp_path)
    with pytest.raises(DataNotFoundError, match=r"months available for 'jiangsu': \['2009-05', '2009-06'\]"):
        params_for("jiangsu", "2009-07", root=tmp_path)


# --------------------------------------------------------------------------- errors

def _write(tmp_path: Path, text: str, name: str = "jiangsu/2009-06.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, key, wording", [
    ("n_userz: 10\n", "n_userz", "known keys"),
    ("n_users: 50k\n", "n_users", "integer >= 1"),
    ("n_users: true\n", "n_users", "integer >= 1"),
    ("n_users: 0\n", "n_users", "integer >= 1"),
    ("seed: -1\n", "seed", "integer >= 0"),
    ("seed: 1.5\n", "seed", "integer >= 0"),
    ("engine: dask\n", "engine", "pandas"),
    ("spark_master: 7077\n", "spark_master", "master URL"),
    ("spark_master: ''\n", "spark_master", "master URL"),
    ("notebooks: [viral_sms, no_such_notebook]\n", "notebooks", "notebook names"),
    ("notebooks: viral_sms\n", "notebooks", "'all' or a list"),
    ("data: /no/such/folder/of/extracts\n", "data", "existing folder"),
    ("data: 42\n", "data", "'synth' or"),
    ("out_dir: 'reports/{region}'\n", "out_dir", "templated"),
    ("thresholds: {no_such_notebook: {k: 3}}\n", "thresholds.no_such_notebook", "notebook name"),
    ("thresholds: {viral_sms: 3}\n", "thresholds.viral_sms", "mapping"),
    ("thresholds: {viral_sms: {k: {a: 1}}}\n", "thresholds.viral_sms.k", "number, string"),
    ("thresholds: {viral_sms: {n_users: 10}}\n", "thresholds.viral_sms.n_users", "identifier other than"),
    ("province: yunnan\n", "province", "the file's path says so"),
    ("month: \"2009-07\"\n", "month", "the file's path says so"),
])
def test_errors_name_file_and_key(tmp_path, text, key, wording):
    path = _write(tmp_path, text)
    with pytest.raises(ParameterError, match=re.escape(f"{path}: key {key!r}: expected")) as info:
        load_params(path)
    assert wording in str(info.value)
    assert info.value.parameter == key


@pytest.mark.parametrize("text, found", [
    ("month: \"2009-13\"\n", "'2009-13'"),
    ("month: \"2009-6\"\n", "'2009-6'"),
    ("month: 2009-06-01\n", "datetime.date(2009, 6, 1)"),   # unquoted date: YAML makes a date
    ("month: 200906\n", "200906"),
])
def test_malformed_month(tmp_path, text, found):
    path = _write(tmp_path, "province: jiangsu\n" + text, name="run.yaml")
    with pytest.raises(ParameterError, match=re.escape(f"{path}: key 'month': expected")) as info:
        load_params(path)
    assert found in str(info.value) and "quoted string" in str(info.value)


def test_unknown_province_and_missing_month(tmp_path):
    path = _write(tmp_path, "province: tibet\nmonth: '2009-06'\n", name="run.yaml")
    with pytest.raises(ParameterError, match=re.escape(f"{path}: key 'province'") + ".*yunnan"):
        load_params(path)
    path = _write(tmp_path, "province: jiangsu\n", name="run2.yaml")
    with pytest.raises(ParameterError, match=re.escape(f"{path}: key 'month'") + ".*add 'month:'"):
        load_params(path)


def test_unknown_key_in_defaults_names_the_defaults_file(tmp_path):
    defaults = _write(tmp_path, "colour: red\n", name="defaults.yaml")
    path = _write(tmp_path, "")
    with pytest.raises(ParameterError, match=re.escape(f"{defaults}: key 'colour'")):
        load_params(path)


def test_bad_yaml_and_missing_file(tmp_path):
    path = _write(tmp_path, "n_users: [1, 2\n")
    with pytest.raises(ParameterError, match=re.escape(f"{path}: not valid YAML")):
        load_params(path)
    path = _write(tmp_path, "- a list\n- not a mapping\n")
    with pytest.raises(ParameterError, match=re.escape(f"{path}: expected a mapping")):
        load_params(path)
    with pytest.raises(DataNotFoundError, match="does not exist"):
        load_params(tmp_path / "nope.yaml")


def test_yaml_is_loaded_safely(tmp_path):
    path = _write(tmp_path, "seed: !!python/object/apply:os.getcwd []\n")
    with pytest.raises(ParameterError, match="not valid YAML"):
        load_params(path)


def test_real_extract_folder_is_accepted(tmp_path):
    (tmp_path / "extracts").mkdir()
    path = _write(tmp_path, f"data: {tmp_path / 'extracts'}\n")
    assert load_params(path).data == str(tmp_path / "extracts")
