/* SPDX-License-Identifier: MIT */
/*
 * The PC's CMOS real-time clock (a Motorola MC146818; on a PC at ports
 * 0x70/0x71, the VMM's choice): write a register index to the first port,
 * then read or write its value at the second.
 *
 *   0x00-0x09  seconds, alarm, minutes, alarm, hours, alarm, day of week,
 *              day of month, month, year: the host's UTC clock (plus
 *              whatever offset the guest set), BCD or binary and 12 or 24
 *              hour as register B says
 *   0x0a       register A: divider bits; UIP (bit 7) always reads 0
 *   0x0b       register B: default 0x02 (24 hour, BCD)
 *   0x0c       register C: interrupt flags, always 0 (no RTC interrupt)
 *   0x0d       register D: 0x80, "valid RAM and time"
 *   0x32       century (IBM PC convention; FADT.century may point here)
 *   the rest   battery-backed RAM, zero at start
 *
 * Linux reads the wall clock from here at boot (mach_get_cmos_time() via
 * mc146818_get_time()); without this device it reads 0xff and retries for
 * as long as UIP looks set. The periodic/alarm/update interrupt (IRQ 8) is
 * not modelled.
 *
 * Locking: r->lock protects the struct; rtc_register() hands it to the
 * bus, which holds it around every access.
 */
#ifndef DEVICES_RTC_H
#define DEVICES_RTC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/bus.h"

#define RTC_PORT_COUNT	2 /* index, data */
#define RTC_CMOS_SIZE	128
#define RTC_REG_CENTURY 0x32

struct rtc_config {
	uint16_t port; /* the index port; data at port + 1 */
	/* Seconds since the epoch, UTC. NULL: the host's CLOCK_REALTIME.
	 * Tests pass a fixed clock. */
	int64_t (*now)(void *opaque);
	void *opaque;
};

struct rtc {
	pthread_mutex_t lock;
	struct rtc_config cfg;
	uint8_t index;		     /* last index written to 0x70 (NMI bit dropped) */
	uint8_t cmos[RTC_CMOS_SIZE]; /* RAM, alarms, registers A-D */
	int64_t offset;		     /* guest time - host time, in seconds */
	bool frozen;		     /* register B SET: time held in frozen_tm */
	struct tm frozen_tm;
};

void rtc_init(struct rtc *r, const struct rtc_config *cfg);
void rtc_destroy(struct rtc *r);

/* Register the RTC_PORT_COUNT ports from cfg.port on the PIO bus. On
 * failure, a one-line reason in err. */
int rtc_register(struct rtc *r, struct bus *pio, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The guest-visible state, for snapshots. The clock goes on from the
 * host's time plus `offset`, as it does while the VM runs. */
struct rtc_state {
	uint8_t index;
	uint8_t cmos[RTC_CMOS_SIZE];
	int64_t offset;
	uint32_t frozen;
	int32_t frozen_tm[6]; /* sec, min, hour, mday, mon, year as in struct tm */
};
void rtc_state_save(struct rtc *r, struct rtc_state *st);
int rtc_state_load(struct rtc *r, const struct rtc_state *st, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif /* DEVICES_RTC_H */
