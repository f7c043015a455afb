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
	vq->num = 1;
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
	WRITE_ONCE(vq->busyloop_timeout, 0);
	vq->acked_features = 0;
	vq->private_data = NULL;
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

static long vhb_set_vring_addr(struct vhb_virtqueue *vq,
			       struct vhost_vring_addr __user *argp)
{
	struct vhost_vring_addr a;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	/*
	 * VHOST_VRING_F_LOG asks for dirty logging, which is not
	 * implemented: refuse it rather than silently log nothing.
	 */
	if (a.flags)
		return -EOPNOTSUPP;
	if ((u64)(unsigned long)a.desc_user_addr != a.desc_user_addr ||
	    (u64)(unsigned long)a.used_user_addr != a.used_user_addr ||
	    (u64)(unsigned long)a.avail_user_addr != a.avail_user_addr)
		return -EFAULT;
	/* The alignment virtio requires of avail and used. */
	if ((a.avail_user_addr & (VRING_AVAIL_ALIGN_SIZE - 1)) ||
	    (a.used_user_addr & (VRING_USED_ALIGN_SIZE - 1)) ||
	    (a.log_guest_addr & (VRING_USED_ALIGN_SIZE - 1)))
		return -EINVAL;
	/* A running ring must stay accessible. */
	if (vq->private_data &&
	    !vhb_vq_access_ok(vq, a.desc_user_addr, a.avail_user_addr,
			      a.used_user_addr))
		return -EINVAL;

	vq->desc = (void __user *)(unsigned long)a.desc_user_addr;
	vq->avail = (void __user *)(unsigned long)a.avail_user_addr;
	vq->used = (void __user *)(unsigned long)a.used_user_addr;
	return 0;
}

static long vhb_set_vring_kick(struct vhb_virtqueue *vq, int fd,
			       struct file **oldp)
{
	struct file *file = NULL;
	long ret;

	if (fd != VHOST_FILE_UNBIND) {
		file = eventfd_fget(fd);
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
	ret = vhb_vq_start_poll(vq);
	return ret;
}

static long vhb_set_eventfd(struct eventfd_ctx **slot, int fd)
{
	struct eventfd_ctx *ctx = NULL;

	if (fd != VHOST_FILE_UNBIND) {
		ctx = eventfd_ctx_fdget(fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}
	swap(ctx, *slot);
	if (ctx)
		eventfd_ctx_put(ctx);
	return 0;
}

/*
 * VHOST_GET_VRING_BASE stops the ring: no more kicks are taken, queued work
 * runs, the device type finishes the requests it has in flight, and only then
 * is the next avail index read, so it never skips an unfinished request.  The
 * ring restarts at the next VHOST_SET_VRING_KICK, or VHOST_SET_VRING_BASE
 * (which needs the backend detached).
 * Caller holds dev->mutex; no worker is waited for under vq->mutex.
 */
static long vhb_get_vring_base(struct vhb_dev *dev, struct vhb_virtqueue *vq,
			       struct vhost_vring_state __user *argp)
{
	struct vhost_vring_state s = { .index = vq->index };

	vhb_vq_lock(vq);
	vhb_poll_stop(&vq->poll);
	vq->stopped = true;
	mutex_unlock(&vq->mutex);

	vhb_vq_flush(vq);
	if (dev->ops && dev->ops->drain_vq) {
		dev->ops->drain_vq(vq);
		vhb_vq_flush(vq);
	}

	vhb_vq_lock(vq);
	s.num = vq->last_avail_idx;
	mutex_unlock(&vq->mutex);
	return copy_to_user(argp, &s, sizeof(s)) ? -EFAULT : 0;
}

/**
 * vhb_vring_ioctl - the VHOST_*_VRING_* commands
 *
 * Caller holds dev->mutex and is the owner.  An index past the device's
 * virtqueues answers ENOBUFS, as in mainline.
 */
long vhb_vring_ioctl(struct vhb_dev *dev, unsigned int ioctl,
		     void __user *argp)
{
	struct vhost_vring_state s;
	struct vhost_vring_file f;
	struct vhb_virtqueue *vq;
	struct file *old_kick = NULL;
	u32 idx;
	long ret = 0;

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
		if (vq->private_data) {
			ret = -EBUSY;
			break;
		}
		if (copy_from_user(&s, argp, sizeof(s))) {
			ret = -EFAULT;
			break;
		}
		if (!s.num || s.num > 0xffff || (s.num & (s.num - 1))) {
			ret = -EINVAL;
			break;
		}
		vq->num = s.num;
		break;
	case VHOST_SET_VRING_BASE:
		if (vq->private_data) {
			ret = -EBUSY;
			break;
		}
		if (copy_from_user(&s, argp, sizeof(s))) {
			ret = -EFAULT;
			break;
		}
		if (s.num > 0xffff) {
			ret = -EINVAL;
			break;
		}
		vq->last_avail_idx = s.num;
		vq->avail_idx = s.num;
		vq->stopped = false;
		ret = vhb_vq_start_poll(vq);
		break;
	case VHOST_SET_VRING_ADDR:
		ret = vhb_set_vring_addr(vq, argp);
		break;
	case VHOST_SET_VRING_KICK:
		if (copy_from_user(&f, argp, sizeof(f))) {
			ret = -EFAULT;
			break;
		}
		ret = vhb_set_vring_kick(vq, f.fd, &old_kick);
		break;
	case VHOST_SET_VRING_CALL:
		if (copy_from_user(&f, argp, sizeof(f))) {
			ret = -EFAULT;
			break;
		}
		ret = vhb_set_eventfd(&vq->call_ctx, f.fd);
		break;
	case VHOST_SET_VRING_ERR:
		if (copy_from_user(&f, argp, sizeof(f))) {
			ret = -EFAULT;
			break;
		}
		ret = vhb_set_eventfd(&vq->error_ctx, f.fd);
		break;
	case VHOST_SET_VRING_BUSYLOOP_TIMEOUT:
		/* How long a handler busy-polls an empty ring. */
		if (copy_from_user(&s, argp, sizeof(s))) {
			ret = -EFAULT;
			break;
		}
		/* Netlink reads it without the mutex. */
		WRITE_ONCE(vq->busyloop_timeout, s.num);
		break;
	case VHOST_GET_VRING_BUSYLOOP_TIMEOUT:
		s.index = idx;
		s.num = vq->busyloop_timeout;
		if (copy_to_user(argp, &s, sizeof(s)))
			ret = -EFAULT;
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
