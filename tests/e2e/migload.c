// SPDX-License-Identifier: GPL-2.0
/*
 * migload: the nested guest's load in the live-migration test
 * (tests/e2e/migrate_qemu_test.sh).  Built static into the initramfs by
 * tests/e2e/mkguest, run by tests/e2e/guest-init with e2e.migrate.
 *
 *   migload DEVICE OFFSET_MIB SLOTS
 *
 * One thread writes a 4 KiB block of its own to each of SLOTS blocks of
 * DEVICE from OFFSET_MIB, pass after pass, with O_DIRECT, and reads each
 * back at once into that slot's page of a buffer that stays in memory: so
 * the device itself writes those pages, which only its dirty log can tell
 * a migration about.  Every read is compared with what was written, and
 * the pass it belongs to is noted (by the CPU, which QEMU tracks).
 *
 * The host talks to it through the console, a line at a time:
 *   mark     print how much has been written so far
 *   verify   stop, then check every slot in memory against the pass
 *            noted for it (a page the migration left stale shows an older
 *            pass), and every block on the device (a write lost across
 *            the switch); print the result and exit 0 if all is well
 * Lines it prints, each starting with "E2E " as guest-init's do:
 *   E2E MIGLOAD RUNNING N slots at M MiB
 *   E2E MIGLOAD MARK W KiB written, P passes
 *   E2E MIGVERIFY memory S stale of N, device L lost of N, W KiB written,
 *       P passes, E read errors, I/O stuck|flowing: OK|FAIL
 *   E2E MIGLOAD slot I: ... (the first few mismatches, as they are found)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096
#define MAGIC 0x6d69676cU /* "migl" */
/* How long verify waits for the request in flight before it calls I/O stuck. */
#define STUCK_MS 20000
/* Mismatches printed one by one before only the count goes on. */
#define SHOWN 8

struct block_head {
	uint32_t magic;
	uint32_t slot;
	uint32_t pass;
	uint32_t zero;
};

static int fd;
static uint64_t base;
static unsigned int slots;
/* Each slot's page, filled by the device's reads. */
static uint8_t *pages;
/* The pass whose block each slot holds (0: none yet); written by the CPU. */
static uint32_t *noted;
static atomic_uint slot_now;
static atomic_bool stop_asked;
static atomic_bool stopped;
static atomic_ullong written;
static atomic_uint passes;
static atomic_uint read_errors;
static atomic_uint shown;

static void say(const char *fmt, ...)
{
	char line[256], up[32] = "?";
	FILE *f = fopen("/proc/uptime", "r");
	va_list ap;

	if (f) {
		if (fscanf(f, "%31s", up) != 1)
			strcpy(up, "?");
		fclose(f);
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	printf("E2E %s [%s s]\n", line, up);
	fflush(stdout);
}

/* The block of @slot in pass @pass: a header, then a stream only they give. */
static void fill(uint8_t *buf, unsigned int slot, uint32_t pass)
{
	struct block_head h = {MAGIC, slot, pass, 0};
	uint64_t x = ((uint64_t)slot + 1) * 0x9e3779b97f4a7c15ULL ^
		     ((uint64_t)pass << 32 | pass) * 0xd1b54a32d192ed03ULL;
	uint64_t *w = (uint64_t *)buf;

	for (unsigned int i = 0; i < BLOCK / 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		w[i] = x;
	}
	memcpy(buf, &h, sizeof(h));
}

/* Does @got hold the block of @slot in pass @want?  Says what it holds if not. */
static int check(const char *where, const uint8_t *got, unsigned int slot, uint32_t want)
{
	uint8_t buf[BLOCK] __attribute__((aligned(8)));
	struct block_head h;

	fill(buf, slot, want);
	if (!memcmp(buf, got, BLOCK))
		return 0;
	if (atomic_fetch_add(&shown, 1) < SHOWN) {
		memcpy(&h, got, sizeof(h));
		if (h.magic == MAGIC)
			say("MIGLOAD slot %u: %s holds the block of slot %u pass %u, want pass %u",
			    slot, where, h.slot, h.pass, want);
		else
			say("MIGLOAD slot %u: %s holds no block of this test (want pass %u)", slot,
			    where, want);
	}
	return 1;
}

static void *load(void *arg)
{
	uint8_t *wbuf = arg;

	for (uint32_t pass = 1; !atomic_load(&stop_asked); pass++) {
		for (unsigned int s = 0; s < slots && !atomic_load(&stop_asked); s++) {
			off_t at = (off_t)(base + (uint64_t)s * BLOCK);
			uint8_t *page = pages + (size_t)s * BLOCK;

			atomic_store(&slot_now, s);
			fill(wbuf, s, pass);
			if (pwrite(fd, wbuf, BLOCK, at) != BLOCK ||
			    pread(fd, page, BLOCK, at) != BLOCK) {
				atomic_fetch_add(&read_errors, 1);
				continue;
			}
			if (check("the page just read", page, s, pass))
				atomic_fetch_add(&read_errors, 1);
			noted[s] = pass;
			atomic_fetch_add(&written, BLOCK);
		}
		atomic_store(&passes, pass);
		if (pass == 1)
			say("MIGLOAD RUNNING %u slots at %llu MiB", slots,
			    (unsigned long long)(base >> 20));
	}
	atomic_store(&slot_now, slots);
	atomic_store(&stopped, true);
	return NULL;
}

static int verify(void)
{
	unsigned int stale = 0, lost = 0, busy;
	uint8_t *buf = NULL;
	bool stuck = true;

	atomic_store(&stop_asked, true);
	for (int ms = 0; ms < STUCK_MS; ms += 10) {
		if (atomic_load(&stopped)) {
			stuck = false;
			break;
		}
		usleep(10000);
	}
	/* A stuck request's slot is the device's still: skip it. */
	busy = stuck ? atomic_load(&slot_now) : slots;
	for (unsigned int s = 0; s < slots; s++) {
		if (s != busy && noted[s] &&
		    check("memory", pages + (size_t)s * BLOCK, s, noted[s]))
			stale++;
	}
	if (!stuck && !posix_memalign((void **)&buf, BLOCK, BLOCK)) {
		for (unsigned int s = 0; s < slots; s++) {
			if (!noted[s])
				continue;
			if (pread(fd, buf, BLOCK, (off_t)(base + (uint64_t)s * BLOCK)) != BLOCK ||
			    check("the device", buf, s, noted[s]))
				lost++;
		}
		free(buf);
	}
	int ok =
		!stale && !lost && !stuck && !atomic_load(&read_errors) && atomic_load(&passes) > 0;
	say("MIGVERIFY memory %u stale of %u, device %u lost of %u, %llu KiB written, "
	    "%u passes, %u read errors, I/O %s: %s",
	    stale, slots, stuck ? slots : lost, slots,
	    (unsigned long long)(atomic_load(&written) >> 10), atomic_load(&passes),
	    atomic_load(&read_errors), stuck ? "stuck" : "flowing", ok ? "OK" : "FAIL");
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	char line[64];
	pthread_t t;
	void *wbuf;

	if (argc != 4) {
		fprintf(stderr, "usage: migload DEVICE OFFSET_MIB SLOTS\n");
		return 2;
	}
	base = strtoull(argv[2], NULL, 0) << 20;
	slots = strtoul(argv[3], NULL, 0);
	if (!slots || slots > 65536) {
		fprintf(stderr, "migload: %u slots: 1 to 65536\n", slots);
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_DIRECT);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	pages = mmap(NULL, (size_t)slots * BLOCK, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	noted = calloc(slots, sizeof(*noted));
	if (pages == MAP_FAILED || !noted || posix_memalign(&wbuf, BLOCK, BLOCK)) {
		perror("migload: memory");
		return 1;
	}
	/* The pages stay where they are: the device reads into the same ones. */
	mlock(pages, (size_t)slots * BLOCK);
	if (pthread_create(&t, NULL, load, wbuf)) {
		perror("migload: thread");
		return 1;
	}
	while (fgets(line, sizeof(line), stdin)) {
		if (!strncmp(line, "mark", 4))
			say("MIGLOAD MARK %llu KiB written, %u passes",
			    (unsigned long long)(atomic_load(&written) >> 10),
			    atomic_load(&passes));
		else if (!strncmp(line, "verify", 6))
			return verify();
	}
	say("MIGLOAD console closed: %s", strerror(errno));
	return 1;
}
