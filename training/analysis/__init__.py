"""What a trained model's latent space looks like: encodings, 2-D projections and decodes (``latent``),
neighbour embeddings (``embedding``), their disk cache (``map_cache``) and what each dimension says about
known factors (``disentangle``).

May import ``training.core``, ``training.vae`` and ``training.data``; never ``training.runs`` (a sibling)
nor anything above.
"""
