// SPDX-License-Identifier: GPL-2.0
#include "vhostctl/eventfd.hpp"

#include <algorithm>
#include <array>

#include <cerrno>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vhostctl/error.hpp"

namespace vhost {

EventFd::EventFd() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC))
{
	if (!fd_)
		throwErrno("eventfd");
}

void EventFd::signal()
{
	uint64_t one = 1;

	if (::write(fd_.get(), &one, sizeof(one)) != sizeof(one) && errno != EAGAIN)
		throwErrno("eventfd write");
}

uint64_t EventFd::consume()
{
	uint64_t count = 0;

	if (::read(fd_.get(), &count, sizeof(count)) != sizeof(count)) {
		if (errno == EAGAIN)
			return 0;
		throwErrno("eventfd read");
	}
	return count;
}

bool EventFd::wait(int timeoutMs) const
{
	struct pollfd pfd = {.fd = fd_.get(), .events = POLLIN, .revents = 0};
	int ret = ::poll(&pfd, 1, timeoutMs);

	if (ret < 0 && errno != EINTR)
		throwErrno("poll eventfd");
	return ret > 0;
}

bool EventFd::wait(std::chrono::nanoseconds timeout) const
{
	struct pollfd pfd = {.fd = fd_.get(), .events = POLLIN, .revents = 0};
	auto ns = std::max<int64_t>(0, timeout.count());
	struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
	int ret = ::ppoll(&pfd, 1, &ts, nullptr);

	if (ret < 0 && errno != EINTR)
		throwErrno("ppoll eventfd");
	return ret > 0;
}

void drain(int fd) noexcept
{
	/* A signalfd_siginfo is 128 bytes, an eventfd's counter 8. */
	std::array<std::byte, 128> buf;

	while (::read(fd, buf.data(), buf.size()) > 0) {
	}
}

} // namespace vhost
