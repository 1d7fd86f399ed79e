"""The operator's catalog YAML: codes the simulator has never seen go through validate and the methods.

The fixture ``tests/fixtures/operator_extract`` is a small GBK-encoded subscriptions
extract with the operator's own product and channel codes (XW001, CL100, ..., "10086"),
its mapping YAML (encoding, date format, ``catalog:``) and its catalog YAML.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import dmkit as dm
from dmkit import catalog, io, schema
from dmkit.errors import DataNotFoundError, ParameterError, SchemaError
from tests.contract_frames import frame
from tests.test_cli import run

FIXTURE = Path(__file__).parent / "fixtures" / "operator_extract"
EXTRACT, MAPPING, CATALOG = FIXTURE / "subscriptions.csv", FIXTURE / "mapping.yaml", FIXTURE / "catalog.yaml"


def _raw() -> pd.DataFrame:
    """The extract read independently (pandas, GBK, no dmkit)."""
    raw = pd.read_csv(EXTRACT, encoding="gbk", dtype=str)
    return raw.rename(columns={"用户号码": "user", "业务代码": "svc", "订购时间": "start", "退订时间": "end"})


def test_the_simulator_catalog_is_the_default():
    cat = catalog.active_catalog()
    assert cat.source == "simulator"
    assert cat.service_codes == catalog.SERVICES and len(cat.service_codes) == 35
    assert cat.codes("channels") == catalog.CHANNELS and cat.codes("brands") == catalog.BRANDS
    assert cat.services["crbt"] == catalog.SERVICE_NAMES["crbt"]


def test_a_catalog_yaml_gives_codes_names_and_groups():
    cat = catalog.load_catalog(CATALOG)
    assert cat.service_codes == ("XW001", "XW002", "CL100", "YY200", "FX300", "ZQ400")
    assert cat.services["XW001"].startswith("手机报早报")
    assert cat.group_of("XW002") == "newspaper" and cat.group_of("CL100") == "crbt"
    assert cat.codes("channels") == ("10086", "SMS", "WWW", "HALL")
    assert cat.codes("brands") == catalog.BRANDS  # a section left out is the simulator's
    frame_ = cat.to_frame()
    assert set(frame_["vocabulary"]) == {"services", "channels", "brands", "genres"}
    assert "6 services, 4 channels, 3 brands" in cat.summary()


def test_extends_simulator_adds_codes_to_the_35():
    cat = catalog.load_catalog({"extends": "simulator", "services": {"XW001": "morning paper"}})
    assert len(cat.service_codes) == 36 and cat.service_codes[-1] == "XW001"


@pytest.mark.parametrize(("content", "message"), [
    ("services: [a, b]\nfoo: 1\n", r"unknown section 'foo'"),
    ("services: {}\n", r"section 'services': expected a non-empty mapping"),
    ("services:\n  A: {name: x, colour: red}\n", r"services code 'A': unknown key 'colour'"),
    ("services:\n  A: {name: 3}\n", r"services code 'A': name must be text"),
    ("services:\n  A: x\n  A: y\n", r"key 'A' is given twice \(lines 2 and 3\)"),
    ("extends: other\n", r"'extends' must be 'simulator'"),
    ("- a\n- b\n", r"expected a mapping with sections"),
])
def test_a_bad_catalog_file_is_named(tmp_path, content, message):
    path = tmp_path / "cat.yaml"
    path.write_text(content)
    with pytest.raises(ParameterError, match=r"catalog file '.*cat.yaml'.*" + message):
        catalog.load_catalog(path)
    with pytest.raises(DataNotFoundError, match=r"catalog file '.*none.yaml' does not exist"):
        catalog.load_catalog(tmp_path / "none.yaml")


def test_use_catalog_switches_the_codes_the_contract_checks_and_restores_them():
    subs = frame("subscriptions").assign(service=["XW001", "CL100", "XW002"], channel=["SMS", "10086", "WWW"])
    with pytest.raises(SchemaError, match=r"column 'service': expected one of \['sms_p2p'.*\.\.\. \(23 more\)\]"):
        schema.validate(subs, "subscriptions")
    with catalog.use_catalog(CATALOG) as cat:
        assert catalog.active_catalog() is cat
        schema.validate(subs, "subscriptions")
        with pytest.raises(SchemaError, match=r"column 'service': expected one of \['XW001'"):
            schema.validate(frame("subscriptions"), "subscriptions")  # the simulator's codes are not its
    assert catalog.active_catalog().source == "simulator"
    schema.validate(frame("subscriptions"), "subscriptions")


def test_the_catalog_can_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("DMKIT_CATALOG", str(CATALOG))
    assert catalog.active_catalog().service_codes[0] == "XW001"
    monkeypatch.delenv("DMKIT_CATALOG")
    assert catalog.active_catalog().source == "simulator"


def test_an_operator_extract_reads_through_its_mapping_and_catalog():
    subs = io.read_table(EXTRACT, "subscriptions", mapping=MAPPING)
    raw = _raw()
    assert len(subs) == len(raw) == 49
    assert subs["service"].tolist() == raw["svc"].tolist()
    assert subs["start"].iloc[0] == pd.Timestamp("2009-01-01 08:30:00")  # %Y%m%d%H%M%S from the mapping
    assert subs["end"].notna().sum() == raw["end"].notna().sum() == 4
    assert set(subs["channel"]) == {"10086", "SMS", "WWW", "HALL"}
    with pytest.raises(SchemaError, match=r"column 'service': expected one of \['sms_p2p'"):
        io.read_table(EXTRACT, "subscriptions", mapping={"encoding": "gbk", "date_format": "%Y%m%d%H%M%S",
                                                         "subscriptions": io.load_mapping(MAPPING)["subscriptions"]})


def test_an_operator_extract_passes_dmkit_validate(capsys):
    code, out, err = run(capsys, "validate", str(EXTRACT), "--table", "subscriptions", "--mapping", str(MAPPING))
    assert code == 0 and err == "", err
    assert out.startswith("OK: table 'subscriptions' keeps the contract: 49 rows")
    assert "catalog.yaml" in out
    code, out, _ = run(capsys, "validate", str(EXTRACT), "--table", "subscriptions", "--mapping", str(MAPPING),
                       "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["n_rows"] == 49 and report["failures"] == []


def test_without_its_catalog_the_extract_is_refused_with_every_unknown_code_column(capsys, tmp_path):
    mapping = tmp_path / "m.yaml"
    mapping.write_text("\n".join(line for line in MAPPING.read_text(encoding="utf-8").splitlines()
                                 if not line.startswith("catalog:")), encoding="utf-8")
    code, out, _ = run(capsys, "validate", str(EXTRACT), "--table", "subscriptions", "--mapping", str(mapping),
                       "--json")
    report = json.loads(out)
    assert code == 1 and not report["ok"]
    assert [(f["column"], f["check"], f["count"]) for f in report["failures"]] == [
        ("service", "isin", 49), ("channel", "isin", 49)]
    code, out, _ = run(capsys, "validate", str(EXTRACT), "--table", "subscriptions", "--mapping", str(mapping),
                       "--catalog", str(CATALOG))
    assert code == 0 and "49 rows" in out


def test_rules_mine_finds_the_operator_codes_rules_with_the_counts_of_the_extract():
    subs = io.read_table(EXTRACT, "subscriptions", mapping=MAPPING)
    with catalog.use_catalog(CATALOG):
        baskets = dm.rules.baskets_from_subscriptions(subs, month="2009-06")
        assert list(baskets.columns) == ["XW001", "XW002", "CL100", "YY200", "FX300", "ZQ400"]
        result = dm.rules.mine(baskets, min_support=0.2, min_confidence=0.5)
    raw = _raw()
    active = raw[raw["end"].isna()]  # ZQ400 ended in May: not held at June's end
    held = active.groupby("user")["svc"].apply(set)
    n = held.size
    both = sum({"XW001", "XW002"} <= s for s in held)
    first = sum("XW001" in s for s in held)
    assert (n, first, both) == (20, 10, 8)
    rules = result.rules
    row = rules[(rules["antecedents"] == frozenset({"XW001"})) & (rules["consequents"] == frozenset({"XW002"}))]
    assert len(row) == 1
    assert row["support"].iloc[0] == pytest.approx(both / n)
    assert row["confidence"].iloc[0] == pytest.approx(both / first)
    assert not baskets["ZQ400"].any()


def test_lifecycle_states_take_an_operator_service_code():
    usage = frame("usage")
    subs = frame("subscriptions").assign(service=["XW001", "CL100", "XW002"], channel=["SMS", "10086", "WWW"])
    with catalog.use_catalog(CATALOG):
        got = dm.lifecycle.customer_states(usage, subs, service="XW001", month="2009-06",
                                           activity_columns=["monternet_sms"])
    holders = got.states.set_index("user_id")["holder"]
    assert holders.to_dict() == {1: True, 2: False, 3: False}  # only user 1 ordered XW001
    with pytest.raises(ParameterError, match=r"parameter 'service'.*got 'XW001'"):
        dm.lifecycle.customer_states(usage, frame("subscriptions"), service="XW001", month="2009-06",
                                     activity_columns=["monternet_sms"])  # not a code of the simulator
