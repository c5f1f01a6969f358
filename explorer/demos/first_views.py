"""What a newcomer sees first of a bundled demo, computed ahead and shipped beside its weights (``make demos``).

    python -m explorer.demos.first_views explorer/demos/mnist5k-z2 explorer/demos/mnist5k-z16 ...

writes into each run folder

    first_view.json     the first latent point of Latent sliders: mu(x) (E3) of one clear test image, chosen
                        by the rule below, with the SHA-256 of the weights it belongs to
    maps/<key>.npy      the t-SNE and UMAP of mu(x) of its test images for the Latent map, in the map cache's
                        own format (training/analysis/map_cache.py: ``ship`` and ``shipped``), so that both
                        are instant and a >2-D demo's map opens on its neighbour embedding instead of PCA

Both are keyed by the weights' digest: retrained weights ignore them (and fall back to computing) until this
runs again. The files are small (8 KB per embedding of 1,000 points) and deterministic (seeded).

The rule for the first point (``clearest_test_image``), for a data set with classes: the class prototypes are,
for each class, the test image whose mu(x) lies nearest the mean of mu(x) over that class's test images (its
most typical member in the code). The first point is the prototype of the first class in ``PREFERRED`` ("3":
a digit no one mistakes for another, unlike the 0, 6 or 8 a blurry decode resembles; then the others in order)
whose decode mu~(mu(x)) is recognisably its class: the ``READERS`` (10) real test images nearest to it, in
pixels, are all of that class (a unanimous nearest-neighbour reader). (The 16-D demo: its typical 3, test image 730, which decodes as a clear 3. The 2-D demo draws its
3, 2, 5, 7, 4 and 6 as 8- or 9-like blurs, so it starts on its typical 9, test image 331.) Without classes (shapes): the test image that its
decoder explains best, the highest ln q(x | z = mu(x)) (E5).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

FIRST_VIEW = "first_view.json"
FORMAT = "vae-explorer/first-view"
PREFERRED = ("3", "2", "5", "7", "4", "6", "9", "0", "8", "1")  # class names, in the order tried
READERS = 10
EMBEDDINGS = ("tsne", "umap")
SEED, PERPLEXITY = 0, 30.0  # as the Latent map asks for them (explorer/views/latent_map.py)
MAX_BYTES = 64 * 1024


def weights_sha256(run_dir: Path) -> str:
    """The digest the app keys a model by (explorer/state/shared.py ``weights_digest``) for a run folder."""
    from training.models.open import model_files

    return "".join(hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in model_files(run_dir))


def read(run_dir: str | Path, digest: str) -> dict | None:
    """The shipped first view of RUN_DIR if it belongs to the weights of DIGEST; else None (no file, other
    weights, or not what this module writes)."""
    from training.core.errors import UserError
    from training.core.files import read_bounded

    path = Path(run_dir) / FIRST_VIEW
    if not path.is_file():
        return None
    try:
        data = json.loads(read_bounded(path, MAX_BYTES, "a first view"))
    except (UserError, OSError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("weights_sha256") != digest:
        return None
    z, index = data.get("z"), data.get("test_index")
    if not (isinstance(z, list) and all(isinstance(v, (int, float)) for v in z) and isinstance(index, int)):
        return None
    return data


def clearest_test_image(model, x_test, labels, label_names) -> tuple[int, object]:
    """The index of the first view's test image (the module's rule) and mu (N, Z) of every test image."""
    import numpy as np
    import torch

    from training.analysis import latent

    mu = latent.encode_dataset(model, x_test)  # E3
    if labels is None or not label_names:
        with torch.no_grad():
            out = torch.cat([model.decode(torch.as_tensor(mu[k:k + 500])) for k in range(0, len(mu), 500)])
            log_q = -model.likelihood.recon_nll(x_test, out).numpy()  # ln q(x | z = mu(x)), E5
        return int(np.argmax(log_q)), mu
    labels = np.asarray(labels)
    classes = [c for c in range(len(label_names)) if (labels == c).any()]
    pixels = x_test.reshape(len(x_test), -1).numpy()
    prototypes = {}
    for c in classes:
        members = np.flatnonzero(labels == c)
        prototypes[c] = int(members[np.argmin(((mu[members] - mu[members].mean(0)) ** 2).sum(1))])
    decoded = latent.decode_images(model, mu[[prototypes[c] for c in classes]]).reshape(len(classes), -1)
    distances = (decoded ** 2).sum(1)[:, None] - 2 * decoded @ pixels.T + (pixels ** 2).sum(1)[None]
    k = min(READERS, len(pixels))
    nearest = labels[np.argsort(distances, axis=1)[:, :k]]  # the classes of the K nearest real test images
    order = [label_names.index(n) for n in PREFERRED if n in label_names] + list(range(len(label_names)))
    for c in order:
        if c in prototypes and (nearest[classes.index(c)] == c).all():
            return prototypes[c], mu
    return prototypes[order[0] if order[0] in prototypes else classes[0]], mu


def build(run_dir: str | Path) -> dict:
    """Write RUN_DIR's first view and its shipped embeddings; returns what was written (and the seconds)."""
    import time

    from training.analysis import latent, map_cache
    from training.core.files import atomic_write
    from training.data import load_dataset
    from training.models.open import load_run
    from training.vae.evaluate import test_images

    run_dir = Path(run_dir)
    run = load_run(run_dir)
    data = load_dataset(run.config.train.dataset, **_dataset_options(run.config))
    x_test = test_images(run.config, data)
    labels = None if data.y_test is None or data.labels_are_factors else data.y_test.numpy()
    index, mu = clearest_test_image(run.model, x_test, labels, data.label_names)
    digest = weights_sha256(run_dir)
    label = None if labels is None else data.label_names[int(labels[index])]
    view = {"format": FORMAT, "weights_sha256": digest, "test_index": index, "label": label,
            "z": [round(float(v), 4) for v in mu[index]],
            "rule": "explorer/demos/first_views.py: the typical test image of the first class of "
                    f"{', '.join(PREFERRED)} whose decode looks like its class (without classes: the highest ln q(x|mu(x)))"}
    atomic_write(run_dir / FIRST_VIEW, (json.dumps(view, indent=1) + "\n").encode())
    seconds = {}
    if run.config.model.latent_dim > 2:
        idx = latent.subsample(len(mu), latent_max_points(), SEED)
        for method in EMBEDDINGS:
            start = time.perf_counter()
            coords = latent.project(mu[idx], method, seed=SEED).coords
            seconds[method] = round(time.perf_counter() - start, 2)
            map_cache.ship(run_dir, digest, method, SEED, PERPLEXITY, coords)
    return {"run": run_dir.name, "test_index": index, "label": label, "seconds": seconds}


def latent_max_points() -> int:
    from training.analysis.embedding import MAX_POINTS

    return MAX_POINTS


def _dataset_options(config) -> dict:
    """What load_dataset needs besides the name for a run's data (the image size of shapes)."""
    c, h, _w = config.model.image_shape
    return {"image_size": h, "channels": c, "seed": config.train.seed, "dataset_size": config.train.dataset_size}


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    for run_dir in argv:
        print(json.dumps(build(run_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
