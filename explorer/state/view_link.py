"""A view is a link: the URL carries the model, the latent point and each page's own choices.

The page is the URL's path (``/``, ``/latent_map``, ...); the query holds the rest, kept up to date as
the visitor moves (``st.query_params`` rewrites the address bar without a reload):

    ?model=mnist5k-z2&z=0.4,-1.25&lang=zh            every page: the model (a run's name) and z
    &proj=pca&point=17                               Latent map: projection (and dims=3,5), picked point
    &a=3&b=41                                        Interpolate: the two test images
    &dir=label:1>label:7&t=1.5                       the direction in z and how far along it (state/direction.py)
    &proj=axis&axis=label:1>label:7                  Latent map: the direction as its x axis

Opening such a link in a new browser restores the view: ``restore()`` runs once per session, before the
page, and hands the values to their homes (the chosen model in explorer/state/shared.py, z in
explorer/state/latent_point.py, a page's choices through ``wanted``). A model is looked up by name among the
runs this server offers (never a path: a served app must not open other folders); a value that does not
fit (an unknown model, a z of the wrong length, an index out of range) is ignored with one sentence.
"""

from __future__ import annotations

import math

import streamlit as st

from explorer.i18n import N_, _

MODEL, Z = "model", "z"
RESTORED = "view_link_restored"
WANTED = "view_link_wanted"      # a page's values from the link, until that page takes them
PROBLEMS = "view_link_problems"  # {"page": where they are said, "problems": [(message, values)]}: values not used
Z_DIGITS = 2                     # z is stored in steps of 0.05: two decimals say it exactly


def restore(available, select_run, put_z, z_dim_of) -> None:
    """Once per session, before the first page: apply the link's model and z; keep the rest for the pages."""
    if st.session_state.get(RESTORED):
        return
    st.session_state[RESTORED] = True
    params = st.query_params.to_dict()
    problems = []
    name = params.get(MODEL)
    if name:
        match = next((run for run in available() if run.name == name), None)
        if match is None:
            problems.append((N_("The link's model {name} is not offered here; showing the default one."),
                             {"name": name}))
        else:
            select_run(match.path)
    text = params.get(Z)
    if text:
        z = parse_z(text)
        z_dim = z_dim_of()
        if z is None or len(z) != z_dim:
            problems.append((N_("The link's z does not fit this model ({z_dim} numbers expected); z starts at 0."),
                             {"z_dim": z_dim}))
        else:
            put_z(z)
    st.session_state[WANTED] = {k: v for k, v in params.items() if k not in (MODEL, Z)}
    st.session_state[PROBLEMS] = {"page": None, "problems": problems}


def show_problems(page: str) -> None:
    """Say the link's problems on PAGE (its URL path), the page the link opened: on that run and on every rerun of
    it (a component's first message reruns a page at once), until the visitor opens another page."""
    kept = st.session_state.get(PROBLEMS)
    if not isinstance(kept, dict) or not kept.get("problems"):
        return
    if kept["page"] is None:
        kept["page"] = page
    if kept["page"] != page:
        st.session_state.pop(PROBLEMS)
        return
    for message, values in kept["problems"]:
        st.warning(_(message).format(**values), icon=":material/link_off:")


def problem(page: str, message: str, **values) -> None:
    """A page's own link value that cannot be used: said now, and kept with the link's other problems."""
    kept = st.session_state.get(PROBLEMS)
    if not isinstance(kept, dict) or kept.get("page") not in (None, page):
        kept = st.session_state[PROBLEMS] = {"page": page, "problems": []}
    kept["page"] = page
    kept["problems"].append((message, values))
    st.warning(_(message).format(**values), icon=":material/link_off:")


def parse_z(text: str) -> list[float] | None:
    try:
        z = [float(v) for v in text.split(",")]
    except ValueError:
        return None
    return z if z and all(math.isfinite(v) for v in z) else None


def wanted(key: str) -> str | None:
    """A page's value from the link, handed over once (then the page's own state takes over)."""
    return (st.session_state.get(WANTED) or {}).pop(key, None)


def ask(key: str, value: str) -> None:
    """A page asks another for a value as a link would (``wanted`` hands it over there)."""
    wanted_now = st.session_state.get(WANTED)
    if not isinstance(wanted_now, dict):
        wanted_now = st.session_state[WANTED] = {}
    wanted_now[key] = value


def write(**values) -> None:
    """Put a page's current choices into the URL (None removes one)."""
    for key, value in values.items():
        if value is None:
            st.query_params.pop(key, None)
        elif st.query_params.get(key) != str(value):
            st.query_params[key] = str(value)


def write_z(z) -> None:
    write(**{Z: ",".join(f"{v:.{Z_DIGITS}f}".rstrip("0").rstrip(".") if v else "0" for v in z)})
