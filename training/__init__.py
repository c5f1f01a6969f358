"""VAE library: model, objective, data, trainer, checkpoints. Never imports Streamlit.

    from training import RunConfig, ModelConfig, TrainConfig, Trainer, load_run, load_dataset

Names are imported lazily, so ``import training.errors`` does not pull in torch.
"""

from importlib import import_module

_EXPORTS = {
    "Run": "checkpoint", "load_model_from_bytes": "checkpoint", "load_run": "checkpoint",
    "ModelConfig": "config", "RunConfig": "config", "TrainConfig": "config",
    "Dataset": "data", "list_datasets": "data", "load_dataset": "data",
    "UserError": "errors",
    "evaluate_model": "evaluate",
    "VAE": "model", "pick_device": "model",
    "iwae_bound": "objective", "kl_per_dim": "objective", "vae_loss": "objective",
    "Progress": "trainer", "Trainer": "trainer", "TrainingDiverged": "trainer",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"training.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'training' has no attribute {name!r}")
