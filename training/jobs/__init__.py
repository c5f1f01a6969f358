"""Trainings as jobs: the trainer, torchrun, one training's life in its process (``job``), the fit use case
that the command line and the Ray worker both call (``fit``), the launchers (``launcher`` for local
processes, ``ray_launcher`` and ``ray_connect`` for Ray) and what the app does to runs (``control``: submit,
stop, resume, delete, start a sweep).

May import every layer below (``core``, ``vae``, ``data``, ``runs``, ``analysis``, ``models``); never ``cli``.
"""
