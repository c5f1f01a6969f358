"""The Train page's form: every setting of a run, labelled, explained and defaulted by its config field.

``training_form()`` returns the submitted values; ``config_from_form`` turns them into a RunConfig. The
number inputs carry no min/max of their own: a browser would mark an out-of-range value red and submit
the old one (Start would seem to do nothing). Whatever is typed is submitted, and the config models'
bounds refuse it with one sentence that names the field; the help of each input says its range.
"""

from __future__ import annotations


import streamlit as st

from explorer import serving, state
from training.config import ARCHS, LIKELIHOODS, ModelConfig, RunConfig, TrainConfig
from training.data import DATASET_NAMES, list_datasets
from training.data.registry import FOLDER_PREFIX, image_size_range
from training.errors import UserError
from training.settings import DEFAULT_HIDDEN, build_run_config, form_name, title_of

FOLDER_CHOICE = "folder:PATH"
MAX_JS_INT = 2**53 - 1  # number inputs travel through JavaScript numbers
KEEP = {"persist_state": "session"}  # the form keeps its values when the user visits another page and comes back


def range_text(low, high, low_open: bool = False) -> str:
    """'from 1 to 512', 'more than 0 and at most 10', 'at least 0'."""
    def shown(v):
        return f"{v:g}" if isinstance(v, float) else f"{v:,}"

    first = None if low is None else (f"more than {shown(low)}" if low_open else f"at least {shown(low)}")
    if first is not None and high is not None:
        return f"from {shown(low)} to {shown(high)}" if not low_open else f"{first} and at most {shown(high)}"
    return first or f"at most {shown(high)}"


def bounds_of(info) -> str:
    """The range a config field allows, in words, from its pydantic metadata (ge, gt, le)."""
    low = high = None
    low_open = False
    for rule in info.metadata:
        if getattr(rule, "ge", None) is not None:
            low = rule.ge
        if getattr(rule, "gt", None) is not None:
            low, low_open = rule.gt, True
        if getattr(rule, "le", None) is not None:
            high = rule.le
    if high is not None and high >= MAX_JS_INT:
        high = None  # "at least 0" says it: nobody types a 64-bit seed
    return "" if low is None and high is None else range_text(low, high, low_open)


def number(section: type, field: str, key: str, **kwargs):
    """A number input for a config field: its label, default and help (with its range) from the field."""
    info = section.model_fields[field]
    label = title_of(field)
    bounds = bounds_of(info)
    kwargs.setdefault("help", f"{(info.description or label).rstrip('.')}" + (f" ({bounds})." if bounds else "."))
    default = info.default if isinstance(info.default, int) else float(info.default)
    return st.number_input(label, value=default, key=key, **KEEP, **kwargs)


@st.cache_data(ttl=60, show_spinner=False)
def dataset_infos() -> dict:
    return {info.name: info for info in list_datasets()}


def dataset_label(name: str) -> str:
    info = dataset_infos().get(name)
    return f"{name} (needs a download)" if info is not None and not info.available else name


def config_from_form(f: dict) -> RunConfig:
    """The RunConfig the form describes, built by the same code as the command line's flags."""
    if f["dataset"] in (FOLDER_CHOICE, "shapes"):
        low, high = image_size_range(f["dataset"])
        if not low <= f["image_size"] <= high:
            raise UserError(f"'Image size (pixels)' {f['image_size']} is not allowed for {f['dataset']}: give "
                            f"{range_text(low, high)} pixels.")
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
            image_size = st.number_input("Image size (pixels)", value=28, key="train_image_size", **KEEP,
                                         help=f"Side of 'shapes' ({range_text(*image_size_range('shapes'))}) and of "
                                              f"folder images ({range_text(*image_size_range(FOLDER_CHOICE))}); "
                                              "other sets have a fixed size.")
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
            sigma = number(ModelConfig, "sigma", "train_sigma",
                           step=0.01, format="%.3f")
        with objective_col:
            st.markdown("**Objective and optimiser**")
            beta = number(TrainConfig, "beta", "train_beta", step=0.1)
            warmup = number(TrainConfig, "warmup_epochs", "train_warmup", step=1.0)
            cycles = number(TrainConfig, "cycles", "train_cycles")
            free_bits = number(TrainConfig, "free_bits", "train_free_bits", step=0.1)
            epochs = number(TrainConfig, "epochs", "train_epochs")
            batch_size = number(TrainConfig, "batch_size", "train_batch_size")
            lr = number(TrainConfig, "lr", "train_lr", step=1e-4, format="%.6f")
            seed = number(TrainConfig, "seed", "train_seed")
        if not st.form_submit_button("Start training", type="primary", icon=":material/play_arrow:"):
            return None
    return dict(dataset=dataset, folder=folder, image_size=int(image_size), channels=channels, name=name, arch=arch,
                latent_dim=latent_dim, hidden=hidden, likelihood=likelihood, sigma=sigma, beta=beta, warmup_epochs=warmup,
                cycles=cycles, free_bits=free_bits, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
