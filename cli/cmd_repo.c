/* Placeholder replaced by the repository debugging commands. */
#include "cli/cli.h"
#include "common/error.h"

pc_status cmd_repo(cli_ctx *ctx)
{
    return pc_err(PC_E_INTERNAL, "repo: not built yet");
}
