# watcher: the news-wire monitor as a container service.
#   docker build -t watcher .
#   docker run -d -p 127.0.0.1:8080:8080 -v watcher-data:/data -e WATCHER_TOKEN=... watcher
#   docker run --rm -p 8080:8080 watcher demo        # offline trial with sample feeds
# Works on python:3.11-slim (python3 in /usr/local/bin) and on a plain Debian base with
# python3-venv (python3 in /usr/bin): nothing below names the interpreter's path.
# Offline builds: put wheels of the project and its dependencies in ./wheels and build with
#   --build-arg PIP_INSTALL_ARGS="--no-index --find-links=/src/wheels"
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ARG PIP_INSTALL_ARGS=""
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# The context is filtered by .dockerignore to the package, its metadata and ./wheels.
COPY . /src
# hadolint ignore=DL3013
RUN python3 -m venv /opt/watcher \
    && /opt/watcher/bin/pip install ${PIP_INSTALL_ARGS} /src \
    && /opt/watcher/bin/watcher --version \
    && rm -rf /opt/watcher/lib/python3*/site-packages/pip /opt/watcher/bin/pip*

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="watcher" \
      org.opencontainers.image.description="Self-hosted news-wire monitor: polls feeds, reads the full article, matches keyword rules in any script, stores every match and alerts once per story." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/watcher/watcher"
ENV PATH=/opt/watcher/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/data \
    WATCHER_CONFIG=/config/watcher.yaml \
    WATCHER_DEMO_LISTEN=0.0.0.0:8080
COPY --from=build /opt/watcher /opt/watcher
COPY deploy/image.yaml /config/watcher.yaml
RUN mkdir -p /data && chown 10001:10001 /data && chmod 0750 /data
USER 10001:10001
# The default database, sqlite:///data/watcher.db, is relative to the working directory: /data.
WORKDIR /
VOLUME ["/data"]
EXPOSE 8080
# SIGTERM: stop claiming, give in-flight polls and sends polling.shutdown_grace (8 s), release
# the rest and exit 0, inside docker stop's default 10 s.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=6s --start-period=20s --retries=3 \
    CMD ["watcher", "healthcheck", "--quiet"]
ENTRYPOINT ["watcher"]
CMD ["run"]
