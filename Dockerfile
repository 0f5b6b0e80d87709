# build-monitor's own image: the API and webhooks (`build-monitor start`), a Prefect worker
# (`prefect worker start --pool build-monitor`), the one-shot deployment registration, and even
# the Prefect server (it ships Prefect). It installs only from wheels built on the host, so the
# build needs no network and no registry:
#
#   .venv/bin/pip wheel -w wheelhouse '.[postgres]'
#   docker build -t build-monitor:local .                                    # from python:3.11-slim
#   docker build --build-arg BASE_IMAGE=build-monitor/python-base:bookworm -t build-monitor:local .
#
# (`python -m build_monitor.sample.debian_image python` makes that base offline.) Build the
# wheelhouse with a Python of the base image's minor version (3.11). Debian's 3.11.2 also needs
# `async-timeout` (redis requires it below 3.11.3): add it to the `pip wheel` line. The classic
# builder is enough: no BuildKit, no buildx.
#
# It talks to a Docker engine through the mounted socket (-v /var/run/docker.sock:/var/run/docker.sock
# plus --group-add of the socket's group) or DOCKER_HOST. The docker CLI is not needed (the
# Docker SDK is used); services with builder = "local" need cargo, which this image lacks.

ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS builder
COPY wheelhouse/ /wheelhouse/
RUN python3 -m venv /opt/build-monitor \
 && /opt/build-monitor/bin/pip install --no-cache-dir --no-index --find-links /wheelhouse \
      'build-monitor[postgres]' \
 && /opt/build-monitor/bin/build-monitor --help >/dev/null

FROM ${BASE_IMAGE}
# Workers clone and bisect with git; Debian-based images without it get it from apt.
RUN command -v git >/dev/null \
 || (apt-get update && apt-get install -y --no-install-recommends git \
     && rm -rf /var/lib/apt/lists/*)
# cache/ exists in the image so that a volume mounted there (docker-compose.yml) is writable.
RUN useradd --system --uid 10001 --user-group --create-home \
      --home-dir /var/lib/build-monitor build-monitor \
 && install -d -o build-monitor -g build-monitor /var/lib/build-monitor/cache
COPY --from=builder /opt/build-monitor /opt/build-monitor
ENV PATH=/opt/build-monitor/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1 \
    BUILD_MONITOR_HOST=0.0.0.0 \
    BUILD_MONITOR_PORT=8080 \
    BUILD_MONITOR_CONFIG=/etc/build-monitor/config.toml \
    BUILD_MONITOR_DATA_DIR=/var/lib/build-monitor \
    PREFECT_HOME=/var/lib/build-monitor/prefect \
    PREFECT_SERVER_ANALYTICS_ENABLED=false
USER build-monitor
WORKDIR /var/lib/build-monitor
EXPOSE 8080
# 200 while the history database is usable (Prefect down is only "degraded"); workers, which
# serve no API, turn it off (docker-compose.yml).
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('BUILD_MONITOR_PORT', '8080') + '/api/health', timeout=4)"]
CMD ["build-monitor", "start"]
