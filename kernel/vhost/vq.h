/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the two ring layouts share: vq.c (split rings, and the entry points
 * the device types call) and vq_packed.c (packed rings).  Not for the device
 * types, which see only vhost.h.
 */
#ifndef VHB_VQ_H
#define VHB_VQ_H

#include "vhost.h"

/* The most descriptors an indirect table may hold. */
#define VHB_MAX_INDIRECT 1024

/* Where a chain's iovecs accumulate while it is walked. */
struct vhb_chain {
	struct iovec *iov;
	unsigned int iov_size;
	struct vhb_chain_info *info;
	u64 total;
	bool writable;		/* a device-writable buffer was seen */
	struct iovec last_byte;	/* the last writable byte seen */
	/* vhb_log_chain(): mark writable bytes instead of translating. */
	bool log;
	u64 log_left;		/* data bytes still to mark */
	u64 log_last;		/* guest address of the last writable byte */
	int log_err;
	/*
	 * Packed rings: the writable guest ranges of a direct chain, recorded
	 * while it is fetched (its ring slots may be rewritten before the
	 * request completes), adjacent ones merged; NULL: none recorded.
	 */
	struct vhb_log_range *rec;
	unsigned int nrec;
	u64 rec_last;		/* guest address of the last writable byte */
};

int vhb_translate(struct vhb_virtqueue *vq, u64 addr, u32 len,
		  struct iovec *iov, unsigned int iov_size);
int vhb_indirect_count(struct vhb_virtqueue *vq, u32 len);
int vhb_chain_add_buf(struct vhb_virtqueue *vq, struct vhb_chain *c,
		      u64 addr, u32 len, bool write);

/* vq_packed.c: the packed ring behind the entry points of vq.c */
bool vhb_packed_access_ok(struct vhb_virtqueue *vq, u64 desc, u64 avail,
			  u64 used);
int vhb_packed_init_access(struct vhb_virtqueue *vq);
void vhb_packed_fini_access(struct vhb_virtqueue *vq);
int vhb_packed_avail_pending(struct vhb_virtqueue *vq);
int vhb_packed_get_desc(struct vhb_virtqueue *vq, struct iovec *iov,
			unsigned int iov_size, struct vhb_chain_info *info);
void vhb_packed_unget_desc(struct vhb_virtqueue *vq);
int vhb_packed_log_chain(struct vhb_virtqueue *vq, unsigned int id, u64 data);
int vhb_packed_add_used_n(struct vhb_virtqueue *vq,
			  const struct vhb_used *used, unsigned int count);
bool vhb_packed_should_notify(struct vhb_virtqueue *vq);
void vhb_packed_disable_notify(struct vhb_virtqueue *vq);
bool vhb_packed_enable_notify(struct vhb_virtqueue *vq);

#endif /* VHB_VQ_H */
