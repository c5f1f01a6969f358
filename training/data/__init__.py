"""Image data sets for the VAE explorer, loaded by name into float tensors.

    from training.data import load_dataset
    data = load_dataset("mnist5k")   # x_train: (4000, 1, 28, 28) float32 in [0, 1]

Names: see ``DATASET_NAMES``, plus ``folder:PATH`` for a folder of images. May import ``training.core``
only (a sibling of ``training.vae``).
"""

from importlib import import_module

_EXPORTS = {"Dataset": "dataset", "DATASET_NAMES": "registry", "DatasetInfo": "registry", "list_datasets": "registry",
            "load_dataset": "registry", "native_shape": "registry"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    """Names are imported when first used: ``training.data.budget`` (a build's cost, asked before anything is
    built, e.g. by the app's first page) must not pull in torch through ``dataset``."""
    if name in _EXPORTS:
        return getattr(import_module(f"training.data.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'training.data' has no attribute {name!r}")
