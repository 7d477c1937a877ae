/* SPDX-License-Identifier: MIT */
#include "tools/progress.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/clock.h"

#define PROGRESS_INTERVAL_NS 100000000ULL /* 10 redraws a second at most */
#define PROGRESS_MAX_WIDTH   50U

bool progress_wanted(bool force, uint64_t bytes)
{
	return force || (isatty(STDERR_FILENO) && bytes >= PROGRESS_MIN_BYTES);
}

void progress_init(struct progress *p, bool enabled)
{
	struct winsize ws;

	memset(p, 0, sizeof(*p));
	p->enabled = enabled;
	p->tty = isatty(STDERR_FILENO);
	p->width = PROGRESS_MAX_WIDTH;
	/* "[bar] 100.0%": leave room for the percentage on narrow terminals. */
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 &&
	    ws.ws_col < PROGRESS_MAX_WIDTH + 12)
		p->width = ws.ws_col > 22 ? ws.ws_col - 12U : 10U;
}

static void draw(struct progress *p, unsigned int tenths)
{
	char bar[PROGRESS_MAX_WIDTH + 1];
	unsigned int fill = tenths * p->width / 1000;

	memset(bar, '#', fill);
	memset(bar + fill, ' ', p->width - fill);
	bar[p->width] = '\0';
	/* One write per redraw; "\r" returns to the start of the bar's line. */
	fprintf(stderr, "\r[%s] %3u.%u%%", bar, tenths / 10, tenths % 10);
	fflush(stderr);
	p->visible = true;
	p->last_tenths = tenths;
}

void progress_update(struct progress *p, uint64_t done, uint64_t total)
{
	unsigned int tenths;
	uint64_t now;

	if (!p->enabled)
		return;
	if (total == 0 || done >= total)
		tenths = 1000;
	else
		tenths = (unsigned int)((double)done * 1000.0 / (double)total);
	if (p->visible && tenths == p->last_tenths)
		return;
	now = clock_monotonic_ns();
	if (p->visible && now - p->last_draw_ns < PROGRESS_INTERVAL_NS)
		return;
	p->last_draw_ns = now;
	draw(p, tenths);
}

void progress_hide(struct progress *p)
{
	if (!p->enabled || !p->visible)
		return;
	/* Back to column 0 and erase to end of line (ECMA-48 EL); a pipe
	 * (-p) just gets the line ended. */
	fputs(p->tty ? "\r\033[K" : "\n", stderr);
	fflush(stderr);
	p->visible = false;
}

void progress_finish(struct progress *p)
{
	if (!p->enabled)
		return;
	draw(p, 1000);
	fputc('\n', stderr);
	fflush(stderr);
	p->visible = false;
}
