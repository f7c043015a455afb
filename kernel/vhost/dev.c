// SPDX-License-Identifier: GPL-2.0
/*
 * The vhost device: owner, features, memory table, ioctl dispatch, reset and
 * release.
 */
#include <linux/cred.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>

#include "vhost.h"

static unsigned int max_mem_regions = 64;
module_param(max_mem_regions, uint, 0444);
MODULE_PARM_DESC(max_mem_regions,
		 "Most memory regions in a VHOST_SET_MEM_TABLE (default 64, at most 1024)");

#define VHB_MEM_REGIONS_LIMIT 1024

void vhb_dev_init(struct vhb_dev *dev, struct vhb_virtqueue **vqs,
		  unsigned int nvqs, const struct vhb_dev_ops *ops,
		  u64 features, int weight)
{
	unsigned int i;

	mutex_init(&dev->mutex);
	spin_lock_init(&dev->snap_lock);
	dev->vqs = vqs;
	dev->nvqs = nvqs;
	dev->ops = ops;
	dev->features = features;
	dev->weight = weight;
	dev->fork_owner = vhb_fork_owner_supported() ? VHOST_FORK_OWNER_TASK :
						       VHOST_FORK_OWNER_KTHREAD;
	xa_init_flags(&dev->worker_ids, XA_FLAGS_ALLOC);

	for (i = 0; i < nvqs; i++) {
		struct vhb_virtqueue *vq = vqs[i];

		vq->dev = dev;
		vq->index = i;
		mutex_init(&vq->mutex);
		vhb_vq_reset(vq);
	}
}

bool vhb_dev_has_owner(struct vhb_dev *dev)
{
	return dev->mm;
}

/* Only the process that did VHOST_SET_OWNER (any of its threads) may configure. */
int vhb_dev_check_owner(struct vhb_dev *dev)
{
	return dev->mm == current->mm ? 0 : -EPERM;
}

static long vhb_dev_set_owner(struct vhb_dev *dev)
{
	int ret;

	if (vhb_dev_has_owner(dev))
		return -EBUSY;

	dev->mm = get_task_mm(current);
	if (!dev->mm)
		return -EFAULT;

	/* Known first: the events of the workers made next are the owner's. */
	spin_lock(&dev->snap_lock);
	dev->owner.tgid = get_task_pid(current, PIDTYPE_TGID);
	dev->owner.tid = get_task_pid(current, PIDTYPE_PID);
	dev->owner.uid = current_euid();
	spin_unlock(&dev->snap_lock);
	/*
	 * Unlike mainline, which reports any failure here as ENOMEM, the real
	 * errno comes back: EAGAIN at RLIMIT_NPROC, for one.
	 */
	ret = vhb_workers_setup(dev);
	if (ret) {
		struct vhb_owner owner;

		spin_lock(&dev->snap_lock);
		owner = dev->owner;
		memset(&dev->owner, 0, sizeof(dev->owner));
		spin_unlock(&dev->snap_lock);
		vhb_owner_put(&owner);
		mmput(dev->mm);
		dev->mm = NULL;
		return ret;
	}
	return 0;
}

/**
 * vhb_dev_owner_get - the owner's identity, for a reader without dev->mutex
 * @dev: the device
 * @owner: receives the owner's identity
 *
 * Returns false when the device has no owner.  Otherwise fills @owner with
 * references the caller drops with vhb_owner_put().
 */
bool vhb_dev_owner_get(struct vhb_dev *dev, struct vhb_owner *owner)
{
	spin_lock(&dev->snap_lock);
	*owner = dev->owner;
	get_pid(owner->tgid);
	get_pid(owner->tid);
	spin_unlock(&dev->snap_lock);
	return owner->tgid;
}

/* Tell the device type about @ev, if it listens. */
void vhb_dev_notify(struct vhb_dev *dev, const struct vhb_event *ev)
{
	if (dev->ops && dev->ops->notify)
		dev->ops->notify(dev, ev);
}

void vhb_owner_put(struct vhb_owner *owner)
{
	put_pid(owner->tgid);
	put_pid(owner->tid);
}

static int vhb_mem_region_cmp(const void *a, const void *b)
{
	const struct vhb_mem_region *ra = a, *rb = b;

	if (ra->gpa < rb->gpa)
		return -1;
	return ra->gpa > rb->gpa;
}

/*
 * Build a memory table from userspace's regions: every region non-empty, its
 * guest and user ranges free of overflow, its user range inside the user
 * address space, and no two regions overlapping in guest physical space.
 */
static struct vhb_mem *vhb_mem_from_user(struct vhost_memory __user *m,
					 u32 nregions)
{
	struct vhost_memory_region region;
	struct vhb_mem *mem;
	u32 i;

	mem = kvzalloc(struct_size(mem, regions, nregions), GFP_KERNEL_ACCOUNT);
	if (!mem)
		return ERR_PTR(-ENOMEM);
	mem->nregions = nregions;

	for (i = 0; i < nregions; i++) {
		struct vhb_mem_region *r = &mem->regions[i];

		if (copy_from_user(&region, &m->regions[i], sizeof(region)))
			goto err_fault;
		if (!region.memory_size ||
		    region.guest_phys_addr + region.memory_size - 1 <
		    region.guest_phys_addr ||
		    region.userspace_addr + region.memory_size - 1 <
		    region.userspace_addr ||
		    (unsigned long)region.userspace_addr != region.userspace_addr ||
		    !access_ok((void __user *)(unsigned long)region.userspace_addr,
			       region.memory_size))
			goto err_fault;
		r->gpa = region.guest_phys_addr;
		r->size = region.memory_size;
		r->uaddr = region.userspace_addr;
	}

	sort(mem->regions, nregions, sizeof(mem->regions[0]),
	     vhb_mem_region_cmp, NULL);
	for (i = 1; i < nregions; i++) {
		const struct vhb_mem_region *prev = &mem->regions[i - 1];

		/* Sorted: no wrap, even for a region that ends at 2^64. */
		if (mem->regions[i].gpa - prev->gpa < prev->size) {
			kvfree(mem);
			return ERR_PTR(-EINVAL);
		}
	}
	return mem;

err_fault:
	kvfree(mem);
	return ERR_PTR(-EFAULT);
}

/* VHOST_SET_MEM_TABLE: replace the table; rings may be running. */
static long vhb_set_mem_table(struct vhb_dev *dev,
			      struct vhost_memory __user *m)
{
	struct vhost_memory hdr;
	struct vhb_mem *mem, *old;
	unsigned int i;

	if (copy_from_user(&hdr, m, offsetof(struct vhost_memory, regions)))
		return -EFAULT;
	if (hdr.padding)
		return -EOPNOTSUPP;
	if (hdr.nregions > min(max_mem_regions, VHB_MEM_REGIONS_LIMIT))
		return -E2BIG;

	mem = vhb_mem_from_user(m, hdr.nregions);
	if (IS_ERR(mem))
		return PTR_ERR(mem);
	/* While logging, the log must cover the new table too. */
	if ((dev->acked_features & BIT_ULL(VHOST_F_LOG_ALL)) &&
	    !vhb_log_covers_mem(dev->log_base, mem)) {
		kvfree(mem);
		return -EFAULT;
	}

	/* Handlers read vq->mem under vq->mutex: swap it under the same. */
	for (i = 0; i < dev->nvqs; i++) {
		struct vhb_virtqueue *vq = dev->vqs[i];

		vhb_vq_lock(vq);
		vq->mem = mem;
		mutex_unlock(&vq->mutex);
	}
	old = dev->mem;
	dev->mem = mem;
	kvfree(old);
	return 0;
}

static long vhb_set_features(struct vhb_dev *dev, u64 __user *argp)
{
	unsigned int i;
	u64 features;
	bool packed;

	if (copy_from_user(&features, argp, sizeof(features)))
		return -EFAULT;
	if (features & ~dev->features)
		return -EOPNOTSUPP;
	/* Logging starts: the log must cover guest memory, as in mainline. */
	if ((features & BIT_ULL(VHOST_F_LOG_ALL)) &&
	    !vhb_log_covers_mem(dev->log_base, dev->mem))
		return -EFAULT;
	/*
	 * The ring layout is the rings' while a backend serves them.  Backends
	 * come and go under dev->mutex, which the caller holds.
	 */
	packed = features & BIT_ULL(VIRTIO_F_RING_PACKED);
	for (i = 0; i < dev->nvqs; i++) {
		if (dev->vqs[i]->packed != packed &&
		    READ_ONCE(dev->vqs[i]->private_data))
			return -EBUSY;
	}

	WRITE_ONCE(dev->acked_features, features);
	for (i = 0; i < dev->nvqs; i++) {
		struct vhb_virtqueue *vq = dev->vqs[i];

		vhb_vq_lock(vq);
		vq->acked_features = features;
		WRITE_ONCE(vq->packed, packed);
		mutex_unlock(&vq->mutex);
	}
	return 0;
}

static long vhb_set_backend_features(struct vhb_dev *dev, u64 __user *argp)
{
	u64 features;

	if (copy_from_user(&features, argp, sizeof(features)))
		return -EFAULT;
	/* No backend feature (IOTLB messages, suspend) is offered. */
	return features ? -EOPNOTSUPP : 0;
}

static long vhb_set_fork_owner(struct vhb_dev *dev, u8 __user *argp)
{
	u8 mode;

	/* Only before SET_OWNER, as in mainline. */
	if (vhb_dev_has_owner(dev))
		return -EBUSY;
	if (get_user(mode, argp))
		return -EFAULT;
	if (mode != VHOST_FORK_OWNER_TASK && mode != VHOST_FORK_OWNER_KTHREAD)
		return -EINVAL;
	/* Kernels without vhost_task have kthread workers only. */
	if (mode == VHOST_FORK_OWNER_TASK && !vhb_fork_owner_supported())
		return -EOPNOTSUPP;
	WRITE_ONCE(dev->fork_owner, mode);
	return 0;
}

/* Stop every kick poll and let queued work finish.  Caller holds dev->mutex. */
void vhb_dev_stop(struct vhb_dev *dev)
{
	unsigned int i;

	for (i = 0; i < dev->nvqs; i++) {
		struct vhb_virtqueue *vq = dev->vqs[i];

		vhb_vq_lock(vq);
		vhb_poll_stop(&vq->poll);
		mutex_unlock(&vq->mutex);
	}
	vhb_dev_flush(dev);
}

/*
 * Release everything SET_OWNER and the configuration ioctls acquired: the
 * device is as if just opened.  Caller holds dev->mutex, has stopped the
 * device and detached the backends.
 */
void vhb_dev_cleanup(struct vhb_dev *dev)
{
	struct vhb_owner owner;
	unsigned int i;

	for (i = 0; i < dev->nvqs; i++)
		vhb_vq_cleanup(dev->vqs[i]);
	vhb_workers_free(dev);
	for (i = 0; i < dev->nvqs; i++)
		dev->vqs[i]->mem = NULL;
	kvfree(dev->mem);
	dev->mem = NULL;
	if (dev->log_ctx)
		eventfd_ctx_put(dev->log_ctx);
	dev->log_ctx = NULL;
	dev->log_base = 0;
	WRITE_ONCE(dev->acked_features, 0);
	WRITE_ONCE(dev->fork_owner, vhb_fork_owner_supported() ?
		   VHOST_FORK_OWNER_TASK : VHOST_FORK_OWNER_KTHREAD);
	if (dev->mm)
		mmput(dev->mm);
	dev->mm = NULL;
	spin_lock(&dev->snap_lock);
	owner = dev->owner;
	memset(&dev->owner, 0, sizeof(dev->owner));
	spin_unlock(&dev->snap_lock);
	vhb_owner_put(&owner);
}

/**
 * vhb_dev_ioctl - the core's ioctls, for a device type to forward to
 * @dev: the device
 * @ioctl: the command
 * @argp: its argument, in user memory
 *
 * Handles owner, features, memory table, worker and vring ioctls, with
 * mainline's checks in mainline's order.  A command the core does not know
 * answers -ENOTTY before its argument is looked at.  Caller holds dev->mutex.
 */
long vhb_dev_ioctl(struct vhb_dev *dev, unsigned int ioctl, void __user *argp)
{
	u64 features;
	long ret;
	u8 mode;

	switch (ioctl) {
	case VHOST_SET_OWNER:
		return vhb_dev_set_owner(dev);
	case VHOST_SET_FORK_FROM_OWNER:
		return vhb_set_fork_owner(dev, argp);
	case VHOST_GET_FORK_FROM_OWNER:
		mode = dev->fork_owner;
		return put_user(mode, (u8 __user *)argp) ? -EFAULT : 0;
	case VHOST_GET_FEATURES:
		features = dev->features;
		return copy_to_user(argp, &features, sizeof(features)) ?
			-EFAULT : 0;
	case VHOST_GET_BACKEND_FEATURES:
		features = 0;
		return copy_to_user(argp, &features, sizeof(features)) ?
			-EFAULT : 0;
	}

	ret = vhb_worker_ioctl(dev, ioctl, argp);
	if (ret != -ENOIOCTLCMD)
		return ret;

	switch (ioctl) {
	case VHOST_SET_FEATURES:
	case VHOST_SET_BACKEND_FEATURES:
	case VHOST_SET_MEM_TABLE:
	case VHOST_SET_LOG_BASE:
	case VHOST_SET_LOG_FD:
	case VHOST_SET_VRING_NUM:
	case VHOST_SET_VRING_ADDR:
	case VHOST_SET_VRING_BASE:
	case VHOST_GET_VRING_BASE:
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_SET_VRING_ERR:
	case VHOST_SET_VRING_BUSYLOOP_TIMEOUT:
	case VHOST_GET_VRING_BUSYLOOP_TIMEOUT:
		break;
	default:
		return -ENOTTY;
	}

	/* You must be the owner to do anything else. */
	ret = vhb_dev_check_owner(dev);
	if (ret)
		return ret;

	switch (ioctl) {
	case VHOST_SET_FEATURES:
		return vhb_set_features(dev, argp);
	case VHOST_SET_BACKEND_FEATURES:
		return vhb_set_backend_features(dev, argp);
	case VHOST_SET_MEM_TABLE:
		return vhb_set_mem_table(dev, argp);
	case VHOST_SET_LOG_BASE:
		return vhb_set_log_base(dev, argp);
	case VHOST_SET_LOG_FD:
		return vhb_set_log_fd(dev, argp);
	}
	return vhb_vring_ioctl(dev, ioctl, argp);
}
