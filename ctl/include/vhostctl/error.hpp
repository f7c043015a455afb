// SPDX-License-Identifier: GPL-2.0
/*
 * Errors of libvhostctl: an errno together with what was being done, so that
 * a failure reads "VHOST_SET_OWNER on /dev/vhost-blk: Device or resource busy"
 * rather than a bare -1.
 */
#pragma once

#include <cerrno>
#include <string>
#include <system_error>
#include <utility>

#include <fmt/format.h>

namespace vhost {

/* A failed system call or ioctl: the errno and what was being attempted. */
class Error : public std::system_error
{
public:
	Error(int err, std::string what);

	/* The errno value, positive. */
	int errnum() const noexcept { return code().value(); }
	/* What was being done, without the strerror() text. */
	const std::string &context() const noexcept { return context_; }

private:
	std::string context_;
};

/*
 * Throw an Error for the current errno, with the message formatted from
 * @format and @args.  errno is saved before anything is formatted: building
 * the message (allocating, formatting an argument) may change it.
 */
template <typename... Args>
[[noreturn]] void throwErrno(fmt::format_string<Args...> format, Args &&...args)
{
	int err = errno;

	throw Error(err, fmt::format(format, std::forward<Args>(args)...));
}

} // namespace vhost
