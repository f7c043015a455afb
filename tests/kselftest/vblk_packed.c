// SPDX-License-Identifier: GPL-2.0
/*
 * vblk's packed ring (VIRTIO_F_RING_PACKED; virtio 1.1, "Packed
 * Virtqueues"): the driver's side, behind the calls of vblk.h.
 *
 * A virtqueue's ring area holds the descriptor ring, then the driver event
 * area, then the device event area.  A request keeps one buffer id while it
 * is in flight and takes as many slots as its chain has descriptors (one for
 * an indirect chain).  Positions count slots from where the ring started:
 * position p is slot p % num, in a lap whose wrap counter is 1 when
 * p / num is even.  Publishing writes a chain at the avail position, its
 * first descriptor's flags last; reaping reads used descriptors at the used
 * position, which moves on by the slots of the chain each one returns.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vblk_packed.h"

#define F_AVAIL (1U << VRING_PACKED_DESC_F_AVAIL)
#define F_USED (1U << VRING_PACKED_DESC_F_USED)
#define WRAP_BIT (1U << VRING_PACKED_EVENT_F_WRAP_CTR)
/* The flags a driver may set on a descriptor it makes available. */
#define DESC_FLAGS (VRING_DESC_F_NEXT | VRING_DESC_F_WRITE | VRING_DESC_F_INDIRECT)

/* The wrap counter of the lap position @pos is in. */
static bool wrap_of(const struct vblk *v, uint64_t pos)
{
	return !((pos / v->num) & 1);
}

uint16_t vblk_packed_enc(const struct vblk *v, uint64_t pos)
{
	return pos % v->num | (wrap_of(v, pos) ? WRAP_BIT : 0);
}

/*
 * The position that slot and wrap counter @enc name, near @ref: in @ref's
 * lap if the counters agree, else in the lap before (as a driver reads an
 * event offset).  May be negative, before the ring's start.
 */
static int64_t pos_near(const struct vblk *v, uint16_t enc, uint64_t ref)
{
	int64_t lap = ref / v->num;

	if (!!(enc & WRAP_BIT) != wrap_of(v, ref))
		lap--;
	return lap * v->num + (enc & ~WRAP_BIT);
}

uint64_t vblk_packed_ring_size(unsigned int num)
{
	return num * sizeof(struct vring_packed_desc) + 2 * sizeof(struct vring_packed_desc_event);
}

int vblk_packed_init_vq(struct vblk *v, unsigned int vq, uint8_t *base)
{
	struct vblk_vq *q = &v->vqs[vq];

	q->pdesc = (struct vring_packed_desc *)base;
	q->driver = (struct vring_packed_desc_event *)(base + v->num * sizeof(*q->pdesc));
	q->device = q->driver + 1;
	q->pub_end = calloc(v->num + 1, sizeof(*q->pub_end));
	if (!q->pub_end)
		return vblk_fail(ENOMEM, "vq %u", vq);
	q->nfree_slots = v->num;
	return 0;
}

void vblk_packed_free_vq(struct vblk_vq *q)
{
	free(q->pub_end);
}

uint32_t vblk_packed_base(const struct vblk *v, unsigned int vq)
{
	const struct vblk_vq *q = &v->vqs[vq];

	return vblk_packed_enc(v, q->avail_pos) | (uint32_t)vblk_packed_enc(v, q->used_pos) << 16;
}

int vblk_packed_req_new(struct vblk *v, struct vblk_req *r, struct vring_desc *t, unsigned int n,
			bool indirect)
{
	struct vblk_vq *q = &v->vqs[r->vq];
	unsigned int slots = indirect ? 1 : n;

	if (!q->nfree_ids || slots > q->nfree_slots)
		return vblk_fail(EAGAIN, "vq %u: %u slots free, %u needed", r->vq, q->nfree_slots,
				 slots);
	r->ndesc = slots;
	r->ids[0] = q->free_ids[--q->nfree_ids];
	q->nfree_slots -= slots;
	r->head = r->buf_id = r->ids[0];
	r->draft = NULL;
	r->ndraft = 0;
	r->table = NULL;
	r->ntable = 0;
	if (indirect) {
		r->ind = (struct vring_desc){
			.addr = vblk_gpa(v, t),
			.len = n * sizeof(*t),
			.flags = VRING_DESC_F_INDIRECT,
		};
		r->table = t;
		r->ntable = n;
	} else {
		r->draft = t;
		r->ndraft = n;
	}
	return 0;
}

void vblk_packed_req_unpublished(struct vblk *v, struct vblk_req *r)
{
	struct vblk_vq *q = &v->vqs[r->vq];

	q->free_ids[q->nfree_ids++] = r->ids[0];
	q->nfree_slots += r->ndesc;
}

/*
 * Make the chain @t[0..@n) available with buffer id @id: every descriptor
 * but the first, then the first one's flags.
 */
static void write_chain(struct vblk *v, struct vblk_vq *q, const struct vring_desc *t,
			unsigned int n, uint16_t id)
{
	uint64_t start = q->avail_pos;
	uint16_t head_flags = 0;

	for (unsigned int k = 0; k < n; k++) {
		struct vring_packed_desc *d = &q->pdesc[(start + k) % v->num];
		uint16_t flags =
			(t[k].flags & DESC_FLAGS) | (wrap_of(v, start + k) ? F_AVAIL : F_USED);

		d->addr = t[k].addr;
		d->len = t[k].len;
		d->id = id;
		if (k)
			d->flags = flags;
		else
			head_flags = flags;
	}
	__atomic_store_n(&q->pdesc[start % v->num].flags, head_flags, __ATOMIC_RELEASE);
	q->avail_pos += n;
	q->npub++;
	q->pub_end[q->npub % (v->num + 1)] = q->avail_pos;
	q->avail_idx++;
}

/* The drafted table becomes packed descriptors, in place (16 bytes each). */
static void table_to_packed(struct vring_desc *t, unsigned int n)
{
	for (unsigned int k = 0; k < n; k++) {
		struct vring_desc s = t[k];
		struct vring_packed_desc *p = (struct vring_packed_desc *)&t[k];

		p->addr = s.addr;
		p->len = s.len;
		p->id = 0;
		p->flags = s.flags & DESC_FLAGS;
	}
}

int vblk_packed_publish(struct vblk *v, struct vblk_req *r)
{
	struct vblk_vq *q = &v->vqs[r->vq];

	if (r->table) {
		table_to_packed(r->table, r->ntable);
		write_chain(v, q, &r->ind, 1, r->buf_id);
	} else {
		write_chain(v, q, r->draft, r->ndraft, r->buf_id);
	}
	return 0;
}

int vblk_packed_publish_head(struct vblk *v, unsigned int vq, uint16_t id)
{
	struct vring_desc d = {0};

	write_chain(v, &v->vqs[vq], &d, 1, id);
	return 0;
}

/* Is the used descriptor at @pos written?  Its id and len into @out. */
static bool used_at(const struct vblk *v, const struct vblk_vq *q, uint64_t pos,
		    struct vring_packed_desc *out)
{
	const struct vring_packed_desc *d = &q->pdesc[pos % v->num];
	uint16_t flags = __atomic_load_n(&d->flags, __ATOMIC_ACQUIRE);
	bool w = wrap_of(v, pos);

	if (!!(flags & F_AVAIL) != w || !!(flags & F_USED) != w)
		return false;
	out->id = d->id;
	out->len = d->len;
	return true;
}

int vblk_packed_collect(struct vblk *v, unsigned int vq, struct vblk_req **done, unsigned int max)
{
	struct vblk_vq *q = &v->vqs[vq];
	struct vring_packed_desc d;
	unsigned int n = 0;

	while (n < max && used_at(v, q, q->used_pos, &d)) {
		struct vblk_req *r = d.id < v->num ? q->by_head[d.id] : NULL;

		if (!r)
			return vblk_fail(
				EPROTO,
				"vq %u: used descriptor at slot %u has id %u, not in flight", vq,
				(unsigned int)(q->used_pos % v->num), d.id);
		q->by_head[d.id] = NULL;
		r->used_len = d.len;
		r->used_slot = q->used_pos % v->num;
		r->done = true;
		r->inflight = false;
		q->inflight--;
		q->free_ids[q->nfree_ids++] = r->ids[0];
		q->nfree_slots += r->ndesc;
		q->used_pos += r->ndesc;
		q->used_idx++;
		if (done)
			done[n] = r;
		n++;
	}
	return n;
}

uint16_t vblk_packed_used_idx(struct vblk *v, unsigned int vq)
{
	struct vblk_vq *q = &v->vqs[vq];
	uint64_t pos = q->used_pos;
	struct vring_packed_desc d;
	unsigned int seen = 0;

	while (seen < q->inflight && used_at(v, q, pos, &d)) {
		struct vblk_req *r = d.id < v->num ? q->by_head[d.id] : NULL;

		if (!r)
			break;
		pos += r->ndesc;
		seen++;
	}
	return q->used_idx + seen;
}

bool vblk_packed_kick_wanted(struct vblk *v, unsigned int vq)
{
	struct vblk_vq *q = &v->vqs[vq];
	uint16_t flags = __atomic_load_n(&q->device->flags, __ATOMIC_ACQUIRE);
	uint16_t lag = q->avail_idx - q->kicked_idx;
	int64_t old, event;

	if (flags == VRING_PACKED_EVENT_FLAG_DISABLE)
		return false;
	if (flags != VRING_PACKED_EVENT_FLAG_DESC ||
	    !(v->features & VBLK_BIT(VIRTIO_RING_F_EVENT_IDX)))
		return true;
	/* Published too long ago to know where: kick. */
	if (lag > v->num || lag > q->npub)
		return true;
	old = q->pub_end[(q->npub - lag) % (v->num + 1)];
	event = pos_near(v, q->device->off_wrap, q->avail_pos);
	return event >= old && event < (int64_t)q->avail_pos;
}

bool vblk_packed_arm(struct vblk *v, unsigned int vq)
{
	struct vblk_vq *q = &v->vqs[vq];
	struct vring_packed_desc d;

	if (v->features & VBLK_BIT(VIRTIO_RING_F_EVENT_IDX)) {
		q->driver->off_wrap = vblk_packed_enc(v, q->used_pos);
		__atomic_store_n(&q->driver->flags, VRING_PACKED_EVENT_FLAG_DESC, __ATOMIC_RELEASE);
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return used_at(v, q, q->used_pos, &d);
}

bool vblk_packed_taken(struct vblk *v, unsigned int vq)
{
	struct vblk_vq *q = &v->vqs[vq];

	return __atomic_load_n(&q->device->flags, __ATOMIC_ACQUIRE) ==
		       VRING_PACKED_EVENT_FLAG_DESC &&
	       q->device->off_wrap == vblk_packed_enc(v, q->avail_pos);
}

int vblk_packed_base_count(struct vblk *v, unsigned int vq, uint32_t base)
{
	struct vblk_vq *q = &v->vqs[vq];
	int64_t pos = pos_near(v, base & 0xffff, q->avail_pos);

	for (uint64_t k = 0; k <= v->num && k <= q->npub; k++)
		if ((int64_t)q->pub_end[(q->npub - k) % (v->num + 1)] == pos)
			return (uint16_t)(q->avail_idx - k);
	return vblk_fail(ERANGE, "vq %u: base %#x is not where a published buffer ends", vq, base);
}

int vblk_packed_set_pos(struct vblk *v, unsigned int vq, uint64_t pos)
{
	struct vblk_vq *q = &v->vqs[vq];
	struct vhost_vring_state st = {.index = vq};
	uint16_t used = wrap_of(v, pos) ? F_AVAIL | F_USED : 0, before = used ^ (F_AVAIL | F_USED);

	if (!v->packed || q->inflight)
		return vblk_fail(EINVAL, "vq %u: not a packed ring, or requests in flight", vq);
	/* Every slot used: in this lap before @pos, in the lap before after it. */
	for (unsigned int s = 0; s < v->num; s++)
		q->pdesc[s].flags = s < pos % v->num ? used : before;
	q->avail_pos = q->used_pos = pos;
	q->pub_end[q->npub % (v->num + 1)] = pos;
	st.num = vblk_packed_base(v, vq);
	if (ioctl(v->fd, VHOST_SET_VRING_BASE, &st))
		return vblk_fail(errno, "VHOST_SET_VRING_BASE %#x", st.num);
	return 0;
}
