#ifndef SBX_BUILD_INFO_H
#define SBX_BUILD_INFO_H

/*
 * The version of dyck-gen, dyck-cc and sbx: the one place it is written for the
 * tools. kmod/dkms.conf's PACKAGE_VERSION must equal it (a CLI test checks that).
 */
#define SBX_VERSION "0.9.0"

/* The version, e.g. "0.9.0". */
const char *sbx_build_version(void);

/*
 * The git commit the tools were built from, as the build was told through the
 * SBX_GIT_COMMIT environment variable (Package.swift turns it into a define of
 * this target only; the Makefile sets it), or "unknown" for a plain `swift build`.
 */
const char *sbx_build_commit(void);

#endif
