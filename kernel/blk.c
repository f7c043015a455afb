// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/vhost-blk: the character device a VMM opens, one vhost-blk device per
 * open file, on top of the vhost core in vhost/.
 */
#include <linux/blkdev.h>
#include <linux/cgroup.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/memcontrol.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/stat.h>
#include <linux/virtio_config.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>

#include <linux/vhost_blk.h>

#include "blk.h"
#include "vhost_blk.h"

/*
 * A fixed misc minor, like vhost-net (238) and vhost-vsock (241): with the
 * "devname:" alias below, kmod publishes the node at boot and the first open
 * loads the module.  243 is unassigned in Documentation/admin-guide/
 * devices.txt and in include/linux/miscdevice.h.
 */
#define VHOST_BLK_MINOR 243

/* configfs has no uapi magic number; its files configure the kernel. */
#define VHB_CONFIGFS_MAGIC 0x62656570

static unsigned int max_queues = 64;
module_param(max_queues, uint, 0444);
MODULE_PARM_DESC(max_queues,
		 "Virtqueues per device (default 64, 1 to 1024)");

#define VHB_BLK_MAX_QUEUES_LIMIT 1024

/* Requests a handler serves per run before yielding its worker. */
#define VHB_BLK_WEIGHT 256

/*
 * The features the device offers: the ring's, and the virtio-blk requests it
 * serves.  Config-space features (capacity, block size, segment limits,
 * read-only) are the VMM's to offer: it knows the backend and owns the
 * config space, and tells the device with VHOST_BLK_SET_LIMITS.
 */
#define VHB_BLK_FEATURES (BIT_ULL(VIRTIO_F_VERSION_1) |			\
			  BIT_ULL(VIRTIO_F_ANY_LAYOUT) |		\
			  BIT_ULL(VIRTIO_F_NOTIFY_ON_EMPTY) |		\
			  BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC) |	\
			  BIT_ULL(VIRTIO_RING_F_EVENT_IDX) |		\
			  BIT_ULL(VIRTIO_F_RING_PACKED) |		\
			  BIT_ULL(VHOST_F_LOG_ALL) |			\
			  BIT_ULL(VIRTIO_BLK_F_MQ) |			\
			  BIT_ULL(VIRTIO_BLK_F_FLUSH) |			\
			  BIT_ULL(VIRTIO_BLK_F_DISCARD) |		\
			  BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES))

/*
 * Requests of a device that would block a handler (flush, discard, zeroing,
 * I/O that cannot be submitted without waiting) run on a workqueue of its
 * own, at most this many at once: a backend that hangs stalls its device
 * only.  Unbound: they wait for the backend, not for a CPU.
 */
#define VHB_BLK_OFFLOAD_ACTIVE 16

/* Every open device, by id: netlink finds them here.  Ids are not reused soon. */
static DEFINE_XARRAY_ALLOC1(vhb_blk_devices);
static u32 vhb_blk_next_id;

static void vhb_blk_free_rcu(struct rcu_head *rcu)
{
	struct vhb_blk *blk = container_of(rcu, struct vhb_blk, rcu);

	kvfree(blk->vq_ptrs);
	kvfree(blk->vqs);
	kfree(blk);
}

void vhb_blk_put(struct vhb_blk *blk)
{
	/* RCU: a registry lookup or a completion may still be looking at it. */
	if (refcount_dec_and_test(&blk->ref))
		call_rcu(&blk->rcu, vhb_blk_free_rcu);
}

/**
 * vhb_blk_get_next - the open device with the lowest id >= *@id, referenced
 * @id: in: the lowest id to look at; out: the device's id
 *
 * Sets *@id to its id.  Returns NULL when there is none.  The caller puts it
 * with vhb_blk_put(); the device may have been released meanwhile (it then
 * has no owner).
 */
struct vhb_blk *vhb_blk_get_next(unsigned long *id)
{
	struct vhb_blk *blk;

	rcu_read_lock();
	xa_for_each_start(&vhb_blk_devices, *id, blk, *id) {
		if (refcount_inc_not_zero(&blk->ref))
			break;
	}
	rcu_read_unlock();
	return blk;
}

struct vhb_blk *vhb_blk_get(u32 id)
{
	struct vhb_blk *blk;

	rcu_read_lock();
	blk = xa_load(&vhb_blk_devices, id);
	if (blk && !refcount_inc_not_zero(&blk->ref))
		blk = NULL;
	rcu_read_unlock();
	return blk;
}

/* VHOST_GET_VRING_BASE: wait, killably and for a bounded time, for requests. */
static int vhb_blk_drain_vq(struct vhb_virtqueue *vq)
{
	return vhb_blk_wait_idle(container_of(vq, struct vhb_blk_vq, vq),
				 vhb_blk_drain_deadline());
}

static void vhb_blk_notify(struct vhb_dev *dev, const struct vhb_event *ev)
{
	vhb_nl_notify(container_of(dev, struct vhb_blk, dev), ev);
}

static const struct vhb_dev_ops vhb_blk_dev_ops = {
	.drain_vq = vhb_blk_drain_vq,
	.notify = vhb_blk_notify,
};

static int vhb_blk_open(struct inode *inode, struct file *f)
{
	unsigned int nvqs = clamp(max_queues, 1U, VHB_BLK_MAX_QUEUES_LIMIT);
	struct vhb_blk *blk;
	unsigned int i;

	blk = kzalloc(sizeof(*blk), GFP_KERNEL_ACCOUNT);
	if (!blk)
		return -ENOMEM;
	blk->vqs = kvcalloc(nvqs, sizeof(*blk->vqs), GFP_KERNEL_ACCOUNT);
	blk->vq_ptrs = kvcalloc(nvqs, sizeof(*blk->vq_ptrs), GFP_KERNEL_ACCOUNT);
	if (!blk->vqs || !blk->vq_ptrs)
		goto err_free;

	blk->nvqs = nvqs;
	blk->event_uid = current_euid();
	/* At most 10 I/O error events every 5 s. */
	ratelimit_state_init(&blk->io_err_rs, DEFAULT_RATELIMIT_INTERVAL,
			     DEFAULT_RATELIMIT_BURST);
	ratelimit_set_flags(&blk->io_err_rs, RATELIMIT_MSG_ON_RELEASE);
	init_waitqueue_head(&blk->drain_wq);
	for (i = 0; i < nvqs; i++) {
		struct vhb_blk_vq *bvq = &blk->vqs[i];

		bvq->blk = blk;
		bvq->vq.handle_kick = vhb_blk_handle_kick;
		init_llist_head(&bvq->done);
		vhb_work_init(&bvq->done_work, vhb_blk_done_work);
		timer_setup(&bvq->retry_timer, vhb_blk_retry_timer, 0);
		blk->vq_ptrs[i] = &bvq->vq;
	}
	vhb_dev_init(&blk->dev, blk->vq_ptrs, nvqs, &vhb_blk_dev_ops,
		     VHB_BLK_FEATURES, VHB_BLK_WEIGHT);
	/* No backend: read-only, no discard; cannot fail. */
	vhb_blk_apply_limits(blk, &blk->vmm_limits);

	refcount_set(&blk->ref, 1);
	if (xa_alloc_cyclic(&vhb_blk_devices, &blk->id, NULL, xa_limit_31b,
			    &vhb_blk_next_id, GFP_KERNEL_ACCOUNT) < 0)
		goto err_free;
	blk->wq = alloc_workqueue("vhost-blk-%u", WQ_UNBOUND,
				  VHB_BLK_OFFLOAD_ACTIVE, blk->id);
	if (!blk->wq) {
		xa_erase(&vhb_blk_devices, blk->id);
		goto err_free;
	}
	/* Published whole. */
	xa_store(&vhb_blk_devices, blk->id, blk, GFP_KERNEL);
	vhb_topology_changed();
	vhb_nl_notify_dev(blk, VHOST_BLK_CMD_DEV_CREATED_NTF);

	f->private_data = blk;
	return 0;

err_free:
	kvfree(blk->vq_ptrs);
	kvfree(blk->vqs);
	kfree(blk);
	return -ENOMEM;
}

static void vhb_blk_free_vq_reqs(struct vhb_blk_vq *bvq)
{
	vhb_vq_fini_access(&bvq->vq);
	kvfree(bvq->reqs);
	bvq->reqs = NULL;
	kvfree(bvq->iov);
	bvq->iov = NULL;
}

static void vhb_blk_backend_put(struct vhb_blk_backend *backend)
{
	fput(backend->file);
	put_cred(backend->cred);
	if (backend->blkcg_css)
		css_put(backend->blkcg_css);
	mem_cgroup_put(backend->memcg);
}

/* Let the virtqueues with a configured ring serve again. */
static void vhb_blk_resume(struct vhb_blk *blk)
{
	unsigned int i;

	for (i = 0; i < blk->nvqs; i++) {
		struct vhb_blk_vq *bvq = &blk->vqs[i];

		vhb_vq_lock(&bvq->vq);
		if (bvq->reqs)
			WRITE_ONCE(bvq->vq.private_data, blk);
		mutex_unlock(&bvq->vq.mutex);
		/* Serve what the driver queued meanwhile. */
		if (bvq->reqs)
			vhb_vq_work_queue(&bvq->vq, &bvq->vq.poll.work);
	}
}

/*
 * Stop fetching on every virtqueue and wait for what was fetched: killably
 * until @deadline (jiffies), or, with @deadline 0, without bound (release).
 * On failure the virtqueues serve again and the error comes back.
 */
static int vhb_blk_quiesce(struct vhb_blk *blk, unsigned long deadline)
{
	unsigned int i;
	int ret = 0;

	for (i = 0; i < blk->nvqs; i++) {
		struct vhb_virtqueue *vq = &blk->vqs[i].vq;

		vhb_vq_lock(vq);
		WRITE_ONCE(vq->private_data, NULL);
		mutex_unlock(&vq->mutex);
	}
	/* Handlers that were running have submitted all they will. */
	for (i = 0; i < blk->nvqs && !ret; i++) {
		struct vhb_blk_vq *bvq = &blk->vqs[i];

		if (!deadline) {
			vhb_vq_flush(&bvq->vq);
			vhb_blk_wait_idle_forever(bvq);
			continue;
		}
		ret = vhb_vq_flush_killable(&bvq->vq);
		if (!ret)
			ret = vhb_blk_wait_idle(bvq, deadline);
	}
	if (ret)
		vhb_blk_resume(blk);
	return ret;
}

/* Free the virtqueues' request slots, once nothing is in flight. */
static void vhb_blk_free_reqs(struct vhb_blk *blk)
{
	unsigned int i;

	for (i = 0; i < blk->nvqs; i++) {
		struct vhb_blk_vq *bvq = &blk->vqs[i];

		timer_delete_sync(&bvq->retry_timer);
		vhb_blk_drop_done(bvq);
		vhb_blk_free_vq_reqs(bvq);
	}
}

/* Forget the backend, once no virtqueue uses it. */
static void vhb_blk_drop_backend(struct vhb_blk *blk)
{
	struct vhb_blk_backend backend;

	spin_lock(&blk->dev.snap_lock);
	backend = blk->backend;
	memset(&blk->backend, 0, sizeof(blk->backend));
	spin_unlock(&blk->dev.snap_lock);
	vhb_blk_backend_put(&backend);
	vhb_blk_apply_limits(blk, &blk->vmm_limits);
}

/**
 * vhb_blk_detach - detach the backend
 * @blk: the device
 * @killable: give up on a fatal signal or after drain_timeout_ms, leaving the
 *	backend attached and serving, and return why
 *
 * Stops fetching, lets every request in flight complete and reach the
 * guest, then drops the file.  Caller holds dev.mutex.
 */
static int vhb_blk_detach(struct vhb_blk *blk, bool killable)
{
	int ret;

	if (!blk->backend.file)
		return 0;
	ret = vhb_blk_quiesce(blk, killable ? vhb_blk_drain_deadline() : 0);
	if (ret)
		return ret;
	/* Completions have run, unless a worker was killed: drop those. */
	vhb_dev_flush(&blk->dev);
	vhb_blk_free_reqs(blk);
	vhb_blk_drop_backend(blk);
	return 0;
}

/*
 * Make a virtqueue whose ring is configured ready to serve: its request
 * slots, and where the driver expects the next used entry.  It serves once
 * vhb_blk_resume() publishes the backend.  Caller holds vq->mutex.
 */
static int vhb_blk_prepare_vq(struct vhb_blk_vq *bvq)
{
	struct vhb_virtqueue *vq = &bvq->vq;
	unsigned int i;
	int ret;

	if (!vq->desc || !vq->avail || !vq->used)
		return 0;

	bvq->reqs = kvcalloc(vq->num, sizeof(*bvq->reqs), GFP_KERNEL_ACCOUNT);
	bvq->iov = kvmalloc_array(VHB_MAX_IOV, sizeof(*bvq->iov),
				  GFP_KERNEL_ACCOUNT);
	if (!bvq->reqs || !bvq->iov) {
		vhb_blk_free_vq_reqs(bvq);
		return -ENOMEM;
	}
	for (i = 0; i < vq->num; i++) {
		bvq->reqs[i].bvq = bvq;
		vhb_blk_offload_init(&bvq->reqs[i]);
	}

	ret = vhb_vq_init_access(vq);
	if (ret) {
		vhb_blk_free_vq_reqs(bvq);
		return ret;
	}
	bvq->retry_ms = 0;
	return 0;
}

/*
 * A pseudo-file, whose contents the kernel makes up on each access (procfs,
 * sysfs and the other kernfs filesystems, debugfs, tracefs, configfs): no
 * disk, and writing it may reconfigure the host.
 */
static bool vhb_blk_pseudo_file(struct inode *inode)
{
	struct super_block *sb = inode->i_sb;

	return (sb->s_iflags & SB_I_NOEXEC) || sb->s_magic == VHB_CONFIGFS_MAGIC ||
	       inode->i_mapping->a_ops == &empty_aops;
}

/*
 * Direct I/O alignment: what statx() reports (STATX_DIOALIGN) where the
 * filesystem tells, else the logical block size of the device beneath, or
 * the filesystem's block size.
 */
static void vhb_blk_dio_align(struct vhb_blk_backend *backend)
{
	struct file *file = backend->file;
	struct inode *inode = file_inode(file);
	struct block_device *bdev;
	struct kstat st;

	bdev = backend->bdev ? I_BDEV(file->f_mapping->host) : inode->i_sb->s_bdev;
	backend->dio_offset_align = bdev ? bdev_logical_block_size(bdev) :
					   i_blocksize(inode);
	backend->dio_mem_align = backend->dio_offset_align;
	if (vfs_getattr(&file->f_path, &st, STATX_DIOALIGN,
			AT_STATX_SYNC_AS_STAT) ||
	    !(st.result_mask & STATX_DIOALIGN))
		return;
	if (!st.dio_offset_align || !is_power_of_2(st.dio_offset_align) ||
	    !is_power_of_2(st.dio_mem_align)) {
		/* No direct I/O on this file (data journalling, encryption...). */
		backend->direct = false;
		return;
	}
	backend->dio_offset_align = st.dio_offset_align;
	backend->dio_mem_align = st.dio_mem_align;
}

/*
 * A writable block device someone else holds exclusively (a mounted
 * filesystem, dm, md): the guest must not write under them.
 */
static bool vhb_blk_held_by_another(struct file *file)
{
	void *holder = READ_ONCE(I_BDEV(file->f_mapping->host)->bd_holder);

	return holder && holder != file;
}

/* Take @file as a backend, set by the current task.  Fills @backend. */
static int vhb_blk_backend_init(struct vhb_blk_backend *backend,
				struct file *file)
{
	struct inode *inode = file_inode(file);
	bool writable = file->f_mode & FMODE_WRITE;

	memset(backend, 0, sizeof(*backend));
	if (S_ISREG(inode->i_mode)) {
		if (vhb_blk_pseudo_file(inode))
			return -EINVAL;
		/* Positioned writes would bypass append-only (chattr +a). */
		if (writable && IS_APPEND(inode))
			return -EPERM;
		backend->sb = inode->i_sb;
	} else if (S_ISBLK(inode->i_mode)) {
		if (writable && vhb_blk_held_by_another(file))
			return -EBUSY;
	} else {
		return -EINVAL;
	}
	if (!(file->f_mode & FMODE_READ))
		return -EBADF;
	if (!file->f_op->read_iter || (writable && !file->f_op->write_iter))
		return -EINVAL;

	backend->file = file;
	backend->bdev = S_ISBLK(inode->i_mode);
	backend->writable = writable;
	backend->direct = file->f_mode & FMODE_CAN_ODIRECT;
	/*
	 * A file whose direct I/O cannot be submitted without waiting (no
	 * FMODE_NOWAIT: FUSE, NFS, tmpfs; or stacked, as overlayfs, whose
	 * lower filesystem may be frozen) is served from the workqueue.
	 */
	backend->nowait = !backend->bdev && (file->f_mode & FMODE_NOWAIT);
	backend->offload_all = !backend->bdev &&
			       (!backend->nowait || inode->i_sb->s_stack_depth);
	vhb_blk_dio_align(backend);
	backend->cred = get_current_cred();
#ifdef CONFIG_BLK_CGROUP
	backend->blkcg_css = task_get_css(current, io_cgrp_id);
#endif
	backend->memcg = get_mem_cgroup_from_mm(current->mm);
	return 0;
}

/* VHOST_BLK_SET_BACKEND.  Caller holds dev.mutex. */
static long vhb_blk_set_backend(struct vhb_blk *blk,
				struct vhost_vring_file __user *argp)
{
	struct vhb_blk_backend backend;
	struct vhost_vring_file f;
	struct file *file;
	unsigned int i;
	long ret;

	ret = vhb_dev_check_owner(&blk->dev);
	if (ret)
		return ret;
	if (copy_from_user(&f, argp, sizeof(f)))
		return -EFAULT;

	if (f.fd == VHOST_FILE_UNBIND) {
		ret = vhb_blk_detach(blk, true);
		if (!ret)
			vhb_nl_notify_dev(blk, VHOST_BLK_CMD_BACKEND_SET_NTF);
		return ret;
	}
	if (blk->backend.file)
		return -EBUSY;

	file = fget(f.fd);
	if (!file)
		return -EBADF;
	ret = vhb_blk_backend_init(&backend, file);
	if (ret) {
		fput(file);
		return ret;
	}

	spin_lock(&blk->dev.snap_lock);
	blk->backend = backend;
	spin_unlock(&blk->dev.snap_lock);
	/* The VMM's limits were checked against no backend: check them again. */
	ret = vhb_blk_apply_limits(blk, &blk->vmm_limits);
	for (i = 0; i < blk->nvqs && !ret; i++) {
		struct vhb_blk_vq *bvq = &blk->vqs[i];

		vhb_vq_lock(&bvq->vq);
		ret = vhb_blk_prepare_vq(bvq);
		mutex_unlock(&bvq->vq.mutex);
	}
	if (ret) {
		/* No virtqueue served: nothing can be in flight. */
		vhb_blk_free_reqs(blk);
		vhb_blk_drop_backend(blk);
		return ret;
	}
	/* Serve, and what the driver queued before the backend came. */
	vhb_blk_resume(blk);
	vhb_nl_notify_dev(blk, VHOST_BLK_CMD_BACKEND_SET_NTF);
	return 0;
}

static long vhb_blk_set_serial(struct vhb_blk *blk,
			       struct vhost_blk_serial __user *argp)
{
	struct vhost_blk_serial s;
	long ret = vhb_dev_check_owner(&blk->dev);

	if (ret)
		return ret;
	if (copy_from_user(&s, argp, sizeof(s)))
		return -EFAULT;
	spin_lock(&blk->dev.snap_lock);
	memcpy(blk->serial, s.serial, sizeof(blk->serial));
	spin_unlock(&blk->dev.snap_lock);
	return 0;
}

static long vhb_blk_set_nworkers(struct vhb_blk *blk, int __user *argp)
{
	long ret;
	int n;

	if (!vhb_dev_has_owner(&blk->dev))
		return -EINVAL;
	ret = vhb_dev_check_owner(&blk->dev);
	if (ret)
		return ret;
	if (get_user(n, argp))
		return -EFAULT;
	return vhb_set_nworkers(&blk->dev, n);
}

/*
 * Stop the device and release what it holds, once the backend is detached.
 * Caller holds dev.mutex.
 */
static void vhb_blk_teardown(struct vhb_blk *blk)
{
	unsigned int i;

	vhb_dev_stop(&blk->dev);
	for (i = 0; i < blk->nvqs; i++)
		timer_delete_sync(&blk->vqs[i].retry_timer);
	vhb_dev_cleanup(&blk->dev);
	memset(&blk->vmm_limits, 0, sizeof(blk->vmm_limits));
	vhb_blk_apply_limits(blk, &blk->vmm_limits);
	spin_lock(&blk->dev.snap_lock);
	memset(blk->serial, 0, sizeof(blk->serial));
	spin_unlock(&blk->dev.snap_lock);
}

static int vhb_blk_release(struct inode *inode, struct file *f)
{
	struct vhb_blk *blk = f->private_data;
	struct vhb_owner owner;

	/* Its last events, once it has no owner, are still the owner's. */
	if (vhb_dev_owner_get(&blk->dev, &owner)) {
		blk->event_uid = owner.uid;
		vhb_owner_put(&owner);
	}
	xa_erase(&vhb_blk_devices, blk->id);
	vhb_topology_changed();
	/* Zeroing in pieces stops at the next one. */
	WRITE_ONCE(blk->dying, true);
	mutex_lock(&blk->dev.mutex);
	/* Requests in flight use the device's memory: wait for them all. */
	vhb_blk_detach(blk, false);
	vhb_blk_teardown(blk);
	mutex_unlock(&blk->dev.mutex);
	destroy_workqueue(blk->wq);
	vhb_nl_notify_dev(blk, VHOST_BLK_CMD_DEV_DESTROYED_NTF);
	vhb_blk_put(blk);
	return 0;
}

/*
 * VHOST_RESET_OWNER, as vhost-net has it: the owner gives the device up; it
 * is then as if just opened.  Waits for requests in flight like a detach,
 * and fails like one, changing nothing.
 */
static long vhb_blk_reset_owner(struct vhb_blk *blk)
{
	long ret;

	ret = vhb_dev_check_owner(&blk->dev);
	if (ret)
		return ret;
	ret = vhb_blk_detach(blk, true);
	if (ret)
		return ret;
	vhb_blk_teardown(blk);
	return 0;
}

static long vhb_blk_ioctl(struct file *f, unsigned int ioctl, unsigned long arg)
{
	struct vhb_blk *blk = f->private_data;
	void __user *argp = (void __user *)arg;
	long ret;

	/* The holder may be waiting for a backend: never wait unkillably. */
	if (mutex_lock_killable(&blk->dev.mutex))
		return -EINTR;
	switch (ioctl) {
	case VHOST_RESET_OWNER:
		ret = vhb_blk_reset_owner(blk);
		break;
	case VHOST_BLK_SET_BACKEND:
		ret = vhb_blk_set_backend(blk, argp);
		break;
	case VHOST_BLK_SET_SERIAL:
		ret = vhb_blk_set_serial(blk, argp);
		break;
	case VHOST_BLK_GET_SERIAL:
		ret = copy_to_user(argp, blk->serial, sizeof(blk->serial)) ?
			-EFAULT : 0;
		break;
	case VHOST_BLK_SET_LIMITS:
		ret = vhb_blk_set_limits(blk, argp);
		break;
	case VHOST_BLK_GET_LIMITS:
		ret = vhb_blk_get_limits(blk, argp);
		break;
	case VHOST_SET_NWORKERS:
		ret = vhb_blk_set_nworkers(blk, argp);
		break;
	default:
		ret = vhb_dev_ioctl(&blk->dev, ioctl, argp);
		break;
	}
	mutex_unlock(&blk->dev.mutex);
	return ret;
}

static const struct file_operations vhb_blk_fops = {
	.owner		= THIS_MODULE,
	.open		= vhb_blk_open,
	.release	= vhb_blk_release,
	.unlocked_ioctl	= vhb_blk_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice vhb_blk_misc = {
	.minor	= VHOST_BLK_MINOR,
	.name	= VHOST_BLK_DEVICE_NAME,
	.fops	= &vhb_blk_fops,
};

int vhb_blk_init(void)
{
	return misc_register(&vhb_blk_misc);
}

void vhb_blk_exit(void)
{
	misc_deregister(&vhb_blk_misc);
	/* Devices freed by a last netlink reference go after an RCU grace. */
	rcu_barrier();
}

MODULE_ALIAS_MISCDEV(VHOST_BLK_MINOR);
MODULE_ALIAS("devname:" VHOST_BLK_DEVICE_NAME);
