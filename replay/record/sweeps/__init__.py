"""Engine adapters: every trial of a KerasTuner, Optuna or Ray Tune search recorded as its own run.

Each adapter is a few lines: it names the run after the trial, stores the
trial's hyperparameters (``Run.hparams``) and what the trial is
(``Run.trial``), and picks the file — one per trial (a directory as the
recorder's ``path``) where trials run in parallel, since an HDF5 file has
one writer. The engines are optional extras (``[tuner]``, ``[optuna]``,
``[ray]``), imported by these modules only, never by ``import replay``:

- :mod:`replay.record.sweeps.keras_tuner`: :func:`record_trials`, for a tuner whose
  ``search(..., callbacks=[Recorder(...)])`` records every trial;
- :mod:`replay.record.sweeps.optuna`: :func:`trial_recorder`, one line in an objective;
- :mod:`replay.record.sweeps.ray_tune`: :func:`trial_recorder`, one line in a
  function trainable.

Without an adapter, a recorder in a KerasTuner search still records every
trial (the tuner deep-copies it per trial; the copies' runs are ``run``,
``run-1``, ...), only without the trial's name and hyperparameters.
"""
