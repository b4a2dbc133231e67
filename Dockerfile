# watcher as a container: SQLite in the /data volume, config mounted at /config/watcher.yaml.
#   docker build -t watcher . && docker run -v $PWD/config:/config:ro -v watcher-data:/data watcher
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    WATCHER_CONFIG=/config/watcher.yaml \
    WATCHER_DATABASE_URL=sqlite:////data/watcher.db

WORKDIR /app
COPY pyproject.toml README.md ./
COPY watcher ./watcher
RUN pip install --no-cache-dir . \
 && useradd --system --uid 10001 --home-dir /data watcher \
 && mkdir -p /data /config \
 && chown watcher /data
COPY config/watcher.yaml /config/watcher.yaml

USER watcher
VOLUME ["/data"]
# SIGTERM: stop claiming, give in-flight polls and sends polling.shutdown_grace (8 s), release
# the rest and exit 0, inside docker stop's default 10 s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["watcher"]
CMD ["run"]
