// SPDX-License-Identifier: GPL-2.0
#include "vhostctl/log.hpp"

namespace vhost {

std::string_view logLevelName(LogLevel level) noexcept
{
	switch (level) {
	case LogLevel::Error:
		return "error";
	case LogLevel::Warning:
		return "warning";
	case LogLevel::Notice:
		return "notice";
	case LogLevel::Info:
		return "info";
	case LogLevel::Debug:
		break;
	}
	return "debug";
}

} // namespace vhost
