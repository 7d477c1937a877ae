/* SPDX-License-Identifier: MIT */
/*
 * CMOS RTC (MC146818; see rtc.h). Register names and bits follow Linux's
 * include/linux/mc146818rtc.h.
 *
 * The clock is the host's UTC time plus an offset. A guest that sets the
 * clock (hwclock --systohc, the kernel's NTP sync) changes the offset, never
 * the host. While register B's SET bit is on, the time is frozen in
 * frozen_tm so the guest can write the fields one by one; clearing SET
 * commits them, as on the real part.
 *
 * Every handler runs with r->lock held by the bus.
 */
#include "devices/rtc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"

enum {
	RTC_SECONDS = 0x00,
	RTC_SECONDS_ALARM = 0x01,
	RTC_MINUTES = 0x02,
	RTC_MINUTES_ALARM = 0x03,
	RTC_HOURS = 0x04,
	RTC_HOURS_ALARM = 0x05,
	RTC_DAY_OF_WEEK = 0x06,
	RTC_DAY_OF_MONTH = 0x07,
	RTC_MONTH = 0x08,
	RTC_YEAR = 0x09,
	RTC_REG_A = 0x0a,
	RTC_REG_B = 0x0b,
	RTC_REG_C = 0x0c,
	RTC_REG_D = 0x0d,
};

#define RTC_UIP	      0x80 /* register A: update in progress */
#define RTC_SET	      0x80 /* register B: halt updates while the time is set */
#define RTC_DM_BINARY 0x04 /* register B: binary, not BCD */
#define RTC_24H	      0x02 /* register B: 24-hour mode */
#define RTC_VRT	      0x80 /* register D: valid RAM and time */
#define RTC_HOUR_PM   0x80 /* hours register, 12-hour mode */

/* 32.768 kHz time base, 1024 Hz periodic rate: what a PC BIOS programs. */
#define RTC_REG_A_RESET 0x26
#define RTC_REG_B_RESET RTC_24H

static int64_t rtc_now(const struct rtc *r)
{
	struct timespec ts;

	if (r->cfg.now)
		return r->cfg.now(r->cfg.opaque);
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

static void rtc_get_tm(const struct rtc *r, struct tm *tm)
{
	time_t t;

	if (r->frozen) {
		*tm = r->frozen_tm;
		return;
	}
	t = (time_t)(rtc_now(r) + r->offset);
	gmtime_r(&t, tm);
}

static void rtc_set_tm(struct rtc *r, struct tm *tm)
{
	if (r->frozen) {
		r->frozen_tm = *tm;
		return;
	}
	tm->tm_isdst = 0;
	r->offset = (int64_t)timegm(tm) - rtc_now(r);
}

static bool rtc_binary(const struct rtc *r)
{
	return r->cmos[RTC_REG_B] & RTC_DM_BINARY;
}

static uint8_t rtc_encode(const struct rtc *r, unsigned int v)
{
	v %= 100;
	return rtc_binary(r) ? (uint8_t)v : (uint8_t)(((v / 10) << 4) | (v % 10));
}

/* -1 for a value that is not a number in the current mode (bad BCD digit) */
static int rtc_decode(const struct rtc *r, uint8_t v)
{
	if (rtc_binary(r))
		return v;
	if ((v & 0x0f) > 9 || (v >> 4) > 9)
		return -1;
	return (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t rtc_encode_hour(const struct rtc *r, int hour)
{
	int h12;

	if (r->cmos[RTC_REG_B] & RTC_24H)
		return rtc_encode(r, (unsigned int)hour);
	/* 12-hour mode: 12, 1..11 with bit 7 set after noon */
	h12 = hour % 12 ? hour % 12 : 12;
	return rtc_encode(r, (unsigned int)h12) | (hour >= 12 ? RTC_HOUR_PM : 0);
}

static int rtc_decode_hour(const struct rtc *r, uint8_t v)
{
	int h;

	if (r->cmos[RTC_REG_B] & RTC_24H) {
		h = rtc_decode(r, v);
		return h >= 0 && h < 24 ? h : -1;
	}
	h = rtc_decode(r, v & ~RTC_HOUR_PM);
	if (h < 1 || h > 12)
		return -1;
	return h % 12 + ((v & RTC_HOUR_PM) ? 12 : 0);
}

static uint8_t rtc_read_reg(struct rtc *r, uint8_t idx)
{
	struct tm tm;
	uint8_t val;

	switch (idx) {
	case RTC_SECONDS:
	case RTC_MINUTES:
	case RTC_HOURS:
	case RTC_DAY_OF_WEEK:
	case RTC_DAY_OF_MONTH:
	case RTC_MONTH:
	case RTC_YEAR:
	case RTC_REG_CENTURY:
		break;
	case RTC_REG_A:
		/* No update cycle is ever in progress: the time is computed
		 * at each read, so every readout is consistent. Linux's
		 * mc146818_avoid_UIP() then reads the clock first time. */
		return r->cmos[RTC_REG_A] & ~RTC_UIP;
	case RTC_REG_C:
		/* interrupt flags, cleared by the read; none are ever set */
		val = r->cmos[RTC_REG_C];
		r->cmos[RTC_REG_C] = 0;
		return val;
	case RTC_REG_D:
		return RTC_VRT;
	default:
		return r->cmos[idx];
	}

	rtc_get_tm(r, &tm);
	switch (idx) {
	case RTC_SECONDS:
		return rtc_encode(r, (unsigned int)tm.tm_sec);
	case RTC_MINUTES:
		return rtc_encode(r, (unsigned int)tm.tm_min);
	case RTC_HOURS:
		return rtc_encode_hour(r, tm.tm_hour);
	case RTC_DAY_OF_WEEK:
		return rtc_encode(r, (unsigned int)tm.tm_wday + 1); /* Sunday = 1 */
	case RTC_DAY_OF_MONTH:
		return rtc_encode(r, (unsigned int)tm.tm_mday);
	case RTC_MONTH:
		return rtc_encode(r, (unsigned int)tm.tm_mon + 1);
	case RTC_YEAR:
		return rtc_encode(r, (unsigned int)(tm.tm_year + 1900) % 100);
	default: /* RTC_REG_CENTURY */
		return rtc_encode(r, (unsigned int)(tm.tm_year + 1900) / 100);
	}
}

/* A guest write to a time/date register: decode, range-check (every guest
 * value is hostile; timegm() would happily normalise nonsense), apply. */
static void rtc_write_time(struct rtc *r, uint8_t idx, uint8_t val)
{
	struct tm tm;
	int v = idx == RTC_HOURS ? rtc_decode_hour(r, val) : rtc_decode(r, val);

	rtc_get_tm(r, &tm);
	switch (idx) {
	case RTC_SECONDS:
		if (v < 0 || v > 59)
			goto bad;
		tm.tm_sec = v;
		break;
	case RTC_MINUTES:
		if (v < 0 || v > 59)
			goto bad;
		tm.tm_min = v;
		break;
	case RTC_HOURS:
		if (v < 0)
			goto bad;
		tm.tm_hour = v;
		break;
	case RTC_DAY_OF_MONTH:
		if (v < 1 || v > 31)
			goto bad;
		tm.tm_mday = v;
		break;
	case RTC_MONTH:
		if (v < 1 || v > 12)
			goto bad;
		tm.tm_mon = v - 1;
		break;
	case RTC_YEAR:
		if (v < 0 || v > 99)
			goto bad;
		tm.tm_year = (tm.tm_year + 1900) / 100 * 100 + v - 1900;
		break;
	default: /* RTC_REG_CENTURY */
		if (v < 19 || v > 99)
			goto bad;
		tm.tm_year = v * 100 + (tm.tm_year + 1900) % 100 - 1900;
		break;
	}
	rtc_set_tm(r, &tm);
	return;
bad:
	log_debug("rtc: ignoring value %#x for register %#x", val, idx);
}

static void rtc_write_reg_b(struct rtc *r, uint8_t val)
{
	bool set = val & RTC_SET;

	if (set && !r->frozen) {
		rtc_get_tm(r, &r->frozen_tm);
		r->frozen = true;
	} else if (!set && r->frozen) {
		struct tm tm = r->frozen_tm;

		r->frozen = false;
		rtc_set_tm(r, &tm);
	}
	r->cmos[RTC_REG_B] = val;
}

static void rtc_write_reg(struct rtc *r, uint8_t idx, uint8_t val)
{
	switch (idx) {
	case RTC_SECONDS:
	case RTC_MINUTES:
	case RTC_HOURS:
	case RTC_DAY_OF_MONTH:
	case RTC_MONTH:
	case RTC_YEAR:
	case RTC_REG_CENTURY:
		rtc_write_time(r, idx, val);
		break;
	case RTC_DAY_OF_WEEK:
		break; /* derived from the date */
	case RTC_REG_A:
		r->cmos[RTC_REG_A] = val & ~RTC_UIP; /* UIP is read-only */
		break;
	case RTC_REG_B:
		rtc_write_reg_b(r, val);
		break;
	case RTC_REG_C:
	case RTC_REG_D:
		break; /* read-only */
	default:
		r->cmos[idx] = val;
		break;
	}
}

/* Port 0x70 is the index (bit 7 is the NMI mask on a PC, not part of the
 * index); 0x71 the data. A wider access is taken byte by byte, so an outw
 * of (value << 8 | index) to 0x70 works as on a PC. */
static void rtc_bus_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct rtc *r = opaque;
	uint8_t *out = data;
	uint32_t i;

	for (i = 0; i < len; i++)
		out[i] = off + i == 0 ? 0xff /* write-only */ : rtc_read_reg(r, r->index);
}

static void rtc_bus_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct rtc *r = opaque;
	const uint8_t *in = data;
	uint32_t i;

	for (i = 0; i < len; i++) {
		if (off + i == 0)
			r->index = in[i] & (RTC_CMOS_SIZE - 1);
		else
			rtc_write_reg(r, r->index, in[i]);
	}
}

static const struct bus_dev_ops rtc_bus_ops = {
	.read = rtc_bus_read,
	.write = rtc_bus_write,
};

void rtc_init(struct rtc *r, const struct rtc_config *cfg)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	if (cfg)
		r->cfg = *cfg;
	r->cmos[RTC_REG_A] = RTC_REG_A_RESET;
	r->cmos[RTC_REG_B] = RTC_REG_B_RESET;
	r->cmos[RTC_REG_D] = RTC_VRT;
}

void rtc_state_save(struct rtc *r, struct rtc_state *st)
{
	pthread_mutex_lock(&r->lock);
	memset(st, 0, sizeof(*st));
	st->index = r->index;
	memcpy(st->cmos, r->cmos, sizeof(st->cmos));
	st->offset = r->offset;
	st->frozen = r->frozen;
	st->frozen_tm[0] = r->frozen_tm.tm_sec;
	st->frozen_tm[1] = r->frozen_tm.tm_min;
	st->frozen_tm[2] = r->frozen_tm.tm_hour;
	st->frozen_tm[3] = r->frozen_tm.tm_mday;
	st->frozen_tm[4] = r->frozen_tm.tm_mon;
	st->frozen_tm[5] = r->frozen_tm.tm_year;
	pthread_mutex_unlock(&r->lock);
}

int rtc_state_load(struct rtc *r, const struct rtc_state *st, char *err, size_t errlen)
{
	if (st->index >= RTC_CMOS_SIZE || st->frozen > 1)
		return err_set(err, errlen, -EINVAL, "rtc: index %u or frozen flag %u out of range",
			       st->index, st->frozen);
	pthread_mutex_lock(&r->lock);
	r->index = st->index;
	memcpy(r->cmos, st->cmos, sizeof(r->cmos));
	r->offset = st->offset;
	r->frozen = st->frozen;
	memset(&r->frozen_tm, 0, sizeof(r->frozen_tm));
	r->frozen_tm.tm_sec = st->frozen_tm[0];
	r->frozen_tm.tm_min = st->frozen_tm[1];
	r->frozen_tm.tm_hour = st->frozen_tm[2];
	r->frozen_tm.tm_mday = st->frozen_tm[3];
	r->frozen_tm.tm_mon = st->frozen_tm[4];
	r->frozen_tm.tm_year = st->frozen_tm[5];
	pthread_mutex_unlock(&r->lock);
	return 0;
}

void rtc_destroy(struct rtc *r)
{
	pthread_mutex_destroy(&r->lock);
}

int rtc_register(struct rtc *r, struct bus *pio, char *err, size_t errlen)
{
	char why[BUS_ERR_MAX];
	int ret = bus_register(pio, r->cfg.port, RTC_PORT_COUNT, &rtc_bus_ops, r, &r->lock,
			       "cmos-rtc", why, sizeof(why));

	if (ret)
		return err_set(err, errlen, ret, "cannot register the CMOS RTC at port %#x: %s",
			       r->cfg.port, why);
	return 0;
}
