# One image, two entry points, on Debian bookworm:
#   docker build -t rerank .
#   docker run -p 8080:8080 rerank                                  # rerankd, embedded demo model (a toy reranker)
#   docker run -p 8080:8080 -v /srv/models:/models:ro -e RERANK_MODEL=/models/flan-t5-base rerank
#   docker run -v /srv/rerank:/data --entrypoint rerank-admin rerank pipeline --config /data/retrain.json
# Configuration is by RERANK_* variables (`rerankd --help`); SIGTERM drains in-flight requests for
# RERANK_DRAIN_TIMEOUT seconds. OpenBLAS and the worker count follow the container's CPU limit (cgroup v2
# cpu.max); OPENBLAS_NUM_THREADS overrides. Scripts/check/runtime_image.sh checks this file without Docker.

FROM swift:6.3-bookworm AS build
# libcurl4-openssl-dev: a static Swift runtime links FoundationNetworking's libcurl at build time.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas-dev libnghttp2-dev zlib1g-dev libdnnl-dev libcurl4-openssl-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift Package.resolved ./
COPY Sources ./Sources
COPY Tests ./Tests
# Two invocations: `swift build` given two --product flags builds only the last one.
RUN swift build -c release --static-swift-stdlib --product rerankd \
 && swift build -c release --static-swift-stdlib --product rerank-admin \
 && mkdir -p /out \
 && cp .build/release/rerankd .build/release/rerank-admin /out/ \
 && cp -R .build/release/rerank_rerankd.resources /out/

FROM debian:bookworm-slim AS runtime
# Exactly the libraries the binaries link (the Swift runtime is static): OpenBLAS, oneDNN, nghttp2 and zlib for
# both; libcurl for rerank-admin's HTTP client (teacher --endpoint, publish --notify). curl runs the
# HEALTHCHECK. Debian's security updates move the versions, so they are not pinned.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas0-pthread libnghttp2-14 zlib1g libdnnl2 libcurl4 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin rerank \
 && mkdir -p /models /data \
 && chown rerank /models /data
# The resources bundle (demo model, openapi.yaml) must sit beside the binaries.
COPY --from=build /out/ /usr/local/bin/
USER 10001
WORKDIR /data
EXPOSE 8080
ENV RERANK_HOST=0.0.0.0 RERANK_PORT=8080 RERANK_DRAIN_TIMEOUT=30
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["/bin/sh", "-c", "curl -fsS \"http://127.0.0.1:${RERANK_PORT}/health\" >/dev/null || exit 1"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/rerankd"]
