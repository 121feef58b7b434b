"""The tutorial's model saving: a trained ``SimpleModel`` in ``model.pkl``, loaded to predict.

pickle: ``pickle.load(f)`` of a model file runs whatever the file says; a model downloaded or
shared by someone else is untrusted input. safepickle: the classes a model file may contain
are listed in a policy file (``safepickle.toml``), which operators can review and extend
without a code change. The hostile counterpart: a "model" that runs code when loaded.
"""

from __future__ import annotations

import builtins
import pickle

import safepickle

# In an application this is "myapp.models:SimpleModel"; here the class lives in the script.
POLICY_FILE = """\
# What model.pkl may contain, besides plain data.
allow = ["__main__:SimpleModel"]
"""


class SimpleModel:
    def __init__(self) -> None:
        self.weights: list[float] = []

    def train(self, data: list[int]) -> None:
        # Training logic
        self.weights = [0.5, 0.3, 0.2]

    def predict(self, x: list[int]) -> float:
        return sum(w * xi for w, xi in zip(self.weights, x, strict=True))


class Backdoored:
    """A "model" an attacker uploads: loaded by pickle, it runs code that creates CANARY."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (builtins.exec, ("open('CANARY', 'w').close()",))


def main() -> None:
    with open("safepickle.toml", "w") as f:
        f.write(POLICY_FILE)
    policy = safepickle.Policy.from_config("safepickle.toml")

    # Train model
    model = SimpleModel()
    model.train([1, 2, 3])

    # Save model
    with open("model.pkl", "wb") as f:
        safepickle.dump(model, f)

    # Later: load and use
    with open("model.pkl", "rb") as f:
        loaded_model = safepickle.load(f, policy=policy)

    prediction = loaded_model.predict([1, 2, 3])
    print(f"Prediction: {prediction}")

    # The attack: a model file that runs code.
    with open("model.pkl", "wb") as f:
        pickle.dump(Backdoored(), f)
    try:
        with open("model.pkl", "rb") as f:
            safepickle.load(f, policy=policy)
    except safepickle.ForbiddenGlobal as err:
        print("refused:", err)


if __name__ == "__main__":
    # Work in a scratch directory that is checked for CANARY, then removed.
    from _scratch import scratch_directory

    with scratch_directory():
        main()
