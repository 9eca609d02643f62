# The one image recipe for every Boomerang service and the provider sandbox: the service is
# chosen by build arguments (docker-compose.yml passes them; deploy/README.md lists them all).
# Build context is the repository root (the uv workspace). Needs BuildKit (the default builder
# of Docker 23+ and of docker compose v2):
#   docker build -t boomerang/ingest:dev \
#     --build-arg SERVICE=ingest --build-arg SERVICE_PORT=8001 \
#     --build-arg SERVICE_ENV_PREFIX=BOOMERANG_INGEST_ .
#
# Build arguments (each stage re-declares the ones it reads):
#   SERVICE             ingest | segmenter | messenger | feedback | sandbox; the workspace package
#                       and its console script are both boomerang-<SERVICE>
#   SERVICE_DIR         the package's workspace directory (default services/<SERVICE>; the
#                       sandbox is tools/sandbox)
#   SERVICE_COMMAND     the console script's sub-command (default serve; the segmenter: worker)
#   SERVICE_PORT        the port it listens on, its default BOOMERANG_<SERVICE>_PORT
#   SERVICE_ENV_PREFIX  BOOMERANG_<SERVICE>_ in capitals, the service's settings prefix (a
#                       Dockerfile cannot upper-case a variable; the build checks the two agree)
ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3
RUN pip install uv==0.13.8
WORKDIR /app
# Declared after the steps every image shares: a RUN after an ARG is cached per its value.
ARG SERVICE
ARG SERVICE_DIR=services/${SERVICE}

# Of the workspace, an image gets the root manifest, uv.lock, shared/ (the one library member)
# and its own member. shared/ goes into every image, the sandbox's too, to keep one recipe; the
# sandbox does not depend on it, so there it is ~100 kB of source that nothing installs or imports.
# The venv holds exactly the locked closure of --package.

# 1. Third-party dependencies, exactly as locked: this layer is rebuilt only when a manifest
#    or uv.lock changes. --frozen trusts uv.lock as is; the other workspace members are not
#    needed to install this package.
COPY pyproject.toml uv.lock ./
COPY shared/pyproject.toml shared/
COPY ${SERVICE_DIR}/pyproject.toml ${SERVICE_DIR}/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace --package "boomerang-${SERVICE}"

# 2. The workspace packages themselves, installed into /app/.venv in the workspace layout
#    (so paths such as the service's migrations/ resolve as they do in a checkout).
COPY shared/ shared/
COPY ${SERVICE_DIR}/ ${SERVICE_DIR}/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package "boomerang-${SERVICE}"

# ---------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 boomerang \
 && useradd --system --uid 10001 --gid boomerang --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin boomerang
ARG SERVICE
ARG SERVICE_COMMAND=serve
ARG SERVICE_PORT
ARG SERVICE_ENV_PREFIX
# A missing or mismatched argument would still build an image, listening on the wrong port or
# with settings no service reads: fail here instead.
RUN test -n "$SERVICE" \
 && case "$SERVICE_PORT" in ''|*[!0-9]*) false;; esac \
 && test "$SERVICE_ENV_PREFIX" = "BOOMERANG_$(echo "$SERVICE" | tr a-z A-Z)_" \
 || { echo "build args: SERVICE, a numeric SERVICE_PORT and SERVICE_ENV_PREFIX=BOOMERANG_<SERVICE>_ are required (see deploy/README.md)" >&2; exit 1; }
LABEL org.opencontainers.image.title="boomerang-${SERVICE}" \
      org.opencontainers.image.description="Boomerang ${SERVICE} (boomerang-${SERVICE} ${SERVICE_COMMAND})"
WORKDIR /app
# Code and venv stay root-owned (read-only for the service). Writable: build/, for the SQLite
# default (sqlite:///build/data/...) when no database URL is given, and /var/lib/boomerang/<SERVICE>,
# the mount point for state kept across restarts (the segmenter's RocksDB tables: a volume in
# compose, a PVC in k8s; an empty directory made here gives a new volume the service's owner).
COPY --from=builder /app /app
RUN mkdir -p /app/build/data "/var/lib/boomerang/${SERVICE}" \
 && chown -R 10001:10001 /app/build /var/lib/boomerang
# BOOMERANG_SERVICE and BOOMERANG_SERVICE_COMMAND carry the build arguments into the container,
# for CMD and HEALTHCHECK, which Docker does not expand (no service setting has these names).
# ENV expands variables in names as well as values: BOOMERANG_<SERVICE>_HOST and _PORT.
ENV PATH="/app/.venv/bin:${PATH}" \
    VIRTUAL_ENV=/app/.venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    BOOMERANG_SERVICE=${SERVICE} \
    BOOMERANG_SERVICE_COMMAND=${SERVICE_COMMAND} \
    ${SERVICE_ENV_PREFIX}HOST=0.0.0.0 \
    ${SERVICE_ENV_PREFIX}PORT=${SERVICE_PORT}
USER 10001:10001
EXPOSE ${SERVICE_PORT}
# Probes whatever port BOOMERANG_<SERVICE>_PORT says at run time (python:3.11-slim has no curl).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ['BOOMERANG_' + os.environ['BOOMERANG_SERVICE'].upper() + '_PORT']; urllib.request.urlopen('http://127.0.0.1:' + port + '/healthz', timeout=4)"]
# A shell reads the environment; exec then makes the service PID 1, so it gets SIGTERM itself.
CMD ["/bin/sh", "-c", "exec \"boomerang-$BOOMERANG_SERVICE\" \"$BOOMERANG_SERVICE_COMMAND\""]
