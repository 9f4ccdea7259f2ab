# The app as one container: one `streamlit run` per container, CPU-only torch, non-root.
# Build: docker build -t explorables .
# Run:   docker run -p 8501:8501 -e STREAMLIT_SERVER_COOKIE_SECRET="$(openssl rand -hex 32)" explorables
# Several containers behind a balancer (deploy/k8s/) must share one STREAMLIT_SERVER_COOKIE_SECRET.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # One BLAS/OpenMP/torch thread per process: scale with processes (containers), not threads.
    OMP_NUM_THREADS=1 \
    MKL_NUM_THREADS=1 \
    OPENBLAS_NUM_THREADS=1 \
    STREAMLIT_SERVER_PORT=8501 \
    STREAMLIT_SERVER_ADDRESS=0.0.0.0 \
    STREAMLIT_SERVER_HEADLESS=true \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false

WORKDIR /app

# CPU torch first, from PyTorch's CPU wheel index: the public index's Linux torch wheels are CUDA
# builds that pull several GB of nvidia-* packages. requirements.txt's `torch==2.13.0` is then
# already satisfied by 2.13.0+cpu (a local version label matches a pin without one).
COPY requirements.txt .
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu "torch==2.13.0+cpu" \
    && pip install -r requirements.txt

RUN useradd --create-home --uid 10001 --user-group app
COPY --chown=app:app . .
USER 10001

EXPOSE 8501
# The health endpoint shares the busy interpreter: generous timeout, a minute to start.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=8).status != 200)"]

# The cookie secret comes from the environment at run time (STREAMLIT_SERVER_COOKIE_SECRET),
# never from the image.
CMD ["streamlit", "run", "streamlit_app.py"]
