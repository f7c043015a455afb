// SPDX-License-Identifier: GPL-2.0
/*
 * The vhost-user frontend against a real qemu-storage-daemon: a sector
 * written and read back through a ring in memfd memory.  Skipped where
 * qemu-storage-daemon is not installed.
 */
#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <signal.h>
#include <spawn.h>
#include <stdexcept>
#include <string>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>

#include "vhostctl/blk_request.hpp"
#include "vhostctl/error.hpp"
#include "vhostctl/eventfd.hpp"
#include "vhostctl/memory.hpp"
#include "vhostctl/split_queue.hpp"
#include "vhostctl/unique_fd.hpp"
#include "vhostctl/vhost_user.hpp"

#include "test_util.hpp"

using namespace std::chrono_literals;
using vhost::Error;
using vhost::UniqueFd;
using namespace vhost::user;

namespace {

constexpr uint64_t virtioVersion1 = 1ULL << VIRTIO_F_VERSION_1;
constexpr uint64_t protocolBit = 1ULL << featureProtocolFeatures;

} // namespace

/* qemu-storage-daemon, as a real backend */

namespace {

constexpr const char *qsdPath = "/usr/bin/qemu-storage-daemon";

/* A qemu-storage-daemon exporting @image over vhost-user-blk; killed at the end. */
class Qsd
{
public:
	Qsd(const std::string &image, const std::string &sock, const std::string &log,
	    unsigned int queues)
	{
		std::vector<std::string> args = {
			qsdPath,
			"--blockdev",
			"driver=file,node-name=file0,filename=" + image + ",cache.direct=off",
			"--blockdev",
			"driver=raw,node-name=disk0,file=file0",
			"--export",
			"type=vhost-user-blk,id=exp0,node-name=disk0,addr.type=unix,addr.path=" +
				sock + ",writable=on,num-queues=" + std::to_string(queues),
		};
		std::vector<char *> argv;
		for (auto &a : args)
			argv.push_back(a.data());
		argv.push_back(nullptr);

		posix_spawn_file_actions_t fa;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
						 0644);
		posix_spawn_file_actions_adddup2(&fa, 1, 2);
		int rc = ::posix_spawn(&pid_, qsdPath, &fa, nullptr, argv.data(), environ);
		posix_spawn_file_actions_destroy(&fa);
		REQUIRE(rc == 0);
	}
	~Qsd()
	{
		::kill(pid_, SIGTERM);
		for (int i = 0; i < 100; i++) {
			if (::waitpid(pid_, nullptr, WNOHANG) == pid_)
				return;
			std::this_thread::sleep_for(20ms);
		}
		::kill(pid_, SIGKILL);
		::waitpid(pid_, nullptr, 0);
	}
	Qsd(const Qsd &) = delete;
	Qsd &operator=(const Qsd &) = delete;

private:
	pid_t pid_ = -1;
};

std::string readFile(const std::filesystem::path &p)
{
	std::ifstream in(p);
	return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/* One request slot in guest memory: header, status byte and data. */
struct Slot {
	virtio::Chunk header;
	virtio::Chunk data;
};

/* Submit one request on @q, kick, and wait for its completion. */
int roundTrip(virtio::SplitQueue &q, vhost::EventFd &kick, vhost::EventFd &call, const Slot &s,
	      virtio::blk::Type type, uint64_t sector, uint32_t &usedLen)
{
	auto hdr = virtio::blk::encodeHeader(type, sector);
	std::memcpy(s.header.host.data(), hdr.data(), hdr.size());
	s.header.host[virtio::blk::headerSize] = std::byte{0xff};
	auto chain = virtio::blk::requestChain(type, s.header.gpa, s.data.gpa,
					       static_cast<uint32_t>(s.data.host.size()),
					       s.header.gpa + virtio::blk::headerSize);
	auto head = q.add(chain);
	REQUIRE(head);
	q.publish();
	kick.signal();

	auto deadline = std::chrono::steady_clock::now() + 10s;
	while (!q.hasUsed()) {
		REQUIRE(std::chrono::steady_clock::now() < deadline);
		call.wait(100);
		call.consume();
	}
	auto used = q.popUsed();
	REQUIRE(used);
	CHECK(used->head == *head);
	usedLen = used->len;
	return static_cast<int>(s.header.host[virtio::blk::headerSize]);
}

} // namespace

TEST_CASE("Frontend drives qemu-storage-daemon: config, write, read back", "[vhost-user][qsd]")
{
	if (::access(qsdPath, X_OK) != 0)
		SKIP(qsdPath << " is not installed");

	constexpr std::size_t imageBytes = 16 << 20;
	constexpr uint64_t sector = 77;
	TempDir dir;
	std::string image = dir.path / "disk.raw";
	std::string sock = dir.path / "vhost-user-blk.sock";
	{
		UniqueFd f(::open(image.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
		REQUIRE(f);
		REQUIRE(::ftruncate(f.get(), imageBytes) == 0);
	}
	Qsd qsd(image, sock, dir.path / "qsd.log", 2);

	FrontendOptions opts;
	opts.connectTimeout = 10s;
	std::unique_ptr<Frontend> f;
	try {
		f = Frontend::connect(sock, 2, opts);
	} catch (const Error &e) {
		FAIL(e.what() << "\nqemu-storage-daemon said:\n" << readFile(dir.path / "qsd.log"));
	}

	/* The handshake, as measured against QSD 7.2 (reference 4.5). */
	CHECK(f->hasProtocolFeatures());
	CHECK(f->protocolFeatures() == Frontend::supportedProtocolFeatures);
	CHECK(f->backendQueues() == 2);
	CHECK((f->features() & virtioVersion1));
	CHECK_FALSE((f->features() & protocolBit));

	/* virtio_blk_config up to write_zeroes_may_unmap, as QEMU 7.2 knows it. */
	auto cfg = f->getConfig(60);
	REQUIRE(cfg.size() == 60);
	CHECK(load<uint64_t>(cfg.data() + offsetof(virtio_blk_config, capacity)) ==
	      imageBytes / 512);
	CHECK(load<uint16_t>(cfg.data() + offsetof(virtio_blk_config, num_queues)) == 2);

	/*
	 * Guest memory in two regions: the ring and request header in the
	 * first, the data in the second, so that both offsets are used.
	 */
	constexpr unsigned int num = 16;
	virtio::Memory mem(64 * 1024, 1ULL << 30, 2);
	auto layout = virtio::RingLayout::compute(num);
	virtio::Chunk ringArea = mem.alloc(layout.totalSize, 4096);
	Slot slot{mem.alloc(virtio::blk::headerSize + 1, 16), mem.alloc(512, 32 * 1024)};
	REQUIRE(slot.data.gpa == mem.regions()[1].guestPhysAddr);
	virtio::SplitQueue q(ringArea.host, num, false);
	vhost::EventFd kick, call, err;

	f->setOwner();
	f->setFeatures(virtioVersion1);
	f->setMemTable(mem.regions());
	f->setVringNum(0, num);
	f->setVringAddr(0, q.addresses());
	f->setVringBase(0, 0);
	f->setVringCall(0, call.fd());
	f->setVringErr(0, err.fd());
	f->setVringKick(0, kick.fd());
	f->enableVring(0, true);

	std::vector<std::byte> pattern(512);
	for (std::size_t i = 0; i < pattern.size(); i++)
		pattern[i] = std::byte((i * 31 + 5) & 0xff);

	uint32_t usedLen = 0;
	std::memcpy(slot.data.host.data(), pattern.data(), pattern.size());
	CHECK(roundTrip(q, kick, call, slot, virtio::blk::Type::Out, sector, usedLen) ==
	      virtio::blk::StatusOk);

	std::memset(slot.data.host.data(), 0, slot.data.host.size());
	CHECK(roundTrip(q, kick, call, slot, virtio::blk::Type::In, sector, usedLen) ==
	      virtio::blk::StatusOk);
	CHECK(usedLen == 513);
	CHECK(std::memcmp(slot.data.host.data(), pattern.data(), pattern.size()) == 0);

	/* And the bytes are in the image, where sector 77 lies. */
	{
		UniqueFd img(::open(image.c_str(), O_RDONLY | O_CLOEXEC));
		std::vector<std::byte> disk(512);
		REQUIRE(::pread(img.get(), disk.data(), disk.size(), sector * 512) == 512);
		CHECK(disk == pattern);
	}
	CHECK(err.consume() == 0);

	/* Two requests taken from the ring; GET_VRING_BASE stops it. */
	CHECK(f->getVringBase(0) == 2);
	f->close();
	CHECK_FALSE(f->connected());
}
