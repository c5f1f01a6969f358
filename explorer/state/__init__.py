"""The app's state: the chosen model and its cached loaders (shared), the latent point, the view as a link, who
serves the app and who visits it, uploads, the names of latent dimensions. No widgets, no figures: pages and
widgets read and write the state here."""
