#include "sbx_build_info.h"

/*
 * SBX_GIT_COMMIT comes from Package.swift (cSettings of this target only, so a new
 * commit recompiles this file and relinks, nothing else). Nothing is generated into
 * the source tree.
 */
#ifndef SBX_GIT_COMMIT
#define SBX_GIT_COMMIT "unknown"
#endif

const char *sbx_build_version(void)
{
	return SBX_VERSION;
}

const char *sbx_build_commit(void)
{
	return SBX_GIT_COMMIT;
}
