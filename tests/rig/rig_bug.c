// SPDX-License-Identifier: GPL-2.0
/*
 * rig_bug: a test-only module with deliberate bugs of the kinds the debug
 * kernel's detectors catch, chosen by the parameter "bug", a comma-separated
 * list of:
 *   leak     an object allocated at load and never freed (kmemleak, after
 *            rmmod)
 *   uaf      a read of freed memory (KASAN)
 *   lockdep  two mutexes taken in both orders (lockdep)
 *   sleep    an allocation that may sleep under a spinlock
 *            (DEBUG_ATOMIC_SLEEP)
 *   odebug   an object holding a pending timer freed (DEBUG_OBJECTS_FREE;
 *            its fixup stops the timer)
 *   list     an entry deleted from its list twice (DEBUG_LIST; the second
 *            deletion is refused)
 * The VM rig's self-test (tests/rig/vm_run_test.sh) loads it in the debug
 * kernel to prove that scripts/vm-run reports each and fails the run.
 */
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/timer.h>

static char *bug = "";
module_param(bug, charp, 0444);
MODULE_PARM_DESC(bug, "the bugs to commit: leak, uaf, lockdep, sleep, odebug, list, comma-separated");

/* Is @name in the list @bug? */
static bool rig_bug_wanted(const char *name)
{
	size_t len = strlen(name);
	const char *p = bug;

	while ((p = strstr(p, name))) {
		if ((p == bug || p[-1] == ',') && (p[len] == ',' || !p[len]))
			return true;
		p += len;
	}
	return false;
}

/*
 * The leaked objects: several, since a stale copy of a pointer on a stack
 * is a reference to kmemleak, and the last one may stay on insmod's.
 */
static void *rig_bug_objects[4];
static DEFINE_MUTEX(rig_bug_a);
static DEFINE_MUTEX(rig_bug_b);
static DEFINE_SPINLOCK(rig_bug_lock);

/* Not a tail call: its own frame is in the allocation's backtrace. */
static noinline void *rig_bug_alloc(void)
{
	void *p = kmalloc(96, GFP_KERNEL);

	if (p)
		memset(p, 0x5a, 96);
	return p;
}

static noinline int rig_bug_uaf(void)
{
	char *p = kmalloc(64, GFP_KERNEL);
	char c;

	if (!p)
		return -ENOMEM;
	kfree(p);
	c = READ_ONCE(p[8]);
	pr_info("rig_bug: read %d from freed memory\n", c);
	return 0;
}

static noinline void rig_bug_lockdep(void)
{
	mutex_lock(&rig_bug_a);
	mutex_lock(&rig_bug_b);
	mutex_unlock(&rig_bug_b);
	mutex_unlock(&rig_bug_a);
	mutex_lock(&rig_bug_b);
	mutex_lock(&rig_bug_a);
	mutex_unlock(&rig_bug_a);
	mutex_unlock(&rig_bug_b);
}

static noinline void rig_bug_sleep(void)
{
	spin_lock(&rig_bug_lock);
	kfree(kmalloc(16, GFP_KERNEL));
	spin_unlock(&rig_bug_lock);
}

struct rig_bug_timed {
	struct timer_list timer;
};

static void rig_bug_timer_fn(struct timer_list *t)
{
}

static noinline int rig_bug_odebug(void)
{
	struct rig_bug_timed *p = kmalloc(sizeof(*p), GFP_KERNEL);

	if (!p)
		return -ENOMEM;
	timer_setup(&p->timer, rig_bug_timer_fn, 0);
	mod_timer(&p->timer, jiffies + 3600 * HZ);
	kfree(p);
	return 0;
}

static noinline void rig_bug_list(void)
{
	LIST_HEAD(head);
	struct list_head entry;

	list_add(&entry, &head);
	list_del(&entry);
	list_del(&entry);
}

static int __init rig_bug_init(void)
{
	/*
	 * In this order: a lockdep report turns lockdep off, a KASAN report
	 * too (it taints the kernel).
	 */
	if (rig_bug_wanted("sleep"))
		rig_bug_sleep();
	if (rig_bug_wanted("lockdep"))
		rig_bug_lockdep();
	if (rig_bug_wanted("odebug") && rig_bug_odebug())
		return -ENOMEM;
	if (rig_bug_wanted("list"))
		rig_bug_list();
	if (rig_bug_wanted("uaf") && rig_bug_uaf())
		return -ENOMEM;
	if (rig_bug_wanted("leak")) {
		for (int i = 0; i < ARRAY_SIZE(rig_bug_objects); i++) {
			rig_bug_objects[i] = rig_bug_alloc();
			if (!rig_bug_objects[i])
				return -ENOMEM;
		}
	}
	return 0;
}

static void __exit rig_bug_exit(void)
{
	/* "leak": forgotten, not freed. */
	memset(rig_bug_objects, 0, sizeof(rig_bug_objects));
}

module_init(rig_bug_init);
module_exit(rig_bug_exit);

MODULE_DESCRIPTION("vhost-blk test rig: one deliberate bug for the debug kernel's detectors");
MODULE_LICENSE("GPL");
