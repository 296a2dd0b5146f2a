"""``vlga export`` and ``vlga predict``: a run's model file, and the classes it predicts."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from vlga_jax.cli.paths import check_writable_file


def cmd_export(args) -> int:
    import shutil

    from vlga_jax.networks.export import load_model

    source = os.path.join(args.dir, "model.npz")
    if args.rank is not None:
        source = os.path.join(args.dir, "top", f"rank_{args.rank}.npz")
        if os.path.exists(os.path.join(args.dir, "result.json")) and not os.path.exists(
                source):
            raise ValueError(f"--rank {args.rank}: {args.dir} kept no candidate of that rank "
                             "(run.top_k sets how many are kept)")
    if not os.path.exists(source):
        if not os.path.exists(os.path.join(args.dir, "run.json")):
            raise ValueError(f"{args.dir}: not a vlga run directory (no run.json)")
        state = ("has finished but its model.npz is missing" if os.path.exists(
            os.path.join(args.dir, "result.json")) else "has not finished (no model.npz)")
        raise ValueError(f"{args.dir} {state}: vlga resume {args.dir} trains it, then "
                         "export again")
    check_writable_file(args.to, "--to")
    if os.path.exists(args.to) and not args.force:
        raise ValueError(f"--to {args.to} exists; pass --force to overwrite it")
    model = load_model(source)  # refuse to export a damaged file
    tmp = f"{args.to}.tmp-{os.getpid()}"
    shutil.copyfile(source, tmp)
    os.replace(tmp, args.to)
    test = model.metadata["test_accuracy"]
    score = (f"test accuracy {test:.4f}" if test is not None else
             f"validation accuracy {model.metadata['val_accuracy']:.4f} (search weights)")
    print(f"wrote {args.to}: {model.architecture.param_count:,} parameters, {score}; load "
          "it with vlga_jax.load_model")
    return 0


def cmd_predict(args) -> int:
    import numpy as np

    from vlga_jax.networks.export import load_model

    out = args.out
    if out is not None:
        if not out.endswith(".npy"):
            out += ".npy"  # what np.save writes: check and report that file
        check_writable_file(out, "--out")
        if os.path.exists(out) and not args.force:
            raise ValueError(f"--out {out} exists; pass --force to overwrite it")
    from vlga_jax.data.images import IMAGE_SUFFIXES, read_images

    model = load_model(args.model)
    if args.normalized:
        named = [p for p in args.images if Path(p).suffix.lower() in IMAGE_SUFFIXES]
        if named:
            raise ValueError(f"--normalized applies to arrays, not to image files "
                             f"({named[0]}): leave it out for PNG/JPEG images")
        model.mean = model.std = None
    images, notes = read_images(args.images, model.architecture.input_shape,
                                model.metadata.get("dataset"))
    for note in notes:
        print(f"vlga: {note}", file=sys.stderr)
    classes = model.predict(images)
    if out is not None:
        np.save(out, classes)
        print(f"wrote {out}: {len(classes)} predicted classes")
    else:
        print("\n".join(str(int(c)) for c in classes))
    return 0
