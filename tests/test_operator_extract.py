"""A real-looking operator extract end to end: codes outside the simulator's catalog, mapped
through a catalog YAML, through `dmkit validate`, `rules.mine`, `rules.sequential` and `dmkit run`.

The extract (tests/operator_extract.py): 1,500 subscribers of a simulated province written as
an operator's BI export, every service code replaced by the operator's own (VAS_0001 ...),
subscriptions as a GBK CSV with the operator's column names and YYYYMMDDHHMMSS times, a
GB18030 catalog YAML and a mapping YAML naming columns, encoding, time format and catalog.
Rule counts are checked against brute-force counts written here. The fast tests plan the
batch without running a kernel; the slow one runs `dmkit run` on four notebooks.
"""
from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import pandas as pd
import pytest

import dmkit as dm
from dmkit.batch.kernels import kernel_environment
from dmkit.contract.catalog_yaml import load_catalog, use_catalog
from dmkit.errors import ParameterError
from dmkit.params import load_params
from dmkit.runner import plan
from tests.operator_extract import MONTH, PROVINCE, build_operator_extract
from tests.test_cli import one_line_error, run

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.fixture(scope="module")
def extract(tmp_path_factory):
    return build_operator_extract(tmp_path_factory.mktemp("operator"))


@pytest.fixture(scope="module")
def subscriptions(extract) -> pd.DataFrame:
    return dm.io.read_table(extract.data, "subscriptions", mapping=extract.mapping, province=PROVINCE, month=MONTH)


def _params(extract, text: str = "") -> Path:
    """A params file beside the extract, naming catalog and mapping relative to itself."""
    f = extract.root / "params" / PROVINCE / f"{MONTH}.yaml"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(f"data: {extract.data}\ncatalog: ../../catalog.yaml\nmapping: ../../mapping.yaml\n"
                 f"n_users: 1500\n{text}")
    return f


# --------------------------------------------------------------------------- reading and validate

def test_the_gbk_extract_reads_with_the_operators_codes(extract, subscriptions):
    assert not set(extract.codes.values()) & set(dm.catalog.SERVICES)
    assert set(subscriptions["service"]) <= set(extract.codes.values())
    # the GBK bytes decode: the Chinese product names are the catalog's, row by row
    assert (subscriptions["PROD_NAME"] == subscriptions["service"].map(extract.names)).all()
    assert "彩铃" in set(subscriptions["PROD_NAME"])
    assert load_catalog(extract.catalog).services["VAS_0003"] == "彩铃"
    # YYYYMMDDHHMMSS times are the written instants (not epoch nanoseconds)
    want = extract.subscriptions.sort_values(["user_id", "service", "start"]).reset_index(drop=True)
    got = subscriptions.sort_values(["user_id", "service", "start"]).reset_index(drop=True)
    pd.testing.assert_series_equal(got["start"], want["start"], check_dtype=False)
    pd.testing.assert_series_equal(got["end"], want["end"], check_dtype=False)


def test_dmkit_validate_passes_the_extract_under_its_catalog(extract, capsys):
    table = extract.data / "subscriptions"
    code, out, err = run(capsys, "validate", str(table), "--table", "subscriptions",
                         "--mapping", str(extract.mapping))
    assert code == 0, err
    assert f"OK: table 'subscriptions' keeps the contract: {len(extract.subscriptions):,} rows" in out
    assert f"catalog: {extract.catalog}" in out
    code, out, _ = run(capsys, "validate", str(table), "--table", "subscriptions", "--mapping",
                       str(extract.mapping), "--json")
    assert code == 0 and json.loads(out)["ok"] is True
    for t in ("kpis", "contacts"):  # the other tables with service codes, with --catalog
        code, out, err = run(capsys, "validate", str(extract.data), "--table", t, "--catalog", str(extract.catalog),
                             "--province", PROVINCE, "--month", MONTH)
        assert code == 0, err
    # under the simulator's catalog the operator's codes are named as not allowed
    code, _, err = run(capsys, "validate", str(extract.data), "--table", "kpis", "--province", PROVINCE,
                       "--month", MONTH)
    line = one_line_error(err, "dmkit validate: error:")
    assert code == 1 and "column 'service'" in line and "VAS_00" in line


# --------------------------------------------------------------------------- rules

def _frequent_by_brute_force(baskets: pd.DataFrame, min_count: int, max_len: int) -> dict:
    x = baskets.to_numpy(dtype=bool)
    single = [j for j in range(x.shape[1]) if x[:, j].sum() >= min_count]  # apriori: supersets of frequent
    out = {}
    for size in range(1, max_len + 1):
        for cols in combinations(single, size):
            c = int(x[:, list(cols)].all(axis=1).sum())
            if c >= min_count:
                out[frozenset(baskets.columns[list(cols)])] = c
    return out


def test_rules_mine_on_the_operators_codes_matches_a_brute_force(extract, subscriptions):
    users = dm.io.read_table(extract.data, "users", province=PROVINCE, month=MONTH)
    with use_catalog(extract.catalog):
        baskets = dm.rules.baskets_from_subscriptions(subscriptions, month=MONTH, users=users["user_id"])
    assert list(baskets.columns) == list(extract.codes.values())
    n = len(baskets)
    # the threshold sits exactly on a pair's count: c / n keeps the itemsets held by c baskets
    pairs = _frequent_by_brute_force(baskets, 1, 2)
    c = sorted(v for s, v in pairs.items() if len(s) == 2 and v >= 30)[0]
    rs = dm.rules.mine(baskets, min_support=c / n, max_len=3)
    ours = dict(zip(rs.itemsets["itemset"], rs.itemsets["count"], strict=True))
    assert ours == _frequent_by_brute_force(baskets, c, 3)
    assert any(v == c and len(s) == 2 for s, v in ours.items())
    rules = rs.rules
    assert len(rules) and set().union(*rules["antecedents"]) <= set(extract.codes.values())


def _sequences_by_brute_force(subs: pd.DataFrame, days: int) -> dict:
    """{(A, B): users whose first B is after their first A, at most ``days`` later}."""
    first = subs.groupby(["user_id", "service"])["start"].min()
    out: dict = {}
    for _, row in first.groupby(level="user_id"):
        times = row.droplevel("user_id")
        for a, ta in times.items():
            for b, tb in times.items():
                gap = tb - ta
                if a != b and pd.Timedelta(0) < gap <= pd.Timedelta(days=days):
                    out[(a, b)] = out.get((a, b), 0) + 1
    return out


def test_rules_sequential_on_the_operators_codes_matches_a_brute_force(subscriptions):
    n_users = subscriptions["user_id"].nunique()
    ref = _sequences_by_brute_force(subscriptions, 90)
    c = sorted(ref.values())[len(ref) // 2]  # a boundary count in the middle of the range
    seq = dm.rules.sequential(subscriptions, window="90D", min_support=c / n_users)
    got = {(a, b): k for a, b, k in seq.rules[["first", "then", "count"]].itertuples(index=False)}
    assert got == {k: v for k, v in ref.items() if v >= c}
    assert all(a.startswith("VAS_") for a, _ in got)


# --------------------------------------------------------------------------- the batch, planned

def test_params_catalog_and_mapping_are_read_relative_to_the_params_file(extract):
    p = load_params(_params(extract))
    assert (p.catalog, p.mapping) == (str(extract.catalog.resolve()), str(extract.mapping.resolve()))
    env = kernel_environment(extract.root, catalog=p.catalog_file(), mapping=p.mapping)
    assert env["DMKIT_CATALOG"] == str(extract.catalog.resolve())
    assert env["DMKIT_MAPPING"] == str(extract.mapping.resolve())
    assert "DMKIT_CATALOG" not in kernel_environment(extract.root)  # the batch's own, inherited
    # without its own catalog key, the mapping's catalog: entry is the kernels' catalog
    no_key = _params(extract).read_text().replace("catalog: ../../catalog.yaml\n", "")
    f = extract.root / "params" / PROVINCE / f"{MONTH}.yaml"
    f.write_text(no_key)
    assert load_params(f).catalog is None and load_params(f).catalog_file() == str(extract.catalog.resolve())


def test_without_a_catalog_key_the_process_catalog_is_the_kernels(extract, monkeypatch, tmp_path):
    f = tmp_path / PROVINCE / f"{MONTH}.yaml"
    f.parent.mkdir()
    f.write_text("n_users: 1000\n")
    monkeypatch.delenv("DMKIT_CATALOG", raising=False)
    assert load_params(f).catalog_file() is None
    monkeypatch.setenv("DMKIT_CATALOG", str(extract.catalog))
    assert load_params(f).catalog_file() == str(extract.catalog)
    # and the plan judges the notebooks by it
    jobs = plan(f, notebooks=["yunnan_newspaper"], notebook_dir=NOTEBOOKS, out=tmp_path / "r")
    assert "not in the catalog" in jobs[0].skip


def test_the_kernels_mapping_reaches_load_province(extract, monkeypatch):
    monkeypatch.setenv("DMKIT_MAPPING", str(extract.mapping))
    monkeypatch.setenv("DMKIT_CATALOG", str(extract.catalog))
    pdata = dm.io.load_province(extract.data, province=PROVINCE, month=MONTH)
    assert pdata.truth is None and len(pdata.subscriptions) == len(extract.subscriptions)
    assert set(pdata.subscriptions["service"]) <= set(extract.codes.values())


@pytest.mark.parametrize("text, wording", [
    ("catalog: nowhere.yaml\n", "key 'catalog': expected an existing catalog YAML file"),
    ("catalog: ../../bad_catalog.yaml\n", "key 'catalog': the catalog file .* is not usable: .*unknown section 'service'"),
    ("catalog: ../../dup_catalog.yaml\n", "key 'catalog': the catalog file .* is not usable: .*VAS_0001"),
    ("mapping: ../../bad_mapping.yaml\n", "key 'mapping': the mapping file .* is not usable: .*unknown table 'subscription'"),
    ("catalog: 7\n", "key 'catalog': expected the path of the operator's catalog YAML"),
])
def test_a_bad_catalog_or_mapping_is_named_before_any_work(extract, text, wording):
    (extract.root / "bad_catalog.yaml").write_text("service:\n  VAS_0001: x\n")
    (extract.root / "dup_catalog.yaml").write_text("services:\n  VAS_0001: x\n  VAS_0001: y\n")
    (extract.root / "bad_mapping.yaml").write_text("subscription:\n  SERV_NUMBER: user_id\n")
    f = _params(extract)
    f.write_text(f.read_text().replace("catalog: ../../catalog.yaml\n", "").replace(
        "mapping: ../../mapping.yaml\n", "") + text)
    with pytest.raises(ParameterError, match=f"^{f}: {wording}"):
        load_params(f)


def test_a_mapping_needs_extracts_and_run_options_are_checked(extract, capsys):
    f = _params(extract)
    with pytest.raises(ParameterError, match="key 'mapping': expected a mapping only with data: a folder"):
        load_params(f).with_overrides(data="synth")
    code, _, err = run(capsys, "run", "--params-root", str(extract.root / "params"), "-p", PROVINCE, "-m", MONTH,
                       "--catalog", str(extract.root / "missing.yaml"), "--no-progress")
    assert code == 2 and "key 'catalog': expected an existing catalog YAML file" in one_line_error(err, "dmkit run: error:")


def test_notebooks_that_do_not_apply_are_skipped_with_the_reason(extract):
    f = _params(extract, "thresholds:\n  yunnan_securities: {target: VAS_0014}\n")
    names = ["music_campaign", "yunnan_crbt_states", "yunnan_newspaper", "operations_loop",
             "yunnan_securities", "yunnan_sms_segments", "guangzhou_rule_library"]
    jobs = {j.notebook: j.skip for j in plan(f, notebooks=names, notebook_dir=NOTEBOOKS, out=extract.root / "r")}
    assert jobs["music_campaign"].startswith("needs the simulator (dmkit.synth.music_campaign)")
    assert jobs["yunnan_newspaper"].startswith(
        "parameter 'service' names the simulator service code(s) ['newspaper'], not in the catalog")
    assert "thresholds.yunnan_newspaper.service" in jobs["yunnan_newspaper"]
    assert jobs["yunnan_crbt_states"].startswith("written for the simulator's catalog: dm.lifecycle")
    assert "['new_services']" in jobs["yunnan_newspaper"]
    assert jobs["operations_loop"].startswith("written for the simulator's catalog: the closed loop")
    assert jobs["guangzhou_rule_library"].startswith("written for the simulator's catalog")
    # overridden by the params (securities' target), or naming usage columns only (features)
    assert jobs["yunnan_securities"] == "" and jobs["yunnan_sms_segments"] == ""
    # the simulator's own data and catalog: everything applies
    synth = extract.root / "synth" / PROVINCE / f"{MONTH}.yaml"
    synth.parent.mkdir(parents=True, exist_ok=True)
    synth.write_text("n_users: 1000\n")
    assert all(not j.skip for j in plan(synth, notebooks=names, notebook_dir=NOTEBOOKS))
    # a catalog that extends the simulator's keeps its codes: only the data decides
    (extract.root / "ext_catalog.yaml").write_text("extends: simulator\nservices:\n  VAS_9999: new\n")
    ext = {j.notebook: j.skip for j in plan(f, notebooks=names, notebook_dir=NOTEBOOKS,
                                           catalog=extract.root / "ext_catalog.yaml")}
    assert [k for k, v in ext.items() if v] == ["music_campaign"]


def test_the_simulator_catalog_registry_names_real_notebooks():
    from dmkit.batch.applies import SIMULATOR_CATALOG, needs_simulator

    assert set(SIMULATOR_CATALOG) <= {p.stem for p in NOTEBOOKS.glob("*.ipynb")}
    assert not any(needs_simulator(NOTEBOOKS / f"{n}.ipynb") for n in SIMULATOR_CATALOG)


# --------------------------------------------------------------------------- the batch, run

@pytest.mark.slow
def test_dmkit_run_on_the_operator_extract(extract, capsys):
    f = _params(extract, "thresholds:\n  yunnan_securities: {target: VAS_0014}\n"
                         "  yunnan_health: {focus_service: VAS_0001}\n")   # VAS_0001: the operator's P2P SMS
    out = extract.root / "reports"
    code, stdout, err = run(capsys, "run", "--params-root", str(f.parent.parent), "-p", PROVINCE, "-m", MONTH,
                            "--out", str(out), "--jobs", "2", "--no-progress",
                            "-n", "yunnan_securities", "-n", "yunnan_sms_segments",
                            "-n", "music_campaign", "-n", "yunnan_crbt_states", "-n", "yunnan_health")
    assert code == 0, stdout + err
    assert "dmkit run: 3 passed, 0 failed, 2 skipped (not applicable) of 5 notebooks" in stdout
    assert "music_campaign skipped: needs the simulator" in stdout
    folder = out / PROVINCE / MONTH
    assert not (folder / "music_campaign.ipynb").exists()
    securities = (folder / "yunnan_securities.ipynb").read_text(encoding="utf-8")
    assert "VAS_0014" in securities and "Traceback" not in securities
    health = (folder / "yunnan_health.ipynb").read_text(encoding="utf-8")
    assert "No planted loadings on this data" in health and "Traceback" not in health
    index = (folder / "index.html").read_text(encoding="utf-8")
    assert "3 of 5 reports passed (2 skipped: not applicable to this data)" in index
    assert index.count('class="skipped"') == 2
