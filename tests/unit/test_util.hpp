// SPDX-License-Identifier: GPL-2.0
/* Small helpers the unit tests share. */
#pragma once

#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include <catch2/catch_test_macros.hpp>
#include <fmt/format.h>
#include <stdlib.h>

#include "vhostctl/log.hpp"

/* The lines of @text, without their newlines. */
inline std::vector<std::string> textLines(const std::string &text)
{
	std::vector<std::string> out;
	std::istringstream in(text);

	for (std::string line; std::getline(in, line);)
		out.push_back(line);
	return out;
}

/* A T read from possibly unaligned bytes. */
template <typename T>
T load(const std::byte *p)
{
	T v;
	std::memcpy(&v, p, sizeof(v));
	return v;
}

/* A vhost::Logger that keeps every line, for any thread to add to. */
class LogCapture
{
public:
	vhost::Logger logger()
	{
		return [this](vhost::LogLevel level, std::string_view line) {
			std::lock_guard lock(mutex_);
			text_ += fmt::format("{}: {}\n", vhost::logLevelName(level), line);
		};
	}
	std::string str() const
	{
		std::lock_guard lock(mutex_);
		return text_;
	}
	bool has(std::string_view what) const { return str().find(what) != std::string::npos; }

private:
	mutable std::mutex mutex_;
	std::string text_;
};

/* A fresh directory under $TMPDIR, removed with what it holds. */
struct TempDir {
	std::filesystem::path path;

	TempDir()
	{
		std::string tmpl = (std::filesystem::temp_directory_path() / "vhost-user.XXXXXX");
		REQUIRE(::mkdtemp(tmpl.data()));
		path = tmpl;
	}
	~TempDir()
	{
		std::error_code ec;
		std::filesystem::remove_all(path, ec);
	}
};

namespace test {

/* VHOSTCTL_RUNTIME_DIR, where serve's records are, set while the object lives. */
struct RuntimeDir {
	explicit RuntimeDir(const std::filesystem::path &dir)
	{
		::setenv("VHOSTCTL_RUNTIME_DIR", dir.c_str(), 1);
	}
	~RuntimeDir() { ::unsetenv("VHOSTCTL_RUNTIME_DIR"); }
};

/* This process's name, as /proc/self/comm has it. */
inline std::string processName()
{
	std::ifstream in("/proc/self/comm");
	std::string comm;
	std::getline(in, comm);
	return comm;
}

} // namespace test
