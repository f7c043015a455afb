// SPDX-License-Identifier: GPL-2.0
/*
 * The guest memory a vhost-user backend maps: the regions of one
 * SET_MEM_TABLE, each an mmap of the descriptor that came with it.
 *
 * A region is known by three addresses: its guest physical address, its
 * address in the frontend's process (userAddr, which SET_VRING_ADDR uses)
 * and where this process mapped it (bridgeAddr, which the kernel's memory
 * table and ring addresses must use).  GuestMemory translates the second
 * into the third.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <sys/types.h>
#include <vector>

#include "vhostctl/device.hpp"
#include "vhostctl/unique_fd.hpp"
#include "vhostctl/vhost_user.hpp"

namespace vhost::user {

/* One shared read-write mapping, unmapped on destruction. */
class Mapping final
{
public:
	/*
	 * Map @size bytes of @fd from @offset; @offset need not be page
	 * aligned.  Throws vhost::Error.
	 */
	Mapping(int fd, uint64_t offset, uint64_t size);
	Mapping(const Mapping &) = delete;
	Mapping &operator=(const Mapping &) = delete;
	~Mapping();

	/* Where byte @offset of the file landed. */
	std::byte *data() const noexcept { return base_ + delta_; }
	uint64_t size() const noexcept { return size_; }

private:
	std::byte *base_ = nullptr;
	std::size_t delta_ = 0;
	uint64_t size_ = 0;
};

struct GuestRegion {
	MemTableRegion table;
	std::shared_ptr<const Mapping> map;
	/* The file behind it, so that an unchanged region keeps its mapping. */
	dev_t dev = 0;
	ino_t ino = 0;

	uint64_t bridgeAddr() const noexcept { return reinterpret_cast<uintptr_t>(map->data()); }
};

class GuestMemory final
{
public:
	GuestMemory() = default;

	/*
	 * Map the regions of one SET_MEM_TABLE, region i from @fds[i].  A
	 * region of @previous with the same file, offset, size and addresses
	 * keeps its mapping (and so its bridge address).  Throws
	 * vhost::Error: EINVAL for a descriptor count that does not match,
	 * an empty or overflowing region, or guest ranges that overlap.
	 */
	static GuestMemory map(std::span<const MemTableRegion> regions,
			       std::span<const UniqueFd> fds,
			       const GuestMemory *previous = nullptr);

	bool empty() const noexcept { return regions_.empty(); }
	const std::vector<GuestRegion> &regions() const noexcept { return regions_; }

	/*
	 * The bridge address of frontend address @userAddr, whose @len bytes
	 * must lie in one region; Error(EFAULT) otherwise.
	 */
	uint64_t translate(uint64_t userAddr, uint64_t len) const;

	/* The memory table for VHOST_SET_MEM_TABLE: guest ranges at bridge addresses. */
	std::vector<MemRegion> kernelTable() const;

private:
	std::vector<GuestRegion> regions_;
};

} // namespace vhost::user
