// SPDX-License-Identifier: GPL-2.0
/*
 * The "vhost_blk" generic netlink family: dumps of devices, workers and
 * virtqueues, and one admin command that moves a virtqueue to another worker
 * of its device.  Specified in Documentation/netlink/specs/vhost-blk.yaml;
 * attribute numbers are in uapi/linux/vhost_blk.h.
 *
 * A dump shows a caller without CAP_NET_ADMIN only the devices its
 * effective uid owns.  Each device is read under its mutex, so what a
 * message says of it is consistent; counters are read as they are.
 */
#include <linux/cred.h>
#include <linux/dcache.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <net/genetlink.h>

#include "blk.h"
#include "vhost_blk.h"

static struct genl_family vhb_nl_family;

/* May the reader of this dump see @blk?  Caller holds blk->dev.mutex. */
static bool vhb_nl_visible(struct netlink_callback *cb, struct vhb_blk *blk)
{
	if (netlink_capable(cb->skb, CAP_NET_ADMIN))
		return true;
	return vhb_dev_has_owner(&blk->dev) &&
	       uid_eq(blk->dev.owner_uid, current_euid());
}

static void *vhb_nl_put_header(struct sk_buff *skb, struct netlink_callback *cb,
			       u8 cmd)
{
	return genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			   &vhb_nl_family, NLM_F_MULTI, cmd);
}

/* The dump's optional device filter, or -1. */
static s64 vhb_nl_dev_filter(struct netlink_callback *cb, int attr)
{
	struct nlattr **attrs = vhb_genl_dump_attrs(cb);

	if (attrs && attrs[attr])
		return nla_get_u32(attrs[attr]);
	return -1;
}

static unsigned int vhb_nl_num_workers(struct vhb_dev *dev)
{
	struct vhb_worker *worker;
	unsigned long id;
	unsigned int n = 0;

	xa_for_each(&dev->worker_ids, id, worker)
		n++;
	return n;
}

static int vhb_nl_put_backend(struct sk_buff *skb, struct vhb_blk *blk)
{
	struct file *file = blk->backend.file;
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
				 vhb_blk_backend_size(&blk->backend),
				 VHOST_BLK_A_DEV_PAD);
}

/* One device's message.  Caller holds blk->dev.mutex. */
static int vhb_nl_fill_dev(struct sk_buff *skb, struct netlink_callback *cb,
			   struct vhb_blk *blk)
{
	struct vhb_dev *dev = &blk->dev;
	void *hdr;

	hdr = vhb_nl_put_header(skb, cb, VHOST_BLK_CMD_DEV_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u32(skb, VHOST_BLK_A_DEV_ID, blk->id) ||
	    nla_put_u32(skb, VHOST_BLK_A_DEV_NUM_VQS, dev->nvqs) ||
	    nla_put_u32(skb, VHOST_BLK_A_DEV_NUM_WORKERS,
			vhb_nl_num_workers(dev)) ||
	    nla_put_u32(skb, VHOST_BLK_A_DEV_WORKER_MODE, dev->fork_owner) ||
	    nla_put_u64_64bit(skb, VHOST_BLK_A_DEV_FEATURES,
			      dev->acked_features, VHOST_BLK_A_DEV_PAD))
		goto err_cancel;
	if (vhb_dev_has_owner(dev) &&
	    (nla_put_u32(skb, VHOST_BLK_A_DEV_OWNER_PID,
			 pid_vnr(dev->owner_tgid)) ||
	     nla_put_u32(skb, VHOST_BLK_A_DEV_OWNER_TID,
			 pid_vnr(dev->owner_tid)) ||
	     nla_put_u32(skb, VHOST_BLK_A_DEV_OWNER_UID,
			 from_kuid_munged(current_user_ns(), dev->owner_uid))))
		goto err_cancel;
	if (vhb_nl_put_backend(skb, blk))
		goto err_cancel;
	genlmsg_end(skb, hdr);
	return 0;

err_cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

/* The worker serving @vq, or NULL.  Caller holds dev->mutex. */
static struct vhb_worker *vhb_nl_vq_worker(struct vhb_virtqueue *vq)
{
	struct vhb_worker *worker;

	/* Stays allocated under dev->mutex even if the kill handler detaches it. */
	rcu_read_lock();
	worker = rcu_dereference(vq->worker);
	rcu_read_unlock();
	return worker;
}

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
	    nla_put_u32(skb, VHOST_BLK_A_WORKER_TID, pid_vnr(worker->pid)) ||
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
		if (vhb_nl_vq_worker(dev->vqs[i]) == worker &&
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

static int vhb_nl_fill_vq(struct sk_buff *skb, struct netlink_callback *cb,
			  struct vhb_blk *blk, unsigned int index)
{
	struct vhb_blk_vq *bvq = &blk->vqs[index];
	struct vhb_virtqueue *vq = &bvq->vq;
	struct vhb_worker *worker = vhb_nl_vq_worker(vq);
	void *hdr;

	hdr = vhb_nl_put_header(skb, cb, VHOST_BLK_CMD_VQ_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u32(skb, VHOST_BLK_A_VQ_DEV_ID, blk->id) ||
	    nla_put_u32(skb, VHOST_BLK_A_VQ_INDEX, index) ||
	    (worker && nla_put_u32(skb, VHOST_BLK_A_VQ_WORKER_ID, worker->id)) ||
	    nla_put_u32(skb, VHOST_BLK_A_VQ_NUM, READ_ONCE(vq->num)) ||
	    nla_put_u8(skb, VHOST_BLK_A_VQ_ACTIVE,
		       !!READ_ONCE(vq->private_data)) ||
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
			READ_ONCE(vq->busyloop_timeout))) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

/*
 * Fill messages for one device, from item cb->args[1] on; returns 0 when the
 * device is done, -EMSGSIZE when the skb is full (cb->args[1] then says
 * where to resume).  Caller holds blk->dev.mutex.
 */
static int vhb_nl_fill_items(struct sk_buff *skb, struct netlink_callback *cb,
			     struct vhb_blk *blk, u8 cmd)
{
	struct vhb_worker *worker;
	unsigned long id;
	int ret;

	switch (cmd) {
	case VHOST_BLK_CMD_DEV_GET:
		return vhb_nl_fill_dev(skb, cb, blk);
	case VHOST_BLK_CMD_WORKER_GET:
		id = cb->args[1];
		xa_for_each_start(&blk->dev.worker_ids, id, worker, id) {
			ret = vhb_nl_fill_worker(skb, cb, blk, worker);
			if (ret) {
				cb->args[1] = id;
				return ret;
			}
		}
		return 0;
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
	s64 filter = filter_attr ? vhb_nl_dev_filter(cb, filter_attr) : -1;
	unsigned long id = cb->args[0];
	struct vhb_blk *blk;
	int ret = 0;

	if (filter >= 0 && id < filter)
		id = filter;
	while ((blk = vhb_blk_get_next(&id))) {
		if (filter >= 0 && id != filter) {
			vhb_blk_put(blk);
			break;
		}
		mutex_lock(&blk->dev.mutex);
		ret = vhb_nl_visible(cb, blk) ?
		      vhb_nl_fill_items(skb, cb, blk, cmd) : 0;
		mutex_unlock(&blk->dev.mutex);
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
	return vhb_nl_dump(skb, cb, VHOST_BLK_CMD_DEV_GET, 0);
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

/* VHOST_BLK_CMD_VQ_ATTACH: the admin's VHOST_ATTACH_VRING_WORKER. */
static int vhb_nl_vq_attach(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr **attrs = info->attrs;
	struct vhb_blk *blk;
	u32 index;
	int ret;

	if (!netlink_capable(skb, CAP_SYS_ADMIN))
		return -EPERM;
	if (!attrs[VHOST_BLK_A_VQ_DEV_ID] || !attrs[VHOST_BLK_A_VQ_INDEX] ||
	    !attrs[VHOST_BLK_A_VQ_WORKER_ID]) {
		GENL_SET_ERR_MSG(info, "device id, vq index and worker id are required");
		return -EINVAL;
	}

	blk = vhb_blk_get(nla_get_u32(attrs[VHOST_BLK_A_VQ_DEV_ID]));
	if (!blk) {
		GENL_SET_ERR_MSG(info, "no such device");
		return -ENODEV;
	}
	index = nla_get_u32(attrs[VHOST_BLK_A_VQ_INDEX]);

	mutex_lock(&blk->dev.mutex);
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
		/* CAP_SYS_ADMIN is checked in the handler. */
		.flags = GENL_ADMIN_PERM,
	},
};

static struct genl_family vhb_nl_family __ro_after_init = {
	.name = VHOST_BLK_GENL_NAME,
	.version = VHOST_BLK_GENL_VERSION,
	.module = THIS_MODULE,
	.ops = vhb_nl_ops,
	.n_ops = ARRAY_SIZE(vhb_nl_ops),
	.resv_start_op = VHOST_BLK_CMD_VQ_ATTACH + 1,
	.netnsok = true,
};

int __init vhb_nl_init(void)
{
	return genl_register_family(&vhb_nl_family);
}

void vhb_nl_exit(void)
{
	genl_unregister_family(&vhb_nl_family);
}

MODULE_ALIAS_GENL_FAMILY(VHOST_BLK_GENL_NAME);
