/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vblk's packed ring, behind the calls of vblk.h: what vblk.c hands to
 * vblk_packed.c when the device negotiated VIRTIO_F_RING_PACKED.  Not for
 * the suites.
 */
#ifndef VBLK_PACKED_H
#define VBLK_PACKED_H

#include "vblk.h"

/* The bytes of a packed ring and its two event areas, for @num slots. */
uint64_t vblk_packed_ring_size(unsigned int num);
/* Lay out @vq's ring at @base (zeroed) and its state: before setup. */
int vblk_packed_init_vq(struct vblk *v, unsigned int vq, uint8_t *base);
void vblk_packed_free_vq(struct vblk_vq *q);
/* What VHOST_SET_VRING_BASE starts a new ring with. */
uint32_t vblk_packed_base(const struct vblk *v, unsigned int vq);
/* vblk_req_new's part: take a buffer id and slots for @n drafted descriptors. */
int vblk_packed_req_new(struct vblk *v, struct vblk_req *r, struct vring_desc *t, unsigned int n,
			bool indirect);
/* vblk_req_free's part for a request never published. */
void vblk_packed_req_unpublished(struct vblk *v, struct vblk_req *r);
int vblk_packed_publish(struct vblk *v, struct vblk_req *r);
int vblk_packed_publish_head(struct vblk *v, unsigned int vq, uint16_t id);
int vblk_packed_collect(struct vblk *v, unsigned int vq, struct vblk_req **done, unsigned int max);
uint16_t vblk_packed_used_idx(struct vblk *v, unsigned int vq);
bool vblk_packed_kick_wanted(struct vblk *v, unsigned int vq);
/* Ask for a call at the next used descriptor (EVENT_IDX); true if one is there. */
bool vblk_packed_arm(struct vblk *v, unsigned int vq);
/* Has the device asked for a kick at the next slot to publish? */
bool vblk_packed_taken(struct vblk *v, unsigned int vq);
int vblk_packed_base_count(struct vblk *v, unsigned int vq, uint32_t base);

#endif /* VBLK_PACKED_H */
