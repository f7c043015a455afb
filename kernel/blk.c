// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/vhost-blk: the character device a VMM opens, one vhost-blk device per
 * open file, on top of the vhost core in vhost/.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include <linux/vhost_blk.h>

#include "vhost/vhost.h"
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

/* The core's features, those of every vhost device. */
#define VHB_BLK_FEATURES (BIT_ULL(VIRTIO_F_VERSION_1) |			\
			  BIT_ULL(VIRTIO_F_ANY_LAYOUT) |		\
			  BIT_ULL(VIRTIO_F_NOTIFY_ON_EMPTY) |		\
			  BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC) |	\
			  BIT_ULL(VIRTIO_RING_F_EVENT_IDX))

struct vhb_blk {
	struct vhb_dev dev;
	unsigned int nvqs;
	struct vhb_virtqueue *vqs;
	struct vhb_virtqueue **vq_ptrs;
};

/* A kick: serve the virtqueue's requests.  Without a backend, nothing to do. */
static void vhb_blk_handle_kick(struct vhb_work *work)
{
	struct vhb_virtqueue *vq = container_of(work, struct vhb_virtqueue,
						poll.work);

	mutex_lock(&vq->mutex);
	vq->stats.kicks++;
	mutex_unlock(&vq->mutex);
}

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
		blk->vqs[i].handle_kick = vhb_blk_handle_kick;
		blk->vq_ptrs[i] = &blk->vqs[i];
	}
	vhb_dev_init(&blk->dev, blk->vq_ptrs, nvqs, NULL, VHB_BLK_FEATURES,
		     VHB_BLK_WEIGHT, 0);

	f->private_data = blk;
	return 0;

err_free:
	kvfree(blk->vq_ptrs);
	kvfree(blk->vqs);
	kfree(blk);
	return -ENOMEM;
}

/* Stop the device and release what it holds.  Caller holds dev.mutex. */
static void vhb_blk_teardown(struct vhb_blk *blk)
{
	vhb_dev_stop(&blk->dev);
	vhb_dev_cleanup(&blk->dev);
}

static int vhb_blk_release(struct inode *inode, struct file *f)
{
	struct vhb_blk *blk = f->private_data;

	mutex_lock(&blk->dev.mutex);
	vhb_blk_teardown(blk);
	mutex_unlock(&blk->dev.mutex);

	kvfree(blk->vq_ptrs);
	kvfree(blk->vqs);
	kfree(blk);
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
}

MODULE_ALIAS_MISCDEV(VHOST_BLK_MINOR);
MODULE_ALIAS("devname:" VHOST_BLK_DEVICE_NAME);
