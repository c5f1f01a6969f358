"""Models as folders: the one place that says what kind of model a folder holds and opens it
(``open``: kind, config, load, decoder, weights file), the catalogue of runs (``catalogue``), models
trained elsewhere as ONNX graphs (``onnx_graph`` reads and checks, ``onnx_roles`` says which input and output
is which, by role, ``onnx_decoder`` turns a decoder graph into arrays, ``onnx_runtime`` runs, ``onnx_export``
writes) and one's own model code (``adapter``). What the native, ONNX and adapter models share is in ``base``
(the interface, no torch) and ``onnx_runtime.ForeignModel`` (torch).

May import ``core``, ``vae``, ``data``, ``runs`` and ``analysis``; never ``jobs`` or ``cli``.
"""
