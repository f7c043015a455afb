// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/vhost-blk: the character device a VMM opens, one vhost-blk device per
 * open file.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>

#include <linux/vhost_blk.h>

#include "vhost_blk.h"

/*
 * A fixed misc minor, like vhost-net (238) and vhost-vsock (241): with the
 * "devname:" alias below, kmod publishes the node at boot and the first open
 * loads the module.  243 is unassigned in Documentation/admin-guide/
 * devices.txt and in include/linux/miscdevice.h.
 */
#define VHOST_BLK_MINOR 243

struct vhb_blk {
	int placeholder;
};

static int vhb_blk_open(struct inode *inode, struct file *f)
{
	struct vhb_blk *blk;

	blk = kzalloc(sizeof(*blk), GFP_KERNEL_ACCOUNT);
	if (!blk)
		return -ENOMEM;

	f->private_data = blk;
	return 0;
}

static int vhb_blk_release(struct inode *inode, struct file *f)
{
	kfree(f->private_data);
	return 0;
}

static long vhb_blk_ioctl(struct file *f, unsigned int ioctl, unsigned long arg)
{
	return -ENOIOCTLCMD;
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
