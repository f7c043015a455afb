// SPDX-License-Identifier: GPL-2.0
/*
 * Packed virtqueues (VIRTIO_F_RING_PACKED; virtio 1.1, "Packed
 * Virtqueues"), behind the entry points of vq.c.
 *
 * One ring of 16-byte descriptors serves both ways.  The driver makes a
 * buffer available by writing its descriptors into consecutive slots (a
 * chain continues with VRING_DESC_F_NEXT, wrapping at the end of the ring)
 * and then the first one's flags, whose AVAIL bit equals its wrap counter
 * and USED bit differs from it.  The device hands the buffer back by writing
 * one used descriptor at its own used slot (the buffer id, the bytes
 * written and WRITE if there are any, AVAIL and USED both equal to the
 * device's wrap counter) and moving that slot on by as many slots as the
 * chain took.  Each counter flips when its index passes the end of the ring.
 * Buffers complete in any order.  Two 4-byte areas take the place of a split
 * ring's flags and event indexes: the driver's, read here, says whether it
 * wants calls; the device's, written here, whether the device wants kicks.
 * Everything is little endian: packed rings exist only with
 * VIRTIO_F_VERSION_1.
 *
 * A chain's descriptors may be overwritten (by used descriptors, then by the
 * driver) while its request is in flight, so what dirty logging will need is
 * recorded per buffer id when the chain is fetched: the writable ranges of a
 * direct chain, or where its indirect table is (which only the guest
 * writes).
 *
 * Everything here runs with vq->mutex held, in the owner's mm; every index,
 * length and address read from the ring is the guest's and is checked.
 */
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

#include "vq.h"

#define VHB_PACKED_F_AVAIL BIT(VRING_PACKED_DESC_F_AVAIL)
#define VHB_PACKED_F_USED BIT(VRING_PACKED_DESC_F_USED)
#define VHB_PACKED_WRAP BIT(VRING_PACKED_EVENT_F_WRAP_CTR)

/* Writable ranges a direct chain keeps in its own entry; more are allocated. */
#define VHB_PACKED_INLINE_RANGES 3

/*
 * Descriptors read from the ring at once: a header, a data buffer and a
 * status byte take three, so most chains are read with one copy.
 */
#define VHB_PACKED_FETCH 4

/* A buffer id's chain, while it is in flight. */
struct vhb_packed_buf {
	u16 slots;		/* ring slots its chain took; 0: not in flight */
	bool indirect;		/* table and table_len locate its table */
	u16 nranges;		/* direct: the writable ranges at ranges */
	struct vhb_log_range *ranges;	/* inline_ranges, or allocated */
	union {
		struct vhb_log_range inline_ranges[VHB_PACKED_INLINE_RANGES];
		struct {
			u64 table;
			u32 table_len;
		};
	};
};

/* Is a descriptor with @flags available to a device whose counter is @wrap? */
static bool vhb_packed_is_avail(u16 flags, bool wrap)
{
	return !!(flags & VHB_PACKED_F_AVAIL) == wrap &&
	       !!(flags & VHB_PACKED_F_USED) != wrap;
}

/**
 * vhb_packed_access_ok - may a packed ring at these addresses be used?
 * @vq: the virtqueue, whose size counts
 * @desc: the descriptor ring's user address
 * @avail: the driver event suppression area's
 * @used: the device event suppression area's
 *
 * Checks the alignment virtio requires too: 16 bytes for the ring, 4 for
 * each area.
 */
bool vhb_packed_access_ok(struct vhb_virtqueue *vq, u64 desc, u64 avail,
			  u64 used)
{
	return !(desc & (VHB_PACKED_DESC_ALIGN - 1)) &&
	       !(avail & (VHB_PACKED_EVENT_ALIGN - 1)) &&
	       !(used & (VHB_PACKED_EVENT_ALIGN - 1)) &&
	       access_ok((void __user *)(unsigned long)desc,
			 vq->num * sizeof(struct vring_packed_desc)) &&
	       access_ok((void __user *)(unsigned long)avail,
			 sizeof(struct vring_packed_desc_event)) &&
	       access_ok((void __user *)(unsigned long)used,
			 sizeof(struct vring_packed_desc_event));
}

/*
 * Tell the driver whether the device wants kicks, in the device area: not
 * at all, always, or (VIRTIO_RING_F_EVENT_IDX) once it makes the slot
 * available that the device will look at next.
 */
static int vhb_packed_write_event(struct vhb_virtqueue *vq, bool enable)
{
	struct vring_packed_desc_event __user *ev = vq->device_event;
	u16 flags = VRING_PACKED_EVENT_FLAG_DISABLE;

	if (enable && vhb_has_feature(vq, VIRTIO_RING_F_EVENT_IDX)) {
		u32 v = vq->last_avail_idx |
			(vq->pk.avail_wrap ? VHB_PACKED_WRAP : 0) |
			(u32)VRING_PACKED_EVENT_FLAG_DESC << 16;

		/*
		 * The offset and the flags that make the driver read it, in
		 * one aligned store: no driver sees one without the other.
		 */
		if (put_user(cpu_to_le32(v), (__le32 __user *)ev))
			goto err;
		vhb_log_ring(vq, ev, sizeof(*ev));
		return 0;
	}
	if (enable)
		flags = VRING_PACKED_EVENT_FLAG_ENABLE;
	if (put_user(cpu_to_le16(flags), &ev->flags))
		goto err;
	vhb_log_ring(vq, ev, sizeof(*ev));
	return 0;

err:
	vhb_vq_err(vq, "cannot write the device event area at %p\n", ev);
	return -EFAULT;
}

/* Forget a buffer id's chain: it completed, or was given back. */
static void vhb_packed_buf_put(struct vhb_packed_buf *b)
{
	if (b->ranges != b->inline_ranges)
		kvfree(b->ranges);
	b->ranges = NULL;
	b->nranges = 0;
	b->indirect = false;
	b->slots = 0;
}

/**
 * vhb_packed_fini_access - free a packed ring's state of its chains
 * @vq: the virtqueue
 *
 * Once nothing is in flight and no handler runs; does nothing for a split
 * ring, or twice.
 */
void vhb_packed_fini_access(struct vhb_virtqueue *vq)
{
	struct vhb_packed *pk = &vq->pk;
	unsigned int i;

	if (pk->bufs) {
		for (i = 0; i < pk->nbufs; i++)
			vhb_packed_buf_put(&pk->bufs[i]);
		kvfree(pk->bufs);
		pk->bufs = NULL;
	}
	pk->nbufs = 0;
	kvfree(pk->scratch);
	pk->scratch = NULL;
}

/**
 * vhb_packed_init_access - start using a configured packed ring
 * @vq: the virtqueue
 *
 * Called when a backend is attached.  The slots and wrap counters come from
 * VHOST_SET_VRING_BASE, checked again against the ring size now in force.
 * Tells the driver whether to kick.  Caller holds vq->mutex.
 */
int vhb_packed_init_access(struct vhb_virtqueue *vq)
{
	struct vhb_packed *pk = &vq->pk;
	int ret;

	if (!vq->desc_packed || !vq->driver_event || !vq->device_event ||
	    !vhb_packed_access_ok(vq, (unsigned long)vq->desc_packed,
				  (unsigned long)vq->driver_event,
				  (unsigned long)vq->device_event) ||
	    !vhb_log_used_ok(vq, vq->log_base, vq->log_used, vq->log_addr))
		return -EFAULT;
	if (vq->last_avail_idx >= vq->num || vq->last_used_idx >= vq->num)
		return -EINVAL;

	vhb_packed_fini_access(vq);
	pk->bufs = kvcalloc(vq->num, sizeof(*pk->bufs), GFP_KERNEL_ACCOUNT);
	pk->scratch = kvmalloc_array(VHB_MAX_IOV, sizeof(*pk->scratch),
				     GFP_KERNEL_ACCOUNT);
	if (!pk->bufs || !pk->scratch) {
		vhb_packed_fini_access(vq);
		return -ENOMEM;
	}
	pk->nbufs = vq->num;
	pk->in_flight = 0;
	pk->empty = false;
	pk->used_since_signal = 0;
	vq->signalled_used_valid = false;

	ret = vhb_packed_write_event(vq, !(vq->used_flags & VRING_USED_F_NO_NOTIFY));
	if (ret)
		vhb_packed_fini_access(vq);
	return ret;
}

/**
 * vhb_packed_avail_pending - is a chain available at the next slot?
 * @vq: the virtqueue
 *
 * Reads the slot's flags; when they say available, its other fields may be
 * read after this returns.  Returns 1, 0, or -EFAULT (reported).  Caller
 * holds vq->mutex.
 */
int vhb_packed_avail_pending(struct vhb_virtqueue *vq)
{
	__le16 flags;

	if (get_user(flags, &vq->desc_packed[vq->last_avail_idx].flags)) {
		vhb_vq_err(vq, "cannot read descriptor %u\n", vq->last_avail_idx);
		return -EFAULT;
	}
	if (!vhb_packed_is_avail(le16_to_cpu(flags), vq->pk.avail_wrap)) {
		vq->pk.empty = true;
		return 0;
	}
	/* The descriptor only after the flags that made it available. */
	smp_rmb();
	vq->pk.empty = false;
	return 1;
}

/*
 * Walk the indirect table at [@addr, @addr + @len): packed descriptors, all
 * of them in order (NEXT means nothing there), each readable or writable.
 */
static int vhb_packed_walk_indirect(struct vhb_virtqueue *vq,
				    struct vhb_chain *c, u64 addr, u32 len)
{
	struct vring_packed_desc desc;
	struct iovec table_iov[8];
	unsigned int count, i;
	struct iov_iter it;
	int nr_iov, ret;

	ret = vhb_indirect_count(vq, len);
	if (ret < 0)
		return ret;
	count = ret;
	nr_iov = vhb_translate(vq, addr, len, table_iov, ARRAY_SIZE(table_iov));
	if (nr_iov < 0) {
		vhb_vq_err(vq, "indirect table 0x%llx+%u is outside guest memory\n",
			   addr, len);
		return nr_iov;
	}

	iov_iter_init(&it, ITER_SOURCE, table_iov, nr_iov, len);
	for (i = 0; i < count; i++) {
		u16 flags;

		if (!copy_from_iter_full(&desc, sizeof(desc), &it)) {
			vhb_vq_err(vq, "cannot read indirect descriptor %u\n", i);
			return -EFAULT;
		}
		flags = le16_to_cpu(desc.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			vhb_vq_err(vq, "nested indirect descriptor\n");
			return -EINVAL;
		}
		ret = vhb_chain_add_buf(vq, c, le64_to_cpu(desc.addr),
					le32_to_cpu(desc.len),
					flags & VRING_DESC_F_WRITE);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * A chain's indirect descriptor, the @slots-th of its chain, with @flags:
 * negotiated, and alone (the spec forbids it in a NEXT chain, as first or
 * later descriptor).
 */
static int vhb_packed_check_indirect(struct vhb_virtqueue *vq, u16 flags,
				     unsigned int slots)
{
	if (!vhb_has_feature(vq, VIRTIO_RING_F_INDIRECT_DESC)) {
		vhb_vq_err(vq, "indirect descriptor not negotiated\n");
		return -EINVAL;
	}
	if (flags & VRING_DESC_F_NEXT) {
		vhb_vq_err(vq, "indirect descriptor with NEXT set\n");
		return -EINVAL;
	}
	if (slots > 1) {
		vhb_vq_err(vq, "indirect descriptor inside a chain\n");
		return -EINVAL;
	}
	return 0;
}

/*
 * Keep what logging the chain's writes will need: its indirect table, or
 * the writable ranges recorded while walking it.  An oversized chain gets
 * only its last writable byte (the status) written, so only that is kept;
 * a chain whose ranges cannot be allocated is made oversized, so that its
 * request fails rather than goes unlogged.
 */
static void vhb_packed_buf_set(struct vhb_packed_buf *b, struct vhb_chain *c,
			       bool indirect, u64 table, u32 table_len)
{
	struct vhb_log_range *ranges = b->inline_ranges;
	unsigned int n = c->nrec;

	b->indirect = indirect;
	if (indirect) {
		b->table = table;
		b->table_len = table_len;
		return;
	}
	if (!c->info->oversized && n > VHB_PACKED_INLINE_RANGES) {
		/* Bounded: the handler holds vq->mutex. */
		ranges = kvmalloc_array(n, sizeof(*ranges), GFP_KERNEL_ACCOUNT |
					__GFP_NOWARN | __GFP_NORETRY);
		if (!ranges) {
			c->info->oversized = true;
			ranges = b->inline_ranges;
		}
	}
	if (c->info->oversized) {
		n = c->last_byte.iov_len ? 1 : 0;
		ranges[0] = (struct vhb_log_range){ .gpa = c->rec_last, .len = 1 };
	} else {
		memcpy(ranges, c->rec, n * sizeof(*ranges));
	}
	b->ranges = ranges;
	b->nranges = n;
}

/**
 * vhb_packed_get_desc - fetch the next available chain of a packed ring
 * @vq: the virtqueue
 * @iov: receives the chain's buffers as user iovecs, readable ones first
 * @iov_size: room in @iov, at least 1
 * @info: receives what the chain holds
 *
 * As vhb_get_vq_desc(), whose contract it keeps: returns the chain's buffer
 * id (the last descriptor's), vq->num when no chain is available, or a
 * negative errno for a malformed ring, reported.  A malformed chain is not
 * consumed.  Caller holds vq->mutex.
 */
int vhb_packed_get_desc(struct vhb_virtqueue *vq, struct iovec *iov,
			unsigned int iov_size, struct vhb_chain_info *info)
{
	struct vhb_packed *pk = &vq->pk;
	struct vhb_chain c = {
		.iov = iov, .iov_size = iov_size, .info = info, .rec = pk->scratch,
	};
	unsigned int i = vq->last_avail_idx, slots = 0, have = 0, k = 0;
	bool wrap = pk->avail_wrap, indirect = false;
	struct vring_packed_desc batch[VHB_PACKED_FETCH], desc;
	struct vhb_packed_buf *b;
	u64 table = 0;
	u32 table_len = 0;
	u16 flags, id;
	int ret;

	ret = vhb_packed_avail_pending(vq);
	if (ret <= 0)
		return ret ? ret : vq->num;

	memset(info, 0, sizeof(*info));
	do {
		if (++slots > vq->num - pk->in_flight) {
			vhb_vq_err(vq, "chain from slot %u longer than the %u free slots of the ring\n",
				   vq->last_avail_idx, vq->num - pk->in_flight);
			return -EINVAL;
		}
		/*
		 * The head's flags made the whole chain visible: read it a few
		 * slots at a time, up to the end of the ring.  Slots past the
		 * chain may be read too, and are not looked at.
		 */
		if (k == have) {
			have = min_t(unsigned int, VHB_PACKED_FETCH, vq->num - i);
			if (copy_from_user(batch, &vq->desc_packed[i],
					   have * sizeof(batch[0]))) {
				vhb_vq_err(vq, "cannot read descriptor %u\n", i);
				return -EFAULT;
			}
			k = 0;
		}
		desc = batch[k++];
		flags = le16_to_cpu(desc.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			ret = vhb_packed_check_indirect(vq, flags, slots);
			if (!ret) {
				indirect = true;
				table = le64_to_cpu(desc.addr);
				table_len = le32_to_cpu(desc.len);
				/* Its table is kept instead of its ranges. */
				c.rec = NULL;
				ret = vhb_packed_walk_indirect(vq, &c, table,
							       table_len);
			}
		} else {
			ret = vhb_chain_add_buf(vq, &c, le64_to_cpu(desc.addr),
						le32_to_cpu(desc.len),
						flags & VRING_DESC_F_WRITE);
		}
		if (ret)
			return ret;
		if (++i == vq->num) {
			i = 0;
			wrap = !wrap;
		}
	} while (flags & VRING_DESC_F_NEXT);

	id = le16_to_cpu(desc.id);
	if (id >= vq->num) {
		vhb_vq_err(vq, "buffer id %u past the ring's %u\n", id, vq->num);
		return -EINVAL;
	}
	b = &pk->bufs[id];
	if (b->slots) {
		vhb_vq_err(vq, "buffer id %u made available again while in flight\n",
			   id);
		return -EINVAL;
	}
	vhb_packed_buf_set(b, &c, indirect, table, table_len);
	if (info->oversized) {
		info->out = 0;
		info->in = c.last_byte.iov_len ? 1 : 0;
		iov[0] = c.last_byte;
	}
	b->slots = slots;
	pk->in_flight += slots;
	pk->prev_avail_idx = vq->last_avail_idx;
	pk->prev_avail_wrap = pk->avail_wrap;
	pk->prev_id = id;
	vq->last_avail_idx = i;
	pk->avail_wrap = wrap;
	return id;
}

/**
 * vhb_packed_unget_desc - give the last fetched chain back, unprocessed
 * @vq: the virtqueue
 *
 * The next vhb_packed_get_desc() fetches it again.
 */
void vhb_packed_unget_desc(struct vhb_virtqueue *vq)
{
	struct vhb_packed *pk = &vq->pk;

	pk->in_flight -= pk->bufs[pk->prev_id].slots;
	vhb_packed_buf_put(&pk->bufs[pk->prev_id]);
	vq->last_avail_idx = pk->prev_avail_idx;
	pk->avail_wrap = pk->prev_avail_wrap;
}

/**
 * vhb_packed_log_chain - mark in the dirty log what the device wrote
 * @vq: the virtqueue, which logs
 * @id: the chain's buffer id, fetched and not yet returned
 * @data: bytes of data written, from the first writable byte on
 *
 * As vhb_log_chain(): the first @data writable bytes and the last writable
 * byte, from the ranges recorded at fetch, or the chain's indirect table
 * walked again.  Every range is checked against the memory table in force.
 */
int vhb_packed_log_chain(struct vhb_virtqueue *vq, unsigned int id, u64 data)
{
	struct vhb_packed_buf *b = &vq->pk.bufs[id];
	struct vhb_chain_info info = {};
	struct vhb_chain c = { .info = &info, .log = true, .log_left = data };
	unsigned int i;
	int ret = 0;

	if (b->indirect)
		ret = vhb_packed_walk_indirect(vq, &c, b->table, b->table_len);
	for (i = 0; !ret && i < b->nranges; i++)
		ret = vhb_chain_add_buf(vq, &c, b->ranges[i].gpa,
					b->ranges[i].len, true);
	if (ret)
		return ret;
	if (c.writable && vhb_log_write(vq, c.log_last, 1))
		return -EFAULT;
	return c.log_err;
}

/**
 * vhb_packed_add_used_n - return processed chains to the driver
 * @vq: the virtqueue
 * @used: buffer id and written length of each chain, in CPU byte order
 * @count: how many
 *
 * Writes one used descriptor per chain at the used slot, which then moves on
 * by the slots the chain took, with VRING_DESC_F_WRITE when the length is
 * not 0 (virtio 1.1, "Packed Virtqueues", "Write Flag").  The driver reads
 * used descriptors in ring order and each only once its flags say used, so
 * a batch is handed over by its first descriptor's flags, written last,
 * after a write barrier: before it, the first one's id and length, and the
 * others whole (length, id and flags in one store).  Caller holds
 * vq->mutex; vhb_signal() tells the driver.
 */
int vhb_packed_add_used_n(struct vhb_virtqueue *vq,
			  const struct vhb_used *used, unsigned int count)
{
	struct vhb_packed *pk = &vq->pk;
	struct {
		u16 slot;
		u16 flags;
	} at[32];
	struct vring_packed_desc __user *d;
	unsigned int done = 0, j;
	int ret;

	while (done < count) {
		unsigned int n = min_t(unsigned int, count - done, ARRAY_SIZE(at));

		for (j = 0; j < n; j++) {
			const struct vhb_used *u = &used[done + j];
			struct vhb_packed_buf *b;
			unsigned int slots;

			/* Only what was fetched comes back. */
			if (WARN_ON_ONCE(u->id >= pk->nbufs))
				return -EINVAL;
			b = &pk->bufs[u->id];
			slots = b->slots;
			if (WARN_ON_ONCE(!slots))
				return -EINVAL;
			d = &vq->desc_packed[vq->last_used_idx];
			at[j].slot = vq->last_used_idx;
			at[j].flags = pk->used_wrap ?
				      VHB_PACKED_F_AVAIL | VHB_PACKED_F_USED : 0;
			/*
			 * WRITE says the device wrote into the buffer; without
			 * it the length is reserved and drivers ignore it.
			 */
			if (u->len)
				at[j].flags |= VRING_DESC_F_WRITE;
			if (j) {
				/* len, id and flags: 8 aligned bytes. */
				u64 v = u->len | (u64)u->id << 32 |
					(u64)at[j].flags << 48;

				ret = put_user(cpu_to_le64(v),
					       (__le64 __user *)&d->len);
			} else {
				ret = put_user(cpu_to_le32(u->len), &d->len) ||
				      put_user(cpu_to_le16(u->id), &d->id);
			}
			if (ret) {
				vhb_vq_err(vq, "cannot write used descriptor %u\n",
					   vq->last_used_idx);
				return -EFAULT;
			}
			pk->in_flight -= min(slots, pk->in_flight);
			vhb_packed_buf_put(b);
			vq->last_used_idx += slots;
			if (vq->last_used_idx >= vq->num) {
				vq->last_used_idx -= vq->num;
				pk->used_wrap = !pk->used_wrap;
			}
			pk->used_since_signal = min(pk->used_since_signal + slots,
						    vq->num);
		}
		/* The batch before the flags that hand it over. */
		smp_wmb();
		d = &vq->desc_packed[at[0].slot];
		if (put_user(cpu_to_le16(at[0].flags), &d->flags)) {
			vhb_vq_err(vq, "cannot write used descriptor %u\n",
				   at[0].slot);
			return -EFAULT;
		}
		/* len, id and flags: marked before the call. */
		for (j = 0; j < n; j++)
			vhb_log_ring(vq, &vq->desc_packed[at[j].slot].len,
				     sizeof(*d) -
				     offsetof(struct vring_packed_desc, len));
		done += n;
	}
	vhb_stat_add(&vq->stats.requests, count);
	return 0;
}

/**
 * vhb_packed_should_notify - does the driver want a call?
 * @vq: the virtqueue
 *
 * Asks the driver event area: DISABLE, ENABLE, or (VIRTIO_RING_F_EVENT_IDX)
 * DESC, a call once the used slot passes its offset and wrap counter.
 * VIRTIO_F_NOTIFY_ON_EMPTY calls whenever the device found the ring empty.
 */
bool vhb_packed_should_notify(struct vhb_virtqueue *vq)
{
	struct vring_packed_desc_event __user *ev = vq->driver_event;
	bool event_idx = vhb_has_feature(vq, VIRTIO_RING_F_EVENT_IDX);
	struct vhb_packed *pk = &vq->pk;
	u32 n = pk->used_since_signal;
	bool valid = vq->signalled_used_valid;
	u16 flags, off_wrap, event, new;
	__le32 raw;
	u32 area;

	/* Publish the used descriptors before reading the driver's wishes. */
	smp_mb();

	if (vhb_has_feature(vq, VIRTIO_F_NOTIFY_ON_EMPTY) && unlikely(pk->empty))
		return true;
	if (event_idx) {
		pk->used_since_signal = 0;
		vq->signalled_used_valid = true;
	}
	/*
	 * The offset and the flags in one aligned load: the driver writes the
	 * offset before the flags that announce it, so the flags never come
	 * with an older offset than theirs.
	 */
	if (get_user(raw, (__le32 __user *)ev))
		goto err;
	area = le32_to_cpu(raw);
	off_wrap = area & 0xffff;
	flags = area >> 16;
	if (flags == VRING_PACKED_EVENT_FLAG_DISABLE)
		return false;
	if (!event_idx || flags != VRING_PACKED_EVENT_FLAG_DESC)
		return true;
	/* Not called for a lap or more: the offset was passed. */
	if (unlikely(!valid || n >= vq->num))
		return true;

	new = vq->last_used_idx;
	event = off_wrap & ~VHB_PACKED_WRAP;
	/* An offset of the other lap is one of the lap before this one. */
	if (!!(off_wrap & VHB_PACKED_WRAP) != pk->used_wrap)
		event -= vq->num;
	return vring_need_event(event, new, (u16)(new - n));

err:
	vhb_vq_err(vq, "cannot read the driver event area at %p\n", ev);
	return true;
}

/**
 * vhb_packed_disable_notify - ask the driver not to kick
 * @vq: the virtqueue, whose kicks are enabled
 */
void vhb_packed_disable_notify(struct vhb_virtqueue *vq)
{
	vq->used_flags |= VRING_USED_F_NO_NOTIFY;
	/*
	 * With VIRTIO_RING_F_EVENT_IDX the area keeps its offset (a slot and
	 * a wrap counter), which the driver has passed: it kicks again only
	 * when it next makes that slot available on a lap of that counter, at
	 * most once every two laps, a kick that only queues the handler.  A
	 * split ring's avail event works the same way, once every 65536
	 * entries.  vhb_packed_enable_notify() moves the offset on before the
	 * handler stops looking at the ring.
	 */
	if (!vhb_has_feature(vq, VIRTIO_RING_F_EVENT_IDX))
		vhb_packed_write_event(vq, false);
}

/**
 * vhb_packed_enable_notify - ask the driver to kick again
 * @vq: the virtqueue, whose kicks are disabled
 *
 * Returns true when a chain arrived meanwhile: the caller must then process
 * it rather than wait for a kick that will not come.
 */
bool vhb_packed_enable_notify(struct vhb_virtqueue *vq)
{
	__le16 flags;

	vq->used_flags &= ~VRING_USED_F_NO_NOTIFY;
	if (vhb_packed_write_event(vq, true))
		return false;
	/* The driver must see the event area before we look at the ring. */
	smp_mb();
	if (get_user(flags, &vq->desc_packed[vq->last_avail_idx].flags)) {
		vhb_vq_err(vq, "cannot read descriptor %u\n", vq->last_avail_idx);
		return false;
	}
	return vhb_packed_is_avail(le16_to_cpu(flags), vq->pk.avail_wrap);
}
