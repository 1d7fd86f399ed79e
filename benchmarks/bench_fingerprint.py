"""dm.fingerprint and the contract validation at province scale (issue 14): before/after in one process.

On a kept simulator cache (``benchmarks/notebooks.py --keep``), times side by side the code of a
base commit (default 5350022, before the issue-14 changes to these modules) and the working tree:

  check        dmkit.contract.checks.check of users, usage, subscriptions, events, edges,
               with and without the key check
  profile      dm.fingerprint.profile with its validation (the notebooks' call) and without
  rules        dm.fingerprint.preference_rules, target channel and genre (the notebooks' parameters)

and asserts the results identical: the same failures (none), the profile table equal
(assert_frame_equal; ``terminal`` compared as text: now a categorical), the same rules.

    .venv/bin/python benchmarks/bench_fingerprint.py --cache /tmp/<work>/dmkit-notebooks-1000000-xxxx/cache
"""
from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def _old_module(commit: str, path: str, name: str, folder: Path):
    src = subprocess.run(["git", "-C", str(REPO), "show", f"{commit}:{path}"], check=True,
                         capture_output=True, text=True).stdout
    file = folder / f"{name}.py"
    file.write_text(src)
    spec = importlib.util.spec_from_file_location(name, file)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def _timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", required=True, help="a kept simulator cache folder")
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--province", default="guangdong")
    ap.add_argument("--month", default="2008-12")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--base", default="5350022", help="the commit to compare with")
    a = ap.parse_args()

    import dmkit as dm
    import dmkit.contract.checks as new_checks
    import dmkit.fingerprint as new_fp

    folder = Path(tempfile.mkdtemp(prefix="bench_fingerprint_"))
    old_checks = _old_module(a.base, "dmkit/contract/checks.py", "old_checks", folder)
    old_fp = _old_module(a.base, "dmkit/fingerprint.py", "old_fingerprint", folder)
    import sklearn.tree  # noqa: F401 - imported apart from the timings

    p = dm.io.load_province("synth", province=a.province, month=a.month, n_users=a.users, seed=a.seed,
                            cache_dir=a.cache, progress=False)
    names = ("users", "usage", "subscriptions", "events", "edges")
    tabs = {n: getattr(p, n) for n in names}
    print(f"{a.users:,} users, {a.province} {a.month}; base {a.base} | working tree (seconds)")
    for name, df in tabs.items():
        for keys in (False, True):
            r0, t0 = _timed(old_checks.check, df, name, check_keys=keys)
            r1, t1 = _timed(new_checks.check, df, name, check_keys=keys)
            assert [(f.column, f.check, f.count) for f in r0.failures] == [
                (f.column, f.check, f.count) for f in r1.failures]
            print(f"  check {name:14s} {len(df):>11,} rows keys={keys!s:5s} {t0:7.2f} | {t1:7.2f}")

    res = {}
    for validate in (True, False):
        row = []
        for lab, mod in (("base", old_fp), ("new", new_fp)):
            saved = new_checks.check
            if lab == "base":  # the base profile validates through the base checks
                new_checks.check = old_checks.check
            try:
                r, dt = _timed(mod.profile, *tabs.values(), month=a.month, validate=validate)
            finally:
                new_checks.check = saved
            res[lab] = r
            row.append(dt)
        print(f"  profile validate={validate!s:5s}                     {row[0]:7.2f} | {row[1]:7.2f}")
    old_t, new_t = res["base"].table, res["new"].table
    pd.testing.assert_frame_equal(old_t, new_t.assign(terminal=new_t["terminal"].astype(object)))
    assert res["base"].value_cuts == res["new"].value_cuts
    print("  profile tables identical", old_t.shape)

    for target in ("channel", "genre"):
        kw = dict(target=target, max_depth=3, min_support=0.005, min_lift=1.2, seed=a.seed)
        r0, t0 = _timed(old_fp.preference_rules, old_t, **kw)
        r1, t1 = _timed(new_fp.preference_rules, new_t, **kw)
        same = r0.rules.drop(columns="conditions").round(9).equals(r1.rules.drop(columns="conditions").round(9))
        print(f"  preference_rules {target:8s}                   {t0:7.2f} | {t1:7.2f}  "
              f"rules {len(r0.rules)} | {len(r1.rules)}, identical: {same}")
        for pref, rule in r1.top()["rule"].items():
            print(f"      {pref:10s} {rule}")


if __name__ == "__main__":
    sys.exit(main())
