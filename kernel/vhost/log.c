// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty logging for live migration, with mainline's ABI: VHOST_F_LOG_ALL,
 * VHOST_SET_LOG_BASE, VHOST_SET_LOG_FD and the VHOST_VRING_F_LOG flag of
 * VHOST_SET_VRING_ADDR.
 *
 * The log is a bitmap in the owner's memory, one bit per VHOST_PAGE_SIZE
 * page of guest physical address space: bit n of byte n / 8 for page n.
 * The VMM clears bits as it copies pages, concurrently, so bits are set
 * atomically in the pinned page of the bitmap, never with a plain store.
 * Every guest page the device writes is marked after the write and before
 * the used entry that completes it is published: request data and status
 * bytes (with VHOST_F_LOG_ALL), and the used ring (with VHOST_VRING_F_LOG,
 * through the ring's guest address log_guest_addr).  A packed ring has no
 * used ring: the device writes its used descriptors into the descriptor
 * ring, and its device event area; with VHOST_VRING_F_LOG those bytes are
 * marked at the guest addresses the memory table gives their user
 * addresses, as mainline marks a write it knows by user address.
 */
#include <linux/eventfd.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/uaccess.h>

#include "vhost.h"

#define VHB_LOG_PAGE_SHIFT 12	/* VHOST_PAGE_SIZE */
#define VHB_LOG_BYTE_PAGES (8ULL << VHB_LOG_PAGE_SHIFT)	/* guest bytes a log byte covers */

static bool test_no_dirty_log;
module_param(test_no_dirty_log, bool, 0644);
MODULE_PARM_DESC(test_no_dirty_log,
		 "For tests only: mark nothing in the dirty log, so that a migration test can show it fails (default N)");

/* Does the log at @base cover the guest range [@gpa, @gpa + @size)? */
static bool vhb_log_covers(u64 base, u64 gpa, u64 size)
{
	u64 first = gpa / VHB_LOG_BYTE_PAGES;
	u64 last = (gpa + size - 1) / VHB_LOG_BYTE_PAGES;

	if (!size)
		return true;
	if ((u64)(unsigned long)base != base ||
	    !access_ok((void __user *)(unsigned long)base, 1))
		return false;
	return access_ok((void __user *)(unsigned long)(base + first),
			 last - first + 1);
}

/**
 * vhb_log_covers_mem - does a log cover a memory table?
 * @base: the log's user address
 * @mem: the table, or NULL
 *
 * What VHOST_SET_LOG_BASE, VHOST_SET_FEATURES with VHOST_F_LOG_ALL and
 * VHOST_SET_MEM_TABLE while logging check, as mainline does: every region's
 * bits lie in user memory.
 */
bool vhb_log_covers_mem(u64 base, const struct vhb_mem *mem)
{
	unsigned int i;

	for (i = 0; mem && i < mem->nregions; i++) {
		if (!vhb_log_covers(base, mem->regions[i].gpa,
				    mem->regions[i].size))
			return false;
	}
	return true;
}

/* The bytes of the used ring, avail_event included. */
static u64 vhb_used_size(unsigned int num)
{
	return sizeof(struct vring_used) +
	       (u64)num * sizeof(struct vring_used_elem) + sizeof(__virtio16);
}

/**
 * vhb_log_used_ok - can the used ring be logged?
 * @vq: the virtqueue
 * @base: the log's user address
 * @log_used: VHOST_VRING_F_LOG
 * @log_addr: the used ring's guest address
 */
bool vhb_log_used_ok(struct vhb_virtqueue *vq, u64 base, bool log_used,
		     u64 log_addr)
{
	u64 size = vhb_used_size(vq->num);

	if (!log_used)
		return true;
	/* A packed ring's writes are found through the memory table. */
	if (vq->packed)
		return vhb_log_covers_mem(base, vq->mem);
	return log_addr + size - 1 >= log_addr &&
	       vhb_log_covers(base, log_addr, size);
}

/* Set bits @first to @last of the log: pages of the bitmap pinned in turn. */
static int vhb_log_set_bits(u64 base, u64 first, u64 last)
{
	unsigned long cur = 0;
	struct page *page = NULL;
	unsigned long *map = NULL;
	u64 nr;
	int ret = 0;

	for (nr = first; ; nr++) {
		unsigned long byte = base + nr / 8;
		unsigned long start = byte & PAGE_MASK;

		if (!page || start != cur) {
			if (page) {
				kunmap_local(map);
				unpin_user_pages_dirty_lock(&page, 1, true);
				page = NULL;
			}
			if (pin_user_pages_fast(start, 1, FOLL_WRITE, &page) != 1) {
				page = NULL;
				ret = -EFAULT;
				break;
			}
			map = kmap_local_page(page);
			cur = start;
		}
		set_bit((byte - start) * 8 + nr % 8, map);
		if (nr == last)
			break;
	}
	if (page) {
		kunmap_local(map);
		unpin_user_pages_dirty_lock(&page, 1, true);
	}
	return ret;
}

/**
 * vhb_log_write - mark guest bytes written
 * @vq: the virtqueue that wrote them
 * @gpa: their guest physical address
 * @len: how many
 *
 * Caller holds vq->mutex and has checked that @vq logs.  A log the device
 * cannot write is reported through the error eventfd.  Returns 0 or -EFAULT.
 */
int vhb_log_write(struct vhb_virtqueue *vq, u64 gpa, u64 len)
{
	u64 end = gpa + len - 1;

	if (!len || READ_ONCE(test_no_dirty_log))
		return 0;
	if (end < gpa || !vhb_log_covers(vq->log_base, gpa, len) ||
	    vhb_log_set_bits(vq->log_base, gpa >> VHB_LOG_PAGE_SHIFT,
			     end >> VHB_LOG_PAGE_SHIFT)) {
		vhb_vq_err(vq, "cannot mark 0x%llx+%llu in the dirty log at 0x%llx\n",
			   gpa, len, vq->log_base);
		return -EFAULT;
	}
	vq->log_pending = true;
	return 0;
}

/**
 * vhb_log_used - mark bytes of the used ring written
 * @vq: the virtqueue
 * @offset: from the start of the used ring
 * @len: how many
 *
 * Does nothing unless the ring was configured with VHOST_VRING_F_LOG.
 * Caller holds vq->mutex.
 */
void vhb_log_used(struct vhb_virtqueue *vq, u64 offset, u64 len)
{
	if (unlikely(vq->log_used))
		vhb_log_write(vq, vq->log_addr + offset, len);
}

/**
 * vhb_log_ring - mark bytes of a ring written, known by their user address
 * @vq: the virtqueue
 * @p: where in the owner's memory
 * @len: how many
 *
 * For a packed ring's writes (used descriptors, the device event area).
 * Does nothing unless the ring was configured with VHOST_VRING_F_LOG.  Marks
 * every guest physical range the memory table maps at [@p, @p + @len) (a
 * region may alias another).  A ring outside guest memory is reported
 * through the error eventfd: the VMM cannot migrate it.  Caller holds
 * vq->mutex.
 */
void vhb_log_ring(struct vhb_virtqueue *vq, const void __user *p, u64 len)
{
	const struct vhb_mem *mem = vq->mem;
	u64 start = (unsigned long)p, end = start + len;
	bool found = false;
	unsigned int i;

	if (likely(!vq->log_used))
		return;
	for (i = 0; mem && i < mem->nregions; i++) {
		const struct vhb_mem_region *r = &mem->regions[i];
		u64 from = max(start, r->uaddr);
		u64 to = min(end, r->uaddr + r->size);

		if (from >= to)
			continue;
		found = true;
		vhb_log_write(vq, r->gpa + (from - r->uaddr), to - from);
	}
	if (!found)
		vhb_vq_err(vq, "ring bytes at 0x%llx+%llu are outside guest memory: not logged\n",
			   start, len);
}

/**
 * vhb_log_signal - tell the VMM the log changed
 * @vq: the virtqueue
 *
 * Signals the VHOST_SET_LOG_FD eventfd once for everything marked since the
 * last call.  Caller holds vq->mutex.
 */
void vhb_log_signal(struct vhb_virtqueue *vq)
{
	if (!vq->log_pending)
		return;
	vq->log_pending = false;
	if (vq->log_ctx)
		vhb_eventfd_signal(vq->log_ctx);
}

/* VHOST_SET_LOG_BASE.  Caller holds dev->mutex and is the owner. */
long vhb_set_log_base(struct vhb_dev *dev, u64 __user *argp)
{
	unsigned int i;
	u64 base;

	if (copy_from_user(&base, argp, sizeof(base)))
		return -EFAULT;
	if ((u64)(unsigned long)base != base)
		return -EFAULT;
	/* Checked now only when logging; else when logging starts. */
	if ((dev->acked_features & BIT_ULL(VHOST_F_LOG_ALL)) &&
	    !vhb_log_covers_mem(base, dev->mem))
		return -EFAULT;
	for (i = 0; i < dev->nvqs; i++) {
		struct vhb_virtqueue *vq = dev->vqs[i];

		vhb_vq_lock(vq);
		if (vq->private_data &&
		    !vhb_log_used_ok(vq, base, vq->log_used, vq->log_addr)) {
			mutex_unlock(&vq->mutex);
			return -EFAULT;
		}
		mutex_unlock(&vq->mutex);
	}
	dev->log_base = base;
	for (i = 0; i < dev->nvqs; i++) {
		struct vhb_virtqueue *vq = dev->vqs[i];

		vhb_vq_lock(vq);
		vq->log_base = base;
		mutex_unlock(&vq->mutex);
	}
	return 0;
}

/* VHOST_SET_LOG_FD: an eventfd, or -1 for none.  Caller holds dev->mutex. */
long vhb_set_log_fd(struct vhb_dev *dev, int __user *argp)
{
	struct eventfd_ctx *ctx = NULL;
	unsigned int i;
	int fd;

	if (get_user(fd, argp))
		return -EFAULT;
	if (fd != -1) {
		ctx = eventfd_ctx_fdget(fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}
	for (i = 0; i < dev->nvqs; i++) {
		struct vhb_virtqueue *vq = dev->vqs[i];

		vhb_vq_lock(vq);
		vq->log_ctx = ctx;
		mutex_unlock(&vq->mutex);
	}
	swap(ctx, dev->log_ctx);
	if (ctx)
		eventfd_ctx_put(ctx);
	return 0;
}
