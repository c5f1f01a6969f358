"""The Train page's form: every setting of a run, with the bounds of the config models.

``training_form()`` returns the submitted values; ``config_from_form`` turns them into a RunConfig.
"""

from __future__ import annotations

import time
from argparse import Namespace

import streamlit as st

from explorer import serving, state
from training.cli import DEFAULT_HIDDEN, config_from_flags, safe_name
from training.config import ARCHS, LIKELIHOODS, ModelConfig, RunConfig, TrainConfig
from training.data import DATASET_NAMES, list_datasets
from training.data.registry import FOLDER_PREFIX, IMAGE_SIZE_RANGE
from training.errors import UserError

FOLDER_CHOICE = "folder:PATH"
MAX_JS_INT = 2**53 - 1  # number inputs travel through JavaScript numbers
KEEP = {"persist_state": "session"}  # the form keeps its values when the user visits another page and comes back


def limits(section: type, field: str, floor: float | None = None) -> tuple:
    """(min, max) of a config field from its pydantic bounds; ``floor`` stands in for an exclusive 0."""
    info = section.model_fields[field]
    low = high = None
    for rule in info.metadata:
        low = getattr(rule, "ge", low)
        high = getattr(rule, "le", high)
        if getattr(rule, "gt", None) is not None:
            low = floor
    return low, high


def number(label: str, section: type, field: str, key: str, floor: float | None = None, **kwargs):
    low, high = limits(section, field, floor)
    default = section.model_fields[field].default
    if isinstance(default, int):
        high = min(high, MAX_JS_INT)
    else:
        low, high, default = float(low), float(high), float(default)
    return st.number_input(label, min_value=low, max_value=high, value=default, key=key, **KEEP, **kwargs)


@st.cache_data(ttl=60, show_spinner=False)
def dataset_infos() -> dict:
    return {info.name: info for info in list_datasets()}


def dataset_label(name: str) -> str:
    info = dataset_infos().get(name)
    return f"{name} (needs a download)" if info is not None and not info.available else name


def config_from_form(f: dict) -> RunConfig:
    """The RunConfig the form describes, built by the same code as the command line's flags."""
    if f["dataset"] == FOLDER_CHOICE:
        path = f["folder"].strip()
        if not path:
            raise UserError("Type the image folder's path in the 'Image folder' field to train on a folder.")
        serving.check_image_folder(path)
        dataset, shape = FOLDER_PREFIX + path, (f["channels"], f["image_size"], f["image_size"])
    elif f["folder"].strip():
        raise UserError(f"An image folder is typed in, but the data set is {f['dataset']}; choose 'folder:PATH' "
                        "to train on the folder, or clear the 'Image folder' field.")
    elif f["dataset"] == "shapes":
        dataset, shape = "shapes", (1, f["image_size"], f["image_size"])
    else:
        dataset, shape = f["dataset"], dataset_infos()[f["dataset"]].image_shape
    flags = Namespace(
        dataset=dataset, arch=f["arch"], hidden=f["hidden"].strip() or None, latent_dim=f["latent_dim"],
        likelihood=f["likelihood"], sigma=f["sigma"] if f["likelihood"] == "gaussian" else None, min_sigma=None,
        beta=f["beta"], warmup_epochs=f["warmup"], cycles=f["cycles"], free_bits=f["free_bits"], samples=None,
        binarize=None, epochs=f["epochs"], batch_size=f["batch_size"], lr=f["lr"], seed=f["seed"],
    )
    return config_from_flags(flags, shape)


def default_run_name(config: RunConfig) -> str:
    return time.strftime(f"{safe_name(config.train.dataset)}-{config.model.arch}-z{config.model.latent_dim}-%Y%m%d-%H%M%S")


def training_form() -> dict | None:
    """The form's values once submitted, else None."""
    with st.form("train_form"):
        data_col, model_col, objective_col = st.columns(3)
        with data_col:
            st.markdown("**Data**")
            dataset = st.selectbox("Data set", [*DATASET_NAMES, FOLDER_CHOICE], format_func=dataset_label,
                                   key="train_dataset", **KEEP)
            if serving.served():  # served to others: the operator's image folders only, picked, never typed
                offered = [str(p) for p in serving.image_folders()]
                folder = st.selectbox("Image folder", offered, index=None, key="train_folder_choice", **KEEP,
                                      placeholder="one of this server's folders" if offered else
                                      "this server offers no image folders",
                                      help="For the data set 'folder:PATH': the image folders this server offers "
                                           "(its operator lists them).") or ""
            else:
                folder = st.text_input("Image folder", key="train_folder", placeholder="/path/to/images", **KEEP,
                                       help="For the data set 'folder:PATH': a folder of images (sub-folders = "
                                            "classes).")
            image_size = st.number_input("Image size (pixels)", *IMAGE_SIZE_RANGE, value=28, key="train_image_size",
                                         help="Side of 'shapes' (at most 128) and folder images; other sets are fixed.",
                                         **KEEP)
            channels = st.radio("Channels (folders)", (1, 3), horizontal=True, key="train_channels", **KEEP,
                                format_func=lambda c: "grey" if c == 1 else "colour")
            name = st.text_input("Run name", key="train_name", placeholder="automatic: dataset-arch-zN-time",
                                 help=f"Saved as a folder under {state.runs_root()}.")
        with model_col:
            st.markdown("**Model**")
            arch = st.radio("Architecture", ARCHS, horizontal=True, key="train_arch", **KEEP)
            latent_dim = number("Latent dimensions", ModelConfig, "latent_dim", "train_latent_dim")
            hidden = st.text_input("Hidden sizes", key="train_hidden", **KEEP,
                                   placeholder=f"mlp: {DEFAULT_HIDDEN['mlp']}; conv: {DEFAULT_HIDDEN['conv']}",
                                   help="Comma-separated widths (mlp) or channels per stride-2 layer (conv).")
            likelihood = st.selectbox("Likelihood", LIKELIHOODS, key="train_likelihood", **KEEP)
            sigma = number("Decoder sigma~ (gaussian only)", ModelConfig, "sigma", "train_sigma", floor=0.001,
                           step=0.01, format="%.3f")
        with objective_col:
            st.markdown("**Objective and optimiser**")
            beta = number("beta (KL weight)", TrainConfig, "beta", "train_beta", step=0.1)
            warmup = number("Warm-up epochs", TrainConfig, "warmup_epochs", "train_warmup", step=1.0,
                            help="Raise beta linearly from 0 over this many epochs (0 = off).")
            cycles = number("Cyclical annealing cycles", TrainConfig, "cycles", "train_cycles",
                            help="Repeat a 0-to-beta ramp this many times (0 = off); not together with warm-up.")
            free_bits = number("Free bits (nats per dimension)", TrainConfig, "free_bits", "train_free_bits", step=0.1)
            epochs = number("Epochs", TrainConfig, "epochs", "train_epochs")
            batch_size = number("Batch size", TrainConfig, "batch_size", "train_batch_size")
            lr = number("Learning rate", TrainConfig, "lr", "train_lr", floor=1e-6, step=1e-4, format="%.6f")
            seed = number("Seed", TrainConfig, "seed", "train_seed")
        if not st.form_submit_button("Start training", type="primary", icon=":material/play_arrow:"):
            return None
    return dict(dataset=dataset, folder=folder, image_size=int(image_size), channels=channels, name=name, arch=arch,
                latent_dim=latent_dim, hidden=hidden, likelihood=likelihood, sigma=sigma, beta=beta, warmup=warmup,
                cycles=cycles, free_bits=free_bits, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
