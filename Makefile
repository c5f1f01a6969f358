# Two entry points (see README): `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test bench demos clean

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
	$(VENV)/bin/streamlit run explorer/app.py --server.port $(PORT)

test: $(VENV)/.testtools  ## install the test tools and run every test
	$(PY) -m pytest -n 2 --dist loadfile

bench: $(VENV)/.testtools  ## the benchmarks (figures go into docs/benchmarks.md by hand)
	$(PY) benchmarks/throughput.py

demos: $(VENV)/.runtime  ## retrain the two bundled demo models
	rm -rf explorer/demos/mnist5k-z2 explorer/demos/mnist5k-z16
	$(PY) -m training fit --dataset mnist5k --latent-dim 2 --epochs 50 --seed 0 --quiet --out explorer/demos/mnist5k-z2
	$(PY) -m training fit --dataset mnist5k --latent-dim 16 --epochs 50 --seed 0 --quiet --out explorer/demos/mnist5k-z16
	rm explorer/demos/*/checkpoint.safetensors

clean:
	rm -rf $(VENV)
