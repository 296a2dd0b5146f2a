"""``vlga report``: a run's summary table and plots, or its candidates as CSV."""

from __future__ import annotations

import os
from pathlib import Path

from vlga_jax.cli.paths import check_writable_dir, check_writable_file


def _write_candidates_csv(args) -> int:
    """``vlga report DIR --csv FILE``: every candidate of the run as CSV."""
    from vlga_jax.runs import candidates
    from vlga_jax.runs.report import RunReport

    run = RunReport.load(args.dir)
    check_writable_file(args.csv, "--csv")
    if os.path.exists(args.csv) and not getattr(args, "force", False):
        raise ValueError(f"--csv {args.csv} exists: choose another file or pass --force")
    names = list(run.result.get("objectives", ())) if run.result else []
    table = candidates.rows(run.candidates, names if len(names) > 1 else ())
    candidates.write_csv(args.csv, table)
    print(f"wrote {args.csv}: {len(table)} candidate evaluations")
    return 0


# Lists the files `vlga report --out DIR` wrote into DIR (those it may overwrite).
REPORT_MANIFEST = ".vlga-report.json"


def cmd_report(args) -> int:
    from vlga_jax.runs.report import write_report

    if args.csv is not None:
        return _write_candidates_csv(args)

    own = os.path.join(args.dir, "report")
    if args.out is None or os.path.realpath(args.out) == os.path.realpath(own):
        table, paths = write_report(args.dir)  # DIR/report: the run directory's own folder
    else:
        table, paths = _report_into(args.dir, Path(args.out), args.force)
    print(table)
    for p in paths:
        print(f"wrote {p}")
    return 0


def _report_into(run_dir: str, out: Path, force: bool):
    """`write_report` into a user's ``out``: plots go to a temporary folder first, then
    replace files in ``out`` only if an earlier report wrote them (``REPORT_MANIFEST``)
    or ``force``; else ValueError naming them, and ``out`` is left as it was."""
    import json
    import shutil
    import tempfile

    from vlga_jax.core.checkpoint import write_json_atomic
    from vlga_jax.runs.report import write_report

    check_writable_dir(str(out), "--out")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / REPORT_MANIFEST
    try:
        ours = set(json.loads(manifest.read_text())["files"])
    except (OSError, ValueError, KeyError, TypeError):
        ours = set()
    tmp = Path(tempfile.mkdtemp(prefix=".vlga-report-tmp-", dir=out))
    try:
        table, written = write_report(run_dir, tmp)
        theirs = sorted(p.name for p in written
                        if (out / p.name).exists() and p.name not in ours)
        if theirs and not force:
            raise ValueError(f"--out {out} holds {', '.join(theirs)}, not written by vlga "
                             "report; pass --force to overwrite, or choose another directory")
        paths = []
        for p in written:
            os.replace(p, out / p.name)
            paths.append(out / p.name)
        write_json_atomic(manifest, {"files": sorted(ours | {p.name for p in paths})})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if created and not any(out.iterdir()):
            out.rmdir()
    return table, paths
