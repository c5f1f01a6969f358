"""VAE library: model, objective, data, trainer, run folders, models from elsewhere. Never imports Streamlit.

    from training import RunConfig, ModelConfig, TrainConfig, Trainer, load_run, load_dataset

Names are imported lazily, so ``import training`` (or ``import training.core.errors``) does not pull in
torch. The library is layered, each layer importing only those before it (docs/architecture.md; enforced by
tests/test_layers.py):

    core  <-  vae, data  <-  runs, analysis  <-  models  <-  jobs  <-  cli
"""

from importlib import import_module

_EXPORTS = {
    "Run": "models.base", "load_run": "models.open", "load_model_from_bytes": "runs.checkpoint",
    "ModelConfig": "core.config", "RunConfig": "core.config", "TrainConfig": "core.config",
    "Dataset": "data", "list_datasets": "data", "load_dataset": "data",
    "UserError": "core.errors",
    "evaluate_model": "vae.evaluate",
    "VAE": "vae.model", "pick_device": "vae.model",
    "iwae_bound": "vae.objective", "kl_per_dim": "vae.objective", "vae_loss": "vae.objective",
    "Progress": "jobs.progress", "Trainer": "jobs.trainer", "TrainingDiverged": "jobs.progress",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"training.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'training' has no attribute {name!r}")
