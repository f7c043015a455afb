// SPDX-License-Identifier: GPL-2.0
#include "vhostctl/kernel_transport.hpp"

namespace vhost {

void KernelTransport::setLimits(const virtio::blk::Limits &limits)
{
	/*
	 * THE place for VHOST_BLK_SET_LIMITS (the kernel-hardening issue,
	 * 13): the module then learns the capacity, request limits and
	 * read-only state the VMM put in config space, at bring-up and at
	 * every resize.  Until the module has the ioctl, it serves the
	 * backend's own size and nothing is sent.
	 */
	(void)limits;
}

} // namespace vhost
