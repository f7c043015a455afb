/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vblk: a small virtio-blk driver in userspace, the "guest" of the data-path
 * suites.  One anonymous mapping is the guest's memory: guest physical
 * address 0 is its start, and it is described to the device as two regions,
 * so that some buffers cross a region boundary.  It holds the rings, split
 * or packed (VIRTIO_F_RING_PACKED negotiated), and, per virtqueue, a fixed
 * number of request slots.  A request's header, data and status byte are
 * contiguous in its slot; layout flags choose how the descriptor chain cuts
 * them.  The same calls drive either ring: a split ring's counters (avail
 * and used indexes) keep their meaning on a packed ring, as counts of
 * buffers published and used.
 *
 * Functions return 0 (or a count) on success and -errno on failure, never
 * exit, and leave a message for vblk_error().  x86 only: little endian, no
 * byte swapping.
 */
#ifndef VBLK_H
#define VBLK_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/vhost_blk.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#define VBLK_DEV_PATH "/dev/" VHOST_BLK_DEVICE_NAME
#define VBLK_SECTOR 512U
#define VBLK_SERIAL_LEN VHOST_BLK_SERIAL_BYTES
/* How long a request may take under QEMU TCG before it counts as lost. */
#define VBLK_TIMEOUT_MS 15000
#define VBLK_MAX_VQS 64

#define VBLK_BIT(b) (1ULL << (b))
/* The features of a split ring that the device must offer. */
#define VBLK_FEATURES_SPLIT                                                                        \
	(VBLK_BIT(VIRTIO_F_VERSION_1) | VBLK_BIT(VIRTIO_F_ANY_LAYOUT) |                            \
	 VBLK_BIT(VIRTIO_F_NOTIFY_ON_EMPTY) | VBLK_BIT(VIRTIO_RING_F_INDIRECT_DESC) |              \
	 VBLK_BIT(VIRTIO_RING_F_EVENT_IDX) | VBLK_BIT(VIRTIO_BLK_F_MQ) |                           \
	 VBLK_BIT(VIRTIO_BLK_F_FLUSH) | VBLK_BIT(VIRTIO_BLK_F_DISCARD) |                           \
	 VBLK_BIT(VIRTIO_BLK_F_WRITE_ZEROES))
/*
 * What the device must offer, and what vblk_open() negotiates by default:
 * VBLK_FEATURES_SPLIT, and VIRTIO_F_RING_PACKED when the environment says
 * VBLK_RING=packed, so that every suite built on the default runs on
 * packed rings.
 */
#define VBLK_FEATURES_ALL vblk_features_all()
uint64_t vblk_features_all(void);
/* Does VBLK_FEATURES_ALL ask for packed rings? */
bool vblk_default_packed(void);

/* Layout of a request's descriptor chain (flags, combinable). */
enum {
	VBLK_SPLIT_HDR = 1 << 0, /* the header in three descriptors: 5, 7, 4 bytes */
	VBLK_MERGE = 1 << 1,     /* data shares a descriptor with the header or the status */
	VBLK_FRAG = 1 << 2,      /* data in descriptors of frag_size bytes */
	VBLK_INDIRECT = 1 << 3,  /* the chain in an indirect table */
	VBLK_DATA_W = 1 << 4,    /* data device-writable, whatever the type */
	VBLK_DATA_R = 1 << 5,    /* data device-readable, whatever the type */
	VBLK_STAT_ODD = 1 << 6,  /* the status byte apart, at an odd address (no VBLK_MERGE) */
};

struct vblk_config {
	unsigned int nvqs;       /* virtqueues configured, from 0 */
	unsigned int queue_size; /* ring entries: a power of two (split), up to 32768 */
	unsigned int depth;      /* request slots per virtqueue */
	uint32_t max_data;       /* data bytes per request */
	uint32_t frag_size;      /* VBLK_FRAG piece size; 0: 1000 */
	uint32_t split_at;       /* the memory regions' boundary, this far into vq 0's
				  * first data buffer; 0: 4104 bytes (8 if small) */
	uint64_t features;       /* 0: VBLK_FEATURES_ALL */
	bool kthread;            /* kthread workers (VHOST_SET_FORK_FROM_OWNER) */
};

struct vblk_req {
	unsigned int vq;
	uint32_t type;
	uint64_t sector;
	uint32_t len;
	unsigned int layout;
	bool data_w;                   /* data is device-writable */
	void *data;                    /* len bytes of guest memory */
	struct virtio_blk_outhdr *hdr; /* in guest memory */
	volatile uint8_t *status;      /* 0xff until the device writes it */
	uint16_t head;                 /* the chain's first ring descriptor; packed: its id */
	unsigned int ndesc;            /* ring descriptors, ids[]; packed: ring slots */
	uint16_t *ids;                 /* packed: ids[0] is the buffer id */
	struct vring_desc *table;      /* the indirect table, or NULL */
	unsigned int ntable;
	bool inflight;     /* published, not yet used */
	bool done;         /* used by the device */
	uint32_t used_len; /* the used entry's len */
	/*
	 * Packed: the chain is drafted in split descriptors (next unused)
	 * and written into the ring when published: draft[0..ndraft), or
	 * the one descriptor ind of an indirect chain, whose table is
	 * turned into packed descriptors then.  buf_id goes into every
	 * descriptor (head unless a test changes it); used_slot is where
	 * its used descriptor was found.
	 */
	struct vring_desc *draft;
	unsigned int ndraft;
	struct vring_desc ind;
	uint16_t buf_id;
	uint16_t used_slot;
};

struct vblk_vq {
	struct vring vr;     /* split */
	int kick, call, err; /* eventfds */
	uint16_t avail_idx;  /* next avail entry to publish; packed: buffers published */
	uint16_t kicked_idx; /* avail idx at the last kick decision */
	uint16_t used_idx;   /* next used entry to reap; packed: buffers reaped */
	/*
	 * Packed: the ring and the two event areas, and positions counted in
	 * slots from where the ring started (slot pos % num, wrap counter 1
	 * in even laps): the next to publish and to reap, and where each of
	 * the last num + 1 buffers published ended (pub_end[n % (num + 1)]
	 * after n of them, npub so far).
	 */
	struct vring_packed_desc *pdesc;
	struct vring_packed_desc_event *driver, *device;
	uint64_t avail_pos, used_pos;
	uint64_t *pub_end;
	uint64_t npub;
	unsigned int nfree_slots;
	uint16_t *free_ids;
	unsigned int nfree_ids;
	struct vblk_req *reqs; /* depth slots */
	struct vblk_req **free_reqs;
	unsigned int nfree_reqs;
	struct vblk_req **by_head;
	unsigned int inflight;
	uint8_t *slots;
};

struct vblk {
	int fd;
	uint8_t *mem;
	uint64_t mem_size;
	uint64_t split; /* guest physical start of the second region */
	uint64_t features;
	bool packed; /* VIRTIO_F_RING_PACKED */
	unsigned int nvqs, num, depth, max_desc;
	uint32_t max_data, frag_size;
	uint64_t slot_size;
	struct vblk_vq *vqs;
};

const char *vblk_error(void);
/* Record @fmt and strerror(@err) for vblk_error(); returns -@err. */
int vblk_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 0 if /dev/vhost-blk takes VHOST_BLK_SET_BACKEND, -ENOTTY if not, or why not. */
int vblk_probe(void);

int vblk_open(const struct vblk_config *cfg, struct vblk **vp);
void vblk_close(struct vblk *v);
/* VHOST_SET_MEM_TABLE with the guest memory's two regions (again). */
int vblk_set_mem_table(struct vblk *v);
/* VHOST_BLK_SET_BACKEND; fd -1 detaches. */
int vblk_set_backend(struct vblk *v, int fd);
uint64_t vblk_gpa(const struct vblk *v, const void *p);
/* Bytes of a dirty log covering the guest memory: one bit per 4 KiB page. */
uint64_t vblk_log_size(const struct vblk *v);
/*
 * Dirty logging on (@log, VHOST_F_LOG_ALL and VHOST_VRING_F_LOG on every
 * virtqueue, @log_fd signalled, or -1) or off (@log NULL).  Any time,
 * rings running or not.
 */
int vblk_set_log(struct vblk *v, void *log, int log_fd);

int vblk_req_new(struct vblk *v, unsigned int vq, uint32_t type, uint64_t sector, uint32_t len,
		 unsigned int layout, struct vblk_req **reqp);
/* Return a completed (or never published) request's slot. */
int vblk_req_free(struct vblk *v, struct vblk_req *req);
/*
 * Put a chain head on the avail ring, without kicking; packed: make a chain
 * of one empty descriptor with buffer id @head available.  For tests of
 * what the device refuses.
 */
int vblk_publish_head(struct vblk *v, unsigned int vq, uint16_t head);
int vblk_publish(struct vblk *v, struct vblk_req *req);
/*
 * Descriptor @k of @req's chain before it is published, for a test to
 * damage: the ring's (split), or the draft publishing copies (packed; next
 * means nothing there).  Descriptor 0 of an indirect chain points at the
 * table.
 */
struct vring_desc *vblk_req_desc(struct vblk *v, struct vblk_req *req, unsigned int k);
/*
 * Does the device want a kick for what was published since the last kick
 * decision (used flags or avail_event; packed: the device event area)?
 */
bool vblk_kick_wanted(struct vblk *v, unsigned int vq);
/* Kick if the device asks for it; force: always. */
int vblk_kick(struct vblk *v, unsigned int vq, bool force);
int vblk_submit(struct vblk *v, struct vblk_req *req);
/* Buffers used so far (split: used->idx; packed: counted in the ring). */
uint16_t vblk_used_idx(struct vblk *v, unsigned int vq);
/*
 * The buffers the device took, from what VHOST_GET_VRING_BASE returned:
 * split, the index itself; packed, counted up to the slot it names.
 * -1 if no published buffer ends there.
 */
int vblk_vring_base_count(struct vblk *v, unsigned int vq, uint32_t base);
/* Where the device writes to return requests: the used ring; packed, the ring. */
void vblk_used_area(struct vblk *v, unsigned int vq, uint64_t *gpa, uint64_t *len);
/* Where the device published @req: used->idx; packed, its used descriptor's flags. */
uint64_t vblk_used_gpa(struct vblk *v, const struct vblk_req *req);
/* EVENT_IDX, split: the driver's used_event and the device's avail_event of @vq. */
volatile uint16_t *vblk_used_event(struct vblk *v, unsigned int vq);
volatile uint16_t *vblk_avail_event(struct vblk *v, unsigned int vq);
/*
 * Wait until the device has taken every request published on @vq (EVENT_IDX:
 * it asks for the next kick at our avail idx only once its ring is empty).
 * A kick only queues the worker: without this, an ioctl made right after it
 * may run first.  0, -EOPNOTSUPP without EVENT_IDX, or -ETIMEDOUT.
 */
int vblk_wait_taken(struct vblk *v, unsigned int vq, int timeout_ms);

/*
 * Collect used entries of @vq into @done (at most @max); with @timeout_ms,
 * wait on the call eventfd for at least one.  Returns how many, -ETIMEDOUT,
 * or -EPROTO when the device used something it did not get.
 */
int vblk_reap(struct vblk *v, unsigned int vq, struct vblk_req **done, unsigned int max,
	      int timeout_ms);
/* Wait until some virtqueue has used entries: 0, or -ETIMEDOUT. */
int vblk_wait_any(struct vblk *v, int timeout_ms);
/* Reap @req's virtqueue until @req is used (others are only marked done). */
int vblk_wait(struct vblk *v, struct vblk_req *req, int timeout_ms);
/* Wait on @vq's error eventfd: 0 when signalled, or -ETIMEDOUT. */
int vblk_wait_error(struct vblk *v, unsigned int vq, int timeout_ms);

/*
 * One synchronous request: @buf is copied in (device-readable data) or out
 * (device-writable data).  Returns 0 with *status and *used_len, or -errno.
 */
int vblk_run(struct vblk *v, unsigned int vq, uint32_t type, uint64_t sector, void *buf,
	     uint32_t len, unsigned int layout, uint8_t *status, uint32_t *used_len);

/* Backing devices for the suites. */
enum vblk_backend_kind {
	VBLK_BE_FILE,     /* a regular file in $TMPDIR */
	VBLK_BE_BRD,      /* /dev/ram0 */
	VBLK_BE_NULLB,    /* a memory-backed null_blk, through configfs */
	VBLK_BE_NULLB_BB, /* the same, sectors 0-7 bad */
	VBLK_BE_DM_ERROR, /* dm: sectors 0-7 "error", the rest "zero" */
	VBLK_BE_DM_DELAY, /* dm "delay" over a null_blk: vblk_backend_open_delayed() */
	VBLK_BE_FS,       /* ext4 on a null_blk, mounted: vblk_fs_open() */
	VBLK_BE_DM,       /* dm "linear" over a null_blk: vblk_backend_dm_table() swaps it */
};

struct vblk_backend {
	enum vblk_backend_kind kind;
	int fd; /* O_RDWR */
	uint64_t size;
	char path[96];
	char name[32];       /* null_blk or dm name */
	char lower[32];      /* the null_blk under a dm device */
	char lower_path[96]; /* its node */
};

/* -ENODEV when this kind cannot be set up here (a reason to skip). */
int vblk_backend_open(struct vblk_backend *b, enum vblk_backend_kind kind, uint64_t size);
void vblk_backend_close(struct vblk_backend *b);
/*
 * A memory-backed null_blk (VBLK_BE_NULLB) whose requests complete
 * @completion_us after submission (irqmode 2, completion_nsec).
 */
int vblk_backend_open_slow(struct vblk_backend *b, uint64_t size, unsigned int completion_us);
/* Open it again with @flags (O_RDONLY): a new fd, or -errno. */
int vblk_backend_reopen(struct vblk_backend *b, int flags);
/*
 * A device whose writes and flushes take @write_delay_ms and whose reads
 * are immediate: dm "delay" over a memory-backed null_blk.
 */
int vblk_backend_open_delayed(struct vblk_backend *b, uint64_t size, unsigned int write_delay_ms);
/*
 * VBLK_BE_DM, VBLK_BE_DM_DELAY: load a new table (dmsetup table lines, "%s"
 * standing for the null_blk under it) and resume with it; I/O in flight
 * waits meanwhile.
 */
int vblk_backend_dm_table(struct vblk_backend *b, const char *table);
/* null_blk kinds: sectors [@first, @last] become bad (@bad) or good again. */
int vblk_backend_badblocks(struct vblk_backend *b, bool bad, uint64_t first, uint64_t last);
/*
 * A memory-backed null_blk of @size bytes with @block_size logical blocks,
 * made into an ext4 filesystem (mkfs.ext4 options @mkfs_opts) mounted on
 * a new directory, whose path goes to @b->path.  vblk_backend_close()
 * unmounts it.
 */
int vblk_fs_open(struct vblk_backend *b, uint64_t size, unsigned int block_size,
		 const char *mkfs_opts);

/* ---- packed rings (vblk_packed.c) ---- */

/* Position @pos as VHOST_*_VRING_BASE and off_wrap have it: slot | wrap << 15. */
uint16_t vblk_packed_enc(const struct vblk *v, uint64_t pos);
/*
 * Move @vq's packed ring, no backend attached and nothing in flight, to
 * position @pos: the driver's, and the device's (VHOST_SET_VRING_BASE).
 */
int vblk_packed_set_pos(struct vblk *v, unsigned int vq, uint64_t pos);

/* Deterministic pseudo-random bytes. */
uint64_t vblk_rand(uint64_t *state);
void vblk_fill_random(void *buf, uint64_t len, uint64_t *state);

#endif /* VBLK_H */
