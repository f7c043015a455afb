// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/vhost-blk: the character device a VMM opens, one vhost-blk device per
 * open file, on top of the vhost core in vhost/.
 */
#include <linux/blkdev.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/virtio_config.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>
#include <linux/wait_bit.h>

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
 * config space.
 */
#define VHB_BLK_FEATURES (BIT_ULL(VIRTIO_F_VERSION_1) |			\
			  BIT_ULL(VIRTIO_F_ANY_LAYOUT) |		\
			  BIT_ULL(VIRTIO_F_NOTIFY_ON_EMPTY) |		\
			  BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC) |	\
			  BIT_ULL(VIRTIO_RING_F_EVENT_IDX) |		\
			  BIT_ULL(VIRTIO_BLK_F_MQ) |			\
			  BIT_ULL(VIRTIO_BLK_F_FLUSH) |			\
			  BIT_ULL(VIRTIO_BLK_F_DISCARD) |		\
			  BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES))

/* Every open device, by id: netlink finds them here. */
static DEFINE_XARRAY_ALLOC1(vhb_blk_devices);

static void vhb_blk_free_rcu(struct rcu_head *rcu)
{
	struct vhb_blk *blk = container_of(rcu, struct vhb_blk, rcu);

	kvfree(blk->vq_ptrs);
	kvfree(blk->vqs);
	kfree(blk);
}

void vhb_blk_put(struct vhb_blk *blk)
{
	/* RCU: a registry lookup may still be looking at it. */
	if (refcount_dec_and_test(&blk->ref))
		call_rcu(&blk->rcu, vhb_blk_free_rcu);
}

/**
 * vhb_blk_get_next - the open device with the lowest id >= *@id, referenced
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

/* Wait until every request of the virtqueue is on its done list. */
static void vhb_blk_drain_vq(struct vhb_virtqueue *vq)
{
	struct vhb_blk_vq *bvq = container_of(vq, struct vhb_blk_vq, vq);

	wait_var_event(&bvq->in_flight, !atomic_read(&bvq->in_flight));
}

static const struct vhb_dev_ops vhb_blk_dev_ops = {
	.drain_vq = vhb_blk_drain_vq,
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
	for (i = 0; i < nvqs; i++) {
		struct vhb_blk_vq *bvq = &blk->vqs[i];

		bvq->blk = blk;
		bvq->vq.handle_kick = vhb_blk_handle_kick;
		init_llist_head(&bvq->done);
		vhb_work_init(&bvq->done_work, vhb_blk_done_work);
		blk->vq_ptrs[i] = &bvq->vq;
	}
	vhb_dev_init(&blk->dev, blk->vq_ptrs, nvqs, &vhb_blk_dev_ops,
		     VHB_BLK_FEATURES, VHB_BLK_WEIGHT, 0);

	refcount_set(&blk->ref, 1);
	if (xa_alloc(&vhb_blk_devices, &blk->id, blk, xa_limit_31b,
		     GFP_KERNEL_ACCOUNT))
		goto err_free;

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
	kvfree(bvq->reqs);
	bvq->reqs = NULL;
	bvq->nreqs = 0;
	kvfree(bvq->iov);
	bvq->iov = NULL;
}

/*
 * Detach the backend: stop fetching, let every request in flight complete
 * and reach the guest, then drop the file.  Caller holds dev.mutex.
 */
static void vhb_blk_detach(struct vhb_blk *blk)
{
	unsigned int i;

	if (!blk->backend.file)
		return;

	for (i = 0; i < blk->nvqs; i++) {
		struct vhb_virtqueue *vq = &blk->vqs[i].vq;

		vhb_vq_lock(vq);
		vq->private_data = NULL;
		mutex_unlock(&vq->mutex);
	}
	/* Handlers that were running have submitted all they will. */
	vhb_dev_flush(&blk->dev);
	for (i = 0; i < blk->nvqs; i++)
		vhb_blk_drain_vq(&blk->vqs[i].vq);
	/* Completions have run, unless a worker was killed: drop those. */
	vhb_dev_flush(&blk->dev);
	for (i = 0; i < blk->nvqs; i++) {
		struct vhb_blk_vq *bvq = &blk->vqs[i];

		vhb_blk_drop_done(bvq);
		vhb_blk_free_vq_reqs(bvq);
	}

	fput(blk->backend.file);
	memset(&blk->backend, 0, sizeof(blk->backend));
}

/* A serial number for GET_ID that stays the same for the same backend. */
static void vhb_blk_default_serial(struct vhb_blk *blk)
{
	struct inode *inode = file_inode(blk->backend.file);
	char buf[VHOST_BLK_SERIAL_BYTES + 1];

	if (blk->backend.bdev)
		snprintf(buf, sizeof(buf), "%pg",
			 I_BDEV(blk->backend.file->f_mapping->host));
	else
		snprintf(buf, sizeof(buf), "vhb-%x-%lx", inode->i_sb->s_dev,
			 inode->i_ino);
	memcpy(blk->serial, buf, sizeof(blk->serial));
}

/* Activate a virtqueue whose ring is configured.  Caller holds vq->mutex. */
static int vhb_blk_start_vq(struct vhb_blk *blk, struct vhb_blk_vq *bvq)
{
	struct vhb_virtqueue *vq = &bvq->vq;
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
	bvq->nreqs = vq->num;
	for (ret = 0; ret < vq->num; ret++)
		bvq->reqs[ret].bvq = bvq;

	ret = vhb_vq_init_access(vq);
	if (ret) {
		vhb_blk_free_vq_reqs(bvq);
		return ret;
	}
	vq->private_data = blk;
	return 0;
}

/* VHOST_BLK_SET_BACKEND.  Caller holds dev.mutex. */
static long vhb_blk_set_backend(struct vhb_blk *blk,
				struct vhost_vring_file __user *argp)
{
	struct vhb_blk_backend *backend = &blk->backend;
	struct vhost_vring_file f;
	struct inode *inode;
	struct file *file;
	unsigned int i;
	long ret;

	ret = vhb_dev_check_owner(&blk->dev);
	if (ret)
		return ret;
	if (copy_from_user(&f, argp, sizeof(f)))
		return -EFAULT;

	if (f.fd == VHOST_FILE_UNBIND) {
		vhb_blk_detach(blk);
		return 0;
	}
	if (backend->file)
		return -EBUSY;

	file = fget(f.fd);
	if (!file)
		return -EBADF;
	inode = file_inode(file);
	if (!S_ISBLK(inode->i_mode) && !S_ISREG(inode->i_mode)) {
		fput(file);
		return -EINVAL;
	}

	backend->file = file;
	backend->bdev = S_ISBLK(inode->i_mode);
	backend->writable = file->f_mode & FMODE_WRITE;
	backend->direct = file->f_mode & FMODE_CAN_ODIRECT;
	if (backend->bdev)
		backend->block_size =
			bdev_logical_block_size(I_BDEV(file->f_mapping->host));
	else
		backend->block_size = file->f_mapping->host->i_sb->s_blocksize;
	if (!blk->serial_set)
		vhb_blk_default_serial(blk);

	for (i = 0; i < blk->nvqs; i++) {
		struct vhb_blk_vq *bvq = &blk->vqs[i];

		vhb_vq_lock(&bvq->vq);
		ret = vhb_blk_start_vq(blk, bvq);
		mutex_unlock(&bvq->vq.mutex);
		if (ret) {
			vhb_blk_detach(blk);
			return ret;
		}
	}

	/* Serve what the driver queued before the backend came. */
	for (i = 0; i < blk->nvqs; i++) {
		struct vhb_virtqueue *vq = &blk->vqs[i].vq;

		if (vq->private_data)
			vhb_vq_work_queue(vq, &vq->poll.work);
	}
	return 0;
}

static long vhb_blk_set_serial(struct vhb_blk *blk,
			       struct vhost_blk_serial __user *argp)
{
	long ret = vhb_dev_check_owner(&blk->dev);

	if (ret)
		return ret;
	if (copy_from_user(blk->serial, argp->serial, sizeof(blk->serial)))
		return -EFAULT;
	blk->serial_set = true;
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

/* Stop the device and release what it holds.  Caller holds dev.mutex. */
static void vhb_blk_teardown(struct vhb_blk *blk)
{
	vhb_dev_stop(&blk->dev);
	vhb_blk_detach(blk);
	vhb_dev_cleanup(&blk->dev);
	blk->serial_set = false;
	memset(blk->serial, 0, sizeof(blk->serial));
}

static int vhb_blk_release(struct inode *inode, struct file *f)
{
	struct vhb_blk *blk = f->private_data;

	xa_erase(&vhb_blk_devices, blk->id);
	mutex_lock(&blk->dev.mutex);
	vhb_blk_teardown(blk);
	mutex_unlock(&blk->dev.mutex);
	vhb_blk_put(blk);
	return 0;
}

/*
 * VHOST_RESET_OWNER, as vhost-net has it: the owner gives the device up; it
 * is then as if just opened.
 */
static long vhb_blk_reset_owner(struct vhb_blk *blk)
{
	long ret;

	ret = vhb_dev_check_owner(&blk->dev);
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

	mutex_lock(&blk->dev.mutex);
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
