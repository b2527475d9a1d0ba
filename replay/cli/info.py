"""``replay info``: the runs of a file, their layers, history and what each quantity costs."""

import glob
import os

from replay.cli.common import MODEL_FILE_HELP, counted, format_bytes, where_argument
from replay.io import schema
from replay.io.runfile import list_runs
from replay.run import Run, format_hparams


def run(args):
    """Print the runs of a file: snapshots, layers, history keys and array sizes."""
    chosen = {args.file: None}  # file -> its runs to describe (None: all, or --run)
    if args.where:
        from replay.cli.common import selected_runs

        args.files, args.runs = [args.file], [args.run] if args.run else None
        chosen = {}
        for record in selected_runs(args).records:
            chosen.setdefault(record.path, []).append(record.name)
    elif os.path.isdir(args.file) or (not os.path.exists(args.file)
                                      and glob.has_magic(args.file)):  # many run files
        from replay.cli.common import check_run_files
        from replay.collection import Runs

        check_run_files([args.file])
        runs = Runs(args.file)
        chosen = dict.fromkeys((runs.named([args.run]) if args.run else runs).paths)
    for index, (file, names) in enumerate(chosen.items()):
        if index:
            print()
        _describe_file(file, args, names)
    return 0


def _describe_file(file, args, names=None):
    """Print what ``replay info`` says of one file (of the runs ``names``, if given)."""
    if names is None:
        names = list_runs(file) if not args.run else [args.run]
    try:
        on_disk = f", {format_bytes(os.path.getsize(file))} on disk"
    except OSError:
        on_disk = ""
    print(f"{file}: {counted(len(names), 'run')}{on_disk}")
    for name in names:
        with Run(file, name, model_file=args.model_file) as run:
            attrs = run.attrs
            status = "complete" if run.complete else "INCOMPLETE"
            if run.stopped_early:
                status += ", stopped early"
            if run.diverged_epoch is not None:
                status += f", DIVERGED at epoch {run.diverged_epoch:g} (loss not finite)"
            if run.n_snapshots:
                epochs = f"epochs {run.epochs[0]:g}..{run.epochs[-1]:g}"
            elif run.has_initial_weights:
                epochs = ("no complete snapshot yet; the weights before training are kept: "
                          "Run.initial_weights(layer)")
            else:
                epochs = "nothing recorded yet"
            print(f"\nrun {name!r}: {run.n_snapshots} snapshots ({epochs}), {status}")
            print(f"  keras {attrs.get('keras_version')} on {attrs.get('backend')}, "
                  f"loss {attrs.get('loss')}, batch size {attrs.get('batch_size')}, "
                  f"{attrs.get('n_samples')} samples"
                  + (f", created {attrs['created']}" if attrs.get("created") else ""))
            if run.hparams:
                print(f"  hparams: {format_hparams(run.hparams)}")
            if run.trial:
                print(f"  trial: {format_hparams(run.trial)}")
            if attrs.get("format") == "DeepReplay":
                print(_describe_deepreplay(run))
            if run.subclassed:
                print(f"  model {attrs.get('model_class')}: a subclassed keras.Model, so no "
                      "hidden activations or z-values were recorded (weights, gradients, "
                      "outputs and losses were); they need a Sequential or functional model")
            for layer in run.layers:
                print(f"  layer {layer.name:<16} {layer.class_name:<8} {layer.units:>5} units "
                      f"{layer.activation:<12} {_role(run, layer)}{_describe_storage(layer)}")
            history = run.history
            if history:
                keys = [key for key in history if key != "epoch"]
                final = ", ".join(f"{key}={history[key][-1]:.4g}" for key in keys)
                print(f"  history ({len(history.get('epoch', []))} epochs): {final}")
            arrays = run.arrays()
            recomputed = run.attrs.get(schema.RECOMPUTED_ATTRIBUTE) or {}
            if args.arrays:
                for path, (shape, dtype, size) in sorted(arrays.items()):
                    stored = "recomputed" if path in recomputed else format_bytes(size)
                    print(f"    {path:<40} {str(shape):<22} {str(dtype):<8} {stored}")
            print(_describe_sizes(run, arrays, recomputed))


def _role(run, layer):
    """``hidden`` or ``output``; ``layer`` in a subclassed model, whose roles are not traced."""
    return "layer" if run.subclassed else layer.role


def _describe_storage(layer):
    """``" [activations recomputed, ...]"``: the quantities of a layer not stored as they are."""
    names = {"preactivations": "z-values"}
    parts = []
    for quantity, mode in (layer.storage or {}).items():
        name = names.get(quantity, quantity)
        if mode == "recomputed":
            parts.append(f"{name} recomputed")
        elif mode == "summary":
            parts.append(f"{name} as summaries")
        elif mode is None and quantity == "weights":
            parts.append("no weights")
    return f" [{', '.join(parts)}]" if parts else ""


def _describe_sizes(run, arrays, recomputed):
    """The lines of ``replay info`` that say what a run stores and what each quantity costs."""
    by_quantity = {}
    per_snapshot = 0
    for path, (_, _, size) in arrays.items():
        quantity = schema.quantity_of(path)[0]
        by_quantity[quantity] = by_quantity.get(quantity, 0) + size
        if quantity not in ("inputs", "targets", "samples", "history", "snapshots",
                            schema.INITIAL):
            per_snapshot += size
    total = sum(by_quantity.values())
    snapshot = (f", {format_bytes(per_snapshot / run.n_snapshots)} per snapshot"
                if run.n_snapshots else "")
    costs = ", ".join(f"{quantity} {format_bytes(size)}" for quantity, size in
                      sorted(by_quantity.items(), key=lambda item: -item[1]) if size)
    lines = [f"  arrays: {len(arrays)}, stored size {format_bytes(total)}{snapshot}"
             + (f": {costs}" if costs else "")]
    if recomputed:
        kinds = sorted({schema.quantity_of(path)[0] for path in recomputed})
        lines.append(f"  recomputed from the weights when read (not stored): {', '.join(kinds)}")
    details = []
    for source in schema.SAMPLE_SOURCES:
        if schema.sample_indices(source) in arrays:
            trained = run.attrs.get("n_train_samples", -1) if source == "train" else -1
            details.append(f"{source}: {arrays[schema.inputs(source)][0][0]:,} samples "
                           + (f"of the {trained:,} fit trained on, " if trained > 0 else "")
                           + "a fixed subset (indices in " + schema.sample_indices(source) + ")")
    dtype, compression = run.attrs.get("storage_dtype"), run.attrs.get("compression")
    if dtype or compression:
        details.append(f"storage {dtype or 'float32'}, compression {compression or 'none'}")
    if details:
        lines.append("  " + "; ".join(details))
    return "\n".join(lines)


def _describe_deepreplay(run):
    """The line of ``replay info`` that says how a DeepReplay run is read."""
    attrs = run.attrs
    source = (f"layer names from '{attrs['model_file']}'" if attrs.get("model_file")
              else "no model file beside it: generic layer names, loss assumed")
    problem = attrs.get("compute_problem")
    how = ("activations, outputs and losses computed with numpy from its weights"
           if problem is None else f"its activations cannot be computed: {problem}")
    return (f"  written by DeepReplay ({attrs.get('epochs_trained')} of "
            f"{attrs.get('epochs_planned')} epochs): {how}; {source}")


def add(subparsers):
    parser = subparsers.add_parser(
        "info", help="describe the runs of a run file",
        description="Describe the runs of a run file (replay's own or DeepReplay's; or of every "
                    "run file of a directory or glob): per run "
                    "its state, snapshots and epochs, layers, history keys, what each "
                    "recorded quantity costs on disk and any problem found.")
    parser.add_argument("file", help="run file (.h5), or a directory or glob of run files")
    parser.add_argument("--run", help="only this run")
    parser.add_argument("--where", nargs="+", metavar="NAME=VALUE", type=where_argument,
                        help="only the runs with these hyperparameters (Run.hparams), e.g. "
                             "activation=relu lr=0.1")
    parser.add_argument("--model-file", help=MODEL_FILE_HELP)
    parser.add_argument("--arrays", action="store_true", help="list every array")
    parser.set_defaults(func=run)
