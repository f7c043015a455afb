// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel's own legacy ring layout (vring_init, vring_size from
 * <linux/virtio_ring.h>), in C because those inline helpers are C only: the
 * reference the C++ RingLayout is checked against.
 */
#undef VIRTIO_RING_NO_LEGACY
#include <linux/virtio_ring.h>
#include <stdint.h>

#include "vring_ref.h"

unsigned long vring_ref_size(unsigned int num, unsigned long align)
{
	return vring_size(num, align);
}

void vring_ref_offsets(unsigned int num, unsigned long align, struct vring_ref *out)
{
	/* Big enough for the largest ring: the offsets are all that is used. */
	static char base[1 << 20] __attribute__((aligned(4096)));
	struct vring vr;

	vring_init(&vr, num, base, align);
	out->avail = (unsigned long)((char *)vr.avail - base);
	out->used = (unsigned long)((char *)vr.used - base);
	out->used_event = (unsigned long)((char *)&vring_used_event(&vr) - base);
	out->avail_event = (unsigned long)((char *)&vring_avail_event(&vr) - base);
}
