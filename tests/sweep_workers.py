"""Trial processes for tests/test_sweep_engines.py: one engine's worker, run as a subprocess.

Usage:
    python tests/sweep_workers.py optuna DIRECTORY JOURNAL N_TRIALS
    python tests/sweep_workers.py keras_tuner DIRECTORY PROJECT_DIR   (KERASTUNER_* set)
    python tests/sweep_workers.py ray STORAGE DIRECTORY

Every trial trains the part-1 net for 2 epochs on 40 parabola points and
records into DIRECTORY (one file per trial). Optuna trial 1 raises in its
second epoch: its run must stay readable and incomplete.
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402

from replay.datasets import parabola  # noqa: E402

INPUTS, TARGETS = parabola(20)


def part1_net(activation, learning_rate):
    model = keras.Sequential([
        keras.Input((2,)),
        keras.layers.Dense(2, activation=activation, name="hidden"),
        keras.layers.Dense(1, activation="sigmoid", name="output"),
    ])
    model.compile(keras.optimizers.SGD(learning_rate), "binary_crossentropy",
                  metrics=["accuracy"])
    return model


class FailInSecondEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            raise RuntimeError("trial failed on purpose")


def optuna_worker(directory, journal, n_trials):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    from replay.record.sweeps.optuna import trial_recorder

    def objective(trial):
        model = part1_net(trial.suggest_categorical("activation", ["tanh", "relu"]),
                          trial.suggest_float("lr", 0.01, 0.1, log=True))
        recorder = trial_recorder(trial, directory + "/", INPUTS, TARGETS)
        callbacks = [recorder] + ([FailInSecondEpoch()] if trial.number == 1 else [])
        try:
            history = model.fit(INPUTS, TARGETS, epochs=2, batch_size=8, verbose=0,
                                callbacks=callbacks)
        finally:
            recorder.close()
        return history.history["loss"][-1]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="sweep", load_if_exists=True,
                                storage=JournalStorage(JournalFileBackend(journal)))
    study.optimize(objective, n_trials=n_trials, catch=(RuntimeError,))


def keras_tuner_worker(directory, project_dir):
    import keras_tuner

    from replay import Recorder
    from replay.record.sweeps.keras_tuner import record_trials

    def build(hp):
        return part1_net(hp.Choice("activation", ["tanh", "relu", "sigmoid"]),
                         hp.Choice("lr", [0.05, 0.1]))

    tuner = record_trials(keras_tuner.RandomSearch(
        build, objective="loss", max_trials=4, directory=project_dir, project_name="dist",
        seed=0))
    tuner.search(INPUTS, TARGETS, epochs=2, batch_size=8, verbose=0,
                 callbacks=[Recorder(directory + "/", "trial", INPUTS, TARGETS)])


def ray_trial(config, directory):
    from replay.record.sweeps.ray_tune import trial_recorder

    model = part1_net(config["activation"], config["lr"])
    # The first trial writes into its trial directory, the second into ``directory``.
    recorder = trial_recorder(config, INPUTS, TARGETS,
                              path=None if config["lr"] == 0.05 else directory + "/")
    model.fit(INPUTS, TARGETS, epochs=2, batch_size=8, verbose=0, callbacks=[recorder])


def ray_worker(storage, directory):
    """Two concurrent trials on ``ray.init(num_cpus=2)``: the first writes to its trial
    directory (under ``storage``), the second to ``directory`` (one file per trial)."""
    import ray
    from ray import tune

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(ray_trial, directory=directory), {"cpu": 1}),
        param_space={"activation": "tanh", "lr": tune.grid_search([0.05, 0.1])},
        tune_config=tune.TuneConfig(max_concurrent_trials=2),
        run_config=tune.RunConfig(storage_path=storage, name="sweep", verbose=0))
    results = tuner.fit()
    assert not results.errors, results.errors
    ray.shutdown()


if __name__ == "__main__":
    engine, *arguments = sys.argv[1:]
    if engine == "optuna":
        optuna_worker(arguments[0], arguments[1], int(arguments[2]))
    elif engine == "keras_tuner":
        keras_tuner_worker(*arguments)
    elif engine == "ray":
        ray_worker(*arguments)
    else:
        raise SystemExit(f"unknown engine {engine!r}")
