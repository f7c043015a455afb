// SPDX-License-Identifier: GPL-2.0
#include "vhostctl/memory.hpp"

#include <cerrno>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>
#include <utility>

#include <fmt/format.h>

#include "vhostctl/error.hpp"
#include "vhostctl/system.hpp"

namespace virtio {

using vhost::pageSize;

Memory::Memory(std::size_t size, uint64_t gpaBase, unsigned int regions)
	: size_(alignUp(size ? size : 1, pageSize())), gpaBase_(gpaBase), nregions_(regions)
{
	if (gpaBase % pageSize() || !regions || regions > size_ / pageSize())
		throw vhost::Error(EINVAL,
				   fmt::format("guest memory of {} bytes at {:#x} in {} regions",
					       size_, gpaBase, regions));
	fd_ = vhost::UniqueFd(::memfd_create("virtio-memory", MFD_CLOEXEC));
	if (!fd_)
		vhost::throwErrno("memfd_create for guest memory");
	if (::ftruncate(fd_.get(), static_cast<off_t>(size_)))
		vhost::throwErrno("size guest memory to {} bytes", size_);
	void *p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
	if (p == MAP_FAILED)
		vhost::throwErrno("mmap {} bytes of guest memory", size_);
	base_ = static_cast<std::byte *>(p);
}

Memory::Memory(Memory &&other) noexcept
	: fd_(std::move(other.fd_)), base_(std::exchange(other.base_, nullptr)),
	  size_(std::exchange(other.size_, 0)), gpaBase_(other.gpaBase_),
	  nregions_(other.nregions_), next_(std::exchange(other.next_, 0))
{}

Memory &Memory::operator=(Memory &&other) noexcept
{
	if (this != &other) {
		if (base_)
			::munmap(base_, size_);
		fd_ = std::move(other.fd_);
		base_ = std::exchange(other.base_, nullptr);
		size_ = std::exchange(other.size_, 0);
		gpaBase_ = other.gpaBase_;
		nregions_ = other.nregions_;
		next_ = std::exchange(other.next_, 0);
	}
	return *this;
}

Memory::~Memory()
{
	if (base_)
		::munmap(base_, size_);
}

Chunk Memory::alloc(std::size_t size, std::size_t align)
{
	std::size_t start = alignUp(next_, align);

	if (start > size_ || size > size_ - start)
		throw vhost::Error(ENOMEM,
				   fmt::format("guest memory: {} bytes wanted, {} of {} free", size,
					       size_ - std::min(start, size_), size_));
	next_ = start + size;
	/* Fresh from mmap, or handed out before by nobody: zero it anyway. */
	std::memset(base_ + start, 0, size);
	return Chunk{std::span<std::byte>(base_ + start, size), gpaBase_ + start};
}

uint64_t Memory::gpa(const void *host) const
{
	auto *p = static_cast<const std::byte *>(host);

	if (p < base_ || p >= base_ + size_)
		throw vhost::Error(EFAULT, fmt::format("{} is not in guest memory", host));
	return gpaBase_ + static_cast<uint64_t>(p - base_);
}

void *Memory::host(uint64_t gpa, std::size_t len) const
{
	if (gpa < gpaBase_ || gpa - gpaBase_ > size_ || len > size_ - (gpa - gpaBase_))
		throw vhost::Error(
			EFAULT,
			fmt::format("guest address {:#x}+{} is not in guest memory", gpa, len));
	return base_ + (gpa - gpaBase_);
}

std::vector<vhost::MemRegion> Memory::regions() const
{
	std::vector<vhost::MemRegion> out;
	std::size_t pages = size_ / pageSize();
	std::size_t offset = 0;

	for (unsigned int i = 0; i < nregions_; i++) {
		/* Spread the pages as evenly as whole pages allow. */
		std::size_t n = pages / nregions_ + (i < pages % nregions_ ? 1 : 0);
		std::size_t len = n * pageSize();

		out.push_back({gpaBase_ + offset, len, reinterpret_cast<uintptr_t>(base_ + offset),
			       fd_.get(), offset});
		offset += len;
	}
	return out;
}

} // namespace virtio
