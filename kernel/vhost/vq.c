// SPDX-License-Identifier: GPL-2.0
/*
 * Virtqueue access for the device types: fetch and validate descriptor
 * chains (direct and indirect), translate guest addresses through the memory
 * table into the owner's user addresses, return used entries in batches and
 * signal the driver, honouring VIRTIO_RING_F_EVENT_IDX and
 * VIRTIO_F_NOTIFY_ON_EMPTY.  This file is the split ring; each entry point
 * hands a packed ring (vq->packed) to vq_packed.c.
 *
 * Everything here runs with vq->mutex held, in the owner's mm (a worker is a
 * thread of the owner or a kthread using its mm), so the rings and buffers
 * are plain user memory.  Every index, length and address read from the ring
 * is the guest's and is checked before use.
 */
#include <linux/log2.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/virtio_config.h>

#include "vq.h"

/* used_event lives after the avail ring, avail_event after the used ring. */
static __virtio16 __user *vhb_used_event(struct vhb_virtqueue *vq)
{
	return (__virtio16 __user *)&vq->avail->ring[vq->num];
}

static __virtio16 __user *vhb_avail_event(struct vhb_virtqueue *vq)
{
	return (__virtio16 __user *)&vq->used->ring[vq->num];
}

/**
 * vhb_vq_access_ok - may the rings at these addresses be used?
 * @vq: the virtqueue, whose size and layout count
 * @desc: the descriptor ring's user address
 * @avail: the avail ring's (packed: the driver event suppression area's)
 * @used: the used ring's (packed: the device event suppression area's)
 */
bool vhb_vq_access_ok(struct vhb_virtqueue *vq, u64 desc, u64 avail, u64 used)
{
	size_t event = vhb_has_feature(vq, VIRTIO_RING_F_EVENT_IDX) ? 2 : 0;
	unsigned int num = vq->num;

	if (unlikely(vq->packed))
		return vhb_packed_access_ok(vq, desc, avail, used);
	return access_ok((void __user *)(unsigned long)desc,
			 num * sizeof(struct vring_desc)) &&
	       access_ok((void __user *)(unsigned long)avail,
			 sizeof(struct vring_avail) + num * sizeof(__virtio16) +
			 event) &&
	       access_ok((void __user *)(unsigned long)used,
			 sizeof(struct vring_used) +
			 num * sizeof(struct vring_used_elem) + event);
}

static int vhb_update_used_flags(struct vhb_virtqueue *vq)
{
	if (put_user(cpu_to_vhb16(vq, vq->used_flags), &vq->used->flags)) {
		vhb_vq_err(vq, "cannot write used flags at %p\n", &vq->used->flags);
		return -EFAULT;
	}
	vhb_log_used(vq, offsetof(struct vring_used, flags), sizeof(__virtio16));
	return 0;
}

/**
 * vhb_vq_init_access - start using a configured ring
 * @vq: the virtqueue
 *
 * Called when a backend is attached; reads where the driver expects the next
 * used entry.  Caller holds vq->mutex.
 */
int vhb_vq_init_access(struct vhb_virtqueue *vq)
{
	__virtio16 used_idx;
	int ret;

	if (unlikely(vq->packed))
		return vhb_packed_init_access(vq);
	/* A size set for a packed ring, before the features changed. */
	if (!is_power_of_2(vq->num))
		return -EINVAL;
	if (!vq->desc || !vq->avail || !vq->used ||
	    !vhb_vq_access_ok(vq, (unsigned long)vq->desc,
			      (unsigned long)vq->avail,
			      (unsigned long)vq->used) ||
	    !vhb_log_used_ok(vq, vq->log_base, vq->log_used, vq->log_addr))
		return -EFAULT;

	vq->signalled_used_valid = false;
	ret = vhb_update_used_flags(vq);
	if (ret)
		return ret;
	if (get_user(used_idx, &vq->used->idx)) {
		vhb_vq_err(vq, "cannot read used idx at %p\n", &vq->used->idx);
		return -EFAULT;
	}
	vq->last_used_idx = vhb16_to_cpu(vq, used_idx);
	return 0;
}

/**
 * vhb_vq_fini_access - stop using a ring
 * @vq: the virtqueue
 *
 * Frees what vhb_vq_init_access() allocated (a packed ring's state of its
 * chains in flight), once no handler runs and nothing is in flight: the
 * backend is detached, or was never attached.
 */
void vhb_vq_fini_access(struct vhb_virtqueue *vq)
{
	vhb_packed_fini_access(vq);
}

/* The memory region holding guest physical address @gpa, or NULL. */
static const struct vhb_mem_region *vhb_mem_find(const struct vhb_mem *mem,
						 u64 gpa)
{
	unsigned int lo = 0, hi = mem->nregions;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct vhb_mem_region *r = &mem->regions[mid];

		if (gpa < r->gpa)
			hi = mid;
		else if (gpa - r->gpa >= r->size)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

/*
 * Translate the guest buffer [@addr, @addr + @len) into user iovecs, one per
 * memory region it crosses.  Returns how many, or -EFAULT when some byte is
 * outside guest memory (or the range wraps past 2^64), or -ENOBUFS when
 * @iov_size iovecs are not enough.  With @iov NULL it only checks that the
 * buffer is inside guest memory.
 */
int vhb_translate(struct vhb_virtqueue *vq, u64 addr, u32 len,
		  struct iovec *iov, unsigned int iov_size)
{
	const struct vhb_mem *mem = vq->mem;
	unsigned int n = 0;

	if (!mem || (len && addr + len - 1 < addr))
		return -EFAULT;

	while (len) {
		const struct vhb_mem_region *r = vhb_mem_find(mem, addr);
		u64 off, chunk;

		if (!r)
			return -EFAULT;
		off = addr - r->gpa;
		chunk = min_t(u64, len, r->size - off);
		if (iov) {
			if (n >= iov_size)
				return -ENOBUFS;
			iov[n].iov_base = (void __user *)(unsigned long)(r->uaddr + off);
			iov[n].iov_len = chunk;
		}
		len -= chunk;
		addr += chunk;
		n++;
	}
	return n;
}

/* A writable buffer of a chain being logged: mark what was written of it. */
static int vhb_chain_log(struct vhb_virtqueue *vq, struct vhb_chain *c,
			 u64 addr, u32 len)
{
	u64 n = min_t(u64, len, c->log_left);

	if (!len)
		return 0;
	/* The guest may have changed the chain: only its own memory is marked. */
	if (vhb_translate(vq, addr, len, NULL, 0) < 0) {
		vhb_vq_err(vq, "chain changed while in flight: 0x%llx+%u is outside guest memory\n",
			   addr, len);
		return -EFAULT;
	}
	c->writable = true;
	c->log_last = addr + len - 1;
	c->log_left -= n;
	if (n && vhb_log_write(vq, addr, n))
		c->log_err = -EFAULT;
	return 0;
}

/*
 * Record a writable buffer of a packed direct chain, merged with the one
 * before when adjacent.  A chain with more than VHB_MAX_IOV writable
 * buffers is oversized: the device writes only its last byte, which is
 * kept apart.
 */
static void vhb_chain_record(struct vhb_chain *c, u64 addr, u32 len)
{
	struct vhb_log_range *r = c->nrec ? &c->rec[c->nrec - 1] : NULL;

	if (!len)
		return;
	c->rec_last = addr + len - 1;
	if (r && addr && r->gpa + r->len == addr && len <= U32_MAX - r->len) {
		r->len += len;
		return;
	}
	if (c->nrec < VHB_MAX_IOV)
		c->rec[c->nrec++] = (struct vhb_log_range){ .gpa = addr, .len = len };
}

/**
 * vhb_chain_add_buf - add one descriptor's buffer to a chain being walked
 * @vq: the virtqueue
 * @c: the chain
 * @addr: the buffer's guest physical address
 * @len: its length
 * @write: device-writable
 *
 * Device-readable buffers must all come before device-writable ones.  A
 * chain that outgrows the iovecs or VHB_MAX_CHAIN_BYTES is still walked to
 * its end and checked, so the request can complete with an error rather
 * than stop the ring.  Returns 0 or a negative errno, reported.
 */
int vhb_chain_add_buf(struct vhb_virtqueue *vq, struct vhb_chain *c,
		      u64 addr, u32 len, bool write)
{
	struct vhb_chain_info *info = c->info;
	unsigned int used = info->out + info->in;
	int n = -ENOBUFS;

	if (c->log)
		return write ? vhb_chain_log(vq, c, addr, len) : 0;
	if (!write && c->writable) {
		vhb_vq_err(vq, "device-readable buffer after a writable one\n");
		return -EINVAL;
	}
	c->writable |= write;
	info->ndesc++;
	info->max_len = max(info->max_len, len);
	c->total += len;
	if (c->total > VHB_MAX_CHAIN_BYTES)
		info->oversized = true;
	if (!info->oversized)
		n = vhb_translate(vq, addr, len, c->iov + used,
				  c->iov_size - used);
	if (n == -ENOBUFS) {
		info->oversized = true;
		n = vhb_translate(vq, addr, len, NULL, 0);
	}
	if (n < 0) {
		vhb_vq_err(vq, "buffer 0x%llx+%u is outside guest memory\n",
			   addr, len);
		return n;
	}
	if (write && len &&
	    vhb_translate(vq, addr + len - 1, 1, &c->last_byte, 1) != 1)
		return -EFAULT;	/* cannot be: the whole buffer translated */
	if (unlikely(c->rec) && write)
		vhb_chain_record(c, addr, len);
	if (info->oversized)
		return 0;
	if (write)
		info->in += n;
	else
		info->out += n;
	return 0;
}

/* Add split descriptor @desc's buffer to the chain. */
static int vhb_chain_add(struct vhb_virtqueue *vq, struct vhb_chain *c,
			 const struct vring_desc *desc)
{
	return vhb_chain_add_buf(vq, c, vhb64_to_cpu(vq, desc->addr),
				 vhb32_to_cpu(vq, desc->len),
				 vhb16_to_cpu(vq, desc->flags) & VRING_DESC_F_WRITE);
}

/* Read descriptor @i of an indirect table that @table_iov maps. */
static int vhb_read_indirect(struct vhb_virtqueue *vq,
			     const struct iovec *table_iov, unsigned int nr_iov,
			     size_t table_len, unsigned int i,
			     struct vring_desc *desc)
{
	struct iov_iter it;

	iov_iter_init(&it, ITER_SOURCE, table_iov, nr_iov, table_len);
	iov_iter_advance(&it, (size_t)i * sizeof(*desc));
	if (!copy_from_iter_full(desc, sizeof(*desc), &it)) {
		vhb_vq_err(vq, "cannot read indirect descriptor %u\n", i);
		return -EFAULT;
	}
	return 0;
}

/**
 * vhb_indirect_count - the descriptors of an indirect table
 * @vq: the virtqueue, for the report
 * @len: the table's length in bytes, the guest's
 *
 * A table is a non-zero multiple of 16 bytes (a split and a packed
 * descriptor alike) of at most VHB_MAX_INDIRECT descriptors.  Returns the
 * count, or -EINVAL or -E2BIG, reported.
 */
int vhb_indirect_count(struct vhb_virtqueue *vq, u32 len)
{
	BUILD_BUG_ON(sizeof(struct vring_desc) != sizeof(struct vring_packed_desc));
	if (!len || len % sizeof(struct vring_desc)) {
		vhb_vq_err(vq, "indirect table of %u bytes\n", len);
		return -EINVAL;
	}
	if (len / sizeof(struct vring_desc) > VHB_MAX_INDIRECT) {
		vhb_vq_err(vq, "indirect table of %zu descriptors\n",
			   len / sizeof(struct vring_desc));
		return -E2BIG;
	}
	return len / sizeof(struct vring_desc);
}

/* Walk the indirect table that descriptor @ind points to. */
static int vhb_walk_indirect(struct vhb_virtqueue *vq, struct vhb_chain *c,
			     const struct vring_desc *ind)
{
	u32 len = vhb32_to_cpu(vq, ind->len);
	struct iovec table_iov[8];
	struct vring_desc desc;
	unsigned int count, found = 0, i = 0;
	int nr_iov, ret;

	if (vhb16_to_cpu(vq, ind->flags) & VRING_DESC_F_NEXT) {
		vhb_vq_err(vq, "indirect descriptor with NEXT set\n");
		return -EINVAL;
	}
	ret = vhb_indirect_count(vq, len);
	if (ret < 0)
		return ret;
	count = ret;
	nr_iov = vhb_translate(vq, vhb64_to_cpu(vq, ind->addr), len, table_iov,
			       ARRAY_SIZE(table_iov));
	if (nr_iov < 0) {
		vhb_vq_err(vq, "indirect table 0x%llx+%u is outside guest memory\n",
			   vhb64_to_cpu(vq, ind->addr), len);
		return nr_iov;
	}

	for (;;) {
		if (++found > count) {
			vhb_vq_err(vq, "loop in indirect table\n");
			return -EINVAL;
		}
		ret = vhb_read_indirect(vq, table_iov, nr_iov, len, i, &desc);
		if (ret)
			return ret;
		if (vhb16_to_cpu(vq, desc.flags) & VRING_DESC_F_INDIRECT) {
			vhb_vq_err(vq, "nested indirect descriptor\n");
			return -EINVAL;
		}
		ret = vhb_chain_add(vq, c, &desc);
		if (ret)
			return ret;
		if (!(vhb16_to_cpu(vq, desc.flags) & VRING_DESC_F_NEXT))
			return 0;
		i = vhb16_to_cpu(vq, desc.next);
		if (i >= count) {
			vhb_vq_err(vq, "indirect next %u past the table's %u\n",
				   i, count);
			return -EINVAL;
		}
	}
}

/*
 * Read avail->idx: the driver's, so checked against the ring.  Returns 0
 * with the index in *@idx, or a negative errno for a ring that cannot be
 * read or an index more than the ring size ahead (reported through the
 * error eventfd).
 */
static int vhb_read_avail_idx(struct vhb_virtqueue *vq, u16 *idx)
{
	__virtio16 raw;

	if (get_user(raw, &vq->avail->idx)) {
		vhb_vq_err(vq, "cannot read avail idx at %p\n", &vq->avail->idx);
		return -EFAULT;
	}
	*idx = vhb16_to_cpu(vq, raw);
	if ((u16)(*idx - vq->last_avail_idx) > vq->num) {
		vhb_vq_err(vq, "avail idx moved from %u to %u\n",
			   vq->last_avail_idx, *idx);
		return -EINVAL;
	}
	return 0;
}

/**
 * vhb_vq_avail_pending - is there an avail entry not yet fetched?
 * @vq: the virtqueue
 *
 * Reads avail->idx when needed.  Returns 1 or 0, or a negative errno for a
 * malformed ring (see vhb_read_avail_idx()).  Caller holds vq->mutex.
 */
int vhb_vq_avail_pending(struct vhb_virtqueue *vq)
{
	u16 idx;
	int ret;

	if (unlikely(vq->packed))
		return vhb_packed_avail_pending(vq);
	if (vq->avail_idx != vq->last_avail_idx)
		return 1;
	ret = vhb_read_avail_idx(vq, &idx);
	if (ret)
		return ret;
	vq->avail_idx = idx;
	if (vq->avail_idx == vq->last_avail_idx)
		return 0;
	/* Read the entries only after seeing the index that published them. */
	smp_rmb();
	return 1;
}

/* Walk the chain from ring descriptor @head. */
static int vhb_walk_chain(struct vhb_virtqueue *vq, struct vhb_chain *c,
			  unsigned int head)
{
	unsigned int i = head, found = 0;
	struct vring_desc desc;
	int ret;

	for (;;) {
		if (++found > vq->num) {
			vhb_vq_err(vq, "loop in chain from head %u\n", head);
			return -EINVAL;
		}
		if (copy_from_user(&desc, vq->desc + i, sizeof(desc))) {
			vhb_vq_err(vq, "cannot read descriptor %u\n", i);
			return -EFAULT;
		}
		if (vhb16_to_cpu(vq, desc.flags) & VRING_DESC_F_INDIRECT) {
			if (!vhb_has_feature(vq, VIRTIO_RING_F_INDIRECT_DESC)) {
				vhb_vq_err(vq, "indirect descriptor not negotiated\n");
				return -EINVAL;
			}
			ret = vhb_walk_indirect(vq, c, &desc);
		} else {
			ret = vhb_chain_add(vq, c, &desc);
		}
		if (ret)
			return ret;
		if (!(vhb16_to_cpu(vq, desc.flags) & VRING_DESC_F_NEXT))
			return 0;
		i = vhb16_to_cpu(vq, desc.next);
		if (i >= vq->num) {
			vhb_vq_err(vq, "next %u past the ring's %u\n", i,
				   vq->num);
			return -EINVAL;
		}
	}
}

/**
 * vhb_get_vq_desc - fetch the next available descriptor chain
 * @vq: the virtqueue
 * @iov: receives the chain's buffers as user iovecs, readable ones first
 * @iov_size: room in @iov, at least 1
 * @info: receives what the chain holds; see struct vhb_chain_info
 *
 * Returns the chain's head index, vq->num when no chain is available, or a
 * negative errno for a malformed ring, which has been reported through the
 * error eventfd.  Caller holds vq->mutex.
 */
int vhb_get_vq_desc(struct vhb_virtqueue *vq, struct iovec *iov,
		    unsigned int iov_size, struct vhb_chain_info *info)
{
	struct vhb_chain c = { .iov = iov, .iov_size = iov_size, .info = info };
	__virtio16 ring_head;
	unsigned int head;
	int ret;

	if (unlikely(vq->packed))
		return vhb_packed_get_desc(vq, iov, iov_size, info);
	ret = vhb_vq_avail_pending(vq);
	if (ret <= 0)
		return ret ? ret : vq->num;

	if (get_user(ring_head,
		     &vq->avail->ring[vq->last_avail_idx & (vq->num - 1)])) {
		vhb_vq_err(vq, "cannot read avail ring entry %u\n",
			   vq->last_avail_idx);
		return -EFAULT;
	}
	head = vhb16_to_cpu(vq, ring_head);
	if (head >= vq->num) {
		vhb_vq_err(vq, "avail head %u past the ring's %u\n", head,
			   vq->num);
		return -EINVAL;
	}

	memset(info, 0, sizeof(*info));
	ret = vhb_walk_chain(vq, &c, head);
	if (ret)
		return ret;
	if (info->oversized) {
		info->out = 0;
		info->in = c.last_byte.iov_len ? 1 : 0;
		iov[0] = c.last_byte;
	}
	vq->last_avail_idx++;
	return head;
}

/**
 * vhb_log_chain - mark in the dirty log what the device wrote to a chain
 * @vq: the virtqueue, which logs (vhb_vq_logs_writes())
 * @head: the chain's head, fetched and not yet returned
 * @data: bytes of data written, from the first writable byte on
 *
 * Marks the first @data writable bytes and the last writable byte (the
 * status), walking the chain again from its descriptors: the guest
 * addresses are not kept while a request is in flight.  Call after the
 * device wrote and before the chain is returned.  Caller holds vq->mutex.
 * Returns 0, or a negative errno (reported through the error eventfd).
 */
int vhb_log_chain(struct vhb_virtqueue *vq, unsigned int head, u64 data)
{
	struct vhb_chain_info info = {};
	struct vhb_chain c = { .info = &info, .log = true, .log_left = data };
	int ret;

	if (unlikely(vq->packed))
		return vhb_packed_log_chain(vq, head, data);
	ret = vhb_walk_chain(vq, &c, head);
	if (ret)
		return ret;
	if (c.writable && vhb_log_write(vq, c.log_last, 1))
		return -EFAULT;
	return c.log_err;
}

/*
 * Give the last fetched chain back, unprocessed: the next vhb_get_vq_desc()
 * fetches it again.  For a request the device cannot start yet.
 */
void vhb_unget_vq_desc(struct vhb_virtqueue *vq)
{
	if (unlikely(vq->packed))
		vhb_packed_unget_desc(vq);
	else
		vq->last_avail_idx--;
}

/**
 * vhb_add_used_n - return processed chains to the driver
 * @vq: the virtqueue
 * @used: head and written length of each chain, in CPU byte order
 * @count: how many
 *
 * Writes the entries, then publishes them with one used->idx update.  Caller
 * holds vq->mutex; vhb_signal() tells the driver.
 */
int vhb_add_used_n(struct vhb_virtqueue *vq, const struct vhb_used *used,
		   unsigned int count)
{
	struct vring_used_elem elems[32];
	unsigned int done = 0;
	u16 new_idx;

	if (unlikely(vq->packed))
		return vhb_packed_add_used_n(vq, used, count);
	while (done < count) {
		unsigned int start = (vq->last_used_idx + done) & (vq->num - 1);
		unsigned int n = min3(count - done, vq->num - start,
				      (unsigned int)ARRAY_SIZE(elems));
		unsigned int j;

		for (j = 0; j < n; j++) {
			elems[j].id = cpu_to_vhb32(vq, used[done + j].id);
			elems[j].len = cpu_to_vhb32(vq, used[done + j].len);
		}
		if (copy_to_user(&vq->used->ring[start], elems,
				 n * sizeof(elems[0]))) {
			vhb_vq_err(vq, "cannot write used ring entry %u\n",
				   start);
			return -EFAULT;
		}
		/* Marked before the index below publishes them. */
		vhb_log_used(vq, offsetof(struct vring_used, ring[start]),
			     n * sizeof(elems[0]));
		done += n;
	}

	/* The entries must be visible before the index that publishes them. */
	smp_wmb();
	new_idx = vq->last_used_idx + count;
	if (put_user(cpu_to_vhb16(vq, new_idx), &vq->used->idx)) {
		vhb_vq_err(vq, "cannot write used idx at %p\n", &vq->used->idx);
		return -EFAULT;
	}
	vhb_log_used(vq, offsetof(struct vring_used, idx), sizeof(__virtio16));
	vq->last_used_idx = new_idx;
	/*
	 * If the driver has not looked for a long time, the index may have
	 * wrapped past the one we last signalled: that one is meaningless now.
	 */
	if (unlikely((u16)(new_idx - vq->signalled_used) < count))
		vq->signalled_used_valid = false;
	vhb_stat_add(&vq->stats.requests, count);
	return 0;
}

/* Does the driver want a call for the used entries added so far? */
static bool vhb_should_notify(struct vhb_virtqueue *vq)
{
	__virtio16 flags, event;
	u16 old, new;
	bool valid;

	/* Publish used->idx before reading the driver's suppression state. */
	smp_mb();

	if (vhb_has_feature(vq, VIRTIO_F_NOTIFY_ON_EMPTY) &&
	    unlikely(vq->avail_idx == vq->last_avail_idx))
		return true;

	if (!vhb_has_feature(vq, VIRTIO_RING_F_EVENT_IDX)) {
		if (get_user(flags, &vq->avail->flags)) {
			vhb_vq_err(vq, "cannot read avail flags\n");
			return true;
		}
		return !(vhb16_to_cpu(vq, flags) & VRING_AVAIL_F_NO_INTERRUPT);
	}

	old = vq->signalled_used;
	valid = vq->signalled_used_valid;
	new = vq->last_used_idx;
	vq->signalled_used = new;
	vq->signalled_used_valid = true;
	if (unlikely(!valid))
		return true;

	if (get_user(event, vhb_used_event(vq))) {
		vhb_vq_err(vq, "cannot read used_event\n");
		return true;
	}
	return vring_need_event(vhb16_to_cpu(vq, event), new, old);
}

/* Signal the call eventfd if the driver wants it.  Caller holds vq->mutex. */
void vhb_signal(struct vhb_virtqueue *vq)
{
	if (!vq->call_ctx)
		return;
	if (unlikely(vq->packed) ? vhb_packed_should_notify(vq) :
	    vhb_should_notify(vq))
		vhb_eventfd_signal(vq->call_ctx);
}

/* Ask the driver not to kick: the device is polling the ring anyway. */
void vhb_disable_notify(struct vhb_virtqueue *vq)
{
	if (vq->used_flags & VRING_USED_F_NO_NOTIFY)
		return;
	if (unlikely(vq->packed)) {
		vhb_packed_disable_notify(vq);
		return;
	}
	vq->used_flags |= VRING_USED_F_NO_NOTIFY;
	if (!vhb_has_feature(vq, VIRTIO_RING_F_EVENT_IDX))
		vhb_update_used_flags(vq);
}

/**
 * vhb_enable_notify - ask the driver to kick again
 * @vq: the virtqueue
 *
 * Returns true when chains arrived meanwhile: the caller must then process
 * them rather than wait for a kick that will not come.
 */
bool vhb_enable_notify(struct vhb_virtqueue *vq)
{
	__virtio16 idx;

	if (!(vq->used_flags & VRING_USED_F_NO_NOTIFY))
		return false;
	if (unlikely(vq->packed))
		return vhb_packed_enable_notify(vq);
	vq->used_flags &= ~VRING_USED_F_NO_NOTIFY;
	if (!vhb_has_feature(vq, VIRTIO_RING_F_EVENT_IDX)) {
		if (vhb_update_used_flags(vq))
			return false;
	} else {
		if (put_user(cpu_to_vhb16(vq, vq->avail_idx),
			     vhb_avail_event(vq))) {
			vhb_vq_err(vq, "cannot write avail_event\n");
			return false;
		}
		vhb_log_used(vq, offsetof(struct vring_used, ring[vq->num]),
			     sizeof(__virtio16));
	}

	/* The driver must see the request before we look at avail->idx. */
	smp_mb();
	if (get_user(idx, &vq->avail->idx)) {
		vhb_vq_err(vq, "cannot read avail idx at %p\n", &vq->avail->idx);
		return false;
	}
	/*
	 * Not kept: the caller fetches again, and vhb_vq_avail_pending()
	 * reads the index once more and checks it against the ring.
	 */
	return vhb16_to_cpu(vq, idx) != vq->last_avail_idx;
}

/**
 * vhb_exceeds_weight - a handler's fairness budget
 * @vq: the virtqueue
 * @reqs: requests handled in this run
 *
 * A handler that has processed @reqs requests in this run must return so the
 * other virtqueues of its worker get their turn; it is queued again to
 * continue.
 */
bool vhb_exceeds_weight(struct vhb_virtqueue *vq, int reqs)
{
	if (reqs >= vq->dev->weight) {
		vhb_vq_work_queue(vq, &vq->poll.work);
		return true;
	}
	return false;
}

/**
 * vhb_vq_set_broken - stop a virtqueue whose ring is malformed
 * @vq: the virtqueue
 *
 * The error was reported (vhb_vq_err()) when found.  Kicks no longer
 * re-read the ring, so a broken ring costs nothing and signals its error
 * once, until the ring is configured again (VHOST_SET_VRING_NUM, _ADDR or
 * _BASE).  Caller holds vq->mutex.
 */
void vhb_vq_set_broken(struct vhb_virtqueue *vq)
{
	struct vhb_event ev = { .type = VHB_EV_VQ_STOPPED, .vq = vq };

	if (vq->broken)
		return;
	WRITE_ONCE(vq->broken, true);
	vhb_dev_notify(vq->dev, &ev);
}

/*
 * The message of vhb_vq_err(): a rate-limited debug line, its text kept
 * (without the newline) as the reason a vq-stopped event gives.  Caller
 * holds vq->mutex.
 */
void vhb_vq_note_err(struct vhb_virtqueue *vq, const char *fmt, ...)
{
	va_list args;
	int len;

	va_start(args, fmt);
	len = vscnprintf(vq->err_reason, sizeof(vq->err_reason), fmt, args);
	va_end(args);
	if (len && vq->err_reason[len - 1] == '\n')
		vq->err_reason[len - 1] = '\0';
	pr_debug_ratelimited("vq %u: %s\n", vq->index, vq->err_reason);
}
