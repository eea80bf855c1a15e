# rerankd and rerank-admin on Debian bookworm.
#   docker build -t rerankd .
#   docker run -p 8080:8080 rerankd                       # embedded demo model (random weights)
#   docker run -p 8080:8080 -v /models/flan-t5-base:/model:ro -e RERANK_MODEL=/model rerankd
FROM swift:6.3-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas-dev libnghttp2-dev zlib1g-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift Package.resolved ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --static-swift-stdlib --product rerankd \
 && swift build -c release --static-swift-stdlib --product rerank-admin \
 && mkdir -p /out \
 && cp .build/release/rerankd .build/release/rerank-admin /out/ \
 && cp -R .build/release/rerank_rerankd.resources /out/

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas0-pthread libnghttp2-14 zlib1g ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /nonexistent rerank
# The resources bundle (demo model, openapi.yaml) must sit beside the binary.
COPY --from=build /out/ /usr/local/bin/
USER rerank
EXPOSE 8080
# OpenBLAS threads: one per core the container may use; set OPENBLAS_NUM_THREADS to the CPU limit.
ENV RERANK_HOST=0.0.0.0 RERANK_PORT=8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/rerankd"]
