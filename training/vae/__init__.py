"""The math: the VAE (``model``), its likelihoods, the objective and the IWAE bound, evaluation on a split,
the latent space with numpy alone (``latent_space``) and a decoder as plain arrays (``array_decoder``).

May import ``training.core`` only: no run folders, no data sets, no processes.
"""
