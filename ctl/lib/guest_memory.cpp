// SPDX-License-Identifier: GPL-2.0
#include "vhostctl/guest_memory.hpp"

#include <algorithm>
#include <cerrno>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "vhostctl/error.hpp"
#include "vhostctl/system.hpp"

namespace vhost::user {

namespace {

bool sameRegion(const GuestRegion &a, const MemTableRegion &b, const struct stat &st)
{
	return a.dev == st.st_dev && a.ino == st.st_ino &&
	       a.table.guestPhysAddr == b.guestPhysAddr && a.table.size == b.size &&
	       a.table.userAddr == b.userAddr && a.table.mmapOffset == b.mmapOffset;
}

} // namespace

Mapping::Mapping(int fd, uint64_t offset, uint64_t size) : size_(size)
{
	uint64_t delta = offset % vhost::pageSize();

	if (!size || size > SIZE_MAX - delta || offset > static_cast<uint64_t>(INT64_MAX))
		throw Error(EINVAL, fmt::format("map {} bytes at offset {:#x}", size, offset));
	void *p = ::mmap(nullptr, static_cast<std::size_t>(size + delta), PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, static_cast<off_t>(offset - delta));
	if (p == MAP_FAILED)
		throwErrno("mmap {} bytes at offset {:#x} of fd {}", size, offset, fd);
	base_ = static_cast<std::byte *>(p);
	delta_ = static_cast<std::size_t>(delta);
}

Mapping::~Mapping()
{
	if (base_)
		::munmap(base_, static_cast<std::size_t>(size_ + delta_));
}

GuestMemory GuestMemory::map(std::span<const MemTableRegion> regions, std::span<const UniqueFd> fds,
			     const GuestMemory *previous)
{
	GuestMemory out;

	if (fds.size() != regions.size())
		throw Error(EINVAL, fmt::format("memory table of {} regions with {} descriptors",
						regions.size(), fds.size()));
	for (std::size_t i = 0; i < regions.size(); i++) {
		const MemTableRegion &r = regions[i];
		std::string what =
			fmt::format("region {} (guest {:#x}+{:#x})", i, r.guestPhysAddr, r.size);

		if (!r.size || r.guestPhysAddr + r.size < r.guestPhysAddr ||
		    r.userAddr + r.size < r.userAddr || r.mmapOffset + r.size < r.mmapOffset)
			throw Error(EINVAL, fmt::format("{}: empty or overflowing", what));
		struct stat st = {};
		if (::fstat(fds[i].get(), &st) < 0)
			throwErrno("{}: fstat", what);
		/* Past the end of a file the mapping would fault (SIGBUS here, EFAULT there). */
		if (S_ISREG(st.st_mode) &&
		    r.mmapOffset + r.size > static_cast<uint64_t>(st.st_size))
			throw Error(EINVAL, fmt::format("{}: offset {:#x} is past the end of its "
							"file of {} bytes",
							what, r.mmapOffset + r.size, st.st_size));

		GuestRegion g;
		g.table = r;
		g.dev = st.st_dev;
		g.ino = st.st_ino;
		if (previous) {
			auto it = std::find_if(
				previous->regions_.begin(), previous->regions_.end(),
				[&](const GuestRegion &p) { return sameRegion(p, r, st); });
			if (it != previous->regions_.end())
				g.map = it->map;
		}
		if (!g.map) {
			try {
				g.map = std::make_shared<const Mapping>(fds[i].get(), r.mmapOffset,
									r.size);
			} catch (const Error &e) {
				throw Error(e.errnum(), fmt::format("{}: {}", what, e.context()));
			}
		}
		out.regions_.push_back(std::move(g));
	}

	std::vector<const MemTableRegion *> byGpa;
	for (const auto &g : out.regions_)
		byGpa.push_back(&g.table);
	std::sort(byGpa.begin(), byGpa.end(),
		  [](auto *a, auto *b) { return a->guestPhysAddr < b->guestPhysAddr; });
	for (std::size_t i = 1; i < byGpa.size(); i++) {
		if (byGpa[i - 1]->guestPhysAddr + byGpa[i - 1]->size > byGpa[i]->guestPhysAddr)
			throw Error(EINVAL,
				    fmt::format("memory regions at guest {:#x} and {:#x} overlap",
						byGpa[i - 1]->guestPhysAddr,
						byGpa[i]->guestPhysAddr));
	}
	return out;
}

uint64_t GuestMemory::translate(uint64_t userAddr, uint64_t len) const
{
	for (const auto &g : regions_) {
		uint64_t start = g.table.userAddr;

		if (userAddr >= start && userAddr - start < g.table.size &&
		    len <= g.table.size - (userAddr - start))
			return g.bridgeAddr() + (userAddr - start);
	}
	throw Error(EFAULT, fmt::format("frontend address {:#x}+{:#x} is in no memory region",
					userAddr, len));
}

std::vector<MemRegion> GuestMemory::kernelTable() const
{
	std::vector<MemRegion> out;

	for (const auto &g : regions_)
		out.push_back({g.table.guestPhysAddr, g.table.size, g.bridgeAddr()});
	return out;
}

} // namespace vhost::user
