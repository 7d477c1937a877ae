// SPDX-License-Identifier: MIT
/*
 * Polled console on COM1 and a printf with just the conversions the guests
 * use: %c %s %d %i %u %x %p and the l/ll/z length modifiers, with an optional
 * '0' flag and field width. No interrupts, no buffering: every byte is one
 * `out` after the transmitter reports empty, so lines come out in program
 * order even when the VM is stopped right after a print.
 */
#include "guest.h"

#define UART_THR      0 /* transmit holding register (DLAB=0) */
#define UART_LSR      5 /* line status register */
#define UART_LSR_THRE 0x20

/* How many LSR reads to wait for THRE before sending anyway: an emulated
 * 8250 is always ready, a broken one must not hang the guest. */
#define UART_SPIN_MAX 10000

void con_putc(char c)
{
	unsigned int i;

	if (c == '\n')
		con_putc('\r');
	for (i = 0; i < UART_SPIN_MAX; i++)
		if (inb(PORT_COM1 + UART_LSR) & UART_LSR_THRE)
			break;
	outb(PORT_COM1 + UART_THR, (uint8_t)c);
}

void con_puts(const char *s)
{
	while (*s)
		con_putc(*s++);
}

/* Digits of v in base `base`, right-aligned in `width` with `pad`. */
static int put_uint(uint64_t v, unsigned int base, int width, char pad)
{
	char buf[24];
	int n = 0, out = 0;

	do {
		unsigned int d = (unsigned int)(v % base);

		buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v && n < (int)sizeof(buf));
	for (; width > n; width--, out++)
		con_putc(pad);
	while (n)
		con_putc(buf[--n]), out++;
	return out;
}

int vprintf(const char *fmt, va_list ap)
{
	int out = 0;

	for (; *fmt; fmt++) {
		int width = 0, lng = 0;
		char pad = ' ';
		uint64_t u;
		int64_t s;

		if (*fmt != '%') {
			con_putc(*fmt);
			out++;
			continue;
		}
		fmt++;
		if (*fmt == '0')
			pad = '0', fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z')
			lng++, fmt++;
		switch (*fmt) {
		case 'c':
			con_putc((char)va_arg(ap, int));
			out++;
			break;
		case 's': {
			const char *str = va_arg(ap, const char *);

			if (!str)
				str = "(null)";
			con_puts(str);
			out += (int)strlen(str);
			break;
		}
		case 'd':
		case 'i':
			s = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			if (s < 0) {
				con_putc('-');
				out++;
				u = -(uint64_t)s;
			} else {
				u = (uint64_t)s;
			}
			out += put_uint(u, 10, width, pad);
			break;
		case 'u':
			u = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned int);
			out += put_uint(u, 10, width, pad);
			break;
		case 'x':
			u = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned int);
			out += put_uint(u, 16, width, pad);
			break;
		case 'p':
			con_puts("0x");
			out += 2 + put_uint((uint64_t)va_arg(ap, void *), 16, width, pad);
			break;
		case '%':
			con_putc('%');
			out++;
			break;
		case '\0':
			return out;
		default:
			con_putc('%');
			con_putc(*fmt);
			out += 2;
			break;
		}
	}
	return out;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}
