// SPDX-License-Identifier: GPL-2.0
#include "vhostctl/signal_fd.hpp"

#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "vhostctl/error.hpp"

namespace vhost {

SignalFd::SignalFd(std::initializer_list<int> signals)
{
	sigset_t set;

	sigemptyset(&set);
	for (int sig : signals) {
		if (sigaddset(&set, sig) < 0)
			throwErrno("signal {}", sig);
	}
	/* pthread_sigmask returns the error rather than setting errno. */
	if (int err = ::pthread_sigmask(SIG_BLOCK, &set, &old_))
		throw Error(err, "block signals for a signalfd");
	fd_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
	if (!fd_) {
		int err = errno;

		::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
		throw Error(err, "signalfd");
	}
}

SignalFd::~SignalFd()
{
	while (take()) {
	}
	fd_.reset();
	::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

int SignalFd::take() noexcept
{
	struct signalfd_siginfo info;

	if (::read(fd_.get(), &info, sizeof(info)) != sizeof(info))
		return 0;
	return static_cast<int>(info.ssi_signo);
}

} // namespace vhost
