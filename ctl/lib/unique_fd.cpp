// SPDX-License-Identifier: GPL-2.0
#include "vhostctl/unique_fd.hpp"

#include <unistd.h>

namespace vhost {

UniqueFd &UniqueFd::operator=(UniqueFd &&other) noexcept
{
	if (this != &other)
		reset(other.release());
	return *this;
}

int UniqueFd::release() noexcept
{
	int fd = fd_;

	fd_ = -1;
	return fd;
}

void UniqueFd::reset(int fd) noexcept
{
	if (fd_ >= 0 && fd_ != fd)
		::close(fd_);
	fd_ = fd;
}

} // namespace vhost
