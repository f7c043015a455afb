/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The vhost-blk device type: what blk.c (the device, its ioctls and backend)
 * and blk_req.c (virtio-blk requests) share.
 */
#ifndef VHB_BLK_H
#define VHB_BLK_H

#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/llist.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>

#include "vhost/vhost.h"

struct vhb_blk;
struct vhb_blk_vq;

/* One request in flight; a virtqueue has one per ring entry, by head. */
struct vhb_blk_req {
	struct kiocb iocb;
	struct llist_node node;		/* on the virtqueue's done list */
	struct vhb_blk_vq *bvq;
	u8 __user *status;		/* the guest's status byte */
	u32 type;
	u32 len;			/* bytes of data to transfer */
	u32 written;			/* bytes written to the guest */
	u8 result;			/* VIRTIO_BLK_S_*, when not from I/O */
	bool busy;			/* fetched and not yet completed */
	bool io;			/* completed by the backend */
	bool write_started;		/* async write holds freeze protection */
	long ret;			/* the backend's result */
};

struct vhb_blk_vq {
	struct vhb_virtqueue vq;
	struct vhb_blk *blk;
	/* Requests, indexed by head; allocated while a backend is attached. */
	struct vhb_blk_req *reqs;
	unsigned int nreqs;
	struct iovec *iov;		/* scratch for one chain */
	struct llist_head done;		/* completed, to return to the guest */
	struct vhb_work done_work;
	atomic_t in_flight;		/* fetched and not yet on done */
	bool serving;			/* the handler runs: completions queue no work */
};

/* The backing file, fixed while attached. */
struct vhb_blk_backend {
	struct file *file;
	bool direct;			/* O_DIRECT-capable: async direct I/O */
	bool writable;
	bool bdev;			/* a block device, else a regular file */
	unsigned int block_size;	/* direct I/O alignment */
};

struct vhb_blk {
	struct vhb_dev dev;
	u32 id;				/* in the device registry */
	refcount_t ref;			/* the open file's, and netlink's */
	struct rcu_head rcu;
	unsigned int nvqs;
	struct vhb_blk_vq *vqs;
	struct vhb_virtqueue **vq_ptrs;
	struct vhb_blk_backend backend;	/* under dev.mutex; file NULL if none */
	char serial[VHOST_BLK_SERIAL_BYTES];
	bool serial_set;		/* by VHOST_BLK_SET_SERIAL */
};

/* blk.c: the registry of open devices, for netlink */
struct vhb_blk *vhb_blk_get_next(unsigned long *id);
struct vhb_blk *vhb_blk_get(u32 id);
void vhb_blk_put(struct vhb_blk *blk);

/* blk_req.c */
void vhb_blk_handle_kick(struct vhb_work *work);
void vhb_blk_done_work(struct vhb_work *work);
void vhb_blk_drop_done(struct vhb_blk_vq *bvq);
u64 vhb_blk_backend_size(const struct vhb_blk_backend *backend);

#endif /* VHB_BLK_H */
