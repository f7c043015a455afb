// SPDX-License-Identifier: GPL-2.0
/*
 * Facts of the system libvhostctl runs on, asked in one place.
 */
#pragma once

#include <cstddef>
#include <cstdint>

namespace vhost {

/* The size of a page of memory (sysconf(_SC_PAGESIZE)). */
std::size_t pageSize() noexcept;

/* The physical memory of the machine, in bytes (_SC_PHYS_PAGES pages). */
uint64_t physicalMemory() noexcept;

} // namespace vhost
