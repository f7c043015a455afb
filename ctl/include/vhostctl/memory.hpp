// SPDX-License-Identifier: GPL-2.0
/*
 * virtio::Memory: the "guest memory" of a userspace virtio driver.  One
 * shared mapping of a memfd, seen by the device at guest physical addresses
 * [gpaBase, gpaBase + size), handed out by a bump allocator.  Rings and
 * buffers live in it; the device reaches them through the memory table: an
 * in-kernel device through the driver's own mapping, a vhost-user backend
 * by mapping the memfd itself.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "vhostctl/device.hpp"
#include "vhostctl/unique_fd.hpp"

namespace virtio {

/* A piece of guest memory: where the driver sees it and where the device does. */
struct Chunk {
	std::span<std::byte> host;
	uint64_t gpa = 0;

	uint64_t userAddr() const noexcept { return reinterpret_cast<uintptr_t>(host.data()); }
};

class Memory final
{
public:
	/*
	 * Map @size bytes (rounded up to pages) at guest physical @gpaBase
	 * (page aligned); the memory table describes it as @regions equal
	 * regions, so that buffers may cross a region boundary.  Throws
	 * vhost::Error.
	 */
	explicit Memory(std::size_t size, uint64_t gpaBase = 0, unsigned int regions = 1);
	Memory(Memory &&other) noexcept;
	Memory &operator=(Memory &&other) noexcept;
	Memory(const Memory &) = delete;
	Memory &operator=(const Memory &) = delete;
	~Memory();

	std::size_t size() const noexcept { return size_; }
	/* The memfd behind the mapping; a region's offset in it is userAddr - base(). */
	int fd() const noexcept { return fd_.get(); }
	const std::byte *base() const noexcept { return base_; }
	uint64_t gpaBase() const noexcept { return gpaBase_; }
	std::size_t used() const noexcept { return next_; }

	/*
	 * The next @size bytes at a multiple of @align (a power of two),
	 * zeroed.  Throws vhost::Error(ENOMEM) when the area is exhausted.
	 */
	Chunk alloc(std::size_t size, std::size_t align = 8);

	/* Guest physical address of a host pointer into the area, and back. */
	uint64_t gpa(const void *host) const;
	void *host(uint64_t gpa, std::size_t len = 1) const;

	/* The memory table, each region with fd() and its offset in it. */
	std::vector<vhost::MemRegion> regions() const;

	/* Round @size up to a multiple of @align (a power of two). */
	static std::size_t alignUp(std::size_t size, std::size_t align) noexcept
	{
		return (size + align - 1) & ~(align - 1);
	}

private:
	vhost::UniqueFd fd_;
	std::byte *base_ = nullptr;
	std::size_t size_ = 0;
	uint64_t gpaBase_ = 0;
	unsigned int nregions_ = 1;
	std::size_t next_ = 0;
};

} // namespace virtio
