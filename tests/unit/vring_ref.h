/* SPDX-License-Identifier: GPL-2.0 */
/* The kernel's legacy ring layout, computed by its own C helpers (vring_ref.c). */
#ifndef VRING_REF_H
#define VRING_REF_H

#ifdef __cplusplus
extern "C" {
#endif

struct vring_ref {
	unsigned long avail;
	unsigned long used;
	unsigned long used_event;
	unsigned long avail_event;
};

unsigned long vring_ref_size(unsigned int num, unsigned long align);
void vring_ref_offsets(unsigned int num, unsigned long align, struct vring_ref *out);

#ifdef __cplusplus
}
#endif

#endif /* VRING_REF_H */
