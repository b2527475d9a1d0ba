"""KerasTuner: name each trial's run after the trial and store its hyperparameters.

KerasTuner passes no trial to callbacks: its ``run_trial`` deep-copies the
``callbacks`` of ``search`` for every execution of a trial and fits a model
built from ``trial.hyperparameters``. :func:`record_trials` wraps that
``run_trial`` of one tuner: before the copies are made, every
:class:`replay.Recorder` among the callbacks is told the trial
(:meth:`replay.Recorder.name_trial`), so each copy records run
``trial_<id>`` (KerasTuner's own trial folder name) with the trial's
hyperparameters.

Hyperband trains a trial in rounds: a later round builds a new model, loads
the weights of the trial it continues and fits from ``initial_epoch`` > 0.
Its run holds that continuation (snapshot 0 is the state it resumed from;
epochs counted from there) and its ``trial`` attribute names the trial it
continues: ``{"engine": "keras_tuner", "id": "0012", "continues": "0003",
"initial_epoch": 2, "bracket": 1, "round": 1}``. Hyperband's ``tuner/*``
values go to ``trial``, not to ``hparams``.

Distributed tuning (``KERASTUNER_TUNER_ID``, ``KERASTUNER_ORACLE_IP`` /
``_PORT``): every worker runs the same script; give the recorder a directory
on the shared file system as ``path`` so each trial writes its own file
(``trial["tuner"]`` names the worker that trained it).
"""

import os

from replay.record.callback import Recorder

#: The prefix of KerasTuner's own values (Hyperband's rounds), kept out of ``hparams``.
TUNER_PREFIX = "tuner/"
#: ``tuner/...`` values written to the run's ``trial`` attribute, under these keys.
TRIAL_KEYS = {"tuner/trial_id": "continues", "tuner/initial_epoch": "initial_epoch",
              "tuner/epochs": "epochs", "tuner/bracket": "bracket", "tuner/round": "round"}


def record_trials(tuner):
    """Make every :class:`replay.Recorder` in ``tuner.search(callbacks=...)`` record each
    trial as run ``trial_<id>`` with the trial's hyperparameters.

    Args:
        tuner: a KerasTuner tuner (``RandomSearch``, ``GridSearch``,
            ``BayesianOptimization``, ``Hyperband`` or a subclass).

    Returns:
        ``tuner`` itself, its ``run_trial`` wrapped.

    Example:
        ```python
        tuner = record_trials(keras_tuner.RandomSearch(build, objective="accuracy",
                                                       max_trials=9))
        tuner.search(X, y, epochs=20,
                     callbacks=[Recorder("sweep.h5", inputs=X, targets=y)])
        ```
    """
    run_trial = tuner.run_trial

    def run_recorded_trial(trial, *args, **kwargs):
        recorders = [callback for callback in kwargs.get("callbacks") or ()
                     if isinstance(callback, Recorder)]
        for recorder in recorders:
            recorder.name_trial(run_name(trial), hparams=trial_hparams(trial),
                                trial=trial_facts(trial))
        try:
            return run_trial(trial, *args, **kwargs)
        finally:
            # A trial whose fit raised left its copy's file open: let it go
            # now (its run stays readable, marked incomplete).
            for recorder in recorders:
                recorder.close()

    tuner.run_trial = run_recorded_trial
    return tuner


def run_name(trial):
    """``trial_<id>``: the run of a trial, named as KerasTuner names the trial's folder."""
    return f"trial_{trial.trial_id}"


def trial_hparams(trial):
    """The trial's hyperparameters, without KerasTuner's own ``tuner/*`` values."""
    return {name: value for name, value in trial.hyperparameters.values.items()
            if not name.startswith(TUNER_PREFIX)}


def trial_facts(trial):
    """The run's ``trial`` attribute: engine, id, and what Hyperband says of its rounds."""
    facts = {"engine": "keras_tuner", "id": str(trial.trial_id)}
    values = trial.hyperparameters.values
    for name, key in TRIAL_KEYS.items():
        if name in values:
            facts[key] = values[name]
    tuner_id = os.environ.get("KERASTUNER_TUNER_ID")
    if tuner_id:
        facts["tuner"] = tuner_id
    return facts
