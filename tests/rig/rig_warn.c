// SPDX-License-Identifier: GPL-2.0
/*
 * rig_warn: a test-only module that triggers a kernel WARNING when loaded.
 * The VM rig's self-test loads it to prove that scripts/vm-run fails a run
 * whose guest kernel warned, even though the command itself succeeded.
 */
#include <linux/bug.h>
#include <linux/module.h>

static int __init rig_warn_init(void)
{
	WARN(1, "rig_warn: deliberate warning for the vm-run self-test\n");
	return 0;
}

static void __exit rig_warn_exit(void)
{
}

module_init(rig_warn_init);
module_exit(rig_warn_exit);

MODULE_DESCRIPTION("vhost-blk test rig: warn on load");
MODULE_LICENSE("GPL");
