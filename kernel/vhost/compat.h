/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel version compatibility for vhost_blk.
 *
 * This is the only file of the module that may test LINUX_VERSION_CODE.  It
 * is force-included into every source file (see Kbuild) and turns version
 * knowledge into named VHB_HAVE_* feature macros and small inline wrappers,
 * so that the sources themselves never mention a kernel version.
 */
#ifndef VHB_COMPAT_H
#define VHB_COMPAT_H

#include <linux/version.h>
#include <linux/kconfig.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#error "vhost_blk supports Linux 6.1 and newer"
#endif

#ifndef __ASSEMBLY__

#include <linux/err.h>
#include <linux/eventfd.h>
#include <linux/fs.h>

/*
 * vhost_task (Linux 6.4) makes a worker a thread of the owner.  We use it from
 * 6.10 on, where vhost_task_create() takes a SIGKILL handler; 6.14 (and 6.12.20)
 * changed its failure return from NULL to an ERR_PTR, which the wrapper folds
 * into the latter.  Older kernels get kthread workers only.
 */
#if IS_ENABLED(CONFIG_VHOST_TASK) && LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)
#define VHB_HAVE_VHOST_TASK 1
#include <linux/sched/vhost_task.h>

static inline struct vhost_task *
vhb_vhost_task_create(bool (*fn)(void *), void (*killed)(void *), void *arg,
		      const char *name)
{
	struct vhost_task *vtsk = vhost_task_create(fn, killed, arg, name);

	return vtsk ? vtsk : ERR_PTR(-ENOMEM);
}
#endif

/* eventfd_signal() lost its count argument in 6.8. */
static inline void vhb_eventfd_signal(struct eventfd_ctx *ctx)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

/* A dump's request attributes moved into a struct genl_info in 6.5. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
#define vhb_genl_dump_attrs(cb) (genl_dumpit_info(cb)->info.attrs)
#else
#define vhb_genl_dump_attrs(cb) (genl_dumpit_info(cb)->attrs)
#endif

/*
 * Filtered multicast (netlink_broadcast_filtered(), back in 6.10) lets an
 * event reach only the listeners that may see its device.  Without it the
 * event group is CAP_NET_ADMIN's only, and goes to every namespace whole.
 * Consumes @skb.  Any context.
 */
#include <net/genetlink.h>
#include <net/net_namespace.h>

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)
#define VHB_NL_MONITOR_FLAGS 0

static inline void
vhb_genl_multicast_filtered(const struct genl_family *family,
			    struct sk_buff *skb, unsigned int group,
			    int (*filter)(struct sock *, struct sk_buff *, void *),
			    void *data)
{
	struct sk_buff *nskb;
	struct net *net;

	rcu_read_lock();
	for_each_net_rcu(net) {
		if (!genl_has_listeners(family, net, group))
			continue;
		nskb = skb_clone(skb, GFP_ATOMIC);
		if (!nskb)
			break;
		genlmsg_multicast_netns_filtered(family, net, nskb, 0, group,
						 GFP_ATOMIC, filter, data);
	}
	rcu_read_unlock();
	consume_skb(skb);
}
#else
#define VHB_NL_MONITOR_FLAGS GENL_MCAST_CAP_NET_ADMIN

static inline void
vhb_genl_multicast_filtered(const struct genl_family *family,
			    struct sk_buff *skb, unsigned int group,
			    int (*filter)(struct sock *, struct sk_buff *, void *),
			    void *data)
{
	genlmsg_multicast_allns(family, skb, 0, group);
}
#endif

#endif /* __ASSEMBLY__ */
#endif /* VHB_COMPAT_H */
