"""The Train page's form: every setting of a run, labelled, explained and defaulted by its config field.

``training_form()`` returns the submitted values; ``config_from_form`` turns them into a RunConfig. The
number inputs carry no min/max of their own: a browser would mark an out-of-range value red and submit
the old one (Start would seem to do nothing). Whatever is typed is submitted, and the config models'
bounds refuse it with one sentence that names the field; the help of each input says its range.
"""

from __future__ import annotations


import streamlit as st

from explorer.i18n import N_, _, arch_word, likelihood_word
from explorer.state import serving, shared
from training.core.config import ARCHS, DECODER_STARTS, LIKELIHOODS, LR_SCHEDULES, ModelConfig, RunConfig, TrainConfig
from training.core.errors import UserError
from training.core.settings import DEFAULT_HIDDEN, build_run_config, title_of
from training.data import DATASET_NAMES, list_datasets
from training.core.config import FOLDER_PREFIX, SHAPES_DEFAULT_SIZE
from training.data.registry import image_size_range

FOLDER_CHOICE = f"{FOLDER_PREFIX}PATH"
MAX_JS_INT = 2**53 - 1  # number inputs travel through JavaScript numbers
KEEP = {"persist_state": "session"}  # the form keeps its values when the user visits another page and comes back


FORM_ONLY = {"folder": N_("Image folder"), "image_size": N_("Image size (pixels)"),  # fields that are not settings
             "beta_sweep": N_("β sweep")}
SCHEDULE_WORDS = {"wsd": N_("warm-up, stable, decay"), "cosine": N_("cosine"), "constant": N_("constant")}
START_WORDS = {"mean": N_("at the data's mean image"), "random": N_("random (PyTorch's initialisation)")}


def form_name_of(key: str) -> str:
    """How the Train form names a field in a sentence, in the visitor's language: 'Latent dimensions'."""
    return f"'{_(FORM_ONLY[key]) if key in FORM_ONLY else _(title_of(key))}'"


def range_text(low, high, low_open: bool = False) -> str:
    """'from 1 to 512', 'more than 0 and at most 10', 'at least 0'."""
    def shown(v):
        return f"{v:g}" if isinstance(v, float) else f"{v:,}"

    if low is not None and high is not None:
        if low_open:
            return _("more than {low} and at most {high}").format(low=shown(low), high=shown(high))
        return _("from {low} to {high}").format(low=shown(low), high=shown(high))
    if low is not None:
        return (_("more than {low}") if low_open else _("at least {low}")).format(low=shown(low))
    return _("at most {high}").format(high=shown(high))


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
    label = _(title_of(field))
    bounds = bounds_of(info)
    text = _(info.description) if info.description else label
    kwargs.setdefault("help", text.rstrip(".") + (f" ({bounds})." if bounds else "."))
    default = info.default if isinstance(info.default, int) else float(info.default)
    return st.number_input(label, value=default, key=key, **KEEP, **kwargs)


def choice(section: type, field: str, options: tuple[str, ...], key: str, words=None):
    """A select box for a config field with a few named values: its label, default and help from the field;
    WORDS shows each value in the visitor's language (the config keeps its own name). The words are fixed
    now, in this visitor's language, as a dict: the widget may call its format function later, outside this run."""
    info = section.model_fields[field]
    labels = {option: (words or str)(option) for option in options}
    return st.selectbox(_(title_of(field)), options, index=options.index(info.default), key=key, **KEEP,
                        format_func=labels.get,
                        help=_(info.description) + "." if info.description else None)


@st.cache_data(ttl=60, show_spinner=False)
def dataset_infos() -> dict:
    return {info.name: info for info in list_datasets()}


def dataset_label(name: str) -> str:
    info = dataset_infos().get(name)
    return _("{name} (needs a download)").format(name=name) if info is not None and not info.available else name


def config_from_form(f: dict) -> RunConfig:
    """The RunConfig the form describes, built by the same code as the command line's flags."""
    if f["dataset"] in (FOLDER_CHOICE, "shapes"):
        low, high = image_size_range(f["dataset"])
        if not low <= f["image_size"] <= high:
            raise UserError("{field} {size} is not allowed for {dataset}: give {range} pixels.", field=form_name_of("image_size"),
                            size=f["image_size"], dataset=f["dataset"], range=range_text(low, high))
    if f["dataset"] == FOLDER_CHOICE:
        path = f["folder"].strip()
        if not path:
            raise UserError("Type the image folder's path in the {field} field to train on a folder.",
                            field=form_name_of("folder"))
        serving.check_image_folder(path)
        dataset, shape = FOLDER_PREFIX + path, (f["channels"], f["image_size"], f["image_size"])
    elif f["dataset"] == "shapes":
        dataset, shape = "shapes", (1, f["image_size"], f["image_size"])
    else:
        dataset, shape = f["dataset"], dataset_infos()[f["dataset"]].image_shape
    settings = {key: f[key] for key in ("arch", "hidden", "latent_dim", "likelihood", "beta", "warmup_epochs",
                                        "cycles", "free_bits", "epochs", "batch_size", "lr", "seed")}
    settings.update({key: f.get(key) for key in ("lr_schedule", "decoder_start")})  # absent: the field's default
    settings.update(dataset=dataset, sigma=f["sigma"] if f["likelihood"] == "gaussian" else None)
    if dataset == "shapes" and f.get("dataset_size") != SHAPES_DEFAULT_SIZE:  # the default: as before one could ask
        settings["dataset_size"] = f.get("dataset_size")
    return build_run_config(settings, shape, form_name_of)  # errors name the form's fields, in the visitor's words


def sweep_name_of(key: str) -> str:
    """How a sweep's errors name a field: its betas are the 'β sweep' field's, not the 'β' field's."""
    return form_name_of("beta_sweep" if key == "beta" else key)


def betas_from_form(f: dict) -> tuple[float, ...] | None:
    """The betas of a sweep typed in 'β sweep', or None when it is empty (one training)."""
    from training.runs.sweep import parse_betas

    text = f.get("beta_sweep", "").strip()
    return parse_betas(text, form_name_of("beta_sweep")) if text else None


def gpu_devices() -> tuple[str, ...]:
    """The GPUs torch sees here, as ``--device`` names them: ('cuda',), ('mps',), or () on a machine without one."""
    import torch

    found = ("cuda",) if torch.cuda.is_available() else ()
    mps = getattr(torch.backends, "mps", None)
    return found + (("mps",) if mps is not None and mps.is_available() else ())


DEVICE_WORDS = {"auto": N_("automatic (the GPU)"), "cpu": N_("CPU"), "cuda": N_("GPU (CUDA)"), "mps": N_("GPU (Apple MPS)")}


def device_choice(gpus: tuple[str, ...]) -> str | None:
    """Where a GPU exists, a select of the device to train on (as the command line's ``--device``); its value, None
    for automatic (the launcher's own choice: the GPU, then the CPU). Nothing where there is no GPU."""
    if not gpus:
        return None
    picked = st.selectbox(_("Device"), ("auto", "cpu", *gpus), key="train_device", **KEEP,
                          format_func={d: _(DEVICE_WORDS[d]) for d in DEVICE_WORDS}.get,
                          help=_("Where the training computes: the GPU is much faster for conv models and large "
                                 "batches; the CPU leaves the GPU to other work."))
    return None if picked == "auto" else picked


def data_fields(dataset: str) -> tuple[str, int, int, int | None]:
    """The fields only some data sets use, shown only for them: (folder, image size, channels, number of images)."""
    folder, image_size, channels, size = "", 28, 1, None
    resizable, from_folder = dataset in (FOLDER_CHOICE, "shapes"), dataset == FOLDER_CHOICE
    if not resizable:
        return folder, image_size, channels, size
    cols = st.columns([2, 1, 1] if from_folder else [1, 1, 2])
    if from_folder and serving.served():  # served to others: the operator's image folders only, picked, never typed
        offered = [str(p) for p in serving.image_folders()]
        folder = cols[0].selectbox(_(FORM_ONLY["folder"]), offered, index=None, key="train_folder_choice", **KEEP,
                                   format_func=serving.shown_path,
                                   placeholder=_("one of this server's folders") if offered else
                                   _("this server offers no image folders"),
                                   help=_("The image folders this server offers (its operator lists them).")) or ""
    elif from_folder:
        folder = cols[0].text_input(_(FORM_ONLY["folder"]), key="train_folder", placeholder="/path/to/images", **KEEP,
                                    help=_("A folder of images (sub-folders = classes)."))
    size_col = cols[1] if from_folder else cols[0]
    image_size = size_col.number_input(_(FORM_ONLY["image_size"]), value=28, key="train_image_size", **KEEP,
                                       help=_("The side of the square images, {range} pixels.").format(
                                           range=range_text(*image_size_range(dataset))))
    if from_folder:
        channels = cols[2].radio(_("Channels"), (1, 3), horizontal=True, key="train_channels", **KEEP,
                                 format_func={1: _("grey"), 3: _("colour")}.get)
    else:  # shapes: as many as one asks, up to dSprites' own number
        info = TrainConfig.model_fields["dataset_size"]
        size = int(cols[1].number_input(_(title_of("dataset_size")), value=SHAPES_DEFAULT_SIZE, step=1000,
                                        key="train_dataset_size", **KEEP,
                                        help=_(info.description) + f" ({bounds_of(info)})."))
    return folder, int(image_size), channels, size


def training_form() -> dict | None:
    """The form's values once submitted, else None. The data set, the likelihood and the architecture sit above
    the form (a change redraws it at once): the fields only some data sets or likelihoods use are shown only for
    them, and the settings one rarely changes wait in 'More settings'."""
    with st.container(border=True):
        top = st.columns(3)
        shown = {name: dataset_label(name) for name in [*DATASET_NAMES, FOLDER_CHOICE]}  # words of this run
        with top[0]:
            dataset = st.selectbox(_(title_of("dataset")), [*DATASET_NAMES, FOLDER_CHOICE], format_func=shown.get,
                                   key="train_dataset", **KEEP)
        with top[1]:
            likelihood = choice(ModelConfig, "likelihood", LIKELIHOODS, "train_likelihood", likelihood_word)
        with top[2]:
            arch = st.radio(_(title_of("arch")), ARCHS, horizontal=True, key="train_arch", **KEEP,
                            format_func={a: arch_word(a) for a in ARCHS}.get)
        with st.form("train_form", border=False, enter_to_submit=False):  # Enter after a number starts nothing
            folder, image_size, channels, dataset_size = data_fields(dataset)
            cols = st.columns(4)
            with cols[0]:
                latent_dim = number(ModelConfig, "latent_dim", "train_latent_dim")
            with cols[1]:
                hidden = st.text_input(_(title_of("hidden")), key="train_hidden", **KEEP,
                                       placeholder=_("{mlp} (convolutional: {conv})").format(
                                           mlp=DEFAULT_HIDDEN["mlp"], conv=DEFAULT_HIDDEN["conv"]),
                                       help=_("Comma-separated widths (fully connected) or channels per stride-2 "
                                              "layer (convolutional)."))
            with cols[2]:
                epochs = number(TrainConfig, "epochs", "train_epochs")
            with cols[3]:
                batch_size = number(TrainConfig, "batch_size", "train_batch_size")
            cols = st.columns(4)
            with cols[0]:
                beta = number(TrainConfig, "beta", "train_beta", step=0.1)
            with cols[1]:
                beta_sweep = st.text_input(_(FORM_ONLY["beta_sweep"]), key="train_beta_sweep",
                                           placeholder="0.5, 1, 2, 4, 8", **KEEP,
                                           help=_("Empty: one training. Several values of β separated by commas: "
                                                  "one training per value, every other setting equal, shown side "
                                                  "by side on the Sweep page; the β beside it is then not used."))
            with cols[2]:
                lr = number(TrainConfig, "lr", "train_lr", step=1e-4, format="%.6f")
            with cols[3]:  # the Gaussian's fixed sigma~ (E6), which weighs the reconstruction as β weighs the KL
                sigma = number(ModelConfig, "sigma", "train_sigma", step=0.01, format="%.3f") \
                    if likelihood == "gaussian" else None
            with st.expander(_("More settings: schedules of β and of the learning rate, free bits, seed"),
                             icon=":material/tune:"):
                cols = st.columns(3)
                with cols[0]:
                    warmup = number(TrainConfig, "warmup_epochs", "train_warmup", step=1.0)
                    lr_schedule = choice(TrainConfig, "lr_schedule", LR_SCHEDULES, "train_lr_schedule",
                                         lambda v: _(SCHEDULE_WORDS[v]))
                with cols[1]:
                    cycles = number(TrainConfig, "cycles", "train_cycles")
                    decoder_start = choice(TrainConfig, "decoder_start", DECODER_STARTS, "train_decoder_start",
                                           lambda v: _(START_WORDS[v]))
                with cols[2]:
                    free_bits = number(TrainConfig, "free_bits", "train_free_bits", step=0.1)
                    seed = number(TrainConfig, "seed", "train_seed")
            gpus = gpu_devices()
            cols = st.columns([2, 1, 1] if gpus else [3, 1], vertical_alignment="bottom")
            name = cols[0].text_input(_("Run name"), key="train_name", placeholder=_("automatic: dataset-arch-zN-time"),
                                      help=_("Saved as a folder under {root}.").format(
                                          root=serving.shown_path(shared.runs_root())))
            with cols[1]:
                device = device_choice(gpus)
            if not cols[-1].form_submit_button(_("Start training"), type="primary", icon=":material/play_arrow:",
                                               width="stretch"):
                return None
    return dict(dataset=dataset, folder=folder, image_size=image_size, channels=channels, dataset_size=dataset_size,
                name=name, arch=arch,
                latent_dim=latent_dim, hidden=hidden, likelihood=likelihood, sigma=sigma, beta=beta, warmup_epochs=warmup,
                cycles=cycles, free_bits=free_bits, epochs=epochs, batch_size=batch_size, lr=lr,
                lr_schedule=lr_schedule, decoder_start=decoder_start, seed=seed,
                beta_sweep=beta_sweep, device=device)
