// SPDX-License-Identifier: GPL-2.0
#include "vhostctl/kernel_transport.hpp"

#include "vhostctl/memory.hpp"

namespace vhost {

void KernelTransport::setMemTable(const virtio::Memory &mem)
{
	dev_.setMemTable(mem.regions());
}

} // namespace vhost
