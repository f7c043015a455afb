// SPDX-License-Identifier: GPL-2.0
/* Small helpers the unit tests share. */
#pragma once

#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include <catch2/catch_test_macros.hpp>
#include <stdlib.h>

/* A T read from possibly unaligned bytes. */
template <typename T>
T load(const std::byte *p)
{
	T v;
	std::memcpy(&v, p, sizeof(v));
	return v;
}

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
