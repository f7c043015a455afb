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
#include <linux/ratelimit.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/timer.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "vhost/vhost.h"

struct vhb_blk;
struct vhb_blk_vq;

/* One request in flight; a virtqueue has one per ring entry, by head. */
struct vhb_blk_req {
	struct kiocb iocb;
	struct llist_node node;		/* on the virtqueue's done list */
	struct delayed_work work;	/* offloaded: on the device's workqueue */
	struct vhb_blk_vq *bvq;
	u8 __user *status;		/* the guest's status byte */
	/*
	 * Offloaded: a read's or write's guest pages (bio_vec, referenced),
	 * or DISCARD / WRITE_ZEROES segments (struct vhb_blk_zero_seg).
	 */
	void *buf;
	unsigned int nr;
	u64 pos;			/* byte offset on the backend */
	u32 type;
	u32 len;			/* bytes of data to transfer */
	u32 written;			/* bytes written to the guest */
	u16 ioprio;			/* offloaded: the submitter's */
	int kiocb_flags;		/* offloaded: IOCB_WRITE, IOCB_DSYNC... */
	u16 retry_ms;			/* offloaded: backoff on a frozen fs */
	u8 result;			/* VIRTIO_BLK_S_*, when not from I/O */
	bool busy;			/* fetched and not yet completed */
	bool io;			/* completed by the backend */
	bool freeze_held;		/* holds sb freeze protection */
	bool direct;			/* offloaded: direct I/O */
	bool pinned;			/* buf holds page references */
	long ret;			/* the backend's result */
	/* Latency (latency_stats): when its avail index was read, submitted. */
	u64 seen_ns;
	u64 submit_ns;			/* 0: not measured */
};

/*
 * One latency histogram, in the buckets of VHOST_BLK_A_HIST_BUCKETS.  The
 * worker writes it under vq.mutex (WRITE_ONCE); netlink reads it as it is.
 */
struct vhb_hist {
	u64 buckets[VHOST_BLK_HIST_BUCKETS];
	u64 sum_ns;
	u64 max_ns;
};

/*
 * The limits in force, defaults filled in (struct vhost_blk_limits, in
 * bytes where the uapi has sectors).  Each virtqueue has a copy, replaced
 * under its mutex.
 */
struct vhb_blk_limits {
	u64 capacity;			/* bytes; 0: the backend's size */
	u32 size_max;			/* 0: no limit */
	u32 seg_max;			/* 0: no limit */
	u64 max_discard_bytes;		/* per segment; 0: cannot */
	u32 max_discard_seg;
	u64 max_write_zeroes_bytes;	/* per segment; 0: cannot */
	u32 max_write_zeroes_seg;
	bool read_only;
};

struct vhb_blk_vq {
	struct vhb_virtqueue vq;
	struct vhb_blk *blk;
	/* Requests, indexed by head; allocated while a backend is attached. */
	struct vhb_blk_req *reqs;
	struct iovec *iov;		/* scratch for one chain */
	struct vhb_blk_limits limits;	/* under vq.mutex */
	struct llist_head done;		/* completed, to return to the guest */
	struct vhb_work done_work;
	atomic_t in_flight;		/* fetched and not yet on done */
	u64 offloaded;			/* requests run on vhb_blk_wq; vq.mutex */
	u64 io_errors;			/* requests the backend failed; vq.mutex */
	/* Latency histograms by VHOST_BLK_HIST_* and VHOST_BLK_OP_*; vq.mutex. */
	struct vhb_hist hist[2][VHOST_BLK_NR_OPS];
	u64 seen_ns;			/* when the avail index was last read */
	bool serving;			/* the handler runs: completions queue no work */
	/*
	 * A request that cannot start yet (its filesystem is frozen) stays
	 * in the ring; the timer kicks the handler to try again.
	 */
	struct timer_list retry_timer;
	unsigned int retry_ms;
};

/* The backing file, fixed while attached. */
struct vhb_blk_backend {
	struct file *file;
	/*
	 * Whoever set the backend: the I/O runs with their credentials, and
	 * offloaded I/O is charged to their cgroups.
	 */
	const struct cred *cred;
	struct cgroup_subsys_state *blkcg_css;
	struct mem_cgroup *memcg;
	/* A regular file's filesystem, whose freeze protection writes take. */
	struct super_block *sb;
	bool direct;			/* O_DIRECT-capable: async direct I/O */
	/* Direct I/O submission cannot wait: IOCB_NOWAIT, offload on EAGAIN. */
	bool nowait;
	/* Submission may wait (FUSE, NFS, a stacked filesystem): offload all. */
	bool offload_all;
	bool writable;
	bool bdev;			/* a block device, else a regular file */
	unsigned int dio_offset_align;	/* direct I/O: position and length */
	unsigned int dio_mem_align;	/* direct I/O: memory */
};

struct vhb_blk {
	struct vhb_dev dev;
	u32 id;				/* in the device registry */
	refcount_t ref;			/* the open file's, and netlink's */
	struct rcu_head rcu;
	unsigned int nvqs;
	struct vhb_blk_vq *vqs;
	struct vhb_virtqueue **vq_ptrs;
	wait_queue_head_t drain_wq;	/* a virtqueue's in_flight reached 0 */
	/* Where its requests that would block a handler run (blk_offload.c). */
	struct workqueue_struct *wq;
	bool dying;			/* released: offloaded work stops early */
	/* Whose its events are without an owner: its opener's, its last owner's. */
	kuid_t event_uid;
	struct ratelimit_state io_err_rs;	/* of its I/O error events */
	/* Under dev.mutex; netlink reads file, limits, serial under snap_lock. */
	struct vhb_blk_backend backend;	/* file NULL if none */
	struct vhost_blk_limits vmm_limits;	/* as the VMM set them */
	struct vhb_blk_limits limits;	/* in force */
	char serial[VHOST_BLK_SERIAL_BYTES];
};

/* blk.c: the registry of open devices, for netlink */
struct vhb_blk *vhb_blk_get_next(unsigned long *id);
struct vhb_blk *vhb_blk_get(u32 id);
void vhb_blk_put(struct vhb_blk *blk);

/* nl.c: events of the multicast group "monitor" */
void vhb_nl_notify_dev(struct vhb_blk *blk, u8 cmd);
void vhb_nl_notify(struct vhb_blk *blk, const struct vhb_event *ev);
void vhb_nl_notify_io_error(struct vhb_blk_vq *bvq, int err, u32 op);

/* blk_limits.c */
int vhb_blk_set_limits(struct vhb_blk *blk, struct vhost_blk_limits __user *argp);
int vhb_blk_get_limits(struct vhb_blk *blk, struct vhost_blk_limits __user *argp);
int vhb_blk_apply_limits(struct vhb_blk *blk, const struct vhost_blk_limits *l);
void vhb_blk_limits_to_uapi(const struct vhb_blk_limits *l, u64 size,
			    struct vhost_blk_limits *v);

/* One DISCARD or WRITE_ZEROES segment, checked: bytes, CPU byte order. */
struct vhb_blk_zero_seg {
	u64 pos;
	u64 len;
	bool unmap;
};

/* blk_offload.c */
void vhb_blk_offload_init(struct vhb_blk_req *req);
void vhb_blk_offload(struct vhb_blk_req *req);
int vhb_blk_offload_rw_req(struct vhb_blk_req *req, const struct iovec *iov,
			   unsigned int nr, bool direct, int kiocb_flags);
void vhb_blk_unpin(struct vhb_blk_req *req);

/* blk_req.c */
u32 vhb_blk_op(u32 type);
void vhb_blk_req_done(struct vhb_blk_req *req);
void vhb_blk_handle_kick(struct vhb_work *work);
void vhb_blk_done_work(struct vhb_work *work);
void vhb_blk_drop_done(struct vhb_blk_vq *bvq);
void vhb_blk_retry_timer(struct timer_list *t);
u64 vhb_blk_backend_size(const struct vhb_blk_backend *backend);
unsigned long vhb_blk_drain_deadline(void);
int vhb_blk_wait_idle(struct vhb_blk_vq *bvq, unsigned long deadline);
void vhb_blk_wait_idle_forever(struct vhb_blk_vq *bvq);

#endif /* VHB_BLK_H */
