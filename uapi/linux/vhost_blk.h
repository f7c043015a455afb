/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * vhost-blk: userspace interface of /dev/vhost-blk and of the "vhost_blk"
 * generic netlink family.
 *
 * The device speaks the vhost protocol of <linux/vhost.h> (ioctl magic
 * VHOST_VIRTIO): owner, features, memory table, vrings, and mainline's worker
 * ioctls with their numbers, structures and errnos.  This header adds what a
 * system's <linux/vhost.h> may lack (the worker ioctls arrived in Linux 6.5,
 * the fork-owner ioctls in 6.17) and the vhost-blk ioctls.  It is shared
 * verbatim by the kernel module, libvhostctl and the tests.
 */
#ifndef _UAPI_LINUX_VHOST_BLK_H
#define _UAPI_LINUX_VHOST_BLK_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/vhost.h>

/* The misc device: /dev/vhost-blk. */
#define VHOST_BLK_DEVICE_NAME "vhost-blk"

#ifndef VHOST_NEW_WORKER
/* Mainline's worker ioctls (Linux 6.5), for systems whose headers predate them. */
struct vhost_worker_state {
	/*
	 * For VHOST_NEW_WORKER the kernel returns the new vhost_worker id.
	 * For VHOST_FREE_WORKER this must be set to the id of the
	 * vhost_worker to free.
	 */
	unsigned int worker_id;
};

struct vhost_vring_worker {
	/* vring index */
	unsigned int index;
	/* The id of the vhost_worker returned from VHOST_NEW_WORKER */
	unsigned int worker_id;
};

/*
 * VHOST_NEW_WORKER: create a worker, a thread of the owner (or a kthread in
 * kthread mode), and return its id.  Owner only.
 * VHOST_FREE_WORKER: free a worker no virtqueue is attached to.
 */
#define VHOST_NEW_WORKER _IOR(VHOST_VIRTIO, 0x8, struct vhost_worker_state)
#define VHOST_FREE_WORKER _IOW(VHOST_VIRTIO, 0x9, struct vhost_worker_state)
/*
 * VHOST_ATTACH_VRING_WORKER: serve virtqueue @index from worker @worker_id,
 * replacing its current worker; allowed while I/O runs.
 * VHOST_GET_VRING_WORKER: return the id of the worker serving @index.
 */
#define VHOST_ATTACH_VRING_WORKER _IOW(VHOST_VIRTIO, 0x15, struct vhost_vring_worker)
#define VHOST_GET_VRING_WORKER _IOWR(VHOST_VIRTIO, 0x16, struct vhost_vring_worker)
#endif

#ifndef VHOST_SET_FORK_FROM_OWNER
/*
 * Worker mode (mainline 6.17 numbering): VHOST_FORK_OWNER_TASK (default)
 * makes workers threads of the owner; VHOST_FORK_OWNER_KTHREAD makes them
 * kernel threads that adopt the owner's mm and cgroups.  Set before
 * VHOST_SET_OWNER only.
 */
#define VHOST_FORK_OWNER_KTHREAD 0
#define VHOST_FORK_OWNER_TASK 1
#define VHOST_SET_FORK_FROM_OWNER _IOW(VHOST_VIRTIO, 0x84, __u8)
#define VHOST_GET_FORK_FROM_OWNER _IOR(VHOST_VIRTIO, 0x85, __u8)
#endif

/*
 * VHOST_BLK_SET_BACKEND: attach the backing file, a block device or a
 * regular file, by @fd (@index is ignored; set it to 0).  Owner only.  The
 * owner opened it, so its open mode governs access: writes to a read-only
 * fd complete with VIRTIO_BLK_S_IOERR.  Configure the rings first: the
 * virtqueues whose rings are set (num, addresses) start serving requests.
 * EBUSY if a backend is attached; fd -1 detaches it, after every request in
 * flight has completed.  The number is the vhost-blk RFC v2's, so that its
 * QEMU patch works unchanged.
 */
#define VHOST_BLK_SET_BACKEND _IOW(VHOST_VIRTIO, 0xFF, struct vhost_vring_file)

/*
 * VHOST_SET_NWORKERS: the vhost-blk RFC v2's way to ask for @n workers
 * (QEMU's num-threads), kept for that QEMU patch: creates workers up to @n
 * (at most one per virtqueue) and spreads the virtqueues over them round
 * robin.  It can only add workers: a smaller @n is EINVAL.  New code uses
 * VHOST_NEW_WORKER and VHOST_ATTACH_VRING_WORKER.
 */
#define VHOST_SET_NWORKERS _IOW(VHOST_VIRTIO, 0x1F, int)

/*
 * The serial number VIRTIO_BLK_T_GET_ID returns: up to 20 bytes, NUL-padded
 * (not necessarily NUL-terminated), as in the virtio spec.  It is the VMM's
 * to set; until it does, GET_ID returns 20 NUL bytes (no host detail, such
 * as a device name or an inode number, ever reaches the guest).
 */
#define VHOST_BLK_SERIAL_BYTES 20

struct vhost_blk_serial {
	char serial[VHOST_BLK_SERIAL_BYTES];
};

#define VHOST_BLK_SET_SERIAL _IOW(VHOST_VIRTIO, 0xF0, struct vhost_blk_serial)
#define VHOST_BLK_GET_SERIAL _IOR(VHOST_VIRTIO, 0xF1, struct vhost_blk_serial)

/*
 * VHOST_BLK_SET_LIMITS: what the VMM put in the guest's config space, for
 * the device to enforce.  Owner only; allowed at any time (a VMM that grows
 * the disk raises @capacity while requests run).  A field of 0 asks for the
 * device's default, derived from the backend.  Sizes are in 512-byte
 * sectors, as in struct virtio_blk_config:
 *   @capacity                  the disk's size; 0: the backend's, as it is
 *                              at each request.  More than the attached
 *                              backend's size is EINVAL.
 *   @size_max                  bytes in one descriptor; 0: no limit
 *   @seg_max                   data descriptors in one request; 0: no limit
 *   @max_discard_sectors       sectors in one DISCARD segment
 *   @max_discard_seg           segments in one DISCARD request
 *   @max_write_zeroes_sectors  sectors in one WRITE_ZEROES segment
 *   @max_write_zeroes_seg      segments in one WRITE_ZEROES request
 *   @flags                     VHOST_BLK_LIMITS_F_*
 * A request past them completes with VIRTIO_BLK_S_IOERR, except a DISCARD
 * or WRITE_ZEROES of more segments than allowed: VIRTIO_BLK_S_UNSUPP, as
 * one the driver did not negotiate or the backend cannot serve.  Segments
 * are at most VHOST_BLK_MAX_SEGS per request, whatever is asked; @reserved
 * must be 0.
 * VHOST_BLK_GET_LIMITS returns the limits in force, defaults filled in.
 */
struct vhost_blk_limits {
	__u64 capacity;
	__u32 size_max;
	__u32 seg_max;
	__u32 max_discard_sectors;
	__u32 max_discard_seg;
	__u32 max_write_zeroes_sectors;
	__u32 max_write_zeroes_seg;
	__u32 flags;
	__u32 reserved[7];
};

/* The device is read-only (VIRTIO_BLK_F_RO): writes, discards fail. */
#define VHOST_BLK_LIMITS_F_RO 0x1U
#define VHOST_BLK_MAX_SEGS 256

#define VHOST_BLK_SET_LIMITS _IOW(VHOST_VIRTIO, 0xF2, struct vhost_blk_limits)
#define VHOST_BLK_GET_LIMITS _IOR(VHOST_VIRTIO, 0xF3, struct vhost_blk_limits)

/*
 * Generic netlink family "vhost_blk", version 1; its specification is
 * Documentation/netlink/specs/vhost-blk.yaml.
 *
 * VHOST_BLK_CMD_DEV_GET     dump: one message per device, attributes of
 *                           VHOST_BLK_A_DEV_*; filter with VHOST_BLK_A_DEV_ID
 * VHOST_BLK_CMD_WORKER_GET  dump: one message per worker, VHOST_BLK_A_WORKER_*;
 *                           filter with VHOST_BLK_A_WORKER_DEV_ID
 * VHOST_BLK_CMD_VQ_GET      dump: one message per virtqueue, VHOST_BLK_A_VQ_*;
 *                           filter with VHOST_BLK_A_VQ_DEV_ID
 * VHOST_BLK_CMD_VQ_ATTACH   do: move virtqueue VHOST_BLK_A_VQ_INDEX of device
 *                           VHOST_BLK_A_VQ_DEV_ID to its worker
 *                           VHOST_BLK_A_VQ_WORKER_ID (CAP_NET_ADMIN)
 * VHOST_BLK_CMD_*_NTF       events, on the multicast group
 *                           VHOST_BLK_MCGRP_MONITOR: see below
 *
 * Dumps show a caller without CAP_NET_ADMIN only the devices its uid owns.
 * A dump that devices, workers or attachments changed under sets
 * NLM_F_DUMP_INTR on its messages from then on: read it again.  Attributes
 * are only ever added; counters are u64 and count from open.
 */
#define VHOST_BLK_GENL_NAME "vhost_blk"
#define VHOST_BLK_GENL_VERSION 1

enum {
	VHOST_BLK_CMD_UNSPEC,
	VHOST_BLK_CMD_DEV_GET,
	VHOST_BLK_CMD_WORKER_GET,
	VHOST_BLK_CMD_VQ_GET,
	VHOST_BLK_CMD_VQ_ATTACH,
	VHOST_BLK_CMD_DEV_CREATED_NTF,	/* VHOST_BLK_A_DEV_ID, _OWNER_UID */
	VHOST_BLK_CMD_DEV_DESTROYED_NTF,	/* VHOST_BLK_A_DEV_ID, _OWNER_UID */
	VHOST_BLK_CMD_BACKEND_SET_NTF,	/* VHOST_BLK_A_DEV_ID, _BACKEND(_SIZE) */
	VHOST_BLK_CMD_WORKER_CREATED_NTF,	/* VHOST_BLK_A_WORKER_DEV_ID, _ID, _TID */
	VHOST_BLK_CMD_WORKER_FREED_NTF,	/* VHOST_BLK_A_WORKER_DEV_ID, _ID */
	VHOST_BLK_CMD_VQ_ATTACHED_NTF,	/* VHOST_BLK_A_VQ_DEV_ID, _INDEX, _WORKER_ID */
	VHOST_BLK_CMD_VQ_STOPPED_NTF,	/* VHOST_BLK_A_VQ_DEV_ID, _INDEX, _STOP_REASON */
	VHOST_BLK_CMD_IO_ERROR_NTF,	/* VHOST_BLK_A_VQ_DEV_ID, _INDEX, _IO_ERRNO,
					 * _IO_OP, _IO_ERRORS
					 */

	__VHOST_BLK_CMD_MAX,
	VHOST_BLK_CMD_MAX = (__VHOST_BLK_CMD_MAX - 1)
};

/* Worker modes, as VHOST_SET_FORK_FROM_OWNER takes them. */
enum {
	VHOST_BLK_WORKER_MODE_KTHREAD = VHOST_FORK_OWNER_KTHREAD,
	VHOST_BLK_WORKER_MODE_TASK = VHOST_FORK_OWNER_TASK,
};

enum {
	VHOST_BLK_A_DEV_UNSPEC,
	VHOST_BLK_A_DEV_PAD,
	VHOST_BLK_A_DEV_ID,		/* u32 */
	VHOST_BLK_A_DEV_OWNER_PID,	/* u32: process (tgid) of the owner */
	VHOST_BLK_A_DEV_OWNER_TID,	/* u32: thread that did SET_OWNER */
	VHOST_BLK_A_DEV_OWNER_UID,	/* u32 */
	VHOST_BLK_A_DEV_BACKEND,	/* string: path of the backend */
	VHOST_BLK_A_DEV_BACKEND_SIZE,	/* u64: bytes */
	VHOST_BLK_A_DEV_FEATURES,	/* u64: acked virtio features */
	VHOST_BLK_A_DEV_NUM_VQS,	/* u32 */
	VHOST_BLK_A_DEV_NUM_WORKERS,	/* u32 */
	VHOST_BLK_A_DEV_WORKER_MODE,	/* u32: VHOST_BLK_WORKER_MODE_* */
	VHOST_BLK_A_DEV_CAPACITY,	/* u64: sectors the guest sees */
	VHOST_BLK_A_DEV_READ_ONLY,	/* u8 */
	VHOST_BLK_A_DEV_SIZE_MAX,	/* u32: the limits in force, as */
	VHOST_BLK_A_DEV_SEG_MAX,	/* u32: VHOST_BLK_GET_LIMITS */
	VHOST_BLK_A_DEV_MAX_DISCARD_SECTORS,	/* u32 */
	VHOST_BLK_A_DEV_MAX_DISCARD_SEG,	/* u32 */
	VHOST_BLK_A_DEV_MAX_WRITE_ZEROES_SECTORS,	/* u32 */
	VHOST_BLK_A_DEV_MAX_WRITE_ZEROES_SEG,	/* u32 */
	VHOST_BLK_A_DEV_SERIAL,		/* binary: the GET_ID serial, 20 bytes */

	__VHOST_BLK_A_DEV_MAX,
	VHOST_BLK_A_DEV_MAX = (__VHOST_BLK_A_DEV_MAX - 1)
};

enum {
	VHOST_BLK_A_WORKER_UNSPEC,
	VHOST_BLK_A_WORKER_PAD,
	VHOST_BLK_A_WORKER_DEV_ID,	/* u32 */
	VHOST_BLK_A_WORKER_ID,		/* u32 */
	VHOST_BLK_A_WORKER_TID,		/* u32: in the reader's pid namespace */
	VHOST_BLK_A_WORKER_VQS,		/* nest of u32 VHOST_BLK_A_WORKER_VQ */
	VHOST_BLK_A_WORKER_VQ,		/* u32: an attached virtqueue */
	VHOST_BLK_A_WORKER_WORKS,	/* u64: work items run */
	VHOST_BLK_A_WORKER_BUSY_NS,	/* u64: time spent running them */
	VHOST_BLK_A_WORKER_WAKEUPS,	/* u64: batches taken */

	__VHOST_BLK_A_WORKER_MAX,
	VHOST_BLK_A_WORKER_MAX = (__VHOST_BLK_A_WORKER_MAX - 1)
};

enum {
	VHOST_BLK_A_VQ_UNSPEC,
	VHOST_BLK_A_VQ_PAD,
	VHOST_BLK_A_VQ_DEV_ID,		/* u32 */
	VHOST_BLK_A_VQ_INDEX,		/* u32 */
	VHOST_BLK_A_VQ_WORKER_ID,	/* u32; absent when it has none */
	VHOST_BLK_A_VQ_NUM,		/* u32: ring size */
	VHOST_BLK_A_VQ_ACTIVE,		/* u8: serving requests */
	VHOST_BLK_A_VQ_KICKS,		/* u64: handler runs */
	VHOST_BLK_A_VQ_REQUESTS,	/* u64: requests returned */
	VHOST_BLK_A_VQ_BYTES,		/* u64: data bytes transferred */
	VHOST_BLK_A_VQ_IN_FLIGHT,	/* u32 */
	VHOST_BLK_A_VQ_ERRORS,		/* u64: malformed-ring errors */
	VHOST_BLK_A_VQ_BUSYLOOP_US,	/* u32: busy-loop timeout, 0 if none */
	VHOST_BLK_A_VQ_BROKEN,		/* u8: stopped by a malformed ring */
	VHOST_BLK_A_VQ_OFFLOADED,	/* u64: requests run off the worker */
	VHOST_BLK_A_VQ_HIST,		/* nest of VHOST_BLK_A_HIST_*, repeated */
	VHOST_BLK_A_VQ_IO_ERRORS,	/* u64: requests the backend failed */
	VHOST_BLK_A_VQ_STOP_REASON,	/* string: events only */
	VHOST_BLK_A_VQ_IO_ERRNO,	/* u32: events only, positive errno */
	VHOST_BLK_A_VQ_IO_OP,		/* u32: events only, VHOST_BLK_OP_* */
	VHOST_BLK_A_VQ_PACKED,		/* u8: a packed ring (VIRTIO_F_RING_PACKED) */

	__VHOST_BLK_A_VQ_MAX,
	VHOST_BLK_A_VQ_MAX = (__VHOST_BLK_A_VQ_MAX - 1)
};

/*
 * Latency histograms, per virtqueue, per kind and per request type: one
 * VHOST_BLK_A_VQ_HIST nest each, absent while it counted nothing.
 * VHOST_BLK_A_HIST_BUCKETS is an array of VHOST_BLK_HIST_BUCKETS u64
 * counts, host byte order: bucket 0 counts what took less than 1 us,
 * bucket i (0 < i < VHOST_BLK_HIST_BUCKETS - 1) what took [2^(i-1), 2^i)
 * us, the last bucket 2^20 us (about 1 s) and more.  The queue time runs
 * from the moment the worker reads the avail index that shows a request
 * to the request's submission; the service time from its submission to
 * its return to the driver.  Read without a lock: a dump may catch a
 * request counted in its bucket and not yet in its sum.
 */
#define VHOST_BLK_HIST_BUCKETS 22

enum {
	VHOST_BLK_HIST_QUEUE,
	VHOST_BLK_HIST_SERVICE,
};

/* Request types, as the histograms and the I/O error event count them. */
enum {
	VHOST_BLK_OP_READ,
	VHOST_BLK_OP_WRITE,
	VHOST_BLK_OP_FLUSH,
	VHOST_BLK_OP_DISCARD,		/* DISCARD and WRITE_ZEROES */
	VHOST_BLK_OP_OTHER,		/* GET_ID, unsupported, malformed */
	VHOST_BLK_NR_OPS,
};

enum {
	VHOST_BLK_A_HIST_UNSPEC,
	VHOST_BLK_A_HIST_PAD,
	VHOST_BLK_A_HIST_KIND,		/* u32: VHOST_BLK_HIST_* */
	VHOST_BLK_A_HIST_OP,		/* u32: VHOST_BLK_OP_* */
	VHOST_BLK_A_HIST_BUCKETS,	/* binary: u64[VHOST_BLK_HIST_BUCKETS] */
	VHOST_BLK_A_HIST_SUM_NS,	/* u64 */
	VHOST_BLK_A_HIST_MAX_NS,	/* u64: the longest */

	__VHOST_BLK_A_HIST_MAX,
	VHOST_BLK_A_HIST_MAX = (__VHOST_BLK_A_HIST_MAX - 1)
};

/*
 * The multicast group of events: devices created and destroyed, backends
 * set (VHOST_BLK_A_DEV_BACKEND absent: detached), workers created and
 * freed, virtqueues attached to a worker, virtqueues a malformed ring
 * stopped, and requests the backend failed (at most 10 events per device
 * every 5 s; VHOST_BLK_A_VQ_IO_ERRORS counts them all).  A listener
 * without CAP_NET_ADMIN receives the events of the devices its effective
 * uid owns (or opened, before the device has an owner), where the kernel
 * can filter multicast (Linux 6.10 and later); on older kernels the group
 * needs CAP_NET_ADMIN.
 */
#define VHOST_BLK_MCGRP_MONITOR "monitor"

#endif /* _UAPI_LINUX_VHOST_BLK_H */
