// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_blk: an in-kernel virtio-blk backend.
 *
 * Module init and exit only; the device lives in blk.c.
 */
#include <linux/module.h>

#include "vhost_blk.h"

static int __init vhb_init(void)
{
	int ret;

	ret = vhb_blk_init();
	if (ret)
		return ret;

	pr_info("version %s loaded\n", VHB_VERSION);
	return 0;
}

static void __exit vhb_exit(void)
{
	vhb_blk_exit();
	pr_info("unloaded\n");
}

module_init(vhb_init);
module_exit(vhb_exit);

MODULE_DESCRIPTION("Host kernel accelerator for virtio-blk");
MODULE_LICENSE("GPL");
MODULE_VERSION(VHB_VERSION);
