// SPDX-License-Identifier: GPL-2.0
/*
 * A ring fuzzer for /dev/vhost-blk.  Round after round, on two virtqueues at
 * once, it lays out random descriptor chains, valid ones in every layout
 * (split headers, zero-length and merged descriptors, indirect tables, long
 * chains, unaligned buffers) and hostile ones (addresses outside and
 * straddling guest memory or near 2^64, huge and zero lengths, chains longer
 * than the ring or than 1024 segments, bad and nested indirect tables,
 * readable after writable, random headers and types, sectors near 2^64,
 * wrong data directions), and a reference model of the documented contract
 * says what the device must do with each: complete it with a given status,
 * used length and data, or stop the virtqueue at it and signal the error
 * eventfd.
 *
 * Both ring layouts: split rings by default, packed rings under
 * VBLK_RING=packed (every variant then negotiates VIRTIO_F_RING_PACKED).
 * On a split ring a chain is linked by next indexes: hostile ones add loops,
 * nexts out of range, bogus avail heads and avail index jumps.  On a packed
 * ring (fuzz_packed.c) a round's chains take consecutive slots from where
 * the last round ended, wrapping round the ring and its wrap counters
 * (which start anywhere in the first two laps); hostile ones add garbage
 * slots after a chain, INDIRECT with NEXT or inside a chain, tables of
 * packed descriptors damaged, buffer ids past the ring, and now and then a
 * round's only chain takes every slot of the ring, well-formed or with no
 * end.  The request model, the arena and the checks are shared.
 *
 * After each round every used entry (split: the used ring; packed: used
 * descriptors written in place, in order of completion) must be a chain the
 * model completes, each exactly once, with its status, its used length and,
 * for a read, the backend's data (a shadow copy); a packed ring must
 * otherwise be as the fuzzer wrote it.  A stopped virtqueue must stop
 * exactly at the first malformed chain (GET_VRING_BASE says where: split,
 * the avail index; packed, the avail and the used slot with their wrap
 * counters), and is then restarted past the round (backend detached,
 * SET_VRING_BASE, attached again).  Every byte of the virtqueue's buffer
 * area the device had no business writing must be as the fuzzer left it.
 * Nothing may take longer than VBLK_TIMEOUT_MS.  In the end a fresh device
 * must read back the whole shadow.
 *
 * Seeded: the seed is printed, VHB_SEED repeats a run, VHB_TEST_MS sets how
 * long each case fuzzes (stress.h).  Reports the chains fuzzed, in total and
 * per second.  Runs in a VM with the module loaded.
 */
#include <stdarg.h>

#include "blk_io.h"
#include "fuzz.h"
#include "stress.h"

#define T_FLUSH VIRTIO_BLK_T_FLUSH
#define T_GET_ID VIRTIO_BLK_T_GET_ID
#define T_DISCARD VIRTIO_BLK_T_DISCARD
#define T_WZ VIRTIO_BLK_T_WRITE_ZEROES

int fz_fail(struct fz *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->err, sizeof(f->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* Segments (memory regions) a buffer of @len > 0 bytes crosses. */
static unsigned int segments(struct fz *f, uint64_t gpa, uint32_t len)
{
	return 1 + (gpa < f->v->split && gpa + len > f->v->split);
}

/* ---- the model ---- */

bool fz_walk_err(struct fz_walk *w, const char *why)
{
	w->why = why;
	return false;
}

/*
 * One buffer of the chain.  An empty buffer is nowhere, but it has a
 * direction.  A chain over 1024 segments or 64 MiB is still well-formed: the
 * device completes it with an error.
 */
bool fz_walk_buf(struct fz_walk *w, uint64_t addr, uint32_t len, bool wr)
{
	struct fz_chain *c = w->c;
	unsigned int n;

	if (!wr && w->writable)
		return fz_walk_err(w, "readable after writable");
	w->writable |= wr;
	w->ndesc++;
	if (len > w->max_len)
		w->max_len = len;
	w->total += len;
	if (w->total > FZ_MAX_BYTES)
		w->oversized = true;
	if (len && !gmem(w->f, addr, len))
		return fz_walk_err(w, "buffer outside guest memory");
	n = len ? segments(w->f, addr, len) : 0;
	if (w->nseg + n > FZ_MAX_IOV)
		w->oversized = true;
	w->nseg += n;
	if (!len)
		return true;
	if (wr) {
		w->status = addr + len - 1;
		w->has_status = true;
	}
	if (c->niov < FZ_MAX_IOV + 8)
		c->iov[c->niov++] = (struct fz_iov){.gpa = addr, .len = len, .w = wr};
	return true;
}

static bool walk_add(struct fz_walk *w, const struct vring_desc *d)
{
	return fz_walk_buf(w, d->addr, d->len, d->flags & VRING_DESC_F_WRITE);
}

static bool walk_indirect(struct fz_walk *w, const struct vring_desc *ind)
{
	const struct vring_desc *t;
	unsigned int count, found = 0, i = 0;

	if (!(w->f->features & VBLK_BIT(VIRTIO_RING_F_INDIRECT_DESC)))
		return fz_walk_err(w, "indirect not negotiated");
	if (ind->flags & VRING_DESC_F_NEXT)
		return fz_walk_err(w, "indirect with NEXT");
	if (!ind->len || ind->len % sizeof(*t))
		return fz_walk_err(w, "indirect table length");
	count = ind->len / sizeof(*t);
	if (count > FZ_MAX_INDIRECT)
		return fz_walk_err(w, "indirect table too long");
	t = gmem(w->f, ind->addr, ind->len);
	if (!t)
		return fz_walk_err(w, "indirect table outside guest memory");
	for (;;) {
		if (++found > count)
			return fz_walk_err(w, "loop in indirect table");
		if (t[i].flags & VRING_DESC_F_INDIRECT)
			return fz_walk_err(w, "nested indirect");
		if (!walk_add(w, &t[i]))
			return false;
		if (!(t[i].flags & VRING_DESC_F_NEXT))
			return true;
		i = t[i].next;
		if (i >= count)
			return fz_walk_err(w, "indirect next out of range");
	}
}

/* The ring rules: false (and w->why) when the device must stop at @head. */
static bool walk_chain(struct fz_walk *w, unsigned int q, uint16_t head)
{
	const struct vring_desc *ring = w->f->v->vqs[q].vr.desc;
	unsigned int found = 0, i = head;

	if (head >= FZ_QSIZE)
		return fz_walk_err(w, "avail head out of range");
	for (;;) {
		const struct vring_desc *d = &ring[i];

		if (++found > FZ_QSIZE)
			return fz_walk_err(w, "loop in chain");
		if (d->flags & VRING_DESC_F_INDIRECT) {
			if (!walk_indirect(w, d))
				return false;
		} else if (!walk_add(w, d)) {
			return false;
		}
		if (!(d->flags & VRING_DESC_F_NEXT))
			return true;
		i = d->next;
		if (i >= FZ_QSIZE)
			return fz_walk_err(w, "next out of range");
	}
}

/* Copy @len bytes at byte @off of the chain's readable (or writable) space. */
static void gather(struct fz *f, const struct fz_chain *c, bool w, uint64_t off, void *buf,
		   uint64_t len)
{
	uint8_t *p = buf;

	for (unsigned int i = 0; i < c->niov && len; i++) {
		const struct fz_iov *v = &c->iov[i];
		uint64_t n;

		if (v->w != w)
			continue;
		if (off >= v->len) {
			off -= v->len;
			continue;
		}
		n = v->len - off < len ? v->len - off : len;
		memcpy(p, gmem(f, v->gpa + off, n), n);
		p += n;
		len -= n;
		off = 0;
	}
}

/* Inside the capacity the limits give (the backend's size by default)? */
static bool in_range(struct fz *f, uint64_t sector, uint64_t len)
{
	uint64_t pos, size = f->limits.capacity * VBLK_SECTOR;

	if (sector > (UINT64_MAX >> 9))
		return false;
	pos = sector << 9;
	return pos <= size && len <= size - pos;
}

static void expect(struct fz_chain *c, uint8_t s0, uint8_t s1, uint32_t written)
{
	c->status[0] = s0;
	c->status[1] = s1;
	c->used_len = s0 == S_OK && s1 == S_OK ? written + 1 : 0;
}

/*
 * DISCARD and WRITE_ZEROES, against the limits: malformed is IOERR, more
 * segments or bytes than allowed UNSUPP and IOERR, segments checked in
 * order, the first bad one deciding.
 */
static void model_dwz(struct fz *f, struct fz_chain *c)
{
	bool discard = c->type == T_DISCARD;
	uint64_t max_bytes = (uint64_t)(discard ? f->limits.max_discard_sectors
						: f->limits.max_write_zeroes_sectors)
			     << 9;
	unsigned int max_seg = discard ? f->limits.max_discard_seg : f->limits.max_write_zeroes_seg;
	struct virtio_blk_discard_write_zeroes seg;
	unsigned int n = c->out_len / sizeof(seg);

	if (c->in_len || !c->out_len || c->out_len % sizeof(seg)) {
		expect(c, S_IOERR, S_IOERR, 0);
		return;
	}
	if (!max_bytes || n > max_seg) {
		expect(c, S_UNSUPP, S_UNSUPP, 0);
		return;
	}
	for (unsigned int i = 0; i < n; i++) {
		uint64_t len;

		gather(f, c, false, 16 + i * sizeof(seg), &seg, sizeof(seg));
		len = (uint64_t)seg.num_sectors << 9;
		if ((seg.flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) || (discard && seg.flags)) {
			expect(c, S_UNSUPP, S_UNSUPP, 0);
			return;
		}
		if (len > max_bytes || !in_range(f, seg.sector, len)) {
			expect(c, S_IOERR, S_IOERR, 0);
			return;
		}
	}
	/* The backend may not discard at all. */
	if (discard)
		expect(c, S_OK, S_UNSUPP, 0);
	else
		expect(c, S_OK, S_OK, 0);
}

/* What the device must do with the chain at @head of vq @q. */
static void model(struct fz *f, unsigned int q, struct fz_chain *c)
{
	struct fz_walk w = {.f = f, .c = c};
	struct virtio_blk_outhdr hdr;
	uint64_t rd = 0, wr = 0;

	c->niov = 0;
	c->ring_err = f->packed ? !fzp_walk_chain(&w, q, c) : !walk_chain(&w, q, c->head);
	if (!c->ring_err && !w.has_status) {
		c->ring_err = true;
		w.why = "no writable status byte";
		f->no_status++;
	}
	if (c->ring_err) {
		c->what = w.why;
		return;
	}
	/* The fuzzer's own rule: a chain the device may serve stays in its part. */
	for (unsigned int i = 0; i < c->niov; i++) {
		uint64_t lo = f->q[q].arena_gpa + c->area;

		if (c->iov[i].gpa < lo || c->iov[i].gpa + c->iov[i].len > lo + c->extent) {
			c->what = "FUZZER BUG: a buffer outside the chain's part";
			c->ring_err = true;
			f->stray = true;
			return;
		}
	}
	c->status_gpa = w.status;
	c->type = ~0U;
	if (w.oversized) {
		/* Nothing but the status is written: used length 1. */
		c->what = "oversized, well-formed";
		c->max_used = 1;
		expect(c, S_IOERR, S_IOERR, 0);
		return;
	}
	for (unsigned int i = 0; i < c->niov; i++)
		*(c->iov[i].w ? &wr : &rd) += c->iov[i].len;
	c->max_used = wr;
	c->in_len = wr - 1;
	/* The VMM's segment limits (the header and status may take one each). */
	if ((f->limits.seg_max && w.ndesc > f->limits.seg_max + 2) ||
	    (f->limits.size_max && w.max_len > f->limits.size_max)) {
		c->what = "over the segment limits";
		expect(c, S_IOERR, S_IOERR, 0);
		return;
	}
	if (rd < sizeof(hdr)) {
		expect(c, S_IOERR, S_IOERR, 0);
		return;
	}
	gather(f, c, false, 0, &hdr, sizeof(hdr));
	c->type = hdr.type;
	c->sector = hdr.sector;
	c->out_len = rd - sizeof(hdr);
	switch (c->type) {
	case T_IN:
		if (c->out_len || c->in_len % VBLK_SECTOR || !in_range(f, c->sector, c->in_len))
			expect(c, S_IOERR, S_IOERR, 0);
		else
			expect(c, S_OK, S_OK, c->in_len);
		break;
	case T_OUT:
		if (c->in_len || c->out_len % VBLK_SECTOR || !in_range(f, c->sector, c->out_len))
			expect(c, S_IOERR, S_IOERR, 0);
		else
			expect(c, S_OK, S_OK, 0);
		break;
	case T_FLUSH:
		if (c->in_len || c->out_len)
			expect(c, S_IOERR, S_IOERR, 0);
		else
			expect(c, S_OK, S_OK, 0);
		break;
	case T_GET_ID:
		if (c->out_len)
			expect(c, S_IOERR, S_IOERR, 0);
		else
			expect(c, S_OK, S_OK,
			       c->in_len < VBLK_SERIAL_LEN ? c->in_len : VBLK_SERIAL_LEN);
		break;
	case T_DISCARD:
	case T_WZ:
		model_dwz(f, c);
		break;
	default:
		expect(c, S_UNSUPP, S_UNSUPP, 0);
	}
}

/* ---- laying out chains ---- */

/* @len bytes, mostly at a multiple of @align. */
uint64_t fz_area_alloc(struct fz_area *a, uint32_t len, uint32_t align)
{
	uint32_t off = a->off;

	if (chance(a->f, 20))
		off += below(a->f, 256);
	if (chance(a->f, 70) && align > 1)
		off = (off + align - 1) / align * align;
	else
		off += below(a->f, 16);
	if (off + len > a->end)
		off = a->end - len; /* never: the parts are larger than a chain */
	a->off = off + len;
	return a->fq->arena_gpa + a->c->area + off;
}

static void list_add(struct fz_list *l, uint64_t gpa, uint32_t len, bool w)
{
	if (l->n < FZ_MAX_DESC)
		l->d[l->n++] = (struct vring_desc){
			.addr = gpa, .len = len, .flags = w ? VRING_DESC_F_WRITE : 0};
}

/* Cut [gpa, gpa + len) into @pieces descriptors, some of zero length. */
static void list_cut(struct fz *f, struct fz_list *l, uint64_t gpa, uint32_t len,
		     unsigned int pieces, bool w)
{
	uint32_t cap = pieces > 16 ? 2 * len / pieces : 4096;

	if (!cap)
		cap = 1;
	while (len && pieces > 1) {
		uint32_t n = 1 + below(f, len < cap ? len : cap);

		if (chance(f, 50))
			n = (n + 511) / 512 * 512 < len ? (n + 511) / 512 * 512 : n;
		if (n > len)
			n = len;
		list_add(l, gpa, n, w);
		if (chance(f, 5))
			list_add(l, gpa + n, 0, w);
		gpa += n;
		len -= n;
		pieces--;
	}
	if (len || !l->n)
		list_add(l, gpa, len, w);
}

/* A free range of @len bytes of the span for this round, or false. */
static bool span_take(struct fz *f, uint32_t len, uint64_t *sector)
{
	for (int tries = 0; tries < 8; tries++) {
		uint64_t s = below(f, (FZ_SPAN - len) / VBLK_SECTOR + 1), c;
		uint64_t first = s * VBLK_SECTOR / CHUNK,
			 last = (s * VBLK_SECTOR + len - 1) / CHUNK;

		for (c = first; c <= last && !f->busy[c]; c++)
			;
		if (c <= last)
			continue;
		memset(f->busy + first, 1, last - first + 1);
		*sector = s;
		return true;
	}
	return false;
}

/* A random type: mostly reads and writes, some others, some unknown. */
static uint32_t pick_type(struct fz *f)
{
	static const uint32_t types[] = {
		T_IN,  T_IN,    T_IN,     T_IN, T_OUT, T_OUT,     T_OUT,
		T_OUT, T_FLUSH, T_GET_ID, T_WZ, T_WZ,  T_DISCARD, VIRTIO_BLK_T_SCSI_CMD};

	if (chance(f, 8))
		return 64 + (uint32_t)below(f, UINT32_MAX - 64);
	return types[below(f, sizeof(types) / sizeof(types[0]))];
}

/* The data of a DISCARD or WRITE_ZEROES: segments inside the span. */
static uint32_t dwz_segments(struct fz *f, uint8_t *buf, uint32_t type)
{
	struct virtio_blk_discard_write_zeroes seg;
	unsigned int n = 1 + below(f, 4), i;
	uint64_t sector;

	for (i = 0; i < n; i++) {
		uint32_t nsec = 1 + below(f, 64);

		if (!span_take(f, nsec * VBLK_SECTOR, &sector))
			break;
		seg = (struct virtio_blk_discard_write_zeroes){
			.sector = sector,
			.num_sectors = nsec,
			.flags = type == T_WZ && chance(f, 50) ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP
							       : 0,
		};
		memcpy(buf + i * sizeof(seg), &seg, sizeof(seg));
	}
	return i * sizeof(seg);
}

/* Mutations: each may or may not make the chain invalid; the model decides. */
static void mutate_request(struct fz *f, struct fz_chain *c, struct virtio_blk_outhdr *hdr,
			   uint32_t *len, bool *data_w)
{
	switch (below(f, 7)) {
	case 0:
		hdr->sector = UINT64_MAX - below(f, 1 << 20);
		c->what = "sector near 2^64";
		break;
	case 1:
		hdr->sector = FZ_BACKEND_SIZE / VBLK_SECTOR - below(f, 16);
		c->what = "sector at the end";
		break;
	case 2:
		hdr->sector = rnd(f);
		c->what = "random sector";
		break;
	case 3:
		if (*len > 1)
			*len -= 1 + below(f, *len - 1 < 511 ? *len - 1 : 511);
		c->what = "length not whole sectors";
		break;
	case 4:
		*data_w = !*data_w;
		c->what = "data in the wrong direction";
		break;
	case 5:
		hdr->type = (uint32_t)rnd(f);
		c->what = "random type";
		break;
	default:
		hdr->ioprio = (uint32_t)rnd(f);
		c->what = "random ioprio";
		break;
	}
}

/* A bogus address for a buffer of @len bytes. */
uint64_t fz_bad_addr(struct fz *f, uint32_t len)
{
	uint64_t m = f->v->mem_size;

	switch (below(f, 5)) {
	case 0:
		return m - below(f, len ? len : 1); /* straddles the end */
	case 1:
		return m + below(f, 1 << 30);
	case 2:
		return UINT64_MAX - below(f, 1 << 16); /* wraps */
	case 3:
		return rnd(f);
	default:
		return m;
	}
}

static void mutate_ring(struct fz *f, struct fz_chain *c, struct fz_list *l)
{
	struct vring_desc *d = &l->d[below(f, l->n)];

	switch (below(f, f->packed ? 8 : 7)) {
	case 0:
		if (!d->len)
			d->len = 1 + below(f, 4096);
		d->addr = fz_bad_addr(f, d->len);
		c->what = "bad address";
		break;
	case 1:
		d->len = chance(f, 50) ? UINT32_MAX - (uint32_t)below(f, 4096)
				       : FZ_MAX_BYTES + (uint32_t)below(f, 1 << 20);
		c->what = "huge length";
		break;
	case 2:
		d->len = 0;
		c->what = "zero length";
		break;
	case 3:
		d->flags ^= VRING_DESC_F_WRITE;
		c->what = "flipped direction";
		break;
	case 4:
		/* Loops and bad indexes are set once the chain is placed. */
		c->what = "bad next";
		break;
	case 5:
		d->flags |= VRING_DESC_F_INDIRECT;
		c->what = "stray indirect flag";
		break;
	case 7:
		/* Packed: the buffer id fzp_place() gives the chain. */
		c->what = "buffer id past the ring";
		break;
	default: {
		/*
		 * Around the segment limit: the first readable buffer again
		 * and again, before the rest.
		 */
		unsigned int m = FZ_MAX_IOV - 24 + below(f, 48), i;

		c->what = "around 1024 segments";
		if (m + l->n > FZ_MAX_DESC)
			m = FZ_MAX_DESC - l->n;
		memmove(&l->d[1 + m], &l->d[1], (l->n - 1) * sizeof(l->d[0]));
		for (i = 1; i <= m; i++)
			l->d[i] = l->d[0];
		l->n += m;
		break;
	}
	}
}

/*
 * Place @l as chain @c: in the ring, in an indirect table, or both (direct
 * descriptors followed by an indirect one).  @bad_next: then damage a next.
 */
static void place(struct fz_area *a, struct fz_list *l, bool bad_next)
{
	struct fz *f = a->f;
	struct fz_vq *fq = a->fq;
	struct vring_desc *ring = f->v->vqs[fq - f->q].vr.desc;
	bool indirect = (f->features & VBLK_BIT(VIRTIO_RING_F_INDIRECT_DESC)) && chance(f, 35);
	struct vring_desc *t = NULL, *last;
	unsigned int direct = l->n, i;
	uint16_t id;

	/* Long chains go to a table, negotiated or not. */
	if (l->n > FZ_RING_CAP)
		indirect = true;
	if (indirect)
		direct = chance(f, 20) && l->n > 2 ? below(f, l->n - 1 < 8 ? l->n - 1 : 8) : 0;

	/* The table holds what the ring does not. */
	if (indirect) {
		unsigned int nt = l->n - direct;
		uint64_t gpa = fz_area_alloc(a, nt * sizeof(*t), 16);

		t = gmem(f, gpa, nt * sizeof(*t));
		for (i = 0; i < nt; i++) {
			t[i] = l->d[direct + i];
			t[i].flags |= i + 1 < nt ? VRING_DESC_F_NEXT : 0;
			t[i].next = i + 1;
		}
		l->d[direct] = (struct vring_desc){
			.addr = gpa, .len = nt * sizeof(*t), .flags = VRING_DESC_F_INDIRECT};
		l->n = direct + 1;
	}
	id = fq->next_desc;
	a->c->head = id;
	for (i = 0; i < l->n; i++) {
		ring[id + i] = l->d[i];
		if (i + 1 < l->n) {
			ring[id + i].flags |= VRING_DESC_F_NEXT;
			ring[id + i].next = id + i + 1;
		}
	}
	fq->next_desc += l->n;
	if (!bad_next)
		return;
	/*
	 * A loop, a next out of range, or one more descriptor of garbage
	 * (never one of another chain: the device might then rightly
	 * complete a chain that overlaps it).
	 */
	if (t && chance(f, 60)) {
		last = &t[l->d[direct].len / sizeof(*t) - 1];
		last->flags |= VRING_DESC_F_NEXT;
		last->next = chance(f, 50) ? below(f, 4) : 1 + below(f, 0xffff);
		return;
	}
	last = &ring[id + l->n - 1];
	last->flags |= VRING_DESC_F_NEXT;
	switch (below(f, 3)) {
	case 0:
		last->next = id + below(f, l->n);
		break;
	case 1:
		last->next = FZ_QSIZE + below(f, 0x10000 - FZ_QSIZE);
		break;
	default:
		last->next = id + l->n;
		ring[id + l->n] = (struct vring_desc){
			.addr = l->d[0].addr,
			.len = below(f, 16),
			.flags = chance(f, 50) ? VRING_DESC_F_WRITE : 0,
		};
		if (chance(f, 50)) {
			ring[id + l->n].len = 1 + below(f, 64);
			ring[id + l->n].addr = fz_bad_addr(f, ring[id + l->n].len);
		}
		if (chance(f, 30)) {
			ring[id + l->n].flags |= VRING_DESC_F_NEXT;
			ring[id + l->n].next = id + below(f, l->n + 1);
		}
		fq->next_desc++;
		break;
	}
}

/* Lay out one chain of vq @fq; @hostile: ring-level mutations too. */
static void gen_chain(struct fz *f, struct fz_vq *fq, struct fz_chain *c, bool hostile)
{
	static struct fz_list l;
	struct fz_area a = {.f = f, .fq = fq, .c = c, .off = 0, .end = fq->arena_len / FZ_CHAINS};
	struct virtio_blk_outhdr hdr = {.type = pick_type(f)};
	uint32_t len = 0, max = 16 * VBLK_SECTOR;
	uint64_t hdr_gpa, data_gpa, st_gpa, sector = 0;
	bool data_w = false, merge_status, bad_next = false;
	unsigned int pieces;
	uint8_t *data;

	c->area = (uint32_t)(c - fq->chains) * a.end;
	c->what = "valid";
	l.n = 0;
	if (chance(f, 20))
		max = 256 * VBLK_SECTOR;
	switch (hdr.type) {
	case T_IN:
	case T_OUT:
		len = (1 + below(f, max / VBLK_SECTOR)) * VBLK_SECTOR;
		if (!span_take(f, len, &sector)) {
			hdr.type = T_FLUSH;
			len = 0;
		}
		hdr.sector = sector;
		data_w = hdr.type == T_IN;
		break;
	case T_GET_ID:
		len = chance(f, 50) ? VBLK_SERIAL_LEN : below(f, 64);
		data_w = true;
		break;
	default:
		break;
	}
	if (chance(f, 25) && !hostile)
		mutate_request(f, c, &hdr, &len, &data_w);

	/* The header, split in up to four pieces. */
	hdr_gpa = fz_area_alloc(&a, sizeof(hdr), 16);
	memcpy(gmem(f, hdr_gpa, sizeof(hdr)), &hdr, sizeof(hdr));
	list_cut(f, &l, hdr_gpa, sizeof(hdr), chance(f, 25) ? 1 + below(f, 4) : 1, false);

	/* The data, in one piece or many. */
	if (hdr.type == T_DISCARD || hdr.type == T_WZ) {
		data_w = false;
		len = 4 * sizeof(struct virtio_blk_discard_write_zeroes);
	}
	data_gpa = fz_area_alloc(&a, len + 1, chance(f, 70) ? 4096 : 1);
	data = gmem(f, data_gpa, len + 1);
	if (hdr.type == T_DISCARD || hdr.type == T_WZ)
		len = dwz_segments(f, data, hdr.type);
	else if (!data_w)
		vblk_fill_random(data, len, &f->seed);
	pieces = 1;
	if (chance(f, 30))
		pieces = 2 + below(f, 8);
	else if (chance(f, 5))
		pieces = 100 + below(f, 1000);
	merge_status = data_w && len && chance(f, 30);
	list_cut(f, &l, data_gpa, len + merge_status, pieces, data_w);
	if (merge_status) {
		st_gpa = data_gpa + len;
	} else {
		st_gpa = chance(f, 50) ? data_gpa + len : fz_area_alloc(&a, 1, 1);
		list_add(&l, st_gpa, 1, true);
	}
	if (chance(f, 5))
		list_add(&l, st_gpa, 0, true); /* a trailing empty buffer */

	if (hostile) {
		mutate_ring(f, c, &l);
		bad_next = !strcmp(c->what, "bad next");
	}
	if (f->packed)
		fzp_place(&a, &l, bad_next);
	else
		place(&a, &l, bad_next);
	c->extent = a.off;
}

/* ---- rounds ---- */

/* Start a round on vq @q: lay out its chains and the model's verdicts. */
static void round_gen(struct fz *f, unsigned int q)
{
	struct fz_vq *fq = &f->q[q];
	struct vblk_vq *vq = &f->v->vqs[q];
	unsigned int i, n = 1 + below(f, FZ_CHAINS), hostile = n;

	/* Only what the last round used needs the canary again. */
	for (i = 0; i < fq->nchains; i++) {
		struct fz_chain *c = &fq->chains[i];

		memset(fq->arena + c->area, FZ_CANARY, c->extent);
		memset(fq->want + c->area, FZ_CANARY, c->extent);
	}
	fq->next_desc = 0;
	fq->jump = false;
	fq->start = vq->avail_idx;
	if (f->packed) {
		fzp_round_start(f, q);
		/* Now and then a lone chain round the whole ring. */
		if (fq->whole)
			n = hostile = 1;
	}
	fq->nchains = n;
	if (chance(f, 35) && !(f->packed && fq->whole))
		hostile = n - 1 - (chance(f, 70) ? 0 : below(f, n)); /* a malformed one */
	for (i = 0; i < n; i++) {
		struct fz_chain *c = &fq->chains[i];

		memset(c, 0, sizeof(*c));
		c->iov = f->iovs[q][i];
		gen_chain(f, fq, c, i == hostile);
		model(f, q, c);
		memcpy(fq->want + c->area, fq->arena + c->area, c->extent);
	}
	/* Round-level hostility (split): a bogus head, or the avail index jumping. */
	if (f->packed) {
		/* Packed: a buffer id past the ring is a chain's mutation. */
	} else if (hostile == n && chance(f, 5)) {
		struct fz_chain *c = &fq->chains[fq->nchains++];

		memset(c, 0, sizeof(*c));
		c->iov = f->iovs[q][n];
		c->head = FZ_QSIZE + below(f, 0x10000 - FZ_QSIZE);
		model(f, q, c);
	} else if (hostile == n && chance(f, 3)) {
		fq->jump = true;
		f->jumps++;
	}
	for (fq->stops = 0; fq->stops < fq->nchains; fq->stops++)
		if (fq->chains[fq->stops].ring_err)
			break;
	fq->used = 0;
	f->chains += fq->nchains;
}

static void round_publish(struct fz *f, unsigned int q)
{
	struct fz_vq *fq = &f->q[q];
	struct vblk_vq *vq = &f->v->vqs[q];

	if (f->packed) {
		fzp_publish(f, q);
		vblk_kick(f->v, q, true);
		return;
	}
	for (unsigned int i = 0; i < fq->nchains; i++)
		vblk_publish_head(f->v, q, fq->chains[i].head);
	if (fq->jump)
		__atomic_store_n(&vq->vr.avail->idx,
				 (uint16_t)(vq->avail_idx + FZ_QSIZE + 1 + below(f, 1000)),
				 __ATOMIC_RELEASE);
	vblk_kick(f->v, q, true);
}

static struct fz_chain *by_head(struct fz_vq *fq, uint32_t id)
{
	for (unsigned int i = 0; i < fq->stops; i++)
		if (fq->chains[i].head == id)
			return &fq->chains[i];
	return NULL;
}

/* The arena must be what the fuzzer laid out plus what the device owed. */
static int check_area(struct fz *f, unsigned int q, uint32_t off, uint32_t len, const char *what)
{
	struct fz_vq *fq = &f->q[q];
	long d = first_diff(fq->arena + off, fq->want + off, len);

	if (d < 0)
		return 0;
	return fz_fail(f, "vq %u: %s: arena byte %#lx is %#x, not %#x", q, what, off + d,
		       fq->arena[off + d], fq->want[off + d]);
}

/* Make @want hold what the device may write at [gpa, gpa + len): anything. */
static void dont_care(struct fz_vq *fq, uint64_t gpa, uint64_t len)
{
	uint64_t off = gpa - fq->arena_gpa;

	memcpy(fq->want + off, fq->arena + off, len);
}

/* A used entry: check it against the model, and record what it owed. */
int fz_complete(struct fz *f, unsigned int q, uint32_t id, uint32_t len)
{
	struct fz_vq *fq = &f->q[q];
	struct fz_chain *c = by_head(fq, id);
	uint8_t st;
	uint64_t off, skip;
	unsigned int i;

	if (!c)
		return fz_fail(f, "vq %u: used id %u is no chain the device may complete", q, id);
	if (c->done)
		return fz_fail(f, "vq %u: chain %u (%s) completed twice", q, c->head, c->what);
	c->done = true;
	fq->used++;
	f->completed++;
	st = *(uint8_t *)gmem(f, c->status_gpa, 1);
	if (st != c->status[0] && st != c->status[1])
		return fz_fail(f,
			       "vq %u: chain %u (%s, type %#x sector %#llx in %u out %u): "
			       "status %u, not %u",
			       q, c->head, c->what, c->type, (unsigned long long)c->sector,
			       c->in_len, c->out_len, st, c->status[0]);
	if (c->used_len ? len != c->used_len : (len < 1 || len > c->max_used))
		return fz_fail(f, "vq %u: chain %u (%s, type %#x, status %u): used len %u, not %u",
			       q, c->head, c->what, c->type, st, len, c->used_len);
	fq->want[c->status_gpa - fq->arena_gpa] = st;
	if (st != S_OK)
		f->req_errors++;
	else
		f->ok++;

	/* The writable bytes before the status: a read's data, or anything. */
	skip = 0;
	for (i = 0; i < c->niov; i++) {
		struct fz_iov *v = &c->iov[i];
		uint64_t n = v->len, at;

		if (!v->w)
			continue;
		if (v->gpa + n - 1 == c->status_gpa)
			n--; /* the last writable buffer ends with the status */
		if (st != S_OK || c->type != T_IN) {
			dont_care(fq, v->gpa, n);
			continue;
		}
		/* A read: the shadow's bytes, where they are known. */
		for (off = 0; off < n; off++) {
			at = c->sector * VBLK_SECTOR + skip + off;
			if (at < FZ_SPAN && f->known[at / VBLK_SECTOR])
				fq->want[v->gpa + off - fq->arena_gpa] = f->shadow[at];
			else
				dont_care(fq, v->gpa + off, 1);
		}
		skip += n;
	}
	if (st == S_OK && c->type == T_IN)
		f->bytes += c->in_len;
	return check_area(f, q, c->area, c->extent, c->what);
}

/* What a completed write did to the backend. */
static void apply(struct fz *f, unsigned int q, struct fz_chain *c)
{
	struct virtio_blk_discard_write_zeroes seg;
	uint8_t st = *(uint8_t *)gmem(f, c->status_gpa, 1);
	uint64_t s, e;

	if (c->type == T_OUT && st == S_OK) {
		s = c->sector;
		if (s * VBLK_SECTOR + c->out_len <= FZ_SPAN) {
			gather(f, c, false, 16, f->shadow + s * VBLK_SECTOR, c->out_len);
			memset(f->known + s, 1, c->out_len / VBLK_SECTOR);
		} else if (s < FZ_SPAN / VBLK_SECTOR) {
			memset(f->known + s, 0, FZ_SPAN / VBLK_SECTOR - s);
		}
		f->bytes += c->out_len;
	}
	/* A request the model saw fail was refused whole: nothing changed. */
	if ((c->type != T_DISCARD && c->type != T_WZ) || (st != S_OK && c->status[0] != S_OK))
		return;
	for (unsigned int i = 0; i < c->out_len / sizeof(seg) && i < FZ_MAX_ZERO_SEGS; i++) {
		gather(f, c, false, 16 + i * sizeof(seg), &seg, sizeof(seg));
		if (seg.sector >= FZ_SPAN / VBLK_SECTOR)
			continue;
		s = seg.sector;
		e = s + seg.num_sectors < FZ_SPAN / VBLK_SECTOR ? s + seg.num_sectors
								: FZ_SPAN / VBLK_SECTOR;
		if (c->type == T_WZ && st == S_OK) {
			memset(f->shadow + s * VBLK_SECTOR, 0, (e - s) * VBLK_SECTOR);
			memset(f->known + s, 1, e - s);
		} else {
			memset(f->known + s, 0, e - s);
		}
	}
}

/* Reap every used entry of every vq; 0, or -1 with f->err. */
static int reap_all(struct fz *f)
{
	for (unsigned int q = 0; q < FZ_NVQS; q++) {
		struct vblk_vq *vq = &f->v->vqs[q];
		uint16_t idx;

		if (f->packed) {
			if (fzp_reap(f, q))
				return -1;
			continue;
		}
		idx = vblk_used_idx(f->v, q);
		while (vq->used_idx != idx) {
			struct vring_used_elem *e = &vq->vr.used->ring[vq->used_idx % FZ_QSIZE];

			vq->used_idx++;
			if (fz_complete(f, q, e->id, e->len))
				return -1;
		}
	}
	return 0;
}

static bool round_waiting(struct fz *f)
{
	for (unsigned int q = 0; q < FZ_NVQS; q++)
		if (!f->q[q].jump && f->q[q].used < f->q[q].stops)
			return true;
	return false;
}

/*
 * A virtqueue stopped at a malformed chain (or an index jump): it must have
 * signalled its error eventfd and stopped exactly there.  Restart it past
 * the round: backend off, SET_VRING_BASE, backend on.
 */
static int restart_packed(struct fz *f, unsigned int q, uint32_t base)
{
	struct fz_vq *fq = &f->q[q];
	struct vhost_vring_state st = {.index = q, .num = fzp_stop_base(f, q)};

	/* Both the avail and the used slot where the bad chain starts. */
	if (base != st.num || fq->used != fq->stops)
		return fz_fail(
			f, "vq %u: GET_VRING_BASE %#x, not %#x (%u used; chain %u, slot %u: %s)", q,
			base, st.num, fq->used, fq->stops,
			(unsigned int)(fq->chains[fq->stops].pos % FZ_QSIZE),
			fq->chains[fq->stops].what);
	if (fzp_check_ring(f, q))
		return -1;
	/* Not under a backend; then not at a slot past the ring, avail or used. */
	st.num = fzp_restart_base(f, q);
	if (!ioctl(f->v->fd, VHOST_SET_VRING_BASE, &st) || errno != EBUSY)
		return fz_fail(f, "vq %u: VHOST_SET_VRING_BASE under a backend: %s", q,
			       strerror(errno));
	if (vblk_set_backend(f->v, -1))
		return fz_fail(f, "detach: %s", vblk_error());
	if (chance(f, 20)) {
		uint32_t slot = FZ_QSIZE + below(f, 0x8000 - FZ_QSIZE), bad = st.num;

		bad = chance(f, 50) ? (bad & ~0x7fffU) | slot : (bad & ~0x7fff0000U) | slot << 16;
		st.num = bad;
		if (!ioctl(f->v->fd, VHOST_SET_VRING_BASE, &st) || errno != EINVAL)
			return fz_fail(f, "vq %u: VHOST_SET_VRING_BASE %#x: %s, not EINVAL", q, bad,
				       strerror(errno));
	}
	st.num = fzp_restart_base(f, q);
	if (ioctl(f->v->fd, VHOST_SET_VRING_BASE, &st))
		return fz_fail(f, "vq %u: VHOST_SET_VRING_BASE %#x: %s", q, st.num,
			       strerror(errno));
	if (vblk_set_backend(f->v, f->be->fd))
		return fz_fail(f, "attach: %s", vblk_error());
	vblk_wait_error(f->v, q, 0);
	f->restarts++;
	return 0;
}

static int restart(struct fz *f, unsigned int q)
{
	struct fz_vq *fq = &f->q[q];
	struct vblk_vq *vq = &f->v->vqs[q];
	struct vhost_vring_state st = {.index = q};
	uint16_t want;

	if (vblk_wait_error(f->v, q, VBLK_TIMEOUT_MS))
		return fz_fail(f, "vq %u: chain %u of %u (%s): no error signalled: %s", q,
			       fq->stops, fq->nchains, fq->chains[fq->stops].what, vblk_error());
	if (ioctl(f->v->fd, VHOST_GET_VRING_BASE, &st))
		return fz_fail(f, "vq %u: VHOST_GET_VRING_BASE: %s", q, strerror(errno));
	if (reap_all(f))
		return -1;
	if (f->packed)
		return restart_packed(f, q, st.num);
	/* After an index jump, any prefix of the round; else up to the bad chain. */
	want = fq->jump ? (uint16_t)(fq->start + fq->used) : (uint16_t)(fq->start + fq->stops);
	if ((uint16_t)st.num != want || fq->used != (uint16_t)(st.num - fq->start))
		return fz_fail(f, "vq %u: stopped at avail %u, not %u (%u used; chain %u: %s)", q,
			       st.num, want, fq->used, fq->stops,
			       fq->stops < fq->nchains ? fq->chains[fq->stops].what : "jump");
	if (vblk_set_backend(f->v, -1))
		return fz_fail(f, "detach: %s", vblk_error());
	__atomic_store_n(&vq->vr.avail->idx, vq->avail_idx, __ATOMIC_RELEASE);
	st = (struct vhost_vring_state){.index = q, .num = vq->avail_idx};
	if (ioctl(f->v->fd, VHOST_SET_VRING_BASE, &st))
		return fz_fail(f, "vq %u: VHOST_SET_VRING_BASE: %s", q, strerror(errno));
	if (vblk_set_backend(f->v, f->be->fd))
		return fz_fail(f, "attach: %s", vblk_error());
	/* Signals of the stopped ring, every kick since. */
	vblk_wait_error(f->v, q, 0);
	f->restarts++;
	return 0;
}

static int round_run(struct fz *f)
{
	int64_t end = now_ms() + VBLK_TIMEOUT_MS;
	unsigned int q, i;

	memset(f->busy, 0, FZ_SPAN / CHUNK);
	for (q = 0; q < FZ_NVQS; q++)
		round_gen(f, q);
	if (f->stray)
		return fz_fail(f, "the fuzzer laid out a chain outside its part of the arena");
	for (q = 0; q < FZ_NVQS; q++)
		round_publish(f, q);
	while (round_waiting(f)) {
		if (reap_all(f))
			return -1;
		if (!round_waiting(f))
			break;
		if (now_ms() > end || vblk_wait_any(f->v, end - now_ms() > 0 ? end - now_ms() : 1))
			for (q = 0; q < FZ_NVQS; q++)
				if (f->q[q].used < f->q[q].stops && !f->q[q].jump)
					return fz_fail(f,
						       "vq %u: %u of %u chains used in %d ms "
						       "(a hang?); first missing: %s",
						       q, f->q[q].used, f->q[q].stops,
						       VBLK_TIMEOUT_MS,
						       f->q[q].chains[f->q[q].used].what);
	}
	for (q = 0; q < FZ_NVQS; q++) {
		struct fz_vq *fq = &f->q[q];

		if (fq->stops < fq->nchains || fq->jump) {
			f->ring_errors++;
			if (restart(f, q))
				return -1;
		} else if (!vblk_wait_error(f->v, q, 0)) {
			return fz_fail(f, "vq %u: error signalled for a round without one", q);
		}
		for (i = 0; i < fq->stops; i++)
			if (fq->chains[i].done)
				apply(f, q, &fq->chains[i]);
	}
	/* Nothing the device completed may come late: check the idle rings. */
	if (reap_all(f))
		return -1;
	for (q = 0; f->packed && q < FZ_NVQS; q++)
		if (fzp_check_ring(f, q))
			return -1;
	f->rounds++;
	if (f->rounds % FZ_SWEEP_ROUNDS == 0)
		for (q = 0; q < FZ_NVQS; q++)
			if (check_area(f, q, 0, f->q[q].arena_len, "sweep"))
				return -1;
	return 0;
}

/* The round's chains and their verdicts, for a failure's log. */
static void dump_round(struct fz *f)
{
	for (unsigned int q = 0; q < FZ_NVQS; q++) {
		struct fz_vq *fq = &f->q[q];

		printf("# vq %u: round from avail %u, %u chains, model stops at %u%s\n", q,
		       fq->start, fq->nchains, fq->stops, fq->jump ? ", then an index jump" : "");
		for (unsigned int i = 0; i < fq->nchains; i++) {
			struct fz_chain *c = &fq->chains[i];

			printf("#   %2u head %5u %-28s %s type %#x sector %#llx out %u in %u "
			       "status %u/%u used %u iovs %u%s\n",
			       i, c->head, c->what, c->ring_err ? "RING-ERR" : "request ", c->type,
			       (unsigned long long)c->sector, c->out_len, c->in_len, c->status[0],
			       c->status[1], c->used_len, c->niov, c->done ? " done" : "");
			if (f->packed)
				printf("#      slot %u (position %llu), %u slots laid, %u walked\n",
				       (unsigned int)(c->pos % FZ_QSIZE),
				       (unsigned long long)c->pos, c->laid, c->slots);
		}
	}
	fflush(stdout);
}

/* ---- the fixture ---- */

FIXTURE(fuzz)
{
	struct vblk_backend be;
	struct fz *f;
};

FIXTURE_VARIANT(fuzz)
{
	enum vblk_backend_kind kind;
	uint64_t drop;                  /* features of VBLK_FEATURES_ALL not negotiated */
	struct vhost_blk_limits limits; /* set when capacity is */
	const char *what;
};

/* clang-format off */
FIXTURE_VARIANT_ADD(fuzz, file)
{
	.kind = VBLK_BE_FILE,
	.what = "a regular file in $TMPDIR",
};

FIXTURE_VARIANT_ADD(fuzz, null_blk)
{
	.kind = VBLK_BE_NULLB,
	.what = "null_blk, memory-backed",
};

FIXTURE_VARIANT_ADD(fuzz, file_limits)
{
	.kind = VBLK_BE_FILE,
	.limits = {
		.capacity = 1,
		.size_max = 8192,
		.seg_max = 40,
		.max_discard_sectors = 64,
		.max_discard_seg = 3,
		.max_write_zeroes_sectors = 32,
		.max_write_zeroes_seg = 2,
	},
	.what = "a regular file, with segment and discard limits",
};

FIXTURE_VARIANT_ADD(fuzz, file_no_indirect_no_event_idx)
{
	.kind = VBLK_BE_FILE,
	.drop = VBLK_BIT(VIRTIO_RING_F_INDIRECT_DESC) | VBLK_BIT(VIRTIO_RING_F_EVENT_IDX),
	.what = "a regular file, neither indirect tables nor event index negotiated",
};
/* clang-format on */

FIXTURE_SETUP(fuzz)
{
	self->be.fd = -1;
	if (!backend_setup(_metadata, &self->be, variant->kind, FZ_BACKEND_SIZE, variant->what))
		return;
	self->f = calloc(1, sizeof(*self->f));
	ASSERT_NE(NULL, self->f);
}

FIXTURE_TEARDOWN(fuzz)
{
	struct fz *f = self->f;

	if (f) {
		vblk_close(f->v);
		for (unsigned int q = 0; q < FZ_NVQS; q++)
			free(f->q[q].want);
		free(f->shadow);
		free(f->known);
		free(f->busy);
		free(f);
	}
	vblk_backend_close(&self->be);
}

/* A fresh device reads back every known byte of the span. */
static void verify_fresh(struct __test_metadata *_metadata, struct fz *f)
{
	struct vblk_config cfg = {.nvqs = 1, .queue_size = 64, .depth = 4, .max_data = MAX_DATA};
	uint8_t *buf = malloc(MAX_DATA);
	struct vblk *v;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, vblk_open(&cfg, &v))
	{
		TH_LOG("%s", vblk_error());
	}
	ASSERT_EQ(0, vblk_set_backend(v, f->be->fd));
	for (uint64_t off = 0; off < FZ_SPAN; off += MAX_DATA) {
		uint8_t st = 0xff;

		ASSERT_EQ(0, vblk_run(v, 0, T_IN, off / VBLK_SECTOR, buf, MAX_DATA, 0, &st, NULL))
		{
			TH_LOG("%s", vblk_error());
		}
		ASSERT_EQ(S_OK, st);
		for (uint64_t s = 0; s < MAX_DATA / VBLK_SECTOR; s++) {
			uint64_t at = off + s * VBLK_SECTOR;

			if (!f->known[at / VBLK_SECTOR])
				continue;
			ASSERT_EQ(-1,
				  first_diff(buf + s * VBLK_SECTOR, f->shadow + at, VBLK_SECTOR))
			{
				TH_LOG("a fresh device reads sector %llu wrong",
				       (unsigned long long)(at / VBLK_SECTOR));
			}
		}
	}
	vblk_close(v);
	free(buf);
}

TEST_F_TIMEOUT(fuzz, ring, 90)
{
	struct vblk_config cfg = {
		.nvqs = FZ_NVQS,
		.queue_size = FZ_QSIZE,
		.depth = FZ_DEPTH,
		.max_data = MAX_DATA,
		/* Packed rings too under VBLK_RING=packed. */
		.features = VBLK_FEATURES_ALL & ~variant->drop,
	};
	char name[96];
	struct fz *f = self->f;
	int64_t t0, ms, end;
	uint64_t known = 0;

	snprintf(name, sizeof(name), "fuzz.%s", variant->what);
	f->seed = stress_seed(name);
	f->be = &self->be;
	ASSERT_EQ(0, vblk_open(&cfg, &f->v))
	{
		TH_LOG("vblk_open: %s", vblk_error());
	}
	f->features = f->v->features;
	f->packed = f->v->packed;
	ASSERT_EQ(vblk_default_packed(), f->packed);
	ASSERT_EQ(0ULL, f->features & variant->drop);
	for (unsigned int q = 0; f->packed && q < FZ_NVQS; q++) {
		/* Anywhere in the first two laps: the wrap counters may start at 0. */
		ASSERT_EQ(0, vblk_packed_set_pos(f->v, q, below(f, 2 * FZ_QSIZE)))
		{
			TH_LOG("%s", vblk_error());
		}
		fzp_init(f, q);
	}
	ASSERT_EQ(0, vblk_set_backend(f->v, self->be.fd));
	if (variant->limits.capacity) {
		struct vhost_blk_limits l = variant->limits;

		l.capacity = self->be.size / VBLK_SECTOR;
		ASSERT_EQ(0, ioctl(f->v->fd, VHOST_BLK_SET_LIMITS, &l));
	}
	ASSERT_EQ(0, ioctl(f->v->fd, VHOST_BLK_GET_LIMITS, &f->limits))
	{
		TH_LOG("VHOST_BLK_GET_LIMITS: %s", strerror(errno));
	}
	f->shadow = malloc(FZ_SPAN);
	f->known = calloc(FZ_SPAN / VBLK_SECTOR, 1);
	f->busy = calloc(FZ_SPAN / CHUNK, 1);
	ASSERT_TRUE(f->shadow && f->known && f->busy);
	vblk_fill_random(f->shadow, FZ_SPAN, &f->seed);
	ASSERT_EQ((ssize_t)FZ_SPAN, pwrite(self->be.fd, f->shadow, FZ_SPAN, 0));
	ASSERT_EQ(0, fsync(self->be.fd));
	memset(f->known, 1, FZ_SPAN / VBLK_SECTOR);
	for (unsigned int q = 0; q < FZ_NVQS; q++) {
		struct fz_vq *fq = &f->q[q];

		fq->arena = f->v->vqs[q].slots;
		fq->arena_gpa = vblk_gpa(f->v, fq->arena);
		fq->arena_len = (uint64_t)FZ_DEPTH * f->v->slot_size;
		fq->want = malloc(fq->arena_len);
		ASSERT_NE(NULL, fq->want);
		memset(fq->arena, FZ_CANARY, fq->arena_len);
		memset(fq->want, FZ_CANARY, fq->arena_len);
	}

	t0 = now_ms();
	end = t0 + stress_ms(FZ_MS);
	while (now_ms() < end) {
		ASSERT_EQ(0, round_run(f))
		{
			TH_LOG("round %llu: %s", (unsigned long long)f->rounds, f->err);
			dump_round(f);
		}
	}
	for (unsigned int q = 0; q < FZ_NVQS; q++)
		ASSERT_EQ(0, check_area(f, q, 0, f->q[q].arena_len, "final sweep"))
		{
			TH_LOG("%s", f->err);
		}
	ms = now_ms() - t0;
	vblk_close(f->v);
	f->v = NULL;
	verify_fresh(_metadata, f);
	for (uint64_t s = 0; s < FZ_SPAN / VBLK_SECTOR; s++)
		known += f->known[s];

	/* Each kind of outcome came up. */
	EXPECT_LT(0ULL, f->ok);
	EXPECT_LT(0ULL, f->req_errors);
	EXPECT_LT(0ULL, f->ring_errors);
	TH_LOG("%s rings: %llu chains in %llu rounds (%lld ms): %llu completed OK, %llu with an "
	       "error "
	       "status, %llu ring errors and restarts (%llu avail index jumps, %llu chains "
	       "without a status byte); %llu MiB moved; %llu of %llu sectors verified by a "
	       "fresh device",
	       vblk_default_packed() ? "packed" : "split", (unsigned long long)f->chains,
	       (unsigned long long)f->rounds, (long long)ms, (unsigned long long)f->ok,
	       (unsigned long long)f->req_errors, (unsigned long long)f->restarts,
	       (unsigned long long)f->jumps, (unsigned long long)f->no_status,
	       (unsigned long long)f->bytes >> 20, (unsigned long long)known,
	       (unsigned long long)(FZ_SPAN / VBLK_SECTOR));
	stress_figure("fuzz", "chains", f->chains, "chains");
	stress_figure("fuzz", "chains_per_s", f->chains * 1000 / (ms ? ms : 1), "chains/s");
	stress_figure("fuzz", "ring_errors", f->ring_errors, "restarts");
	stress_figure("fuzz", "jumps", f->jumps, "rounds");
	stress_figure("fuzz", "no_status", f->no_status, "chains");
	if (f->packed)
		stress_figure("fuzz", "whole_ring", f->whole_ring, "chains");
}

TEST_HARNESS_MAIN
