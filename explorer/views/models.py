"""Models: choose the runs folder, pick a demo or saved run, upload a run, download the current one."""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from explorer.i18n import _, error_text, uploader_words
from explorer.state import serving, shared
from explorer.state.uploads import save_uploaded_run, save_uploaded_zip
from explorer.widgets import model_words, run_actions
from training.core.costs import MB
from training.core.environment import WEIGHTS_ENV, limit_mb
from training.core.errors import UserError
from training.core.files import read_bounded
from training.models.catalogue import RunSummary
from training.models.open import ONNX, RUN, model_kind, weights_path
from training.runs import archive
from training.runs.layout import CONFIG, WEIGHTS
from training.runs.status import ACTIVE

CARDS_PER_ROW = 3


def runs_folder() -> None:
    if serving.served():  # served to others: the operator's folders only, picked, never typed
        folders = [str(p) for p in serving.runs_folders()]
        current = str(shared.runs_root())
        picked = st.selectbox(_("Runs folder"), folders, index=folders.index(current) if current in folders else 0,
                              key="models_runs_choice", format_func=serving.shown_path,
                              help=_("The runs folders this server offers (its operator sets them)."))
        if picked != current:
            st.session_state["runs_root"] = picked
            st.rerun()
        return

    def changed() -> None:
        typed = st.session_state["models_runs_root"].strip()
        st.session_state["runs_root"] = str(Path(typed).expanduser()) if typed else str(shared.runs_root())

    st.text_input(_("Runs folder"), value=str(shared.runs_root()), key="models_runs_root", on_change=changed,
                  help=_("Where trainings are saved and runs are listed (also set by $VAE_EXPLORER_RUNS)."))
    root = shared.runs_root()
    if not root.is_dir():
        st.caption(_("{path} does not exist yet; the first training or upload creates it.").format(path=f"`{root}`"))


def card(run: RunSummary) -> None:
    with st.container(border=True):
        badge = " · :blue-badge[" + _("demo") + "]" if run.bundled else (
            f" · {run_actions.badge(run.state)}" if run_actions.badge(run.state) else "")
        st.markdown(f"**{run.name}**{badge}")
        st.caption(model_words.caption(run))
        if model_words.is_foreign(run):  # a model from elsewhere: no training to tell, no β
            st.markdown(_("A model from elsewhere, without a training history; python -m training evaluate scores it."))
            with st.container(horizontal=True):
                run_actions.use_button(run, serving.widget_key(run.path))
            return
        elbo = f"{run.test_neg_elbo:.2f}" if run.test_neg_elbo is not None else "-"
        units = (_("{active} of {z_dim}").format(active=run.active_units, z_dim=run.latent_dim)
                 if run.active_units is not None else "-")
        st.markdown(_("epochs {done} of {planned} · test −ELBO {elbo} · active units {units}").format(
            done=run.epochs_done, planned=run.epochs_planned, elbo=elbo, units=units)
                    + ("" if run.mig is None else " · " + _("MIG {mig}").format(mig=f"{run.mig:.2f}")))
        if run.state == "failed" and run.status is not None and run.status.reason:
            st.caption(f":red[{run_actions.reason_text(run.status)}]")
        elif run.state == "interrupted":
            st.caption(":red[" + _("Its training process ended without finishing; Resume continues from the last "
                                   "saved epoch.") + "]")
        with st.container(horizontal=True):
            key = serving.widget_key(run.path)
            run_actions.use_button(run, key)
            run_actions.stop_button(run, f"card_{key}")
            run_actions.resume_button(run, f"card_{key}")
            run_actions.delete_button(run, key)


def run_cards() -> None:
    runs = shared.all_runs()
    any_active = any(r.state in ACTIVE for r in runs)

    @st.fragment(run_every=1.0 if any_active else None)
    def cards() -> None:
        run_actions.show_action_error()
        shown = shared.all_runs()
        if any_active != any(r.state in ACTIVE for r in shown):
            st.rerun()  # a training began or all ended: redraw so the cards tick only while one is active
        for start in range(0, len(shown), CARDS_PER_ROW):
            for col, run in zip(st.columns(CARDS_PER_ROW), shown[start:start + CARDS_PER_ROW]):
                with col:
                    card(run)
        if not any(not run.bundled for run in shown):
            st.caption(_("No saved runs in this folder yet: train one on the Train page or upload one below."))

    cards()


def upload() -> None:
    uploader_words(st.get_option("server.maxUploadSize"))
    said = shared.chosen_message()  # "Saved as ...; it is now the current model", after the redraw
    if said:
        st.success(said)
    with st.form("upload_form", clear_on_submit=False):
        weights_col, config_col = st.columns(2)
        weights = weights_col.file_uploader(_("Weights (model.safetensors)"), type=["safetensors"], key="upload_weights")
        config = config_col.file_uploader(_("Config (config.json)"), type=["json"], key="upload_config")
        bundle = st.file_uploader(_("Or one .zip: a run as “all as .zip” saves it, or an ONNX model (encoder.onnx, "
                                    "decoder.onnx, model.json)"), type=["zip"], key="upload_zip")
        name = st.text_input(_("Save as"), key="upload_name", placeholder=_("automatic: {name}").format(
            name=time.strftime("uploaded-%Y%m%d-%H%M%S")))
        submitted = st.form_submit_button(_("Check, save and use"), icon=":material/upload:")
    if not submitted:
        return
    if bundle is None and (weights is None or config is None):
        st.error(_("Choose both files: the weights (.safetensors) and the config (config.json), or one .zip."))
        return
    run_name = name.strip() or time.strftime("uploaded-%Y%m%d-%H%M%S")
    try:
        serving.admit_upload(shared.runs_root(), bundle.size if bundle is not None else weights.size + config.size)
        if bundle is not None:
            path = save_uploaded_zip(bundle.getvalue(), shared.runs_root(), run_name)
        else:
            path = save_uploaded_run(config.getvalue(), weights.getvalue(), shared.runs_root(), run_name)
    except UserError as err:
        st.error(error_text(err))
        return
    shared.choose_run(path, _("Saved as {path}; it is now the current model.").format(
        path=f"`{serving.shown_path(path)}`"))


def zipped(run_dir: Path) -> bytes:
    """The model's files in one .zip, which the upload above takes back (training/runs/archive.py)."""
    return archive.write(archive.run_files(run_dir), run_dir.name)


def _read(run_dir: Path, name: str) -> bytes:
    """A file of the model folder for a download: a regular file, not a link, no larger than a model may be."""
    return read_bounded(run_dir / name, limit_mb(WEIGHTS_ENV) * MB, name)


def download() -> None:
    run_dir = shared.current_run_path()
    if model_kind(run_dir) == ONNX:  # its files travel as one .zip, which the upload above takes back
        st.caption(_("The current model: {path}").format(path=f"`{serving.shown_path(run_dir)}`"))
        st.download_button(_("all as .zip"), lambda: zipped(run_dir), file_name=f"{run_dir.name}.zip",
                           mime="application/zip", on_click="ignore", icon=":material/folder_zip:")
        return
    if model_kind(run_dir) != RUN or not (weights_path(run_dir).is_file() and (run_dir / CONFIG).is_file()):
        st.caption(_("The current model {path} has no files to download.").format(
            path=f"`{serving.shown_path(run_dir)}`"))
        return
    st.caption(_("The current model: {path}").format(path=f"`{serving.shown_path(run_dir)}`"))
    cols = st.columns(3)
    cols[0].download_button(WEIGHTS, lambda: _read(run_dir, WEIGHTS), file_name=WEIGHTS,
                            mime="application/octet-stream", on_click="ignore", icon=":material/download:")
    cols[1].download_button(CONFIG, lambda: _read(run_dir, CONFIG), file_name=CONFIG,
                            mime="application/json", on_click="ignore", icon=":material/download:")
    cols[2].download_button(_("all as .zip"), lambda: zipped(run_dir), file_name=f"{run_dir.name}.zip",
                            mime="application/zip", on_click="ignore", icon=":material/folder_zip:")


def main() -> None:
    st.title(_("Models"))
    runs_folder()
    st.subheader(_("Demos, saved runs and models from elsewhere"), anchor=False)
    run_cards()
    st.subheader(_("Upload a model"), anchor=False)
    st.caption(_("Everything is checked before anything is saved: the config's settings and ranges, then every "
                 "weight's name, shape and values (only safetensors files are read, never pickle); a .zip's "
                 "entries and sizes before it is unpacked; an ONNX model's graphs as the README lists."))
    upload()
    st.subheader(_("Download the current model"), anchor=False)
    download()


main()
