// SPDX-License-Identifier: GPL-2.0
/*
 * Facts of the system libvhostctl runs on, asked in one place.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace vhost {

/* The size of a page of memory (sysconf(_SC_PAGESIZE)). */
std::size_t pageSize() noexcept;

/* The physical memory of the machine, in bytes (_SC_PHYS_PAGES pages). */
uint64_t physicalMemory() noexcept;

/* CPU time of the whole machine, summed over its CPUs, in seconds. */
struct CpuTime {
	/* Every state /proc/stat counts: user to steal (guest is in user). */
	double total = 0;
	/* What was neither idle nor waiting for I/O: total - idle - iowait. */
	double busy = 0;
};

/*
 * The "cpu" line of @path (/proc/stat, or a copy of one), every thread
 * of every process and the kernel's own included.  Throws Error: errno
 * when the file cannot be read, EINVAL naming it when it has no such line.
 */
CpuTime cpuTime(const std::string &path = "/proc/stat");

} // namespace vhost
