"""Optuna: the recorder of a trial, in one line of an objective.

Example:
    ```python
    def objective(trial):
        lr = trial.suggest_float("lr", 1e-3, 1e-1, log=True)
        model = build(trial.suggest_categorical("activation", ["tanh", "relu"]), lr)
        recorder = trial_recorder(trial, "sweep/", inputs=X, targets=y)
        history = model.fit(X, y, epochs=50, callbacks=[recorder], verbose=0)
        return history.history["loss"][-1]
    ```

The run is ``trial_<number>`` (4 digits at least, so names sort as numbers);
its ``hparams`` are ``trial.params`` when the recorder is made, so make it
after the ``suggest_*`` calls. Processes that share one study (one storage:
an SQLite file, a ``JournalStorage``) get distinct trial numbers; with a
directory as ``path`` each trial writes its own file (an HDF5 file has one
writer), so they never meet.
"""

from replay.record.callback import Recorder


def trial_recorder(trial, path, inputs, targets, **options):
    """Return a :class:`replay.Recorder` recording ``trial`` as run ``trial_<number>``.

    Args:
        trial: the ``optuna.Trial`` handed to the objective.
        path: a run file, or a directory (one file per trial: for processes
            sharing a study).
        inputs, targets: the samples to record (see :class:`replay.Recorder`).
        **options: any other :class:`replay.Recorder` argument.

    Returns:
        The recorder, to pass to ``fit(callbacks=[...])``.
    """
    name = run_name(trial)
    recorder = Recorder(path, name, inputs, targets, **options)
    facts = {"engine": "optuna", "id": int(trial.number)}
    study = getattr(getattr(trial, "study", None), "study_name", None)
    if study:
        facts["study"] = study
    # Named as a trial: a run of that name already there (an earlier study in
    # the same place) makes this one trial_<number>-1, never an error mid-study.
    recorder.name_trial(name, hparams=dict(trial.params), trial=facts)
    return recorder


def run_name(trial):
    """``trial_0007``: the run of Optuna trial number 7."""
    return f"trial_{int(trial.number):04d}"
