// SPDX-License-Identifier: GPL-2.0
#include "vhostctl/error.hpp"

#include <utility>

namespace vhost {

Error::Error(int err, std::string what)
	: std::system_error(err, std::generic_category(), what), context_(std::move(what))
{}

} // namespace vhost
