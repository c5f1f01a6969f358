# Two entry points (see README): `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501

# Test workers: one per core. Many tests wait on a subprocess, a server or a browser, but 4 workers on 2 cores
# measured no faster than 2 (458 s both, quiet) and crowd the machine more. Tests wait for events, so any
# number is correct (each test process runs torch on one thread, tests/conftest.py).
WORKERS ?= 2
# `make test-repeat`: how many times each browser and training test runs (flaky tests are found, not hoped away)
COUNT ?= 5

.PHONY: run serve-class test test-fast test-repeat bench load demos clean

$(VENV)/.runtime: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .  # the project itself: importable from anywhere
	touch $@

$(VENV)/.testtools: $(VENV)/.runtime requirements-test.txt
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $@

$(VENV)/.ray: $(VENV)/.runtime requirements-ray.txt  ## the optional Ray extra (tests/test_ray.py, docs/deploy.md)
	$(PY) -m pip install --quiet -r requirements-ray.txt
	touch $@

run: $(VENV)/.runtime  ## install and start the app on the bundled demo model
	MALLOC_ARENA_MAX=$${MALLOC_ARENA_MAX:-2} $(VENV)/bin/streamlit run explorer/app.py --server.port $(PORT)

# `make serve-class N=2`: N servers on one runs folder behind nginx (deploy/serve_class.py, docs/deploy.md);
# the proxy listens on PORT, the servers on the N ports after it. Needs nginx (Debian: apt-get install nginx-light).
N ?= 2
serve-class: $(VENV)/.runtime  ## a class on N explorer servers behind nginx, each visitor kept on one of them
	$(PY) deploy/serve_class.py --servers $(N) --port $(PORT)

test: $(VENV)/.testtools  ## install the test tools and run every test
	$(PY) -m pytest -n $(WORKERS) --dist loadfile --durations=15

test-fast: $(VENV)/.testtools  ## the quick loop while developing: no browser, no Ray, no slow trainings (about a minute)
	$(PY) -m pytest -n $(WORKERS) --dist loadfile -m "not e2e and not ray and not slow" --durations=5

test-repeat: $(VENV)/.testtools  ## every browser and training test COUNT times over, to find the flaky ones
	$(PY) -m pytest -n $(WORKERS) --dist loadfile --count $(COUNT) -m "e2e or slow" --durations=15

load: $(VENV)/.testtools  ## `make test` three times in a row with two CPU hogs on the machine (benchmarks/under_load.py)
	$(PY) benchmarks/under_load.py --hogs 2 --runs 3 --command "$(MAKE) test"

bench: $(VENV)/.testtools  ## the benchmarks (figures go into docs/benchmarks.md by hand)
	$(PY) benchmarks/throughput.py

demos: $(VENV)/.runtime  ## retrain the bundled demo models and example sweep, and their first views (explorer/demos/)
	rm -rf explorer/demos/mnist5k-z2 explorer/demos/mnist5k-z16 explorer/demos/shapes-z10-b16 explorer/demos/sweeps
	# trained before the faster defaults (lr 5e-3, wsd schedule, mean start): their own settings, pinned
	$(PY) -m training fit --dataset mnist5k --latent-dim 2 --epochs 50 --lr 0.001 --lr-schedule constant --decoder-start random --seed 0 --quiet --out explorer/demos/mnist5k-z2
	$(PY) -m training fit --dataset mnist5k --latent-dim 16 --epochs 50 --lr 0.001 --lr-schedule constant --decoder-start random --seed 0 --quiet --out explorer/demos/mnist5k-z16
	# beta-VAE on shapes: beta 16 leaves 3 of 10 dimensions in use, named x position, y position and scale
	VAE_EXPLORER_SNAPSHOT_MB=0 $(PY) -m training fit --dataset shapes --latent-dim 10 --beta 16 --epochs 200 --lr 0.001 --lr-schedule constant --decoder-start random --seed 0 --quiet --out explorer/demos/shapes-z10-b16
	# the Sweep page's bundled example: a beta sweep of three tiny runs (16 px shapes, 32 hidden units; about 350 KB)
	VAE_EXPLORER_SNAPSHOT_MB=0 $(PY) -m training sweep --dataset shapes --image-size 16 --latent-dim 6 --hidden 32 --beta 1,4,16 --epochs 40 --seed 0 --max-running 1 --threads 1 --out explorer/demos/sweeps/shapes-beta --wait
	# what a newcomer sees first: each demo's first latent point and its t-SNE and UMAP (explorer/demos/first_views.py)
	$(PY) -m explorer.demos.first_views explorer/demos/mnist5k-z2 explorer/demos/mnist5k-z16 explorer/demos/shapes-z10-b16
	cd explorer/demos && rm -rf */checkpoint.safetensors */status.json */steps.csv */.lock */snapshots \
		sweeps/*/checkpoint.safetensors sweeps/*/status.json sweeps/*/steps.csv sweeps/*/.lock sweeps/*/train.log sweeps/.queue*

clean:
	rm -rf $(VENV)
