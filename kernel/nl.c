// SPDX-License-Identifier: GPL-2.0
/*
 * The "vhost_blk" generic netlink family: dumps of devices, workers and
 * virtqueues, and one admin command that moves a virtqueue to another worker
 * of its device.  Specified in Documentation/netlink/specs/vhost-blk.yaml;
 * attribute numbers are in uapi/linux/vhost_blk.h.
 *
 * Nothing here sleeps on a device: the family runs without genl_mutex
 * (parallel_ops), and a dump reads each device without its mutex, from
 * snapshots under the device's snap_lock, counters read as they are, and
 * workers under RCU.  A device's owner may hold its mutex for as long as
 * its backend takes; readers of every device, and every other genetlink
 * family, never wait for it.  A dump that devices, workers or attachments
 * changed under is flagged NLM_F_DUMP_INTR.
 *
 * A dump shows a caller without CAP_NET_ADMIN only the devices its
 * effective uid owns.
 *
 * Events go to the multicast group "monitor" of every network namespace
 * that has a listener, built with GFP_ATOMIC where a handler holds
 * vq->mutex.  A listener without CAP_NET_ADMIN receives those of the
 * devices its socket opener's effective uid owns, or opened while the
 * device has no owner; a kernel without filtered multicast gives the
 * group to CAP_NET_ADMIN only (compat.h).
 */
#include <linux/cred.h>
#include <linux/dcache.h>
#include <linux/file.h>
#include <linux/module.h>
#include <linux/net.h>
#include <linux/slab.h>
#include <net/net_namespace.h>
#include <net/sock.h>
#include <net/genetlink.h>

#include "blk.h"
#include "vhost_blk.h"

static struct genl_family vhb_nl_family;

/* May the reader of this dump see @blk?  Checked before anything is read. */
static bool vhb_nl_visible(struct netlink_callback *cb, struct vhb_blk *blk)
{
	struct vhb_owner owner;
	bool mine;

	if (netlink_capable(cb->skb, CAP_NET_ADMIN))
		return true;
	if (!vhb_dev_owner_get(&blk->dev, &owner))
		return false;
	mine = uid_eq(owner.uid, current_euid());
	vhb_owner_put(&owner);
	return mine;
}

static void *vhb_nl_put_header(struct sk_buff *skb, struct netlink_callback *cb,
			       u8 cmd)
{
	void *hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				cb->nlh->nlmsg_seq, &vhb_nl_family,
				NLM_F_MULTI, cmd);

	if (hdr)
		genl_dump_check_consistent(cb, hdr);
	return hdr;
}

/* The dump's optional device filter, or -1. */
static s64 vhb_nl_dev_filter(struct netlink_callback *cb, int attr)
{
	struct nlattr **attrs = vhb_genl_dump_attrs(cb);

	if (attrs && attrs[attr])
		return nla_get_u32(attrs[attr]);
	return -1;
}

/* What a device message says, read without the device's mutex. */
struct vhb_nl_dev {
	struct vhb_owner owner;
	bool has_owner;
	struct vhb_blk_backend backend;	/* its file referenced, or NULL */
	struct vhb_blk_limits limits;
	char serial[VHOST_BLK_SERIAL_BYTES];
};

static void vhb_nl_dev_get(struct vhb_blk *blk, struct vhb_nl_dev *d)
{
	d->has_owner = vhb_dev_owner_get(&blk->dev, &d->owner);
	spin_lock(&blk->dev.snap_lock);
	d->backend = blk->backend;
	if (d->backend.file)
		get_file(d->backend.file);
	d->limits = blk->limits;
	memcpy(d->serial, blk->serial, sizeof(d->serial));
	spin_unlock(&blk->dev.snap_lock);
}

static void vhb_nl_dev_put(struct vhb_nl_dev *d)
{
	if (d->has_owner)
		vhb_owner_put(&d->owner);
	if (d->backend.file)
		fput(d->backend.file);
}

static int vhb_nl_put_backend(struct sk_buff *skb,
			      const struct vhb_blk_backend *backend)
{
	struct file *file = backend->file;
	char *buf, *path;
	int ret;

	if (!file)
		return 0;
	buf = kmalloc(PATH_MAX, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	path = d_path(&file->f_path, buf, PATH_MAX);
	ret = IS_ERR(path) ? 0 :
	      nla_put_string(skb, VHOST_BLK_A_DEV_BACKEND, path);
	kfree(buf);
	if (ret)
		return ret;
	return nla_put_u64_64bit(skb, VHOST_BLK_A_DEV_BACKEND_SIZE,
				 vhb_blk_backend_size(backend),
				 VHOST_BLK_A_DEV_PAD);
}

static int vhb_nl_put_limits(struct sk_buff *skb, const struct vhb_nl_dev *d)
{
	struct vhost_blk_limits v;

	vhb_blk_limits_to_uapi(&d->limits, d->backend.file ?
			       vhb_blk_backend_size(&d->backend) : 0, &v);
	if (nla_put_u64_64bit(skb, VHOST_BLK_A_DEV_CAPACITY, v.capacity,
			      VHOST_BLK_A_DEV_PAD) ||
	    nla_put_u8(skb, VHOST_BLK_A_DEV_READ_ONLY,
		       !!(v.flags & VHOST_BLK_LIMITS_F_RO)) ||
	    nla_put_u32(skb, VHOST_BLK_A_DEV_SIZE_MAX, v.size_max) ||
	    nla_put_u32(skb, VHOST_BLK_A_DEV_SEG_MAX, v.seg_max) ||
	    nla_put_u32(skb, VHOST_BLK_A_DEV_MAX_DISCARD_SECTORS,
			v.max_discard_sectors) ||
	    nla_put_u32(skb, VHOST_BLK_A_DEV_MAX_DISCARD_SEG, v.max_discard_seg) ||
	    nla_put_u32(skb, VHOST_BLK_A_DEV_MAX_WRITE_ZEROES_SECTORS,
			v.max_write_zeroes_sectors) ||
	    nla_put_u32(skb, VHOST_BLK_A_DEV_MAX_WRITE_ZEROES_SEG,
			v.max_write_zeroes_seg))
		return -EMSGSIZE;
	return nla_put(skb, VHOST_BLK_A_DEV_SERIAL, sizeof(d->serial),
		       d->serial);
}

/* One device's message, if the reader may see the snapshot it takes. */
static int vhb_nl_fill_dev(struct sk_buff *skb, struct netlink_callback *cb,
			   struct vhb_blk *blk)
{
	struct vhb_dev *dev = &blk->dev;
	struct vhb_nl_dev d;
	unsigned int nworkers;
	void *hdr;

	vhb_nl_dev_get(blk, &d);
	/* The owner may have changed since vhb_nl_visible() looked. */
	if (!netlink_capable(cb->skb, CAP_NET_ADMIN) &&
	    !(d.has_owner && uid_eq(d.owner.uid, current_euid()))) {
		vhb_nl_dev_put(&d);
		return 0;
	}
	hdr = vhb_nl_put_header(skb, cb, VHOST_BLK_CMD_DEV_GET);
	if (!hdr) {
		vhb_nl_dev_put(&d);
		return -EMSGSIZE;
	}
	rcu_read_lock();
	nworkers = vhb_dev_num_workers(dev);
	rcu_read_unlock();
	if (nla_put_u32(skb, VHOST_BLK_A_DEV_ID, blk->id) ||
	    nla_put_u32(skb, VHOST_BLK_A_DEV_NUM_VQS, dev->nvqs) ||
	    nla_put_u32(skb, VHOST_BLK_A_DEV_NUM_WORKERS, nworkers) ||
	    nla_put_u32(skb, VHOST_BLK_A_DEV_WORKER_MODE,
			READ_ONCE(dev->fork_owner)) ||
	    nla_put_u64_64bit(skb, VHOST_BLK_A_DEV_FEATURES,
			      READ_ONCE(dev->acked_features), VHOST_BLK_A_DEV_PAD))
		goto err_cancel;
	if (d.has_owner &&
	    (nla_put_u32(skb, VHOST_BLK_A_DEV_OWNER_PID, pid_vnr(d.owner.tgid)) ||
	     nla_put_u32(skb, VHOST_BLK_A_DEV_OWNER_TID, pid_vnr(d.owner.tid)) ||
	     nla_put_u32(skb, VHOST_BLK_A_DEV_OWNER_UID,
			 from_kuid_munged(current_user_ns(), d.owner.uid))))
		goto err_cancel;
	if (vhb_nl_put_backend(skb, &d.backend) || vhb_nl_put_limits(skb, &d))
		goto err_cancel;
	vhb_nl_dev_put(&d);
	genlmsg_end(skb, hdr);
	return 0;

err_cancel:
	vhb_nl_dev_put(&d);
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

/* One worker's message.  Caller holds rcu_read_lock(). */
static int vhb_nl_fill_worker(struct sk_buff *skb, struct netlink_callback *cb,
			      struct vhb_blk *blk, struct vhb_worker *worker)
{
	struct vhb_dev *dev = &blk->dev;
	struct nlattr *vqs;
	unsigned int i;
	void *hdr;

	hdr = vhb_nl_put_header(skb, cb, VHOST_BLK_CMD_WORKER_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u32(skb, VHOST_BLK_A_WORKER_DEV_ID, blk->id) ||
	    nla_put_u32(skb, VHOST_BLK_A_WORKER_ID, worker->id) ||
	    nla_put_u32(skb, VHOST_BLK_A_WORKER_TID,
			pid_vnr(READ_ONCE(worker->pid))) ||
	    nla_put_u64_64bit(skb, VHOST_BLK_A_WORKER_WORKS,
			      READ_ONCE(worker->stats.works),
			      VHOST_BLK_A_WORKER_PAD) ||
	    nla_put_u64_64bit(skb, VHOST_BLK_A_WORKER_BUSY_NS,
			      READ_ONCE(worker->stats.busy_ns),
			      VHOST_BLK_A_WORKER_PAD) ||
	    nla_put_u64_64bit(skb, VHOST_BLK_A_WORKER_WAKEUPS,
			      READ_ONCE(worker->stats.wakeups),
			      VHOST_BLK_A_WORKER_PAD))
		goto err_cancel;

	vqs = nla_nest_start(skb, VHOST_BLK_A_WORKER_VQS);
	if (!vqs)
		goto err_cancel;
	for (i = 0; i < dev->nvqs; i++) {
		if (rcu_access_pointer(dev->vqs[i]->worker) == worker &&
		    nla_put_u32(skb, VHOST_BLK_A_WORKER_VQ, i))
			goto err_cancel;
	}
	nla_nest_end(skb, vqs);
	genlmsg_end(skb, hdr);
	return 0;

err_cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

/* The histograms of @bvq that counted anything, one nest each. */
static int vhb_nl_put_hists(struct sk_buff *skb, struct vhb_blk_vq *bvq)
{
	u64 buckets[VHOST_BLK_HIST_BUCKETS];
	unsigned int kind, op, i;
	struct nlattr *nest;

	for (kind = 0; kind < ARRAY_SIZE(bvq->hist); kind++) {
		for (op = 0; op < VHOST_BLK_NR_OPS; op++) {
			const struct vhb_hist *h = &bvq->hist[kind][op];
			u64 count = 0;

			for (i = 0; i < VHOST_BLK_HIST_BUCKETS; i++) {
				buckets[i] = READ_ONCE(h->buckets[i]);
				count += buckets[i];
			}
			if (!count)
				continue;
			nest = nla_nest_start(skb, VHOST_BLK_A_VQ_HIST);
			if (!nest ||
			    nla_put_u32(skb, VHOST_BLK_A_HIST_KIND, kind) ||
			    nla_put_u32(skb, VHOST_BLK_A_HIST_OP, op) ||
			    nla_put(skb, VHOST_BLK_A_HIST_BUCKETS,
				    sizeof(buckets), buckets) ||
			    nla_put_u64_64bit(skb, VHOST_BLK_A_HIST_SUM_NS,
					      READ_ONCE(h->sum_ns),
					      VHOST_BLK_A_HIST_PAD) ||
			    nla_put_u64_64bit(skb, VHOST_BLK_A_HIST_MAX_NS,
					      READ_ONCE(h->max_ns),
					      VHOST_BLK_A_HIST_PAD))
				return -EMSGSIZE;
			nla_nest_end(skb, nest);
		}
	}
	return 0;
}

static int vhb_nl_fill_vq(struct sk_buff *skb, struct netlink_callback *cb,
			  struct vhb_blk *blk, unsigned int index)
{
	struct vhb_blk_vq *bvq = &blk->vqs[index];
	struct vhb_virtqueue *vq = &bvq->vq;
	struct vhb_worker *worker;
	void *hdr;
	int ret;

	hdr = vhb_nl_put_header(skb, cb, VHOST_BLK_CMD_VQ_GET);
	if (!hdr)
		return -EMSGSIZE;
	rcu_read_lock();
	worker = rcu_dereference(vq->worker);
	ret = worker ? nla_put_u32(skb, VHOST_BLK_A_VQ_WORKER_ID, worker->id) : 0;
	rcu_read_unlock();
	if (ret ||
	    nla_put_u32(skb, VHOST_BLK_A_VQ_DEV_ID, blk->id) ||
	    nla_put_u32(skb, VHOST_BLK_A_VQ_INDEX, index) ||
	    nla_put_u32(skb, VHOST_BLK_A_VQ_NUM, READ_ONCE(vq->num)) ||
	    nla_put_u8(skb, VHOST_BLK_A_VQ_ACTIVE,
		       !!READ_ONCE(vq->private_data)) ||
	    nla_put_u8(skb, VHOST_BLK_A_VQ_BROKEN, READ_ONCE(vq->broken)) ||
	    nla_put_u8(skb, VHOST_BLK_A_VQ_PACKED, READ_ONCE(vq->packed)) ||
	    nla_put_u64_64bit(skb, VHOST_BLK_A_VQ_OFFLOADED,
			      READ_ONCE(bvq->offloaded), VHOST_BLK_A_VQ_PAD) ||
	    nla_put_u64_64bit(skb, VHOST_BLK_A_VQ_KICKS,
			      READ_ONCE(vq->stats.kicks), VHOST_BLK_A_VQ_PAD) ||
	    nla_put_u64_64bit(skb, VHOST_BLK_A_VQ_REQUESTS,
			      READ_ONCE(vq->stats.requests),
			      VHOST_BLK_A_VQ_PAD) ||
	    nla_put_u64_64bit(skb, VHOST_BLK_A_VQ_BYTES,
			      READ_ONCE(vq->stats.bytes), VHOST_BLK_A_VQ_PAD) ||
	    nla_put_u32(skb, VHOST_BLK_A_VQ_IN_FLIGHT,
			atomic_read(&bvq->in_flight)) ||
	    nla_put_u64_64bit(skb, VHOST_BLK_A_VQ_ERRORS,
			      READ_ONCE(vq->stats.errors), VHOST_BLK_A_VQ_PAD) ||
	    nla_put_u32(skb, VHOST_BLK_A_VQ_BUSYLOOP_US,
			READ_ONCE(vq->busyloop_timeout)) ||
	    nla_put_u64_64bit(skb, VHOST_BLK_A_VQ_IO_ERRORS,
			      READ_ONCE(bvq->io_errors), VHOST_BLK_A_VQ_PAD) ||
	    vhb_nl_put_hists(skb, bvq)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

/*
 * Fill messages for one device, from item cb->args[1] on; returns 0 when the
 * device is done, -EMSGSIZE when the skb is full (cb->args[1] then says
 * where to resume).
 */
static int vhb_nl_fill_items(struct sk_buff *skb, struct netlink_callback *cb,
			     struct vhb_blk *blk, u8 cmd)
{
	struct vhb_worker *worker;
	unsigned long id;
	int ret = 0;

	switch (cmd) {
	case VHOST_BLK_CMD_DEV_GET:
		return vhb_nl_fill_dev(skb, cb, blk);
	case VHOST_BLK_CMD_WORKER_GET:
		id = cb->args[1];
		/* Workers are freed after a grace period: see worker.c. */
		rcu_read_lock();
		xa_for_each_start(&blk->dev.worker_ids, id, worker, id) {
			ret = vhb_nl_fill_worker(skb, cb, blk, worker);
			if (ret) {
				cb->args[1] = id;
				break;
			}
		}
		rcu_read_unlock();
		return ret;
	case VHOST_BLK_CMD_VQ_GET:
		for (id = cb->args[1]; id < blk->nvqs; id++) {
			ret = vhb_nl_fill_vq(skb, cb, blk, id);
			if (ret) {
				cb->args[1] = id;
				return ret;
			}
		}
		return 0;
	}
	return -EOPNOTSUPP;
}

/*
 * The three dumps: every visible device from id cb->args[0] on, each with
 * its items.  A device released meanwhile has no owner and is skipped
 * unless the reader sees all.
 */
static int vhb_nl_dump(struct sk_buff *skb, struct netlink_callback *cb,
		       u8 cmd, int filter_attr)
{
	s64 filter = vhb_nl_dev_filter(cb, filter_attr);
	unsigned long id = cb->args[0];
	struct vhb_blk *blk;
	int ret = 0;

	/* Every message of this pass says whether the topology moved. */
	cb->seq = atomic_read(&vhb_topology_gen) ?: 1;
	if (filter >= 0 && id < filter)
		id = filter;
	while ((blk = vhb_blk_get_next(&id))) {
		if (filter >= 0 && id != filter) {
			vhb_blk_put(blk);
			break;
		}
		/* The device to resume is gone: this one starts at its first item. */
		if (id != cb->args[0])
			cb->args[1] = 0;
		ret = vhb_nl_visible(cb, blk) ?
		      vhb_nl_fill_items(skb, cb, blk, cmd) : 0;
		vhb_blk_put(blk);
		if (ret)
			break;
		cb->args[1] = 0;
		id++;
	}
	cb->args[0] = id;
	/* A message that fits in no skb at all would loop forever. */
	if (ret == -EMSGSIZE && skb->len)
		return skb->len;
	return ret ? ret : skb->len;
}

static int vhb_nl_dev_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	return vhb_nl_dump(skb, cb, VHOST_BLK_CMD_DEV_GET, VHOST_BLK_A_DEV_ID);
}

static int vhb_nl_worker_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	return vhb_nl_dump(skb, cb, VHOST_BLK_CMD_WORKER_GET,
			   VHOST_BLK_A_WORKER_DEV_ID);
}

static int vhb_nl_vq_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	return vhb_nl_dump(skb, cb, VHOST_BLK_CMD_VQ_GET,
			   VHOST_BLK_A_VQ_DEV_ID);
}

/*
 * VHOST_BLK_CMD_VQ_ATTACH: the admin's VHOST_ATTACH_VRING_WORKER.  Runs
 * without genl_mutex (parallel_ops); waits for the device killably.
 */
static int vhb_nl_vq_attach(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr **attrs = info->attrs;
	struct vhb_blk *blk;
	u32 index;
	int ret;

	if (GENL_REQ_ATTR_CHECK(info, VHOST_BLK_A_VQ_DEV_ID) ||
	    GENL_REQ_ATTR_CHECK(info, VHOST_BLK_A_VQ_INDEX) ||
	    GENL_REQ_ATTR_CHECK(info, VHOST_BLK_A_VQ_WORKER_ID))
		return -EINVAL;

	blk = vhb_blk_get(nla_get_u32(attrs[VHOST_BLK_A_VQ_DEV_ID]));
	if (!blk) {
		GENL_SET_ERR_MSG(info, "no such device");
		return -ENODEV;
	}
	index = nla_get_u32(attrs[VHOST_BLK_A_VQ_INDEX]);

	if (mutex_lock_killable(&blk->dev.mutex)) {
		vhb_blk_put(blk);
		return -EINTR;
	}
	if (!vhb_dev_has_owner(&blk->dev)) {
		GENL_SET_ERR_MSG(info, "the device has no owner");
		ret = -EINVAL;
	} else if (index >= blk->dev.nvqs) {
		GENL_SET_ERR_MSG(info, "no such virtqueue");
		ret = -ENOBUFS;
	} else {
		ret = vhb_vq_attach_worker(blk->dev.vqs[index],
					   nla_get_u32(attrs[VHOST_BLK_A_VQ_WORKER_ID]));
		if (ret)
			GENL_SET_ERR_MSG(info, "no such worker on the device");
	}
	mutex_unlock(&blk->dev.mutex);
	vhb_blk_put(blk);
	return ret;
}

static const struct nla_policy vhb_nl_dev_policy[VHOST_BLK_A_DEV_MAX + 1] = {
	[VHOST_BLK_A_DEV_ID] = { .type = NLA_U32 },
};

static const struct nla_policy vhb_nl_worker_policy[VHOST_BLK_A_WORKER_MAX + 1] = {
	[VHOST_BLK_A_WORKER_DEV_ID] = { .type = NLA_U32 },
};

static const struct nla_policy vhb_nl_vq_policy[VHOST_BLK_A_VQ_MAX + 1] = {
	[VHOST_BLK_A_VQ_DEV_ID] = { .type = NLA_U32 },
	[VHOST_BLK_A_VQ_INDEX] = { .type = NLA_U32 },
	[VHOST_BLK_A_VQ_WORKER_ID] = { .type = NLA_U32 },
};

static const struct genl_ops vhb_nl_ops[] = {
	{
		.cmd = VHOST_BLK_CMD_DEV_GET,
		.dumpit = vhb_nl_dev_dump,
		.policy = vhb_nl_dev_policy,
		.maxattr = VHOST_BLK_A_DEV_MAX,
	},
	{
		.cmd = VHOST_BLK_CMD_WORKER_GET,
		.dumpit = vhb_nl_worker_dump,
		.policy = vhb_nl_worker_policy,
		.maxattr = VHOST_BLK_A_WORKER_MAX,
	},
	{
		.cmd = VHOST_BLK_CMD_VQ_GET,
		.dumpit = vhb_nl_vq_dump,
		.policy = vhb_nl_vq_policy,
		.maxattr = VHOST_BLK_A_VQ_MAX,
	},
	{
		.cmd = VHOST_BLK_CMD_VQ_ATTACH,
		.doit = vhb_nl_vq_attach,
		.policy = vhb_nl_vq_policy,
		.maxattr = VHOST_BLK_A_VQ_MAX,
		/* CAP_NET_ADMIN, as the dumps' "see every device". */
		.flags = GENL_ADMIN_PERM,
	},
};

enum {
	VHB_NL_MCGRP_MONITOR,
};

static const struct genl_multicast_group vhb_nl_mcgrps[] = {
	[VHB_NL_MCGRP_MONITOR] = {
		.name = VHOST_BLK_MCGRP_MONITOR,
		.flags = VHB_NL_MONITOR_FLAGS,
	},
};

static struct genl_family vhb_nl_family __ro_after_init = {
	.name = VHOST_BLK_GENL_NAME,
	.version = VHOST_BLK_GENL_VERSION,
	.module = THIS_MODULE,
	.ops = vhb_nl_ops,
	.n_ops = ARRAY_SIZE(vhb_nl_ops),
	.mcgrps = vhb_nl_mcgrps,
	.n_mcgrps = ARRAY_SIZE(vhb_nl_mcgrps),
	.netnsok = true,
	/* Never genl_mutex: see the top of this file. */
	.parallel_ops = true,
};

/* Does any namespace listen to the events? */
static bool vhb_nl_listened(void)
{
	struct net *net;
	bool ret = false;

	rcu_read_lock();
	for_each_net_rcu(net) {
		if (genl_has_listeners(&vhb_nl_family, net,
				       VHB_NL_MCGRP_MONITOR)) {
			ret = true;
			break;
		}
	}
	rcu_read_unlock();
	return ret;
}

/* Whose @blk's events are: its owner's uid, else blk->event_uid. */
static kuid_t vhb_nl_event_uid(struct vhb_blk *blk)
{
	struct vhb_owner owner;
	kuid_t uid;

	if (!vhb_dev_owner_get(&blk->dev, &owner))
		return blk->event_uid;
	uid = owner.uid;
	vhb_owner_put(&owner);
	return uid;
}

/*
 * May the socket @dsk receive an event of a device of uid *@data?  Its
 * opener's credentials decide, as a dump's reader's do.  Nonzero: no.
 */
static int vhb_nl_event_filter(struct sock *dsk, struct sk_buff *skb,
			       void *data)
{
	struct socket *sock = dsk->sk_socket;
	const kuid_t *uid = data;

	if (!sock || !sock->file)
		return 1;
	if (file_ns_capable(sock->file, &init_user_ns, CAP_NET_ADMIN))
		return 0;
	return !uid_eq(sock->file->f_cred->euid, *uid);
}

/* A new event message of @cmd, or NULL (nobody listens, or no memory). */
static struct sk_buff *vhb_nl_event_new(u8 cmd, gfp_t gfp, void **hdr)
{
	struct sk_buff *skb;

	if (!vhb_nl_listened())
		return NULL;
	skb = genlmsg_new(NLMSG_GOODSIZE, gfp);
	if (!skb)
		return NULL;
	*hdr = genlmsg_put(skb, 0, 0, &vhb_nl_family, 0, cmd);
	if (!*hdr) {
		nlmsg_free(skb);
		return NULL;
	}
	return skb;
}

static void vhb_nl_event_send(struct vhb_blk *blk, struct sk_buff *skb,
			      void *hdr)
{
	kuid_t uid = vhb_nl_event_uid(blk);

	genlmsg_end(skb, hdr);
	vhb_genl_multicast_filtered(&vhb_nl_family, skb, VHB_NL_MCGRP_MONITOR,
				    vhb_nl_event_filter, &uid);
}

/**
 * vhb_nl_notify_dev - announce a device event
 * @blk: the device
 * @cmd: VHOST_BLK_CMD_DEV_CREATED_NTF, _DEV_DESTROYED_NTF or
 *	 _BACKEND_SET_NTF
 *
 * Process context; for BACKEND_SET, the caller holds dev.mutex.
 */
void vhb_nl_notify_dev(struct vhb_blk *blk, u8 cmd)
{
	struct vhb_blk_backend backend = {};
	struct sk_buff *skb;
	void *hdr;
	int ret;

	skb = vhb_nl_event_new(cmd, GFP_KERNEL, &hdr);
	if (!skb)
		return;
	ret = nla_put_u32(skb, VHOST_BLK_A_DEV_ID, blk->id);
	if (!ret && cmd == VHOST_BLK_CMD_BACKEND_SET_NTF) {
		backend = blk->backend;
		/* A path too long for the message goes without it. */
		vhb_nl_put_backend(skb, &backend);
	} else if (!ret) {
		ret = nla_put_u32(skb, VHOST_BLK_A_DEV_OWNER_UID,
				  from_kuid_munged(&init_user_ns,
						   vhb_nl_event_uid(blk)));
	}
	if (ret) {
		nlmsg_free(skb);
		return;
	}
	vhb_nl_event_send(blk, skb, hdr);
}

/**
 * vhb_nl_notify - announce an event of the core
 * @blk: the device
 * @ev: what happened
 *
 * Process context.  VQ_STOPPED comes from a handler that holds vq->mutex:
 * it allocates without sleeping.
 */
void vhb_nl_notify(struct vhb_blk *blk, const struct vhb_event *ev)
{
	bool vq = ev->type == VHB_EV_VQ_ATTACHED || ev->type == VHB_EV_VQ_STOPPED;
	static const u8 cmds[] = {
		[VHB_EV_WORKER_CREATED] = VHOST_BLK_CMD_WORKER_CREATED_NTF,
		[VHB_EV_WORKER_FREED] = VHOST_BLK_CMD_WORKER_FREED_NTF,
		[VHB_EV_VQ_ATTACHED] = VHOST_BLK_CMD_VQ_ATTACHED_NTF,
		[VHB_EV_VQ_STOPPED] = VHOST_BLK_CMD_VQ_STOPPED_NTF,
	};
	struct sk_buff *skb;
	void *hdr;
	int ret;

	skb = vhb_nl_event_new(cmds[ev->type], ev->type == VHB_EV_VQ_STOPPED ?
			       GFP_ATOMIC : GFP_KERNEL, &hdr);
	if (!skb)
		return;
	if (vq)
		ret = nla_put_u32(skb, VHOST_BLK_A_VQ_DEV_ID, blk->id) ||
		      nla_put_u32(skb, VHOST_BLK_A_VQ_INDEX, ev->vq->index);
	else
		ret = nla_put_u32(skb, VHOST_BLK_A_WORKER_DEV_ID, blk->id) ||
		      nla_put_u32(skb, VHOST_BLK_A_WORKER_ID, ev->worker_id);
	switch (ev->type) {
	case VHB_EV_WORKER_CREATED:
		ret = ret || nla_put_u32(skb, VHOST_BLK_A_WORKER_TID,
					 pid_nr(ev->worker_pid));
		break;
	case VHB_EV_VQ_ATTACHED:
		ret = ret || nla_put_u32(skb, VHOST_BLK_A_VQ_WORKER_ID,
					 ev->worker_id);
		break;
	case VHB_EV_VQ_STOPPED:
		ret = ret || nla_put_string(skb, VHOST_BLK_A_VQ_STOP_REASON,
					    ev->vq->err_reason);
		break;
	default:
		break;
	}
	if (ret) {
		nlmsg_free(skb);
		return;
	}
	vhb_nl_event_send(blk, skb, hdr);
}

/**
 * vhb_nl_notify_io_error - announce a request the backend failed
 * @bvq: its virtqueue, whose io_errors counts it already
 * @err: the errno, positive
 * @op: its VHOST_BLK_OP_*
 *
 * At most the device's io_err_rs allows.  Caller holds vq->mutex.
 */
void vhb_nl_notify_io_error(struct vhb_blk_vq *bvq, int err, u32 op)
{
	struct vhb_blk *blk = bvq->blk;
	struct sk_buff *skb;
	void *hdr;

	if (!vhb_nl_listened() || !__ratelimit(&blk->io_err_rs))
		return;
	skb = vhb_nl_event_new(VHOST_BLK_CMD_IO_ERROR_NTF, GFP_ATOMIC, &hdr);
	if (!skb)
		return;
	if (nla_put_u32(skb, VHOST_BLK_A_VQ_DEV_ID, blk->id) ||
	    nla_put_u32(skb, VHOST_BLK_A_VQ_INDEX, bvq->vq.index) ||
	    nla_put_u32(skb, VHOST_BLK_A_VQ_IO_ERRNO, err) ||
	    nla_put_u32(skb, VHOST_BLK_A_VQ_IO_OP, op) ||
	    nla_put_u64_64bit(skb, VHOST_BLK_A_VQ_IO_ERRORS, bvq->io_errors,
			      VHOST_BLK_A_VQ_PAD)) {
		nlmsg_free(skb);
		return;
	}
	vhb_nl_event_send(blk, skb, hdr);
}

int __init vhb_nl_init(void)
{
	return genl_register_family(&vhb_nl_family);
}

void vhb_nl_exit(void)
{
	genl_unregister_family(&vhb_nl_family);
}

MODULE_ALIAS_GENL_FAMILY(VHOST_BLK_GENL_NAME);
