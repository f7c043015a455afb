// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_blk: an in-kernel virtio-blk backend.
 *
 * Module init and exit only; the device lives in blk.c, its netlink family
 * in nl.c.
 */
#include <linux/module.h>

#include "vhost_blk.h"

static int __init vhb_init(void)
{
	int ret;

	ret = vhb_blk_init();
	if (ret)
		return ret;
	ret = vhb_nl_init();
	if (ret)
		goto err_blk;

	pr_info("version %s loaded\n", VHB_VERSION);
	return 0;

err_blk:
	vhb_blk_exit();
	return ret;
}

static void __exit vhb_exit(void)
{
	vhb_nl_exit();
	vhb_blk_exit();
	pr_info("unloaded\n");
}

module_init(vhb_init);
module_exit(vhb_exit);

MODULE_DESCRIPTION("Host kernel accelerator for virtio-blk");
MODULE_LICENSE("GPL");
MODULE_VERSION(VHB_VERSION);
