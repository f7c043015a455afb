/* SPDX-License-Identifier: GPL-2.0 */
/*
 * blk_fuzz_test's shared state: the request model and the split ring live in
 * blk_fuzz_test.c, the packed ring layer (layout, the packed ring rules of
 * the model, publishing, reaping used descriptors) in fuzz_packed.c.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stdbool.h>
#include <stdint.h>

#include "vblk.h"

#define FZ_NVQS 2
#define FZ_QSIZE 256
#define FZ_DEPTH 16 /* vblk's request slots: their memory is the arena */
#define FZ_BACKEND_SIZE (64ULL << 20)
#define FZ_SPAN (8ULL << 20) /* where the requests meant to succeed go */
#define FZ_CHAINS 12         /* chains per virtqueue and round, at most */
#define FZ_MAX_IOV 1024U     /* segments a chain may have */
#define FZ_MAX_BYTES (64U << 20)
#define FZ_MAX_INDIRECT 1024U
#define FZ_MAX_ZERO_SEGS 256U
#define FZ_MAX_DESC 1200U /* descriptors of one chain, in the table or the ring */
#define FZ_RING_CAP 20U   /* ring descriptors of one chain: 12 chains fit the ring */
#define FZ_CANARY 0xc5
#define FZ_SWEEP_ROUNDS 32 /* rounds between two checks of whole arenas */
#define FZ_MS 5000

/* A buffer as the model sees it, in guest physical addresses. */
struct fz_iov {
	uint64_t gpa;
	uint32_t len;
	bool w;
};

/* What the model says the device must do with a chain. */
struct fz_chain {
	uint16_t head;       /* split: the avail head; packed: the buffer id */
	uint32_t area;       /* its part of the arena, an offset */
	uint32_t extent;     /* the bytes of that part the fuzzer laid out */
	bool ring_err;       /* the device must stop at it */
	uint8_t status[2];   /* acceptable statuses; [1] may repeat [0] */
	uint32_t used_len;   /* exact when the status is OK, else 0 */
	uint32_t max_used;   /* the writable bytes */
	uint64_t status_gpa; /* the status byte */
	uint32_t type;
	uint64_t sector;
	uint32_t in_len, out_len;
	unsigned int niov;
	struct fz_iov *iov;
	bool done;
	const char *what; /* the last mutation applied, for the log */
	/* packed: the ring position of its first slot, the slots laid out and walked */
	uint64_t pos;
	unsigned int laid, slots;
	uint16_t head_flags; /* written last, when it is published */
};

struct fz_vq {
	uint8_t *arena, *want; /* the vq's buffer area, and what it must hold */
	uint64_t arena_gpa, arena_len;
	uint16_t next_desc; /* the round's next free ring descriptor (split) */
	unsigned int nchains;
	struct fz_chain chains[FZ_CHAINS + 1];
	bool jump;          /* the round ends with an avail index jump */
	uint16_t start;     /* avail index at the round's start */
	unsigned int stops; /* the model's first malformed chain, or nchains */
	unsigned int used;  /* used entries of the round */
	/*
	 * packed: positions in slots since the ring started (slot pos % num,
	 * wrap counter 1 in even laps): the round's first and next free
	 * slot; the ring as the device must leave it.
	 */
	uint64_t pstart, pnext;
	bool whole; /* the round is one chain round the whole ring */
	uint8_t id_taken[FZ_QSIZE];
	struct vring_packed_desc ring_want[FZ_QSIZE];
};

struct fz {
	struct vblk *v;
	struct vblk_backend *be;
	uint64_t seed;
	uint64_t features;
	bool packed;
	uint8_t *shadow;
	uint8_t *known; /* per sector of the span: its content is known */
	uint8_t *busy;  /* per CHUNK of the span: taken in this round */
	struct fz_vq q[FZ_NVQS];
	struct fz_iov iovs[FZ_NVQS][FZ_CHAINS + 1][FZ_MAX_IOV + 8];
	/* figures */
	uint64_t chains, completed, ok, req_errors, ring_errors, rounds, restarts, bytes;
	uint64_t jumps, no_status;      /* avail index jumps, chains without a status byte */
	uint64_t whole_ring;            /* packed: chains round the whole ring */
	struct vhost_blk_limits limits; /* in force: VHOST_BLK_GET_LIMITS */
	bool stray;                     /* the fuzzer laid out a chain it cannot judge */
	char err[512];
};

/* Walking a chain, for the model. */
struct fz_walk {
	struct fz *f;
	struct fz_chain *c;
	uint64_t total;
	unsigned int nseg;
	bool writable;      /* a writable descriptor came, even an empty one */
	bool oversized;     /* well-formed, but over 1024 segments or 64 MiB */
	bool has_status;    /* a writable byte came */
	uint64_t status;    /* the last writable byte */
	unsigned int ndesc; /* buffers, empty ones too (seg_max) */
	uint32_t max_len;   /* the longest (size_max) */
	const char *why;
};

/* Bump allocation in a chain's part of the arena. */
struct fz_area {
	struct fz *f;
	struct fz_vq *fq;
	struct fz_chain *c;
	uint32_t off, end;
};

/* A descriptor list under construction: the chain's, before placement. */
struct fz_list {
	struct vring_desc d[FZ_MAX_DESC];
	unsigned int n;
};

static inline uint64_t rnd(struct fz *f)
{
	return vblk_rand(&f->seed);
}

/* A random number below @n (n > 0). */
static inline uint64_t below(struct fz *f, uint64_t n)
{
	return rnd(f) % n;
}

static inline bool chance(struct fz *f, unsigned int pct)
{
	return below(f, 100) < pct;
}

/* Guest memory at [@gpa, @gpa + @len), or NULL when any of it is outside. */
static inline void *gmem(struct fz *f, uint64_t gpa, uint64_t len)
{
	if (gpa > f->v->mem_size || len > f->v->mem_size - gpa)
		return NULL;
	return f->v->mem + gpa;
}

/* blk_fuzz_test.c */
int fz_fail(struct fz *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool fz_walk_err(struct fz_walk *w, const char *why);
/* One buffer of the chain, as the device adds it: false (w->why) if malformed. */
bool fz_walk_buf(struct fz_walk *w, uint64_t addr, uint32_t len, bool wr);
uint64_t fz_area_alloc(struct fz_area *a, uint32_t len, uint32_t align);
uint64_t fz_bad_addr(struct fz *f, uint32_t len);
/* A used buffer @id of @len bytes written: check it against the model. */
int fz_complete(struct fz *f, unsigned int q, uint32_t id, uint32_t len);

/* fuzz_packed.c: the packed ring layer */
/* The packed ring rules: false (and w->why) when the device must stop at @c. */
bool fzp_walk_chain(struct fz_walk *w, unsigned int q, struct fz_chain *c);
/*
 * Lay out @l as chain @a->c at the round's next slot, maybe through a table;
 * @bad_next: damage the table, or let garbage follow.
 */
void fzp_place(struct fz_area *a, struct fz_list *l, bool bad_next);
/* The ring as it is, before the first round: vblk_packed_set_pos() wrote its flags. */
void fzp_init(struct fz *f, unsigned int q);
/* A round starts at the slot after the last one's: maybe a round of one whole-ring chain. */
void fzp_round_start(struct fz *f, unsigned int q);
void fzp_publish(struct fz *f, unsigned int q);
/* Reap used descriptors of @q until none is there: 0, or -1 with f->err. */
int fzp_reap(struct fz *f, unsigned int q);
/* VHOST_GET_VRING_BASE's value where the model stops @q, and restart at the round's end. */
uint32_t fzp_stop_base(struct fz *f, unsigned int q);
uint32_t fzp_restart_base(struct fz *f, unsigned int q);
/* The ring must be as laid out, but for the used descriptors: 0, or -1 with f->err. */
int fzp_check_ring(struct fz *f, unsigned int q);

#endif /* FUZZ_H */
