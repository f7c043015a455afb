// SPDX-License-Identifier: GPL-2.0
#include "vhostctl/kernel_transport.hpp"

#include <cerrno>

#include "vhostctl/error.hpp"

namespace vhost {

void KernelTransport::setLimits(const virtio::blk::Limits &limits)
{
	/*
	 * VHOST_BLK_SET_LIMITS: the module learns the capacity, request
	 * limits and read-only state the VMM put in config space, at
	 * bring-up and at every resize, and enforces them.  A module that
	 * predates the ioctl (ENOTTY) serves the backend's own size.
	 */
	if (!limitsSupported_)
		return;
	try {
		dev_.setLimits(limits);
	} catch (const Error &e) {
		if (e.errnum() != ENOTTY)
			throw;
		limitsSupported_ = false;
	}
}

} // namespace vhost
