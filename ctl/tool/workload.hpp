// SPDX-License-Identifier: GPL-2.0
/*
 * The I/O engine of vhostctl run and vhostctl bench: random requests from
 * one thread per queue of a virtio::BlkDriver, whatever its transport, with
 * an optional warm-up that is not measured, latency histograms and a
 * progress callback.  SIGINT and SIGTERM end it early, as a deadline would.
 * Also what run and bench share: their options, bringing a /dev/vhost-blk
 * target up, and the one record they print.
 */
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli.hpp"
#include "latency.hpp"
#include "output.hpp"
#include "vhostctl/auto_layout.hpp"
#include "vhostctl/blk_driver.hpp"
#include "vhostctl/unique_fd.hpp"
#include "vhostctl/worker_layout.hpp"

namespace CLI {
class App;
}

namespace vhostctl::run {

enum class Rw { RandRead, RandWrite, Mixed };

/* fio's names: "randread", "randwrite", "randrw". */
std::string_view rwName(Rw rw);
/* A name back ("rw" too, for randrw); nothing if it names none. */
std::optional<Rw> parseRw(std::string_view text);

struct Workload {
	Rw rw = Rw::RandRead;
	uint32_t bs = 4096;
	unsigned int iodepth = 32;
	/* Seconds measured, after @warmup seconds that are not. */
	double duration = 10;
	double warmup = 0;
	/* Microseconds a queue thread polls the used ring before sleeping. */
	unsigned int pollUs = 0;
	/*
	 * Requests a second over all queues, each queue submitting its share
	 * on a fixed schedule (sleeping in between); 0 for as fast as the
	 * depth allows.
	 */
	unsigned int rateIops = 0;
	/* The layout of the driver's rings. */
	virtio::RingType ring = virtio::RingType::Split;
};

struct Stats {
	uint64_t ios = 0;
	uint64_t bytes = 0;
	uint64_t errors = 0;
	std::string firstError;
	LatencyHistogram latency;
	/* Seconds measured: the duration, or less when a signal came. */
	double elapsed = 0;
	/*
	 * CPU seconds the whole machine was busy while measuring, over all
	 * its CPUs (/proc/stat), if it could be read.
	 */
	std::optional<double> cpuBusy;
};

/* Called about once a second while measuring: seconds so far, requests done. */
using Progress = std::function<void(double elapsed, uint64_t ios)>;
/* Called every tickInterval from the start (warm-up included) to the end. */
using Tick = std::function<void()>;
inline constexpr std::chrono::milliseconds tickInterval{250};

/*
 * Run @w on every queue of @drv over the first @blocks blocks of the
 * device, then wait for every request.  A failed request counts in
 * Stats::errors; a stalled queue or a malformed-ring report throws
 * vhost::Error.
 */
Stats runWorkload(virtio::BlkDriver &drv, const Workload &w, uint64_t blocks,
		  const Progress &progress = {}, const Tick &tick = {});

/* Error(EIO) naming the first failed request, if any failed. */
void requireNoErrors(const Stats &st);

/* A backend opened for @rw: read-only unless the workload writes. */
struct Backend {
	vhost::UniqueFd fd;
	uint64_t size = 0;
};
Backend openBackend(const std::string &path, Rw rw);

/*
 * The driver a workload needs: ring layout and size, slots and buffers for
 * @w.  The ring size is the same for both layouts, so that they compare.
 */
virtio::BlkDriverConfig driverConfig(const Workload &w, unsigned int queues);

/*
 * UsageError "@command: ..." when the guest memory @cfg needs (queues x
 * depth x request size, and the rings) is more than this machine has.
 */
void checkMemory(const virtio::BlkDriverConfig &cfg, std::string_view command);

/* Ring entries for @iodepth requests of three descriptors each. */
unsigned int queueSizeFor(unsigned int iodepth);

/*
 * The options run and bench share: the workload, the queues and, for
 * /dev/vhost-blk, the device, its worker layout and worker mode.
 */
struct WorkloadArgs {
	Workload w;
	unsigned int queues = 1;
	std::string device = vhost::BlkDevice::defaultPath;
	vhost::WorkerLayout workers;
	std::optional<vhost::WorkerMode> workerMode;

	/* As given, before finish() checks and converts them. */
	std::string rw = "randread", bs = "4k", layout = "single", mode, ring = "split";
};

/*
 * --queues, --rw, --bs, --iodepth, --duration, --rate, --ring, --workers,
 * --worker-mode, --device
 */
void addWorkloadOptions(CLI::App &app, WorkloadArgs &a);
/* Check and convert what was given: UsageError "@command: ..." for bad values. */
void finishWorkloadOptions(WorkloadArgs &a, std::string_view command);

/* "4096", "4k", "1M": bytes, a multiple of 512 up to 4 MiB. */
uint32_t parseBlockSize(std::string_view text, std::string_view command);
/* "single", "per-vq" or a number of workers. */
vhost::WorkerLayout parseLayout(std::string_view text, std::string_view command);

/* A /dev/vhost-blk device driven by this process, its backend attached. */
struct KernelTarget {
	Backend backend;
	std::unique_ptr<virtio::BlkDriver> drv;
	/* The worker serving each virtqueue. */
	std::vector<unsigned int> workerIds;
	/* Every worker of the layout (for auto, the pool it moves within). */
	std::vector<unsigned int> pool;
};

/*
 * Open @backendPath for the workload, bring up @a.device with the
 * workload's driver (memory checked first), lay the virtqueues out, set
 * the busy-poll timeout if asked, and attach the backend.  A packed ring
 * the device does not offer is Error(EOPNOTSUPP) "--ring packed: ...".
 */
KernelTarget startKernel(const WorkloadArgs &a, const std::string &backendPath,
			 std::optional<unsigned int> busyPoll, std::string_view command);

/* What a measurement ran, for its record. */
struct RunInfo {
	/* "vhost-blk" or "vhost-user" */
	std::string target;
	/* The backend, or the socket. */
	std::string path;
	/* The layout and each queue's worker, for vhost-blk. */
	std::optional<std::string> layout;
	std::optional<std::vector<unsigned int>> workerIds;
	Workload w;
	unsigned int queues = 1;
	/* The worker's busy-poll timeout, for vhost-blk. */
	std::optional<unsigned int> busyPollUs;
	/* For --workers auto: the pool its policy moves virtqueues within. */
	std::optional<std::vector<unsigned int>> autoPool = std::nullopt;
};

/*
 * Run @info's workload on @drv over @blocks blocks and print the one
 * record of run and bench: its keys are the same for both and for both
 * targets (null where a value has no meaning), with worker_busy_pct from
 * the netlink family for vhost-blk and cpu_us_per_io, the machine's busy
 * CPU time while measuring over the requests completed.  Failed requests fail it, after the
 * record.
 */
int measure(Context &ctx, virtio::BlkDriver &drv, const RunInfo &info, uint64_t blocks,
	    const Progress &progress = {});

/*
 * Bring a driver up with @cfg through @bringUp; a packed ring the device
 * does not offer is Error(EOPNOTSUPP) "--ring packed: ...".
 */
std::unique_ptr<virtio::BlkDriver>
startDriver(const virtio::BlkDriverConfig &cfg,
	    const std::function<std::unique_ptr<virtio::BlkDriver>()> &bringUp);

/* The netlink id of the device this process owns, if the module lists one. */
std::optional<uint32_t> ownDevice(Context &ctx);

/*
 * The counters of that device that --workers auto decides from: its
 * workers' busy time, its first @queues virtqueues' requests and workers;
 * none when this process owns no device.  @devId caches the device's id
 * between calls (found again when the device is gone).
 */
std::optional<vhost::LayoutSample> layoutSample(Context &ctx, unsigned int queues,
						std::optional<uint32_t> &devId);

/* The record alone, for the tests of its schema. */
Record resultRecord(const RunInfo &info, const Stats &st, std::optional<double> busyPct,
		    std::optional<unsigned int> layoutMoves = std::nullopt);

} // namespace vhostctl::run
