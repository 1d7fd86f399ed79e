"""A small operator extract whose product codes are not the simulator's, for the end-to-end tests.

:func:`build_operator_extract` simulates a province (small), then writes it the way an
operator's BI export would arrive: every service code replaced by the operator's own
(``VAS_0001`` ... ``VAS_0035``, none of them a simulator code), the ``subscriptions``
table as a GBK-encoded CSV with the operator's column names, ``YYYYMMDDHHMMSS`` times and
a Chinese product-name column, beside a catalog YAML (GB18030, Chinese names, groups) and a
mapping YAML that names the columns, the encoding, the time format and the catalog. The
other tables are CSV files in the contract's columns.

Layout::

    <root>/extracts/<table>/province=yunnan/month=<YYYY-MM>/part.csv
    <root>/catalog.yaml
    <root>/mapping.yaml
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = ["OperatorExtract", "build_operator_extract"]

PROVINCE, MONTH = "yunnan", "2008-06"

#: The operator's subscriptions columns -> the contract's.
SUBSCRIPTION_COLUMNS = {"SERV_NUMBER": "user_id", "PROD_CODE": "service", "ORDER_TIME": "start",
                        "CANCEL_TIME": "end", "ORDER_CHANNEL": "channel", "SOURCE_ID": "source"}


@dataclass(frozen=True)
class OperatorExtract:
    """Where the extract is, and what it holds (for independent checks)."""

    root: Path
    data: Path
    catalog: Path
    mapping: Path
    codes: dict[str, str]             # simulator code -> operator code
    subscriptions: pd.DataFrame       # the contract's subscriptions, operator codes, as written
    names: dict[str, str]             # operator code -> Chinese product name (extra column)


def build_operator_extract(root: Path, *, n_users: int = 1500, seed: int = 3) -> OperatorExtract:
    """Write the extract under ``root`` (see the module docstring) and describe it."""
    import dmkit as dm
    from dmkit.catalog import SERVICE_NAMES, SERVICES
    from dmkit.contract.catalog_yaml import load_catalog, use_catalog

    p = dm.synth.generate(PROVINCE, month=MONTH, n_users=n_users, seed=seed, n_months=6)
    codes = {s: f"VAS_{i + 1:04d}" for i, s in enumerate(SERVICES)}
    assert not set(codes.values()) & set(SERVICES)
    # the Chinese part of the simulator's names: 点对点短信, 彩铃, ...
    names = {codes[s]: n[n.index("(") + 1:n.rindex(")")] for s, n in SERVICE_NAMES.items()}
    groups = {codes[s]: ("music" if "music" in s or s in ("crbt", "full_song", "ringtone") else
                         "messaging" if "sms" in s or s in ("mms", "fetion", "fetion_client") else "other")
              for s in SERVICES}
    catalog = root / "catalog.yaml"
    lines = ["# 运营商业务目录 (the operator's product catalog)", "services:"]
    lines += [f"  {c}: {{name: {names[c]}, group: {groups[c]}}}" for c in codes.values()]
    catalog.write_bytes(("\n".join(lines) + "\n").encode("gb18030"))
    mapping = root / "mapping.yaml"
    mapping.write_text(
        "# the operator's BOSS export\n"
        "encoding: gbk\n"
        "catalog: catalog.yaml\n"
        "formats: {start: '%Y%m%d%H%M%S', end: '%Y%m%d%H%M%S'}\n"
        "subscriptions:\n" + "".join(f"  {k}: {v}\n" for k, v in SUBSCRIPTION_COLUMNS.items()),
        encoding="utf-8")

    subs = p.subscriptions.assign(service=p.subscriptions["service"].map(codes),
                                  start=p.subscriptions["start"].dt.floor("s"),
                                  end=p.subscriptions["end"].dt.floor("s"))
    subs = subs.drop_duplicates(["user_id", "service", "start"]).reset_index(drop=True)
    tables = dict(p.tables(), subscriptions=subs)
    tables["kpis"] = p.kpis.assign(service=p.kpis["service"].map(codes))
    tables["contacts"] = p.contacts.assign(service=p.contacts["service"].map(codes))
    data = root / "extracts"
    with use_catalog(load_catalog(catalog)):
        for table, df in tables.items():
            if table != "subscriptions":
                dm.io.write_table(df, table, data, format="csv", province=PROVINCE, month=MONTH)
        dm.schema.validate(subs, "subscriptions")
    theirs = {v: k for k, v in SUBSCRIPTION_COLUMNS.items()}
    fmt = "%Y%m%d%H%M%S"
    out = pd.DataFrame({
        theirs["user_id"]: subs["user_id"], theirs["service"]: subs["service"],
        "PROD_NAME": subs["service"].map(names),  # an extra column: Chinese text, kept as read
        theirs["start"]: subs["start"].dt.strftime(fmt),
        theirs["end"]: subs["end"].dt.strftime(fmt).fillna(""),
        theirs["channel"]: subs["channel"], theirs["source"]: subs["source"]})
    folder = data / "subscriptions" / f"province={PROVINCE}" / f"month={MONTH}"
    folder.mkdir(parents=True)
    out.to_csv(folder / "part.csv", index=False, encoding="gbk")
    return OperatorExtract(root=root, data=data, catalog=catalog, mapping=mapping, codes=codes,
                           subscriptions=subs, names=names)
