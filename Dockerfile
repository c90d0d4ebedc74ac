# syntax=docker/dockerfile:1
# labelstream image: one image for every service (labelstream run labeler|learner|review),
# the one-shot jobs (topics create, produce) and the simulated reviewers.
#
#   docker build -t labelstream:0.1.0 .
#   docker run --rm labelstream:0.1.0 --help
#
# Python dependencies come from requirements/runtime.txt (exact versions, hashes
# checked); the wheel is built by the setuptools pinned in requirements/build.txt.
# Both are regenerated with `make lock`.

# An exact tag (the patch release and the Debian release): a rebuild gets the same Python.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/labelstream
WORKDIR /src
# Dependencies first: this layer stays cached until the lockfile changes. On linux/amd64
# every locked package is a wheel (no compiler needed; checked with uv, see
# tests/deploy/test_image.py); on linux/arm64 faust-streaming comes as source.
COPY requirements/build.txt requirements/runtime.txt requirements/
RUN /opt/labelstream/bin/pip install --require-hashes --prefer-binary -r requirements/runtime.txt \
 && pip install --require-hashes -r requirements/build.txt
COPY pyproject.toml README.md LICENSE ./
COPY services ./services
RUN pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
 && /opt/labelstream/bin/pip install --no-deps /wheels/labelstream-*.whl

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="labelstream" \
      org.opencontainers.image.description="Streaming auto-labeling on Apache Kafka" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed, unprivileged uid/gid (Kubernetes runAsNonRoot checks it numerically).
RUN groupadd --system --gid 10001 labelstream \
 && useradd --system --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin labelstream \
 && mkdir -p /app/data \
 && chown -R 10001:10001 /app
COPY --from=build /opt/labelstream /opt/labelstream
COPY --chmod=0755 deploy/docker/healthcheck.py /usr/local/bin/labelstream-healthcheck
ENV PATH=/opt/labelstream/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# /app: the learner's working files (faust's <app_id>-data); /app/data: datasets (demo).
WORKDIR /app
USER 10001:10001
# labeler /metrics + probes, learner /metrics + probes, review page + API + /metrics + probes
EXPOSE 9400 9401 9402
# /livez of whichever `labelstream run <service>` runs here (its port from --port, the
# environment or the default); a one-shot job is healthy while it runs.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["labelstream-healthcheck"]
ENTRYPOINT ["labelstream"]
CMD ["--help"]
