// SPDX-License-Identifier: GPL-2.0
/*
 * vhostctl serve as a managed service: the few things a service manager
 * and the tool agree on.
 *
 * - Socket activation: systemd passes the listening socket as descriptor 3
 *   with LISTEN_PID and LISTEN_FDS in the environment (sd_listen_fds(3));
 *   another manager passes it with --fd.
 * - Readiness: NOTIFY_SOCKET names a datagram socket that takes "READY=1",
 *   "STOPPING=1" and "STATUS=..." (sd_notify(3)); a name starting with '@'
 *   is in the abstract namespace.
 * - Logging: on the journal's stream (JOURNAL_STREAM names stderr's device
 *   and inode), each line starts with its syslog level, "<3>".
 * - State: serve records what it serves in RUNTIME_DIR/serve.PID.json
 *   (RUNTIME_DIR is $VHOSTCTL_RUNTIME_DIR, or /run/vhostctl), for "dev
 *   show" and "dev resize" to find the socket, serial and limits of a
 *   device serve owns.
 */
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>

#include "output.hpp"
#include "vhostctl/log.hpp"

namespace vhostctl::service {

/* The first descriptor systemd passes. */
inline constexpr int listenFdsStart = 3;

/*
 * The listening descriptor systemd passed to this process, if any; the
 * variables are removed from the environment, so that children do not see
 * them.  UsageError for more than one descriptor.
 */
std::optional<int> listenFd();

/*
 * Send @state ("READY=1\nSTATUS=...") to the service manager.  False when
 * there is none (no NOTIFY_SOCKET); throws vhost::Error when the send fails.
 */
bool notify(std::string_view state);

/* Is stderr the journal's stream? */
bool stderrIsJournal();

/* One log line of serve: "<4>warning: ..." for the journal, "vhostctl serve: ..." else. */
std::string logLine(vhost::LogLevel level, std::string_view message, bool journal);

/* $VHOSTCTL_RUNTIME_DIR, or /run/vhostctl. */
std::filesystem::path runtimeDir();

/* serve's record of process @pid. */
std::filesystem::path recordPath(pid_t pid);

/* The record of serve process @pid, if there is one. */
std::optional<Json> readRecord(pid_t pid);

/*
 * The record of this serve process: written whole (a new file renamed
 * over the old), removed when the object goes.  A directory that cannot
 * be made or written is reported once through @log, and serve goes on.
 */
class Record
{
public:
	explicit Record(vhost::Logger log);
	Record(const Record &) = delete;
	Record &operator=(const Record &) = delete;
	~Record();

	void write(const Json &record);

private:
	vhost::Logger log_;
	std::filesystem::path path_;
	bool written_ = false;
	bool failed_ = false;
};

} // namespace vhostctl::service
