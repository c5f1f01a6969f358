# The explorer in a container: the app with its bundled demo models, served to the network, as an unprivileged
# user, with a health check. docs/deploy.md ("A class on several servers", "The container") says how to run it;
# tests/test_dockerfile.py lints this file (deploy/dockerfile_check.py) where no container engine is at hand.
#
#   docker build -t vae-explorer .
#   docker run --rm -p 8501:8501 -v vae-data:/data vae-explorer          # then http://localhost:8501
FROM python:3.11-slim-bookworm

# torch's CPU-only wheels (about 200 MB instead of several GB of CUDA libraries); pass
# --build-arg TORCH_INDEX=https://pypi.org/simple for PyPI's default build with CUDA.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    HOME=/home/explorer \
    VAE_EXPLORER_RUNS=/data/runs \
    VAE_EXPLORER_CACHE=/data/cache \
    VAE_EXPLORER_DATA=/data/datasets \
    MALLOC_ARENA_MAX=2

# An unprivileged user that owns only /data (runs, caches, downloaded data sets): the app's code stays root's
RUN useradd --create-home --uid 10001 --user-group explorer \
 && mkdir -p /data/runs /data/cache /data/datasets \
 && chown -R explorer:explorer /data

WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir --extra-index-url "${TORCH_INDEX}" -r requirements.txt

# The app and the library; explorer/demos holds the bundled demo models, explorer/.streamlit its settings
COPY training ./training
COPY explorer ./explorer

USER explorer
VOLUME ["/data"]
EXPOSE 8501

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).read().strip() != b'ok')"]

# Listening on every interface makes the app *served* (README, "Serving it to a class"): visitors pick among the
# operator's folders and cannot type paths. Exec form, so that `docker stop` (SIGTERM) reaches Streamlit itself.
CMD ["python", "-m", "streamlit", "run", "explorer/app.py", "--server.address", "0.0.0.0", "--server.port", "8501", \
     "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
