#!/bin/sh
# /manager in the pgcask image: plugin-barman-cloud's sidecar command line.
#
# plugin-barman-cloud's operator plugin injects its sidecar into CNPG pods and
# restore Jobs with the arguments `instance` or `restore` (plus --log-level=X
# from the ObjectStore's instanceSidecarConfiguration), and gives it the
# startup probe `/manager healthcheck unix`. With its SIDECAR_IMAGE set to the
# pgcask image and the container's command set to /manager -- or with the
# image built with `--target barman-cloud-compat`, whose entrypoint is this
# script -- those command lines run `pgcask sidecar`. docs/sidecar.md.
set -eu
PGCASK=${PGCASK:-pgcask}
case ${1:-} in
    instance | restore)
        mode=$1
        shift
        exec "$PGCASK" sidecar --mode "$mode" "$@"
        ;;
    healthcheck)
        shift
        # barman's only probe kind is "unix" (the socket in /plugins)
        [ "${1:-}" != unix ] || shift
        exec "$PGCASK" sidecar healthcheck "$@"
        ;;
    *)
        exec "$PGCASK" "$@"
        ;;
esac
