// SPDX-License-Identifier: GPL-2.0
/*
 * vhostctl: inspect and drive vhost-blk devices.  The table of objects and
 * the grammar are in cli.cpp, one file per object beside it.
 */
#include <iostream>
#include <unistd.h>

#include "cli.hpp"

int main(int argc, char **argv)
{
	vhostctl::Context ctx(std::cout, std::cerr, vhostctl::connectNetlink,
			      ::isatty(STDOUT_FILENO));

	return vhostctl::main(ctx, vhostctl::Args(argv + 1, argv + argc));
}
