/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CSbxABI is header-only: include/ links to kmod/uapi, the one definition of the
 * kernel ABI. SwiftPM wants a source file in a C target; this is it.
 */
#include "sbx_marker.h"
#include "sbx_ioctl.h"
