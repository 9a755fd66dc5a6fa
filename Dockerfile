# syntax=docker/dockerfile:1
# The TSM bot's image: one image, two processes, chosen by the command.
#   docker run IMAGE run            the bot's HTTP server (POST /api/messages, GET /healthz) on TSM_PORT (3978)
#   docker run IMAGE worker         the scheduler (set TSM_WORKER_METRICS_PORT for its /healthz and /metrics)
#   docker run IMAGE db upgrade     the migrations (compose.yaml runs it once before the bot and the worker)
# Dependencies come from requirements.lock only (every file's hash checked, wheels only: the final stage has no
# compiler and needs none); the project itself is installed with --no-deps. Runs as an unprivileged user.
ARG PYTHON_IMAGE=python:3.12-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/tsm
COPY requirements.lock /tmp/requirements.lock
RUN /opt/tsm/bin/python -m pip install --require-hashes --only-binary=:all: -r /tmp/requirements.lock
WORKDIR /src
COPY pyproject.toml README.md ./
COPY tsm ./tsm
COPY bot ./bot
COPY cards ./cards
COPY scheduler ./scheduler
COPY appmanifest ./appmanifest
RUN /opt/tsm/bin/python -m pip install --no-deps --no-build-isolation . \
 && /opt/tsm/bin/python -m pip check \
 && /opt/tsm/bin/python -m pip uninstall --yes pip wheel

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 tsm \
 && useradd --system --uid 10001 --gid tsm --home-dir /srv/tsm --create-home --shell /usr/sbin/nologin tsm
COPY --from=build /opt/tsm /opt/tsm
ENV PATH=/opt/tsm/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TSM_HOST=0.0.0.0 \
    TSM_PORT=3978 \
    TSM_LOG_FORMAT=json \
    TSM_DATABASE_URL=sqlite:////srv/tsm/var/tsm.db \
    TSM_INVITATIONS_DIR=/srv/tsm/var/invitations
WORKDIR /srv/tsm
USER 10001:10001
EXPOSE 3978
ENTRYPOINT ["tsm"]
CMD ["run"]
