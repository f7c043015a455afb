// SPDX-License-Identifier: GPL-2.0
/*
 * Logging: the library reports what it does not throw (a message a
 * frontend sent that was refused, a connection that ended) through one
 * callback with a level; the program decides where it goes.  Without a
 * callback, nothing is reported.  The library never writes to a stream of
 * its own.
 */
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

namespace vhost {

/* The levels of syslog(3), the most severe first. */
enum class LogLevel : uint8_t {
	Error = 3,
	Warning = 4,
	Notice = 5,
	Info = 6,
	Debug = 7,
};

/* "error", "warning", "notice", "info", "debug". */
std::string_view logLevelName(LogLevel level) noexcept;

using Logger = std::function<void(LogLevel level, std::string_view message)>;

} // namespace vhost
