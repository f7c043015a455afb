/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel version compatibility for vhost_blk.
 *
 * This is the only file of the module that may test LINUX_VERSION_CODE.  It
 * is force-included into every source file (see Kbuild) and turns version
 * knowledge into named VHB_HAVE_* feature macros and small inline wrappers,
 * so that the sources themselves never mention a kernel version.
 */
#ifndef VHB_COMPAT_H
#define VHB_COMPAT_H

#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#error "vhost_blk supports Linux 6.1 and newer"
#endif

#endif /* VHB_COMPAT_H */
