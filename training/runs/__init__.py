"""The run store: a run folder's layout and safe reads and writes (``layout``), its status, lock, queue,
step log and recorder, its tensors (``checkpoint``: native weights and the resume state), snapshots,
.zip archives and beta-sweep manifests.

May import ``training.core``, ``training.vae`` and ``training.data``; never ``training.analysis`` (a
sibling) nor anything above. It does not know models from elsewhere: what kind of model a folder holds is
``training.models.open``'s question.
"""
