// SPDX-License-Identifier: GPL-2.0
/*
 * The records of the netlink objects, one definition each, for the show
 * commands and for "dev show ID", which nests the workers and virtqueues of
 * its device.
 */
#pragma once

#include "output.hpp"
#include "vhostctl/netlink.hpp"

namespace vhostctl {

/* dev_id, id, tid, vqs, works, busy_ns, wakeups */
void addWorker(Table &t, const nl::WorkerInfo &w);
/*
 * dev_id, index, worker_id, num, active, kicks, requests, bytes, in_flight,
 * errors, busyloop_us, broken, offloaded, io_errors, and the service
 * latency p50_us, p99_us, max_us
 */
void addVq(Table &t, const nl::VqInfo &v);
/* device, features, names: what "features offered" prints. */
void addOffered(Table &t, const std::string &device, uint64_t features);

} // namespace vhostctl
