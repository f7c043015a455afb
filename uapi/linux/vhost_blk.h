/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * vhost-blk: userspace interface of /dev/vhost-blk and of the "vhost_blk"
 * generic netlink family.
 *
 * The device speaks the vhost protocol of <linux/vhost.h> (ioctl magic
 * VHOST_VIRTIO) plus the few ioctls below.  This header is shared verbatim by
 * the kernel module, libvhostctl and the tests.
 */
#ifndef _UAPI_LINUX_VHOST_BLK_H
#define _UAPI_LINUX_VHOST_BLK_H

#include <linux/types.h>
#include <linux/vhost.h>

/* The misc device: /dev/vhost-blk. */
#define VHOST_BLK_DEVICE_NAME "vhost-blk"

/*
 * VHOST_BLK_SET_BACKEND: attach the backing file (block device or regular
 * file) by fd; fd -1 detaches.  The number is the one the vhost-blk RFC v2
 * QEMU patch uses, so that QEMU works unchanged.
 */
#define VHOST_BLK_SET_BACKEND _IOW(VHOST_VIRTIO, 0xFF, struct vhost_vring_file)

/* Generic netlink family. */
#define VHOST_BLK_GENL_NAME "vhost_blk"
#define VHOST_BLK_GENL_VERSION 1

#endif /* _UAPI_LINUX_VHOST_BLK_H */
