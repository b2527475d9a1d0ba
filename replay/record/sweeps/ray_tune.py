"""Ray Tune: the recorder of a function trainable's trial, in one line.

Example:
    ```python
    def train(config):
        model = build(config["activation"], config["lr"])
        recorder = trial_recorder(config, inputs=X, targets=y)
        model.fit(X, y, epochs=50, callbacks=[recorder], verbose=0)

    tune.Tuner(train, param_space={...},
               run_config=tune.RunConfig(storage_path="/shared/ray")).fit()
    ```

The run is ``trial_<trial id>`` and its ``hparams`` are the scalar entries
of ``config``. By default it is written to ``replay.h5`` in the trial's own
directory (``ray.tune.get_context().get_trial_dir()``), so concurrent
trials never share a file; ``path=`` names another place, e.g. a directory
on storage every node of a cluster sees (one file per trial in it).
"""

import os

from replay.record.callback import Recorder

#: The run file in a trial's directory.
TRIAL_FILE = "replay.h5"


def trial_recorder(config, inputs, targets, *, path=None, **options):
    """Return a :class:`replay.Recorder` recording the current Ray Tune trial.

    Args:
        config: the trial's ``config`` (its scalar entries become ``hparams``).
        inputs, targets: the samples to record (see :class:`replay.Recorder`).
        path: a run file or a directory; default: ``replay.h5`` in the trial
            directory.
        **options: any other :class:`replay.Recorder` argument.

    Returns:
        The recorder, to pass to ``fit(callbacks=[...])``.
    """
    from ray import tune

    context = tune.get_context()
    trial_id = context.get_trial_id()
    if path is None:
        path = os.path.join(context.get_trial_dir(), TRIAL_FILE)
    name = f"trial_{trial_id}"
    recorder = Recorder(path, name, inputs, targets, **options)
    hparams = {key: value for key, value in config.items()
               if value is None or isinstance(value, (bool, int, float, str))}
    facts = {"engine": "ray_tune", "id": str(trial_id),
             "experiment": str(context.get_experiment_name())}
    recorder.name_trial(name, hparams=hparams, trial=facts)
    return recorder
