/* SPDX-License-Identifier: MIT */
/* The CMOS RTC through the PIO bus, on a fixed clock and on the host's. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <time.h>

#include "devices/rtc.h"
#include "base/bus.h"

struct fx {
	struct bus bus;
	struct rtc rtc;
	int64_t now; /* the fake host clock */
};

static int64_t fake_now(void *opaque)
{
	const struct fx *f = opaque;

	return f->now;
}

/* 2024-02-29 13:45:07 UTC, a Thursday */
static int64_t fixed_time(void)
{
	struct tm tm = {
		.tm_year = 124, .tm_mon = 1, .tm_mday = 29, .tm_hour = 13, .tm_min = 45, .tm_sec = 7
	};

	return (int64_t)timegm(&tm);
}

static int setup_common(void **state, bool fake)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct rtc_config cfg = { .port = 0x70 };
	char err[128];

	if (!f)
		return -1;
	if (fake) {
		cfg.now = fake_now;
		cfg.opaque = f;
	}
	f->now = fixed_time();
	rtc_init(&f->rtc, &cfg);
	bus_init(&f->bus, "pio");
	if (rtc_register(&f->rtc, &f->bus, err, sizeof(err)) != 0)
		return -1;
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_common(state, true);
}

static int setup_host_clock(void **state)
{
	return setup_common(state, false);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	bus_destroy(&f->bus);
	rtc_destroy(&f->rtc);
	free(f);
	return 0;
}

static uint8_t cmos_read(struct fx *f, uint8_t idx)
{
	uint8_t v = 0;

	assert_int_equal(bus_write(&f->bus, 0x70, &idx, 1), 0);
	assert_int_equal(bus_read(&f->bus, 0x71, &v, 1), 0);
	return v;
}

static void cmos_write(struct fx *f, uint8_t idx, uint8_t v)
{
	assert_int_equal(bus_write(&f->bus, 0x70, &idx, 1), 0);
	assert_int_equal(bus_write(&f->bus, 0x71, &v, 1), 0);
}

static int bcd(uint8_t v)
{
	return (v >> 4) * 10 + (v & 0x0f);
}

static void test_bcd_time(void **state)
{
	struct fx *f = *state;

	assert_int_equal(cmos_read(f, 0x0b), 0x02); /* 24h, BCD */
	assert_int_equal(cmos_read(f, 0x00), 0x07);
	assert_int_equal(cmos_read(f, 0x02), 0x45);
	assert_int_equal(cmos_read(f, 0x04), 0x13);
	assert_int_equal(cmos_read(f, 0x06), 0x05); /* Thursday; Sunday = 1 */
	assert_int_equal(cmos_read(f, 0x07), 0x29);
	assert_int_equal(cmos_read(f, 0x08), 0x02);
	assert_int_equal(cmos_read(f, 0x09), 0x24);
	assert_int_equal(cmos_read(f, RTC_REG_CENTURY), 0x20);
	f->now += 60; /* the clock moves with the host */
	assert_int_equal(cmos_read(f, 0x02), 0x46);
}

static void test_binary_and_12h(void **state)
{
	struct fx *f = *state;

	cmos_write(f, 0x0b, 0x06); /* binary, 24h */
	assert_int_equal(cmos_read(f, 0x04), 13);
	assert_int_equal(cmos_read(f, 0x02), 45);
	assert_int_equal(cmos_read(f, 0x09), 24);
	cmos_write(f, 0x0b, 0x00);		    /* BCD, 12h */
	assert_int_equal(cmos_read(f, 0x04), 0x81); /* 1 PM */
	f->now -= 13 * 3600;			    /* 00:45 */
	assert_int_equal(cmos_read(f, 0x04), 0x12); /* 12 AM */
}

static void test_status_registers(void **state)
{
	struct fx *f = *state;

	assert_int_equal(cmos_read(f, 0x0a) & 0x80, 0); /* UIP clear */
	assert_int_equal(cmos_read(f, 0x0a), 0x26);
	cmos_write(f, 0x0a, 0xa6); /* UIP is read-only */
	assert_int_equal(cmos_read(f, 0x0a), 0x26);
	assert_int_equal(cmos_read(f, 0x0c), 0);
	assert_int_equal(cmos_read(f, 0x0d), 0x80); /* valid RAM and time */
	cmos_write(f, 0x0d, 0x00);
	assert_int_equal(cmos_read(f, 0x0d), 0x80);
}

static void test_ram_round_trip(void **state)
{
	struct fx *f = *state;
	unsigned int i;

	for (i = 0x0e; i < RTC_CMOS_SIZE; i++)
		if (i != RTC_REG_CENTURY)
			cmos_write(f, (uint8_t)i, (uint8_t)(i ^ 0x5a));
	for (i = 0x0e; i < RTC_CMOS_SIZE; i++)
		if (i != RTC_REG_CENTURY)
			assert_int_equal(cmos_read(f, (uint8_t)i), (uint8_t)(i ^ 0x5a));
	/* the alarm registers are plain storage too */
	cmos_write(f, 0x01, 0x33);
	assert_int_equal(cmos_read(f, 0x01), 0x33);
	/* bit 7 of the index is the NMI mask, not part of the index */
	cmos_write(f, 0x80 | 0x10, 0x77);
	assert_int_equal(cmos_read(f, 0x10), 0x77);
	/* time registers were untouched */
	assert_int_equal(cmos_read(f, 0x00), 0x07);
}

static void test_set_time(void **state)
{
	struct fx *f = *state;

	cmos_write(f, 0x0b, 0x82); /* SET: freeze */
	f->now += 30;
	assert_int_equal(cmos_read(f, 0x00), 0x07); /* frozen */
	cmos_write(f, 0x04, 0x08);
	cmos_write(f, 0x09, 0x28); /* a leap year: Feb 29 stays valid */
	cmos_write(f, 0x00, 0x1a); /* not BCD: ignored */
	assert_int_equal(cmos_read(f, 0x04), 0x08);
	cmos_write(f, 0x0b, 0x02); /* commit */
	assert_int_equal(cmos_read(f, 0x04), 0x08);
	assert_int_equal(cmos_read(f, 0x09), 0x28);
	assert_int_equal(cmos_read(f, 0x02), 0x45);
	assert_int_equal(cmos_read(f, 0x00), 0x07);
	f->now += 2; /* and it runs on from there */
	assert_int_equal(cmos_read(f, 0x00), 0x09);
	/* out-of-range values are refused */
	cmos_write(f, 0x04, 0x24);
	cmos_write(f, 0x08, 0x13);
	assert_int_equal(cmos_read(f, 0x04), 0x08);
	assert_int_equal(cmos_read(f, 0x08), 0x02);
}

static void test_host_clock_plausible(void **state)
{
	struct fx *f = *state;
	struct tm tm;
	time_t t = time(NULL);
	int host, guest, diff;
	uint8_t sec = cmos_read(f, 0x00), min = cmos_read(f, 0x02), hour = cmos_read(f, 0x04);

	gmtime_r(&t, &tm);
	assert_int_equal(cmos_read(f, 0x0a) & 0x80, 0);
	assert_true((sec & 0x0f) <= 9 && bcd(sec) < 60);
	assert_true((min & 0x0f) <= 9 && bcd(min) < 60);
	assert_true((hour & 0x0f) <= 9 && bcd(hour) < 24);
	host = tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
	guest = bcd(hour) * 3600 + bcd(min) * 60 + bcd(sec);
	diff = abs(host - guest);
	if (diff > 43200)
		diff = 86400 - diff; /* across midnight */
	assert_true(diff <= 2);
	assert_int_equal(bcd(cmos_read(f, 0x09)), (tm.tm_year + 1900) % 100);
}

/* The ports come from the config; a taken one is refused in one line. */
static void test_register_where_told(void **state)
{
	struct fx *f = *state;
	struct rtc other;
	char err[128] = "";
	uint8_t idx = 0x0d, v = 0;

	rtc_init(&other, &(struct rtc_config){ .port = 0x70 });
	assert_int_equal(rtc_register(&other, &f->bus, err, sizeof(err)), -EEXIST);
	assert_string_equal(err, "cannot register the CMOS RTC at port 0x70: it overlaps cmos-rtc "
				 "at 0x70..0x71");
	assert_null(strchr(err, '\n'));
	other.cfg.port = 0x170;
	assert_int_equal(rtc_register(&other, &f->bus, err, sizeof(err)), 0);
	assert_int_equal(bus_write(&f->bus, 0x170, &idx, 1), 0);
	assert_int_equal(bus_read(&f->bus, 0x171, &v, 1), 0);
	assert_int_equal(v, 0x80); /* register D: valid RAM and time */
	bus_destroy(&f->bus);	   /* before `other` goes away */
	bus_init(&f->bus, "pio");
	rtc_destroy(&other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bcd_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_binary_and_12h, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ram_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_clock_plausible, setup_host_clock,
						teardown),
		cmocka_unit_test_setup_teardown(test_register_where_told, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
