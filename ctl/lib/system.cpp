// SPDX-License-Identifier: GPL-2.0
#include "vhostctl/system.hpp"

#include <unistd.h>

namespace vhost {

std::size_t pageSize() noexcept
{
	static const auto size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));

	return size;
}

uint64_t physicalMemory() noexcept
{
	long pages = ::sysconf(_SC_PHYS_PAGES);

	return pages > 0 ? static_cast<uint64_t>(pages) * pageSize() : 0;
}

} // namespace vhost
