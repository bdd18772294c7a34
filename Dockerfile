# pgcask image: the CNPG-I sidecar (default command) and the pgcask CLI.
#
#   docker build -t pgcask .                                 ENTRYPOINT pgcask, CMD sidecar
#   docker build -t pgcask:barman --target barman-cloud-compat .
#                         ENTRYPOINT /manager: plugin-barman-cloud's sidecar command line
#
# Thin on purpose: the package lists are scripts/install-deps.sh's (--build-only,
# --runtime-only), the same ones CI installs and tests/integration/test_dockerfile.sh
# checks against what the binaries link. Runs as uid 26 (CNPG's postgres uid) and
# writes only to its state and spool directories (/controller/... in a CNPG pod),
# so it works with a read-only root file system. docs/sidecar.md.

FROM debian:bookworm-slim AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh --build-only && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DPGCASK_TESTS=OFF \
 && cmake --build /build -j "$(nproc)" \
 && cmake --install /build --prefix /staging --strip

FROM debian:bookworm-slim AS runtime
COPY scripts/install-deps.sh /tmp/install-deps.sh
# uid 26 as CNPG runs its pods; gid 26 is Debian's (unused) tape group
RUN /tmp/install-deps.sh --runtime-only \
 && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh \
 && useradd --system --uid 26 --gid 26 --no-create-home --home-dir /var/lib/pgcask \
        --shell /usr/sbin/nologin postgres \
 && install -d -o 26 -g 26 -m 0700 /var/lib/pgcask \
 && install -d -o 26 -g 26 -m 0755 /plugins \
 && install -d -m 0755 /etc/pgcask/objectstores
# pgcask, pgcask-sidecar and the barman-cloud-* links to pgcask
COPY --from=build /staging/bin/ /usr/local/bin/
COPY scripts/barman-cloud-manager.sh /manager
USER 26:26
ENTRYPOINT ["pgcask"]
CMD ["sidecar"]

# For plugin-barman-cloud's operator (SIDECAR_IMAGE), which starts the
# sidecar with the arguments `instance` / `restore` and probes `/manager healthcheck unix`.
FROM runtime AS barman-cloud-compat
ENTRYPOINT ["/manager"]
CMD ["instance"]

# The default target.
FROM runtime AS pgcask
