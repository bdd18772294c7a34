#ifndef PGCASK_PLUGIN_GRPC_SERVICE_H
#define PGCASK_PLUGIN_GRPC_SERVICE_H

/*
 * The CNPG-I handlers: each decodes its protobuf request, checks it, calls
 * the engine (engine.h) and encodes the result. Identity, health and the
 * GetCapabilities calls are answered here; the data calls go to the engine.
 * Internal to plugin-grpc (and its tests).
 */

#include <stddef.h>

#include "common/config.h"
#include "common/status.h"
#include "plugin-grpc/server.h"
#include "plugin-grpc/sidecar.h"

/* What every handler gets as its `app` pointer. Borrowed for the server's life. */
typedef struct sc_service {
    const pc_cfg *cfg;
    const char *plugin_name;
    const char *pod_name; /* NULL when $POD_NAME is unset */
    sc_mode mode;
} sc_service;

/* The methods served in a mode (a static table). */
const sc_method *sc_service_methods(sc_mode mode, size_t *n);

/* The gRPC code a pgcask status is reported with (the mapping is documented in service.c). */
sc_code sc_status_code(pc_status st);

#endif
