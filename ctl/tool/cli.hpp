// SPDX-License-Identifier: GPL-2.0
/*
 * The vhostctl command line:
 *
 *   vhostctl [-j|--json] [-p|--pretty] [-V|--version] OBJECT [COMMAND] [ARGS]
 *
 * OBJECT comes from a table of objects (dev, worker, vq, features, top,
 * run); each has a table of commands whose first is the default ("show",
 * with "list" as its alias).  "help" works at every level.  Exit status: 0,
 * 1 for a runtime failure, 2 for a command line that makes no sense; a
 * failure prints one line on stderr.
 */
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "vhostctl/netlink.hpp"

namespace vhostctl {

inline constexpr int exitOk = 0;
inline constexpr int exitFailure = 1;
inline constexpr int exitUsage = 2;

/* A command line the tool cannot make sense of: exit status 2. */
class UsageError : public std::runtime_error
{
public:
	using std::runtime_error::runtime_error;
};

/* What the vhost_blk netlink family reports; tests substitute their own. */
class StateSource
{
public:
	virtual ~StateSource() = default;
	virtual std::vector<nl::DevInfo> devices() = 0;
	virtual std::vector<nl::WorkerInfo> workers(std::optional<uint32_t> devId) = 0;
	virtual std::vector<nl::VqInfo> vqs(std::optional<uint32_t> devId) = 0;
	virtual void attachVq(uint32_t devId, uint32_t index, uint32_t worker) = 0;
};

/* The source backed by the kernel (nl::Client). */
std::unique_ptr<StateSource> connectNetlink();

struct Options {
	bool json = false;
	bool pretty = false;
};

class Context
{
public:
	using Connect = std::function<std::unique_ptr<StateSource>()>;

	Context(std::ostream &output, std::ostream &errors, Connect connect = connectNetlink,
		bool terminal = false)
		: out(output), err(errors), tty(terminal), connect_(std::move(connect))
	{}

	/* The netlink connection, opened on first use. */
	StateSource &state();

	Options opts;
	std::ostream &out;
	std::ostream &err;
	/* stdout is a terminal: top may clear the screen. */
	bool tty;

private:
	Connect connect_;
	std::unique_ptr<StateSource> state_;
};

using Args = std::vector<std::string>;
using Handler = int (*)(Context &ctx, const Args &args);

struct Command {
	/* Empty for the only command of an object that takes arguments (run, top). */
	std::string_view name;
	std::string_view alias;
	Handler run;
	/* The arguments, for the usage text: "[ dev ID ]". */
	std::string_view synopsis;
	std::string_view help;
};

struct Object {
	std::string_view name;
	std::span<const Command> commands;
	std::string_view help;
	/*
	 * Arguments that name no command go to the default command
	 * ("vhostctl features 0x1", "vhostctl run --backend ...").
	 */
	bool defaultTakesArgs;
};

/* The objects, one file each. */
extern const Object devObject;
extern const Object workerObject;
extern const Object vqObject;
extern const Object featuresObject;
extern const Object topObject;
extern const Object runObject;
extern const Object benchObject;
extern const Object serveObject;

/* The whole tool: parse @args (without argv[0]) and run; returns the exit status. */
int main(Context &ctx, const Args &args);

/* The project's version, from scripts/lib/version. */
std::string_view version();

/* Usage text of one object, or of all. */
void printUsage(std::ostream &out, const Object *object = nullptr);

/*
 * Helpers for commands.
 */

/* A u32 written in decimal or 0x hex; UsageError naming @what otherwise. */
uint32_t parseU32(std::string_view text, std::string_view what);
uint64_t parseU64(std::string_view text, std::string_view what);

/*
 * Keyword arguments of show commands: "dev ID" and the flags in @flags.
 * Anything else is a UsageError.
 */
struct ShowArgs {
	std::optional<uint32_t> dev;
	std::vector<std::string> flags;
};
ShowArgs parseShowArgs(const Args &args, std::string_view command,
		       std::span<const std::string_view> flags = {});

/* Error(ENODEV) unless device @id is visible. */
void requireDevice(Context &ctx, uint32_t id);

} // namespace vhostctl
