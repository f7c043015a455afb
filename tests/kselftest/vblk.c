// SPDX-License-Identifier: GPL-2.0
/*
 * vblk: a small userspace virtio-blk driver for /dev/vhost-blk; see vblk.h.
 *
 * A virtqueue's part of guest memory: its rings (vring_init() layout; a
 * packed ring's as vblk_packed.c has it), then its request slots.  A slot holds the header at PAGE
 * - 16, the data at PAGE (page aligned), the status byte right after the data (at byte 1 with
 * VBLK_STAT_ODD), and the indirect table after that, where direct
 * chains are also drafted.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/fs.h>

#include "vblk_packed.h"

#define PAGE 4096ULL
#define ALIGN_UP(x, a) (((x) + (a)-1) / (a) * (a))
#define HDR_OFF (PAGE - sizeof(struct virtio_blk_outhdr))
#define TABLE_OFF(v) ALIGN_UP(PAGE + (v)->max_data + 1, 16)
#define NULLB_CONFIGFS "/sys/kernel/config/nullb"

static char errmsg[256];

int vblk_fail(int err, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(errmsg))
		snprintf(errmsg + n, sizeof(errmsg) - n, ": %s", strerror(err));
	return -err;
}

const char *vblk_error(void)
{
	return errmsg;
}

bool vblk_default_packed(void)
{
	const char *ring = getenv("VBLK_RING");

	return ring && !strcmp(ring, "packed");
}

uint64_t vblk_features_all(void)
{
	return VBLK_FEATURES_SPLIT | (vblk_default_packed() ? VBLK_BIT(VIRTIO_F_RING_PACKED) : 0);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

#define IOC(fd, req, arg) (ioctl(fd, req, arg) ? vblk_fail(errno, "%s", #req) : 0)

int vblk_probe(void)
{
	struct vhost_vring_file f = {.index = 0, .fd = -1};
	int fd = open(VBLK_DEV_PATH, O_RDWR | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return vblk_fail(errno, "open %s", VBLK_DEV_PATH);
	/* Unknown commands are ENOTTY before the owner check (EPERM). */
	if (ioctl(fd, VHOST_BLK_SET_BACKEND, &f) && errno == ENOTTY)
		ret = vblk_fail(ENOTTY, "VHOST_BLK_SET_BACKEND");
	close(fd);
	return ret;
}

static int setup_vq(struct vblk *v, unsigned int i)
{
	struct vblk_vq *q = &v->vqs[i];
	struct vhost_vring_state st = {.index = i, .num = v->num};
	struct vhost_vring_addr a = {
		.index = i,
		.desc_user_addr = (uintptr_t)q->vr.desc,
		.used_user_addr = (uintptr_t)q->vr.used,
		.avail_user_addr = (uintptr_t)q->vr.avail,
	};

	if (v->packed)
		a = (struct vhost_vring_addr){
			.index = i,
			.desc_user_addr = (uintptr_t)q->pdesc,
			.used_user_addr = (uintptr_t)q->device,
			.avail_user_addr = (uintptr_t)q->driver,
		};
	struct vhost_vring_file f = {.index = i};
	unsigned int k;
	int ret;

	q->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	q->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	q->err = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->kick < 0 || q->call < 0 || q->err < 0)
		return vblk_fail(errno, "eventfd");
	q->free_ids = calloc(v->num, sizeof(*q->free_ids));
	q->by_head = calloc(v->num, sizeof(*q->by_head));
	q->reqs = calloc(v->depth, sizeof(*q->reqs));
	q->free_reqs = calloc(v->depth, sizeof(*q->free_reqs));
	if (!q->free_ids || !q->by_head || !q->reqs || !q->free_reqs)
		return vblk_fail(ENOMEM, "vq %u", i);
	for (k = 0; k < v->num; k++)
		q->free_ids[k] = v->num - 1 - k;
	q->nfree_ids = v->num;
	for (k = 0; k < v->depth; k++) {
		q->reqs[k].ids = calloc(v->max_desc, sizeof(uint16_t));
		if (!q->reqs[k].ids)
			return vblk_fail(ENOMEM, "vq %u", i);
		q->free_reqs[k] = &q->reqs[v->depth - 1 - k];
	}
	q->nfree_reqs = v->depth;

	ret = IOC(v->fd, VHOST_SET_VRING_NUM, &st);
	st.num = v->packed ? vblk_packed_base(v, i) : 0;
	if (!ret)
		ret = IOC(v->fd, VHOST_SET_VRING_BASE, &st);
	if (!ret)
		ret = IOC(v->fd, VHOST_SET_VRING_ADDR, &a);
	f.fd = q->kick;
	if (!ret)
		ret = IOC(v->fd, VHOST_SET_VRING_KICK, &f);
	f.fd = q->call;
	if (!ret)
		ret = IOC(v->fd, VHOST_SET_VRING_CALL, &f);
	f.fd = q->err;
	if (!ret)
		ret = IOC(v->fd, VHOST_SET_VRING_ERR, &f);
	return ret;
}

int vblk_open(const struct vblk_config *cfg, struct vblk **vp)
{
	uint64_t offered, ring_size, slots_start;
	uint64_t features = cfg->features ? cfg->features : VBLK_FEATURES_ALL;
	bool packed = features & VBLK_BIT(VIRTIO_F_RING_PACKED);
	struct vblk *v;
	unsigned int i;
	int ret;

	if (!cfg->nvqs || cfg->nvqs > VBLK_MAX_VQS || !cfg->queue_size || cfg->queue_size > 32768 ||
	    (!packed && (cfg->queue_size & (cfg->queue_size - 1))) || !cfg->depth ||
	    cfg->depth > cfg->queue_size)
		return vblk_fail(EINVAL, "vblk_open: bad configuration");
	v = calloc(1, sizeof(*v));
	if (!v)
		return vblk_fail(ENOMEM, "vblk_open");
	v->nvqs = cfg->nvqs;
	v->num = cfg->queue_size;
	v->depth = cfg->depth;
	v->max_data = cfg->max_data;
	v->frag_size = cfg->frag_size ? cfg->frag_size : 1000;
	v->features = features;
	v->packed = packed;
	v->max_desc = 3 + (v->max_data + v->frag_size - 1) / v->frag_size + 1;
	v->slot_size = ALIGN_UP(TABLE_OFF(v) + 16ULL * v->max_desc, PAGE);
	ring_size =
		ALIGN_UP(packed ? vblk_packed_ring_size(v->num) : vring_size(v->num, PAGE), PAGE);
	slots_start = v->nvqs * ring_size;
	v->mem_size = slots_start + (uint64_t)v->nvqs * v->depth * v->slot_size;
	/* The region boundary cuts the data of vq 0's first slot. */
	v->split = slots_start + PAGE + (v->max_data >= 8208 ? 4104 : 8);
	if (cfg->split_at && cfg->split_at < v->max_data)
		v->split = slots_start + PAGE + cfg->split_at;
	v->fd = -1;
	v->vqs = calloc(v->nvqs, sizeof(*v->vqs));
	if (!v->vqs) {
		free(v);
		return vblk_fail(ENOMEM, "vblk_open");
	}
	for (i = 0; i < v->nvqs; i++)
		v->vqs[i].kick = v->vqs[i].call = v->vqs[i].err = -1;
	v->mem = mmap(NULL, v->mem_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (v->mem == MAP_FAILED) {
		v->mem = NULL;
		ret = vblk_fail(errno, "mmap %llu bytes", (unsigned long long)v->mem_size);
		goto err;
	}

	v->fd = open(VBLK_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (v->fd < 0) {
		ret = vblk_fail(errno, "open %s", VBLK_DEV_PATH);
		goto err;
	}
	if (cfg->kthread) {
		uint8_t mode = VHOST_FORK_OWNER_KTHREAD;

		ret = IOC(v->fd, VHOST_SET_FORK_FROM_OWNER, &mode);
		if (ret)
			goto err;
	}
	ret = IOC(v->fd, VHOST_SET_OWNER, NULL);
	if (!ret)
		ret = IOC(v->fd, VHOST_GET_FEATURES, &offered);
	if (ret)
		goto err;
	if (v->features & ~offered) {
		ret = vblk_fail(EOPNOTSUPP, "features 0x%llx not offered (offered 0x%llx)",
				(unsigned long long)(v->features & ~offered),
				(unsigned long long)offered);
		goto err;
	}
	ret = IOC(v->fd, VHOST_SET_FEATURES, &v->features);
	if (ret)
		goto err;

	ret = vblk_set_mem_table(v);
	if (ret)
		goto err;

	for (i = 0; i < v->nvqs; i++) {
		ret = 0;
		if (packed)
			ret = vblk_packed_init_vq(v, i, v->mem + i * ring_size);
		else
			vring_init(&v->vqs[i].vr, v->num, v->mem + i * ring_size, PAGE);
		if (ret)
			goto err;
		v->vqs[i].slots = v->mem + slots_start + (uint64_t)i * v->depth * v->slot_size;
		ret = setup_vq(v, i);
		if (ret)
			goto err;
	}
	*vp = v;
	return 0;
err:
	vblk_close(v);
	return ret;
}

int vblk_set_mem_table(struct vblk *v)
{
	struct vhost_memory *mt;
	int ret;

	mt = calloc(1, sizeof(*mt) + 2 * sizeof(mt->regions[0]));
	if (!mt)
		return vblk_fail(ENOMEM, "vblk_set_mem_table");
	mt->nregions = 2;
	mt->regions[0].memory_size = v->split;
	mt->regions[0].userspace_addr = (uintptr_t)v->mem;
	mt->regions[1].guest_phys_addr = v->split;
	mt->regions[1].memory_size = v->mem_size - v->split;
	mt->regions[1].userspace_addr = (uintptr_t)v->mem + v->split;
	ret = IOC(v->fd, VHOST_SET_MEM_TABLE, mt);
	free(mt);
	return ret;
}

void vblk_close(struct vblk *v)
{
	unsigned int i, k;

	if (!v)
		return;
	/* The device first: it must not touch the memory once unmapped. */
	if (v->fd >= 0)
		close(v->fd);
	for (i = 0; i < v->nvqs; i++) {
		struct vblk_vq *q = &v->vqs[i];

		if (q->kick >= 0)
			close(q->kick);
		if (q->call >= 0)
			close(q->call);
		if (q->err >= 0)
			close(q->err);
		for (k = 0; q->reqs && k < v->depth; k++)
			free(q->reqs[k].ids);
		free(q->reqs);
		free(q->free_reqs);
		free(q->free_ids);
		free(q->by_head);
		vblk_packed_free_vq(q);
	}
	if (v->mem)
		munmap(v->mem, v->mem_size);
	free(v->vqs);
	free(v);
}

int vblk_set_backend(struct vblk *v, int fd)
{
	struct vhost_vring_file f = {.index = 0, .fd = fd};

	return IOC(v->fd, VHOST_BLK_SET_BACKEND, &f);
}

uint64_t vblk_gpa(const struct vblk *v, const void *p)
{
	return (const uint8_t *)p - v->mem;
}

uint64_t vblk_log_size(const struct vblk *v)
{
	return ALIGN_UP((v->mem_size + PAGE - 1) / PAGE, 64) / 8;
}

int vblk_set_log(struct vblk *v, void *log, int log_fd)
{
	uint64_t base = (uintptr_t)log;
	uint64_t features = v->features;
	unsigned int i;
	int ret;

	if (log) {
		features |= 1ULL << VHOST_F_LOG_ALL;
		ret = IOC(v->fd, VHOST_SET_LOG_BASE, &base);
		if (!ret)
			ret = IOC(v->fd, VHOST_SET_LOG_FD, &log_fd);
		if (ret)
			return ret;
	}
	ret = IOC(v->fd, VHOST_SET_FEATURES, &features);
	for (i = 0; !ret && i < v->nvqs; i++) {
		struct vblk_vq *q = &v->vqs[i];
		struct vhost_vring_addr a = {
			.index = i,
			.flags = log ? 1U << VHOST_VRING_F_LOG : 0,
			.desc_user_addr = (uintptr_t)q->vr.desc,
			.used_user_addr = (uintptr_t)q->vr.used,
			.avail_user_addr = (uintptr_t)q->vr.avail,
			.log_guest_addr = vblk_gpa(v, q->vr.used),
		};

		/* As QEMU does, the device area's guest address (unused). */
		if (v->packed) {
			a.desc_user_addr = (uintptr_t)q->pdesc;
			a.used_user_addr = (uintptr_t)q->device;
			a.avail_user_addr = (uintptr_t)q->driver;
			a.log_guest_addr = vblk_gpa(v, q->device);
		}

		ret = IOC(v->fd, VHOST_SET_VRING_ADDR, &a);
	}
	return ret;
}

static void add_desc(struct vring_desc *t, unsigned int *n, uint64_t gpa, uint32_t len, bool w)
{
	t[*n].addr = gpa;
	t[*n].len = len;
	t[*n].flags = w ? VRING_DESC_F_WRITE : 0;
	(*n)++;
}

/* Fold descriptor @i + 1 into @i: they are adjacent in memory. */
static void merge_desc(struct vring_desc *t, unsigned int *n, unsigned int i)
{
	t[i].len += t[i + 1].len;
	memmove(&t[i + 1], &t[i + 2], (*n - i - 2) * sizeof(*t));
	(*n)--;
}

int vblk_req_new(struct vblk *v, unsigned int vq, uint32_t type, uint64_t sector, uint32_t len,
		 unsigned int layout, struct vblk_req **reqp)
{
	static const uint32_t hdr_pieces[] = {5, 7, 4};
	unsigned int n = 0, nhdr = 1, i;
	struct vring_desc *t;
	struct vblk_vq *q;
	struct vblk_req *r;
	uint8_t *base, *status;
	bool w;

	if (vq >= v->nvqs || len > v->max_data)
		return vblk_fail(EINVAL, "request on vq %u of %u bytes", vq, len);
	q = &v->vqs[vq];
	if (!q->nfree_reqs)
		return vblk_fail(EAGAIN, "vq %u: no free request slot", vq);
	r = q->free_reqs[q->nfree_reqs - 1];
	base = q->slots + (r - q->reqs) * v->slot_size;
	t = (struct vring_desc *)(base + TABLE_OFF(v));
	w = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	if (layout & VBLK_DATA_W)
		w = true;
	if (layout & VBLK_DATA_R)
		w = false;

	/* Draft the chain in the table: header, data, status. */
	if (layout & VBLK_SPLIT_HDR) {
		uint64_t off = 0;

		for (nhdr = 0; nhdr < 3; off += hdr_pieces[nhdr++])
			add_desc(t, &n, vblk_gpa(v, base + HDR_OFF + off), hdr_pieces[nhdr], false);
	} else {
		add_desc(t, &n, vblk_gpa(v, base + HDR_OFF), sizeof(struct virtio_blk_outhdr),
			 false);
	}
	for (uint32_t off = 0, piece; off < len; off += piece) {
		piece = len - off;
		if ((layout & VBLK_FRAG) && piece > v->frag_size)
			piece = v->frag_size;
		add_desc(t, &n, vblk_gpa(v, base + PAGE + off), piece, w);
	}
	/* As in a driver whose status byte sits in its request structure. */
	status = layout & VBLK_STAT_ODD ? base + 1 : base + PAGE + len;
	add_desc(t, &n, vblk_gpa(v, status), 1, true);
	if ((layout & VBLK_MERGE) && len)
		merge_desc(t, &n, w ? n - 2 : nhdr - 1);
	for (i = 0; i + 1 < n; i++) {
		t[i].flags |= VRING_DESC_F_NEXT;
		t[i].next = i + 1;
	}

	r->vq = vq;
	if (v->packed) {
		int ret = vblk_packed_req_new(v, r, t, n, layout & VBLK_INDIRECT);

		if (ret)
			return ret;
		q->nfree_reqs--;
		goto fill;
	}
	r->ndesc = layout & VBLK_INDIRECT ? 1 : n;
	if (r->ndesc > q->nfree_ids)
		return vblk_fail(EAGAIN, "vq %u: %u descriptors free, %u needed", vq, q->nfree_ids,
				 r->ndesc);
	q->nfree_reqs--;
	for (i = 0; i < r->ndesc; i++)
		r->ids[i] = q->free_ids[--q->nfree_ids];
	if (layout & VBLK_INDIRECT) {
		struct vring_desc *d = &q->vr.desc[r->ids[0]];

		d->addr = vblk_gpa(v, t);
		d->len = n * sizeof(*t);
		d->flags = VRING_DESC_F_INDIRECT;
		d->next = 0;
		r->table = t;
		r->ntable = n;
	} else {
		for (i = 0; i < n; i++) {
			q->vr.desc[r->ids[i]] = t[i];
			if (i + 1 < n)
				q->vr.desc[r->ids[i]].next = r->ids[i + 1];
		}
		r->table = NULL;
		r->ntable = 0;
	}

fill:
	r->type = type;
	r->sector = sector;
	r->len = len;
	r->layout = layout;
	r->data_w = w;
	r->hdr = (struct virtio_blk_outhdr *)(base + HDR_OFF);
	r->hdr->type = type;
	r->hdr->ioprio = 0;
	r->hdr->sector = sector;
	r->data = base + PAGE;
	r->status = status;
	*r->status = 0xff;
	/* Stale data must not pass for what the device wrote. */
	if (w)
		memset(r->data, 0xa5, len);
	r->head = r->ids[0];
	r->inflight = false;
	r->done = false;
	r->used_len = 0;
	*reqp = r;
	return 0;
}

int vblk_req_free(struct vblk *v, struct vblk_req *r)
{
	struct vblk_vq *q = &v->vqs[r->vq];

	if (r->inflight || !r->data)
		return vblk_fail(EBUSY, "freeing a request in flight or free");
	/* Never published: its descriptors are still ours. */
	if (!r->done && v->packed)
		vblk_packed_req_unpublished(v, r);
	else if (!r->done)
		for (unsigned int i = 0; i < r->ndesc; i++)
			q->free_ids[q->nfree_ids++] = r->ids[r->ndesc - 1 - i];
	r->data = NULL;
	q->free_reqs[q->nfree_reqs++] = r;
	return 0;
}

int vblk_publish_head(struct vblk *v, unsigned int vq, uint16_t head)
{
	struct vblk_vq *q = &v->vqs[vq];

	if (v->packed)
		return vblk_packed_publish_head(v, vq, head);
	q->vr.avail->ring[q->avail_idx % v->num] = head;
	q->avail_idx++;
	__atomic_store_n(&q->vr.avail->idx, q->avail_idx, __ATOMIC_RELEASE);
	return 0;
}

int vblk_publish(struct vblk *v, struct vblk_req *r)
{
	struct vblk_vq *q = &v->vqs[r->vq];

	if (r->inflight || r->done || q->by_head[r->head])
		return vblk_fail(EBUSY, "vq %u: request %u published twice", r->vq, r->head);
	q->by_head[r->head] = r;
	r->inflight = true;
	q->inflight++;
	if (v->packed)
		return vblk_packed_publish(v, r);
	return vblk_publish_head(v, r->vq, r->head);
}

struct vring_desc *vblk_req_desc(struct vblk *v, struct vblk_req *r, unsigned int k)
{
	if (!v->packed)
		return &v->vqs[r->vq].vr.desc[r->ids[k]];
	return r->table ? &r->ind : &r->draft[k];
}

volatile uint16_t *vblk_used_event(struct vblk *v, unsigned int vq)
{
	return &v->vqs[vq].vr.avail->ring[v->num];
}

volatile uint16_t *vblk_avail_event(struct vblk *v, unsigned int vq)
{
	return (volatile uint16_t *)(void *)&v->vqs[vq].vr.used->ring[v->num];
}

int vblk_wait_taken(struct vblk *v, unsigned int vq, int timeout_ms)
{
	uint16_t want = v->vqs[vq].avail_idx;
	int64_t deadline = now_ms() + timeout_ms;

	if (!(v->features & VBLK_BIT(VIRTIO_RING_F_EVENT_IDX)))
		return vblk_fail(EOPNOTSUPP,
				 "vq %u: without EVENT_IDX the device does not say what it took",
				 vq);
	while (v->packed ? !vblk_packed_taken(v, vq) : *vblk_avail_event(v, vq) != want) {
		if (now_ms() > deadline)
			return vblk_fail(ETIMEDOUT, "vq %u: not all taken after %d ms", vq,
					 timeout_ms);
		usleep(1000);
	}
	return 0;
}

bool vblk_kick_wanted(struct vblk *v, unsigned int vq)
{
	struct vblk_vq *q = &v->vqs[vq];

	/* The new avail idx must be visible before we read what the device wants. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (v->packed)
		return vblk_packed_kick_wanted(v, vq);
	if (v->features & VBLK_BIT(VIRTIO_RING_F_EVENT_IDX))
		return vring_need_event(*vblk_avail_event(v, vq), q->avail_idx, q->kicked_idx);
	return !(*(volatile __virtio16 *)&q->vr.used->flags & VRING_USED_F_NO_NOTIFY);
}

int vblk_kick(struct vblk *v, unsigned int vq, bool force)
{
	struct vblk_vq *q = &v->vqs[vq];
	bool need = vblk_kick_wanted(v, vq);

	q->kicked_idx = q->avail_idx;
	if ((need || force) && eventfd_write(q->kick, 1))
		return vblk_fail(errno, "vq %u: kick", vq);
	return 0;
}

int vblk_submit(struct vblk *v, struct vblk_req *r)
{
	int ret = vblk_publish(v, r);

	return ret ? ret : vblk_kick(v, r->vq, false);
}

uint16_t vblk_used_idx(struct vblk *v, unsigned int vq)
{
	if (v->packed)
		return vblk_packed_used_idx(v, vq);
	return __atomic_load_n(&v->vqs[vq].vr.used->idx, __ATOMIC_ACQUIRE);
}

int vblk_vring_base_count(struct vblk *v, unsigned int vq, uint32_t base)
{
	if (v->packed)
		return vblk_packed_base_count(v, vq, base);
	return base;
}

void vblk_used_area(struct vblk *v, unsigned int vq, uint64_t *gpa, uint64_t *len)
{
	struct vblk_vq *q = &v->vqs[vq];

	if (v->packed) {
		*gpa = vblk_gpa(v, q->pdesc);
		*len = vblk_packed_ring_size(v->num);
	} else {
		*gpa = vblk_gpa(v, q->vr.used);
		*len = sizeof(*q->vr.used) + v->num * sizeof(q->vr.used->ring[0]) + 2;
	}
}

uint64_t vblk_used_gpa(struct vblk *v, const struct vblk_req *r)
{
	struct vblk_vq *q = &v->vqs[r->vq];

	if (v->packed)
		return vblk_gpa(v, &q->pdesc[r->used_slot].flags);
	return vblk_gpa(v, &q->vr.used->idx);
}

static int collect(struct vblk *v, unsigned int vq, struct vblk_req **done, unsigned int max)
{
	struct vblk_vq *q = &v->vqs[vq];
	uint16_t idx;
	unsigned int n = 0;

	if (v->packed)
		return vblk_packed_collect(v, vq, done, max);
	idx = vblk_used_idx(v, vq);

	if ((uint16_t)(idx - q->used_idx) > q->inflight)
		return vblk_fail(EPROTO, "vq %u: used idx went from %u to %u with %u in flight", vq,
				 q->used_idx, idx, q->inflight);
	while (q->used_idx != idx && n < max) {
		struct vring_used_elem *e = &q->vr.used->ring[q->used_idx % v->num];
		struct vblk_req *r = e->id < v->num ? q->by_head[e->id] : NULL;

		if (!r)
			return vblk_fail(EPROTO, "vq %u: used entry %u has id %u, not in flight",
					 vq, q->used_idx, e->id);
		q->by_head[e->id] = NULL;
		r->used_len = e->len;
		r->done = true;
		r->inflight = false;
		q->inflight--;
		for (unsigned int i = 0; i < r->ndesc; i++)
			q->free_ids[q->nfree_ids++] = r->ids[r->ndesc - 1 - i];
		q->used_idx++;
		if (done)
			done[n] = r;
		n++;
	}
	return n;
}

/* Ask for a call at the next used entry; true if one came meanwhile. */
static bool arm(struct vblk *v, unsigned int vq)
{
	struct vblk_vq *q = &v->vqs[vq];

	if (v->packed)
		return vblk_packed_arm(v, vq);
	if (v->features & VBLK_BIT(VIRTIO_RING_F_EVENT_IDX))
		*vblk_used_event(v, vq) = q->used_idx;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vblk_used_idx(v, vq) != q->used_idx;
}

static void drain_eventfd(int fd)
{
	eventfd_t val;

	eventfd_read(fd, &val);
}

int vblk_reap(struct vblk *v, unsigned int vq, struct vblk_req **done, unsigned int max,
	      int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct pollfd pfd = {.fd = v->vqs[vq].call, .events = POLLIN};

	for (;;) {
		int n = collect(v, vq, done, max), left;

		if (n || !timeout_ms)
			return n;
		if (arm(v, vq))
			continue;
		left = deadline - now_ms();
		if (left <= 0)
			return vblk_fail(ETIMEDOUT, "vq %u: nothing used in %d ms (%u in flight)",
					 vq, timeout_ms, v->vqs[vq].inflight);
		n = poll(&pfd, 1, left);
		if (n < 0 && errno != EINTR)
			return vblk_fail(errno, "poll");
		if (n > 0)
			drain_eventfd(pfd.fd);
	}
}

int vblk_wait_any(struct vblk *v, int timeout_ms)
{
	struct pollfd pfds[VBLK_MAX_VQS];
	int64_t deadline = now_ms() + timeout_ms;
	unsigned int i;
	int n, left;

	for (;;) {
		bool ready = false;

		for (i = 0; i < v->nvqs; i++)
			ready |= arm(v, i);
		if (ready)
			return 0;
		left = deadline - now_ms();
		if (left <= 0)
			return vblk_fail(ETIMEDOUT, "no virtqueue used anything in %d ms",
					 timeout_ms);
		for (i = 0; i < v->nvqs; i++)
			pfds[i] = (struct pollfd){.fd = v->vqs[i].call, .events = POLLIN};
		n = poll(pfds, v->nvqs, left);
		if (n < 0 && errno != EINTR)
			return vblk_fail(errno, "poll");
		for (i = 0; n > 0 && i < v->nvqs; i++)
			if (pfds[i].revents & POLLIN)
				drain_eventfd(pfds[i].fd);
	}
}

int vblk_wait(struct vblk *v, struct vblk_req *r, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct vblk_req *done[16];

	while (!r->done) {
		int64_t left = deadline - now_ms();
		int n;

		if (!r->inflight)
			return vblk_fail(EINVAL, "waiting for a request not published");
		n = vblk_reap(v, r->vq, done, 16, left > 0 ? left : 1);
		if (n < 0)
			return n;
	}
	return 0;
}

int vblk_wait_error(struct vblk *v, unsigned int vq, int timeout_ms)
{
	struct pollfd pfd = {.fd = v->vqs[vq].err, .events = POLLIN};
	int n = poll(&pfd, 1, timeout_ms);

	if (n < 0)
		return vblk_fail(errno, "poll");
	if (!n)
		return vblk_fail(ETIMEDOUT, "vq %u: error eventfd not signalled in %d ms", vq,
				 timeout_ms);
	drain_eventfd(pfd.fd);
	return 0;
}

int vblk_run(struct vblk *v, unsigned int vq, uint32_t type, uint64_t sector, void *buf,
	     uint32_t len, unsigned int layout, uint8_t *status, uint32_t *used_len)
{
	struct vblk_req *r;
	int ret = vblk_req_new(v, vq, type, sector, len, layout, &r);

	if (ret)
		return ret;
	if (!r->data_w && buf)
		memcpy(r->data, buf, len);
	ret = vblk_submit(v, r);
	if (!ret)
		ret = vblk_wait(v, r, VBLK_TIMEOUT_MS);
	if (ret)
		return ret; /* the device still owns it */
	if (r->data_w && buf)
		memcpy(buf, r->data, len);
	*status = *r->status;
	if (used_len)
		*used_len = r->used_len;
	return vblk_req_free(v, r);
}

void vblk_fill_random(void *buf, uint64_t len, uint64_t *s)
{
	uint8_t *p = buf;
	uint64_t r;

	for (; len >= 8; len -= 8, p += 8) {
		r = vblk_rand(s);
		memcpy(p, &r, 8);
	}
	if (len) {
		r = vblk_rand(s);
		memcpy(p, &r, len);
	}
}
