// SPDX-License-Identifier: GPL-2.0
/*
 * blk_fuzz_test's packed ring layer (VIRTIO_F_RING_PACKED; virtio 1.1+,
 * "Packed Virtqueues"): what the fuzzer does differently when the device
 * serves packed rings.  The request model, the arena and the checks of
 * what a completed chain wrote are blk_fuzz_test.c's.
 *
 * A round's chains take consecutive slots from where the last round ended,
 * wrapping at the end of the ring; every slot a chain takes is written
 * before any chain of the round is published, and a chain is published by
 * writing its first slot's flags (AVAIL as its wrap counter, USED not).  A
 * chain goes on with NEXT into the next slot; a chain's walk never reaches
 * into another chain's slots (which the device may be rewriting with used
 * descriptors meanwhile).  Its buffer id is its last descriptor's; the
 * others carry random ones, which the device ignores, as it ignores the
 * flags' reserved bits.  An indirect table holds packed descriptors, all of
 * them read in order, every flag but WRITE (and INDIRECT, refused) meaning
 * nothing there.
 *
 * The model's ring rules are the module's (kernel/vhost/vq_packed.c):
 * malformed, so stopping the ring, are a chain longer than the slots not in
 * flight (the fuzzer makes it deterministic: only the first chain of a
 * round, none in flight, goes round the whole ring), an indirect descriptor
 * not negotiated, with NEXT, or not alone in its chain, an indirect table
 * empty, not of whole descriptors, over 1024 of them, outside guest memory,
 * or holding an indirect descriptor, and a buffer id past the ring; the
 * buffer rules (direction, guest memory) are the split ring's.  A buffer id
 * reused while in flight is malformed too, but whether it is still in
 * flight depends on timing: every chain of a round has its own id.
 *
 * The device writes used descriptors at its used slot, in order of
 * completion, each moving that slot on by the slots its chain took.  Every
 * one must carry a buffer id of the round not yet used, the used length the
 * model says, AVAIL and USED both as the wrap counter and WRITE as the
 * length is not 0 (in a used descriptor: the device wrote into the buffer);
 * the rest of the ring must stay as the fuzzer wrote it.
 */
#include <string.h>

#include "fuzz.h"

#define F_AVAIL (1U << VRING_PACKED_DESC_F_AVAIL)
#define F_USED (1U << VRING_PACKED_DESC_F_USED)
#define WRAP_BIT (1U << VRING_PACKED_EVENT_F_WRAP_CTR)
#define DESC_FLAGS (VRING_DESC_F_NEXT | VRING_DESC_F_WRITE | VRING_DESC_F_INDIRECT)
/* Bits of a ring descriptor's flags with no meaning: the device ignores them. */
#define RESERVED_FLAGS (0xffff & ~(DESC_FLAGS | F_AVAIL | F_USED))

/* The wrap counter of the lap position @pos is in: 1 in even laps. */
static bool wrap_of(uint64_t pos)
{
	return !((pos / FZ_QSIZE) & 1);
}

static uint16_t avail_flags(uint64_t pos)
{
	return wrap_of(pos) ? F_AVAIL : F_USED;
}

static uint16_t used_flags(uint64_t pos)
{
	return wrap_of(pos) ? F_AVAIL | F_USED : 0;
}

/* Slot and wrap counter, as VHOST_*_VRING_BASE have them. */
static uint16_t enc(uint64_t pos)
{
	return pos % FZ_QSIZE | (wrap_of(pos) ? WRAP_BIT : 0);
}

static unsigned int vq_of(struct fz *f, struct fz_vq *fq)
{
	return fq - f->q;
}

void fzp_init(struct fz *f, unsigned int q)
{
	struct vblk_vq *vq = &f->v->vqs[q];
	struct fz_vq *fq = &f->q[q];

	memcpy(fq->ring_want, vq->pdesc, sizeof(fq->ring_want));
	fq->pnext = vq->avail_pos;
}

void fzp_round_start(struct fz *f, unsigned int q)
{
	struct fz_vq *fq = &f->q[q];

	fq->pstart = fq->pnext;
	memset(fq->id_taken, 0, sizeof(fq->id_taken));
	fq->whole = chance(f, 2);
	f->whole_ring += fq->whole;
}

/* ---- the model's ring rules ---- */

/* An indirect table of packed descriptors: every one, in order. */
static bool walk_table(struct fz_walk *w, const struct vring_packed_desc *ind)
{
	const struct vring_packed_desc *t;
	unsigned int count, i;

	if (!ind->len || ind->len % sizeof(*t))
		return fz_walk_err(w, "indirect table length");
	count = ind->len / sizeof(*t);
	if (count > FZ_MAX_INDIRECT)
		return fz_walk_err(w, "indirect table too long");
	t = gmem(w->f, ind->addr, ind->len);
	if (!t)
		return fz_walk_err(w, "indirect table outside guest memory");
	for (i = 0; i < count; i++) {
		if (t[i].flags & VRING_DESC_F_INDIRECT)
			return fz_walk_err(w, "nested indirect");
		if (!fz_walk_buf(w, t[i].addr, t[i].len, t[i].flags & VRING_DESC_F_WRITE))
			return false;
	}
	return true;
}

bool fzp_walk_chain(struct fz_walk *w, unsigned int q, struct fz_chain *c)
{
	struct fz *f = w->f;
	struct fz_vq *fq = &f->q[q];
	/* The slots not in flight, at least: the round's chains before it may be. */
	unsigned int limit = FZ_QSIZE - (unsigned int)(c->pos - fq->pstart);
	const struct vring_packed_desc *d;
	uint64_t p = c->pos;

	c->slots = 0;
	do {
		if (++c->slots > limit)
			return fz_walk_err(w, "chain longer than the free slots");
		if (c->slots > c->laid) {
			f->stray = true;
			return fz_walk_err(w, "FUZZER BUG: the chain runs into the next one");
		}
		d = &fq->ring_want[p++ % FZ_QSIZE];
		if (d->flags & VRING_DESC_F_INDIRECT) {
			if (!(f->features & VBLK_BIT(VIRTIO_RING_F_INDIRECT_DESC)))
				return fz_walk_err(w, "indirect not negotiated");
			if (d->flags & VRING_DESC_F_NEXT)
				return fz_walk_err(w, "indirect with NEXT");
			if (c->slots > 1)
				return fz_walk_err(w, "indirect inside a chain");
			if (!walk_table(w, d))
				return false;
		} else if (!fz_walk_buf(w, d->addr, d->len, d->flags & VRING_DESC_F_WRITE)) {
			return false;
		}
	} while (d->flags & VRING_DESC_F_NEXT);
	/* The buffer id is the last descriptor's. */
	if (d->id >= FZ_QSIZE)
		return fz_walk_err(w, "buffer id past the ring");
	if (d->id != c->head) {
		f->stray = true;
		return fz_walk_err(w, "FUZZER BUG: not the chain's buffer id");
	}
	return true;
}

/* ---- laying out chains ---- */

/* A buffer id no other chain of the round has. */
static uint16_t pick_id(struct fz *f, struct fz_vq *fq)
{
	uint16_t id;

	do
		id = below(f, FZ_QSIZE);
	while (fq->id_taken[id]);
	fq->id_taken[id] = 1;
	return id;
}

/* Slot @p as it must read: now, but for the flags of a chain's first slot. */
static void put_slot(struct fz *f, struct fz_vq *fq, uint64_t p, const struct vring_packed_desc *d,
		     bool head)
{
	struct vring_packed_desc *r = &f->v->vqs[vq_of(f, fq)].pdesc[p % FZ_QSIZE];

	fq->ring_want[p % FZ_QSIZE] = *d;
	r->addr = d->addr;
	r->len = d->len;
	r->id = d->id;
	if (!head)
		r->flags = d->flags;
}

/* Write @n descriptors of @l as chain @c (each but the last with NEXT, added). */
static void put_chain(struct fz *f, struct fz_vq *fq, struct fz_chain *c,
		      const struct vring_desc *l, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		uint64_t p = c->pos + i;
		struct vring_packed_desc d = {
			.addr = l[i].addr,
			.len = l[i].len,
			.id = i + 1 < n && chance(f, 20) ? (uint16_t)rnd(f) : c->head,
			.flags = (l[i].flags & DESC_FLAGS) | (i + 1 < n ? VRING_DESC_F_NEXT : 0) |
				 avail_flags(p),
		};

		if (chance(f, 3))
			d.flags |= rnd(f) & RESERVED_FLAGS;

		if (!i)
			c->head_flags = d.flags;
		put_slot(f, fq, p, &d, !i);
	}
	c->laid = n;
	fq->pnext += n;
}

/*
 * The round's only chain, round the whole ring: its header, then empty
 * readable buffers up to the rest of @l, exactly as many slots as the ring
 * has (well-formed); or every slot with NEXT, so that the device finds no
 * end before it runs out of slots.
 */
static void place_whole(struct fz_area *a, struct fz_list *l)
{
	static struct vring_desc r[FZ_QSIZE];
	struct fz *f = a->f;
	struct fz_chain *c = a->c;
	unsigned int i, pad;

	c->head = pick_id(f, a->fq);
	c->pos = a->fq->pnext;
	if (l->n <= FZ_QSIZE && chance(f, 50)) {
		pad = FZ_QSIZE - l->n;
		r[0] = l->d[0];
		for (i = 1; i <= pad; i++)
			r[i] = (struct vring_desc){.addr = l->d[0].addr, .len = 0};
		memcpy(&r[1 + pad], &l->d[1], (l->n - 1) * sizeof(r[0]));
		c->what = "whole ring";
		put_chain(f, a->fq, c, r, FZ_QSIZE);
		return;
	}
	/* Empty readable buffers after the header, or some of the chain's too. */
	pad = chance(f, 50) ? 100 : 50;
	for (i = 0; i < FZ_QSIZE; i++) {
		if (!i || chance(f, pad))
			r[i] = (struct vring_desc){.addr = l->d[0].addr, .len = !i * l->d[0].len};
		else
			r[i] = l->d[i % l->n];
		r[i].flags |= VRING_DESC_F_NEXT;
	}
	c->what = "endless chain";
	put_chain(f, a->fq, c, r, FZ_QSIZE);
}

/* Damage the table of @nt descriptors at @t (room for @room): the model judges it. */
static void damage_table(struct fz *f, struct fz_chain *c, struct vring_desc *ind,
			 struct vring_packed_desc *t, unsigned int nt, unsigned int room)
{
	switch (below(f, 4)) {
	case 0:
		t[below(f, nt)].flags |= VRING_DESC_F_INDIRECT;
		c->what = "nested indirect";
		break;
	case 1:
		ind->len -= 1 + below(f, 15);
		c->what = "indirect length not whole";
		break;
	case 2:
		ind->addr = fz_bad_addr(f, ind->len);
		c->what = "indirect table elsewhere";
		break;
	default:
		/* Garbage after the table, read as more of it. */
		ind->len = room * sizeof(*t);
		c->what = "indirect table with garbage";
		break;
	}
}

void fzp_place(struct fz_area *a, struct fz_list *l, bool bad_next)
{
	struct fz *f = a->f;
	struct fz_vq *fq = a->fq;
	struct fz_chain *c = a->c;
	bool indirect = (f->features & VBLK_BIT(VIRTIO_RING_F_INDIRECT_DESC)) && chance(f, 35);
	bool bad_id = !strcmp(c->what, "buffer id past the ring");
	struct vring_packed_desc *t = NULL;
	unsigned int direct = l->n, i;

	if (fq->whole) {
		place_whole(a, l);
		return;
	}
	/* Long chains go to a table, negotiated or not. */
	if (l->n > FZ_RING_CAP)
		indirect = true;
	/* Descriptors before a table: malformed in a packed ring. */
	if (indirect)
		direct = chance(f, 3) && l->n > 2 ? 1 + below(f, l->n - 2 < 8 ? l->n - 2 : 8) : 0;
	if (direct && indirect)
		c->what = "indirect inside a chain";

	if (indirect) {
		unsigned int nt = l->n - direct, room = nt + (bad_next ? 1 + below(f, 4) : 0);
		uint64_t gpa = fz_area_alloc(a, room * sizeof(*t), 16);
		bool next = chance(f, 30); /* NEXT means nothing in a table */

		t = gmem(f, gpa, room * sizeof(*t));
		for (i = 0; i < room; i++) {
			const struct vring_desc *d;

			if (i >= nt) {
				/* Garbage: a copy of an entry, its direction maybe flipped. */
				t[i] = t[below(f, nt)];
				t[i].flags ^= chance(f, 50) ? VRING_DESC_F_WRITE : 0;
				t[i].len = below(f, 64);
				continue;
			}
			d = &l->d[direct + i];
			t[i] = (struct vring_packed_desc){
				.addr = d->addr,
				.len = d->len,
				.id = chance(f, 10) ? (uint16_t)rnd(f) : 0,
				.flags = (d->flags & DESC_FLAGS) |
					 (next && i + 1 < nt ? VRING_DESC_F_NEXT : 0),
			};
			/* Only WRITE means anything there (and INDIRECT is refused). */
			if (chance(f, 5))
				t[i].flags |=
					rnd(f) & ~(VRING_DESC_F_WRITE | VRING_DESC_F_INDIRECT);
		}
		/* The device ignores WRITE in a descriptor that points to a table. */
		l->d[direct] = (struct vring_desc){
			.addr = gpa,
			.len = nt * sizeof(*t),
			.flags = VRING_DESC_F_INDIRECT | (chance(f, 10) ? VRING_DESC_F_WRITE : 0),
		};
		l->n = direct + 1;
		if (bad_next && chance(f, 60)) {
			damage_table(f, c, &l->d[direct], t, nt, room);
			bad_next = false;
		}
	}
	c->head = pick_id(f, fq);
	if (bad_id)
		c->head = FZ_QSIZE + below(f, 0x10000 - FZ_QSIZE);
	c->pos = fq->pnext;
	if (bad_next) {
		/*
		 * The last descriptor goes on (an indirect one: INDIRECT with
		 * NEXT) into one more, of garbage, that ends the chain.
		 */
		l->d[l->n] = (struct vring_desc){
			.addr = l->d[0].addr,
			.len = below(f, 16),
			.flags = chance(f, 50) ? VRING_DESC_F_WRITE : 0,
		};
		if (chance(f, 50)) {
			l->d[l->n].len = 1 + below(f, 64);
			l->d[l->n].addr = fz_bad_addr(f, l->d[l->n].len);
		}
		l->n++;
	}
	put_chain(f, fq, c, l->d, l->n);
}

/* ---- publishing and reaping ---- */

void fzp_publish(struct fz *f, unsigned int q)
{
	struct fz_vq *fq = &f->q[q];
	struct vblk_vq *vq = &f->v->vqs[q];

	for (unsigned int i = 0; i < fq->nchains; i++) {
		struct fz_chain *c = &fq->chains[i];

		__atomic_store_n(&vq->pdesc[c->pos % FZ_QSIZE].flags, c->head_flags,
				 __ATOMIC_RELEASE);
		vq->avail_idx++;
	}
	vq->avail_pos = fq->pnext;
}

int fzp_reap(struct fz *f, unsigned int q)
{
	struct fz_vq *fq = &f->q[q];
	struct vblk_vq *vq = &f->v->vqs[q];

	for (;;) {
		uint64_t p = vq->used_pos;
		struct vring_packed_desc *d = &vq->pdesc[p % FZ_QSIZE];
		uint16_t flags = __atomic_load_n(&d->flags, __ATOMIC_ACQUIRE);
		bool w = wrap_of(p);
		struct fz_chain *c = NULL;
		uint16_t id = d->id;
		uint32_t len = d->len;
		uint16_t want;

		if (!!(flags & F_AVAIL) != w || !!(flags & F_USED) != w)
			return 0;
		/* WRITE: the device wrote into the buffer, and says how much. */
		want = used_flags(p) | (len ? VRING_DESC_F_WRITE : 0);
		if (flags != want)
			return fz_fail(f, "vq %u: used descriptor at slot %u: flags %#x, not %#x",
				       q, (unsigned int)(p % FZ_QSIZE), flags, want);
		for (unsigned int i = 0; i < fq->stops && !c; i++)
			if (fq->chains[i].head == id && !fq->chains[i].done)
				c = &fq->chains[i];
		if (fz_complete(f, q, id, len)) {
			char why[sizeof(f->err)];

			memcpy(why, f->err, sizeof(why));
			return fz_fail(f, "%s (used descriptor at slot %u, position %llu)", why,
				       (unsigned int)(p % FZ_QSIZE), (unsigned long long)p);
		}
		fq->ring_want[p % FZ_QSIZE].id = id;
		fq->ring_want[p % FZ_QSIZE].len = len;
		fq->ring_want[p % FZ_QSIZE].flags = want;
		vq->used_pos += c->slots;
		vq->used_idx++;
	}
}

uint32_t fzp_stop_base(struct fz *f, unsigned int q)
{
	uint64_t pos = f->q[q].chains[f->q[q].stops].pos;

	return enc(pos) | (uint32_t)enc(pos) << 16;
}

uint32_t fzp_restart_base(struct fz *f, unsigned int q)
{
	struct vblk_vq *vq = &f->v->vqs[q];

	vq->avail_pos = vq->used_pos = f->q[q].pnext;
	return enc(vq->avail_pos) | (uint32_t)enc(vq->used_pos) << 16;
}

int fzp_check_ring(struct fz *f, unsigned int q)
{
	const struct vring_packed_desc *r = f->v->vqs[q].pdesc, *want = f->q[q].ring_want;

	for (unsigned int s = 0; s < FZ_QSIZE; s++) {
		if (!memcmp(&r[s], &want[s], sizeof(*r)))
			continue;
		return fz_fail(f,
			       "vq %u: ring slot %u is addr %#llx len %u id %u flags %#x, not addr "
			       "%#llx len %u id %u flags %#x",
			       q, s, (unsigned long long)r[s].addr, r[s].len, r[s].id, r[s].flags,
			       (unsigned long long)want[s].addr, want[s].len, want[s].id,
			       want[s].flags);
	}
	return 0;
}
