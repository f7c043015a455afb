// SPDX-License-Identifier: GPL-2.0
/*
 * vhostctl monitor: the module's events (the multicast group "monitor"),
 * one line each as they come, like "ip monitor"; --json prints one JSON
 * object a line.
 */
#pragma once

#include <string>

#include "output.hpp"
#include "vhostctl/netlink.hpp"

namespace vhostctl::monitor {

/* "dev 3: vq-stopped vq 0: avail head 65 past the ring's 64" */
std::string eventText(const nl::Event &e);
/* {"event":"vq-stopped","dev_id":3,"vq":0,"reason":"..."}: keys of what it carries. */
Json eventJson(const nl::Event &e);

} // namespace vhostctl::monitor
