"""Image data sets for the VAE explorer, loaded by name into float tensors.

    from training.data import load_dataset
    data = load_dataset("mnist5k")   # x_train: (4000, 1, 28, 28) float32 in [0, 1]

Names: see ``DATASET_NAMES``, plus ``folder:PATH`` for a folder of images. May import ``training.core``
only (a sibling of ``training.vae``).
"""

from .dataset import Dataset
from .registry import DATASET_NAMES, DatasetInfo, list_datasets, load_dataset, native_shape

__all__ = ["DATASET_NAMES", "Dataset", "DatasetInfo", "list_datasets", "load_dataset", "native_shape"]
