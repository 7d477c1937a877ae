/* SPDX-License-Identifier: MIT */
/*
 * The small PIO devices through which a guest ends the VM (see platform.h).
 *
 * Every handler runs with p->lock held by the bus; none of them lock.
 */
#include "devices/platform.h"

#include <stdio.h>
#include <string.h>

#include "base/err.h"
/* Only for the values the firmware tables promise the guest (_S5's SLP_TYP,
 * SLP_EN, the FADT's reset value); the ports come in platform_config. */
#include "base/layout.h"

/* ---- pvpanic: QEMU's docs/specs/pvpanic.rst, Linux drivers/misc/pvpanic ---- */
#define PVPANIC_PANICKED     0x01 /* the guest kernel panicked */
#define PVPANIC_CRASH_LOADED 0x02 /* the guest is about to run its kdump kernel */
#define PVPANIC_SUPPORTED    (PVPANIC_PANICKED | PVPANIC_CRASH_LOADED)

/* ---- ACPI hardware-reduced sleep registers (ACPI 6.4, 4.8.3.7 and 4.8.3.8) ---- */
#define SLP_TYP_SHIFT 2
#define SLP_TYP_MASK  0x07
#define WAK_STS	      0x80

/* ---- i8042 (include/linux/i8042.h names) ---- */
#define I8042_STR_OBF	  0x01 /* output buffer full: data for the host on 0x60 */
#define I8042_STR_IBF	  0x02 /* input buffer full: never, we consume at once */
#define I8042_STR_SYS	  0x04 /* system flag, set after self-test */
#define I8042_STR_CMDDAT  0x08 /* last write went to 0x64 (1) or 0x60 (0) */
#define I8042_STR_KEYLOCK 0x10 /* 1 = keyboard NOT inhibited by the keylock */
#define I8042_STR_AUXDATA 0x20 /* output buffer holds mouse data */

#define I8042_CTR_SYS	 0x04
#define I8042_CTR_KBDDIS 0x10
#define I8042_CTR_AUXDIS 0x20
/* What a PC BIOS leaves in the command byte: keyboard interrupt on, system
 * flag, scancode translation on, aux (mouse) port off. */
#define I8042_CTR_RESET	 0x65

/* Output port: bit 0 is the CPU reset line (active low), bit 1 gate A20. */
#define I8042_OUTPORT_RESET_N 0x01
#define I8042_OUTPORT_A20     0x02

enum {
	I8042_CMD_READ_CTR = 0x20,
	I8042_CMD_WRITE_CTR = 0x60,
	I8042_CMD_AUX_DISABLE = 0xa7,
	I8042_CMD_AUX_ENABLE = 0xa8,
	I8042_CMD_AUX_TEST = 0xa9,
	I8042_CMD_CTL_TEST = 0xaa,
	I8042_CMD_KBD_TEST = 0xab,
	I8042_CMD_KBD_DISABLE = 0xad,
	I8042_CMD_KBD_ENABLE = 0xae,
	I8042_CMD_READ_OUTPORT = 0xd0,
	I8042_CMD_WRITE_OUTPORT = 0xd1,
	I8042_CMD_KBD_LOOP = 0xd2,
	I8042_CMD_AUX_LOOP = 0xd3,
	I8042_CMD_AUX_SEND = 0xd4,
	/* 0xf0-0xff: pulse output port bits 0-3 low for 6 us where the
	 * command's bit is 0; 0xfe pulses bit 0, the CPU reset line */
	I8042_CMD_PULSE = 0xf0,
};
#define I8042_RET_CTL_TEST    0x55
#define I8042_RET_KBD_TEST_OK 0x00
/* AUX_TEST result 0x01: "clock line stuck low", i.e. no mouse port.
 * Linux's i8042_check_aux() then gives up on aux at once. */
#define I8042_RET_AUX_ABSENT  0x01

static void platform_event(struct platform_devs *p, enum platform_event ev, uint8_t arg)
{
	if (p->cfg.event)
		p->cfg.event(p->cfg.opaque, ev, arg);
}

/* ---- debug-exit ---- */

static void debug_exit_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	memset(data, 0xff, len);
}

static void debug_exit_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	platform_event(opaque, PLATFORM_EVENT_DEBUG_EXIT, *(const uint8_t *)data);
}

static const struct bus_dev_ops debug_exit_ops = {
	.read = debug_exit_read,
	.write = debug_exit_write,
};

/* ---- pvpanic ---- */

static void pvpanic_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	/* The guest driver only reports the events it reads back here. */
	*(uint8_t *)data = PVPANIC_SUPPORTED;
}

static void pvpanic_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct platform_devs *p = opaque;
	uint8_t val = *(const uint8_t *)data;

	if (val & PVPANIC_PANICKED)
		platform_event(p, PLATFORM_EVENT_PANIC, val);
	else if (val & PVPANIC_CRASH_LOADED)
		log_info("guest kernel crashed; its kdump kernel is taking over");
}

static const struct bus_dev_ops pvpanic_ops = {
	.read = pvpanic_read,
	.write = pvpanic_write,
};

/* ---- ACPI sleep control, sleep status, reset (PLATFORM_ACPI_*) ---- */

static void acpi_sleep_ctl_write(struct platform_devs *p, uint8_t val)
{
	unsigned int typ = (val >> SLP_TYP_SHIFT) & SLP_TYP_MASK;

	if (!(val & LAYOUT_ACPI_SLP_EN))
		return; /* SLP_TYP alone does nothing until SLP_EN is written */
	if (typ == LAYOUT_ACPI_SLP_TYP_S5) {
		platform_event(p, PLATFORM_EVENT_POWEROFF, 0);
		return;
	}
	/*
	 * Only S5 exists in our DSDT. For any other state, wake at once:
	 * Linux's acpi_hw_extended_sleep() polls SLEEP_STATUS for WAK_STS
	 * after the write and would spin forever otherwise.
	 */
	log_warn_ratelimited(&p->rl, "guest asked for unsupported sleep state SLP_TYP=%u", typ);
	p->sleep_sts |= WAK_STS;
}

static void acpi_reset_write(struct platform_devs *p, uint8_t val)
{
	if (val == LAYOUT_ACPI_RESET_VALUE)
		platform_event(p, PLATFORM_EVENT_RESET, 0);
	else
		log_warn_ratelimited(&p->rl, "ACPI reset register: ignoring value %#x", val);
}

static void acpi_pm_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct platform_devs *p = opaque;
	uint8_t *out = data;
	uint32_t i;

	/* Byte registers; a wider access reads consecutive ones. */
	for (i = 0; i < len; i++)
		out[i] = off + i == PLATFORM_ACPI_SLEEP_STS ? p->sleep_sts : 0;
}

static void acpi_pm_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct platform_devs *p = opaque;
	const uint8_t *in = data;
	uint32_t i;

	for (i = 0; i < len; i++) {
		switch (off + i) {
		case PLATFORM_ACPI_SLEEP_CTL:
			acpi_sleep_ctl_write(p, in[i]);
			break;
		case PLATFORM_ACPI_SLEEP_STS:
			p->sleep_sts &= ~(in[i] & WAK_STS); /* write 1 to clear */
			break;
		default:
			acpi_reset_write(p, in[i]);
			break;
		}
	}
}

static const struct bus_dev_ops acpi_pm_ops = {
	.read = acpi_pm_read,
	.write = acpi_pm_write,
};

/* ---- i8042 ---- */

static void i8042_output(struct platform_devs *p, uint8_t val, uint8_t aux)
{
	p->i8042_out = val;
	p->i8042_status = (p->i8042_status & ~I8042_STR_AUXDATA) | I8042_STR_OBF | aux;
}

/* Output port write (command 0xd1): the reset line is active low. */
static void i8042_write_outport(struct platform_devs *p, uint8_t val)
{
	p->i8042_outport = val;
	if (!(val & I8042_OUTPORT_RESET_N))
		platform_event(p, PLATFORM_EVENT_RESET, 0);
}

static void i8042_command(struct platform_devs *p, uint8_t cmd)
{
	p->i8042_cmd = 0;
	if (cmd >= I8042_CMD_PULSE) {
		/* Linux's reboot=k (arch/x86/kernel/reboot.c) writes 0xfe up
		 * to ten times; each is a reset the VMM may see again. */
		if (!(cmd & I8042_OUTPORT_RESET_N))
			platform_event(p, PLATFORM_EVENT_RESET, 0);
		return;
	}
	switch (cmd) {
	case I8042_CMD_READ_CTR:
		i8042_output(p, p->i8042_ctr, 0);
		break;
	case I8042_CMD_WRITE_CTR:
	case I8042_CMD_WRITE_OUTPORT:
	case I8042_CMD_KBD_LOOP:
	case I8042_CMD_AUX_LOOP:
	case I8042_CMD_AUX_SEND:
		p->i8042_cmd = cmd; /* the parameter follows on 0x60 */
		break;
	case I8042_CMD_AUX_DISABLE:
		p->i8042_ctr |= I8042_CTR_AUXDIS;
		break;
	case I8042_CMD_AUX_ENABLE:
		p->i8042_ctr &= ~I8042_CTR_AUXDIS;
		break;
	case I8042_CMD_AUX_TEST:
		i8042_output(p, I8042_RET_AUX_ABSENT, 0);
		break;
	case I8042_CMD_CTL_TEST:
		p->i8042_status |= I8042_STR_SYS;
		i8042_output(p, I8042_RET_CTL_TEST, 0);
		break;
	case I8042_CMD_KBD_TEST:
		i8042_output(p, I8042_RET_KBD_TEST_OK, 0);
		break;
	case I8042_CMD_KBD_DISABLE:
		p->i8042_ctr |= I8042_CTR_KBDDIS;
		break;
	case I8042_CMD_KBD_ENABLE:
		p->i8042_ctr &= ~I8042_CTR_KBDDIS;
		break;
	case I8042_CMD_READ_OUTPORT:
		i8042_output(p, p->i8042_outport, 0);
		break;
	default:
		log_debug("i8042: ignoring command %#x", cmd);
		break;
	}
}

static void i8042_data(struct platform_devs *p, uint8_t val)
{
	uint8_t cmd = p->i8042_cmd;

	p->i8042_cmd = 0;
	switch (cmd) {
	case I8042_CMD_WRITE_CTR:
		p->i8042_ctr = val;
		/* the status register's system flag mirrors CTR bit 2 */
		p->i8042_status = (p->i8042_status & ~I8042_STR_SYS) | (val & I8042_CTR_SYS);
		break;
	case I8042_CMD_WRITE_OUTPORT:
		i8042_write_outport(p, val);
		break;
	case I8042_CMD_KBD_LOOP:
		i8042_output(p, val, 0);
		break;
	case I8042_CMD_AUX_LOOP:
		/*
		 * There is no aux port to loop through. Echo the byte as
		 * keyboard data: Linux's __i8042_command() sees AUXDATA clear,
		 * fails the loop test at once (instead of after a 500 ms
		 * timeout) and goes on to AUX_TEST, which reports no port.
		 */
		i8042_output(p, val, 0);
		break;
	case I8042_CMD_AUX_SEND:
	default:
		/* A byte for the mouse (AUX_SEND) or the keyboard (no
		 * command): neither is attached, so nothing answers. */
		break;
	}
}

static void i8042_data_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct platform_devs *p = opaque;

	*(uint8_t *)data = p->i8042_out;
	p->i8042_status &= ~(I8042_STR_OBF | I8042_STR_AUXDATA);
}

static void i8042_data_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct platform_devs *p = opaque;

	p->i8042_status &= ~I8042_STR_CMDDAT;
	i8042_data(p, *(const uint8_t *)data);
}

static void i8042_cmd_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	const struct platform_devs *p = opaque;

	/* IBF is never set: commands take effect as they are written, so
	 * Linux's kb_wait() and i8042_wait_write() never wait. */
	*(uint8_t *)data = p->i8042_status;
}

static void i8042_cmd_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct platform_devs *p = opaque;

	p->i8042_status |= I8042_STR_CMDDAT;
	i8042_command(p, *(const uint8_t *)data);
}

static const struct bus_dev_ops i8042_data_ops = {
	.read = i8042_data_read,
	.write = i8042_data_write,
};

static const struct bus_dev_ops i8042_cmd_ops = {
	.read = i8042_cmd_read,
	.write = i8042_cmd_write,
};

/* ---- port 0x80: POST codes and Linux's io_delay (outb_p) ---- */

static void post_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	memset(data, 0xff, len); /* nothing drives the bus */
}

static void post_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
}

static const struct bus_dev_ops post_ops = {
	.read = post_read,
	.write = post_write,
};

void platform_init(struct platform_devs *p, const struct platform_config *cfg)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	if (cfg)
		p->cfg = *cfg;
	p->i8042_ctr = I8042_CTR_RESET;
	p->i8042_status = I8042_STR_KEYLOCK | I8042_STR_SYS;
	p->i8042_outport = I8042_OUTPORT_RESET_N | I8042_OUTPORT_A20;
}

void platform_state_save(struct platform_devs *p, struct platform_state *st)
{
	pthread_mutex_lock(&p->lock);
	*st = (struct platform_state){
		.sleep_sts = p->sleep_sts,
		.i8042_cmd = p->i8042_cmd,
		.i8042_out = p->i8042_out,
		.i8042_status = p->i8042_status,
		.i8042_ctr = p->i8042_ctr,
		.i8042_outport = p->i8042_outport,
	};
	pthread_mutex_unlock(&p->lock);
}

/* Any byte is a value these registers can hold: nothing to reject. */
void platform_state_load(struct platform_devs *p, const struct platform_state *st)
{
	pthread_mutex_lock(&p->lock);
	p->sleep_sts = st->sleep_sts;
	p->i8042_cmd = st->i8042_cmd;
	p->i8042_out = st->i8042_out;
	p->i8042_status = st->i8042_status;
	p->i8042_ctr = st->i8042_ctr;
	p->i8042_outport = st->i8042_outport;
	pthread_mutex_unlock(&p->lock);
}

void platform_destroy(struct platform_devs *p)
{
	pthread_mutex_destroy(&p->lock);
}

int platform_register(struct platform_devs *p, struct bus *pio, char *err, size_t errlen)
{
	const struct platform_ports *ports = &p->cfg.ports;
	const struct {
		uint16_t port, len;
		const struct bus_dev_ops *ops;
		const char *name;
	} devs[] = {
		{ ports->debug_exit, 1, &debug_exit_ops, "debug-exit" },
		{ ports->pvpanic, 1, &pvpanic_ops, "pvpanic" },
		{ ports->acpi_pm, PLATFORM_ACPI_PM_LEN, &acpi_pm_ops, "acpi-pm" },
		{ ports->i8042_data, 1, &i8042_data_ops, "i8042-data" },
		{ ports->i8042_cmd, 1, &i8042_cmd_ops, "i8042-cmd" },
		{ ports->post, 1, &post_ops, "post" },
	};
	char why[BUS_ERR_MAX];
	unsigned int i;
	int ret;

	for (i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		ret = bus_register(pio, devs[i].port, devs[i].len, devs[i].ops, p, &p->lock,
				   devs[i].name, why, sizeof(why));
		if (ret)
			return err_set(err, errlen, ret, "cannot register %s at port %#x: %s",
				       devs[i].name, devs[i].port, why);
	}
	return 0;
}
