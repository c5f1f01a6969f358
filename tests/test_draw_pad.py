"""The draw_pad component's Python side: the browser's drawing checked before use, kept in the session across
reruns and passed back to the canvas, cleared from Python; its words in both languages."""

import base64
import io
from pathlib import Path

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

from explorer.widgets import draw_pad as draw_pad_module
from explorer.widgets.draw_pad import (FRONTEND, MAX_PNG_BYTES, MAX_POINTS, MAX_STROKES, PNG_PREFIX, clean_strokes,
                                       parse, png_bytes, store_key)
from tests.waiting import HANG_S


def _png(side: int = 112) -> bytes:
    a = np.full((side, side), 255, np.uint8)
    a[40:60, 20:90] = 0
    buffer = io.BytesIO()
    Image.fromarray(a).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = _png()
URL = PNG_PREFIX + base64.b64encode(PNG).decode("ascii")
STROKE = [[0.2, 0.5], [0.5, 0.5], [0.8, 0.5004]]


def test_frontend_is_hand_written_files_on_components_v2():
    html, js, css = ((FRONTEND / name).read_text() for name in ("draw.html", "draw.js", "style.css"))
    for text in (html, css, *(path.read_text() for path in draw_pad_module.SCRIPTS)):  # nets.js, prepare.js, live.js too
        assert "http" not in text and "import " not in text  # no CDN, no third-party module
    assert "export default function" in js and "setTriggerValue" in js and "parentElement" in js
    for v1 in ("postMessage", "streamlit:render", "setFrameHeight", "componentReady"):
        assert v1 not in js
    for call in ("setPointerCapture", "pointerup", "pointercancel", "devicePixelRatio", 'lineCap = "round"'):
        assert call in js
    assert "touch-action: none" in css and "--st-primary-color" in css
    assert "components.v1" not in Path(draw_pad_module.__file__).read_text()


def test_a_png_data_url_gives_its_bytes_and_anything_else_nothing():
    assert png_bytes(URL) == PNG
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * MAX_PNG_BYTES  # a signed PNG's start, over the limit
    for bad in (None, 3, b"x", PNG, "", URL.replace("image/png", "image/jpeg"), URL[len(PNG_PREFIX):],
                URL + "!", URL[:-3] + "*==", PNG_PREFIX, PNG_PREFIX + base64.b64encode(b"GIF89a....").decode(),
                PNG_PREFIX + base64.b64encode(big).decode(), PNG_PREFIX + "A" * (2 * MAX_PNG_BYTES)):
        assert png_bytes(bad) is None, repr(bad)[:80]
    at_limit = big[:MAX_PNG_BYTES]
    assert png_bytes(PNG_PREFIX + base64.b64encode(at_limit).decode()) == at_limit  # decoded elsewhere, checked there


def test_strokes_are_lists_of_points_in_the_unit_square():
    assert clean_strokes([STROKE, [[0, 1]]]) == [[[0.2, 0.5], [0.5, 0.5], [0.8, 0.5]], [[0.0, 1.0]]]
    assert clean_strokes([]) == []
    for bad in (None, "[]", [[]], [[[0.1]]], [[[0.1, 0.2, 0.3]]], [[[0.1, "0.2"]]], [[[0.1, 1.5]]],
                [[[-0.1, 0.2]]], [[[float("nan"), 0.2]]], [[[True, 0.2]]], [[(0.1, 0.2)]], {"a": 1},
                [[[0.5, 0.5]]] * (MAX_STROKES + 1), [[[0.5, 0.5]] * (MAX_POINTS + 1)]):
        assert clean_strokes(bad) is None, repr(bad)[:80]


def test_a_drawing_message_is_kept_only_whole_and_well_formed():
    assert parse({"png": URL, "strokes": [STROKE], "version": 3}) == {
        "png": PNG, "strokes": clean_strokes([STROKE]), "version": 3}
    assert parse({"png": None, "strokes": [], "version": 4}) == {"png": None, "strokes": [], "version": 4}
    for bad in (None, [], "x", {"png": URL, "strokes": [STROKE]}, {"png": URL, "strokes": [STROKE], "version": "3"},
                {"png": URL, "strokes": [STROKE], "version": True}, {"png": URL, "strokes": [STROKE], "version": -1},
                {"png": URL, "strokes": [STROKE], "version": 2.0}, {"png": None, "strokes": [STROKE], "version": 3},
                {"png": "data:image/png;base64,@@", "strokes": [STROKE], "version": 3},
                {"png": URL, "strokes": "M 0 0", "version": 3}):
        assert parse(bad) is None, bad


def _fake_component(calls):
    """A stand-in for the browser: records what Python sends; a trigger set in the test's session state
    (st.session_state["draw"]["drawing"]) is delivered through the component's callback, as Streamlit would."""
    def component(key, data, on_drawing_change, **live_state):
        import streamlit as st

        calls.append(data)
        data["live_state"] = live_state
        if st.session_state.get("deliver"):
            st.session_state["deliver"] = False
            on_drawing_change()
    return component


def _pad_script():
    import streamlit as st

    from explorer.widgets.draw_pad import clear, draw_pad

    if st.session_state.get("clear_first"):
        clear("draw")
    st.session_state["changes"] = st.session_state.get("changes", 0)

    def changed():
        st.session_state["changes"] += 1

    model = None
    if st.session_state.get("live"):
        from explorer import DEMOS
        from explorer.widgets.draw_pad import browser_model

        model = browser_model(str(DEMOS / "mnist5k-z16"), "demo-16")
    st.session_state["result"] = draw_pad(key="draw", on_change=changed, model=model)


def _run(at, monkeypatch, calls, trigger=None, **state):
    monkeypatch.setattr(draw_pad_module, "_component", _fake_component(calls))
    if trigger is not None:
        at.session_state["draw"] = {"drawing": trigger}
        at.session_state["deliver"] = True
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at.session_state["result"]


def test_strokes_are_kept_in_the_session_passed_back_and_cleared(monkeypatch):
    at, calls = AppTest.from_function(_pad_script, default_timeout=HANG_S), []
    assert _run(at, monkeypatch, calls) is None  # an empty canvas
    assert calls[-1]["strokes"] == [] and calls[-1]["version"] == 0
    assert calls[-1]["texts"]["clear"] == "Clear" and calls[-1]["texts"]["undo"] == "Undo"

    drawing = _run(at, monkeypatch, calls, {"png": URL, "strokes": [STROKE, [[0.5, 0.1], [0.5, 0.9]]], "version": 1})
    assert (drawing.png, drawing.strokes, drawing.version) == (PNG, 2, 1)
    assert at.session_state["changes"] == 1
    assert _run(at, monkeypatch, calls) == drawing  # a rerun keeps it and sends the strokes back for a remount
    assert calls[-1]["strokes"] == clean_strokes([STROKE, [[0.5, 0.1], [0.5, 0.9]]]) and calls[-1]["version"] == 1

    # a forged message and a stale one (an older version) change nothing
    assert _run(at, monkeypatch, calls, {"png": "data:text/html;base64,PGI+", "strokes": [STROKE], "version": 2}) == drawing
    assert _run(at, monkeypatch, calls, {"png": URL, "strokes": [STROKE], "version": 1}) == drawing
    assert at.session_state["changes"] == 1

    undone = _run(at, monkeypatch, calls, {"png": URL, "strokes": [STROKE], "version": 2})  # Undo
    assert (undone.strokes, undone.version) == (1, 2) and at.session_state["changes"] == 2
    assert _run(at, monkeypatch, calls, {"png": None, "strokes": [], "version": 3}) is None  # Clear in the browser
    assert at.session_state[store_key("draw")]["version"] == 3

    _run(at, monkeypatch, calls, {"png": URL, "strokes": [STROKE], "version": 4})
    assert _run(at, monkeypatch, calls, clear_first=True) is None  # clear() from Python
    assert calls[-1]["strokes"] == [] and calls[-1]["version"] == 5  # newer: the canvas empties itself


def test_the_component_speaks_the_visitors_language(monkeypatch):
    at, calls = AppTest.from_function(_pad_script, default_timeout=HANG_S), []
    at.query_params["lang"] = "zh"
    _run(at, monkeypatch, calls)
    texts = calls[-1]["texts"]
    assert texts["clear"] == "清除" and texts["undo"] == "撤销"
    assert all(text and not text.isascii() for text in texts.values()), texts


def test_a_native_model_is_sent_to_the_browser_once_and_models_from_elsewhere_never(monkeypatch, tmp_path):
    from explorer import DEMOS
    from explorer.widgets.draw_pad import browser_model
    from explorer.widgets.latent_pad import decode_array

    at, calls = AppTest.from_function(_pad_script, default_timeout=HANG_S), []
    _run(at, monkeypatch, calls)
    assert calls[-1]["live"] is None and calls[-1]["live_state"] == {}  # no model: no preview, no "has" state
    _run(at, monkeypatch, calls, live=True)
    sent = calls[-1]["live"]
    assert sent["model_id"] == "demo-16" and sent["model"]["style"] == "mnist"
    encoder, decoder = sent["model"]["encoder"], sent["model"]["decoder"]
    assert [layer["kind"] for layer in encoder["layers"]] == ["dense", "dense"]
    assert encoder["layers"][-1]["out_shape"] == [32] and decoder["layers"][0]["in_shape"] == [16]  # 2Z out, Z in
    model = browser_model(str(DEMOS / "mnist5k-z16"), "demo-16")
    first = encoder["layers"][0]
    np.testing.assert_array_equal(decode_array(first["w"], first["w_shape"]), model.encoder.layers[0].w)
    assert calls[-1]["live_state"]["default"] == {"has": None}
    at.session_state["draw"] = {"has": "demo-16"}  # the browser says it holds them
    _run(at, monkeypatch, calls, live=True)
    assert calls[-1]["live"] == {"model_id": "demo-16", "model": None}

    onnx, adapter = tmp_path / "onnx", tmp_path / "adapter"
    for folder, names in ((onnx, ("encoder.onnx", "decoder.onnx")), (adapter, ("adapter.json",))):
        folder.mkdir()
        for name in names:
            (folder / name).write_text("{}")
    assert browser_model(str(onnx), "o") is None and browser_model(str(adapter), "a") is None
