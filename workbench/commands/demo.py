"""``workbench demo``: record the default run under runs/demo, analyse it and report it."""

from __future__ import annotations

from .train import add_train_arguments, config_from_args

DEMO = {"out": "runs/demo", "epochs": 3, "train_size": None, "features": "conv1,conv2,fc1,fc2"}


#: What a demo run directory holds, as full-match patterns of paths relative to it: the
#: record, the epoch checkpoints (and one left half-written by a crash), the lock, and the
#: figures the workbench writes there itself (``workbench report``, ``workbench forces``
#: without ``--out``), all made again or removed when the demo is re-made. Anything else
#: (fixed models of ``workbench fix``, which belong to the run they fixed; a user's notes)
#: makes the demo refuse to replace the run.
DEMO_FILES = (r"record\.zarr/.+", r"checkpoints/epoch_\d{4}\.(pt|tmp)", r"lock",
              r"report/(training|layers|distributions)\.png", r"report/forces_sample\d+\.png")

#: Wall time of each classroom preset on 2 CPU cores, in minutes: the most over seeds 0, 1
#: and 2 in the run of ``bench/presets.py`` dated :data:`PRESETS_TIMED` in
#: ``bench/logs/presets.log``. The CLI help, the README and notebook 07 state
#: :data:`PRESET_TIME` word for word (``tests/commands/test_demo.py`` checks them and the log).
PRESET_MINUTES = {"momentum": 2.9, "label-noise": 1.2, "depth": 0.5}
PRESETS_TIMED = "2026-12-03 06:38:25 UTC"
PRESET_TIME = ", ".join(f"{k} {v:g} min" for k, v in PRESET_MINUTES.items()) + \
    " on 2 CPU cores"


def extra_contents(out) -> list[str]:
    """Files under ``out`` that are not the demo's (:data:`DEMO_FILES`), sorted."""
    import re
    from pathlib import Path

    out = Path(out)
    if not out.exists():
        return []
    mine = re.compile("|".join(f"(?:{p})" for p in DEMO_FILES))
    files = (p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    return sorted(f for f in files if not mine.fullmatch(f))


def plan(cfg, out, *, resume: bool = False) -> str:
    """The one line ``workbench demo`` prints before it trains: what it trains, and where."""
    from ..train import resolve_device

    images = f"{cfg.train_size} training images" if cfg.train_size else "every training image"
    last = f"epochs 0-{cfg.epochs - 1}" if cfg.epochs > 1 else "epoch 0"
    return (f"demo: {'continuing' if resume else 'training'} {cfg.model} on {cfg.data} "
            f"({images}), {last}, {cfg.optimizer} lr {cfg.lr:g} momentum {cfg.momentum}, on "
            f"{resolve_device(cfg.device)}, into {out}; then analysing and reporting it")


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

        out = args.out if args.out != DEMO["out"] else f"runs/{args.preset}"
        print(f"demo --preset {args.preset}: training and analysing its runs into {out} "
              f"(measured: {PRESET_TIME})", flush=True)
        path = run_preset(args.preset, out, seed=args.seed)
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
    cfg = config_from_args(args)
    print(plan(cfg, args.out, resume=args.resume), flush=True)
    out = train(cfg, args.out, resume=args.resume, overwrite=args.overwrite,
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
                                    "Fashion-MNIST) under runs/demo and report it",
                       description="Train the default run (the small CNN on the embedded "
                                   "Fashion-MNIST, 3 epochs, recording conv1, conv2, fc1 and "
                                   "fc2's probe features) into --out, analyse every epoch and "
                                   "print its report; the training options below change it. "
                                   "A demo run is re-made in place; a directory that holds "
                                   "more than a demo run (a fixed model, your files) is "
                                   "refused unless --overwrite. --preset trains a classroom "
                                   "preset instead.")
    add_train_arguments(p, defaults=DEMO)
    from ..presets import PRESETS

    p.add_argument("--preset", default=None, choices=sorted([*PRESETS, "grokking"]),
                   help="train and analyse a classroom preset's runs under runs/<preset> "
                        "instead and write its REPORT.md (" + PRESET_TIME + "; "
                        "bench/logs/presets.log); grokking trains examples/grokking.py (one "
                        "--seed); default: none, the plain demo")
    p.add_argument("--size", default="full", choices=("full", "tiny"),
                   help="--preset grokking only: full (groks on 2 CPU cores) or tiny (p=23, "
                        "300 steps: checks the pipeline, does not grok)")
    p.set_defaults(func=run)
