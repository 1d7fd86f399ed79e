"""The ``dmkit`` command line: simulate a province, validate an extract, run the reports.

::

    dmkit synth --province jiangsu --month 2009-06 --users 200000 --out data/generated
    dmkit validate data/generated --table usage [--mapping data/mappings/example.yaml]
    dmkit run --province jiangsu --month 2009-06
    dmkit loop --province guangdong --from 2009-01 --months 6 --users 100000 --policy model --out DIR

Errors that dmkit raises on purpose (bad argument, missing file, broken contract) end
the command with one line on stderr, ``dmkit <command>: error: ...``, and a non-zero
exit: 2 for a bad argument, 1 for bad or missing data or a failed run. No traceback.
"""
from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from dmkit.errors import DmkitError, ParameterError

__all__ = ["app", "main"]

# typer >= 0.2x vendors click; older typer uses click itself: find the class either way
_UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")

app = typer.Typer(
    name="dmkit",
    help=(
        "dmkit: data mining for the deep operation of mobile value-added services.\n\n"
        "Simulate a province's subscriber tables, check real BI extracts against the data "
        "contract (data/README.md), and run the case-study notebooks into HTML reports."
    ),
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        from dmkit import __version__

        typer.echo(f"dmkit {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", help="Show dmkit's version and exit.",
                                          callback=_show_version, is_eager=True)] = False,
) -> None:
    """dmkit's commands (the options here come before the command name)."""


class FileFormat(str, Enum):
    parquet = "parquet"
    csv = "csv"


@contextlib.contextmanager
def _handled(command: str) -> Iterator[None]:
    """Turn dmkit's own errors (and OS errors such as a full disk) into one stderr line."""
    try:
        yield
    except ParameterError as err:
        _fail(command, str(err), code=2)
    except DmkitError as err:
        _fail(command, str(err), code=1)
    except OSError as err:
        _fail(command, f"{err.strerror or err}: {err.filename or ''}".rstrip(": "), code=1)


def _fail(command: str, message: str, *, code: int) -> None:
    first = " ".join(message.split())  # one line, whatever the message held
    typer.echo(f"dmkit {command}: error: {first}", err=True)
    raise typer.Exit(code)


def _check_writable(folder: Path) -> None:
    """Fail fast, before minutes of work, when ``folder`` cannot be written."""
    from dmkit.contract.files import check_writable

    check_writable(folder)


@app.command()
def synth(
    province: Annotated[str, typer.Option(help="Province profile: yunnan, jiangsu, guangdong or national.")] = "jiangsu",
    month: Annotated[str, typer.Option(help="Data month, YYYY-MM.")] = "2009-06",
    users: Annotated[int, typer.Option(help="Number of simulated subscribers.")] = 200_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same tables).")] = 7,
    months: Annotated[int, typer.Option(help="Monthly panels up to --month.")] = 6,
    out: Annotated[Path, typer.Option(help="Dataset root to write into.")] = Path("data/generated"),
    format: Annotated[FileFormat, typer.Option("--format", help="File format of the tables.")] = FileFormat.parquet,
    progress: Annotated[bool | None, typer.Option(
        "--progress/--no-progress", help="Show a progress bar (default: when stderr is a terminal).")] = None,
) -> None:
    """Simulate a province and write its eight tables (validated) plus the planted truth.

    Files go to OUT/<table>/province=<province>/month=<month>/part.<format> and the truth
    to OUT/truth/province=<province>/month=<month>/, then a completion manifest (every
    file's size and SHA-256, the seed) to OUT/_manifests/; read them back with
    dmkit.io.load_province(OUT, province=..., month=...), which checks the manifest.
    """
    from tqdm.auto import tqdm

    from dmkit import io, schema
    from dmkit._validation import check_scalar
    from dmkit.contract.manifest import remove_manifest, synth_manifest_path, write_manifest
    from dmkit.contract.months import check_month

    with _handled("synth"):
        check_month(month)
        check_scalar(users, "users", kind=int, low=1)
        check_scalar(seed, "seed", kind=int, low=0)
        check_scalar(months, "months", kind=int, low=1)
        from dmkit import synth as simulator
        from dmkit._validation import check_choice

        check_choice(province, "province", simulator.PROVINCES)
        _check_writable(out)
        if progress is None:
            progress = sys.stderr.isatty()

        steps = ["simulate", *schema.TABLES, "truth"]
        with tqdm(total=len(steps), desc=f"{province} {month}", unit="step",
                  disable=not progress, file=sys.stderr) as bar:
            bar.set_postfix_str("simulating")
            pdata = simulator.generate(province, month=month, n_users=users, seed=seed,
                                       n_months=months, progress=progress)
            bar.update()
            # the completion manifest goes first and comes back last: a run killed in between
            # leaves none, and dmkit.io.load_province refuses the half-written (mixed) dataset
            manifest = synth_manifest_path(out, province=province, month=month)
            remove_manifest(manifest)
            written = []
            for table in schema.TABLES:
                bar.set_postfix_str(table)
                written += io.write_table(getattr(pdata, table), table, out, format=format.value,
                                          province=province, month=month)
                bar.update()
            bar.set_postfix_str("truth")
            if getattr(pdata, "truth", None) is not None:
                tf = io.truth_folder(out, province=province, month=month)
                (tf / "truth_users.parquet").unlink(missing_ok=True)  # never a previous run's
                pdata.truth.save(tf)
                written += [f for f in sorted(tf.iterdir()) if f.is_file() and not f.name.startswith(".")]
            write_manifest(manifest, out, written, meta={
                "writer": "dmkit synth", "province": province, "month": month, "n_users": users,
                "seed": seed, "n_months": months, "format": format.value})
            bar.update()
        rows = sum(len(getattr(pdata, t)) for t in schema.TABLES)
        typer.echo(f"wrote {len(schema.TABLES)} tables ({rows:,} rows, {format.value}) for "
                   f"{province} {month}, {users:,} users, seed {seed} under {out}")


@app.command()
def validate(
    path: Annotated[Path, typer.Argument(help="A .parquet/.csv file, a table folder or a dataset root.")],
    table: Annotated[str, typer.Option(help="Contract table: users, usage, subscriptions, kpis, contacts, edges, events, revenue.")],
    mapping: Annotated[Path | None, typer.Option(help="YAML mapping {table: {their_column: our_column}}.")] = None,
    province: Annotated[str | None, typer.Option(help="Only the province=... partition.")] = None,
    month: Annotated[str | None, typer.Option(help="Only the month=... partition (YYYY-MM).")] = None,
    catalog: Annotated[Path | None, typer.Option(
        help="The operator's catalog YAML (service, channel, brand codes); default the mapping's "
             "catalog: entry, else the simulator's 35 services.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
) -> None:
    """Check a table against the data contract: every failing column and check at once.

    Prints OK and the row count (exit 0), or one line per failing check with its count and
    a few example row keys (exit 1; 2 for a bad argument). With --json the report (or the
    error) is one JSON object on stdout, with the same exit codes.
    """
    from dmkit.contract.checks import check_files
    from dmkit.contract.months import check_month

    if json_out:
        _validate_json(path, table, mapping=mapping, catalog=catalog, province=province, month=month)
        return
    with _handled("validate"):
        if month is not None:
            check_month(month)
        report = check_files(path, table, mapping=mapping, catalog=catalog, province=province, month=month)
    if report.ok:
        typer.echo(f"OK: table {table!r} keeps the contract: {report.n_rows:,} rows ({path}; "
                   f"catalog: {report.catalog})")
        return
    if len(report.failures) == 1:  # one line, as every other error
        _fail("validate", report.failures[0].message(table), code=1)
    typer.echo(f"dmkit validate: error: table {table!r} breaks the contract: {len(report.failures)} "
               f"failing checks in {report.n_rows:,} rows ({path}):", err=True)
    for f in report.failures:
        typer.echo(f"  - {' '.join(f.message(table).split())}", err=True)
    raise typer.Exit(1)


def _validate_json(path: Path, table: str, **kw) -> None:
    """``dmkit validate --json``: the report, or the error, as one JSON object on stdout."""
    import json

    from dmkit.contract.checks import check_files
    from dmkit.contract.months import check_month

    try:
        if kw.get("month") is not None:
            check_month(kw["month"])
        report = check_files(path, table, **kw)
    except (DmkitError, OSError) as err:
        typer.echo(json.dumps({"table": table, "ok": False, "error": " ".join(str(err).split()),
                               "error_type": type(err).__name__, "failures": []}, ensure_ascii=False))
        raise typer.Exit(2 if isinstance(err, ParameterError) else 1) from None
    typer.echo(report.to_json())
    raise typer.Exit(0 if report.ok else 1)


class Engine(str, Enum):
    pandas = "pandas"
    spark = "spark"


def _whole_number(value: str | None) -> int | None:
    """``--jobs``: an integer, with the wording of a bad value kept from the old command."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise typer.BadParameter(f"invalid int value: {value!r}") from None


@app.command(epilog="example: dmkit run --province jiangsu --month 2009-06 --jobs 2")
def run(
    province: Annotated[str | None, typer.Option("--province", "-p", help=(
        "Province of the params file(s): yunnan, jiangsu, guangdong, national."))] = None,
    month: Annotated[str | None, typer.Option("--month", "-m", help=(
        "Data month YYYY-MM (default: every month of the province)."))] = None,
    all_files: Annotated[bool, typer.Option("--all", help="Every params file under --params-root.")] = False,
    notebooks: Annotated[list[str] | None, typer.Option("--notebook", "-n", metavar="NAME", help=(
        "Run only this notebook (repeatable; default: all)."))] = None,
    jobs: Annotated[str | None, typer.Option("--jobs", "-j", metavar="INTEGER", callback=_whole_number,
                                             help="Parallel processes (default: the number of cores).")] = None,
    kernel: Annotated[str, typer.Option(help="Jupyter kernel.")] = "python3",
    out: Annotated[str | None, typer.Option(help=(
        "Reports root (default: the params' out_dir, reports/<province>/<month>)."))] = None,
    users: Annotated[int | None, typer.Option(help=(
        "Override n_users of every params file (simulated subscribers)."))] = None,
    engine: Annotated[Engine | None, typer.Option(help=(
        "Override engine of every params file (spark: the notebooks that declare engine run "
        "their methods on Apache Spark)."))] = None,
    params_root: Annotated[str, typer.Option(help="Folder of params files.")] = "params",
    notebook_dir: Annotated[str, typer.Option(help="Folder of notebooks.")] = "notebooks",
    timeout: Annotated[float | None, typer.Option(help="Per-cell timeout in seconds.")] = None,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
    data: Annotated[str | None, typer.Option(help=(
        "Override data of every params file: 'synth' or a folder of extracts "
        "(<data>/<table>/province=<province>/month=<YYYY-MM>/part.csv|parquet)."))] = None,
    catalog: Annotated[Path | None, typer.Option(help=(
        "The operator's catalog YAML (service, channel, brand codes) for every notebook; "
        "overrides the params' catalog key."))] = None,
    mapping: Annotated[Path | None, typer.Option(help=(
        "The extracts' mapping YAML (columns, encoding, date formats, catalog:); overrides "
        "the params' mapping key."))] = None,
    memory: Annotated[float | None, typer.Option("--memory", metavar="GIB", help=(
        "GiB the running kernels may hold together: a notebook starts only when its estimated "
        "peak fits beside the running ones (default: 90% of the memory available at the start)."))] = None,
) -> None:
    """Run the case-study notebooks with papermill into HTML reports under
    <out>/<province>/<month>/ (index.html links them all).

    Exits 0 when no notebook failed, 1 when any failed (the pass/fail table says which).
    A notebook that does not apply to the data (it needs the simulator and --data is a
    folder of extracts, or a parameter names a service code the --catalog lacks) is
    skipped with the reason, and does not fail the run.
    """
    try:
        with _handled("run"):
            from dmkit.batch import run_batch
            from dmkit.params import select_params

            files = select_params(province=province, month=month, all_files=all_files, root=params_root)
            result = run_batch(files, notebooks=notebooks, jobs=jobs, kernel=kernel, out=out,
                               n_users=users, engine=engine.value if engine else None,
                               notebook_dir=notebook_dir, timeout=timeout, progress=not no_progress,
                               data=data, catalog=catalog, mapping=mapping,
                               memory_budget="auto" if memory is None else memory)
            typer.echo(str(result.summary()))
    except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM (dmkit.batch.pool.Terminated): 130 / 143
        code = getattr(err, "exit_code", 130)
        typer.echo(f"dmkit run: {'terminated' if code == 143 else 'interrupted'}: workers and kernels "
                   "stopped; the index lists the notebooks that finished", err=True)
        raise typer.Exit(code) from None
    raise typer.Exit(result.exit_code)


class Policy(str, Enum):
    model = "model"
    random = "random"
    oracle = "oracle"


@app.command(epilog="example: dmkit loop --province guangdong --from 2009-01 --months 6 --users 100000 "
                    "--policy model --out reports/loop")
def loop(
    province: Annotated[str, typer.Option(help="Province profile (simulator) or partition (extracts).")] = "guangdong",
    start: Annotated[str, typer.Option("--from", help="First month of offers, YYYY-MM.")] = "2009-01",
    months: Annotated[int, typer.Option(help="Months to run.")] = 6,
    users: Annotated[int, typer.Option(help="Simulated subscribers.")] = 100_000,
    policy: Annotated[Policy, typer.Option(help="Whom to contact: model, random or oracle (simulator only).")]
    = Policy.model,
    seed: Annotated[int, typer.Option(help="Seed of the world, responses, plans and models.")] = 7,
    data: Annotated[str, typer.Option(help="'synth' or a folder of extracts (real contacts as responses).")] = "synth",
    out: Annotated[Path, typer.Option(help="The run's folder: state, models, contact lists, loop.json.")]
    = Path("reports/loop"),
    budget: Annotated[int | None, typer.Option(help="Users chosen a month (default 5% of the users).")] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="Start over instead of resuming OUT.")] = False,
    progress: Annotated[bool | None, typer.Option(
        "--progress/--no-progress", help="Show a progress bar (default: when stderr is a terminal).")] = None,
) -> None:
    """Run the monthly closed loop plan -> contact -> respond -> revise and write OUT/loop.json.

    OUT keeps the state: a second call resumes after the last finished month (a month cut
    short is run again); with real extracts a month whose contacts have not arrived is
    planned (contact lists per channel with the holdout under OUT/months/<month>/contact_lists)
    and the command stops there.
    """
    with _handled("loop"):
        import dmkit as dm

        _check_writable(out)
        run_ = dm.loop.run(province=province, start=start, months=months, n_users=users, policy=policy.value,
                           seed=seed, data=data, out=out, budget=budget, resume=not fresh,
                           progress=sys.stderr.isatty() if progress is None else progress)
        import pandas as pd

        with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.4g}".format):
            typer.echo(run_.monthly.to_string(index=False))
        typer.echo(f"cumulative take-up {run_.cumulative_take_up:.2%}; wrote {out / 'loop.json'}"
                   + (f"; {run_.pending} planned, waiting for its contacts" if run_.pending else ""))


def main(argv: list[str] | None = None) -> None:
    """Console entry point (``dmkit`` and ``python -m dmkit``); exits with the status."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        code = app(args=args or ["--help"], prog_name="dmkit", standalone_mode=False)
    except _UsageError as err:
        ctx = getattr(err, "ctx", None)
        cmd = ctx.command_path if ctx is not None else "dmkit"
        typer.echo(f"{cmd}: error: {' '.join(err.format_message().split())} "
                   f"(see {cmd} --help)", err=True)
        code = 2
    except typer.Exit as err:
        code = err.exit_code
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("dmkit: interrupted", err=True)
        code = 130
    except DmkitError as err:  # last resort: nothing dmkit raises on purpose shows a traceback
        typer.echo(f"dmkit: error: {' '.join(str(err).split())}", err=True)
        code = 1
    sys.exit(int(code or 0))


if __name__ == "__main__":  # pragma: no cover
    main()
