/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The vhost_blk core: a small vhost implementation that knows nothing of
 * block devices.  A device type (blk.c) embeds a struct vhb_dev, gives each
 * virtqueue a kick handler, and forwards the ioctls it does not handle itself
 * to vhb_dev_ioctl().
 *
 * Locking, outermost first:
 *   dev->mutex      device configuration: owner, features, memory table,
 *                   workers, vring configuration ioctls
 *   worker->mutex   a worker's attachments and its killed state
 *   vq->mutex       a virtqueue's ring state; held by every handler run
 *   dev->snap_lock  (spinlock) what netlink reads without dev->mutex: the
 *                   owner's identity, and the device type's own snapshot
 * vq->worker is RCU-protected: work is queued under rcu_read_lock() and a
 * worker is swapped with rcu_assign_pointer() under vq->mutex.  A worker is
 * freed only after an RCU grace period, so a reader under rcu_read_lock()
 * may look at any worker it finds in dev->worker_ids or vq->worker.
 *
 * Rules: a handler never waits for backend I/O with vq->mutex held; no
 * global lock is held while waiting for dev->mutex or for I/O; every wait
 * userspace can cause is killable and bounded.
 */
#ifndef VHB_VHOST_H
#define VHB_VHOST_H

#include <linux/atomic.h>
#include <linux/eventfd.h>
#include <linux/fs.h>
#include <linux/llist.h>
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/poll.h>
#include <linux/spinlock.h>
#include <linux/uidgid.h>
#include <linux/uio.h>
#include <linux/virtio_byteorder.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <linux/xarray.h>

#include <linux/vhost_blk.h>

struct vhb_dev;
struct vhb_virtqueue;
struct vhb_work;

typedef void (*vhb_work_fn_t)(struct vhb_work *work);

/* Bit in vhb_work.flags: the work sits on a worker's list. */
#define VHB_WORK_QUEUED 0

struct vhb_work {
	struct llist_node node;
	vhb_work_fn_t fn;
	unsigned long flags;
};

/* Counters of a worker, written by the worker only (WRITE_ONCE). */
struct vhb_worker_stats {
	u64 works;	/* work items run */
	u64 busy_ns;	/* time spent running them */
	u64 wakeups;	/* batches taken off the list */
};

struct vhb_worker_ops;

struct vhb_worker {
	struct vhb_dev *dev;
	const struct vhb_worker_ops *ops;
	void *thread;			/* vhost_task or task_struct, per ops */
	struct llist_head work_list;
	/* Serializes attach, flush and free against the SIGKILL handler. */
	struct mutex mutex;
	unsigned int id;
	int attachment_cnt;		/* virtqueues served; under mutex */
	bool killed;			/* under mutex */
	struct pid *pid;		/* the worker thread's */
	struct vhb_worker_stats stats;
	struct list_head dead;		/* on the list vhb_workers_free() frees */
};

/* An eventfd the core waits on: a virtqueue's kick. */
struct vhb_poll {
	poll_table table;
	wait_queue_head_t *wqh;
	wait_queue_entry_t wait;
	struct vhb_work work;
	__poll_t mask;
	struct vhb_virtqueue *vq;
};

/* One guest memory region: guest physical range -> owner's user address. */
struct vhb_mem_region {
	u64 gpa;
	u64 size;
	u64 uaddr;
};

/* A memory table, regions sorted by gpa, never overlapping. */
struct vhb_mem {
	unsigned int nregions;
	struct vhb_mem_region regions[];
};

/* Guest memory a chain lets the device write: a guest physical range. */
struct vhb_log_range {
	u64 gpa;
	u32 len;
};

/* A processed chain for vhb_add_used_n(): its head and the bytes written. */
struct vhb_used {
	u32 id;
	u32 len;
};

/* Per-virtqueue counters; the worker writes them under vq->mutex. */
struct vhb_vq_stats {
	u64 kicks;
	u64 requests;
	u64 bytes;
	u64 errors;
};

/* Bytes of the last error's text a virtqueue keeps. */
#define VHB_VQ_REASON_LEN 64

struct vhb_packed_buf;

/*
 * A packed ring's state (vq_packed.c), under vq->mutex.  last_avail_idx and
 * last_used_idx are ring slots; each has a wrap counter here.
 */
struct vhb_packed {
	bool avail_wrap;	/* wrap counter at last_avail_idx */
	bool used_wrap;		/* wrap counter at last_used_idx */
	bool empty;		/* the last look found no descriptor available */
	u32 used_since_signal;	/* slots used since the last call decision */
	u32 in_flight;		/* slots of the chains fetched, not yet used */
	/* The last chain fetched, for vhb_unget_vq_desc(). */
	u16 prev_avail_idx;
	bool prev_avail_wrap;
	u16 prev_id;
	/*
	 * By buffer id, while a backend serves the ring: the chains in
	 * flight (their slots, and what to mark in the dirty log).
	 */
	struct vhb_packed_buf *bufs;
	unsigned int nbufs;
	struct vhb_log_range *scratch;	/* a chain's writable ranges */
};

/* The alignment virtio requires of a packed ring and its two areas. */
#define VHB_PACKED_DESC_ALIGN 16
#define VHB_PACKED_EVENT_ALIGN 4

struct vhb_virtqueue {
	struct vhb_dev *dev;
	unsigned int index;

	/* Serializes ring access: every handler runs with it held. */
	struct mutex mutex;
	atomic_t lockers;	/* waiting in vhb_vq_lock(): a poll lets go */
	unsigned int num;
	/* The split ring's three parts, or what a packed ring has instead. */
	union {
		vring_desc_t __user *desc;
		struct vring_packed_desc __user *desc_packed;
	};
	union {
		vring_avail_t __user *avail;
		struct vring_packed_desc_event __user *driver_event;
	};
	union {
		vring_used_t __user *used;
		struct vring_packed_desc_event __user *device_event;
	};
	struct file *kick;
	struct eventfd_ctx *call_ctx;
	struct eventfd_ctx *error_ctx;
	struct vhb_poll poll;
	vhb_work_fn_t handle_kick;	/* set by the device type */

	u16 last_avail_idx;	/* next avail entry (packed: slot) to fetch */
	u16 avail_idx;		/* last avail->idx read; split only */
	u16 last_used_idx;	/* next used entry (packed: slot) to fill */
	u16 used_flags;		/* VRING_USED_F_NO_NOTIFY: kicks disabled */
	u16 signalled_used;	/* used idx at the last call signal */
	bool signalled_used_valid;
	bool stopped;		/* by VHOST_GET_VRING_BASE until reconfigured */
	bool broken;		/* malformed ring: stopped until reconfigured */
	/* VIRTIO_F_RING_PACKED: fixed by VHOST_SET_FEATURES, see pk. */
	bool packed;
	struct vhb_packed pk;
	u32 busyloop_timeout;	/* us to busy-poll an empty ring; 0: never */

	u64 acked_features;
	const struct vhb_mem *mem;	/* the device's table, under mutex */
	void *private_data;		/* the device type's backend */

	/* Dirty logging (log.c): copies of the device's, under mutex. */
	u64 log_base;			/* the log's user address */
	struct eventfd_ctx *log_ctx;	/* the device's; no reference */
	u64 log_addr;			/* the used ring's guest address */
	bool log_used;			/* VHOST_VRING_F_LOG: log the used ring */
	bool log_pending;		/* marked since the last log signal */

	struct vhb_worker __rcu *worker;
	struct vhb_vq_stats stats;
	/* The last error vhb_vq_err() reported, for the vq-stopped event. */
	char err_reason[VHB_VQ_REASON_LEN];
};

/* What the core tells the device type happened, for netlink's events. */
enum vhb_event_type {
	VHB_EV_WORKER_CREATED,
	VHB_EV_WORKER_FREED,
	VHB_EV_VQ_ATTACHED,
	VHB_EV_VQ_STOPPED,
};

struct vhb_event {
	enum vhb_event_type type;
	u32 worker_id;			/* worker events, VQ_ATTACHED */
	struct pid *worker_pid;		/* WORKER_CREATED */
	struct vhb_virtqueue *vq;	/* VQ_ATTACHED, VQ_STOPPED */
};

struct vhb_dev_ops {
	/*
	 * Wait until every request the virtqueue fetched has completed, for
	 * VHOST_GET_VRING_BASE: 0, or -EINTR when the caller is killed or
	 * -ETIMEDOUT when the backend does not answer in time.  Called with
	 * dev->mutex held and not vq->mutex; the ring no longer takes kicks.
	 * Optional.
	 */
	int (*drain_vq)(struct vhb_virtqueue *vq);
	/*
	 * Announce @ev.  Called in process context, maybe with dev->mutex or
	 * vq->mutex held (VQ_STOPPED: by the handler): must not sleep on the
	 * device.  Optional.
	 */
	void (*notify)(struct vhb_dev *dev, const struct vhb_event *ev);
};

/* The owner as netlink sees it; vhb_dev_owner_get() takes the references. */
struct vhb_owner {
	struct pid *tgid;
	struct pid *tid;
	kuid_t uid;
};

struct vhb_dev {
	struct mutex mutex;		/* device configuration, see above */
	spinlock_t snap_lock;		/* see above */
	struct mm_struct *mm;		/* the owner's, from SET_OWNER */
	struct vhb_owner owner;		/* under snap_lock too; pids NULL if none */
	struct vhb_virtqueue **vqs;
	unsigned int nvqs;
	const struct vhb_dev_ops *ops;
	struct vhb_mem *mem;		/* under mutex; vqs hold copies */
	struct xarray worker_ids;
	u64 features;			/* what the device type offers */
	u64 acked_features;		/* read locklessly by netlink */
	u64 log_base;			/* VHOST_SET_LOG_BASE, under mutex */
	struct eventfd_ctx *log_ctx;	/* VHOST_SET_LOG_FD, under mutex */
	u8 fork_owner;			/* VHOST_FORK_OWNER_* */
	int weight;			/* requests per handler run */
};

/* dev.c: device lifecycle and configuration ioctls */
void vhb_dev_init(struct vhb_dev *dev, struct vhb_virtqueue **vqs,
		  unsigned int nvqs, const struct vhb_dev_ops *ops,
		  u64 features, int weight);
long vhb_dev_ioctl(struct vhb_dev *dev, unsigned int ioctl, void __user *argp);
int vhb_dev_check_owner(struct vhb_dev *dev);
bool vhb_dev_has_owner(struct vhb_dev *dev);
bool vhb_dev_owner_get(struct vhb_dev *dev, struct vhb_owner *owner);
void vhb_owner_put(struct vhb_owner *owner);
void vhb_dev_stop(struct vhb_dev *dev);
void vhb_dev_cleanup(struct vhb_dev *dev);

/* vring.c: the per-virtqueue configuration ioctls and the kick poll */
long vhb_vring_ioctl(struct vhb_dev *dev, unsigned int ioctl,
		     void __user *argp);
void vhb_vq_reset(struct vhb_virtqueue *vq);
void vhb_vq_cleanup(struct vhb_virtqueue *vq);
int vhb_poll_start(struct vhb_poll *poll, struct file *file);
void vhb_poll_stop(struct vhb_poll *poll);

/* log.c: dirty logging */
bool vhb_log_covers_mem(u64 base, const struct vhb_mem *mem);
bool vhb_log_used_ok(struct vhb_virtqueue *vq, u64 base, bool log_used,
		     u64 log_addr);
int vhb_log_write(struct vhb_virtqueue *vq, u64 gpa, u64 len);
void vhb_log_used(struct vhb_virtqueue *vq, u64 offset, u64 len);
void vhb_log_ring(struct vhb_virtqueue *vq, const void __user *p, u64 len);
void vhb_log_signal(struct vhb_virtqueue *vq);
long vhb_set_log_base(struct vhb_dev *dev, u64 __user *argp);
long vhb_set_log_fd(struct vhb_dev *dev, int __user *argp);

/* worker.c: workers and work */
void vhb_work_init(struct vhb_work *work, vhb_work_fn_t fn);
bool vhb_vq_work_queue(struct vhb_virtqueue *vq, struct vhb_work *work);
void vhb_vq_flush(struct vhb_virtqueue *vq);
int vhb_vq_flush_killable(struct vhb_virtqueue *vq);
bool vhb_vq_worker_has_work(struct vhb_virtqueue *vq);
void vhb_dev_flush(struct vhb_dev *dev);
int vhb_workers_setup(struct vhb_dev *dev);
void vhb_workers_free(struct vhb_dev *dev);
long vhb_worker_ioctl(struct vhb_dev *dev, unsigned int ioctl,
		      void __user *argp);
bool vhb_fork_owner_supported(void);
int vhb_set_nworkers(struct vhb_dev *dev, int n);
int vhb_vq_attach_worker(struct vhb_virtqueue *vq, u32 id);
unsigned int vhb_dev_num_workers(struct vhb_dev *dev);

/* Bumped whenever a device, worker or attachment comes or goes: netlink. */
extern atomic_t vhb_topology_gen;

static inline void vhb_topology_changed(void)
{
	atomic_inc(&vhb_topology_gen);
}

/* vq.c: ring access, split (vq.c) or packed (vq_packed.c) */

/* A chain vhb_get_vq_desc() fetched. */
struct vhb_chain_info {
	unsigned int out;	/* device-readable iovecs, first */
	unsigned int in;	/* device-writable iovecs, after them */
	unsigned int ndesc;	/* descriptors, those of an indirect table too */
	u32 max_len;		/* the longest descriptor, in bytes */
	/*
	 * A well-formed chain over VHB_MAX_IOV iovecs or VHB_MAX_CHAIN_BYTES:
	 * only its last writable byte is returned, as the one writable iovec.
	 */
	bool oversized;
};

int vhb_get_vq_desc(struct vhb_virtqueue *vq, struct iovec *iov,
		    unsigned int iov_size, struct vhb_chain_info *info);
void vhb_unget_vq_desc(struct vhb_virtqueue *vq);
int vhb_vq_avail_pending(struct vhb_virtqueue *vq);
int vhb_add_used_n(struct vhb_virtqueue *vq, const struct vhb_used *used,
		   unsigned int count);
void vhb_signal(struct vhb_virtqueue *vq);
bool vhb_enable_notify(struct vhb_virtqueue *vq);
void vhb_disable_notify(struct vhb_virtqueue *vq);
int vhb_vq_init_access(struct vhb_virtqueue *vq);
void vhb_vq_fini_access(struct vhb_virtqueue *vq);
bool vhb_vq_access_ok(struct vhb_virtqueue *vq, u64 desc, u64 avail,
		      u64 used);
bool vhb_exceeds_weight(struct vhb_virtqueue *vq, int reqs);
void vhb_vq_set_broken(struct vhb_virtqueue *vq);
__printf(2, 3) void vhb_vq_note_err(struct vhb_virtqueue *vq, const char *fmt, ...);
void vhb_dev_notify(struct vhb_dev *dev, const struct vhb_event *ev);
int vhb_log_chain(struct vhb_virtqueue *vq, unsigned int head, u64 data);

/*
 * Has the device used up what it last saw available?  Split: every entry
 * up to the avail index it read; packed: each fetch looks at the ring.
 */
static inline bool vhb_vq_avail_seen_all(struct vhb_virtqueue *vq)
{
	return vq->packed || vq->avail_idx == vq->last_avail_idx;
}

/* Does the virtqueue log the guest memory its requests write? */
static inline bool vhb_vq_logs_writes(struct vhb_virtqueue *vq)
{
	return unlikely(vq->acked_features & BIT_ULL(VHOST_F_LOG_ALL));
}

/*
 * Take vq->mutex from outside the virtqueue's handlers (ioctls, teardown,
 * worker moves): a handler busy-polling the ring with the mutex held sees
 * the waiter and stops.
 */
static inline void vhb_vq_lock(struct vhb_virtqueue *vq)
{
	atomic_inc(&vq->lockers);
	mutex_lock(&vq->mutex);
	atomic_dec(&vq->lockers);
}

/* The same, giving up on a fatal signal: 0 or -EINTR. */
static inline int vhb_vq_lock_killable(struct vhb_virtqueue *vq)
{
	int ret;

	atomic_inc(&vq->lockers);
	ret = mutex_lock_killable(&vq->mutex);
	atomic_dec(&vq->lockers);
	return ret;
}

/* Does anyone wait in vhb_vq_lock()?  For a handler that holds the mutex. */
static inline bool vhb_vq_lock_wanted(struct vhb_virtqueue *vq)
{
	return atomic_read(&vq->lockers);
}

/* The largest descriptor chain a request may have, in iovecs. */
#define VHB_MAX_IOV 1024
/* The largest number of bytes one descriptor chain may address. */
#define VHB_MAX_CHAIN_BYTES (64U << 20)

/*
 * Bump a counter that netlink reads without the writer's lock: single
 * writer (the lock holder or the worker), so WRITE_ONCE is enough.
 */
static inline void vhb_stat_add(u64 *counter, u64 n)
{
	WRITE_ONCE(*counter, *counter + n);
}

/*
 * A guest-controlled error on a virtqueue: a rate-limited debug message and
 * a signal on the virtqueue's error eventfd, never an error-level message a
 * guest could flood the log with.
 */
#define vhb_vq_err(vq, fmt, ...) do {					\
		struct vhb_virtqueue *__vq = (vq);			\
									\
		vhb_vq_note_err(__vq, fmt, ##__VA_ARGS__);		\
		vhb_stat_add(&__vq->stats.errors, 1);			\
		if (__vq->error_ctx)					\
			vhb_eventfd_signal(__vq->error_ctx);		\
	} while (0)

static inline bool vhb_has_feature(struct vhb_virtqueue *vq, int bit)
{
	return vq->acked_features & BIT_ULL(bit);
}

/*
 * Ring and request fields are little endian with VIRTIO_F_VERSION_1, and
 * native endian for legacy drivers.
 */
static inline bool vhb_is_le(struct vhb_virtqueue *vq)
{
	return vhb_has_feature(vq, VIRTIO_F_VERSION_1) ||
	       !IS_ENABLED(CONFIG_CPU_BIG_ENDIAN);
}

static inline u16 vhb16_to_cpu(struct vhb_virtqueue *vq, __virtio16 v)
{
	return __virtio16_to_cpu(vhb_is_le(vq), v);
}

static inline __virtio16 cpu_to_vhb16(struct vhb_virtqueue *vq, u16 v)
{
	return __cpu_to_virtio16(vhb_is_le(vq), v);
}

static inline u32 vhb32_to_cpu(struct vhb_virtqueue *vq, __virtio32 v)
{
	return __virtio32_to_cpu(vhb_is_le(vq), v);
}

static inline __virtio32 cpu_to_vhb32(struct vhb_virtqueue *vq, u32 v)
{
	return __cpu_to_virtio32(vhb_is_le(vq), v);
}

static inline u64 vhb64_to_cpu(struct vhb_virtqueue *vq, __virtio64 v)
{
	return __virtio64_to_cpu(vhb_is_le(vq), v);
}

#endif /* VHB_VHOST_H */
