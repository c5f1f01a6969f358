"""The Train page's form: every setting of a run, with the bounds of the config models.

``training_form()`` returns the submitted values; ``config_from_form`` turns them into a RunConfig.
"""

from __future__ import annotations


import streamlit as st

from explorer import serving, state
from training.config import ARCHS, LIKELIHOODS, ModelConfig, RunConfig, TrainConfig
from training.data import DATASET_NAMES, list_datasets
from training.data.registry import FOLDER_PREFIX, IMAGE_SIZE_RANGE
from training.errors import UserError
from training.settings import DEFAULT_HIDDEN, build_run_config, form_name, title_of

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


def number(section: type, field: str, key: str, floor: float | None = None, **kwargs):
    """A number input for a config field: its label, bounds, default and help all from the field."""
    label = title_of(field)
    kwargs.setdefault("help", section.model_fields[field].description)
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
    settings = {key: f[key] for key in ("arch", "hidden", "latent_dim", "likelihood", "beta", "warmup_epochs",
                                        "cycles", "free_bits", "epochs", "batch_size", "lr", "seed")}
    settings.update(dataset=dataset, sigma=f["sigma"] if f["likelihood"] == "gaussian" else None)
    return build_run_config(settings, shape, form_name)  # errors name the form's fields


def training_form() -> dict | None:
    """The form's values once submitted, else None."""
    with st.form("train_form"):
        data_col, model_col, objective_col = st.columns(3)
        with data_col:
            st.markdown("**Data**")
            dataset = st.selectbox(title_of("dataset"), [*DATASET_NAMES, FOLDER_CHOICE], format_func=dataset_label,
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
            arch = st.radio(title_of("arch"), ARCHS, horizontal=True, key="train_arch", **KEEP)
            latent_dim = number(ModelConfig, "latent_dim", "train_latent_dim")
            hidden = st.text_input(title_of("hidden"), key="train_hidden", **KEEP,
                                   placeholder=f"mlp: {DEFAULT_HIDDEN['mlp']}; conv: {DEFAULT_HIDDEN['conv']}",
                                   help="Comma-separated widths (mlp) or channels per stride-2 layer (conv).")
            likelihood = st.selectbox(title_of("likelihood"), LIKELIHOODS, key="train_likelihood", **KEEP)
            sigma = number(ModelConfig, "sigma", "train_sigma", floor=0.001,
                           step=0.01, format="%.3f")
        with objective_col:
            st.markdown("**Objective and optimiser**")
            beta = number(TrainConfig, "beta", "train_beta", step=0.1)
            warmup = number(TrainConfig, "warmup_epochs", "train_warmup", step=1.0)
            cycles = number(TrainConfig, "cycles", "train_cycles")
            free_bits = number(TrainConfig, "free_bits", "train_free_bits", step=0.1)
            epochs = number(TrainConfig, "epochs", "train_epochs")
            batch_size = number(TrainConfig, "batch_size", "train_batch_size")
            lr = number(TrainConfig, "lr", "train_lr", floor=1e-6, step=1e-4, format="%.6f")
            seed = number(TrainConfig, "seed", "train_seed")
        if not st.form_submit_button("Start training", type="primary", icon=":material/play_arrow:"):
            return None
    return dict(dataset=dataset, folder=folder, image_size=int(image_size), channels=channels, name=name, arch=arch,
                latent_dim=latent_dim, hidden=hidden, likelihood=likelihood, sigma=sigma, beta=beta, warmup_epochs=warmup,
                cycles=cycles, free_bits=free_bits, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
