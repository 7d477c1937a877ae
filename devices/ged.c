/* SPDX-License-Identifier: MIT */
/* The Generic Event Device's register (ged.h). */
#include "devices/ged.h"

#include <string.h>

#include "base/err.h"

static void ged_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct ged *g = opaque;

	/* read-to-clear: an event is reported once; a wider read sees zeros
	 * above the byte */
	memset(data, 0, len);
	if (off == 0) {
		*(uint8_t *)data = g->pending;
		g->pending = 0;
	}
}

static void ged_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	(void)opaque; /* read-only: a guest's write changes nothing */
}

static const struct bus_dev_ops ged_ops = {
	.read = ged_read,
	.write = ged_write,
};

void ged_init(struct ged *g, struct irq_line *irq)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
	g->irq = irq;
}

int ged_register(struct ged *g, struct bus *pio, uint16_t port, char *err, size_t errlen)
{
	char why[BUS_ERR_MAX];
	int ret = bus_register(pio, port, GED_REG_LEN, &ged_ops, g, &g->lock, "ged", why,
			       sizeof(why));

	if (ret)
		return err_set(err, errlen, ret, "GED at port 0x%x: %s", port, why);
	return 0;
}

void ged_press_power_button(struct ged *g)
{
	pthread_mutex_lock(&g->lock);
	g->pending |= GED_EVENT_POWER_BUTTON;
	pthread_mutex_unlock(&g->lock);
	/* an edge: the guest's _EVT runs once per press (pending bits that
	 * are already set are reported by the same read) */
	(void)irq_line_pulse(g->irq);
}

void ged_destroy(struct ged *g)
{
	pthread_mutex_destroy(&g->lock);
}
