"""``workbench demo``: record the default run under runs/demo, analyse it and report it."""

from __future__ import annotations

from .train import add_train_arguments, config_from_args

DEMO = {"out": "runs/demo", "epochs": 3, "train_size": None, "features": "conv1,conv2,fc1,fc2"}


#: What a demo run directory holds; anything else (fixes, other reports) is the user's.
DEMO_FILES = ("record.zarr", "checkpoints/epoch_*.pt", "report/training.png",
              "report/layers.png", "report/distributions.png", "lock")


def extra_contents(out) -> list[str]:
    """Files under ``out`` that the demo did not write (e.g. fixed models), sorted."""
    from pathlib import Path

    out = Path(out)
    if not out.exists():
        return []
    mine = set()
    for pattern in DEMO_FILES:
        for p in out.glob(pattern):
            mine.add(p)
            if p.is_dir():
                mine.update(p.rglob("*"))
    return sorted(str(p.relative_to(out)) for p in out.rglob("*")
                  if p.is_file() and p not in mine)


def run(args) -> int:
    from ..report import write_report
    from ..train import train

    if args.preset == "grokking":
        from ..presets_grokking import run_grokking

        path = run_grokking(args.out if args.out != DEMO["out"] else None, seed=args.seed,
                            size=args.size)
        print(path.read_text())
        print(f"report: {path}; open notebooks/08_your_own_model.ipynb (workbench lab)")
        return 0
    if args.preset:
        from ..presets import run_preset

        path = run_preset(args.preset, args.out if args.out != DEMO["out"] else None,
                          seed=args.seed)
        print(path.read_text())
        print(f"report: {path}; open notebooks/07_course.ipynb with "
              f"WORKBENCH_PRESET={path.parent} (workbench lab)")
        return 0
    if not args.resume and not args.overwrite:
        extra = extra_contents(args.out)
        if extra:
            shown = ", ".join(extra[:5]) + (" ..." if len(extra) > 5 else "")
            raise FileExistsError(f"{args.out} holds more than the demo ({len(extra)} files: "
                                  f"{shown}); pass --overwrite to replace it, or --out "
                                  f"elsewhere")
        args.overwrite = True  # a plain demo run is simply re-made
    out = train(config_from_args(args), args.out, resume=args.resume, overwrite=args.overwrite,
                allow_changes=args.allow_change)
    from ..analysis import analyze

    print("analysing every epoch (damping, attribution, dynamics, forces, separation, spectra)")
    analyze(out)
    table, figures = write_report(out)
    print(table)
    print(f"\nrecorded run: {out}/record.zarr; figures in {out}/report/")
    print("Explore it in JupyterLab:  .venv/bin/workbench lab   (opens notebooks/, start with "
          "01_quickstart.ipynb)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("demo", help="record the default run (CNN on the embedded "
                                    "Fashion-MNIST) under runs/demo and report it")
    add_train_arguments(p, defaults=DEMO)
    from ..presets import PRESETS

    p.add_argument("--preset", default=None, choices=sorted([*PRESETS, "grokking"]),
                   help="train and analyse a classroom preset's runs under runs/<preset> "
                        "instead (momentum, label-noise, depth; each within ~10 min on 2 "
                        "CPU cores) and write its REPORT.md; grokking trains "
                        "examples/grokking.py (one --seed)")
    p.add_argument("--size", default="full", choices=("full", "tiny"),
                   help="--preset grokking only: full (groks on 2 CPU cores) or tiny (p=23, "
                        "300 steps: checks the pipeline, does not grok)")
    p.set_defaults(func=run)
