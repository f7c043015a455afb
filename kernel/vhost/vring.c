// SPDX-License-Identifier: GPL-2.0
/*
 * Per-virtqueue configuration: the VHOST_*_VRING_* ioctls, and the poll on a
 * virtqueue's kick eventfd that queues its handler on its worker.
 */
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/nospec.h>
#include <linux/uaccess.h>

#include "vhost.h"

static void vhb_poll_func(struct file *file, wait_queue_head_t *wqh,
			  poll_table *pt)
{
	struct vhb_poll *poll = container_of(pt, struct vhb_poll, table);

	poll->wqh = wqh;
	add_wait_queue(wqh, &poll->wait);
}

/*
 * The kick eventfd was written: queue the handler on the virtqueue's worker.
 * This runs in the writer's context with the eventfd's wait queue lock held,
 * so it only queues, never handles.
 */
static int vhb_poll_wakeup(wait_queue_entry_t *wait, unsigned int mode,
			   int sync, void *key)
{
	struct vhb_poll *poll = container_of(wait, struct vhb_poll, wait);

	if (!(key_to_poll(key) & poll->mask))
		return 0;
	vhb_vq_work_queue(poll->vq, &poll->work);
	return 0;
}

static void vhb_poll_init(struct vhb_poll *poll, struct vhb_virtqueue *vq)
{
	init_waitqueue_func_entry(&poll->wait, vhb_poll_wakeup);
	init_poll_funcptr(&poll->table, vhb_poll_func);
	poll->mask = EPOLLIN;
	poll->vq = vq;
	poll->wqh = NULL;
	vhb_work_init(&poll->work, vq->handle_kick);
}

/* Start polling @file; a kick already pending queues the handler at once. */
int vhb_poll_start(struct vhb_poll *poll, struct file *file)
{
	__poll_t mask;

	if (poll->wqh)
		return 0;

	mask = vfs_poll(file, &poll->table);
	if (mask)
		vhb_poll_wakeup(&poll->wait, 0, 0, poll_to_key(mask));
	if (mask & EPOLLERR) {
		vhb_poll_stop(poll);
		return -EINVAL;
	}
	return 0;
}

void vhb_poll_stop(struct vhb_poll *poll)
{
	if (poll->wqh) {
		remove_wait_queue(poll->wqh, &poll->wait);
		poll->wqh = NULL;
	}
}

/* Forget the ring configuration; the virtqueue holds no file. */
void vhb_vq_reset(struct vhb_virtqueue *vq)
{
	vhb_vq_fini_access(vq);
	WRITE_ONCE(vq->num, 1);
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	vq->kick = NULL;
	vq->call_ctx = NULL;
	vq->error_ctx = NULL;
	vq->last_avail_idx = 0;
	vq->avail_idx = 0;
	vq->last_used_idx = 0;
	vq->used_flags = 0;
	vq->signalled_used = 0;
	vq->signalled_used_valid = false;
	vq->stopped = false;
	WRITE_ONCE(vq->broken, false);
	WRITE_ONCE(vq->busyloop_timeout, 0);
	vq->packed = false;
	memset(&vq->pk, 0, sizeof(vq->pk));
	/* A new packed ring's wrap counters start at 1, as the spec's do. */
	vq->pk.avail_wrap = true;
	vq->pk.used_wrap = true;
	vq->acked_features = 0;
	vq->private_data = NULL;
	vq->log_base = 0;
	vq->log_ctx = NULL;
	vq->log_addr = 0;
	vq->log_used = false;
	vq->log_pending = false;
	memset(&vq->stats, 0, sizeof(vq->stats));
	vhb_poll_init(&vq->poll, vq);
}

/* Drop the files a virtqueue holds and reset it.  Its poll is stopped. */
void vhb_vq_cleanup(struct vhb_virtqueue *vq)
{
	vhb_vq_lock(vq);
	vhb_poll_stop(&vq->poll);
	if (vq->kick)
		fput(vq->kick);
	if (vq->call_ctx)
		eventfd_ctx_put(vq->call_ctx);
	if (vq->error_ctx)
		eventfd_ctx_put(vq->error_ctx);
	vhb_vq_reset(vq);
	mutex_unlock(&vq->mutex);
}

/* (Re)start taking kicks, unless GET_VRING_BASE stopped the ring. */
static int vhb_vq_start_poll(struct vhb_virtqueue *vq)
{
	if (!vq->kick || vq->stopped)
		return 0;
	return vhb_poll_start(&vq->poll, vq->kick);
}

/*
 * The largest packed ring: its slot indexes and wrap counter share 16 bits
 * (VHOST_SET_VRING_BASE, the event areas' off_wrap).
 */
#define VHB_PACKED_MAX_NUM 32768

/*
 * VHOST_SET_VRING_NUM: the ring size, while no backend serves the ring.  A
 * split ring's is a power of two; a packed ring's any size up to 32768.
 */
static long vhb_set_vring_num(struct vhb_virtqueue *vq,
			      struct vhost_vring_state __user *argp)
{
	struct vhost_vring_state s;

	if (vq->private_data)
		return -EBUSY;
	if (copy_from_user(&s, argp, sizeof(s)))
		return -EFAULT;
	if (vq->packed) {
		if (!s.num || s.num > VHB_PACKED_MAX_NUM)
			return -EINVAL;
	} else if (!s.num || s.num > 0xffff || (s.num & (s.num - 1))) {
		return -EINVAL;
	}
	WRITE_ONCE(vq->num, s.num);
	WRITE_ONCE(vq->broken, false);
	return 0;
}

/* A packed ring's slot and wrap counter in 16 bits, as mainline has them. */
#define VHB_PACKED_IDX(v) ((v) & 0x7fff)
#define VHB_PACKED_WRAP_BIT BIT(15)

/*
 * VHOST_SET_VRING_BASE: where the ring resumes, while no backend serves it.
 * A split ring's next avail index; a packed ring's next avail slot and wrap
 * counter in the low 16 bits, next used slot and wrap counter in the high
 * ones (mainline's encoding, which vhost-vdpa and QEMU use).
 */
static long vhb_set_vring_base(struct vhb_virtqueue *vq,
			       struct vhost_vring_state __user *argp)
{
	struct vhost_vring_state s;

	if (vq->private_data)
		return -EBUSY;
	if (copy_from_user(&s, argp, sizeof(s)))
		return -EFAULT;
	if (vq->packed) {
		u16 avail = s.num, used = s.num >> 16;

		if (VHB_PACKED_IDX(avail) >= vq->num ||
		    VHB_PACKED_IDX(used) >= vq->num)
			return -EINVAL;
		vq->last_avail_idx = VHB_PACKED_IDX(avail);
		vq->pk.avail_wrap = avail & VHB_PACKED_WRAP_BIT;
		vq->last_used_idx = VHB_PACKED_IDX(used);
		vq->pk.used_wrap = used & VHB_PACKED_WRAP_BIT;
	} else {
		if (s.num > 0xffff)
			return -EINVAL;
		vq->last_avail_idx = s.num;
		vq->avail_idx = s.num;
	}
	vq->stopped = false;
	WRITE_ONCE(vq->broken, false);
	return vhb_vq_start_poll(vq);
}

static long vhb_set_vring_addr(struct vhb_virtqueue *vq,
			       struct vhost_vring_addr __user *argp)
{
	struct vhost_vring_addr a;
	bool log_used;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	/* VHOST_VRING_F_LOG is the one flag there is. */
	if (a.flags & ~BIT(VHOST_VRING_F_LOG))
		return -EOPNOTSUPP;
	log_used = a.flags & BIT(VHOST_VRING_F_LOG);
	if ((u64)(unsigned long)a.desc_user_addr != a.desc_user_addr ||
	    (u64)(unsigned long)a.used_user_addr != a.used_user_addr ||
	    (u64)(unsigned long)a.avail_user_addr != a.avail_user_addr)
		return -EFAULT;
	/* The alignment virtio requires of avail and used. */
	if ((a.avail_user_addr & (VRING_AVAIL_ALIGN_SIZE - 1)) ||
	    (a.used_user_addr & (VRING_USED_ALIGN_SIZE - 1)) ||
	    (a.log_guest_addr & (VRING_USED_ALIGN_SIZE - 1)))
		return -EINVAL;
	/* A packed ring's descriptors and its two event areas. */
	if (vq->packed &&
	    ((a.desc_user_addr & (VHB_PACKED_DESC_ALIGN - 1)) ||
	     (a.avail_user_addr & (VHB_PACKED_EVENT_ALIGN - 1))))
		return -EINVAL;
	/* A running ring must stay accessible, and loggable when logged. */
	if (vq->private_data &&
	    (!vhb_vq_access_ok(vq, a.desc_user_addr, a.avail_user_addr,
			       a.used_user_addr) ||
	     !vhb_log_used_ok(vq, vq->log_base, log_used, a.log_guest_addr)))
		return -EINVAL;

	vq->desc = (void __user *)(unsigned long)a.desc_user_addr;
	vq->avail = (void __user *)(unsigned long)a.avail_user_addr;
	vq->used = (void __user *)(unsigned long)a.used_user_addr;
	vq->log_addr = a.log_guest_addr;
	vq->log_used = log_used;
	WRITE_ONCE(vq->broken, false);
	return 0;
}

static long vhb_set_vring_kick(struct vhb_virtqueue *vq,
			       struct vhost_vring_file __user *argp,
			       struct file **oldp)
{
	struct vhost_vring_file f;
	struct file *file = NULL;

	if (copy_from_user(&f, argp, sizeof(f)))
		return -EFAULT;
	if (f.fd != VHOST_FILE_UNBIND) {
		file = eventfd_fget(f.fd);
		if (IS_ERR(file))
			return PTR_ERR(file);
	}

	vq->stopped = false;
	if (file == vq->kick) {
		if (file)
			fput(file);
		return vhb_vq_start_poll(vq);
	}

	vhb_poll_stop(&vq->poll);
	*oldp = vq->kick;
	vq->kick = file;
	return vhb_vq_start_poll(vq);
}

/* VHOST_SET_VRING_CALL and _ERR: the eventfd in @slot. */
static long vhb_set_eventfd(struct eventfd_ctx **slot,
			    struct vhost_vring_file __user *argp)
{
	struct eventfd_ctx *ctx = NULL;
	struct vhost_vring_file f;

	if (copy_from_user(&f, argp, sizeof(f)))
		return -EFAULT;
	if (f.fd != VHOST_FILE_UNBIND) {
		ctx = eventfd_ctx_fdget(f.fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}
	swap(ctx, *slot);
	if (ctx)
		eventfd_ctx_put(ctx);
	return 0;
}

static long vhb_busyloop_timeout(struct vhb_virtqueue *vq, unsigned int ioctl,
				 struct vhost_vring_state __user *argp)
{
	struct vhost_vring_state s;

	if (ioctl == VHOST_GET_VRING_BUSYLOOP_TIMEOUT) {
		s.index = vq->index;
		s.num = vq->busyloop_timeout;
		return copy_to_user(argp, &s, sizeof(s)) ? -EFAULT : 0;
	}
	/* How long a handler busy-polls an empty ring. */
	if (copy_from_user(&s, argp, sizeof(s)))
		return -EFAULT;
	/* Netlink reads it without the mutex. */
	WRITE_ONCE(vq->busyloop_timeout, s.num);
	return 0;
}

/*
 * VHOST_GET_VRING_BASE stops the ring: no more kicks are taken, queued work
 * runs, the device type waits for the requests it has in flight, and only
 * then is the next avail index read, so it never skips an unfinished
 * request.  Every wait is killable, the device type's (drain_vq) also
 * bounded: when one fails, the ring stays stopped and the error comes back
 * instead of an index.  The ring restarts at the next VHOST_SET_VRING_KICK, or
 * VHOST_SET_VRING_BASE (which needs the backend detached).
 * Caller holds dev->mutex, not vq->mutex: no worker is waited for under it.
 */
static long vhb_get_vring_base(struct vhb_dev *dev, struct vhb_virtqueue *vq,
			       struct vhost_vring_state __user *argp)
{
	struct vhost_vring_state s = { .index = vq->index };
	int ret;

	if (vhb_vq_lock_killable(vq))
		return -EINTR;
	vhb_poll_stop(&vq->poll);
	vq->stopped = true;
	mutex_unlock(&vq->mutex);

	ret = vhb_vq_flush_killable(vq);
	if (!ret && dev->ops && dev->ops->drain_vq)
		ret = dev->ops->drain_vq(vq);
	if (!ret)
		ret = vhb_vq_flush_killable(vq);
	if (ret)
		return ret;

	if (vhb_vq_lock_killable(vq))
		return -EINTR;
	s.num = vq->last_avail_idx;
	if (vq->packed)
		s.num |= (vq->pk.avail_wrap ? VHB_PACKED_WRAP_BIT : 0) |
			 (u32)(vq->last_used_idx |
			       (vq->pk.used_wrap ? VHB_PACKED_WRAP_BIT : 0)) << 16;
	mutex_unlock(&vq->mutex);
	return copy_to_user(argp, &s, sizeof(s)) ? -EFAULT : 0;
}

/**
 * vhb_vring_ioctl - the VHOST_*_VRING_* commands
 * @dev: the device
 * @ioctl: the command
 * @argp: its argument, in user memory
 *
 * Caller holds dev->mutex and is the owner.  An index past the device's
 * virtqueues answers ENOBUFS, as in mainline.
 */
long vhb_vring_ioctl(struct vhb_dev *dev, unsigned int ioctl,
		     void __user *argp)
{
	struct vhb_virtqueue *vq;
	struct file *old_kick = NULL;
	u32 idx;
	long ret;

	if (get_user(idx, (u32 __user *)argp))
		return -EFAULT;
	if (idx >= dev->nvqs)
		return -ENOBUFS;
	vq = dev->vqs[array_index_nospec(idx, dev->nvqs)];

	if (ioctl == VHOST_GET_VRING_BASE)
		return vhb_get_vring_base(dev, vq, argp);

	vhb_vq_lock(vq);
	switch (ioctl) {
	case VHOST_SET_VRING_NUM:
		ret = vhb_set_vring_num(vq, argp);
		break;
	case VHOST_SET_VRING_BASE:
		ret = vhb_set_vring_base(vq, argp);
		break;
	case VHOST_SET_VRING_ADDR:
		ret = vhb_set_vring_addr(vq, argp);
		break;
	case VHOST_SET_VRING_KICK:
		ret = vhb_set_vring_kick(vq, argp, &old_kick);
		break;
	case VHOST_SET_VRING_CALL:
		ret = vhb_set_eventfd(&vq->call_ctx, argp);
		break;
	case VHOST_SET_VRING_ERR:
		ret = vhb_set_eventfd(&vq->error_ctx, argp);
		break;
	case VHOST_SET_VRING_BUSYLOOP_TIMEOUT:
	case VHOST_GET_VRING_BUSYLOOP_TIMEOUT:
		ret = vhb_busyloop_timeout(vq, ioctl, argp);
		break;
	default:
		ret = -ENOTTY;
		break;
	}
	mutex_unlock(&vq->mutex);

	if (old_kick) {
		/* The handler may still run for the old kick: let it finish. */
		vhb_vq_flush(vq);
		fput(old_kick);
	}
	return ret;
}
