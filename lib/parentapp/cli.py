"""The ``parentapp`` command: the pipeline's steps from the shell.

    parentapp validate FILE [FILE ...]       exit 0 + one-line summary, or 2 + every problem
    parentapp simulate --seed N --out FILE   write the calibrated synthetic trial (+ truth file)
    parentapp sample [--data FILE] [--ses scp|income] [--groups K]
                                             build the analysis sample, print the attrition flow
    parentapp build [--data FILE] [--out DIR] [--jobs N] [--param NAME=VALUE ...]
                                             run the notebooks and render the report

Exit codes: 0 success, 1 the build failed (a notebook raised), 2 bad input (unreadable file,
invalid data, bad arguments).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from parentapp import paths

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def _validate(args: argparse.Namespace) -> int:
    from parentapp import io, schema

    status = EXIT_OK
    for file in args.files:
        try:
            frame = io.read_table(file)
        except io.DataFileError as exc:
            print(f"{exc}", flush=True)
            status = EXIT_BAD_INPUT
            continue
        typed, problems = schema.check(frame, source=str(file))
        errors = schema.errors_only(problems)
        notes = [p for p in problems if p not in errors]
        if errors:
            print(f"{file}: {len(errors)} problem{'s' if len(errors) > 1 else ''}; the data "
                  "cannot be used until fixed:")
            for problem in problems:
                print(f"  - {problem}")
            status = EXIT_BAD_INPUT
            continue
        extra = f" ({len(notes)} note{'s' if len(notes) > 1 else ''} below)" if notes else ""
        print(f"{file}: {schema.summary(typed)}: OK{extra}")
        for note in notes:
            print(f"  - {note}")
    return status


def _simulate(args: argparse.Namespace) -> int:
    from parentapp import io

    simulate = importlib.import_module("parentapp.simulate")
    if args.out.suffix.lower() not in io.FORMATS:
        print(f"parentapp simulate: {args.out}: unknown file type '{args.out.suffix}'; use one "
              f"of {', '.join(sorted(io.FORMATS))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    kwargs = {"seed": args.seed}
    if args.n_students is not None:
        kwargs["n_students"] = args.n_students
    trial = simulate.simulate(**kwargs)
    trial.write(args.out)
    print(f"{args.out}: {len(trial.data)} students simulated with seed {args.seed}")
    return EXIT_OK


def _sample(args: argparse.Namespace) -> int:
    from parentapp import sample

    try:
        sample.ses_labels(args.groups)
    except ValueError as exc:
        print(f"parentapp sample: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    result = sample.prepare(args.data, ses_measure=args.ses, ses_groups=args.groups,
                            derived_dir=args.derived)
    source = args.data or paths.DEFAULT_DATA
    print(f"{source}: analysis sample of {len(result.data)} students "
          f"(SES groups: {result.ses_groups} by {result.ses_measure})")
    columns = ["step", "stage", "n", "dropped", "no_access", "access",
               "grade_1", "grade_2", "grade_3"]
    print(result.flow[columns].to_string(index=False))
    for row in result.flow.itertuples():
        if row.reason:
            print(f"  step {row.step}: dropped {row.dropped}: {row.reason}")
    return EXIT_OK


def _parameter(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` with VALUE read as YAML (numbers, null, true/false, strings)."""
    import yaml

    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=VALUE, e.g. n_draws=500")
    try:
        return name, yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: VALUE is not valid YAML ({exc})") from exc


def _build(args: argparse.Namespace) -> int:
    from parentapp import io

    if args.data is not None:
        io.load(args.data)  # bad data stop here with every problem listed (exit 2)
    build = importlib.import_module("parentapp.build")  # heavy (papermill): only when building
    kwargs = {"data": args.data, "out": args.out}
    if args.jobs is not None:
        kwargs["jobs"] = args.jobs
    if args.param:
        kwargs["parameters"] = dict(args.param)
    try:
        build.build(**kwargs)
    except build.BuildError as exc:
        print(f"parentapp build: failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    """The argument parser of the ``parentapp`` command."""
    top = argparse.ArgumentParser(
        prog="parentapp",
        description="Re-analysis compendium: parental involvement via a school app.",
    )
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check a data file against the data dictionary",
                       description="Check data files (csv, xlsx, dta, sav, parquet) against the "
                                   "data dictionary and the design; exit 2 on any problem.")
    p.add_argument("files", nargs="+", metavar="FILE", help="the data file(s)")
    p.set_defaults(run=_validate)

    p = sub.add_parser("simulate", help="write the calibrated synthetic trial",
                       description="Write a synthetic trial (deterministic per seed) and its "
                                   "true parameters (<stem>.truth.json).")
    p.add_argument("--seed", type=int, default=paths.DEFAULT_SEED,
                   help=f"random seed (default {paths.DEFAULT_SEED}, the embedded data)")
    p.add_argument("--out", type=Path, required=True, metavar="FILE",
                   help="output file; the format follows the suffix")
    p.add_argument("--n-students", type=int, default=None, metavar="N",
                   help="number of students (default: as in the study)")
    p.set_defaults(run=_simulate)

    p = sub.add_parser("sample", help="build the analysis sample and print the attrition flow")
    p.add_argument("--data", type=Path, default=None, metavar="FILE",
                   help="raw data file (default: the embedded synthetic trial)")
    p.add_argument("--ses", choices=["scp", "income"], default="scp",
                   help="area SES measure for the groups (default scp)")
    p.add_argument("--groups", type=int, default=3, metavar="K",
                   help="number of SES groups (default 3)")
    p.add_argument("--derived", type=Path, default=paths.DERIVED_DIR, metavar="DIR",
                   help=f"where the derived files go (default {paths.DERIVED_DIR})")
    p.set_defaults(run=_sample)

    p = sub.add_parser("build", help="run the notebooks and render the report")
    p.add_argument("--data", type=Path, default=None, metavar="FILE",
                   help="raw data file (default: the embedded synthetic trial)")
    p.add_argument("--out", type=Path, default=paths.REPORT_DIR, metavar="DIR",
                   help=f"output directory (default {paths.REPORT_DIR})")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="notebooks run in parallel (default: the build's default)")
    p.add_argument("--param", type=_parameter, action="append", default=[],
                   metavar="NAME=VALUE",
                   help="papermill parameter set in every run (VALUE read as YAML: "
                        "n_draws=500, cov=robust); repeatable")
    p.set_defaults(run=_build)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``parentapp`` command; returns the exit code (0 ok, 2 bad input)."""
    from parentapp import io, schema

    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (io.DataFileError, schema.DataValidationError) as exc:
        print(f"parentapp {args.command}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":  # pragma: no cover - `python -m parentapp.cli`
    sys.exit(main())
