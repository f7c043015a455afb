// SPDX-License-Identifier: GPL-2.0
/*
 * The limits a vhost-blk device enforces: what the VMM put in the guest's
 * config space (VHOST_BLK_SET_LIMITS), and safe defaults derived from the
 * backend for what it did not say.  The guest is never trusted to keep to
 * them: every request is checked in blk_req.c.
 */
#include <linux/blkdev.h>
#include <linux/sizes.h>
#include <linux/uaccess.h>

#include "blk.h"

#define VHB_SECTOR_SHIFT 9
/*
 * Default DISCARD and WRITE_ZEROES sizes per segment, in sectors: 4 GiB
 * where the backend deallocates or zeroes without writing (a file's
 * fallocate(), a device's discard or write-zeroes command), 16 MiB where
 * zeroing writes zero pages, so that no request costs more than
 * VHB_BLK_DEF_SEGS times that.
 */
#define VHB_BLK_DEF_OFFLOAD_SECTORS ((u32)(SZ_4G >> VHB_SECTOR_SHIFT))
#define VHB_BLK_DEF_WRITE_SECTORS ((u32)(SZ_16M >> VHB_SECTOR_SHIFT))
#define VHB_BLK_DEF_SEGS 16
/* The smallest size_max worth stating: one sector. */
#define VHB_BLK_MIN_SIZE_MAX 512

/* What the device allows by itself, for @backend (or none). */
static void vhb_blk_default_limits(const struct vhb_blk_backend *backend,
				   struct vhb_blk_limits *l)
{
	u32 discard = VHB_BLK_DEF_OFFLOAD_SECTORS;
	u32 zeroes = VHB_BLK_DEF_OFFLOAD_SECTORS;

	memset(l, 0, sizeof(*l));
	l->read_only = !backend->writable;
	if (!backend->file)
		return;
	if (backend->bdev) {
		struct block_device *bdev = I_BDEV(backend->file->f_mapping->host);

		discard = min(bdev_max_discard_sectors(bdev), discard);
		if (!bdev_write_zeroes_sectors(bdev))
			zeroes = VHB_BLK_DEF_WRITE_SECTORS;
	}
	l->max_discard_bytes = (u64)discard << VHB_SECTOR_SHIFT;
	l->max_discard_seg = VHB_BLK_DEF_SEGS;
	l->max_write_zeroes_bytes = (u64)zeroes << VHB_SECTOR_SHIFT;
	l->max_write_zeroes_seg = VHB_BLK_DEF_SEGS;
}

static int vhb_blk_check_limits(const struct vhost_blk_limits *v)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(v->reserved); i++) {
		if (v->reserved[i])
			return -EINVAL;
	}
	if (v->flags & ~VHOST_BLK_LIMITS_F_RO)
		return -EINVAL;
	if (v->max_discard_seg > VHOST_BLK_MAX_SEGS ||
	    v->max_write_zeroes_seg > VHOST_BLK_MAX_SEGS)
		return -EINVAL;
	if (v->size_max && v->size_max < VHB_BLK_MIN_SIZE_MAX)
		return -EINVAL;
	if (v->capacity > (U64_MAX >> VHB_SECTOR_SHIFT))
		return -EINVAL;
	return 0;
}

/**
 * vhb_blk_apply_limits - put the VMM's limits @v in force
 * @blk: the device
 * @v: the limits, as VHOST_BLK_SET_LIMITS takes them
 *
 * Fields of @v that are 0 take the backend's defaults.  Publishes the
 * result for netlink and every virtqueue.  Returns -EINVAL when @v asks for
 * more capacity than the attached backend has.  Caller holds dev.mutex.
 */
int vhb_blk_apply_limits(struct vhb_blk *blk, const struct vhost_blk_limits *v)
{
	struct vhb_blk_limits l;
	unsigned int i;

	vhb_blk_default_limits(&blk->backend, &l);
	l.capacity = v->capacity << VHB_SECTOR_SHIFT;
	if (blk->backend.file &&
	    l.capacity > vhb_blk_backend_size(&blk->backend))
		return -EINVAL;
	l.size_max = v->size_max;
	l.seg_max = v->seg_max;
	if (v->max_discard_sectors)
		l.max_discard_bytes = (u64)v->max_discard_sectors << VHB_SECTOR_SHIFT;
	if (v->max_discard_seg)
		l.max_discard_seg = v->max_discard_seg;
	if (v->max_write_zeroes_sectors)
		l.max_write_zeroes_bytes =
			(u64)v->max_write_zeroes_sectors << VHB_SECTOR_SHIFT;
	if (v->max_write_zeroes_seg)
		l.max_write_zeroes_seg = v->max_write_zeroes_seg;
	if (v->flags & VHOST_BLK_LIMITS_F_RO)
		l.read_only = true;

	spin_lock(&blk->dev.snap_lock);
	blk->limits = l;
	spin_unlock(&blk->dev.snap_lock);
	for (i = 0; i < blk->nvqs; i++) {
		struct vhb_blk_vq *bvq = &blk->vqs[i];

		vhb_vq_lock(&bvq->vq);
		bvq->limits = l;
		mutex_unlock(&bvq->vq.mutex);
	}
	return 0;
}

/**
 * vhb_blk_limits_to_uapi - the limits in force as VHOST_BLK_GET_LIMITS says
 * @l: the limits in force
 * @size: the backend's size in bytes, for a capacity that follows it
 * @v: receives them
 */
void vhb_blk_limits_to_uapi(const struct vhb_blk_limits *l, u64 size,
			    struct vhost_blk_limits *v)
{
	memset(v, 0, sizeof(*v));
	v->capacity = (l->capacity ?: size) >> VHB_SECTOR_SHIFT;
	v->size_max = l->size_max;
	v->seg_max = l->seg_max;
	v->max_discard_sectors = min_t(u64, l->max_discard_bytes >> VHB_SECTOR_SHIFT,
				       U32_MAX);
	v->max_discard_seg = l->max_discard_seg;
	v->max_write_zeroes_sectors =
		min_t(u64, l->max_write_zeroes_bytes >> VHB_SECTOR_SHIFT, U32_MAX);
	v->max_write_zeroes_seg = l->max_write_zeroes_seg;
	v->flags = l->read_only ? VHOST_BLK_LIMITS_F_RO : 0;
}

/* VHOST_BLK_SET_LIMITS.  Caller holds dev.mutex. */
int vhb_blk_set_limits(struct vhb_blk *blk, struct vhost_blk_limits __user *argp)
{
	struct vhost_blk_limits v;
	int ret;

	ret = vhb_dev_check_owner(&blk->dev);
	if (ret)
		return ret;
	if (copy_from_user(&v, argp, sizeof(v)))
		return -EFAULT;
	ret = vhb_blk_check_limits(&v);
	if (ret)
		return ret;
	ret = vhb_blk_apply_limits(blk, &v);
	if (ret)
		return ret;
	blk->vmm_limits = v;
	return 0;
}

/* VHOST_BLK_GET_LIMITS.  Caller holds dev.mutex. */
int vhb_blk_get_limits(struct vhb_blk *blk, struct vhost_blk_limits __user *argp)
{
	struct vhost_blk_limits v;

	vhb_blk_limits_to_uapi(&blk->limits, blk->backend.file ?
			       vhb_blk_backend_size(&blk->backend) : 0, &v);
	return copy_to_user(argp, &v, sizeof(v)) ? -EFAULT : 0;
}
