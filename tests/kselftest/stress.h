/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the hostile-input suites share (blk_fuzz_test, blk_churn_test,
 * blk_kill_test, blk_ioerr_test): a seed that is printed and can be given
 * back, how long a case runs, the figures the suites report, and harness
 * timeouts that grow with the duration.
 *
 *   VHB_SEED=N     replay a run: every case derives its own seed from N (the
 *                  base seed each case prints), so one value repeats them all
 *   VHB_TEST_MS=N  how long each time-bounded case runs, in milliseconds
 *                  (default: the case's own, a few seconds); the harness's
 *                  timeouts follow it
 *
 * A figure is a line "# FIGURE suite.name=value unit", which make soak and
 * the documentation collect.
 */
#ifndef STRESS_H
#define STRESS_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"

static uint64_t stress_base_seed;

/* Decimal or 0x-hexadecimal; @dflt when unset or unreadable. */
static inline uint64_t stress_env(const char *name, uint64_t dflt)
{
	const char *s = getenv(name);
	char *end;
	uint64_t v;

	if (!s || !*s)
		return dflt;
	v = strtoull(s, &end, 0);
	return *end ? dflt : v;
}

/*
 * Once per process, before the harness forks the cases: the base seed, from
 * VHB_SEED or the clock.  Also stretch every case's timeout by the duration
 * VHB_TEST_MS asks for (a case may run it a few times over).
 */
static void __attribute__((constructor(KSELFTEST_PRIO_TEST_F + 10))) stress_init(void)
{
	struct timespec ts;
	struct __fixture_metadata *f;
	struct __test_metadata *t;
	uint64_t ms = stress_env("VHB_TEST_MS", 0);

	clock_gettime(CLOCK_REALTIME, &ts);
	stress_base_seed = stress_env("VHB_SEED", ((uint64_t)ts.tv_sec << 20) ^ ts.tv_nsec ^
							  ((uint64_t)getpid() << 40));
	if (!ms)
		return;
	for (f = __fixture_list; f; f = f->next)
		for (t = f->tests; t; t = t->next)
			t->timeout += 4 * ms / 1000;
}

/* FNV-1a, to give each case its own seed. */
static inline uint64_t stress_hash(const char *s, uint64_t h)
{
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
	return h;
}

/*
 * The seed of the running case, named @name (a case and its variant),
 * printed with how to repeat it.
 */
static inline uint64_t stress_seed(const char *name)
{
	uint64_t seed = stress_hash(name, stress_base_seed ^ 0xcbf29ce484222325ULL);

	printf("# %s: seed %#" PRIx64 "; VHB_SEED=%#" PRIx64 " repeats this run\n", name, seed,
	       stress_base_seed);
	fflush(stdout);
	return seed ? seed : 1;
}

/* How long a time-bounded case runs: VHB_TEST_MS, else @dflt_ms. */
static inline int64_t stress_ms(int64_t dflt_ms)
{
	return stress_env("VHB_TEST_MS", dflt_ms);
}

static inline void stress_figure(const char *suite, const char *name, uint64_t value,
				 const char *unit)
{
	printf("# FIGURE %s.%s=%" PRIu64 " %s\n", suite, name, value, unit);
	fflush(stdout);
}

#endif /* STRESS_H */
